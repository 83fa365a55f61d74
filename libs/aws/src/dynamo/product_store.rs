//! The `ProductStore` on DynamoDB, the Products table as the API uses it: read stock, create
//! a product, set its stock under a version precondition, adjust it by a delta (once per
//! adjustment id), change its shard count while it sells. Every write bumps `version`;
//! reservations (`inventory_store`) bump it too. A write to a sharded product is one
//! transaction over every shard, conditioned on what was read, so the total never moves by
//! accident; a transaction that lost a race answers `Retry` and runs again on a fresh read.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::inventory::reservation::ItemFailure;
use orders_domain::inventory::stock::{self as shards, Product, ShardCount};
use orders_domain::ports::{Adjusted, ProductStore, StockWrite, StoreError};
use orders_domain::{AdjustmentId, Sku};

use super::cancellation::cancellation_reasons;
use super::product_writes::{adjustment_writes, product_from_item, set_levels, Adjustment};
use super::shard_items::{counts, read_stock, transact, Guard, Level, ShardWrite, Stock};
use super::{backend, get_consistent, key1, n, retry_conflicts, s, ts, unbuilt};

/// How long an adjustment id is remembered (the table's TTL attribute `expires_at` removes
/// the record after that): a client retry later than this adds again.
const ADJUSTMENT_MEMORY_SECS: i64 = 7 * 24 * 3600;

/// The Products table as the API uses it (set and read stock).
#[derive(Debug, Clone)]
pub struct ProductsTable {
    pub(super) client: Client,
    pub(super) table: String,
}

impl ProductsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ProductsTable {
            client,
            table: table.into(),
        }
    }
}

impl ProductsTable {
    async fn adjust_once(&self, adjustment: &Adjustment<'_>) -> Result<Adjusted, StoreError> {
        let Adjustment { sku, delta, id, at } = *adjustment;
        let record_key = format!("adjustment#{id}");
        let Some(stock) = read_stock(&self.client, &self.table, sku).await? else {
            return Ok(Adjusted::NotFound);
        };
        let Some(writes) = adjustment_writes(&stock, delta) else {
            // Too few units for this write-off, unless it was applied before (a retry).
            return Ok(
                match self.recorded_adjustment(&record_key, sku, delta).await? {
                    Some(true) => Adjusted::AlreadyApplied(stock.product()),
                    Some(false) => Adjusted::IdReused,
                    None => Adjusted::Refused(stock.product()),
                },
            );
        };
        let record = Update::builder()
            .table_name(&self.table)
            .key("sku", s(&record_key))
            .update_expression("SET for_sku = :sku, delta = :d, adjusted_at = :u, expires_at = :x")
            .condition_expression("attribute_not_exists(sku)")
            .expression_attribute_values(":sku", s(sku.as_str()))
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":u", s(ts(at)))
            .expression_attribute_values(":x", n(at.timestamp() + ADJUSTMENT_MEMORY_SECS))
            .build()
            .map_err(|e| unbuilt("build adjustment record", e))?;
        let record = TransactWriteItem::builder().update(record).build();
        let err = match transact(&self.client, &self.table, Some(record), &writes, at).await? {
            Ok(_) => {
                return match self.get(sku).await? {
                    Some(p) => Ok(Adjusted::Applied(p)),
                    None => Err(StoreError::Backend(
                        "adjust stock: the product is gone after its adjustment".into(),
                    )),
                }
            }
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&err) else {
            return Err(backend("adjust stock", err));
        };
        match reasons.as_slice() {
            [ItemFailure::ConditionFailed, ..] => Ok(
                match self.recorded_adjustment(&record_key, sku, delta).await? {
                    Some(true) => match self.get(sku).await? {
                        Some(p) => Adjusted::AlreadyApplied(p),
                        None => Adjusted::NotFound,
                    },
                    _ => Adjusted::IdReused,
                },
            ),
            // One shard: its condition is the whole stock's. With more, the units moved
            // between the read and the write: read again.
            [_, ItemFailure::ConditionFailed] if stock.shards.len() == 1 => {
                Ok(match self.get(sku).await? {
                    Some(p) => Adjusted::Refused(p),
                    None => Adjusted::NotFound,
                })
            }
            _ => Err(StoreError::Retry(format!(
                "adjustment transaction cancelled: {reasons:?}"
            ))),
        }
    }

    /// `Some(same)` if the adjustment id is recorded (`same`: for this SKU and delta).
    async fn recorded_adjustment(
        &self,
        record_key: &str,
        sku: &Sku,
        delta: i64,
    ) -> Result<Option<bool>, StoreError> {
        let record = get_consistent(
            &self.client,
            &self.table,
            key1("sku", record_key),
            "get adjustment",
        )
        .await?;
        Ok(record.map(|r| {
            r.get("for_sku") == Some(&s(sku.as_str())) && r.get("delta") == Some(&n(delta))
        }))
    }

    /// One conditional update of a product (`ALL_NEW` on success); when its condition fails,
    /// the product as it is now decides between `Refused` and `NotFound`.
    async fn conditional_update(
        &self,
        sku: &Sku,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        op: &str,
    ) -> Result<StockWrite, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("sku", s(sku.as_str()))
            .update_expression(update)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        for (name, attr) in [
            ("#a", "available"),
            ("#r", "reserved"),
            ("#v", "version"),
            ("#u", "updated_at"),
        ] {
            if update.contains(name) || condition.contains(name) {
                req = req.expression_attribute_names(name, attr);
            }
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        let res = req.send().await;
        let written = match res {
            Ok(out) => out.attributes,
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                None
            }
            Err(e) => return Err(backend(op, e)),
        };
        match written {
            Some(item) => Ok(StockWrite::Written(product_from_item(&item)?)),
            None => Ok(match self.get(sku).await? {
                Some(current) => StockWrite::Refused(current),
                None => StockWrite::NotFound,
            }),
        }
    }
}

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

impl ProductStore for ProductsTable {
    async fn create(
        &self,
        sku: &Sku,
        available: u64,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        if shards != ShardCount::ONE {
            return self.create_sharded(sku, available, shards, at).await;
        }
        self.conditional_update(
            sku,
            "SET #a = :a, #r = :zero, #v = :one, #u = :u",
            "attribute_not_exists(sku)",
            vec![
                (":a", n(available)),
                (":zero", n(0)),
                (":one", n(1)),
                (":u", s(ts(at))),
            ],
            "create product",
        )
        .await
    }

    async fn set_if_version(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        match read_stock(&self.client, &self.table, sku).await? {
            None => return Ok(StockWrite::NotFound),
            Some(stock) if stock.shards.len() > 1 => {
                let set = retry_conflicts("set sharded stock", || {
                    self.set_sharded(sku, available, version, at)
                });
                return set.await;
            }
            Some(_) => {}
        }
        // Items written before versions existed read as version 0.
        let condition = if version == 0 {
            "attribute_exists(sku) AND attribute_not_exists(#v)"
        } else {
            "#v = :expected"
        };
        let mut values = vec![(":a", n(available)), (":one", n(1)), (":u", s(ts(at)))];
        if version != 0 {
            values.push((":expected", n(version)));
        }
        self.conditional_update(
            sku,
            "SET #a = :a, #u = :u ADD #v :one",
            condition,
            values,
            "set stock",
        )
        .await
    }

    // One transaction writes the adjustment's record (only if its id is new) and the stock:
    // a retry after a lost answer, or a client's retry with the same key, finds the record
    // and adds nothing. A conflict with a reservation is retried like the inventory's.
    async fn adjust(
        &self,
        sku: &Sku,
        delta: i64,
        id: &AdjustmentId,
        at: DateTime<Utc>,
    ) -> Result<Adjusted, StoreError> {
        let adjustment = Adjustment { sku, delta, id, at };
        retry_conflicts("adjust stock", || self.adjust_once(&adjustment)).await
    }

    async fn set_shards(
        &self,
        sku: &Sku,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        retry_conflicts("set shards", || self.reshard(sku, shards, at)).await
    }

    // A snapshot of several shards is cancelled by a reservation in progress on any of them
    // (on AWS as here): retried like a write conflict, else the API answers 503.
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        let stock = retry_conflicts("read stock", || read_stock(&self.client, &self.table, sku));
        Ok(stock.await?.map(|stock| stock.product()))
    }
}
