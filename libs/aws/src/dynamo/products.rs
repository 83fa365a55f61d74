//! The Products table as the API uses it: read stock, create a product, set its stock under a
//! version precondition, adjust it by a delta (once per adjustment id). Every write bumps
//! `version`; reservations (in `inventory`) bump it too.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::inventory::reservation::ItemFailure;
use orders_domain::inventory::stock::Product;
use orders_domain::inventory::stock::{self as shards, ShardCount};
use orders_domain::ports::{Adjusted, ProductStore, StockWrite, StoreError};
use orders_domain::{AdjustmentId, Sku};

use super::inventory::cancellation_reasons;
use super::stock::{self, read_stock, transact, Guard, Level, ShardWrite, Stock};
use super::{backend, get_consistent, key1, n, retry_conflicts, s, ts, unbuilt, Item, Reader};

/// One relative stock change, as `adjust` receives it.
#[derive(Clone, Copy)]
struct Adjustment<'a> {
    sku: &'a Sku,
    delta: i64,
    id: &'a AdjustmentId,
    at: DateTime<Utc>,
}

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

fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let key = match item.get("sku") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let sku = Sku::parse(key).map_err(|e| r.corrupt(e.to_string()))?;
    let (active, _) = stock::counts(item, &sku)?;
    Ok(Product {
        sku,
        available: r.n("available")?,
        reserved: r.opt_n("reserved")?.unwrap_or(0),
        version: r.opt_n("version")?.unwrap_or(0),
        shards: active.get(),
        updated_at: r.time("updated_at")?,
    })
}

impl ProductsTable {
    /// The stock writes of an adjustment: a restock spread over the active shards, a
    /// write-off taken from the fullest; `None` if the shards hold less than a write-off takes.
    fn adjustment_writes<'a>(stock: &'a Stock, delta: i64) -> Option<Vec<ShardWrite<'a>>> {
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

    async fn adjust_once(&self, adjustment: &Adjustment<'_>) -> Result<Adjusted, StoreError> {
        let Adjustment { sku, delta, id, at } = *adjustment;
        let record_key = format!("adjustment#{id}");
        let Some(stock) = read_stock(&self.client, &self.table, sku).await? else {
            return Ok(Adjusted::NotFound);
        };
        let Some(writes) = Self::adjustment_writes(&stock, delta) else {
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
