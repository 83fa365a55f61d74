//! Outbox sweeper: republishes order events whose publish never completed. The input is
//! ignored (a scheduled EventBridge event, or `{}` from a manual invoke).

use std::time::Duration;

use orders_domain::ports::{Clock, EventPublisher, OrderStore, StoreError};
use orders_domain::usecases::{sweep_outbox, SweepSummary};
use tracing::info;

/// Orders handled per invocation; the next run (every minute) continues.
pub const SWEEP_LIMIT: usize = 500;

/// Why a sweep failed. A sweep that could not repair every order fails the invocation, so
/// Lambda's `Errors` metric (and its alarm) counts it; the orders stay in the outbox for the
/// next run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} of {} stale orders were not republished (they stay for the next run)", .0.failed, .0.scanned)]
    RepairsFailed(SweepSummary),
}

/// The sweeper's dependencies.
pub struct Sweeper<O, P, C> {
    pub orders: O,
    pub publisher: P,
    pub clock: C,
    pub grace: Duration,
}

impl<O: OrderStore, P: EventPublisher, C: Clock> Sweeper<O, P, C> {
    /// Returns `{"scanned": n, "republished": n, "failed": n}`, or an error when any repair
    /// failed.
    pub async fn handle(&self, _input: serde_json::Value) -> Result<SweepSummary, SweepError> {
        let summary = sweep_outbox(
            &self.orders,
            &self.publisher,
            &self.clock,
            self.grace,
            SWEEP_LIMIT,
        )
        .await?;
        info!(
            scanned = summary.scanned,
            republished = summary.republished,
            failed = summary.failed,
            "outbox sweep done"
        );
        if summary.failed > 0 {
            return Err(SweepError::RepairsFailed(summary));
        }
        Ok(summary)
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
        };
        let now = s.clock.now();
        let mut o = Order::new_pending(
            OrderId::random(),
            orders_domain::CustomerId::parse("c").unwrap(),
            vec![],
            "h".into(),
            now,
        );
        o.outbox = Some(Outbox {
            event: Event::order_placed(&o, now),
            since: now,
        });
        s.orders.insert_new(&o).await.unwrap();
        s
    }

    #[tokio::test]
    async fn republishes_stale_outboxes_and_reports_a_summary() {
        let s = sweeper_with_unpublished_order().await;

        let summary = s.handle(schedule_event()).await.unwrap();
        assert_eq!(summary, SweepSummary::default(), "within the grace period");
        s.clock.advance(chrono::Duration::seconds(120));
        let summary = s.handle(serde_json::json!({})).await.unwrap();
        assert_eq!(summary.republished, 1);
        assert_eq!(s.publisher.types(), vec![EventType::OrderPlaced]);
        assert_eq!(
            serde_json::to_value(summary).unwrap(),
            serde_json::json!({"scanned": 1, "republished": 1, "failed": 0})
        );
        assert_eq!(s.handle(schedule_event()).await.unwrap().scanned, 0);
    }

    #[tokio::test]
    async fn a_failed_repair_fails_the_invocation_and_stays_for_the_next_run() {
        let s = sweeper_with_unpublished_order().await;
        s.clock.advance(chrono::Duration::seconds(120));
        s.publisher.fail_next(1);

        let err = s.handle(serde_json::json!({})).await.unwrap_err();
        assert!(matches!(
            err,
            SweepError::RepairsFailed(SweepSummary {
                scanned: 1,
                republished: 0,
                failed: 1
            })
        ));
        assert!(err.to_string().contains("1 of 1"), "{err}");
        let summary = s.handle(serde_json::json!({})).await.unwrap();
        assert_eq!((summary.scanned, summary.republished), (1, 1));
    }
}
