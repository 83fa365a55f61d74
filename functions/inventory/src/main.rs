//! `inventory` Lambda: SQS consumer of order-events (`OrderPlaced`, `OrderCancelled`).
//!
//! Env: `PRODUCTS_TABLE`, `RESERVATIONS_TABLE`, `INVENTORY_EVENTS_TOPIC_ARN` (required),
//! `BATCH_CONCURRENCY` (default 8), `AUTO_SHARD_MAX` (most shards a hot SKU gets by itself;
//! default 8, 1 turns it off), `HOT_SKU_CONFLICTS` (conflicts on one SKU within 10 s that make
//! it hot; default 8).

mod handler;

use lambda_runtime::Error;
use orders_aws::{ConfigError, InventoryTables, SnsPublisher};
use orders_domain::hot_sku::HotSkuPolicy;
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::consumer::serve("inventory", |env, clients| {
        let conflicts: u32 = env.parse_or("HOT_SKU_CONFLICTS", 8)?;
        let max: u64 = env.parse_or("AUTO_SHARD_MAX", 8)?;
        let max = ShardCount::new(max, "AUTO_SHARD_MAX").map_err(|e| ConfigError::Invalid {
            name: "AUTO_SHARD_MAX",
            value: max.to_string(),
            reason: e.message,
        })?;
        Ok(handler::Inventory {
            store: InventoryTables::new(
                clients.dynamodb.clone(),
                env.required("PRODUCTS_TABLE")?,
                env.required("RESERVATIONS_TABLE")?,
            )
            .with_hot_skus(HotSkuPolicy::new(conflicts, max)),
            publisher: SnsPublisher::new(
                clients.sns.clone(),
                env.required("INVENTORY_EVENTS_TOPIC_ARN")?,
            ),
            clock: SystemClock,
        })
    })
    .await
}
