//! `notification` Lambda: SQS consumer of order and inventory events; one customer message
//! per event id.
//!
//! Env: `NOTIFICATIONS_TABLE`, `CUSTOMER_NOTIFICATIONS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8), `FUNCTION_TIMEOUT_SECONDS` (this function's timeout, which
//! bounds a notification claim's lifetime; default 900, Lambda's maximum).

mod handler;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::deadline::time_left;
use orders_aws::{Clients, NotificationsTable, SnsPublisher};
use orders_domain::notify::CLAIM_CLOCK_MARGIN;
use orders_domain::ports::SystemClock;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    let env = process_env();
    let table = env.required("NOTIFICATIONS_TABLE")?;
    let topic = env.required("CUSTOMER_NOTIFICATIONS_TOPIC_ARN")?;
    let concurrency = env.batch_concurrency()?;
    let timeout: u64 = env.parse_or("FUNCTION_TIMEOUT_SECONDS", 900)?;
    let clients = Clients::load().await;
    let consumer = handler::Notifier {
        store: NotificationsTable::new(clients.dynamodb.clone(), table),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
        concurrency,
        claim_ttl: Duration::from_secs(timeout) + CLAIM_CLOCK_MARGIN,
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = Instant::now() + time_left(event.context.deadline);
        consumer
            .handle(event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}
