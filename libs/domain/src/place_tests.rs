//! Placing orders over the in-memory ports.

use super::*;
use crate::events::EventType;
use crate::ids::{EventId, IdempotencyKey, OrderId};
use crate::order::OrderStatus;
use crate::test_world::*;

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
    assert_eq!(
        events.len(),
        1,
        "OrderPlaced, which is also the customer's first news"
    );
    assert_eq!(events[0].event_type(), EventType::OrderPlaced);
    assert_eq!(events[0].order_id, placed.order.order_id);
    assert_eq!(
        events[0].id,
        EventId::for_order_event(&placed.order.order_id, "OrderPlaced")
    );
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
        [EventType::OrderPlaced],
        "no second OrderPlaced"
    );
}

#[tokio::test]
async fn idempotency_key_with_different_body_conflicts() {
    let w = world();
    w.place(BODY, Some("key-1")).await.unwrap();
    let other = br#"{"customer_id":"cust-1","lines":[{"sku":"SKU-1","quantity":3}]}"#;
    let e = w.place(other, Some("key-1")).await.unwrap_err();
    assert!(matches!(e, PlaceError::KeyReused), "{e:?}");
    assert_eq!(w.publisher.events().len(), 1, "the first request's event");
}

#[tokio::test]
async fn a_lost_insert_answer_is_the_requests_own_write_not_a_500() {
    let w = world();
    w.orders.lose_insert_answers(1);
    let placed = w.place(BODY, None).await.unwrap();
    assert!(!placed.replayed);
    assert_eq!(w.orders.len(), 1, "one order, no duplicate");
    assert_eq!(w.publisher.types(), [EventType::OrderPlaced]);
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert!(stored.outbox.is_none(), "published and cleared");
}

#[tokio::test]
async fn publish_failure_rolls_back_and_answers_unavailable() {
    let w = world();
    w.publisher.fail_next(1);
    let e = w.place(BODY, Some("key-1")).await.unwrap_err();
    assert!(matches!(e, PlaceError::Unavailable(_)), "{e:?}");
    assert!(w.orders.is_empty(), "order deleted by the compensation");
    // The client's retry with the same key succeeds and publishes once.
    let placed = w.place(BODY, Some("key-1")).await.unwrap();
    assert!(!placed.replayed);
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced],
        "nothing for the rolled-back order, one event for the order that stands"
    );
}

#[tokio::test]
async fn an_insert_that_failed_without_an_answer_is_settled_by_a_read() {
    // Written, answer lost: the read finds it, the request carries on.
    let w = world();
    w.orders.fail_inserts(1, true);
    let placed = w.place(BODY, None).await.unwrap();
    assert_eq!(w.orders.len(), 1);
    assert!(w
        .orders
        .snapshot(&placed.order.order_id)
        .unwrap()
        .outbox
        .is_none());
    // Not written: nothing is stored, and the retry the 503 invites is safe.
    let w = world();
    w.orders.fail_inserts(1, false);
    let e = w.place(BODY, None).await.unwrap_err();
    assert!(matches!(e, PlaceError::Unavailable(_)), "{e:?}");
    assert!(w.orders.is_empty());
}

#[tokio::test]
async fn an_answer_that_may_have_stored_the_order_names_it_instead_of_inviting_a_retry() {
    // Written, answer lost, and the read that would settle it fails too.
    let w = world();
    w.orders.fail_inserts(1, true);
    w.orders.fail_gets(1);
    let e = w.place(BODY, None).await.unwrap_err();
    let PlaceError::MaybeStored { order_id, .. } = e else {
        panic!("{e:?}")
    };
    let stored = w
        .orders
        .snapshot(&order_id)
        .expect("the order the answer names");
    assert!(stored.outbox.is_some(), "the sweeper publishes it");
    // The same when the SDK's retry met its own write ("exists") and the read failed.
    let w = world();
    w.orders.lose_insert_answers(1);
    w.orders.fail_gets(1);
    let e = w.place(BODY, None).await.unwrap_err();
    assert!(matches!(e, PlaceError::MaybeStored { .. }), "{e:?}");
    assert_eq!(w.orders.len(), 1);
    // With a key the id is the key's, so a plain retry is safe and is what the answer says.
    let w = world();
    w.orders.fail_inserts(1, true);
    w.orders.fail_gets(1);
    let e = w.place(BODY, Some("key-1")).await.unwrap_err();
    assert!(matches!(e, PlaceError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn a_failed_publish_whose_rollback_fails_is_an_accepted_order_not_a_503() {
    // The order stays stored with its outbox: a 503 would invite a retry placing it twice.
    let w = world();
    w.publisher.fail_next(1);
    w.orders.fail_deletes(1);
    let placed = w.place(BODY, None).await.unwrap();
    let stored = w.orders.snapshot(&placed.order.order_id).unwrap();
    assert_eq!(
        stored.outbox.map(|b| b.events.len()),
        Some(1),
        "left to the sweeper"
    );
    assert!(w.publisher.events().is_empty());
    assert_eq!(w.orders.len(), 1);
}

#[tokio::test]
async fn a_rollback_whose_answer_was_lost_is_settled_by_a_read_not_called_kept() {
    // The delete took effect; its answer was lost and the SDK's retry met its own delete. A
    // 202 for an order that no longer exists would be waited for forever.
    let w = world();
    w.publisher.fail_next(1);
    w.orders.lose_delete_answers(1);
    let e = w.place(BODY, None).await.unwrap_err();
    assert!(matches!(e, PlaceError::Unavailable(_)), "{e:?}");
    assert!(w.orders.is_empty());
}

#[tokio::test]
async fn a_rollback_nobody_can_settle_names_the_order_that_may_exist() {
    let w = world();
    w.publisher.fail_next(1);
    w.orders.fail_deletes(1);
    w.orders.fail_gets(1);
    let e = w.place(BODY, None).await.unwrap_err();
    let PlaceError::MaybeStored { order_id, .. } = e else {
        panic!("{e:?}")
    };
    assert!(
        w.orders.snapshot(&order_id).is_some(),
        "it does: the sweeper publishes it"
    );
}

#[tokio::test]
async fn a_retry_after_the_order_moved_on_answers_for_it_even_with_news_still_pending() {
    // The first request's OrderPlaced went out and the order was confirmed before the request
    // cleared its outbox: order-status appended CONFIRMED behind PENDING. No writer can roll
    // a CONFIRMED order back, so a retry with the key gets the order, not "in use".
    let w = world();
    let id = crashed_placement(&w, "key-moved-on").await;
    let reserved = inventory_event(&id, true);
    w.publisher.fail_next(1);
    let r = w.on_inventory(&reserved).await;
    assert!(r.is_err(), "its publish failed: the outbox stays");
    assert_eq!(
        w.orders
            .snapshot(&id)
            .unwrap()
            .outbox
            .map(|b| b.events.len()),
        Some(2),
        "placement's event and CONFIRMED"
    );
    let placed = w.place(BODY, Some("key-moved-on")).await.unwrap();
    assert!(placed.replayed);
    assert_eq!(placed.order.status, OrderStatus::Confirmed);
    assert_eq!(
        w.orders.snapshot(&id).unwrap().outbox,
        None,
        "republished and cleared"
    );
    assert_eq!(
        w.publisher.types(),
        [EventType::OrderPlaced, EventType::OrderStatusChanged]
    );
}

#[tokio::test]
async fn retried_request_republishes_a_crashed_placement() {
    let w = world();
    let id = crashed_placement(&w, "key-crash").await;
    // While the writing request may still run (and may still roll its order back), a retry
    // neither publishes nor acknowledges the order.
    w.clock.advance(chrono::Duration::seconds(10));
    let e = w.place(BODY, Some("key-crash")).await.unwrap_err();
    assert!(matches!(e, PlaceError::KeyInUse), "{e:?}");
    assert!(w.publisher.events().is_empty());
    // Once its time is up (to the second), the retry finishes the crashed request's work.
    w.clock.advance(chrono::Duration::seconds(1));
    let placed = w.place(BODY, Some("key-crash")).await.unwrap();
    assert!(placed.replayed);
    assert_eq!(placed.order.order_id, id);
    assert_eq!(w.publisher.types(), [EventType::OrderPlaced]);
    assert_eq!(w.orders.snapshot(&id).unwrap().outbox, None);
    // And a further retry publishes nothing more.
    w.place(BODY, Some("key-crash")).await.unwrap();
    assert_eq!(w.publisher.events().len(), 1);
}

/// A placement without a key whose fresh id is `id` (a random id that collided).
async fn place_as(w: &World, id: &OrderId, body: &[u8]) -> Result<Placed, PlaceError> {
    let input = PlaceOrder {
        client: client(),
        key: None,
        request: PlaceOrderRequest::parse(body, &customer()).unwrap(),
        fresh_id: id.clone(),
    };
    place_order(&w.orders, &w.publisher, &w.clock, input, WRITER).await
}

const OTHER_BODY: &[u8] = br#"{"customer_id":"cust-1","lines":[{"sku":"SKU-9","quantity":1}]}"#;

#[tokio::test]
async fn a_random_id_that_collides_is_an_internal_error_never_someone_elses_order() {
    let w = world();
    let first = w.place(BODY, None).await.unwrap().order.order_id;
    // The same request, already published: not this request's own write (that one would
    // still hold its outbox), so not answered as if it were, and not published again.
    let e = place_as(&w, &first, BODY).await.unwrap_err();
    assert!(matches!(e, PlaceError::Internal(_)), "{e:?}");
    let e = place_as(&w, &first, OTHER_BODY).await.unwrap_err();
    assert!(matches!(e, PlaceError::Internal(_)), "{e:?}");
    // An insert without an answer that meets another order is not taken for this one.
    w.orders.fail_inserts(1, false);
    let e = place_as(&w, &first, OTHER_BODY).await.unwrap_err();
    assert!(matches!(e, PlaceError::Internal(_)), "{e:?}");
    assert_eq!(w.publisher.types(), [EventType::OrderPlaced]);
}

#[tokio::test]
async fn a_keyed_insert_without_an_answer_is_settled_as_the_keys_order() {
    // Written, answer lost: with a key, the order may be another request's with the same key,
    // still being written (and rolled back): the retry is told to wait, not given the order.
    let w = world();
    w.orders.fail_inserts(1, true);
    let e = w.place(BODY, Some("key-lost")).await.unwrap_err();
    assert!(matches!(e, PlaceError::KeyInUse), "{e:?}");
    assert!(w.publisher.events().is_empty());
}
