//! Use cases over the in-memory ports: the pipeline's rules, end to end, without AWS.

use std::time::Duration;

use crate::events::{
    Event, EventPayload, EventType, InventoryRejected, InventoryReleased, InventoryReserved,
};
use crate::ids::{CustomerId, EventId, IdempotencyKey, OrderId, Sku};
use crate::order::{OrderLine, OrderStatus, Outbox};
use crate::ports::{OrderStore, ProductStore};
use crate::reservation::ReservationStatus;
use crate::testing::{FixedClock, InMemoryInventory, InMemoryOrders, RecordingPublisher};
use crate::usecases::*;
use crate::validation::ErrorCode;

/// The API key every test request comes with.
fn client() -> crate::ids::ClientScope {
    crate::ids::ClientScope::api_key_id("test-key-id")
}

/// How long a placing request may run in these tests (a 10 s API timeout plus the margin).
const WRITER: Duration = Duration::from_secs(11);

const BODY: &[u8] = br#"{"customer_id":"cust-1","lines":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-2","quantity":1}]}"#;

struct World {
    orders: InMemoryOrders,
    publisher: RecordingPublisher,
    clock: FixedClock,
}

fn world() -> World {
    World {
        orders: InMemoryOrders::new(),
        publisher: RecordingPublisher::new(),
        clock: FixedClock::default_time(),
    }
}

impl World {
    async fn place(&self, body: &[u8], key: Option<&str>) -> Result<Placed, ApiError> {
        place_order(
            &self.orders,
            &self.publisher,
            &self.clock,
            &client(),
            body,
            key,
            WRITER,
        )
        .await
    }
}

#[tokio::test]
async fn place_stores_pending_publishes_and_clears_outbox() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    assert!(!placed.replayed);
    assert_eq!(placed.order.status, OrderStatus::Pending);
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(stored.outbox, None, "outbox cleared after publish");
    assert_eq!(stored.history.len(), 1);
    let events = w.publisher.events();
    assert_eq!(events.len(), 2, "OrderPlaced, then the customer's news");
    assert_eq!(events[0].event_type(), EventType::OrderPlaced);
    assert!(
        matches!(&events[1].payload, EventPayload::OrderStatusChanged(c) if c.status == OrderStatus::Pending && c.seq == 1)
    );
    assert_eq!(events[0].order_id, placed.order.order_id);
    assert_eq!(
        events[0].id,
        EventId::for_order_event(&placed.order.order_id, "OrderPlaced")
    );
}

#[tokio::test]
async fn invalid_requests_store_and_publish_nothing() {
    let w = world();
    let e = w
        .place(br#"{"customer_id":"c","lines":[]}"#, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::Invalid(ref v) if v.field.as_deref() == Some("lines")),
        "{e:?}"
    );
    let e = w.place(BODY, Some("")).await.unwrap_err();
    assert!(matches!(e, ApiError::Invalid(ref v) if v.code == ErrorCode::InvalidIdempotencyKey));
    assert!(w.orders.is_empty());
    assert!(w.publisher.events().is_empty());
}

#[tokio::test]
async fn idempotency_key_same_body_same_order_no_second_event() {
    let w = world();
    let first = w.place(BODY, Some("key-1")).await.unwrap();
    let reordered = br#"{"lines":[{"sku":"SKU-2","quantity":1},{"sku":"SKU-1","quantity":2}],"customer_id":"cust-1"}"#;
    let second = w.place(reordered, Some("key-1")).await.unwrap();
    assert!(second.replayed);
    assert_eq!(first.order.order_id, second.order.order_id);
    assert_eq!(
        first.order.order_id,
        OrderId::for_idempotency_key(&client(), &IdempotencyKey::parse("key-1").unwrap())
    );
    assert_eq!(w.orders.len(), 1);
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced, EventType::OrderStatusChanged],
        "no second OrderPlaced"
    );
}

#[tokio::test]
async fn idempotency_key_with_different_body_conflicts() {
    let w = world();
    w.place(BODY, Some("key-1")).await.unwrap();
    let other = br#"{"customer_id":"cust-1","lines":[{"sku":"SKU-1","quantity":3}]}"#;
    let e = w.place(other, Some("key-1")).await.unwrap_err();
    assert!(matches!(e, ApiError::IdempotencyKeyReused), "{e:?}");
    assert_eq!(
        w.publisher.events().len(),
        2,
        "the first request's two events"
    );
}

#[tokio::test]
async fn a_lost_insert_answer_is_the_requests_own_write_not_a_500() {
    let w = world();
    w.orders.lose_insert_answers(1);
    let placed = w.place(BODY, None).await.unwrap();
    assert!(!placed.replayed);
    assert_eq!(w.orders.len(), 1, "one order, no duplicate");
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced, EventType::OrderStatusChanged]
    );
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert!(stored.outbox.is_none(), "published and cleared");
}

#[tokio::test]
async fn publish_failure_rolls_back_and_answers_unavailable() {
    let w = world();
    w.publisher.fail_next(1);
    let e = w.place(BODY, Some("key-1")).await.unwrap_err();
    assert!(matches!(e, ApiError::Unavailable(_)), "{e:?}");
    assert!(w.orders.is_empty(), "order deleted by the compensation");
    // The client's retry with the same key succeeds and publishes once.
    let placed = w.place(BODY, Some("key-1")).await.unwrap();
    assert!(!placed.replayed);
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced, EventType::OrderStatusChanged],
        "no status event for the rolled-back order, one for the order that stands"
    );
}

#[tokio::test]
async fn a_failed_status_publish_keeps_the_order_and_leaves_its_news_to_the_sweeper() {
    let w = world();
    w.publisher.fail_nth(2);
    let placed = w.place(BODY, None).await.unwrap();
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(
        stored.status,
        OrderStatus::Pending,
        "OrderPlaced is out: kept"
    );
    assert_eq!(stored.outbox.map(|b| b.events.len()), Some(2));
    w.clock.advance(chrono::Duration::seconds(61));
    let s = sweep_outbox(
        &w.orders,
        &w.publisher,
        &w.clock,
        Duration::from_secs(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!((s.republished, s.failed), (1, 0));
    assert_eq!(
        w.publisher.types(),
        [
            EventType::OrderPlaced,
            EventType::OrderPlaced,
            EventType::OrderStatusChanged
        ],
        "the republish repeats OrderPlaced under its id"
    );
}

/// Crash after the write, before the publish: the order sits with a pending outbox.
async fn crashed_placement(w: &World, key: &str) -> OrderId {
    let k = IdempotencyKey::parse(key).unwrap();
    let req = crate::validation::PlaceOrderRequest::parse(BODY).unwrap();
    let hash = req.canonical_hash();
    let now = crate::ports::Clock::now(&w.clock);
    let mut order = crate::order::Order::new_pending(
        OrderId::for_idempotency_key(&client(), &k),
        req.customer_id,
        req.lines,
        hash,
        now,
    );
    let status = Event::status_changed(
        &order.order_id,
        &order.customer_id,
        OrderStatus::Pending,
        None,
        now,
    );
    order.outbox = Some(Outbox::new(
        vec![Event::order_placed(&order, now), status],
        now,
    ));
    w.orders.insert_new(&order).await.unwrap();
    order.order_id
}

#[tokio::test]
async fn retried_request_republishes_a_crashed_placement() {
    let w = world();
    let id = crashed_placement(&w, "key-crash").await;
    // While the writing request may still run (and may still roll its order back), a retry
    // neither publishes nor acknowledges the order.
    w.clock.advance(chrono::Duration::seconds(10));
    let e = w.place(BODY, Some("key-crash")).await.unwrap_err();
    assert!(matches!(e, ApiError::IdempotencyKeyInUse), "{e:?}");
    assert!(w.publisher.events().is_empty());
    // Once its time is up, the retry finishes the crashed request's work.
    w.clock.advance(chrono::Duration::seconds(2));
    let placed = w.place(BODY, Some("key-crash")).await.unwrap();
    assert!(placed.replayed);
    assert_eq!(placed.order.order_id, id);
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced, EventType::OrderStatusChanged]
    );
    assert_eq!(w.orders.snapshot(&id).unwrap().outbox, None);
    // And a further retry publishes nothing more.
    w.place(BODY, Some("key-crash")).await.unwrap();
    assert_eq!(w.publisher.events().len(), 2);
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
    let s = sweep_outbox(&w.orders, &w.publisher, &w.clock, grace, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.republished, s.failed), (1, 1, 0));
    let published = w.publisher.events();
    assert_eq!(published.len(), 2);
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
async fn get_order_unknown_and_malformed_ids_are_not_found() {
    let w = world();
    assert!(matches!(
        get_order(&w.orders, "0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").await,
        Err(ApiError::OrderNotFound(_))
    ));
    assert!(matches!(
        get_order(&w.orders, "../etc").await,
        Err(ApiError::OrderNotFound(_))
    ));
    let placed = w.place(BODY, None).await.unwrap();
    let got = get_order(&w.orders, placed.order.order_id.as_str())
        .await
        .unwrap();
    assert_eq!(got.order_id, placed.order.order_id);
}

#[tokio::test]
async fn cancel_pending_then_repeat_is_harmless() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.to_string();
    let c = cancel_order(
        &w.orders,
        &w.publisher,
        &w.clock,
        &id,
        br#"{"reason":"oops"}"#,
    )
    .await
    .unwrap();
    assert!(c.changed);
    assert_eq!(c.order.status, OrderStatus::Cancelled);
    assert_eq!(
        c.order.history.last().unwrap().reason.as_deref(),
        Some("oops")
    );
    let again = cancel_order(&w.orders, &w.publisher, &w.clock, &id, b"")
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(
        w.publisher.types(),
        [
            EventType::OrderPlaced,
            EventType::OrderStatusChanged,
            EventType::OrderCancelled,
            EventType::OrderStatusChanged
        ]
    );
    let events = w.publisher.events();
    match &events[2].payload {
        EventPayload::OrderCancelled(d) => assert_eq!(d.reason.as_deref(), Some("oops")),
        other => panic!("{other:?}"),
    }
    match &events[3].payload {
        EventPayload::OrderStatusChanged(d) => {
            assert_eq!((d.status, d.seq), (OrderStatus::Cancelled, 3));
            assert_eq!(d.reason.as_deref(), Some("oops"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cancel_rejected_is_refused_and_unknown_is_not_found() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let rejected = inventory_event(&placed.order.order_id, false);
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &rejected)
        .await
        .unwrap();
    let id = placed.order.order_id.to_string();
    let e = cancel_order(&w.orders, &w.publisher, &w.clock, &id, b"")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::NotCancellable(OrderStatus::Rejected)),
        "{e:?}"
    );
    let e = cancel_order(
        &w.orders,
        &w.publisher,
        &w.clock,
        "0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11",
        b"",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ApiError::OrderNotFound(_)));
}

#[tokio::test]
async fn cancel_publish_failure_keeps_the_outbox_and_the_retry_publishes() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.to_string();
    w.publisher.fail_next(1);
    let e = cancel_order(&w.orders, &w.publisher, &w.clock, &id, b"")
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Unavailable(_)));
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(stored.status, OrderStatus::Cancelled);
    assert!(stored.outbox.is_some());
    let again = cancel_order(&w.orders, &w.publisher, &w.clock, &id, b"")
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(
        w.publisher.types(),
        [
            EventType::OrderPlaced,
            EventType::OrderStatusChanged,
            EventType::OrderCancelled,
            EventType::OrderStatusChanged
        ]
    );
    assert_eq!(
        w.orders.snapshot(&placed.order.order_id).unwrap().outbox,
        None
    );
}

fn inventory_event(order_id: &OrderId, reserved: bool) -> Event {
    let customer_id = CustomerId::parse("cust-1").unwrap();
    let payload = if reserved {
        EventPayload::InventoryReserved(InventoryReserved {
            customer_id,
            lines: vec![],
        })
    } else {
        EventPayload::InventoryRejected(InventoryRejected {
            customer_id,
            short_skus: vec![Sku::parse("SKU-2").unwrap()],
        })
    };
    Event::for_order(order_id, chrono::Utc::now(), payload)
}

#[tokio::test]
async fn order_status_confirms_once_and_never_goes_backwards() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.clone();
    let reserved = inventory_event(&id, true);
    assert_eq!(
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
            .await
            .unwrap(),
        Handled::Done {
            published: Some(EventType::OrderStatusChanged)
        }
    );
    assert_eq!(
        w.orders.snapshot(&id).unwrap().status,
        OrderStatus::Confirmed
    );
    // Duplicate and a late contradicting event are acknowledged and change nothing.
    assert!(matches!(
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
            .await
            .unwrap(),
        Handled::Skipped(_)
    ));
    let rejected = inventory_event(&id, false);
    assert!(matches!(
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &rejected)
            .await
            .unwrap(),
        Handled::Skipped(_)
    ));
    let o = w.orders.snapshot(&id).unwrap();
    assert_eq!(o.status, OrderStatus::Confirmed);
    assert_eq!(o.history.len(), 2);
    assert_eq!(o.applied_events, vec![reserved.id.clone()]);
    assert_eq!(
        w.publisher.types(),
        [
            EventType::OrderPlaced,
            EventType::OrderStatusChanged,
            EventType::OrderStatusChanged
        ],
        "one status change per applied event, none for the ignored ones"
    );
    assert!(
        matches!(&w.publisher.events()[2].payload, EventPayload::OrderStatusChanged(c) if c.status == OrderStatus::Confirmed)
    );
}

#[tokio::test]
async fn order_status_rejects_with_reason() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let rejected = inventory_event(&placed.order.order_id, false);
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &rejected)
        .await
        .unwrap();
    let o = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(o.history[1].reason.as_deref().unwrap().contains("SKU-2"));
}

fn released_event(order_id: &OrderId) -> Event {
    Event::for_order(
        order_id,
        chrono::Utc::now(),
        EventPayload::InventoryReleased(InventoryReleased {
            customer_id: CustomerId::parse("cust-1").unwrap(),
            lines: vec![],
        }),
    )
}

#[tokio::test]
async fn late_reservation_of_a_cancelled_order_is_acknowledged_and_publishes_nothing() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.clone();
    cancel_order(&w.orders, &w.publisher, &w.clock, id.as_str(), b"")
        .await
        .unwrap();
    for e in [inventory_event(&id, true), released_event(&id)] {
        assert!(matches!(
            apply_inventory_event(&w.orders, &w.publisher, &w.clock, &e)
                .await
                .unwrap(),
            Handled::Skipped(_)
        ));
    }
    assert_eq!(
        w.orders.snapshot(&id).unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(
        w.publisher.types(),
        [
            EventType::OrderPlaced,
            EventType::OrderStatusChanged,
            EventType::OrderCancelled,
            EventType::OrderStatusChanged
        ],
        "only the customer's own cancellation"
    );
}

#[tokio::test]
async fn reservation_for_a_missing_order_is_cancelled_with_a_deterministic_id() {
    let w = world();
    let id = OrderId::random();
    let reserved = Event::for_order(
        &id,
        chrono::Utc::now(),
        EventPayload::InventoryReserved(InventoryReserved {
            customer_id: CustomerId::parse("cust-7").unwrap(),
            lines: vec![],
        }),
    );
    // A redelivery answers again with the very same event id.
    for _ in 0..2 {
        assert_eq!(
            apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
                .await
                .unwrap(),
            Handled::Done {
                published: Some(EventType::OrderCancelled)
            }
        );
    }
    let out = w.publisher.events();
    assert_eq!(out.len(), 2);
    for e in &out {
        assert_eq!(
            e.id,
            EventId::for_order_event(&id, "OrderCancelled/abandoned-reservation")
        );
        assert_ne!(
            e.id,
            EventId::for_order_event(&id, "OrderCancelled"),
            "a real cancel of a recreated order is not its duplicate"
        );
        assert_eq!(e.order_id, id);
        assert_eq!(e.version, crate::EVENT_VERSION);
        match &e.payload {
            EventPayload::OrderCancelled(d) => {
                assert_eq!(d.customer_id.as_str(), "cust-7");
                assert_eq!(d.reason.as_deref(), Some(ABANDONED_RESERVATION_REASON));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(w.orders.is_empty(), "no order is created for it");
}

#[tokio::test]
async fn rejection_or_release_for_a_missing_order_is_acknowledged_only() {
    let w = world();
    let id = OrderId::random();
    for e in [inventory_event(&id, false), released_event(&id)] {
        assert_eq!(
            apply_inventory_event(&w.orders, &w.publisher, &w.clock, &e)
                .await
                .unwrap(),
            Handled::Skipped("order not found")
        );
    }
    assert!(w.publisher.events().is_empty());
    assert!(w.orders.is_empty());
}

#[tokio::test]
async fn failed_cancel_publish_fails_the_record_and_the_retry_publishes() {
    let w = world();
    let reserved = inventory_event(&OrderId::random(), true);
    w.publisher.fail_next(1);
    assert!(matches!(
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved).await,
        Err(ConsumerError::Publish(_))
    ));
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
        .await
        .unwrap();
    assert_eq!(w.publisher.types(), vec![EventType::OrderCancelled]);
}

/// The whole story: the API's publish times out after SNS took the message, the API rolls
/// the order back and answers 503, inventory reserves anyway; order-status cancels, and
/// inventory gives the stock back exactly once, even with every event redelivered.
#[tokio::test]
async fn abandoned_reservation_after_an_ambiguous_publish_is_released_once() {
    let w = world();
    let inv = InMemoryInventory::new();
    let inv_pub = RecordingPublisher::new();
    stock(&inv, "SKU-1", 5).await;
    stock(&inv, "SKU-2", 5).await;

    w.publisher.ambiguous_next(1);
    let e = w.place(BODY, None).await.unwrap_err();
    assert!(matches!(e, ApiError::Unavailable(_)), "{e:?}");
    assert!(w.orders.is_empty(), "rolled back");
    let placed = w.publisher.events();
    assert_eq!(placed.len(), 1, "but OrderPlaced went out");
    let placed = &placed[0];

    handle_inventory_event(&inv, &inv_pub, &w.clock, placed)
        .await
        .unwrap();
    let reserved = inv_pub.events()[0].clone();
    assert_eq!(reserved.event_type(), EventType::InventoryReserved);
    assert_eq!(inv.product("SKU-1").unwrap().reserved, 2);

    for _ in 0..2 {
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
            .await
            .unwrap();
    }
    let cancels: Vec<Event> = w.publisher.events()[1..].to_vec();
    assert_eq!(cancels.len(), 2);
    assert_eq!(cancels[0].id, cancels[1].id);
    for cancel in &cancels {
        assert_eq!(
            handle_inventory_event(&inv, &inv_pub, &w.clock, cancel)
                .await
                .unwrap(),
            Handled::Done {
                published: Some(EventType::InventoryReleased)
            }
        );
    }
    for (sku, n) in [("SKU-1", 5), ("SKU-2", 5)] {
        let p = inv.product(sku).unwrap();
        assert_eq!((p.available, p.reserved), (n, 0), "{sku} released once");
    }
    assert_eq!(
        inv.reservation(&placed.order_id).unwrap().status,
        ReservationStatus::Released
    );
    // The release comes back to order-status: acknowledged, nothing more published.
    let released = inv_pub.events().last().unwrap().clone();
    assert_eq!(released.event_type(), EventType::InventoryReleased);
    assert_eq!(
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &released)
            .await
            .unwrap(),
        Handled::Skipped("order not found")
    );
    assert_eq!(w.publisher.events().len(), 3);
    assert!(w.orders.is_empty());
}

/// What an abandoned placement left behind.
struct Abandoned {
    placed: Event,
    reserved: Event,
    cancel: Event,
}

/// Stock for BODY's SKUs; a placement whose publish went out although the API heard a failure
/// and rolled the order back; inventory reserved for it, and order-status, finding no order,
/// published `OrderCancelled` (not yet handled by inventory).
async fn abandoned_placement(
    w: &World,
    inv: &InMemoryInventory,
    inv_pub: &RecordingPublisher,
    key: Option<&str>,
) -> Abandoned {
    stock(inv, "SKU-1", 5).await;
    stock(inv, "SKU-2", 5).await;
    w.publisher.ambiguous_next(1);
    assert!(w.place(BODY, key).await.is_err());
    let placed = w.publisher.events()[0].clone();
    handle_inventory_event(inv, inv_pub, &w.clock, &placed)
        .await
        .unwrap();
    let reserved = inv_pub.events()[0].clone();
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved)
        .await
        .unwrap();
    let cancel = w.publisher.events().last().unwrap().clone();
    Abandoned {
        placed,
        reserved,
        cancel,
    }
}

/// The same story, then the client retries with its Idempotency-Key: the order comes back
/// under the same id, inventory can only answer with the recorded release, and order-status
/// ends the order as CANCELLED instead of leaving it PENDING forever.
#[tokio::test]
async fn retry_after_an_abandoned_reservation_ends_cancelled_not_pending() {
    let (w, inv, inv_pub) = (world(), InMemoryInventory::new(), RecordingPublisher::new());
    let key = Some("retry-me");
    let Abandoned { placed, cancel, .. } = abandoned_placement(&w, &inv, &inv_pub, key).await;
    handle_inventory_event(&inv, &inv_pub, &w.clock, &cancel)
        .await
        .unwrap();

    let retried = w.place(BODY, key).await.unwrap();
    assert_eq!(retried.order.order_id, placed.order_id, "same key, same id");
    let again = w
        .publisher
        .events()
        .into_iter()
        .rfind(|e| e.event_type() == EventType::OrderPlaced)
        .unwrap();
    assert_eq!(again.id, placed.id, "the same OrderPlaced");
    assert_eq!(
        handle_inventory_event(&inv, &inv_pub, &w.clock, &again)
            .await
            .unwrap(),
        Handled::Done {
            published: Some(EventType::InventoryReleased)
        }
    );
    let released = inv_pub.events().last().unwrap().clone();
    for _ in 0..2 {
        apply_inventory_event(&w.orders, &w.publisher, &w.clock, &released)
            .await
            .unwrap();
    }
    let o = w.orders.snapshot(&placed.order_id).unwrap();
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert_eq!(o.history.len(), 2, "cancelled once");
    assert_eq!(o.history[1].reason.as_deref(), Some(STOCK_RELEASED_REASON));
    let p = inv.product("SKU-1").unwrap();
    assert_eq!((p.available, p.reserved), (5, 0), "no stock held");
}

#[tokio::test]
async fn a_recreated_order_confirmed_by_an_old_reservation_ends_cancelled_when_it_is_released() {
    let (w, inv, inv_pub) = (world(), InMemoryInventory::new(), RecordingPublisher::new());
    let key = Some("recreated");
    // order-status asked inventory to release; that happens later.
    let Abandoned {
        reserved, cancel, ..
    } = abandoned_placement(&w, &inv, &inv_pub, key).await;
    assert_eq!(cancel.event_type(), EventType::OrderCancelled);

    // Meanwhile the client's retry recreates the order, and the republished reservation
    // confirms it.
    let retried = w.place(BODY, key).await.unwrap();
    let again = w.publisher.events().last().unwrap().clone();
    handle_inventory_event(&inv, &inv_pub, &w.clock, &again)
        .await
        .unwrap();
    let reserved_again = inv_pub.events().last().unwrap().clone();
    assert_eq!(
        reserved_again.id, reserved.id,
        "the recorded InventoryReserved"
    );
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &reserved_again)
        .await
        .unwrap();
    let id = retried.order.order_id;
    assert_eq!(
        w.orders.snapshot(&id).unwrap().status,
        OrderStatus::Confirmed
    );

    // Then the release asked for earlier happens: the confirmed order holds no stock now.
    handle_inventory_event(&inv, &inv_pub, &w.clock, &cancel)
        .await
        .unwrap();
    let released = inv_pub.events().last().unwrap().clone();
    assert_eq!(released.event_type(), EventType::InventoryReleased);
    apply_inventory_event(&w.orders, &w.publisher, &w.clock, &released)
        .await
        .unwrap();
    let o = w.orders.snapshot(&id).unwrap();
    assert_eq!(
        o.status,
        OrderStatus::Cancelled,
        "not CONFIRMED without stock"
    );
    assert_eq!(
        o.history.last().unwrap().reason.as_deref(),
        Some(STOCK_RELEASED_REASON)
    );
    let p = inv.product("SKU-1").unwrap();
    assert_eq!((p.available, p.reserved), (5, 0));
}

async fn stock(inv: &InMemoryInventory, sku: &str, n: u64) {
    let write = inv
        .create(&Sku::parse(sku).unwrap(), n, chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(write, crate::ports::StockWrite::Written(_)));
}

fn placed_event(order_id: &OrderId, lines: &[(&str, u32)]) -> Event {
    let order = crate::order::Order::new_pending(
        order_id.clone(),
        CustomerId::parse("cust-1").unwrap(),
        lines
            .iter()
            .map(|(s, q)| OrderLine {
                sku: Sku::parse(*s).unwrap(),
                quantity: *q,
            })
            .collect(),
        "h".into(),
        chrono::Utc::now(),
    );
    Event::order_placed(&order, chrono::Utc::now())
}

fn cancelled_event(order_id: &OrderId) -> Event {
    let order = crate::order::Order::new_pending(
        order_id.clone(),
        CustomerId::parse("cust-1").unwrap(),
        vec![],
        "h".into(),
        chrono::Utc::now(),
    );
    Event::order_cancelled(&order, None, chrono::Utc::now())
}

#[tokio::test]
async fn inventory_reserves_atomically_and_redelivery_changes_nothing() {
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    stock(&inv, "A", 5).await;
    stock(&inv, "B", 1).await;
    let id = OrderId::random();
    let e = placed_event(&id, &[("A", 2), ("B", 1)]);
    let r = handle_inventory_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(
        r,
        Handled::Done {
            published: Some(EventType::InventoryReserved)
        }
    );
    assert_eq!(
        (
            inv.product("A").unwrap().available,
            inv.product("A").unwrap().reserved
        ),
        (3, 2)
    );
    assert_eq!(inv.product("B").unwrap().available, 0);
    // Redelivery: same event republished, stock untouched.
    handle_inventory_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 3);
    let out = p.events();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], out[1], "identical republish");
}

#[tokio::test]
async fn inventory_rejects_naming_short_skus_and_takes_nothing() {
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    stock(&inv, "A", 5).await;
    stock(&inv, "B", 1).await;
    let id = OrderId::random();
    let e = placed_event(&id, &[("A", 2), ("B", 2), ("NOPE", 1)]);
    handle_inventory_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 5, "all or nothing");
    match &p.events()[0].payload {
        EventPayload::InventoryRejected(d) => assert_eq!(
            d.short_skus,
            vec![Sku::parse("B").unwrap(), Sku::parse("NOPE").unwrap()]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        inv.reservation(&id).unwrap().status,
        ReservationStatus::Rejected
    );
}

#[tokio::test]
async fn last_units_go_to_exactly_one_of_many_orders() {
    // Real concurrency against DynamoDB is covered by the orders-aws LocalStack tests.
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    stock(&inv, "LAST", 3).await;
    for _ in 0..10 {
        let e = placed_event(&OrderId::random(), &[("LAST", 3)]);
        handle_inventory_event(&inv, &p, &c, &e).await.unwrap();
    }
    let types = p.types();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::InventoryReserved)
            .count(),
        1
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::InventoryRejected)
            .count(),
        9
    );
    let last = inv.product("LAST").unwrap();
    assert_eq!((last.available, last.reserved), (0, 3));
}

#[tokio::test]
async fn cancellation_releases_exactly_once() {
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    stock(&inv, "A", 5).await;
    let id = OrderId::random();
    handle_inventory_event(&inv, &p, &c, &placed_event(&id, &[("A", 2)]))
        .await
        .unwrap();
    let cancel = cancelled_event(&id);
    for _ in 0..3 {
        let r = handle_inventory_event(&inv, &p, &c, &cancel).await.unwrap();
        assert_eq!(
            r,
            Handled::Done {
                published: Some(EventType::InventoryReleased)
            }
        );
    }
    let a = inv.product("A").unwrap();
    assert_eq!(
        (a.available, a.reserved),
        (5, 0),
        "released once, not three times"
    );
    let released: Vec<_> = p
        .events()
        .into_iter()
        .filter(|e| e.event_type() == EventType::InventoryReleased)
        .collect();
    assert_eq!(released.len(), 3);
    assert!(
        released.windows(2).all(|w| w[0] == w[1]),
        "same event each time"
    );
}

#[tokio::test]
async fn cancellation_before_reservation_blocks_the_late_order_placed() {
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    stock(&inv, "A", 5).await;
    let id = OrderId::random();
    let r = handle_inventory_event(&inv, &p, &c, &cancelled_event(&id))
        .await
        .unwrap();
    assert_eq!(r, Handled::Done { published: None });
    let r = handle_inventory_event(&inv, &p, &c, &placed_event(&id, &[("A", 2)]))
        .await
        .unwrap();
    assert_eq!(r, Handled::Done { published: None });
    assert_eq!(inv.product("A").unwrap().available, 5);
    assert!(p.events().is_empty());
    assert_eq!(
        inv.reservation(&id).unwrap().status,
        ReservationStatus::CancelledBeforeReserve
    );
}

#[tokio::test]
async fn inventory_skips_events_it_does_not_handle_and_fails_on_publish_errors() {
    let inv = InMemoryInventory::new();
    let p = RecordingPublisher::new();
    let c = FixedClock::default_time();
    let id = OrderId::random();
    let r = handle_inventory_event(&inv, &p, &c, &inventory_event(&id, true))
        .await
        .unwrap();
    assert!(matches!(r, Handled::Skipped(_)));
    stock(&inv, "A", 5).await;
    p.fail_next(1);
    let e = placed_event(&id, &[("A", 1)]);
    assert!(matches!(
        handle_inventory_event(&inv, &p, &c, &e).await,
        Err(ConsumerError::Publish(_))
    ));
    // The retry republishes from the record without reserving twice.
    handle_inventory_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 4);
    assert_eq!(p.types(), vec![EventType::InventoryReserved]);
}
