//! Sharded stock in the Products table. Shard 0 is the product's own item (key `sku`), so a
//! one-shard SKU is exactly the item it always was; shard k > 0 is the item
//! `<sku>#shard#<k>` (a SKU cannot contain `#`). The product item also holds `shards` (the
//! active count) and `shard_slots` (how many shard items exist; absent means 1). Each shard
//! has its own `available`, `reserved` and `version`; the product is their sum. The
//! decisions (which shard, how to split, rebalance levels) are `orders_domain::inventory::stock`'s.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Get, TransactGetItem, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::inventory::stock::Product;
use orders_domain::inventory::stock::{self, ShardCount};
use orders_domain::ports::StoreError;
use orders_domain::Sku;

use super::{backend, get_consistent, key1, n, s, ts, unbuilt, Item, Reader};

/// The key of shard `shard` of `sku`.
pub(crate) fn shard_key(sku: &Sku, shard: u32) -> String {
    if shard == 0 {
        sku.as_str().to_string()
    } else {
        format!("{sku}#shard#{shard}")
    }
}

/// One shard as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shard {
    pub available: u64,
    pub reserved: u64,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// A SKU's stock: every shard item, read at one point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stock {
    pub sku: Sku,
    pub active: ShardCount,
    /// `shards[k]` is shard k, for every slot.
    pub shards: Vec<Shard>,
}

impl Stock {
    pub fn levels(&self) -> Vec<u64> {
        self.shards.iter().map(|sh| sh.available).collect()
    }

    /// The product the API shows: totals over every slot.
    pub fn product(&self) -> Product {
        Product {
            sku: self.sku.clone(),
            available: self.shards.iter().map(|sh| sh.available).sum(),
            reserved: self.shards.iter().map(|sh| sh.reserved).sum(),
            version: self.shards.iter().map(|sh| sh.version).sum(),
            shards: self.active.get(),
            updated_at: self
                .shards
                .iter()
                .map(|sh| sh.updated_at)
                .max()
                .unwrap_or_default(),
        }
    }
}

/// `(active, slots)` from the product item.
pub(crate) fn counts(item: &Item, sku: &Sku) -> Result<(ShardCount, u32), StoreError> {
    let r = Reader::new(item, sku.as_str());
    let active: u64 = r.opt_n("shards")?.unwrap_or(1);
    let active = ShardCount::new(active, "shards").map_err(|e| r.corrupt(e.message))?;
    let slots: u32 = r.opt_n("shard_slots")?.unwrap_or(1);
    Ok((active, slots.max(active.get())))
}

fn shard_from_item(item: &Item, key: &str) -> Result<Shard, StoreError> {
    let r = Reader::new(item, key);
    Ok(Shard {
        available: r.n("available")?,
        reserved: r.opt_n("reserved")?.unwrap_or(0),
        // Items written before versions existed read as version 0.
        version: r.opt_n("version")?.unwrap_or(0),
        updated_at: r.time("updated_at")?,
    })
}

/// The SKU's stock from one consistent read: the product item alone when it has one shard,
/// else every shard item in one `TransactGetItems` (a snapshot: no reservation half-seen).
pub(crate) async fn read_stock(
    client: &Client,
    table: &str,
    sku: &Sku,
) -> Result<Option<Stock>, StoreError> {
    let Some(head) =
        get_consistent(client, table, key1("sku", sku.as_str()), "get product").await?
    else {
        return Ok(None);
    };
    let (active, slots) = counts(&head, sku)?;
    if slots == 1 {
        let shard = shard_from_item(&head, sku.as_str())?;
        return Ok(Some(Stock {
            sku: sku.clone(),
            active,
            shards: vec![shard],
        }));
    }
    let gets = (0..slots).map(|k| {
        Get::builder()
            .table_name(table)
            .key("sku", s(shard_key(sku, k)))
            .build()
            .map(|g| TransactGetItem::builder().get(g).build())
            .map_err(|e| unbuilt("build shard get", e))
    });
    let out = client
        .transact_get_items()
        .set_transact_items(Some(gets.collect::<Result<_, _>>()?))
        .send()
        .await
        .map_err(read_error)?;
    let items: Vec<Item> = out
        .responses()
        .iter()
        .map(|r| r.item().cloned().unwrap_or_default())
        .collect();
    let Some(head) = items.first().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let (active, now_slots) = counts(head, sku)?;
    if now_slots != slots {
        return Err(StoreError::Retry(format!(
            "{sku}: shard count changed while it was read"
        )));
    }
    let shards = items
        .iter()
        .enumerate()
        .map(|(k, item)| shard_from_item(item, &shard_key(sku, k as u32)))
        .collect::<Result<_, _>>()?;
    Ok(Some(Stock {
        sku: sku.clone(),
        active,
        shards,
    }))
}

/// A snapshot read cancelled by a write in progress is retried like a write conflict.
fn read_error(e: SdkError<TransactGetItemsError>) -> StoreError {
    match e.as_service_error() {
        Some(TransactGetItemsError::TransactionCanceledException(_)) => {
            StoreError::Retry(format!("shard read cancelled: {e}"))
        }
        _ => backend("read shards", e),
    }
}

/// What a shard write does to `available`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level {
    Add(i64),
    Set(u64),
}

/// The condition a shard write holds under.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    /// The shard exists.
    Exists,
    /// At least this many units available (a take).
    HasAtLeast(u64),
    /// `available` is what was read (a rebalance keeps the total only if nothing moved).
    AvailableIs(u64),
    /// Unchanged since it was read.
    VersionIs(u64),
    /// The product item's active shard count is this (absent counts as 1).
    ShardsAre(u32),
    /// A shard item that must not exist yet.
    New,
}

/// One write to one shard, as a transaction item. Every write bumps the shard's version.
pub(crate) struct ShardWrite<'a> {
    pub sku: &'a Sku,
    pub shard: u32,
    pub level: Level,
    pub reserved_delta: i64,
    pub guard: Guard,
    /// For the product item: the new `(active, slots)`.
    pub counts: Option<(u32, u32)>,
}

impl ShardWrite<'_> {
    pub fn item(&self, table: &str, at: DateTime<Utc>) -> Result<TransactWriteItem, StoreError> {
        let mut set = vec!["#u = :u"];
        let mut add = vec![];
        let mut b = Update::builder()
            .table_name(table)
            .key("sku", s(shard_key(self.sku, self.shard)))
            .expression_attribute_names("#a", "available")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":u", s(ts(at)));
        match self.level {
            Level::Add(d) => {
                add.push("#a :da");
                b = b.expression_attribute_values(":da", n(d));
            }
            Level::Set(a) => {
                set.push("#a = :a");
                b = b.expression_attribute_values(":a", n(a));
            }
        }
        if matches!(self.guard, Guard::New) {
            set.extend(["#r = :zero", "#v = :one"]);
            b = b.expression_attribute_values(":zero", n(0));
            if self.shard > 0 {
                set.extend(["#f = :sku", "#k = :k"]);
                b = b
                    .expression_attribute_names("#f", "for_sku")
                    .expression_attribute_names("#k", "shard")
                    .expression_attribute_values(":sku", s(self.sku.as_str()))
                    .expression_attribute_values(":k", n(self.shard));
            }
        } else {
            add.push("#v :one");
            if self.reserved_delta != 0 {
                add.push("#r :dr");
                b = b.expression_attribute_values(":dr", n(self.reserved_delta));
            }
        }
        if self.reserved_delta != 0 || matches!(self.guard, Guard::New) {
            b = b.expression_attribute_names("#r", "reserved");
        }
        if let Some((active, slots)) = self.counts {
            // SHARD is a DynamoDB reserved word: every shard attribute goes by a name.
            set.extend(["#n = :active", "#m = :slots"]);
            b = b
                .expression_attribute_names("#n", "shards")
                .expression_attribute_names("#m", "shard_slots")
                .expression_attribute_values(":active", n(active))
                .expression_attribute_values(":slots", n(slots));
        }
        let condition = match self.guard {
            Guard::Exists => "attribute_exists(sku)",
            Guard::HasAtLeast(q) => {
                b = b.expression_attribute_values(":q", n(q));
                "#a >= :q"
            }
            Guard::AvailableIs(a) => {
                b = b.expression_attribute_values(":seen", n(a));
                "#a = :seen"
            }
            Guard::ShardsAre(1) => {
                b = b
                    .expression_attribute_names("#n", "shards")
                    .expression_attribute_values(":was", n(1));
                "attribute_exists(sku) AND (attribute_not_exists(#n) OR #n = :was)"
            }
            Guard::ShardsAre(was) => {
                b = b
                    .expression_attribute_names("#n", "shards")
                    .expression_attribute_values(":was", n(was));
                "#n = :was"
            }
            Guard::VersionIs(0) => "attribute_exists(sku) AND attribute_not_exists(#v)",
            Guard::VersionIs(v) => {
                b = b.expression_attribute_values(":seen", n(v));
                "#v = :seen"
            }
            Guard::New => "attribute_not_exists(sku)",
        };
        let mut expr = format!("SET {}", set.join(", "));
        if !add.is_empty() {
            expr = format!("{expr} ADD {}", add.join(", "));
        }
        b = b.expression_attribute_values(":one", n(1));
        let update = b
            .update_expression(expr)
            .condition_expression(condition)
            .build()
            .map_err(|e| unbuilt("build shard write", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// One transaction: `first` (the record the stock moves with, if any), then every shard write.
pub(crate) async fn transact(
    client: &Client,
    table: &str,
    first: Option<TransactWriteItem>,
    writes: &[ShardWrite<'_>],
    at: DateTime<Utc>,
) -> Result<Result<(), SdkError<TransactWriteItemsError>>, StoreError> {
    let mut items: Vec<TransactWriteItem> = first.into_iter().collect();
    for w in writes {
        items.push(w.item(table, at)?);
    }
    let res = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    Ok(res.map(|_| ()))
}

/// The writes that move `stock` to `levels` (same total), each under the level it was read
/// at, for the shards whose level changes. Empty when nothing moves.
pub(crate) fn rebalance_writes<'a>(stock: &'a Stock, after: &[u64]) -> Vec<ShardWrite<'a>> {
    let target = stock::rebalanced(after, stock.active);
    after
        .iter()
        .zip(&target)
        .enumerate()
        .filter(|(_, (seen, want))| seen != want)
        .map(|(k, (&seen, &want))| ShardWrite {
            sku: &stock.sku,
            shard: k as u32,
            level: Level::Set(want),
            reserved_delta: 0,
            guard: Guard::AvailableIs(seen),
            counts: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_keep_shard_zero_as_the_product_item() {
        let sku = Sku::parse("HOT-1").unwrap();
        assert_eq!(shard_key(&sku, 0), "HOT-1");
        assert_eq!(shard_key(&sku, 7), "HOT-1#shard#7");
    }

    fn shard(available: u64, version: u64) -> Shard {
        Shard {
            available,
            reserved: 1,
            version,
            updated_at: DateTime::default(),
        }
    }

    #[test]
    fn the_product_is_the_sum_of_its_shards() {
        let stock = Stock {
            sku: Sku::parse("HOT-1").unwrap(),
            active: ShardCount::new(2, "shards").unwrap(),
            shards: vec![shard(3, 4), shard(5, 2), shard(1, 1)],
        };
        let p = stock.product();
        assert_eq!((p.available, p.reserved, p.version, p.shards), (9, 3, 7, 2));
        // Everything spread over the two active shards; the retired third one is emptied.
        let moves = rebalance_writes(&stock, &stock.levels());
        let moved: Vec<(u32, u64)> = moves
            .iter()
            .map(|w| match w.level {
                Level::Set(a) => (w.shard, a),
                Level::Add(_) => unreachable!(),
            })
            .collect();
        assert_eq!(moved, vec![(0, 5), (1, 4), (2, 0)]);
    }
}
