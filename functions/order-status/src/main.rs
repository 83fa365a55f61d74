//! `order-status` Lambda: SQS consumer of inventory-events; moves orders
//! `PENDING -> CONFIRMED | REJECTED`, and publishes `OrderCancelled` for a reservation whose
//! order does not exist.
//!
//! Env: `ORDERS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required), `BATCH_CONCURRENCY` (default 8).

mod handler;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::{Clients, OrdersTable, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    let env = process_env();
    let orders = env.required("ORDERS_TABLE")?;
    let topic = env.required("ORDER_EVENTS_TOPIC_ARN")?;
    let concurrency = env.batch_concurrency()?;
    let clients = Clients::load().await;
    let consumer = handler::OrderStatusConsumer {
        orders: OrdersTable::new(clients.dynamodb.clone(), orders),
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
