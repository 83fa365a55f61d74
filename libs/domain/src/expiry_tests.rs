//! Ending orders pending too long over the in-memory ports.

use super::*;
use crate::events::{EventPayload, EventType};
use crate::ids::{CustomerId, OrderId, Sku};
use crate::order::{Order, OrderLine, OrderStatus};
use crate::testing::{FixedClock, InMemoryOrders, RecordingPublisher};

const TIMEOUT: Duration = Duration::from_secs(900);

async fn pending(orders: &InMemoryOrders, clock: &FixedClock) -> OrderId {
    let o = Order::new_pending(
        OrderId::random(),
        CustomerId::parse("c").unwrap(),
        vec![OrderLine {
            sku: Sku::parse("A").unwrap(),
            quantity: 1,
        }],
        "h".into(),
        clock.now(),
    );
    orders.insert_new(&o).await.unwrap();
    o.order_id
}

#[tokio::test]
async fn a_pending_order_past_the_timeout_is_rejected_once_and_released() {
    let (orders, publisher, clock) = (
        InMemoryOrders::new(),
        RecordingPublisher::new(),
        FixedClock::default_time(),
    );
    let old = pending(&orders, &clock).await;
    clock.advance(chrono::Duration::seconds(899));
    let young = pending(&orders, &clock).await;
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!(s, ExpirySummary::default(), "not yet");

    clock.advance(chrono::Duration::seconds(2));
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.expired, s.failed), (1, 1, 0));
    let o = orders.snapshot(&old).unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    assert_eq!(
        o.history.last().unwrap().reason.as_deref(),
        Some(PENDING_TIMEOUT_REASON)
    );
    assert!(o.outbox.is_none(), "published and cleared");
    assert_eq!(
        orders.snapshot(&young).unwrap().status,
        OrderStatus::Pending
    );
    let out = publisher.events();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].event_type(), EventType::OrderCancelled);
    assert!(
        matches!(&out[1].payload, EventPayload::OrderStatusChanged(c) if c.status == OrderStatus::Rejected && c.reason.as_deref() == Some(PENDING_TIMEOUT_REASON)),
        "the customer hears 'rejected', with the reason"
    );
    assert!(
        matches!(&out[0].payload, EventPayload::OrderCancelled(c) if c.reason.as_deref() == Some(PENDING_TIMEOUT_REASON))
    );

    // Exactly once: the next pass finds nothing to do.
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!(s.expired, 0);
    assert_eq!(publisher.events().len(), 2);
}

#[tokio::test]
async fn a_failed_publish_stays_in_the_outbox_for_the_sweep() {
    let (orders, publisher, clock) = (
        InMemoryOrders::new(),
        RecordingPublisher::new(),
        FixedClock::default_time(),
    );
    let id = pending(&orders, &clock).await;
    clock.advance(chrono::Duration::seconds(901));
    publisher.fail_next(1);
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!((s.expired, s.failed), (1, 1));
    let o = orders.snapshot(&id).unwrap();
    assert_eq!(o.status, OrderStatus::Rejected);
    let pending: Vec<_> = o
        .outbox
        .map(|b| b.events.iter().map(Event::event_type).collect())
        .unwrap_or_default();
    assert_eq!(
        pending,
        [EventType::OrderCancelled, EventType::OrderStatusChanged],
        "the release and the customer's news are not lost"
    );
}

#[tokio::test]
async fn a_read_or_a_transition_that_fails_is_counted_and_left_for_the_next_pass() {
    let (orders, publisher, clock) = (
        InMemoryOrders::new(),
        RecordingPublisher::new(),
        FixedClock::default_time(),
    );
    let ids = [
        pending(&orders, &clock).await,
        pending(&orders, &clock).await,
    ];
    clock.advance(chrono::Duration::seconds(901));
    orders.fail_gets(1);
    orders.fail_transitions(1);
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.expired, s.failed), (2, 0, 2));
    assert!(publisher.events().is_empty());
    let s = expire_pending(&orders, &publisher, &clock, TIMEOUT, 100)
        .await
        .unwrap();
    assert_eq!((s.scanned, s.expired, s.failed), (2, 2, 0));
    for id in &ids {
        assert_eq!(orders.snapshot(id).unwrap().status, OrderStatus::Rejected);
    }
}
