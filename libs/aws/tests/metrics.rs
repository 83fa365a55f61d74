//! The EMF record a function writes (its own process: the recorder is global).

use orders_aws::metrics::{count, flush_to, init, names, NAMESPACE};
use serde_json::Value;

fn flushed() -> Vec<Value> {
    let mut out = Vec::new();
    flush_to(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn counts_become_one_emf_record_per_flush_in_the_stacks_dimension() {
    std::env::set_var("STACK_NAME", "orders-test");
    init("inventory");
    count(names::RESERVATION_CONFLICTS, 2);
    count(names::RESERVATION_RETRIES, 1);
    let records = flushed();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    let cw = &r["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], NAMESPACE);
    assert_eq!(cw["Dimensions"], serde_json::json!([["Stack"]]));
    let mut named: Vec<&str> = cw["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    named.sort();
    assert_eq!(named, ["ReservationConflicts", "ReservationRetries"]);
    assert_eq!(r["ReservationConflicts"], 2);
    assert_eq!(r["ReservationRetries"], 1);
    assert_eq!(r["Stack"], "orders-test");
    assert_eq!(r["Service"], "inventory");
    assert!(r["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);

    // Counted once: the next invocation's record has only what it counted.
    assert!(flushed().is_empty());
    count(names::ORDERS_PLACED, 1);
    let again = flushed();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["OrdersPlaced"], 1);
    assert!(again[0].get("ReservationConflicts").is_none());
}
