//! The `InventoryStore` on DynamoDB: Products and Reservations as the inventory consumer
//! changes them, one `TransactWriteItems` per decision; the cancellation reasons of a refused
//! transaction say whether the order was already handled (reservation exists) or which lines
//! were short.
//!
//! Reserving over sharded stock: each line first tries one shard of its SKU, picked at
//! random, so concurrent orders for a hot SKU spread over its shard items. A line whose shard
//! was short reads its SKU's stock in one snapshot: too little in all, and the order is
//! rejected; else the next transaction takes the units from the fullest shards, and a
//! best-effort rebalance then evens the shards out. With one shard this is the reserve
//! transaction it always was. The decisions are `orders_domain::inventory`'s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::hot_sku::{HotSkuPolicy, HotSkus, Raise};
use orders_domain::inventory::reservation::{
    classify_reserve_cancellation, ItemFailure, Recorded, Reservation, ReservationStatus,
    ReserveVerdict,
};
use orders_domain::inventory::stock::{self as shards, ShardCount};
use orders_domain::ports::{InventoryStore, StoreError};
use orders_domain::{CustomerId, OrderId, OrderLine, Sku};

use super::cancellation::cancellation_reasons;
use super::product_store::ProductsTable;
use super::reservation_item::{reservation_from_item, reservation_item};
use super::shard_items::{read_stock, rebalance_writes, transact, Stock};
use super::stock_take::{first_guess, spread_skus, takes_av, takes_from_item, StockTake};
use super::{
    applied, backend, dedup_expiry, get_consistent, jitter, key1, retry_conflicts, s, ts, unbuilt,
    Reader,
};

/// How long a container trusts a SKU's shard count: a count raised since is used a little
/// late; a lowered one sends some reservations to emptied shards, which miss and re-plan.
const SHARD_COUNT_TTL: Duration = Duration::from_secs(30);
/// Plans tried per attempt: the first guess, then re-plans from snapshots as shards run dry.
const PLAN_ROUNDS: usize = 4;
/// DynamoDB's limit on items per transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// Products and Reservations, changed together by the inventory consumer.
#[derive(Debug, Clone)]
pub struct InventoryTables {
    pub(super) client: Client,
    pub(super) products: String,
    pub(super) reservations: String,
    /// Each SKU's active shard count as this container last read it (`reserve`).
    pub(super) shard_counts: Arc<Mutex<HashMap<Sku, (ShardCount, Instant)>>>,
    /// The conflicts this container met per SKU, to spread hot ones (`reserve`).
    pub(super) hot: Arc<Mutex<HotSkus>>,
    /// The origin of the monotonic times `hot` is given.
    pub(super) started: Instant,
}

impl InventoryTables {
    pub fn new(
        client: Client,
        products: impl Into<String>,
        reservations: impl Into<String>,
    ) -> Self {
        InventoryTables {
            client,
            products: products.into(),
            reservations: reservations.into(),
            shard_counts: Arc::default(),
            hot: Arc::new(Mutex::new(HotSkus::new(HotSkuPolicy::new(
                8,
                ShardCount::ONE,
            )))),
            started: Instant::now(),
        }
    }

    /// Hot SKUs spread by themselves under `policy` (off unless given: `policy.max` > 1).
    pub fn with_hot_skus(mut self, policy: HotSkuPolicy) -> Self {
        self.hot = Arc::new(Mutex::new(HotSkus::new(policy)));
        self
    }

    /// The reservation and the shards its units came from.
    async fn get_reservation(
        &self,
        id: &OrderId,
    ) -> Result<Option<(Reservation, Vec<StockTake>)>, StoreError> {
        let key = key1("order_id", id.as_str());
        let Some(item) =
            get_consistent(&self.client, &self.reservations, key, "get reservation").await?
        else {
            return Ok(None);
        };
        let r = reservation_from_item(&item)?;
        let takes = takes_from_item(&item, &r)?;
        Ok(Some((r, takes)))
    }

    /// The recorded reservation, which must exist (a condition just said so).
    pub(super) async fn existing(&self, id: &OrderId) -> Result<Recorded, StoreError> {
        match self.get_reservation(id).await? {
            Some((r, _)) => Ok(Recorded {
                reservation: r,
                newly_written: false,
            }),
            None => Err(StoreError::Retry(format!(
                "reservation {id} vanished between condition and read"
            ))),
        }
    }

    /// Conditional put of a reservation that must not exist yet; `false` if it does.
    pub(super) async fn put_new(&self, r: &Reservation) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.reservations)
            .set_item(Some(reservation_item(r)))
            .condition_expression("attribute_not_exists(order_id)")
            .send()
            .await;
        applied(
            res,
            PutItemError::is_conditional_check_failed_exception,
            "put reservation",
        )
    }
}

impl InventoryTables {
    /// One pass of the release protocol.
    async fn release_once(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        // Each pass ends in a conditional write or returns what is recorded; losing a race
        // re-reads. Three passes cover every interleaving of reserve and release.
        for _ in 0..3 {
            let current = self.get_reservation(order_id).await?;
            let Some((current, takes)) = current else {
                let marker = Reservation::cancelled_before_reserve(order_id, customer_id, at);
                if self.put_new(&marker).await? {
                    return Ok(Recorded {
                        reservation: marker,
                        newly_written: true,
                    });
                }
                continue;
            };
            if current.status != ReservationStatus::Reserved {
                return Ok(Recorded {
                    reservation: current,
                    newly_written: false,
                });
            }
            let update = Update::builder()
                .table_name(&self.reservations)
                .key("order_id", s(order_id.as_str()))
                .update_expression("SET #s = :released, #u = :u, expires_at = :x")
                .expression_attribute_values(":x", dedup_expiry(at.timestamp()))
                .condition_expression("#s = :reserved")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#u", "updated_at")
                .expression_attribute_values(":released", s(ReservationStatus::Released.as_str()))
                .expression_attribute_values(":reserved", s(ReservationStatus::Reserved.as_str()))
                .expression_attribute_values(":u", s(ts(at)))
                .build()
                .map_err(|e| unbuilt("build reservation update", e))?;
            let update = TransactWriteItem::builder().update(update).build();
            let back: Vec<_> = takes.iter().map(StockTake::give_back).collect();
            match transact(&self.client, &self.products, Some(update), &back, at).await? {
                Ok(_) => {
                    return Ok(Recorded {
                        reservation: Reservation {
                            status: ReservationStatus::Released,
                            updated_at: at,
                            ..current
                        },
                        newly_written: true,
                    })
                }
                Err(e) => match cancellation_reasons(&e) {
                    // Someone else released it meanwhile: re-read and report that.
                    Some(reasons) if reasons.first() == Some(&ItemFailure::ConditionFailed) => {
                        continue
                    }
                    Some(reasons) => {
                        return Err(StoreError::Retry(format!(
                            "release transaction cancelled: {reasons:?}"
                        )))
                    }
                    None => return Err(backend("release transaction", e)),
                },
            }
        }
        Err(StoreError::Retry(format!(
            "reservation {order_id} kept changing"
        )))
    }
}

impl InventoryTables {
    /// `sku`'s active shard count, read (eventually consistent: a stale count only costs a
    /// miss) at most once per [`SHARD_COUNT_TTL`] per container.
    async fn active_shards(&self, sku: &Sku) -> Result<ShardCount, StoreError> {
        if let Ok(cache) = self.shard_counts.lock() {
            if let Some((count, at)) = cache.get(sku) {
                if at.elapsed() < SHARD_COUNT_TTL {
                    return Ok(*count);
                }
            }
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.products)
            .key("sku", s(sku.as_str()))
            .projection_expression("#n")
            .expression_attribute_names("#n", "shards")
            .send()
            .await
            .map_err(|e| backend("get shard count", e))?;
        let count = match out.item {
            Some(item) => Reader::new(&item, sku.as_str())
                .opt_n::<u64>("shards")?
                .map_or(Ok(ShardCount::ONE), |c| ShardCount::new(c, "shards"))
                .unwrap_or(ShardCount::ONE),
            None => ShardCount::ONE,
        };
        self.remember(sku, count);
        Ok(count)
    }

    fn remember(&self, sku: &Sku, count: ShardCount) {
        if let Ok(mut cache) = self.shard_counts.lock() {
            cache.insert(sku.clone(), (count, Instant::now()));
        }
    }

    /// One reserve attempt: plan, transact, and re-plan the lines that missed.
    pub(super) async fn reserve_once(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let counts = futures_util::future::try_join_all(
            lines.iter().map(|line| self.active_shards(&line.sku)),
        )
        .await?;
        let mut takes = first_guess(lines, |i| shards::pick(counts[i], jitter()));
        let mut snapshots: Vec<Stock> = Vec::new();
        let reserved = Reservation {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            status: ReservationStatus::Reserved,
            lines: lines.to_vec(),
            short_skus: Vec::new(),
            reason: None,
            updated_at: at,
        };
        for _ in 0..PLAN_ROUNDS {
            if takes.len() + 1 > MAX_TRANSACTION_ITEMS {
                // The stock is spread too thin for one transaction, and retrying would meet
                // the same limit: decided now, with the reason, not after five receives.
                let reason = format!(
                    "the order needs {} stock items at once; one reservation holds {}",
                    takes.len(),
                    MAX_TRANSACTION_ITEMS - 1
                );
                tracing::warn!(order_id = %order_id, items = takes.len(), "reservation too large for one transaction: rejected");
                return self
                    .reject(reserved, spread_skus(&takes), Some(reason))
                    .await;
            }
            let mut item = reservation_item(&reserved);
            if let Some(av) = takes_av(&takes) {
                item.insert("takes".to_string(), av);
            }
            let put = Put::builder()
                .table_name(&self.reservations)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(order_id)")
                .build()
                .map_err(|e| unbuilt("build reservation put", e))?;
            let put = TransactWriteItem::builder().put(put).build();
            let writes: Vec<_> = takes.iter().map(StockTake::take).collect();
            let err = match transact(&self.client, &self.products, Some(put), &writes, at).await? {
                Ok(_) => {
                    self.rebalance(&snapshots, &takes, at).await;
                    return Ok(Recorded {
                        reservation: reserved,
                        newly_written: true,
                    });
                }
                Err(e) => e,
            };
            let Some(reasons) = cancellation_reasons(&err) else {
                return Err(backend("reserve transaction", err));
            };
            let item_lines: Vec<usize> = takes.iter().map(|t| t.line).collect();
            let missed = match classify_reserve_cancellation(&reasons, &item_lines) {
                ReserveVerdict::Duplicate => return self.existing(order_id).await,
                ReserveVerdict::Retry => {
                    self.count_conflicts(&reasons, &takes, &counts, at).await;
                    return Err(StoreError::Retry(format!(
                        "reserve transaction cancelled without a decision: {reasons:?}"
                    )));
                }
                ReserveVerdict::Missed(missed) => missed,
            };
            let mut short_skus = Vec::new();
            metrics::counter!(crate::metrics::names::STOCK_SHARD_MISSES)
                .increment(missed.len() as u64);
            // Read at once, not one after another: an order of many lines under load spent
            // its whole invocation on these reads, was deferred, and did it all again.
            let reads = missed.into_iter().map(|i| async move {
                let stock = read_stock(&self.client, &self.products, &lines[i].sku).await?;
                Ok::<_, StoreError>((i, stock))
            });
            for (i, stock) in futures_util::future::try_join_all(reads).await? {
                let line = &lines[i];
                let plan = stock
                    .as_ref()
                    .and_then(|st| shards::plan_take(&st.levels(), u64::from(line.quantity)));
                match (stock, plan) {
                    (Some(stock), Some(plan)) => {
                        self.remember(&line.sku, stock.active);
                        takes.retain(|t| t.line != i);
                        takes.extend(plan.into_iter().map(|(shard, quantity)| StockTake {
                            line: i,
                            sku: line.sku.clone(),
                            shard,
                            quantity,
                        }));
                        snapshots.retain(|st| st.sku != line.sku);
                        snapshots.push(stock);
                    }
                    _ => short_skus.push(line.sku.clone()),
                }
            }
            if !short_skus.is_empty() {
                return self.reject(reserved, short_skus, None).await;
            }
        }
        Err(StoreError::Retry(format!(
            "stock for {order_id} kept moving between reads and writes"
        )))
    }

    /// Counts a cancelled reserve's conflicts per SKU (items `1..` are the takes); a SKU this
    /// makes hot gets more shards now, in the record's lane, before the attempt is retried.
    async fn count_conflicts(
        &self,
        reasons: &[ItemFailure],
        takes: &[StockTake],
        counts: &[ShardCount],
        at: DateTime<Utc>,
    ) {
        let mut skus: Vec<(&Sku, ShardCount)> = reasons
            .iter()
            .skip(1)
            .zip(takes)
            .filter(|(r, _)| **r == ItemFailure::Other)
            .map(|(_, t)| {
                (
                    &t.sku,
                    counts.get(t.line).copied().unwrap_or(ShardCount::ONE),
                )
            })
            .collect();
        skus.sort();
        skus.dedup_by_key(|(sku, _)| *sku);
        let now = self.started.elapsed();
        let raises: Vec<Raise> = match self.hot.lock() {
            Ok(mut hot) => skus
                .into_iter()
                .filter_map(|(sku, count)| hot.conflict(sku, count, now))
                .collect(),
            Err(_) => return,
        };
        for raise in raises {
            self.raise(raise, at).await;
        }
    }

    async fn raise(&self, r: Raise, at: DateTime<Utc>) {
        let products = ProductsTable::new(self.client.clone(), self.products.clone());
        match products.raise_shards(&r.sku, r.from, r.to, at).await {
            Ok((count, raised)) => {
                self.remember(&r.sku, count);
                if raised {
                    metrics::counter!(crate::metrics::names::STOCK_SHARDS_RAISED).increment(1);
                    tracing::warn!(sku = %r.sku, from = r.from.get(), to = count.get(), conflicts = r.conflicts, "hot SKU: stock shards raised");
                } else {
                    tracing::info!(sku = %r.sku, shards = count.get(), "hot SKU: its shard count had changed already");
                }
            }
            Err(e) => {
                tracing::warn!(sku = %r.sku, error = %e, "hot SKU: raising its shards failed; tried again after the cooldown")
            }
        }
    }

    async fn reject(
        &self,
        reserved: Reservation,
        short_skus: Vec<Sku>,
        reason: Option<String>,
    ) -> Result<Recorded, StoreError> {
        let rejected = Reservation {
            status: ReservationStatus::Rejected,
            short_skus,
            reason,
            ..reserved
        };
        if self.put_new(&rejected).await? {
            Ok(Recorded {
                reservation: rejected,
                newly_written: true,
            })
        } else {
            // A concurrent delivery recorded its outcome first; that one stands.
            self.existing(&rejected.order_id).await
        }
    }

    /// Evens out the shards a miss found uneven, each move conditioned on the level it saw
    /// after this reservation's take. Best effort: a move that lost a race is dropped (the
    /// next miss tries again); the total never changes.
    async fn rebalance(&self, snapshots: &[Stock], takes: &[StockTake], at: DateTime<Utc>) {
        for stock in snapshots {
            let mut after = stock.levels();
            for t in takes.iter().filter(|t| t.sku == stock.sku) {
                if let Some(level) = after.get_mut(t.shard as usize) {
                    *level = level.saturating_sub(t.quantity);
                }
            }
            if !shards::needs_rebalance(&after, stock.active) {
                continue;
            }
            let writes = rebalance_writes(stock, &after);
            let res = match transact(&self.client, &self.products, None, &writes, at).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(backend("rebalance", e)),
                Err(e) => Err(e),
            };
            match res {
                Ok(_) => {
                    metrics::counter!(crate::metrics::names::STOCK_REBALANCES).increment(1);
                    tracing::info!(sku = %stock.sku, shards = stock.active.get(), "shards rebalanced");
                }
                Err(e) => tracing::info!(sku = %stock.sku, error = %e, "rebalance skipped"),
            }
        }
    }
}

impl InventoryStore for InventoryTables {
    // A transaction cancelled by a conflict wrote nothing: run it again, a few times, before
    // the record fails and SQS redelivers it (see `retry_conflicts`).
    async fn reserve(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        retry_conflicts("reserve", || {
            self.reserve_once(order_id, customer_id, lines, at)
        })
        .await
    }

    async fn release(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        retry_conflicts("release", || self.release_once(order_id, customer_id, at)).await
    }
}
