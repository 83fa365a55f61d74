//! What a reservation took: units of one line from one shard, kept on the reservation so a
//! release gives them back to the shard they came from.

use aws_sdk_dynamodb::types::AttributeValue;
use orders_domain::inventory::reservation::Reservation;
use orders_domain::ports::StoreError;
use orders_domain::{OrderLine, Sku};

use super::shard_items::{Guard, Level, ShardWrite};
use super::{n, s, Item, Reader};

/// The SKUs a plan takes from more than one shard (what made it too large), in order.
pub(super) fn spread_skus(takes: &[StockTake]) -> Vec<Sku> {
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
    pub(super) fn take(&self) -> ShardWrite<'_> {
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
pub(super) fn takes_av(takes: &[StockTake]) -> Option<AttributeValue> {
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
pub(super) fn first_guess(lines: &[OrderLine], shard: impl Fn(usize) -> u32) -> Vec<StockTake> {
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
