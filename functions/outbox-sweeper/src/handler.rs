//! Outbox sweeper: republishes order events whose publish never completed, then ends the
//! orders that waited for stock longer than the pending timeout. The input is ignored (a
//! scheduled EventBridge event, or `{}` from a manual invoke).

use std::time::Duration;

use orders_domain::expiry::{expire_pending, ExpirySummary};
use orders_domain::outbox::{sweep_outbox, SweepSummary};
use orders_domain::ports::{Clock, EventPublisher, OrderStore, StoreError};
use serde::Serialize;
use tracing::info;

/// Orders handled per invocation and pass; the next run (every minute) continues.
pub const SWEEP_LIMIT: usize = 500;

/// What a run did: the outbox pass's counts at the top level, the pending-timeout pass's
/// under `pending`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub outbox: SweepSummary,
    pub pending: ExpirySummary,
}

/// Why a run failed. A run that could not repair or end every order it found fails the
/// invocation, so Lambda's `Errors` metric (and its alarm) counts it; what failed stays for
/// the next run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{} of {} stale outboxes not republished, {} of {} timed-out orders not ended (they stay for the next run)",
        .0.outbox.failed, .0.outbox.scanned, .0.pending.failed, .0.pending.scanned
    )]
    Failed(Report),
}

impl From<SweepError> for lambda_runtime::Diagnostic {
    /// A stable `errorType` for dashboards and alarms (the default is a Rust type name).
    fn from(e: SweepError) -> Self {
        let error_type = match e {
            SweepError::Store(_) => "SweepError.Store",
            SweepError::Failed(_) => "SweepError.Failed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// How many orders a run timed out, also when it failed elsewhere: a run that ended some
/// orders and failed on others (SNS in trouble) must still count those it ended, or the
/// `OrdersTimedOut` alarm stays silent exactly when it matters. Each expiry is a conditional
/// transition, so an order is counted once even if two runs overlap.
pub fn timed_out(run: &Result<Report, SweepError>) -> u64 {
    match run {
        Ok(r) | Err(SweepError::Failed(r)) => r.pending.expired as u64,
        Err(SweepError::Store(_)) => 0,
    }
}

/// The sweeper's dependencies.
pub struct Sweeper<O, P, C> {
    pub orders: O,
    pub publisher: P,
    pub clock: C,
    pub grace: Duration,
    /// How long an order may stay `PENDING` before it is rejected.
    pub pending_timeout: Duration,
}

impl<O: OrderStore, P: EventPublisher, C: Clock> Sweeper<O, P, C> {
    pub async fn handle(&self, _input: serde_json::Value) -> Result<Report, SweepError> {
        let (orders, publisher, clock) = (&self.orders, &self.publisher, &self.clock);
        let report = Report {
            outbox: sweep_outbox(orders, publisher, clock, self.grace, SWEEP_LIMIT).await?,
            pending: expire_pending(orders, publisher, clock, self.pending_timeout, SWEEP_LIMIT)
                .await?,
        };
        info!(
            scanned = report.outbox.scanned,
            republished = report.outbox.republished,
            failed = report.outbox.failed,
            pending_scanned = report.pending.scanned,
            expired = report.pending.expired,
            pending_failed = report.pending.failed,
            "sweep done"
        );
        if report.outbox.failed > 0 || report.pending.failed > 0 {
            return Err(SweepError::Failed(report));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orders_domain::testing::{FixedClock, InMemoryOrders, RecordingPublisher};
    use orders_domain::{Event, EventType, Order, OrderId, Outbox};

    fn schedule_event() -> serde_json::Value {
        let path = format!(
            "{}/../../events/lambda/schedule-event.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    type TestSweeper = Sweeper<InMemoryOrders, RecordingPublisher, FixedClock>;

    /// A sweeper (60 s grace) over one order whose OrderPlaced was never published.
    async fn sweeper_with_unpublished_order() -> TestSweeper {
        let s = Sweeper {
            orders: InMemoryOrders::new(),
            publisher: RecordingPublisher::new(),
            clock: FixedClock::default_time(),
            grace: Duration::from_secs(60),
            pending_timeout: Duration::from_secs(900),
        };
        let now = s.clock.now();
        let mut o = Order::new_pending(
            OrderId::random(),
            orders_domain::CustomerId::parse("c").unwrap(),
            vec![],
            "h".into(),
            now,
        );
        o.outbox = Some(Outbox::new(vec![Event::order_placed(&o, now)], now));
        s.orders.insert_new(&o).await.unwrap();
        s
    }

    #[tokio::test]
    async fn republishes_stale_outboxes_and_reports_a_summary() {
        let s = sweeper_with_unpublished_order().await;

        let report = s.handle(schedule_event()).await.unwrap();
        assert_eq!(report, Report::default(), "within the grace period");
        s.clock.advance(chrono::Duration::seconds(120));
        let report = s.handle(serde_json::json!({})).await.unwrap();
        assert_eq!(report.outbox.republished, 1);
        assert_eq!(s.publisher.types(), vec![EventType::OrderPlaced]);
        assert_eq!(
            serde_json::to_value(report).unwrap(),
            serde_json::json!({"scanned": 1, "republished": 1, "failed": 0,
                "pending": {"scanned": 0, "expired": 0, "failed": 0}})
        );
        assert_eq!(s.handle(schedule_event()).await.unwrap().outbox.scanned, 0);

        // Past the pending timeout the same order (still PENDING: nothing reserved it) ends.
        s.clock.advance(chrono::Duration::seconds(900));
        let report = s.handle(schedule_event()).await.unwrap();
        assert_eq!((report.pending.scanned, report.pending.expired), (1, 1));
        assert_eq!(
            s.publisher.types(),
            vec![
                EventType::OrderPlaced,
                EventType::OrderCancelled,
                EventType::OrderStatusChanged
            ]
        );
    }

    #[tokio::test]
    async fn a_partly_failed_run_still_counts_the_orders_it_timed_out() {
        // Two orders past the pending timeout, both ended; one's news fails to go out.
        let s = sweeper_with_unpublished_order().await;
        s.clock.advance(chrono::Duration::seconds(120));
        s.handle(schedule_event()).await.unwrap();
        let now = s.clock.now();
        let mut o = Order::new_pending(
            OrderId::random(),
            orders_domain::CustomerId::parse("c").unwrap(),
            vec![],
            "h".into(),
            now,
        );
        o.outbox = None;
        s.orders.insert_new(&o).await.unwrap();
        s.clock.advance(chrono::Duration::seconds(1000));
        s.publisher.fail_nth(3);
        let run = s.handle(schedule_event()).await;
        let Err(SweepError::Failed(report)) = &run else {
            panic!("{run:?}")
        };
        assert_eq!((report.pending.expired, report.pending.failed), (2, 1));
        assert_eq!(timed_out(&run), 2, "a failed run's expiries count too");
    }

    #[tokio::test]
    async fn a_failed_repair_fails_the_invocation_and_stays_for_the_next_run() {
        let s = sweeper_with_unpublished_order().await;
        s.clock.advance(chrono::Duration::seconds(120));
        s.publisher.fail_next(1);

        let err = s.handle(serde_json::json!({})).await.unwrap_err();
        assert!(matches!(
            err,
            SweepError::Failed(Report {
                outbox: SweepSummary {
                    scanned: 1,
                    republished: 0,
                    failed: 1
                },
                ..
            })
        ));
        assert!(err.to_string().contains("1 of 1 stale outboxes"), "{err}");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "SweepError.Failed");
        // Back of the line: its turn comes once the grace period passed again.
        s.clock.advance(chrono::Duration::seconds(61));
        let report = s.handle(serde_json::json!({})).await.unwrap();
        assert_eq!((report.outbox.scanned, report.outbox.republished), (1, 1));
    }
}
