//! `notification` Lambda: SQS consumer of order and inventory events; one customer message
//! per event id.
//!
//! Env: `NOTIFICATIONS_TABLE`, `CUSTOMER_NOTIFICATIONS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8).

mod handler;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::{Clients, NotificationsTable, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    let env = process_env();
    let table = env.required("NOTIFICATIONS_TABLE")?;
    let topic = env.required("CUSTOMER_NOTIFICATIONS_TOPIC_ARN")?;
    let concurrency = env.batch_concurrency()?;
    let clients = Clients::load().await;
    let consumer = handler::Notifier {
        store: NotificationsTable::new(clients.dynamodb.clone(), table),
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
