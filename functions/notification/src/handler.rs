//! Notification consumer: one customer message per event id, published to the
//! customer-notifications topic as a `CustomerNotified` event.

use orders_aws::consumer::EventConsumer;
use orders_aws::deadline::BoundedPublisher;
use orders_domain::consumer::{ConsumerError, Handled};
use orders_domain::notify::notify_customer;
use orders_domain::ports::{Clock, EventPublisher, NotificationStore};
use orders_domain::Event;
use std::time::Duration;
use tokio::time::Instant;

/// The consumer's dependencies.
pub struct Notifier<S, P, C> {
    pub store: S,
    pub publisher: P,
    pub clock: C,
    /// How long a claim blocks other workers: the function's timeout plus a margin.
    pub claim_ttl: Duration,
}

/// Time kept, before the invocation's deadline, to release a claim whose publish failed.
pub const RELEASE_MARGIN: Duration = Duration::from_millis(500);

impl<S: NotificationStore, P: EventPublisher, C: Clock> EventConsumer for Notifier<S, P, C> {
    type Output = Handled;
    type Error = ConsumerError;

    /// Publishes give up `RELEASE_MARGIN` before the deadline, so a failing one still releases
    /// its claim (the redelivery then sends at once instead of waiting for the claim to expire).
    async fn on_event(&self, event: Event, deadline: Instant) -> Result<Handled, ConsumerError> {
        let until = deadline.checked_sub(RELEASE_MARGIN).unwrap_or(deadline);
        let publisher = BoundedPublisher::new(&self.publisher, until);
        notify_customer(&self.store, &publisher, &self.clock, &event, self.claim_ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    use orders_aws::consumer::handle_batch;
    use orders_aws::sqs::BatchError;
    use orders_domain::testing::{FixedClock, InMemoryNotifications, RecordingPublisher};
    use orders_domain::{EventPayload, EventType};

    /// A deadline far enough away not to matter.
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn batch(name: &str) -> SqsEvent {
        orders_domain::testing::lambda_sample(name)
    }

    impl<P: EventPublisher> Notifier<InMemoryNotifications, P, FixedClock> {
        /// One batch, as the skeleton runs it, due by `deadline`.
        async fn handle(
            &self,
            batch: SqsEvent,
            deadline: Instant,
        ) -> Result<SqsBatchResponse, BatchError> {
            handle_batch(self, batch, &orders_aws::testing::flow(4), deadline).await
        }
    }

    fn notifier() -> Notifier<InMemoryNotifications, RecordingPublisher, FixedClock> {
        Notifier {
            store: InMemoryNotifications::new(),
            publisher: RecordingPublisher::new(),
            clock: FixedClock::default_time(),
            claim_ttl: Duration::from_secs(11),
        }
    }

    #[tokio::test]
    async fn one_message_per_event_even_when_redelivered() {
        let n = notifier();
        let resp = n
            .handle(batch("sqs-notification-batch.json"), later())
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let resp = n
            .handle(batch("sqs-notification-batch.json"), later())
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let out = n.publisher.events();
        assert_eq!(out.len(), 2, "two statuses, two messages, no repeats");
        let sources: Vec<_> = out
            .iter()
            .map(|e| match &e.payload {
                EventPayload::CustomerNotified(d) => d.source_type,
                other => panic!("{other:?}"),
            })
            .collect();
        // "Received" is told from OrderPlaced, the order's first status.
        assert_eq!(
            sources,
            [EventType::OrderPlaced, EventType::OrderStatusChanged]
        );
    }

    #[tokio::test]
    async fn a_failed_publish_fails_only_that_record() {
        let n = notifier();
        // The second record (CONFIRMED) fails; the placement's, older, goes out first.
        n.publisher.fail_nth(2);
        let resp = n
            .handle(batch("sqs-notification-batch.json"), later())
            .await
            .unwrap();
        assert_eq!(resp.batch_item_failures.len(), 1);
        assert_eq!(n.publisher.events().len(), 1);
        // The retry of the failed record goes through (its claim was released).
        let resp = n
            .handle(batch("sqs-notification-batch.json"), later())
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(n.publisher.events().len(), 2);
    }

    /// A publish that hangs.
    struct Hung;
    impl EventPublisher for Hung {
        async fn publish(&self, _: &Event) -> Result<(), orders_domain::ports::PublishError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_still_hanging_near_the_deadline_releases_its_claim() {
        let n = Notifier {
            store: InMemoryNotifications::new(),
            publisher: Hung,
            clock: FixedClock::default_time(),
            claim_ttl: Duration::from_secs(11),
        };
        let start = Instant::now();
        let flow = orders_aws::testing::flow(4);
        let resp = handle_batch(
            &n,
            batch("sqs-notification-batch.json"),
            &flow,
            start + Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert!(
            resp.batch_item_failures.is_empty(),
            "a publish out of time is load, not a failure"
        );
        assert_eq!(flow.deferrer.ids().len(), 2, "both sent back for later");
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(2) - RELEASE_MARGIN
        );
        for id in [
            "986dae04-59b6-8c22-ab2e-7b06344f7c87",
            "ee2b7169-053a-8224-ad51-db302f6cfd06",
        ] {
            let id = orders_domain::EventId::parse(id).unwrap();
            assert_eq!(
                n.store.sent(&id),
                None,
                "claim released, not left to expire"
            );
        }
    }
}
