//! Thin AWS adapters for the order pipeline: DynamoDB stores and the SNS publisher that
//! implement the `orders-domain` ports, the SQS batch runner (bounded concurrency, partial
//! batch response), configuration from the environment, and tracing set-up.
//!
//! Every function crate builds these once per cold start and hands them to its handler.

pub mod config;
pub mod consumer;
pub mod deadline;
pub mod defer;
pub mod dynamo;
pub mod flow;
pub mod metrics;
pub mod retry;
pub mod sns;
pub mod sqs;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
pub use config::ConfigError;
pub use dynamo::{
    InventoryTables, NotificationsTable, OrdersTable, ProductsTable, CUSTOMER_INDEX, OUTBOX_INDEX,
    PENDING_INDEX,
};
pub use sns::SnsPublisher;

/// SDK clients, built once per cold start and cloned (cheaply) into the adapters.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    /// The consumers' own queue, for the records they defer.
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Loads the SDK configuration from the environment and builds the clients.
    pub async fn load() -> Self {
        let config = sdk_config().await;
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&config)
                    .retry_classifier(retry::TooManyRequestsIsThrottling)
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::new(&config),
        }
    }
}

/// A random factor in [0, 1) from the standard library's randomly keyed hasher (no extra crate
/// for a backoff jitter).
pub(crate) fn jitter() -> f64 {
    let x = RandomState::new().hash_one(0u8);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Bounds on every AWS call, so a hung call fails (and is retried or reported) instead of
/// running into the function's timeout and failing the whole batch. An attempt is one HTTP
/// request; the operation is all attempts with their backoff. DynamoDB and SNS answer in
/// milliseconds on AWS; these leave room for a loaded local emulator.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// The shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL` for LocalStack), with
/// the timeouts above.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}
