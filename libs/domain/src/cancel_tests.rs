//! Cancelling orders over the in-memory ports.

use super::*;
use crate::events::{EventPayload, EventType};
use crate::order::OrderStatus;
use crate::test_world::*;

/// What a placed, then cancelled order published, in order.
const PLACED_THEN_CANCELLED: [EventType; 3] = [
    EventType::OrderPlaced,
    EventType::OrderCancelled,
    EventType::OrderStatusChanged,
];

#[tokio::test]
async fn cancel_pending_then_repeat_is_harmless() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.clone();
    let c = w.cancel(&id, Some("oops")).await.unwrap();
    assert!(c.changed);
    assert_eq!(c.order.status, OrderStatus::Cancelled);
    assert_eq!(
        c.order.history.last().unwrap().reason.as_deref(),
        Some("oops")
    );
    let again = w.cancel(&id, None).await.unwrap();
    assert!(!again.changed);
    assert_eq!(w.publisher.types(), PLACED_THEN_CANCELLED);
    let events = w.publisher.events();
    match &events[1].payload {
        EventPayload::OrderCancelled(d) => assert_eq!(d.reason.as_deref(), Some("oops")),
        other => panic!("{other:?}"),
    }
    match &events[2].payload {
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
    w.on_inventory(&rejected).await.unwrap();
    let id = placed.order.order_id.clone();
    let e = w.cancel(&id, None).await.unwrap_err();
    assert!(
        matches!(e, CancelError::NotCancellable(OrderStatus::Rejected)),
        "{e:?}"
    );
    let unknown = crate::ids::OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap();
    let e = w.cancel(&unknown, None).await.unwrap_err();
    assert!(matches!(e, CancelError::NotFound(_)));
}

#[tokio::test]
async fn cancel_publish_failure_keeps_the_outbox_and_the_retry_publishes() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.clone();
    w.publisher.fail_next(1);
    let e = w.cancel(&id, None).await.unwrap_err();
    assert!(matches!(e, CancelError::Unavailable(_)));
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(stored.status, OrderStatus::Cancelled);
    assert!(stored.outbox.is_some());
    let again = w.cancel(&id, None).await.unwrap();
    assert!(!again.changed);
    assert_eq!(w.publisher.types(), PLACED_THEN_CANCELLED);
    assert_eq!(
        w.orders.snapshot(&placed.order.order_id).unwrap().outbox,
        None
    );
}

#[tokio::test]
async fn another_customers_order_is_not_found_and_stays_as_it_was() {
    let w = world();
    let placed = w.place(BODY, None).await.unwrap();
    let id = placed.order.order_id.clone();
    let stranger = crate::CustomerId::parse("someone-else").unwrap();
    let e = cancel_order(
        &w.orders,
        &w.publisher,
        &w.clock,
        &id,
        &stranger,
        CancelRequest::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CancelError::NotFound(_)), "{e:?}");
    assert_eq!(w.orders.snapshot(&id).unwrap().status, OrderStatus::Pending);
    assert_eq!(
        w.publisher.types().len(),
        1,
        "nothing published past the placement"
    );
}

#[test]
fn cancel_request() {
    assert_eq!(CancelRequest::parse(b"").unwrap(), CancelRequest::default());
    assert_eq!(
        CancelRequest::parse(b"  \n").unwrap(),
        CancelRequest::default()
    );
    assert_eq!(
        CancelRequest::parse(b"{}").unwrap(),
        CancelRequest::default()
    );
    assert_eq!(
        CancelRequest::parse(br#"{"reason":"changed my mind"}"#)
            .unwrap()
            .reason
            .as_deref(),
        Some("changed my mind")
    );
    let long = format!(r#"{{"reason":"{}"}}"#, "x".repeat(MAX_REASON_CHARS + 1));
    assert_eq!(
        CancelRequest::parse(long.as_bytes()).unwrap_err().code,
        ErrorCode::InvalidValue
    );
    assert_eq!(
        CancelRequest::parse(b"nope").unwrap_err().code,
        ErrorCode::InvalidBody
    );
}
