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
    assert!(
        !needs_rebalance(&[1, 1, 1, 1, 0, 0], four),
        "retired shards already empty"
    );
}

#[test]
fn a_restock_is_spread_over_the_active_shards() {
    assert_eq!(spread(5, shards(2)), vec![(0, 3), (1, 2)]);
    assert_eq!(spread(1, shards(4)), vec![(0, 1)]);
    assert_eq!(spread(4, ShardCount::ONE), vec![(0, 4)]);
}

mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::super::*;

    fn levels() -> impl Strategy<Value = Vec<u64>> {
        vec(0..50u64, 1..(MAX_SHARDS as usize))
    }

    /// One SKU's shards as the adapter changes them, driven by this module's decisions: a
    /// reservation tries its picked shard, else takes by `plan_take` from a snapshot; a
    /// release gives each unit back to its shard; a restock is `spread`; a count change is
    /// `rebalanced`.
    #[derive(Debug, Clone)]
    enum Op {
        Reserve(u64, f64),
        Release(usize),
        Restock(u64),
        Reshard(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1..12u64, 0.0..1.0f64).prop_map(|(q, r)| Op::Reserve(q, r)),
            (0..64usize).prop_map(Op::Release),
            (1..40u64).prop_map(Op::Restock),
            (1..=MAX_SHARDS).prop_map(Op::Reshard),
        ]
    }

    proptest! {
        #[test]
        fn an_even_split_keeps_the_total_and_differs_by_one_at_most(
            total in 0..10_000u64,
            n in 1..=MAX_SHARDS,
        ) {
            let split = split_even(total, n);
            prop_assert_eq!(split.len(), n as usize);
            prop_assert_eq!(split.iter().sum::<u64>(), total);
            let (lo, hi) = (split.iter().min().copied(), split.iter().max().copied());
            prop_assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1));
        }

        #[test]
        fn a_take_plan_makes_up_the_quantity_from_what_each_shard_holds(
            levels in levels(),
            q in 0..400u64,
        ) {
            match plan_take(&levels, q) {
                None => prop_assert!(levels.iter().sum::<u64>() < q),
                Some(plan) => {
                    prop_assert_eq!(plan.iter().map(|&(_, u)| u).sum::<u64>(), q);
                    let mut seen = std::collections::HashSet::new();
                    for &(k, u) in &plan {
                        let held = levels[k as usize];
                        prop_assert!(u > 0 && u <= held, "{k}: {u} of {held}");
                        prop_assert!(seen.insert(k), "shard {k} twice");
                    }
                }
            }
        }

        #[test]
        fn sharded_stock_never_goes_below_zero_and_conserves_units(
            start in 0..200u64,
            n in 1..=MAX_SHARDS,
            ops in vec(op(), 0..60),
        ) {
            let mut active = ShardCount::new(u64::from(n), "n").unwrap();
            let mut levels = split_even(start, n);
            let mut expected_total = start;
            let mut held: Vec<Vec<(u32, u64)>> = Vec::new();
            for op in ops {
                match op {
                    Op::Reserve(q, r) => {
                        let first = pick(active, r) as usize;
                        let plan = if levels.get(first).is_some_and(|&a| a >= q) {
                            Some(vec![(first as u32, q)])
                        } else {
                            plan_take(&levels, q)
                        };
                        if let Some(plan) = plan {
                            for &(k, u) in &plan {
                                levels[k as usize] = levels[k as usize]
                                    .checked_sub(u)
                                    .ok_or_else(|| TestCaseError::fail(format!("{k} below zero")))?;
                            }
                            expected_total -= q;
                            held.push(plan);
                        }
                    }
                    Op::Release(i) if !held.is_empty() => {
                        let plan = held.remove(i % held.len());
                        for (k, u) in plan {
                            levels[k as usize] += u;
                            expected_total += u;
                        }
                    }
                    Op::Release(_) => {}
                    Op::Restock(d) => {
                        for (k, u) in spread(d, active) {
                            levels[k as usize] += u;
                        }
                        expected_total += d;
                    }
                    Op::Reshard(m) => {
                        active = ShardCount::new(u64::from(m), "n").unwrap();
                        let before = levels.clone();
                        levels = rebalanced(&levels, active);
                        prop_assert!(levels.len() >= before.len(), "no slot dropped with units on it");
                        prop_assert!(levels.iter().skip(m as usize).all(|&a| a == 0), "retired slots emptied");
                    }
                }
                prop_assert_eq!(levels.iter().sum::<u64>(), expected_total);
            }
        }
    }
}
