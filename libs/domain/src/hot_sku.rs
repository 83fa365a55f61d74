//! Hot SKUs found by themselves. A SKU nobody sharded takes every reservation on one stock
//! item, and under a burst those transactions cancel each other (`TransactionConflict`).
//! Inventory counts the conflicts it meets per SKU; when one SKU meets
//! [`HotSkuPolicy::conflicts`] within [`HotSkuPolicy::window`], it raises that SKU's shard
//! count (doubled, up to [`HotSkuPolicy::max`]). The decision is pure and per container; the
//! adapter makes the raise idempotent across containers (it writes only if the count is still
//! the one the decision saw). Lowering a count is left to operators.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::inventory::stock::ShardCount;
use crate::Sku;

/// When a SKU counts as hot, and how far it may spread by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotSkuPolicy {
    /// Conflicts on one SKU, within `window`, that make it hot.
    pub conflicts: u32,
    pub window: Duration,
    /// After a raise, the SKU is left alone this long: the new shards need time to show.
    pub cooldown: Duration,
    /// The highest count a raise reaches; [`ShardCount::ONE`] turns raising off.
    pub max: ShardCount,
}

impl HotSkuPolicy {
    /// `conflicts` in 10 s, then 20 s of quiet, up to `max` shards (8 carry ~4,000
    /// transactional writes/s on DynamoDB; operators go higher with `PATCH /products/{sku}`).
    pub fn new(conflicts: u32, max: ShardCount) -> Self {
        HotSkuPolicy {
            conflicts: conflicts.max(1),
            window: Duration::from_secs(10),
            cooldown: Duration::from_secs(20),
            max,
        }
    }
}

/// The count a raise from `current` goes to: doubled, at most `max`; `None` at `max`.
pub fn raised(current: ShardCount, max: ShardCount) -> Option<ShardCount> {
    let to = current.get().saturating_mul(2).min(max.get());
    if to > current.get() {
        ShardCount::new(u64::from(to), "shards").ok()
    } else {
        None
    }
}

#[derive(Debug, Default)]
struct Heat {
    conflicts: VecDeque<Duration>,
    quiet_until: Duration,
}

/// Most SKUs tracked at once: a container that meets conflicts on many SKUs forgets the
/// coldest instead of growing.
const MAX_TRACKED: usize = 1024;

/// One container's view of which SKUs are hot. Times are monotonic offsets from any fixed
/// origin (the adapter passes its process clock).
#[derive(Debug)]
pub struct HotSkus {
    policy: HotSkuPolicy,
    heat: HashMap<Sku, Heat>,
}

/// A raise to make: `sku` from `from` (the count the decision saw) to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    pub sku: Sku,
    pub from: ShardCount,
    pub to: ShardCount,
    /// The conflicts that made it hot.
    pub conflicts: u32,
}

impl HotSkus {
    pub fn new(policy: HotSkuPolicy) -> Self {
        HotSkus {
            policy,
            heat: HashMap::new(),
        }
    }

    pub fn policy(&self) -> HotSkuPolicy {
        self.policy
    }

    /// Counts a conflict on `sku`, which has `current` shards as far as this container
    /// knows. Returns the raise to make when this conflict makes the SKU hot; the SKU then
    /// stays quiet for the cooldown, whether or not the raise succeeds.
    pub fn conflict(&mut self, sku: &Sku, current: ShardCount, now: Duration) -> Option<Raise> {
        let to = raised(current, self.policy.max)?;
        if self.heat.len() >= MAX_TRACKED && !self.heat.contains_key(sku) {
            self.forget_cold(now);
        }
        let heat = self.heat.entry(sku.clone()).or_default();
        if now < heat.quiet_until {
            return None;
        }
        let since = now.saturating_sub(self.policy.window);
        while heat.conflicts.front().is_some_and(|&t| t < since) {
            heat.conflicts.pop_front();
        }
        heat.conflicts.push_back(now);
        let seen = heat.conflicts.len() as u32;
        if seen < self.policy.conflicts {
            return None;
        }
        heat.conflicts.clear();
        heat.quiet_until = now + self.policy.cooldown;
        Some(Raise {
            sku: sku.clone(),
            from: current,
            to,
            conflicts: seen,
        })
    }

    /// Drops the SKUs with no conflict in the window and no cooldown running; if that frees
    /// nothing, the one whose last conflict is oldest.
    fn forget_cold(&mut self, now: Duration) {
        let since = now.saturating_sub(self.policy.window);
        self.heat
            .retain(|_, h| h.quiet_until > now || h.conflicts.back().is_some_and(|&t| t >= since));
        if self.heat.len() >= MAX_TRACKED {
            let coldest = self
                .heat
                .iter()
                .min_by_key(|(_, h)| h.conflicts.back().copied().unwrap_or_default())
                .map(|(k, _)| k.clone());
            if let Some(k) = coldest {
                self.heat.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.heat.len()
    }
}

#[cfg(test)]
#[path = "hot_sku_tests.rs"]
mod tests;
