//! Order-status consumer: applies `InventoryReserved` / `InventoryRejected` to the order
//! (`PENDING -> CONFIRMED | REJECTED`) with a conditional write that also stores the
//! `OrderStatusChanged` it then publishes (the customer's news); late or duplicate events
//! are acknowledged without change. A reservation for an order that does not exist is
//! answered with `OrderCancelled` on order-events, so inventory releases the stock.

use orders_aws::consumer::EventConsumer;
use orders_domain::consumer::{ConsumerError, Handled};
use orders_domain::order_status::on_inventory_event;
use orders_domain::ports::{Clock, EventPublisher, OrderStore};
use orders_domain::Event;
use tokio::time::Instant;

/// The consumer's dependencies.
pub struct OrderStatusConsumer<O, P, C> {
    pub orders: O,
    /// The order-events topic.
    pub publisher: P,
    pub clock: C,
}

impl<O: OrderStore, P: EventPublisher, C: Clock> EventConsumer for OrderStatusConsumer<O, P, C> {
    type Output = Handled;
    type Error = ConsumerError;

    async fn on_event(&self, event: Event, _deadline: Instant) -> Result<Handled, ConsumerError> {
        on_inventory_event(&self.orders, &self.publisher, &self.clock, &event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    use orders_aws::consumer::handle_batch;
    use orders_aws::sqs::BatchError;
    use orders_domain::testing::{FixedClock, InMemoryOrders, RecordingPublisher};
    use orders_domain::{OrderId, OrderStatus as Status};

    use orders_domain::testing::lambda_sample_text as sample;

    fn batch(name: &str) -> SqsEvent {
        serde_json::from_str(&sample(name)).unwrap()
    }

    type Consumer = OrderStatusConsumer<InMemoryOrders, RecordingPublisher, FixedClock>;

    impl Consumer {
        /// One batch, as the skeleton runs it, with time to spare.
        async fn handle(&self, batch: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
            let later = Instant::now() + std::time::Duration::from_secs(10);
            handle_batch(self, batch, &orders_aws::testing::flow(4), later).await
        }
    }

    fn consumer() -> Consumer {
        OrderStatusConsumer {
            orders: InMemoryOrders::new(),
            publisher: RecordingPublisher::new(),
            clock: FixedClock::default_time(),
        }
    }

    /// The sample events are about the order the API sample's Idempotency-Key creates.
    async fn consumer_with_sample_order() -> (Consumer, OrderId) {
        let c = consumer();
        let body = r#"{"customer_id":"cust-42","lines":[{"sku":"SKU-RED-MUG","quantity":2},{"sku":"SKU-BLUE-CAP","quantity":1}]}"#;
        let input = orders_domain::place::PlaceOrder {
            client: orders_domain::ClientScope::api_key_id("sample-api-key-id"),
            key: Some(orders_domain::IdempotencyKey::parse("sample-order-1").unwrap()),
            request: orders_domain::place::PlaceOrderRequest::parse(
                body.as_bytes(),
                &orders_domain::CustomerId::parse("cust-42").unwrap(),
            )
            .unwrap(),
            fresh_id: orders_domain::OrderId::random(),
        };
        let placed = orders_domain::place::place_order(
            &c.orders,
            &RecordingPublisher::new(),
            &c.clock,
            input,
            std::time::Duration::from_secs(11),
        )
        .await
        .unwrap();
        (c, placed.order.order_id)
    }

    #[tokio::test]
    async fn sample_batch_confirms_the_order_once() {
        let (c, id) = consumer_with_sample_order().await;
        let resp = c
            .handle(batch("sqs-order-status-batch.json"))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let o = c.orders.snapshot(&id).unwrap();
        assert_eq!(o.status, Status::Confirmed);
        assert_eq!(o.history.len(), 2);
        // Duplicate delivery: acknowledged, no change.
        let resp = c
            .handle(batch("sqs-order-status-batch.json"))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(c.orders.snapshot(&id).unwrap().history.len(), 2);
        let published = c.publisher.events();
        assert_eq!(published.len(), 1, "one status change, not repeated");
        assert!(matches!(
            &published[0].payload,
            orders_domain::EventPayload::OrderStatusChanged(d) if d.status == Status::Confirmed
        ));
    }

    #[tokio::test]
    async fn reservation_for_a_missing_order_publishes_order_cancelled() {
        // No order: the API rolled it back after an ambiguous publish.
        let c = consumer();
        for _ in 0..2 {
            let resp = c
                .handle(batch("sqs-order-status-batch.json"))
                .await
                .unwrap();
            assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
        }
        let out = c.publisher.events();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, out[1].id, "a redelivery republishes the same id");
        assert_eq!(
            out[0].event_type(),
            orders_domain::EventType::OrderCancelled
        );
        match &out[0].payload {
            orders_domain::EventPayload::OrderCancelled(d) => {
                assert_eq!(d.customer_id.as_str(), "cust-42");
                assert_eq!(
                    d.reason.as_deref(),
                    Some(orders_domain::order_status::ABANDONED_RESERVATION_REASON)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(c.orders.is_empty());
    }

    #[tokio::test]
    async fn failed_cancel_publish_fails_the_record() {
        let c = consumer();
        c.publisher.fail_next(1);
        let resp = c
            .handle(batch("sqs-order-status-batch.json"))
            .await
            .unwrap();
        assert_eq!(resp.batch_item_failures.len(), 1);
        assert!(c.publisher.events().is_empty());
    }

    #[tokio::test]
    async fn late_rejection_after_cancel_is_acknowledged_and_ignored() {
        let (c, id) = consumer_with_sample_order().await;
        orders_domain::cancel::cancel_order(
            &c.orders,
            &RecordingPublisher::new(),
            &c.clock,
            &id,
            &orders_domain::CustomerId::parse("cust-42").unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
        let text = sample("sqs-order-status-batch.json").replace("InventoryReserved", "InventoryRejected").replace(
            r#"\"lines\":[{\"sku\":\"SKU-RED-MUG\",\"quantity\":2},{\"sku\":\"SKU-BLUE-CAP\",\"quantity\":1}]"#,
            r#"\"short_skus\":[\"SKU-BLUE-CAP\"]"#,
        );
        let resp = c
            .handle(serde_json::from_str(&text).unwrap())
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
        assert_eq!(c.orders.snapshot(&id).unwrap().status, Status::Cancelled);
    }
}
