//! The `OrderStore` contract: conditional inserts and transitions, the outbox's life, the
//! sweeper's queries and a customer's list.

use std::collections::BTreeSet;

use chrono::Duration;
use futures_util::future::join_all;

use super::{customer, decided, named_customer, now, pending_order, pending_order_of};
use crate::ids::{EventId, OrderId};
use crate::order::{HistoryEntry, OrderStatus, Outbox, Trigger};
use crate::ports::{InsertOutcome, OrderStore, TransitionOutcome, TransitionWrite};
use crate::Event;

pub async fn an_insert_is_conditional_and_round_trips<S: OrderStore>(t: &S) {
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

pub async fn concurrent_inserts_of_one_id_store_one_order<S: OrderStore>(t: &S) {
    let first = pending_order(now());
    let copies: Vec<_> = (0..8)
        .map(|i| {
            let mut o = pending_order(now());
            o.order_id = first.order_id.clone();
            o.request_hash = format!("hash-{i}");
            o
        })
        .collect();
    let outcomes = join_all(copies.iter().map(|o| decided("insert", || t.insert_new(o)))).await;
    let inserted: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == InsertOutcome::Inserted)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(inserted.len(), 1, "{outcomes:?}");
    let stored = t.get(&first.order_id).await.unwrap().unwrap();
    assert_eq!(
        stored, copies[inserted[0]],
        "the one that won is the one stored"
    );
}

pub async fn outbox_clear_compensate_and_sweep_index<S: OrderStore>(t: &S) {
    let at = now();
    let o = pending_order(at);
    let outbox = o.outbox.clone().unwrap();
    let event_id = outbox.events[0].id.clone();
    t.insert_new(&o).await.unwrap();

    let later = at + Duration::seconds(1);
    assert!(t
        .stale_outbox(later, 100)
        .await
        .unwrap()
        .contains(&o.order_id));
    let earlier = at - Duration::seconds(60);
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
        !t.stale_outbox(later, 100)
            .await
            .unwrap()
            .contains(&o.order_id),
        "the sweeper no longer sees it"
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

pub async fn a_failed_republish_goes_to_the_back_of_the_line<S: OrderStore>(t: &S) {
    let start = now() - Duration::seconds(100);
    let (stuck, next) = (
        pending_order(start),
        pending_order(start + Duration::seconds(1)),
    );
    t.insert_new(&stuck).await.unwrap();
    t.insert_new(&next).await.unwrap();
    let cutoff = start + Duration::seconds(60);
    assert_eq!(
        t.stale_outbox(cutoff, 1).await.unwrap(),
        vec![stuck.order_id.clone()]
    );
    let outbox = stuck.outbox.clone().unwrap();
    let mut other = outbox.clone();
    other.events[0].id = EventId::for_order_event(&stuck.order_id, "Other");
    assert!(
        !t.requeue_outbox(&stuck.order_id, &other, start + Duration::seconds(2))
            .await
            .unwrap(),
        "only the outbox as read (its first event)"
    );
    assert!(t
        .requeue_outbox(&stuck.order_id, &outbox, start + Duration::seconds(2))
        .await
        .unwrap());
    assert_eq!(
        t.stale_outbox(cutoff, 2).await.unwrap(),
        vec![next.order_id.clone(), stuck.order_id.clone()],
        "the failing entry no longer holds back the next"
    );
    let kept = t.get(&stuck.order_id).await.unwrap().unwrap().outbox;
    assert_eq!(
        kept.map(|o| o.events),
        Some(outbox.events.clone()),
        "same events"
    );
    assert!(
        !t.requeue_outbox(&OrderId::random(), &outbox, start)
            .await
            .unwrap(),
        "no upsert"
    );
}

pub async fn stale_outbox_pages_and_limits<S: OrderStore>(t: &S) {
    let at = now();
    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        let o = pending_order(at);
        ids.insert(o.order_id.clone());
        t.insert_new(&o).await.unwrap();
    }
    let later = at + Duration::seconds(1);
    let all: BTreeSet<OrderId> = t
        .stale_outbox(later, 100)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(all, ids);
    assert_eq!(t.stale_outbox(later, 2).await.unwrap().len(), 2);
}

pub async fn the_sweeper_sees_the_oldest_first<S: OrderStore>(t: &S) {
    let start = now() - Duration::seconds(100);
    // 24 orders, a second apart (over DynamoDB's 16 index hash key values).
    let mut ids = Vec::new();
    for i in 0..24 {
        let o = pending_order(start + Duration::seconds(i));
        ids.push(o.order_id.clone());
        t.insert_new(&o).await.unwrap();
    }
    let cutoff = start + Duration::seconds(60);
    assert_eq!(t.stale_outbox(cutoff, 5).await.unwrap(), ids[..5]);
    assert_eq!(t.stale_pending(cutoff, 7).await.unwrap(), ids[..7]);
    assert_eq!(t.stale_pending(cutoff, 100).await.unwrap(), ids);
}

fn reserved_write<'a>(order_id: &'a OrderId, id: &'a EventId) -> TransitionWrite<'a> {
    let at = now();
    TransitionWrite {
        order_id,
        trigger: Trigger::InventoryReserved,
        entry: HistoryEntry {
            status: OrderStatus::Confirmed,
            at,
            reason: None,
            event_id: Some(id.clone()),
        },
        applied_event: Some(id),
        outbox: None,
        at,
    }
}

pub async fn an_event_answered_for_an_absent_order_never_applies_to_it<S: OrderStore>(t: &S) {
    let at = now();
    let o = pending_order(at);
    let reserved = EventId::for_order_event(&o.order_id, "InventoryReserved");
    for _ in 0..2 {
        assert!(t
            .record_event_for_absent_order(&o.order_id, &reserved)
            .await
            .unwrap());
    }
    assert_eq!(
        t.get(&o.order_id).await.unwrap(),
        None,
        "a record is no order"
    );
    let later = at + Duration::seconds(1);
    assert!(!t
        .stale_pending(later, 100)
        .await
        .unwrap()
        .contains(&o.order_id));
    let page = t.list_for_customer(&o.customer_id, 10, None).await.unwrap();
    assert!(page.orders.is_empty(), "{page:?}");

    assert_eq!(t.insert_new(&o).await.unwrap(), InsertOutcome::Inserted);
    let mut expected = o.clone();
    expected.applied_events = vec![reserved.clone()];
    assert_eq!(t.get(&o.order_id).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        t.transition(reserved_write(&o.order_id, &reserved))
            .await
            .unwrap(),
        TransitionOutcome::NotApplied
    );
    let other = EventId::for_order_event(&o.order_id, "InventoryRejected");
    assert!(
        !t.record_event_for_absent_order(&o.order_id, &other)
            .await
            .unwrap(),
        "the id holds an order now"
    );
    assert_eq!(
        t.insert_new(&o).await.unwrap(),
        InsertOutcome::AlreadyExists
    );
    assert_eq!(t.get(&o.order_id).await.unwrap(), Some(expected));
}

pub async fn stale_pending_lists_only_orders_still_pending<S: OrderStore>(t: &S) {
    let at = now();
    let (waiting, decided) = (pending_order(at), pending_order(at));
    t.insert_new(&waiting).await.unwrap();
    t.insert_new(&decided).await.unwrap();
    let id = EventId::for_order_event(&decided.order_id, "InventoryReserved");
    assert!(matches!(
        t.transition(reserved_write(&decided.order_id, &id))
            .await
            .unwrap(),
        TransitionOutcome::Applied(_)
    ));
    let later = at + Duration::seconds(1);
    assert_eq!(
        t.stale_pending(later, 100).await.unwrap(),
        vec![waiting.order_id]
    );
    let earlier = at - Duration::seconds(1);
    assert!(t.stale_pending(earlier, 100).await.unwrap().is_empty());
}

pub async fn transitions_are_conditional_and_never_go_backwards<S: OrderStore>(t: &S) {
    let o = pending_order(now());
    t.insert_new(&o).await.unwrap();
    let reserved = EventId::for_order_event(&o.order_id, "InventoryReserved");
    let apply = |trigger: Trigger, id: &EventId| TransitionWrite {
        order_id: &o.order_id,
        trigger,
        entry: HistoryEntry {
            status: trigger.target(),
            at: now(),
            reason: None,
            event_id: Some(id.clone()),
        },
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

pub async fn concurrent_deliveries_of_one_event_apply_it_once<S: OrderStore>(t: &S) {
    let o = pending_order(now());
    t.insert_new(&o).await.unwrap();
    let id = EventId::for_order_event(&o.order_id, "InventoryReserved");
    let outcomes = join_all((0..8).map(|_| {
        decided("transition", || {
            t.transition(reserved_write(&o.order_id, &id))
        })
    }))
    .await;
    let applied = outcomes
        .iter()
        .filter(|r| matches!(r, TransitionOutcome::Applied(_)))
        .count();
    assert_eq!(applied, 1, "{outcomes:?}");
    let stored = t.get(&o.order_id).await.unwrap().unwrap();
    assert_eq!(stored.applied_events, vec![id]);
    assert_eq!(stored.history.len(), 2, "one entry for the event");
}

pub async fn a_customer_lists_only_their_orders_newest_first_in_pages<S: OrderStore>(t: &S) {
    let me = named_customer(&format!("cust-{}", &OrderId::random().as_str()[..8]));
    let start = now() - Duration::seconds(50);
    let mut mine = Vec::new();
    for i in 0..5 {
        let o = pending_order_of(me.clone(), start + Duration::seconds(i));
        mine.push(o.order_id.clone());
        t.insert_new(&o).await.unwrap();
    }
    t.insert_new(&pending_order_of(customer(), start))
        .await
        .unwrap();
    mine.reverse();

    let first = t.list_for_customer(&me, 2, None).await.unwrap();
    let ids = |p: &crate::ports::OrderPage| -> Vec<OrderId> {
        p.orders.iter().map(|s| s.order_id.clone()).collect()
    };
    assert_eq!(ids(&first), mine[..2]);
    assert!(first
        .orders
        .iter()
        .all(|s| s.status == OrderStatus::Pending));
    let cursor = first.next.clone().expect("more follow");
    let second = t.list_for_customer(&me, 2, Some(&cursor)).await.unwrap();
    assert_eq!(ids(&second), mine[2..4]);
    let last = t
        .list_for_customer(&me, 2, second.next.as_ref())
        .await
        .unwrap();
    assert_eq!(ids(&last), mine[4..]);
    let rest = match last.next {
        Some(c) => t.list_for_customer(&me, 2, Some(&c)).await.unwrap().orders,
        None => Vec::new(),
    };
    assert!(rest.is_empty(), "{rest:?}");
    let nobody = named_customer("cust-nobody-at-all");
    assert_eq!(
        t.list_for_customer(&nobody, 10, None).await.unwrap().orders,
        vec![]
    );
}
