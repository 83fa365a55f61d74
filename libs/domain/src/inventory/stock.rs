//! Sharded stock: a SKU's units split over N shard items, so orders for a hot SKU write to N
//! items instead of one (a DynamoDB item takes ~500 transactional writes/s). The decisions
//! here are pure: how many shards, which shard a reservation tries first, how units are
//! taken from several shards when that one is short, how units are spread back (restock,
//! rebalance). The adapter owns the item layout and the transactions.
//!
//! Shards `0..active` take reservations and restocks; a SKU whose count was lowered keeps its
//! higher shards (`active..slots`) as items: reservations there are released back there, and
//! a rebalance moves their units into the active ones. The total is always the sum over all
//! slots. Design and its alternatives: docs/design.md, "Sharded stock".

use chrono::{DateTime, Utc};

use crate::ids::Sku;
use crate::validation::{ErrorCode, ValidationError};

/// Most shards a SKU may have: a rebalance or a count change writes every shard in one
/// transaction (100 items at most), and 32 shards carry ~16,000 transactional writes/s.
pub const MAX_SHARDS: u32 = 32;

/// A SKU's shard count, 1..=[`MAX_SHARDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardCount(u32);

impl ShardCount {
    pub const ONE: ShardCount = ShardCount(1);

    /// `field` names the input in the error (`shards`, `STOCK_SHARDS`).
    pub fn new(n: u64, field: &str) -> Result<Self, ValidationError> {
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_SHARDS).contains(&n) => Ok(ShardCount(n)),
            _ => Err(ValidationError::new(
                ErrorCode::InvalidValue,
                field,
                format!("{field} must be an integer from 1 to {MAX_SHARDS}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The shard a reservation tries first: uniform over the active shards, from a random
/// `r` in [0, 1).
pub fn pick(active: ShardCount, r: f64) -> u32 {
    ((r.clamp(0.0, 1.0) * f64::from(active.0)) as u32).min(active.0 - 1)
}

/// `total` split as evenly as possible over `n` shards, the remainder on the first ones.
pub fn split_even(total: u64, n: u32) -> Vec<u64> {
    let n = u64::from(n.max(1));
    (0..n)
        .map(|k| total / n + u64::from(k < total % n))
        .collect()
}

/// Units to take from each shard (`levels[k]` available on shard `k`, any slot) to make up
/// `quantity`: fullest shards first, so a take touches as few items as possible. `None` if
/// all shards together hold less. Pairs are `(shard, units)`, units > 0.
pub fn plan_take(levels: &[u64], quantity: u64) -> Option<Vec<(u32, u64)>> {
    if levels.iter().sum::<u64>() < quantity {
        return None;
    }
    let mut order: Vec<u32> = (0..levels.len() as u32).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(levels[k as usize]), k));
    let mut left = quantity;
    let mut plan = Vec::new();
    for k in order {
        if left == 0 {
            break;
        }
        let take = left.min(levels[k as usize]);
        if take > 0 {
            plan.push((k, take));
            left -= take;
        }
    }
    Some(plan)
}

/// The levels after a rebalance: every unit of every slot spread evenly over the active
/// shards, none left on the others. Same total.
pub fn rebalanced(levels: &[u64], active: ShardCount) -> Vec<u64> {
    let total: u64 = levels.iter().sum();
    let mut out = split_even(total, active.0);
    out.resize(levels.len().max(active.0 as usize), 0);
    out
}

/// Whether a rebalance is worth a transaction: an active shard is empty while others hold
/// stock, or units sit on a retired shard.
pub fn needs_rebalance(levels: &[u64], active: ShardCount) -> bool {
    let active = active.0 as usize;
    let total: u64 = levels.iter().sum();
    let empty_active = levels.iter().take(active).any(|&a| a == 0);
    let retired = levels.iter().skip(active).any(|&a| a > 0);
    retired || (empty_active && total >= active as u64)
}

/// A restock of `delta` units spread over the active shards: `(shard, units)`, units > 0.
pub fn spread(delta: u64, active: ShardCount) -> Vec<(u32, u64)> {
    split_even(delta, active.0)
        .into_iter()
        .enumerate()
        .filter(|&(_, u)| u > 0)
        .map(|(k, u)| (k as u32, u))
        .collect()
}

/// Stock of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    pub sku: Sku,
    pub available: u64,
    pub reserved: u64,
    /// Bumped by every write (API and reservations alike): what `If-Match` compares. With
    /// shards, the sum of the shards' versions (each write bumps one, so the sum moves too).
    pub version: u64,
    /// The shards reservations and restocks use (this module).
    pub shards: u32,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
#[path = "stock_tests.rs"]
mod tests;
