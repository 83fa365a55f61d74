//! `order-status` Lambda: SQS consumer of inventory-events; moves orders
//! `PENDING -> CONFIRMED | REJECTED`, and publishes `OrderCancelled` for a reservation whose
//! order does not exist.
//!
//! Env: `ORDERS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required), `BATCH_CONCURRENCY` (default 8).

mod handler;

use lambda_runtime::Error;
use orders_aws::{OrdersTable, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::consumer::serve("order-status", |env, clients| {
        Ok(handler::OrderStatusConsumer {
            orders: OrdersTable::new(clients.dynamodb.clone(), env.required("ORDERS_TABLE")?),
            publisher: SnsPublisher::new(
                clients.sns.clone(),
                env.required("ORDER_EVENTS_TOPIC_ARN")?,
            ),
            clock: SystemClock,
        })
    })
    .await
}
