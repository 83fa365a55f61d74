//! Notification consumer: one customer message per event id, published to the
//! customer-notifications topic as a `CustomerNotified` event.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use orders_aws::sqs::{run_event_batch, BatchError};
use orders_domain::ports::{Clock, EventPublisher, NotificationStore};
use orders_domain::usecases::notify_customer;
use orders_domain::Event;
use std::time::Duration;

/// The consumer's dependencies.
pub struct Notifier<S, P, C> {
    pub store: S,
    pub publisher: P,
    pub clock: C,
    pub concurrency: usize,
    /// How long a claim blocks other workers: the function's timeout plus a margin.
    pub claim_ttl: Duration,
}

impl<S: NotificationStore, P: EventPublisher, C: Clock> Notifier<S, P, C> {
    pub async fn handle(&self, batch: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        run_event_batch(batch, self.concurrency, |event: Event| async move {
            notify_customer(
                &self.store,
                &self.publisher,
                &self.clock,
                &event,
                self.claim_ttl,
            )
            .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orders_domain::testing::{FixedClock, InMemoryNotifications, RecordingPublisher};
    use orders_domain::{EventPayload, EventType};

    fn batch(name: &str) -> SqsEvent {
        orders_domain::testing::lambda_sample(name)
    }

    fn notifier() -> Notifier<InMemoryNotifications, RecordingPublisher, FixedClock> {
        Notifier {
            store: InMemoryNotifications::new(),
            publisher: RecordingPublisher::new(),
            clock: FixedClock::default_time(),
            concurrency: 4,
            claim_ttl: Duration::from_secs(11),
        }
    }

    #[tokio::test]
    async fn one_message_per_event_even_when_redelivered() {
        let n = notifier();
        let resp = n
            .handle(batch("sqs-notification-batch.json"))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let resp = n
            .handle(batch("sqs-notification-batch.json"))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let out = n.publisher.events();
        assert_eq!(out.len(), 2, "two source events, two messages, no repeats");
        let mut sources: Vec<EventType> = out
            .iter()
            .map(|e| match &e.payload {
                EventPayload::CustomerNotified(d) => d.source_type,
                other => panic!("{other:?}"),
            })
            .collect();
        sources.sort_by_key(|t| t.as_str());
        assert_eq!(
            sources,
            vec![EventType::InventoryReserved, EventType::OrderPlaced]
        );
    }

    #[tokio::test]
    async fn a_failed_publish_fails_only_that_record() {
        let n = notifier();
        n.publisher.fail_next(1);
        let resp = n
            .handle(batch("sqs-notification-batch.json"))
            .await
            .unwrap();
        assert_eq!(resp.batch_item_failures.len(), 1);
        assert_eq!(n.publisher.events().len(), 1);
        // The retry of the failed record goes through (its claim was released).
        let resp = n
            .handle(batch("sqs-notification-batch.json"))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(n.publisher.events().len(), 2);
    }

    #[tokio::test]
    async fn poison_message_is_reported_by_id() {
        let n = notifier();
        let resp = n.handle(batch("sqs-poison-batch.json")).await.unwrap();
        let failed: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["7d1e2f3a-0000-4000-8000-000000000001"]);
        assert_eq!(n.publisher.types(), vec![EventType::CustomerNotified]);
    }
}
