//! Adapter tests against LocalStack: `cargo test -p orders-aws --features localstack-tests`
//! with `LOCALSTACK_ENDPOINT` set (`make localstack` starts it). Without the variable, or
//! with LocalStack unreachable, every test fails with a clear message; it never skips.
//!
//! Each test creates its own uniquely named tables, topic and queues, so tests run in
//! parallel and against a LocalStack that other things use.
#![cfg(feature = "localstack-tests")]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use orders_aws::{NotificationsTable, SnsPublisher};
use orders_domain::ports::{
    Adjusted, ClaimOutcome, EventPublisher, InsertOutcome, InventoryStore, NotificationRecord,
    NotificationStore, OrderStore, ProductStore, StockWrite, StoreError, TransitionOutcome,
    TransitionWrite,
};
use orders_domain::reservation::ReservationStatus;
use orders_domain::stock::ShardCount;
use orders_domain::{
    AdjustmentId, Event, EventId, EventPayload, HistoryEntry, OrderId, OrderStatus, Outbox, Sku,
    Trigger,
};
use support::*;

#[tokio::test]
async fn orders_conditional_put_is_idempotent_and_round_trips() {
    let t = orders_table().await;
    let o = pending_order(now());
    assert_eq!(t.insert_new(&o).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(
        t.insert_new(&o).await.unwrap(),
        InsertOutcome::AlreadyExists
    );
    let mut other = pending_order(now());
    other.order_id = o.order_id.clone();
    other.request_hash = "different".into();
    assert_eq!(
        t.insert_new(&other).await.unwrap(),
        InsertOutcome::AlreadyExists
    );
    assert_eq!(
        t.get(&o.order_id).await.unwrap(),
        Some(o.clone()),
        "first write wins, stored as written"
    );
    assert_eq!(t.get(&OrderId::random()).await.unwrap(), None);
}

#[tokio::test]
async fn outbox_clear_compensate_and_sweep_index() {
    let t = orders_table().await;
    let at = now();
    let o = pending_order(at);
    let outbox = o.outbox.clone().unwrap();
    let event_id = outbox.events[0].id.clone();
    t.insert_new(&o).await.unwrap();

    let later = at + chrono::Duration::seconds(1);
    assert_eq!(
        t.stale_outbox(later, 100).await.unwrap(),
        vec![o.order_id.clone()]
    );
    let earlier = at - chrono::Duration::seconds(60);
    assert!(
        t.stale_outbox(earlier, 100).await.unwrap().is_empty(),
        "grace period respected"
    );

    let wrong = EventId::for_order_event(&o.order_id, "Other");
    let mut other_first = outbox.clone();
    other_first.events[0].id = wrong.clone();
    assert!(!t.clear_outbox(&o.order_id, &other_first).await.unwrap());
    let mut shorter = outbox.clone();
    shorter.events.pop();
    assert!(
        !t.clear_outbox(&o.order_id, &shorter).await.unwrap(),
        "an outbox that grew since it was read is not cleared"
    );
    assert!(t.clear_outbox(&o.order_id, &outbox).await.unwrap());
    assert!(
        !t.clear_outbox(&o.order_id, &outbox).await.unwrap(),
        "second clear is a no-op"
    );
    assert_eq!(t.get(&o.order_id).await.unwrap().unwrap().outbox, None);
    assert!(
        t.stale_outbox(later, 100).await.unwrap().is_empty(),
        "sparse index drops it"
    );
    assert!(
        !t.delete_unpublished(&o.order_id, &event_id).await.unwrap(),
        "published: kept"
    );

    let o2 = pending_order(at);
    let e2 = o2.outbox.as_ref().unwrap().events[0].id.clone();
    t.insert_new(&o2).await.unwrap();
    assert!(!t.delete_unpublished(&o2.order_id, &wrong).await.unwrap());
    assert!(t.delete_unpublished(&o2.order_id, &e2).await.unwrap());
    assert_eq!(t.get(&o2.order_id).await.unwrap(), None);
}

#[tokio::test]
async fn stale_outbox_pages_and_limits() {
    let t = orders_table().await;
    let at = now();
    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        let o = pending_order(at);
        ids.insert(o.order_id.clone());
        t.insert_new(&o).await.unwrap();
    }
    let later = at + chrono::Duration::seconds(1);
    let all: BTreeSet<OrderId> = t
        .stale_outbox(later, 100)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(all, ids);
    assert_eq!(t.stale_outbox(later, 2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_sweeper_sees_the_oldest_first_across_every_index_key_value() {
    let t = orders_table().await;
    let start = now() - chrono::Duration::seconds(100);
    // 24 orders, a second apart, spread over the indexes' 16 hash key values.
    let mut ids = Vec::new();
    for i in 0..24 {
        let o = pending_order(start + chrono::Duration::seconds(i));
        ids.push(o.order_id.clone());
        t.insert_new(&o).await.unwrap();
    }
    let cutoff = start + chrono::Duration::seconds(60);
    assert_eq!(t.stale_outbox(cutoff, 5).await.unwrap(), ids[..5]);
    assert_eq!(t.stale_pending(cutoff, 7).await.unwrap(), ids[..7]);
    assert_eq!(t.stale_pending(cutoff, 100).await.unwrap(), ids);
}

#[tokio::test]
async fn stale_pending_lists_only_orders_still_pending() {
    let t = orders_table().await;
    let at = now();
    let (waiting, decided) = (pending_order(at), pending_order(at));
    t.insert_new(&waiting).await.unwrap();
    t.insert_new(&decided).await.unwrap();
    let id = EventId::for_order_event(&decided.order_id, "InventoryReserved");
    let w = TransitionWrite {
        order_id: &decided.order_id,
        trigger: Trigger::InventoryReserved,
        entry: HistoryEntry {
            status: OrderStatus::Confirmed,
            at,
            reason: None,
            event_id: Some(id.clone()),
        },
        applied_event: Some(&id),
        outbox: None,
        at,
    };
    assert!(matches!(
        t.transition(w).await.unwrap(),
        TransitionOutcome::Applied(_)
    ));
    let later = at + chrono::Duration::seconds(1);
    assert_eq!(
        t.stale_pending(later, 100).await.unwrap(),
        vec![waiting.order_id]
    );
    let earlier = at - chrono::Duration::seconds(1);
    assert!(t.stale_pending(earlier, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn transitions_are_conditional_and_never_go_backwards() {
    let t = orders_table().await;
    let o = pending_order(now());
    t.insert_new(&o).await.unwrap();
    let reserved = EventId::for_order_event(&o.order_id, "InventoryReserved");
    let entry = |status: OrderStatus, id: &EventId| HistoryEntry {
        status,
        at: now(),
        reason: None,
        event_id: Some(id.clone()),
    };
    let apply = |trigger: Trigger, id: &EventId| TransitionWrite {
        order_id: &o.order_id,
        trigger,
        entry: entry(trigger.target(), id),
        applied_event: None,
        outbox: None,
        at: now(),
    };

    let mut w = apply(Trigger::InventoryReserved, &reserved);
    w.applied_event = Some(&reserved);
    match t.transition(w.clone()).await.unwrap() {
        TransitionOutcome::Applied(after) => {
            assert_eq!(after.status, OrderStatus::Confirmed);
            assert_eq!(after.applied_events, vec![reserved.clone()]);
            assert_eq!(after.history.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.transition(w).await.unwrap(),
        TransitionOutcome::NotApplied,
        "duplicate"
    );
    let rejected = EventId::for_order_event(&o.order_id, "InventoryRejected");
    let mut w = apply(Trigger::InventoryRejected, &rejected);
    w.applied_event = Some(&rejected);
    assert_eq!(
        t.transition(w).await.unwrap(),
        TransitionOutcome::NotApplied,
        "late, contradicting"
    );

    // Cancel from CONFIRMED appends to the outbox in the same update: what is still
    // pending (the placement's events, never cleared here) stays ahead of it.
    let cancel_event = Event::order_cancelled(&o, Some("r".into()), now());
    let outbox = Outbox::new(vec![cancel_event.clone()], now());
    let mut w = apply(Trigger::Cancel, &cancel_event.id);
    w.outbox = Some(&outbox);
    let placement = o.outbox.clone().unwrap();
    match t.transition(w.clone()).await.unwrap() {
        TransitionOutcome::Applied(after) => {
            assert_eq!(after.status, OrderStatus::Cancelled);
            let pending = after.outbox.unwrap();
            let mut want = placement.events.clone();
            want.push(cancel_event.clone());
            assert_eq!(pending.events, want);
            assert_eq!(pending.since, placement.since, "the oldest event's age");
            assert_eq!(after.history.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.transition(w).await.unwrap(),
        TransitionOutcome::NotApplied,
        "CANCELLED is terminal"
    );
    let stored = t.get(&o.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Cancelled);
    assert_eq!(stored.history.len(), 3);
    // And a transition on a missing order is refused, not an upsert.
    let ghost = OrderId::random();
    let w = TransitionWrite {
        order_id: &ghost,
        ..apply(Trigger::InventoryReserved, &reserved)
    };
    assert_eq!(
        t.transition(w).await.unwrap(),
        TransitionOutcome::NotApplied
    );
    assert_eq!(t.get(&ghost).await.unwrap(), None);
}

#[tokio::test]
async fn products_create_set_under_a_version_and_adjust() {
    let (products, inv) = inventory().await;
    let sku = Sku::parse("SKU-1").unwrap();
    assert_eq!(products.get(&sku).await.unwrap(), None);
    assert_eq!(
        products.set_if_version(&sku, 1, 1, now()).await.unwrap(),
        StockWrite::NotFound
    );
    let StockWrite::Written(p) = products
        .create(&sku, 5, ShardCount::ONE, now())
        .await
        .unwrap()
    else {
        panic!("created")
    };
    assert_eq!((p.available, p.reserved, p.version), (5, 0, 1));
    let StockWrite::Refused(p) = products
        .create(&sku, 9, ShardCount::ONE, now())
        .await
        .unwrap()
    else {
        panic!("exists")
    };
    assert_eq!(p.available, 5, "create never overwrites");

    let StockWrite::Written(p) = products.set_if_version(&sku, 7, 1, now()).await.unwrap() else {
        panic!("at version 1")
    };
    assert_eq!((p.available, p.version), (7, 2));
    // A reservation bumps the version too, so a set computed from an older read is refused.
    let id = OrderId::random();
    inv.reserve(&id, &customer(), &[line("SKU-1", 2)], now())
        .await
        .unwrap();
    let StockWrite::Refused(p) = products.set_if_version(&sku, 9, 2, now()).await.unwrap() else {
        panic!("stale version")
    };
    assert_eq!((p.available, p.reserved, p.version), (5, 2, 3));

    let restock = AdjustmentId::random();
    let Adjusted::Applied(p) = products.adjust(&sku, 4, &restock, now()).await.unwrap() else {
        panic!("restock")
    };
    assert_eq!((p.available, p.reserved, p.version), (9, 2, 4));
    // Its retry (a lost answer, a client retrying with its key) adds nothing.
    let again = products.adjust(&sku, 4, &restock, now()).await.unwrap();
    assert!(
        matches!(again, Adjusted::AlreadyApplied(ref p) if p.available == 9),
        "{again:?}"
    );
    let reused = products.adjust(&sku, 5, &restock, now()).await.unwrap();
    assert_eq!(reused, Adjusted::IdReused);
    let id = AdjustmentId::random;
    let Adjusted::Refused(p) = products.adjust(&sku, -10, &id(), now()).await.unwrap() else {
        panic!("never below zero")
    };
    assert_eq!(p.available, 9);
    let Adjusted::Applied(p) = products.adjust(&sku, -9, &id(), now()).await.unwrap() else {
        panic!("down to zero")
    };
    assert_eq!(p.available, 0);
    assert_eq!(
        products
            .adjust(&Sku::parse("SKU-NONE").unwrap(), 1, &id(), now())
            .await
            .unwrap(),
        Adjusted::NotFound
    );
}

#[tokio::test]
async fn reserve_takes_every_line_and_a_duplicate_changes_nothing() {
    let (products, inv) = inventory().await;
    stock(&products, "A", 5).await;
    stock(&products, "B", 2).await;
    let id = OrderId::random();
    let lines = [line("A", 2), line("B", 1)];
    let r = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert!(r.newly_written);
    assert_eq!(r.reservation.status, ReservationStatus::Reserved);
    assert_eq!(level(&products, "A").await, (3, 2));
    assert_eq!(level(&products, "B").await, (1, 1));

    let again = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert!(
        !again.newly_written,
        "duplicate detected from the cancellation reasons"
    );
    assert_eq!(again.reservation.status, ReservationStatus::Reserved);
    assert_eq!(again.reservation.lines, lines.to_vec());
    assert_eq!(level(&products, "A").await, (3, 2), "nothing taken twice");
}

#[tokio::test]
async fn short_skus_are_named_and_nothing_is_taken() {
    let (products, inv) = inventory().await;
    stock(&products, "A", 5).await;
    stock(&products, "B", 0).await;
    let id = OrderId::random();
    let lines = [line("A", 1), line("B", 1), line("NOPE", 1)];
    let r = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert!(r.newly_written);
    assert_eq!(r.reservation.status, ReservationStatus::Rejected);
    assert_eq!(
        r.reservation.short_skus,
        vec![Sku::parse("B").unwrap(), Sku::parse("NOPE").unwrap()]
    );
    assert_eq!(level(&products, "A").await, (5, 0), "all or nothing");
    assert!(
        products
            .get(&Sku::parse("NOPE").unwrap())
            .await
            .unwrap()
            .is_none(),
        "no upsert of unknown SKUs"
    );
    let again = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert!(!again.newly_written);
    assert_eq!(again.reservation.status, ReservationStatus::Rejected);
}

#[tokio::test]
async fn concurrent_orders_for_the_last_units_never_oversell() {
    let (products, inv) = inventory().await;
    stock(&products, "LAST", 3).await;
    stock(&products, "PLENTY", 1000).await;
    let ids: Vec<OrderId> = (0..12).map(|_| OrderId::random()).collect();
    let lines = [line("PLENTY", 1), line("LAST", 3)];
    let outcomes = join_all(ids.iter().map(|id| reserve_until_decided(&inv, id, &lines))).await;
    let reserved = outcomes
        .iter()
        .filter(|s| **s == ReservationStatus::Reserved)
        .count();
    let rejected = outcomes
        .iter()
        .filter(|s| **s == ReservationStatus::Rejected)
        .count();
    assert_eq!((reserved, rejected), (1, 11), "{outcomes:?}");
    assert_eq!(level(&products, "LAST").await, (0, 3));
    assert_eq!(
        level(&products, "PLENTY").await,
        (999, 1),
        "rejected orders took nothing"
    );
}

#[tokio::test]
async fn release_gives_stock_back_exactly_once() {
    let (products, inv) = inventory().await;
    stock(&products, "A", 5).await;
    let id = OrderId::random();
    inv.reserve(&id, &customer(), &[line("A", 2)], now())
        .await
        .unwrap();
    assert_eq!(level(&products, "A").await, (3, 2));

    let results = join_all((0..4).map(|_| async {
        for _ in 0..20 {
            match inv.release(&id, &customer(), now()).await {
                Ok(r) => return r,
                Err(StoreError::Retry(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("never decided")
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.newly_written).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.reservation.status == ReservationStatus::Released));
    assert_eq!(level(&products, "A").await, (5, 0), "given back once");
    let again = inv.release(&id, &customer(), now()).await.unwrap();
    assert!(!again.newly_written);
    assert_eq!(level(&products, "A").await, (5, 0));
}

#[tokio::test]
async fn cancellation_before_reservation_blocks_a_late_reserve() {
    let (products, inv) = inventory().await;
    stock(&products, "A", 5).await;
    let id = OrderId::random();
    let r = inv.release(&id, &customer(), now()).await.unwrap();
    assert!(r.newly_written);
    assert_eq!(
        r.reservation.status,
        ReservationStatus::CancelledBeforeReserve
    );
    let late = inv
        .reserve(&id, &customer(), &[line("A", 2)], now())
        .await
        .unwrap();
    assert!(!late.newly_written);
    assert_eq!(
        late.reservation.status,
        ReservationStatus::CancelledBeforeReserve
    );
    assert_eq!(level(&products, "A").await, (5, 0));
}

#[tokio::test]
async fn notification_claim_mark_and_takeover() {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let name = unique("notifications");
    create_table(&ddb, &name, "event_id", false).await;
    let t = NotificationsTable::new(ddb, name);
    let order = pending_order(now());
    let rec = NotificationRecord {
        event_id: order.outbox.as_ref().unwrap().events[1].id.clone(),
        order_id: order.order_id.clone(),
        seq: 1,
        customer_id: customer(),
        kind: "order_placed".into(),
        subject: "s".into(),
        message: "m".into(),
    };
    let t0 = 1_000_000_i64;
    assert_eq!(
        t.claim(&rec, t0, t0 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { claimed_at_ms: t0 }
    );
    assert_eq!(
        t.claim(&rec, t0 + 1, t0 + 1 - 60_000).await.unwrap(),
        ClaimOutcome::InProgress
    );
    // This worker's publish failed: it releases; another claims at once.
    t.release_claim(&rec, t0).await.unwrap();
    assert_eq!(t.state(&rec.event_id).await.unwrap(), None);
    let t1 = t0 + 10;
    assert_eq!(
        t.claim(&rec, t1, t1 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { claimed_at_ms: t1 }
    );
    // A stale claim (worker died) is taken over after the TTL.
    let t2 = t1 + 61_000;
    assert_eq!(
        t.claim(&rec, t2, t2 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { claimed_at_ms: t2 }
    );
    // The old worker's release does not remove the new claim.
    t.release_claim(&rec, t1).await.unwrap();
    assert_eq!(
        t.state(&rec.event_id).await.unwrap().as_deref(),
        Some("CLAIMED")
    );
    t.mark_sent(&rec, t2, (now(), now())).await.unwrap();
    assert_eq!(
        t.state(&rec.event_id).await.unwrap().as_deref(),
        Some("SENT")
    );
    let t3 = t2 + 1_000_000;
    assert_eq!(
        t.claim(&rec, t3, t3 - 60_000).await.unwrap(),
        ClaimOutcome::AlreadySent,
        "sent is final"
    );
}

#[tokio::test]
async fn notification_claims_never_go_below_the_orders_high_water_mark() {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let name = unique("notifications");
    create_table(&ddb, &name, "event_id", false).await;
    let t = NotificationsTable::new(ddb, name);
    let order_id = OrderId::random();
    let rec = |status: OrderStatus| {
        let e = Event::status_changed(&order_id, &customer(), status, None, now());
        NotificationRecord {
            event_id: e.id,
            order_id: order_id.clone(),
            seq: status.seq(),
            customer_id: customer(),
            kind: status.as_str().into(),
            subject: "s".into(),
            message: "m".into(),
        }
    };
    let t0 = 1_000_000_i64;
    let cancelled = rec(OrderStatus::Cancelled);
    assert!(matches!(
        t.claim(&cancelled, t0, t0 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
    assert_eq!(t.high_water_mark(&order_id).await.unwrap(), Some(3));
    // "received" arrives after "cancelled" was claimed: never sent, and no claim is left.
    let placed = rec(OrderStatus::Pending);
    assert_eq!(
        t.claim(&placed, t0 + 1, t0 + 1 - 60_000).await.unwrap(),
        ClaimOutcome::Superseded
    );
    assert_eq!(t.state(&placed.event_id).await.unwrap(), None);
    assert_eq!(t.high_water_mark(&order_id).await.unwrap(), Some(3));
    // The same message again (a redelivery after a released claim) may claim at the mark.
    t.release_claim(&cancelled, t0).await.unwrap();
    assert!(matches!(
        t.claim(&cancelled, t0 + 2, t0 + 2 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
    // Another order's mark is its own.
    let other = NotificationRecord {
        order_id: OrderId::random(),
        ..rec(OrderStatus::Pending)
    };
    assert!(matches!(
        t.claim(&other, t0, t0 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
}

#[tokio::test]
async fn an_orders_notifications_go_out_one_at_a_time() {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let name = unique("notifications");
    create_table(&ddb, &name, "event_id", false).await;
    let t = NotificationsTable::new(ddb, name);
    let order_id = OrderId::random();
    let rec = |status: OrderStatus| {
        let e = Event::status_changed(&order_id, &customer(), status, None, now());
        NotificationRecord {
            event_id: e.id,
            order_id: order_id.clone(),
            seq: status.seq(),
            customer_id: customer(),
            kind: status.as_str().into(),
            subject: "s".into(),
            message: "m".into(),
        }
    };
    let (placed, confirmed) = (rec(OrderStatus::Pending), rec(OrderStatus::Confirmed));
    let t0 = 1_000_000_i64;
    assert_eq!(
        t.claim(&placed, t0, t0 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { claimed_at_ms: t0 }
    );
    // "received" is being published: "confirmed" must not overtake it.
    assert_eq!(
        t.claim(&confirmed, t0 + 1, t0 + 1 - 60_000).await.unwrap(),
        ClaimOutcome::InProgress
    );
    assert_eq!(t.state(&confirmed.event_id).await.unwrap(), None);
    t.mark_sent(&placed, t0, (now(), now())).await.unwrap();
    assert_eq!(
        t.claim(&confirmed, t0 + 2, t0 + 2 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed {
            claimed_at_ms: t0 + 2
        }
    );
    // A failed publish frees the order too; a claim left by a dead worker, once stale.
    t.release_claim(&confirmed, t0 + 2).await.unwrap();
    let cancelled = rec(OrderStatus::Cancelled);
    assert!(matches!(
        t.claim(&cancelled, t0 + 3, t0 + 3 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
    let t1 = t0 + 61_000;
    let late = NotificationRecord {
        event_id: Event::status_changed(
            &order_id,
            &customer(),
            OrderStatus::Cancelled,
            None,
            now(),
        )
        .id,
        ..cancelled.clone()
    };
    assert_eq!(
        t.claim(&late, t0 + 4, t0 + 4 - 60_000).await.unwrap(),
        ClaimOutcome::InProgress
    );
    assert!(matches!(
        t.claim(&late, t1, t1 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
}

/// Receives until `want` messages arrived or `rounds` one-second polls passed.
async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    want: usize,
    rounds: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    for _ in 0..rounds {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
        if got.len() >= want {
            break;
        }
    }
    got
}

#[tokio::test]
async fn sns_publish_carries_the_type_attribute_through_a_filter_policy() {
    let conf = sdk().await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name(unique("order-events"))
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let mut queues = HashMap::new();
    for (name, filter) in [
        (
            "filtered",
            Some(r#"{"type": ["OrderPlaced", "OrderCancelled"]}"#),
        ),
        ("all", None),
    ] {
        let q = sqs
            .create_queue()
            .queue_name(unique(name))
            .send()
            .await
            .unwrap();
        let url = q.queue_url().unwrap().to_string();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap();
        let mut sub = sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true");
        if let Some(f) = filter {
            sub = sub.attributes("FilterPolicy", f);
        }
        sub.send().await.unwrap();
        queues.insert(name, url);
    }

    let publisher = SnsPublisher::new(sns.clone(), topic_arn);
    let order = pending_order(now());
    let placed = order.outbox.clone().unwrap().events[0].clone();
    let reserved = Event::for_order(
        &order.order_id,
        now(),
        EventPayload::InventoryReserved(orders_domain::events::InventoryReserved {
            customer_id: customer(),
            lines: order.lines.clone(),
        }),
    );
    publisher.publish(&placed).await.unwrap();
    publisher.publish(&reserved).await.unwrap();

    let all = receive_all(&sqs, &queues["all"], 2, 10).await;
    let mut types: Vec<String> = all
        .iter()
        .map(|m| {
            Event::from_message_body(m.body().unwrap())
                .unwrap()
                .event_type()
                .to_string()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["InventoryReserved", "OrderPlaced"]);

    // Both were delivered to the unfiltered queue by now; two more polls would catch a
    // wrongly delivered InventoryReserved.
    let filtered = receive_all(&sqs, &queues["filtered"], 2, 3).await;
    assert_eq!(
        filtered.len(),
        1,
        "the filter policy lets only OrderPlaced through: {filtered:?}"
    );
    let m = &filtered[0];
    // Raw delivery: the body is the event itself, byte-for-byte what was published.
    assert_eq!(Event::from_message_body(m.body().unwrap()).unwrap(), placed);
    assert_eq!(m.body().unwrap(), placed.to_json());
    let attr = m
        .message_attributes()
        .and_then(|a| a.get("type"))
        .and_then(|v| v.string_value());
    assert_eq!(attr, Some("OrderPlaced"));
}

/// The item's `expires_at` (the tables' TTL attribute), if any.
async fn expires_at(ddb: &aws_sdk_dynamodb::Client, table: &str, key: (&str, &str)) -> Option<i64> {
    let item = ddb
        .get_item()
        .table_name(table)
        .key(
            key.0,
            aws_sdk_dynamodb::types::AttributeValue::S(key.1.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {key:?} in {table}"));
    item.get("expires_at")
        .map(|v| v.as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn records_kept_only_to_recognise_duplicates_expire_and_live_ones_do_not() {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let (p, r, n) = (unique("products"), unique("reservations"), unique("notes"));
    create_table(&ddb, &p, "sku", false).await;
    create_table(&ddb, &r, "order_id", false).await;
    create_table(&ddb, &n, "event_id", false).await;
    let products = orders_aws::ProductsTable::new(ddb.clone(), p.clone());
    let inv = orders_aws::InventoryTables::new(ddb.clone(), p, r.clone());
    stock(&products, "A", 1).await;
    let in_30_days = now().timestamp() + 30 * 24 * 3600;
    let about = |t: Option<i64>| t.is_some_and(|t| (t - in_30_days).abs() < 120);

    // A reservation holding stock is live state: no expiry. Rejected, or released, it holds
    // nothing and is kept only for late duplicates.
    let (held, short) = (OrderId::random(), OrderId::random());
    inv.reserve(&held, &customer(), &[line("A", 1)], now())
        .await
        .unwrap();
    inv.reserve(&short, &customer(), &[line("A", 1)], now())
        .await
        .unwrap();
    assert_eq!(
        expires_at(&ddb, &r, ("order_id", held.as_str())).await,
        None
    );
    assert!(about(
        expires_at(&ddb, &r, ("order_id", short.as_str())).await
    ));
    inv.release(&held, &customer(), now()).await.unwrap();
    assert!(about(
        expires_at(&ddb, &r, ("order_id", held.as_str())).await
    ));

    // A notification's record and its order's mark exist only to stop a duplicate.
    let t = NotificationsTable::new(ddb.clone(), n.clone());
    let order_id = OrderId::random();
    let e = Event::status_changed(&order_id, &customer(), OrderStatus::Pending, None, now());
    let rec = NotificationRecord {
        event_id: e.id.clone(),
        order_id: order_id.clone(),
        seq: 1,
        customer_id: customer(),
        kind: "order_placed".into(),
        subject: "s".into(),
        message: "m".into(),
    };
    let ms = now().timestamp_millis();
    t.claim(&rec, ms, ms - 60_000).await.unwrap();
    assert!(about(
        expires_at(&ddb, &n, ("event_id", e.id.as_str())).await
    ));
    let mark = format!("order#{}", order_id.as_str());
    assert!(about(
        expires_at(&ddb, &n, ("event_id", mark.as_str())).await
    ));
}
