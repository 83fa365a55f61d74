//! The invocation's deadline, for work that must finish (or clean up) before Lambda ends it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orders_domain::ports::{EventPublisher, PublishError};
use orders_domain::Event;
use tokio::time::Instant;

/// Time left until `deadline_ms` (epoch milliseconds, as `lambda_runtime::Context::deadline`).
pub fn time_left(deadline_ms: u64) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// A publisher whose publishes give up at `until`, so the caller still has time to undo what
/// the publish was for (a notification releases its claim) instead of being killed with the
/// invocation and leaving it to expire. A publish cut short is ambiguous, like any failed one.
pub struct BoundedPublisher<'a, P> {
    inner: &'a P,
    until: Instant,
}

impl<'a, P> BoundedPublisher<'a, P> {
    pub fn new(inner: &'a P, until: Instant) -> Self {
        Self { inner, until }
    }
}

impl<P: EventPublisher> EventPublisher for BoundedPublisher<'_, P> {
    async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        match tokio::time::timeout_at(self.until, self.inner.publish(event)).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::busy(
                "gave up: the invocation's deadline is near",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orders_domain::testing::RecordingPublisher;
    use orders_domain::{EventType, Order, OrderId};

    struct Hung;
    impl EventPublisher for Hung {
        async fn publish(&self, _: &Event) -> Result<(), PublishError> {
            std::future::pending().await
        }
    }

    fn event() -> Event {
        let now = chrono::Utc::now();
        let o = Order::new_pending(
            OrderId::random(),
            orders_domain::CustomerId::parse("c").unwrap(),
            vec![],
            "h".into(),
            now,
        );
        Event::order_placed(&o, now)
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_gives_up_at_the_bound_and_passes_through_before_it() {
        let until = Instant::now() + Duration::from_millis(1500);
        let err = BoundedPublisher::new(&Hung, until)
            .publish(&event())
            .await
            .unwrap_err();
        assert!(err.detail.contains("deadline") && err.busy, "{err}");
        assert_eq!(Instant::now(), until, "not a moment later");

        let inner = RecordingPublisher::new();
        let until = Instant::now() + Duration::from_secs(1);
        BoundedPublisher::new(&inner, until)
            .publish(&event())
            .await
            .unwrap();
        assert_eq!(inner.types(), vec![EventType::OrderPlaced]);
    }

    #[test]
    fn time_left_never_underflows() {
        assert_eq!(time_left(0), Duration::ZERO);
        let in_a_minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 60_000;
        assert!(time_left(in_a_minute) > Duration::from_secs(59));
    }
}
