//! `inventory` Lambda: SQS consumer of order-events (`OrderPlaced`, `OrderCancelled`).
//!
//! Env: `PRODUCTS_TABLE`, `RESERVATIONS_TABLE`, `INVENTORY_EVENTS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8).

mod handler;

use lambda_runtime::Error;
use orders_aws::{InventoryTables, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::consumer::serve("inventory", |env, clients| {
        Ok(handler::Inventory {
            store: InventoryTables::new(
                clients.dynamodb.clone(),
                env.required("PRODUCTS_TABLE")?,
                env.required("RESERVATIONS_TABLE")?,
            ),
            publisher: SnsPublisher::new(
                clients.sns.clone(),
                env.required("INVENTORY_EVENTS_TOPIC_ARN")?,
            ),
            clock: SystemClock,
        })
    })
    .await
}
