use super::*;

fn count(n: u64) -> ShardCount {
    ShardCount::new(n, "shards").unwrap()
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn policy() -> HotSkuPolicy {
    HotSkuPolicy::new(8, count(8))
}

#[test]
fn a_raise_doubles_up_to_the_bound() {
    assert_eq!(raised(count(1), count(8)), Some(count(2)));
    assert_eq!(raised(count(4), count(8)), Some(count(8)));
    assert_eq!(raised(count(5), count(8)), Some(count(8)));
    assert_eq!(raised(count(8), count(8)), None);
    assert_eq!(raised(count(12), count(8)), None, "never lowers");
    assert_eq!(
        raised(count(1), ShardCount::ONE),
        None,
        "max 1 turns it off"
    );
}

#[test]
fn a_sku_is_hot_after_enough_conflicts_within_the_window() {
    let mut hot = HotSkus::new(policy());
    let a = sku("HOT-1");
    for i in 0..7 {
        assert_eq!(hot.conflict(&a, count(1), secs(i as f64)), None);
    }
    let raise = hot.conflict(&a, count(1), secs(7.0)).unwrap();
    assert_eq!(
        raise,
        Raise {
            sku: a.clone(),
            from: count(1),
            to: count(2),
            conflicts: 8
        }
    );
}

#[test]
fn conflicts_older_than_the_window_do_not_count() {
    let mut hot = HotSkus::new(policy());
    let a = sku("HOT-1");
    // One conflict every 2 s: never 8 within 10 s.
    for i in 0..40 {
        assert_eq!(hot.conflict(&a, count(1), secs(2.0 * i as f64)), None);
    }
}

#[test]
fn skus_are_counted_apart() {
    let mut hot = HotSkus::new(policy());
    for i in 0..7 {
        assert_eq!(
            hot.conflict(&sku("A"), count(1), secs(i as f64 * 0.1)),
            None
        );
        assert_eq!(
            hot.conflict(&sku("B"), count(1), secs(i as f64 * 0.1)),
            None
        );
    }
    assert!(hot.conflict(&sku("A"), count(1), secs(1.0)).is_some());
    assert!(hot.conflict(&sku("B"), count(1), secs(1.0)).is_some());
}

#[test]
fn after_a_raise_the_sku_is_left_alone_for_the_cooldown() {
    let mut hot = HotSkus::new(policy());
    let a = sku("HOT-1");
    for i in 0..8 {
        hot.conflict(&a, count(1), secs(i as f64 * 0.1));
    }
    // Conflicts keep coming while the raise takes effect: no second raise yet.
    for i in 0..50 {
        let t = 1.0 + i as f64 * 0.3;
        assert_eq!(hot.conflict(&a, count(2), secs(t)), None, "at {t}s");
    }
    // After the cooldown, still hot: the next step, from the count now known.
    let mut next = None;
    for i in 0..8 {
        next = next.or(hot.conflict(&a, count(2), secs(21.0 + i as f64 * 0.1)));
    }
    assert_eq!(next.map(|r| (r.from, r.to)), Some((count(2), count(4))));
}

#[test]
fn a_sku_at_the_bound_is_never_raised() {
    let mut hot = HotSkus::new(policy());
    for i in 0..100 {
        assert_eq!(
            hot.conflict(&sku("A"), count(8), secs(i as f64 * 0.01)),
            None
        );
    }
}

#[test]
fn the_tracked_set_stays_bounded() {
    let mut hot = HotSkus::new(policy());
    for i in 0..3 * MAX_TRACKED {
        hot.conflict(&sku(&format!("S{i}")), count(1), secs(i as f64 * 0.001));
    }
    assert!(hot.tracked() <= MAX_TRACKED, "{}", hot.tracked());
}

#[test]
fn when_the_set_is_full_the_cold_skus_go_and_counts_and_cooldowns_stay() {
    let mut hot = HotSkus::new(policy());
    let (raised_sku, warm) = (sku("HOT-RAISED"), sku("HOT-WARM"));
    for i in 0..8 {
        hot.conflict(&raised_sku, count(1), secs(i as f64 * 0.1));
    }
    // 1,022 SKUs with one conflict at 1 s, long out of the window by 13 s.
    for i in 0..MAX_TRACKED - 2 {
        hot.conflict(&sku(&format!("COLD-{i}")), count(1), secs(1.0));
    }
    for _ in 0..7 {
        hot.conflict(&warm, count(1), secs(12.0));
    }
    assert_eq!(hot.tracked(), MAX_TRACKED);
    // A new SKU makes room: the cold ones go, not the one cooling down nor the warm one.
    hot.conflict(&sku("NEW"), count(1), secs(13.0));
    assert_eq!(hot.tracked(), 3);
    let raise = hot.conflict(&warm, count(1), secs(13.1));
    assert_eq!(raise.map(|r| r.conflicts), Some(8), "its count was kept");
    for i in 0..8 {
        let t = 13.2 + i as f64 * 0.1;
        assert_eq!(
            hot.conflict(&raised_sku, count(2), secs(t)),
            None,
            "still cooling down"
        );
    }
}

#[test]
fn a_tracked_sku_keeps_its_count_when_the_set_is_full_of_warm_ones() {
    let mut hot = HotSkus::new(policy());
    let a = sku("HOT-A");
    for _ in 0..7 {
        hot.conflict(&a, count(1), secs(0.0));
    }
    for i in 0..MAX_TRACKED - 1 {
        hot.conflict(&sku(&format!("S{i}")), count(1), secs(0.5));
    }
    assert_eq!(hot.tracked(), MAX_TRACKED);
    // Full, every SKU warm, and `a` the coldest: it is tracked already, so nothing is dropped.
    let raise = hot.conflict(&a, count(1), secs(1.0));
    assert_eq!(raise.map(|r| r.conflicts), Some(8));
}
