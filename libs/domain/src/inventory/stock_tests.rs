//! Stock spread over shards: counts, splits, picks.

use super::*;

fn shards(n: u64) -> ShardCount {
    ShardCount::new(n, "shards").unwrap()
}

#[test]
fn shard_counts_are_bounded() {
    assert!(ShardCount::new(0, "shards").is_err());
    assert!(ShardCount::new(u64::from(MAX_SHARDS) + 1, "shards").is_err());
    let e = ShardCount::new(99, "STOCK_SHARDS").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("STOCK_SHARDS"));
    assert_eq!(shards(8).get(), 8);
}

#[test]
fn picks_cover_every_active_shard_and_no_other() {
    let n = shards(8);
    let picked: std::collections::BTreeSet<u32> =
        (0..800).map(|i| pick(n, f64::from(i) / 800.0)).collect();
    assert_eq!(picked, (0..8).collect());
    assert_eq!(pick(n, 1.0), 7, "r = 1.0 is clamped to the last shard");
    assert_eq!(pick(ShardCount::ONE, 0.99), 0);
}

#[test]
fn even_split_keeps_the_total() {
    assert_eq!(split_even(10, 4), vec![3, 3, 2, 2]);
    assert_eq!(split_even(3, 8), vec![1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(split_even(7, 1), vec![7]);
    for (t, n) in [(0, 3), (1, 32), (1_000_000_007, 16)] {
        assert_eq!(split_even(t, n).iter().sum::<u64>(), t);
    }
}

#[test]
fn a_take_uses_the_fullest_shards_and_never_more_than_there_is() {
    assert_eq!(plan_take(&[2, 5, 1], 4), Some(vec![(1, 4)]));
    assert_eq!(plan_take(&[2, 5, 1], 7), Some(vec![(1, 5), (0, 2)]));
    assert_eq!(plan_take(&[2, 5, 1], 8), Some(vec![(1, 5), (0, 2), (2, 1)]));
    assert_eq!(plan_take(&[2, 5, 1], 9), None);
    assert_eq!(plan_take(&[0, 0], 1), None);
    assert_eq!(plan_take(&[0, 3], 3), Some(vec![(1, 3)]));
}

#[test]
fn a_rebalance_moves_retired_units_into_the_active_shards() {
    assert_eq!(rebalanced(&[0, 6, 0, 2], shards(4)), vec![2, 2, 2, 2]);
    assert_eq!(rebalanced(&[1, 0, 5, 3], shards(2)), vec![5, 4, 0, 0]);
    // A count raised past the slots that exist grows the levels.
    assert_eq!(rebalanced(&[9], shards(3)), vec![3, 3, 3]);
}

#[test]
fn rebalance_only_when_it_helps() {
    let four = shards(4);
    assert!(needs_rebalance(&[0, 3, 3, 3], four));
    assert!(!needs_rebalance(&[1, 3, 3, 3], four));
    // Fewer units than shards: some shard is empty whatever is done.
    assert!(!needs_rebalance(&[0, 1, 1, 0], four));
    assert!(
        needs_rebalance(&[1, 1, 1, 1, 2], four),
        "units on a retired shard"
    );
}

#[test]
fn a_restock_is_spread_over_the_active_shards() {
    assert_eq!(spread(5, shards(2)), vec![(0, 3), (1, 2)]);
    assert_eq!(spread(1, shards(4)), vec![(0, 1)]);
    assert_eq!(spread(4, ShardCount::ONE), vec![(0, 4)]);
}
