//! Inventory consumer: for each `OrderPlaced` / `OrderCancelled` in the SQS batch, reserve
//! or release stock and publish the outcome to inventory-events; failed records are
//! reported back individually.

use orders_aws::consumer::EventConsumer;
use orders_domain::consumer::{ConsumerError, Handled};
use orders_domain::inventory::on_order_event;
use orders_domain::ports::{Clock, EventPublisher, InventoryStore};
use orders_domain::{Event, EventPayload};
use tokio::time::Instant;

/// The consumer's dependencies.
pub struct Inventory<S, P, C> {
    pub store: S,
    pub publisher: P,
    pub clock: C,
}

impl<S: InventoryStore, P: EventPublisher, C: Clock> EventConsumer for Inventory<S, P, C> {
    type Output = Handled;
    type Error = ConsumerError;

    async fn on_event(&self, event: Event, _deadline: Instant) -> Result<Handled, ConsumerError> {
        on_order_event(&self.store, &self.publisher, &self.clock, &event).await
    }

    /// Reservations of one SKU write its stock items: in one batch they take turns instead of
    /// cancelling each other's transactions. A release's SKUs are known only once its
    /// reservation is read, so it keeps its order's lane.
    fn lanes(&self, event: &Event) -> Vec<String> {
        match &event.payload {
            EventPayload::OrderPlaced(d) => d.lines.iter().map(|l| l.sku.to_string()).collect(),
            _ => vec![event.order_id.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    use orders_aws::consumer::handle_batch;
    use orders_aws::sqs::BatchError;
    use orders_domain::ports::ProductStore;
    use orders_domain::testing::{FixedClock, InMemoryInventory, RecordingPublisher};
    use orders_domain::{EventType, Sku};

    fn sample(name: &str) -> SqsEvent {
        orders_domain::testing::lambda_sample(name)
    }

    fn consumer() -> Inventory<InMemoryInventory, RecordingPublisher, FixedClock> {
        Inventory {
            store: InMemoryInventory::new(),
            publisher: RecordingPublisher::new(),
            clock: FixedClock::default_time(),
        }
    }

    impl Inventory<InMemoryInventory, RecordingPublisher, FixedClock> {
        /// One batch, as the skeleton runs it, with time to spare.
        async fn handle(&self, batch: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
            let later = Instant::now() + std::time::Duration::from_secs(10);
            handle_batch(self, batch, &orders_aws::testing::flow(4), later).await
        }
    }

    async fn stock(
        c: &Inventory<InMemoryInventory, RecordingPublisher, FixedClock>,
        sku: &str,
        n: u64,
    ) {
        c.store
            .create(
                &Sku::parse(sku).unwrap(),
                n,
                orders_domain::inventory::stock::ShardCount::ONE,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sample_batch_reserves_and_publishes_inventory_reserved() {
        let c = consumer();
        stock(&c, "SKU-RED-MUG", 10).await;
        stock(&c, "SKU-BLUE-CAP", 1).await;
        let resp = c.handle(sample("sqs-inventory-batch.json")).await.unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(c.publisher.types(), vec![EventType::InventoryReserved]);
        assert_eq!(c.store.product("SKU-RED-MUG").unwrap().available, 8);
        assert_eq!(c.store.product("SKU-BLUE-CAP").unwrap().reserved, 1);
        // Redelivered batch: nothing reserved twice, same event again.
        c.handle(sample("sqs-inventory-batch.json")).await.unwrap();
        assert_eq!(c.store.product("SKU-RED-MUG").unwrap().available, 8);
        let events = c.publisher.events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], events[1]);
    }

    #[tokio::test]
    async fn short_stock_rejects_naming_the_sku() {
        let c = consumer();
        stock(&c, "SKU-RED-MUG", 10).await;
        c.handle(sample("sqs-inventory-batch.json")).await.unwrap();
        match &c.publisher.events()[0].payload {
            orders_domain::EventPayload::InventoryRejected(d) => {
                assert_eq!(d.short_skus, vec![Sku::parse("SKU-BLUE-CAP").unwrap()])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.store.product("SKU-RED-MUG").unwrap().available, 10);
    }

    #[tokio::test]
    async fn publish_failure_fails_the_record_for_a_retry() {
        let c = consumer();
        stock(&c, "SKU-RED-MUG", 10).await;
        stock(&c, "SKU-BLUE-CAP", 10).await;
        c.publisher.fail_next(1);
        let resp = c.handle(sample("sqs-inventory-batch.json")).await.unwrap();
        assert_eq!(resp.batch_item_failures.len(), 1);
        let resp = c.handle(sample("sqs-inventory-batch.json")).await.unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(c.publisher.types(), vec![EventType::InventoryReserved]);
        assert_eq!(c.store.product("SKU-RED-MUG").unwrap().available, 8);
    }
}
