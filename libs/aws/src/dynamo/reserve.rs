//! The reserve transaction over sharded stock. Each line first tries one shard of its SKU,
//! picked at random, so concurrent orders for a hot SKU spread over its shard items. A line
//! whose shard was short reads its SKU's stock in one snapshot: too little in all, and the
//! order is rejected; else the next transaction takes the units from the fullest shards, and
//! a best-effort rebalance then evens the shards out. With one shard this is the reserve
//! transaction it always was. The decisions are `orders_domain::{reservation, stock}`'s.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use orders_domain::hot_sku::Raise;
use orders_domain::inventory::reservation::{
    classify_reserve_cancellation, ItemFailure, Recorded, Reservation, ReservationStatus,
    ReserveVerdict,
};
use orders_domain::inventory::stock::{self as shards, ShardCount};
use orders_domain::ports::StoreError;
use orders_domain::{CustomerId, OrderId, OrderLine, Sku};

use super::inventory::{cancellation_reasons, InventoryTables};
use super::products::ProductsTable;
use super::stock::{read_stock, rebalance_writes, transact, Guard, Level, ShardWrite, Stock};
use super::{backend, jitter, n, s, unbuilt, Item, Reader};

/// How long a container trusts a SKU's shard count: a count raised since is used a little
/// late; a lowered one sends some reservations to emptied shards, which miss and re-plan.
const SHARD_COUNT_TTL: Duration = Duration::from_secs(30);
/// Plans tried per attempt: the first guess, then re-plans from snapshots as shards run dry.
const PLAN_ROUNDS: usize = 4;
/// DynamoDB's limit on items per transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// The SKUs a plan takes from more than one shard (what made it too large), in order.
fn spread_skus(takes: &[StockTake]) -> Vec<Sku> {
    let mut skus: Vec<Sku> = Vec::new();
    for t in takes {
        let spread = takes.iter().filter(|o| o.line == t.line).count() > 1;
        if spread && !skus.contains(&t.sku) {
            skus.push(t.sku.clone());
        }
    }
    if skus.is_empty() {
        skus.extend(takes.iter().take(1).map(|t| t.sku.clone()));
    }
    skus
}

/// Units of one line taken from one shard (kept on the reservation, so a release returns
/// them to the shard they came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StockTake {
    pub line: usize,
    pub sku: Sku,
    pub shard: u32,
    pub quantity: u64,
}

impl StockTake {
    fn take(&self) -> ShardWrite<'_> {
        ShardWrite {
            sku: &self.sku,
            shard: self.shard,
            level: Level::Add(-(self.quantity as i64)),
            reserved_delta: self.quantity as i64,
            guard: Guard::HasAtLeast(self.quantity),
            counts: None,
        }
    }

    pub fn give_back(&self) -> ShardWrite<'_> {
        ShardWrite {
            sku: &self.sku,
            shard: self.shard,
            level: Level::Add(self.quantity as i64),
            reserved_delta: -(self.quantity as i64),
            guard: Guard::Exists,
            counts: None,
        }
    }
}

/// The `takes` attribute; written only when some unit is off shard 0, so a one-shard
/// reservation is the item it always was.
fn takes_av(takes: &[StockTake]) -> Option<AttributeValue> {
    if takes.iter().all(|t| t.shard == 0) {
        return None;
    }
    Some(AttributeValue::L(
        takes
            .iter()
            .map(|t| {
                AttributeValue::M(
                    [
                        ("sku".to_string(), s(t.sku.as_str())),
                        ("shard".to_string(), n(t.shard)),
                        ("quantity".to_string(), n(t.quantity)),
                    ]
                    .into(),
                )
            })
            .collect(),
    ))
}

/// Where a recorded reservation's units came from: its `takes`, else every line on shard 0.
pub(super) fn takes_from_item(item: &Item, r: &Reservation) -> Result<Vec<StockTake>, StoreError> {
    let reader = Reader::new(item, r.order_id.as_str());
    let list = reader.opt_list("takes")?;
    if list.is_empty() {
        return Ok(first_guess(&r.lines, |_| 0));
    }
    list.iter()
        .map(|v| {
            let AttributeValue::M(m) = v else {
                return Err(reader.corrupt("takes: not a map"));
            };
            let t = Reader::new(m, r.order_id.as_str());
            Ok(StockTake {
                line: 0,
                sku: Sku::parse(t.s("sku")?).map_err(|e| t.corrupt(e.to_string()))?,
                shard: t.n("shard")?,
                quantity: t.n("quantity")?,
            })
        })
        .collect()
}

/// Every line from one shard: `shard(line index)`.
fn first_guess(lines: &[OrderLine], shard: impl Fn(usize) -> u32) -> Vec<StockTake> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| StockTake {
            line: i,
            sku: l.sku.clone(),
            shard: shard(i),
            quantity: u64::from(l.quantity),
        })
        .collect()
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
        let mut counts = Vec::with_capacity(lines.len());
        for line in lines {
            counts.push(self.active_shards(&line.sku).await?);
        }
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
            let mut item = self.reservation_item(&reserved);
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
            for i in missed {
                let line = &lines[i];
                let stock = read_stock(&self.client, &self.products, &line.sku).await?;
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
