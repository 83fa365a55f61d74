//! `inventory` Lambda: SQS consumer of order-events (`OrderPlaced`, `OrderCancelled`).
//!
//! Env: `PRODUCTS_TABLE`, `RESERVATIONS_TABLE`, `INVENTORY_EVENTS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8).

mod handler;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::{Clients, InventoryTables, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    let env = process_env();
    let products = env.required("PRODUCTS_TABLE")?;
    let reservations = env.required("RESERVATIONS_TABLE")?;
    let topic = env.required("INVENTORY_EVENTS_TOPIC_ARN")?;
    let concurrency = env.batch_concurrency()?;
    let clients = Clients::load().await;
    let consumer = handler::Inventory {
        store: InventoryTables::new(clients.dynamodb.clone(), products, reservations),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
        concurrency,
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        consumer.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
