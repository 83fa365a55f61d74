//! Telling the customer over the in-memory ports.

use super::*;
use crate::events::InventoryReserved;
use crate::ids::{CustomerId, OrderId};
use crate::testing::{FixedClock, InMemoryNotifications, RecordingPublisher};
use chrono::Utc;

fn id() -> OrderId {
    OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap()
}

fn change(status: OrderStatus, reason: Option<&str>) -> Event {
    let customer = CustomerId::parse("c").unwrap();
    Event::status_changed(
        &id(),
        &customer,
        status,
        reason.map(str::to_string),
        Utc::now(),
    )
}

#[test]
fn one_message_per_status_and_none_for_other_events() {
    let kinds: Vec<_> = OrderStatus::ALL
        .into_iter()
        .map(|s| notification_for(&change(s, None)).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "order_placed",
            "order_confirmed",
            "order_rejected",
            "order_cancelled"
        ]
    );
    let n = notification_for(&change(OrderStatus::Rejected, Some("not enough A"))).unwrap();
    assert!(n.message.contains("(not enough A)"), "{}", n.message);
    assert_eq!(n.seq, OrderStatus::Rejected.seq());
    assert!(n.subject.contains("0b6f6b3e"));
    // A cancel's reason is the caller's free text: never repeated to the customer.
    let n = notification_for(&change(OrderStatus::Cancelled, Some("<a href=x>click</a>"))).unwrap();
    assert!(
        !n.message.contains("click") && !n.subject.contains("click"),
        "{n:?}"
    );

    // Inventory's decisions are not the customer's news: only applied transitions are.
    let reserved = Event::for_order(
        &id(),
        Utc::now(),
        EventPayload::InventoryReserved(InventoryReserved {
            customer_id: CustomerId::parse("c").unwrap(),
            lines: vec![],
        }),
    );
    assert_eq!(notification_for(&reserved), None);
    let placed = change(OrderStatus::Pending, None);
    let notified = Event::customer_notified(&placed, "s".into(), "m".into(), Utc::now());
    assert_eq!(notification_for(&notified), None);
}

#[test]
fn an_order_placed_is_told_as_its_pending_status() {
    // The placement publishes no PENDING status change: OrderPlaced is the customer's first news,
    // told exactly as that change would be (same kind, text and place among the messages).
    let order = crate::Order::new_pending(
        id(),
        CustomerId::parse("c").unwrap(),
        vec![],
        "h".into(),
        Utc::now(),
    );
    let placed = Event::order_placed(&order, Utc::now());
    assert_eq!(
        notification_for(&placed),
        notification_for(&change(OrderStatus::Pending, None))
    );
}

#[test]
fn subjects_fit_an_email_subject() {
    for s in OrderStatus::ALL {
        let n = notification_for(&change(s, Some("a reason"))).unwrap();
        assert!(
            n.subject.len() <= 100 && n.subject.is_ascii(),
            "{}",
            n.subject
        );
    }
}

const TTL: Duration = Duration::from_secs(11);

/// An empty Notifications table, a publisher, a fixed clock.
fn world() -> (InMemoryNotifications, RecordingPublisher, FixedClock) {
    (
        InMemoryNotifications::new(),
        RecordingPublisher::new(),
        FixedClock::default_time(),
    )
}

#[tokio::test]
async fn an_older_message_arriving_after_a_newer_one_is_never_sent() {
    let (store, publisher, clock) = world();
    let cancelled = change(OrderStatus::Cancelled, Some("changed mind"));
    let placed = change(OrderStatus::Pending, None);
    let done = notify_customer(&store, &publisher, &clock, &cancelled, TTL).await;
    assert!(matches!(done, Ok(Handled::Done { .. })), "{done:?}");
    let late = notify_customer(&store, &publisher, &clock, &placed, TTL).await;
    assert!(
        matches!(late, Ok(Handled::Skipped("superseded by a newer message"))),
        "{late:?}"
    );
    let sent: Vec<_> = publisher
        .events()
        .into_iter()
        .map(|e| match e.payload {
            EventPayload::CustomerNotified(d) => d.source_event_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sent, [cancelled.id], "only the newer message");
}

/// The record `notify_customer` claims for `event`.
fn record_of(event: &Event) -> NotificationRecord {
    let note = notification_for(event).unwrap();
    NotificationRecord {
        event_id: event.id.clone(),
        order_id: event.order_id.clone(),
        seq: note.seq,
        customer_id: CustomerId::parse("c").unwrap(),
        kind: note.kind.into(),
        subject: note.subject,
        message: note.message,
    }
}

#[tokio::test]
async fn a_newer_message_waits_while_an_older_one_of_the_order_is_going_out() {
    // Two workers: one has claimed "received" and is publishing it; "confirmed" arrives
    // at the other. Published now, it could reach SNS first: it waits instead.
    let (store, publisher, clock) = world();
    let placed = change(OrderStatus::Pending, None);
    let confirmed = change(OrderStatus::Confirmed, None);
    let now_ms = clock.now().timestamp_millis();
    let first = record_of(&placed);
    let claim = store.claim(&first, now_ms, now_ms - 11_000).await.unwrap();
    let ClaimOutcome::Claimed { claimed_at_ms } = claim else {
        panic!("{claim:?}")
    };
    let early = notify_customer(&store, &publisher, &clock, &confirmed, TTL).await;
    assert!(
        matches!(early, Err(ConsumerError::InProgress(_))),
        "{early:?}"
    );
    assert!(publisher.events().is_empty());
    // The older one is out: the newer one goes.
    store
        .mark_sent(&first, claimed_at_ms, (clock.now(), clock.now()))
        .await
        .unwrap();
    notify_customer(&store, &publisher, &clock, &confirmed, TTL)
        .await
        .unwrap();
    assert_eq!(publisher.events().len(), 1);
    // Another order is never held up by this one.
    let other = Event::status_changed(
        &OrderId::random(),
        &CustomerId::parse("c").unwrap(),
        OrderStatus::Pending,
        None,
        clock.now(),
    );
    let ours = change(OrderStatus::Cancelled, None);
    let r = record_of(&ours);
    store.claim(&r, now_ms, now_ms - 11_000).await.unwrap();
    notify_customer(&store, &publisher, &clock, &other, TTL)
        .await
        .unwrap();
    assert_eq!(publisher.events().len(), 2);
}

#[tokio::test]
async fn a_dead_workers_claim_holds_the_order_only_until_it_goes_stale() {
    let (store, publisher, clock) = world();
    let placed = change(OrderStatus::Pending, None);
    let confirmed = change(OrderStatus::Confirmed, None);
    let now_ms = clock.now().timestamp_millis();
    store
        .claim(&record_of(&placed), now_ms, now_ms - 11_000)
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(12));
    notify_customer(&store, &publisher, &clock, &confirmed, TTL)
        .await
        .unwrap();
    assert_eq!(publisher.events().len(), 1);
    // The dead worker's message, redelivered, is older than what went out.
    clock.advance(chrono::Duration::seconds(12));
    let late = notify_customer(&store, &publisher, &clock, &placed, TTL).await;
    assert!(matches!(late, Ok(Handled::Skipped(_))), "{late:?}");
}

#[tokio::test]
async fn messages_in_order_are_all_sent_once() {
    let (store, publisher, clock) = world();
    let events = [
        change(OrderStatus::Pending, None),
        change(OrderStatus::Confirmed, None),
        change(OrderStatus::Cancelled, None),
    ];
    for e in events.iter().chain(events.iter()) {
        notify_customer(&store, &publisher, &clock, e, TTL)
            .await
            .unwrap();
    }
    assert_eq!(publisher.events().len(), 3, "three changes, three messages");
}

#[tokio::test]
async fn a_failed_publish_keeps_the_mark_so_the_older_message_stays_unsent() {
    // The newer message failed to go out and will be redelivered: the older one must
    // not slip in before it.
    let (store, publisher, clock) = world();
    let confirmed = change(OrderStatus::Confirmed, None);
    publisher.fail_next(1);
    let failed = notify_customer(&store, &publisher, &clock, &confirmed, TTL).await;
    assert!(failed.is_err());
    let placed = change(OrderStatus::Pending, None);
    let late = notify_customer(&store, &publisher, &clock, &placed, TTL).await;
    assert!(matches!(late, Ok(Handled::Skipped(_))), "{late:?}");
    // The redelivery of the newer one goes out.
    notify_customer(&store, &publisher, &clock, &confirmed, TTL)
        .await
        .unwrap();
    assert_eq!(publisher.events().len(), 1);
}

#[tokio::test]
async fn once_per_event_id() {
    let (s, p, c) = world();
    let e = change(OrderStatus::Pending, None);
    assert_eq!(
        notify_customer(&s, &p, &c, &e, TTL).await.unwrap(),
        Handled::Done {
            published: Some(EventType::CustomerNotified)
        }
    );
    assert!(matches!(
        notify_customer(&s, &p, &c, &e, TTL).await.unwrap(),
        Handled::Skipped("already notified")
    ));
    let out = p.events();
    assert_eq!(out.len(), 1);
    match &out[0].payload {
        EventPayload::CustomerNotified(d) => {
            assert_eq!(d.source_event_id, e.id);
            assert_eq!(d.source_type, EventType::OrderStatusChanged);
            assert_eq!(d.customer_id.as_str(), "c");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.sent(&e.id), Some(true));
    assert_eq!(s.record(&e.id).unwrap().kind, "order_placed");
}

#[tokio::test]
async fn a_publish_failure_releases_the_claim_for_a_prompt_retry() {
    let (s, p, c) = world();
    let e = change(OrderStatus::Pending, None);
    p.fail_next(1);
    assert!(matches!(
        notify_customer(&s, &p, &c, &e, TTL).await,
        Err(ConsumerError::Publish(_))
    ));
    assert_eq!(s.sent(&e.id), None);
    notify_customer(&s, &p, &c, &e, TTL).await.unwrap();
    assert_eq!(p.events().len(), 1);
}

#[tokio::test]
async fn claimed_elsewhere_is_retried_until_the_claim_goes_stale() {
    let (s, p, c) = world();
    let e = change(OrderStatus::Pending, None);
    // Another worker claimed it and died before publishing.
    let now_ms = c.now().timestamp_millis();
    let rec = NotificationRecord {
        event_id: e.id.clone(),
        order_id: e.order_id.clone(),
        seq: 1,
        customer_id: CustomerId::parse("c").unwrap(),
        kind: "order_placed".into(),
        subject: "s".into(),
        message: "m".into(),
    };
    s.claim(&rec, now_ms, now_ms - 11_000).await.unwrap();
    assert!(matches!(
        notify_customer(&s, &p, &c, &e, TTL).await,
        Err(ConsumerError::InProgress(_))
    ));
    // Within the claim's lifetime (the other worker may still be running) it waits...
    c.advance(chrono::Duration::seconds(10));
    assert!(matches!(
        notify_customer(&s, &p, &c, &e, TTL).await,
        Err(ConsumerError::InProgress(_))
    ));
    // ...after it (that invocation has ended, by its timeout at the latest) it takes over.
    c.advance(chrono::Duration::seconds(2));
    notify_customer(&s, &p, &c, &e, TTL).await.unwrap();
    assert_eq!(p.events().len(), 1);
}
