//! The API's writes to a sharded product: create it over N shards, set its total under the
//! version the caller read, change its shard count while it sells. Each is one transaction
//! over every shard, conditioned on what was read, so the total never moves by accident;
//! a transaction that lost a race answers `Retry` and runs again on a fresh read.

use chrono::{DateTime, Utc};
use orders_domain::inventory::reservation::ItemFailure;
use orders_domain::inventory::stock::{self as shards, ShardCount};
use orders_domain::ports::{StockWrite, StoreError};
use orders_domain::Sku;

use super::inventory::cancellation_reasons;
use super::products::ProductsTable;
use super::stock::{counts, read_stock, transact, Guard, Level, ShardWrite, Stock};
use super::{backend, get_consistent, key1, retry_conflicts};

impl ProductsTable {
    /// One transaction of shard writes: `Ok(Err(reasons))` when DynamoDB cancelled it.
    pub(super) async fn transact(
        &self,
        writes: &[ShardWrite<'_>],
        at: DateTime<Utc>,
        op: &str,
    ) -> Result<Result<(), Vec<ItemFailure>>, StoreError> {
        match transact(&self.client, &self.table, None, writes, at).await? {
            Ok(_) => Ok(Ok(())),
            Err(e) => match cancellation_reasons(&e) {
                Some(reasons) => Ok(Err(reasons)),
                None => Err(backend(op, e)),
            },
        }
    }

    async fn written(&self, sku: &Sku) -> Result<StockWrite, StoreError> {
        Ok(match read_stock(&self.client, &self.table, sku).await? {
            Some(stock) => StockWrite::Written(stock.product()),
            None => StockWrite::NotFound,
        })
    }

    async fn refused(&self, sku: &Sku) -> Result<StockWrite, StoreError> {
        Ok(match read_stock(&self.client, &self.table, sku).await? {
            Some(stock) => StockWrite::Refused(stock.product()),
            None => StockWrite::NotFound,
        })
    }

    /// A new product over `count` shards, its units split evenly.
    pub(super) async fn create_sharded(
        &self,
        sku: &Sku,
        available: u64,
        count: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        let levels = shards::split_even(available, count.get());
        let writes = set_levels(sku, &levels, count, |_| Guard::New);
        retry_conflicts("create sharded product", || async {
            match self.transact(&writes, at, "create sharded product").await? {
                Ok(()) => self.written(sku).await,
                Err(r) if r.first() == Some(&ItemFailure::ConditionFailed) => {
                    self.refused(sku).await
                }
                Err(r) => Err(StoreError::Retry(format!("create cancelled: {r:?}"))),
            }
        })
        .await
    }

    /// `available` in all, if the product (all shards) is at `version`.
    pub(super) async fn set_sharded(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        let Some(stock) = read_stock(&self.client, &self.table, sku).await? else {
            return Ok(StockWrite::NotFound);
        };
        if stock.product().version != version {
            return Ok(StockWrite::Refused(stock.product()));
        }
        let mut levels = shards::split_even(available, stock.active.get());
        levels.resize(stock.shards.len(), 0);
        let writes: Vec<ShardWrite> = stock
            .shards
            .iter()
            .zip(levels)
            .enumerate()
            .map(|(k, (shard, level))| ShardWrite {
                sku,
                shard: k as u32,
                level: Level::Set(level),
                reserved_delta: 0,
                guard: Guard::VersionIs(shard.version),
                counts: None,
            })
            .collect();
        match self.transact(&writes, at, "set sharded stock").await? {
            Ok(()) => self.written(sku).await,
            // A shard moved after the read that matched the caller's version: it changed.
            Err(r) if r.contains(&ItemFailure::ConditionFailed) => self.refused(sku).await,
            Err(r) => Err(StoreError::Retry(format!("set cancelled: {r:?}"))),
        }
    }

    /// The product over `count` shards: missing shard items created, every unit spread over
    /// the active ones (retired shards emptied, kept for the releases that return there).
    pub(super) async fn reshard(
        &self,
        sku: &Sku,
        count: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        match read_stock(&self.client, &self.table, sku).await? {
            Some(stock) => self.reshard_stock(&stock, count, at).await,
            None => Ok(StockWrite::NotFound),
        }
    }

    async fn reshard_stock(
        &self,
        stock: &Stock,
        count: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        let levels = stock.levels();
        if stock.active == count && !shards::needs_rebalance(&levels, count) {
            return Ok(StockWrite::Written(stock.product()));
        }
        let target = shards::rebalanced(&levels, count);
        let writes = set_levels(&stock.sku, &target, count, |k| match stock.shards.get(k) {
            Some(shard) => Guard::VersionIs(shard.version),
            None => Guard::New,
        });
        match self.transact(&writes, at, "set shards").await? {
            Ok(()) => self.written(&stock.sku).await,
            Err(r) => Err(StoreError::Retry(format!("set shards cancelled: {r:?}"))),
        }
    }

    /// A hot SKU's raise: `sku` over `to` shards, only if it still has `from` (else another
    /// container or an operator changed it since the decision, and that count stands).
    /// Only the count moves: the product item's `shards` (conditioned on `from`, which
    /// reservations never change, so the hot item's churn cannot refuse it) and the new empty
    /// shard items; the units spread lazily, as reservations that pick an empty shard re-plan
    /// and rebalance. Returns the count in force and whether this call set it.
    pub(super) async fn raise_shards(
        &self,
        sku: &Sku,
        from: ShardCount,
        to: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<(ShardCount, bool), StoreError> {
        retry_conflicts("raise shards", || async {
            let key = key1("sku", sku.as_str());
            let Some(head) = get_consistent(&self.client, &self.table, key, "get product").await?
            else {
                return Ok((from, false));
            };
            let (active, slots) = counts(&head, sku)?;
            if active != from {
                return Ok((active, false));
            }
            let mut writes = vec![ShardWrite {
                sku,
                shard: 0,
                level: Level::Add(0),
                reserved_delta: 0,
                guard: Guard::ShardsAre(from.get()),
                counts: Some((to.get(), slots.max(to.get()))),
            }];
            // Retired shards (a count lowered before) are items already: they become active.
            writes.extend((slots..to.get()).map(|k| ShardWrite {
                sku,
                shard: k,
                level: Level::Set(0),
                reserved_delta: 0,
                guard: Guard::New,
                counts: None,
            }));
            match self.transact(&writes, at, "raise shards").await? {
                Ok(()) => Ok((to, true)),
                // The count moved after the read: re-read, and that count stands.
                Err(r) if r.first() == Some(&ItemFailure::ConditionFailed) => {
                    Err(StoreError::Retry(format!("{sku}: shard count changed")))
                }
                Err(r) => Err(StoreError::Retry(format!("raise shards cancelled: {r:?}"))),
            }
        })
        .await
    }
}

/// Every slot of `sku` set to its level in `levels`, each under `guard(slot)`; the product item
/// records `active` and how many slots there are.
fn set_levels<'a>(
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
