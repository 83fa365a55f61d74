//! Thin AWS adapters for the order pipeline: DynamoDB stores and the SNS publisher that
//! implement the `orders-domain` ports, the SQS batch runner (bounded concurrency, partial
//! batch response), configuration from the environment, and tracing set-up.
//!
//! Every function crate builds these once per cold start and hands them to its handler.

pub mod config;
pub mod dynamo;
pub mod sns;
pub mod sqs;
pub mod telemetry;

pub use config::ConfigError;
pub use dynamo::{InventoryTables, NotificationsTable, OrdersTable, ProductsTable};
pub use sns::SnsPublisher;

/// The shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL` for LocalStack).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
