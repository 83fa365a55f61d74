//! Publishing outboxes and repairing crashes over the in-memory ports.

use std::time::Duration;

use super::*;
use crate::ids::EventId;
use crate::test_world::*;

#[tokio::test]
async fn outbox_entries_that_keep_failing_never_hold_back_newer_ones() {
    // Two poison entries (every publish of theirs fails), then a good one, a sweep of 2.
    let w = world();
    let mut ids = Vec::new();
    for i in 0..3 {
        w.publisher.fail_next(1);
        w.orders.fail_deletes(1);
        let placed = w.place(BODY, None).await.unwrap();
        ids.push(placed.order.order_id);
        if i < 2 {
            w.publisher.poison(&ids[i]);
        }
        w.clock.advance(chrono::Duration::seconds(1));
    }
    w.clock.advance(chrono::Duration::seconds(61));
    let sweep = || {
        sweep_outbox(
            &w.orders,
            &w.publisher,
            &w.clock,
            Duration::from_secs(60),
            2,
        )
    };
    let first = sweep().await.unwrap();
    assert_eq!(
        (first.scanned, first.failed),
        (2, 2),
        "the two oldest, both poison"
    );
    w.clock.advance(chrono::Duration::seconds(61));
    let second = sweep().await.unwrap();
    assert_eq!(second.republished, 1, "the newer entry's turn: {second:?}");
    assert!(w.orders.snapshot(&ids[2]).unwrap().outbox.is_none());
}

#[tokio::test]
async fn sweeper_republishes_only_after_the_grace_period() {
    let w = world();
    let id = crashed_placement(&w, "key-sweep").await;
    let grace = Duration::from_secs(60);
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!(s, SweepSummary::default(), "too fresh");
    w.clock.advance(chrono::Duration::seconds(61));
    w.publisher.fail_next(1);
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.republished, s.failed), (1, 0, 1));
    // A failed entry goes to the back of the line: its turn comes a grace period later.
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!(s.scanned, 0);
    w.clock.advance(chrono::Duration::seconds(61));
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.republished, s.failed), (1, 1, 0));
    let published = w.publisher.events();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].id,
        EventId::for_order_event(&id, "OrderPlaced")
    );
    assert_eq!(w.orders.snapshot(&id).unwrap().outbox, None);
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!(s.scanned, 0);
}

#[tokio::test]
async fn a_read_that_fails_is_counted_and_the_sweep_goes_on() {
    let w = world();
    let id = crashed_placement(&w, "key-read").await;
    w.clock.advance(chrono::Duration::seconds(61));
    w.orders.fail_gets(1);
    let grace = Duration::from_secs(60);
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.republished, s.failed), (1, 0, 1));
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.republished, s.failed), (1, 1, 0));
    assert!(w.orders.snapshot(&id).unwrap().outbox.is_none());
}
