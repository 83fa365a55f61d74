//! Thin AWS adapters for the order pipeline: DynamoDB stores and the SNS publisher that
//! implement the `orders-domain` ports, the SQS batch runner (bounded concurrency, partial
//! batch response), configuration from the environment, and tracing set-up.
//!
//! Every function crate builds these once per cold start and hands them to its handler.

pub mod config;
pub mod dynamo;
pub mod retry;
pub mod sns;
pub mod sqs;
pub mod telemetry;

pub use config::ConfigError;
pub use dynamo::{InventoryTables, NotificationsTable, OrdersTable, ProductsTable, OUTBOX_INDEX};
pub use sns::SnsPublisher;

/// SDK clients, built once per cold start and cloned (cheaply) into the adapters.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
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
        }
    }
}

/// The shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL` for LocalStack).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
