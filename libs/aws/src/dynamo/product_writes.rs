//! What the Products table's writes are made of: a product read back from its item, a
//! relative adjustment and the shard writes it becomes, every shard set to a level.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use orders_domain::inventory::stock::{self as shards, Product, ShardCount};
use orders_domain::ports::StoreError;
use orders_domain::{AdjustmentId, Sku};

use super::shard_items::{counts, Guard, Level, ShardWrite, Stock};
use super::{Item, Reader};

/// One relative stock change, as `adjust` receives it.
#[derive(Clone, Copy)]
pub(super) struct Adjustment<'a> {
    pub sku: &'a Sku,
    pub delta: i64,
    pub id: &'a AdjustmentId,
    pub at: DateTime<Utc>,
}

pub(super) fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let key = match item.get("sku") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let sku = Sku::parse(key).map_err(|e| r.corrupt(e.to_string()))?;
    let (active, _) = counts(item, &sku)?;
    Ok(Product {
        sku,
        available: r.n("available")?,
        reserved: r.opt_n("reserved")?.unwrap_or(0),
        version: r.opt_n("version")?.unwrap_or(0),
        shards: active.get(),
        updated_at: r.time("updated_at")?,
    })
}

/// The stock writes of an adjustment: a restock spread over the active shards, a
/// write-off taken from the fullest; `None` if the shards hold less than a write-off takes.
pub(super) fn adjustment_writes<'a>(stock: &'a Stock, delta: i64) -> Option<Vec<ShardWrite<'a>>> {
    let write = |shard, units: u64, take: bool| ShardWrite {
        sku: &stock.sku,
        shard,
        level: Level::Add(if take { -(units as i64) } else { units as i64 }),
        reserved_delta: 0,
        guard: if take {
            Guard::HasAtLeast(units)
        } else {
            Guard::Exists
        },
        counts: None,
    };
    let units = delta.unsigned_abs();
    if delta > 0 {
        let spread = shards::spread(units, stock.active);
        return Some(
            spread
                .into_iter()
                .map(|(k, u)| write(k, u, false))
                .collect(),
        );
    }
    let plan = shards::plan_take(&stock.levels(), units)?;
    Some(plan.into_iter().map(|(k, u)| write(k, u, true)).collect())
}

/// Every slot of `sku` set to its level in `levels`, each under `guard(slot)`; the product item
/// records `active` and how many slots there are.
pub(super) fn set_levels<'a>(
    sku: &'a Sku,
    levels: &[u64],
    active: ShardCount,
    guard: impl Fn(usize) -> Guard,
) -> Vec<ShardWrite<'a>> {
    let slots = levels.len() as u32;
    levels
        .iter()
        .enumerate()
        .map(|(k, &level)| ShardWrite {
            sku,
            shard: k as u32,
            level: Level::Set(level),
            reserved_delta: 0,
            guard: guard(k),
            counts: (k == 0).then_some((active.get(), slots)),
        })
        .collect()
}
