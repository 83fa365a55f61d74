//! `notification` Lambda: SQS consumer of `OrderStatusChanged`; one customer message per
//! applied status change, never one older than a message already sent for that order.
//!
//! Env: `NOTIFICATIONS_TABLE`, `CUSTOMER_NOTIFICATIONS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8), `FUNCTION_TIMEOUT_SECONDS` (this function's timeout, which
//! bounds a notification claim's lifetime; default 900, Lambda's maximum).

mod handler;

use std::time::Duration;

use lambda_runtime::Error;
use orders_aws::{NotificationsTable, SnsPublisher};
use orders_domain::notify::CLAIM_CLOCK_MARGIN;
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::consumer::serve("notification", |env, clients| {
        let timeout: u64 = env.parse_or("FUNCTION_TIMEOUT_SECONDS", 900)?;
        Ok(handler::Notifier {
            store: NotificationsTable::new(
                clients.dynamodb.clone(),
                env.required("NOTIFICATIONS_TABLE")?,
            ),
            publisher: SnsPublisher::new(
                clients.sns.clone(),
                env.required("CUSTOMER_NOTIFICATIONS_TOPIC_ARN")?,
            ),
            clock: SystemClock,
            claim_ttl: Duration::from_secs(timeout) + CLAIM_CLOCK_MARGIN,
        })
    })
    .await
}
