//! Order-status consumer: applies `InventoryReserved` / `InventoryRejected` to the order
//! (`PENDING -> CONFIRMED | REJECTED`) with a conditional write; late or duplicate events
//! are acknowledged without change.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use orders_aws::sqs::{run_event_batch, BatchError};
use orders_domain::ports::{Clock, OrderStore};
use orders_domain::usecases::apply_inventory_event;
use orders_domain::Event;

/// The consumer's dependencies.
pub struct OrderStatus<O, C> {
    pub orders: O,
    pub clock: C,
    pub concurrency: usize,
}

impl<O: OrderStore, C: Clock> OrderStatus<O, C> {
    pub async fn handle(&self, batch: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        run_event_batch(batch, self.concurrency, |event: Event| async move {
            apply_inventory_event(&self.orders, &self.clock, &event).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orders_domain::testing::{FixedClock, InMemoryOrders, RecordingPublisher};
    use orders_domain::{OrderId, OrderStatus as Status};

    fn sample(name: &str) -> String {
        let path = format!("{}/../../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    fn batch(name: &str) -> SqsEvent {
        serde_json::from_str(&sample(name)).unwrap()
    }

    /// The sample events are about the order the API sample's Idempotency-Key creates.
    async fn consumer_with_sample_order() -> (OrderStatus<InMemoryOrders, FixedClock>, OrderId) {
        let c = OrderStatus {
            orders: InMemoryOrders::new(),
            clock: FixedClock::default_time(),
            concurrency: 4,
        };
        let body = r#"{"customer_id":"cust-42","lines":[{"sku":"SKU-RED-MUG","quantity":2},{"sku":"SKU-BLUE-CAP","quantity":1}]}"#;
        let placed = orders_domain::usecases::place_order(
            &c.orders,
            &RecordingPublisher::new(),
            &c.clock,
            body.as_bytes(),
            Some("sample-order-1"),
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
    }

    #[tokio::test]
    async fn late_rejection_after_cancel_is_acknowledged_and_ignored() {
        let (c, id) = consumer_with_sample_order().await;
        orders_domain::usecases::cancel_order(
            &c.orders,
            &RecordingPublisher::new(),
            &c.clock,
            id.as_str(),
            b"",
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

    #[tokio::test]
    async fn poison_message_is_reported_by_id() {
        let (c, _) = consumer_with_sample_order().await;
        let resp = c.handle(batch("sqs-poison-batch.json")).await.unwrap();
        let failed: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["7d1e2f3a-0000-4000-8000-000000000001"]);
    }
}
