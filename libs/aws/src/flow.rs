//! Flow control of a consumer's records in flight: an additive-increase / multiplicative-decrease
//! limit per container, as TCP does for packets. A record that finished quickly and cleanly
//! raises the limit by about one per round of records; a congestion signal (a busy answer: a
//! conflict that kept coming back, throttling, a call out of time; a record slower than the
//! latency target; a record given up at the deadline) halves it, once per round: records
//! already running when it was cut do not cut it again. The limit stays within `[1, max]`: at
//! one, a container runs its records one after the other and its invocations last longer, so
//! the event source mapping (at most `MaximumConcurrency` batches at once) receives less, and a
//! burst its dependencies cannot take waits in the queue, where waiting costs nothing. (Pacing
//! below one record was tried: records then waited inside invocations until their deadline and
//! went back to the queue, and that churn loaded the dependencies more than the work did.)

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The factor a congestion signal multiplies the limit by.
const DECREASE: f64 = 0.5;
/// The lowest limit: one record at a time.
pub const MIN_LIMIT: f64 = 1.0;

/// The records-in-flight limit of one container.
#[derive(Debug)]
pub struct Limiter {
    max: usize,
    /// A record slower than this is a congestion signal.
    latency_target: Duration,
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    /// When the limit was last cut: records started before it do not cut it again.
    cut_at: Option<Instant>,
}

/// A slot for one record; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
    pub started: Instant,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.limiter.state.lock() {
            st.in_flight = st.in_flight.saturating_sub(1);
        }
        self.limiter.freed.notify_waiters();
    }
}

impl Limiter {
    /// Starts at `max` (a polite load runs as it always did) and never goes below one.
    pub fn new(max: usize, latency_target: Duration) -> Self {
        let max = max.max(1);
        Limiter {
            max,
            latency_target,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                cut_at: None,
            }),
            freed: Notify::new(),
        }
    }

    /// The current limit in records.
    pub fn limit(&self) -> f64 {
        self.state.lock().map_or(1.0, |st| st.limit)
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            // Registered before the check, so a slot freed in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Ok(mut st) = self.state.lock() {
                if st.in_flight < slots(st.limit) {
                    st.in_flight += 1;
                    return Permit {
                        limiter: self,
                        started: Instant::now(),
                    };
                }
            }
            freed.await;
        }
    }

    /// What a record that started at `started` showed: `congested` (a busy answer or a
    /// give-up) or its latency. Returns whether this cut the limit.
    pub fn record(&self, started: Instant, latency: Duration, congested: bool) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        let before = slots(st.limit);
        let mut cut = false;
        if congested || latency > self.latency_target {
            // Records already running when it was cut do not cut it again.
            if st.cut_at.is_none_or(|at| started >= at) {
                st.limit = (st.limit * DECREASE).max(MIN_LIMIT);
                st.cut_at = Some(Instant::now());
                metrics::counter!(crate::metrics::names::FLOW_LIMIT_CUTS).increment(1);
                cut = true;
            }
        } else {
            // About one more record per round of `limit` records.
            st.limit = (st.limit + 1.0 / st.limit).min(self.max as f64);
        }
        let more = slots(st.limit) > before;
        drop(st);
        if more {
            self.freed.notify_waiters();
        }
        cut
    }
}

fn slots(limit: f64) -> usize {
    (limit.floor() as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TARGET: Duration = Duration::from_millis(100);
    const FAST: Duration = Duration::from_millis(10);

    #[test]
    fn congestion_halves_once_per_round_and_success_adds_back_slowly() {
        let l = Limiter::new(8, TARGET);
        assert_eq!(l.limit(), 8.0);
        let round = Instant::now();
        assert!(l.record(round, FAST, true));
        assert_eq!(l.limit(), 4.0);
        // Another record of the same round (started before the cut) does not cut again.
        assert!(!l.record(round, FAST, true));
        assert_eq!(l.limit(), 4.0);
        // One started after the cut does; so does a slow one.
        assert!(l.record(Instant::now(), FAST, true));
        assert_eq!(l.limit(), 2.0);
        assert!(l.record(Instant::now(), TARGET * 2, false));
        assert_eq!(l.limit(), 1.0);
        for _ in 0..10 {
            l.record(Instant::now(), FAST, true);
        }
        assert_eq!(l.limit(), MIN_LIMIT, "never below one record");
        // About one per round.
        l.record(Instant::now(), FAST, false);
        assert_eq!(l.limit(), 2.0);
        for _ in 0..3 {
            l.record(Instant::now(), FAST, false);
        }
        assert_eq!(slots(l.limit()), 3, "2.5, 2.9, 3.2");
        for _ in 0..100 {
            l.record(Instant::now(), FAST, false);
        }
        assert_eq!(l.limit(), 8.0, "never above max");
    }

    #[tokio::test]
    async fn no_more_records_run_than_the_limit_and_a_raise_lets_waiters_in() {
        let l = Limiter::new(4, TARGET);
        l.record(Instant::now(), FAST, true); // 4 -> 2
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let work = |_| async {
            let p = l.acquire().await;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            l.record(p.started, FAST, false);
        };
        futures_util::future::join_all((0..12).map(work)).await;
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert!(peak.load(Ordering::SeqCst) >= 2);
        assert_eq!(l.limit(), 4.0, "clean records brought it back to max");
    }

    #[test]
    fn a_record_exactly_at_the_latency_target_is_not_congestion() {
        let l = Limiter::new(8, TARGET);
        assert!(!l.record(Instant::now(), TARGET, false));
        assert_eq!(l.limit(), 8.0);
        assert!(l.record(Instant::now(), TARGET + Duration::from_millis(1), false));
    }

    #[tokio::test]
    async fn a_raise_alone_wakes_a_waiter_while_every_permit_is_still_held() {
        let l = Limiter::new(2, TARGET);
        l.record(Instant::now(), FAST, true); // 2 -> 1
        let held = l.acquire().await;
        let waiter = l.acquire();
        tokio::pin!(waiter);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), waiter.as_mut())
                .await
                .is_err(),
            "the one slot is taken"
        );
        // 1 -> 2 slots: nothing was dropped, so only the raise can let the waiter in.
        l.record(held.started, FAST, false);
        let woke = tokio::time::timeout(Duration::from_millis(200), waiter).await;
        assert!(woke.is_ok(), "the waiter was not told of the raise");
    }

    #[tokio::test]
    async fn a_dropped_permit_frees_its_slot() {
        let l = Limiter::new(1, TARGET);
        let p = l.acquire().await;
        let waiting = tokio::time::timeout(Duration::from_millis(20), l.acquire()).await;
        assert!(waiting.is_err(), "the one slot is taken");
        drop(p);
        let again = tokio::time::timeout(Duration::from_millis(200), l.acquire()).await;
        assert!(again.is_ok());
    }
}
