//! The `NotificationStore` contract: a message is claimed by one worker at a time, sent once,
//! never after a newer one of its order, and an order's messages go out one at a time.

use futures_util::future::join_all;

use super::{customer, decided, now};
use crate::ids::OrderId;
use crate::order::OrderStatus;
use crate::ports::{ClaimOutcome, NotificationRecord, NotificationStore};
use crate::Event;

/// Claims go stale after a minute here, as the notification consumer configures it.
const STALE_MS: i64 = 60_000;

async fn claim<S: NotificationStore>(t: &S, rec: &NotificationRecord, at_ms: i64) -> ClaimOutcome {
    t.claim(rec, at_ms, at_ms - STALE_MS).await.unwrap()
}

/// The record of `order_id`'s message for `status`.
pub fn record(order_id: &OrderId, status: OrderStatus) -> NotificationRecord {
    let e = Event::status_changed(order_id, &customer(), status, None, now());
    NotificationRecord {
        event_id: e.id,
        order_id: order_id.clone(),
        seq: status.seq(),
        customer_id: customer(),
        kind: status.as_str().into(),
        subject: "s".into(),
        message: "m".into(),
    }
}

pub async fn claim_mark_and_takeover<S: NotificationStore>(t: &S) {
    let rec = record(&OrderId::random(), OrderStatus::Pending);
    let t0 = 1_000_000_i64;
    assert_eq!(
        claim(t, &rec, t0).await,
        ClaimOutcome::Claimed { claimed_at_ms: t0 }
    );
    assert_eq!(claim(t, &rec, t0 + 1).await, ClaimOutcome::InProgress);
    // This worker's publish failed: it releases; another claims at once.
    t.release_claim(&rec, t0).await.unwrap();
    let t1 = t0 + 10;
    assert_eq!(
        claim(t, &rec, t1).await,
        ClaimOutcome::Claimed { claimed_at_ms: t1 }
    );
    // A stale claim (its worker died) is taken over once stale.
    let t2 = t1 + STALE_MS + 1_000;
    assert_eq!(
        claim(t, &rec, t2).await,
        ClaimOutcome::Claimed { claimed_at_ms: t2 }
    );
    // The old worker's release does not remove the new claim.
    t.release_claim(&rec, t1).await.unwrap();
    assert_eq!(claim(t, &rec, t2 + 1).await, ClaimOutcome::InProgress);
    t.mark_sent(&rec, t2, (now(), now())).await.unwrap();
    assert_eq!(
        claim(t, &rec, t2 + 1_000_000).await,
        ClaimOutcome::AlreadySent,
        "sent is final, however late the redelivery"
    );
}

pub async fn concurrent_claims_of_one_message_let_one_worker_in<S: NotificationStore>(t: &S) {
    let rec = record(&OrderId::random(), OrderStatus::Confirmed);
    let t0 = 2_000_000_i64;
    // A DynamoDB transaction that meets another may end undecided (`Retry`): retried, as
    // the consumer's redelivery would.
    let rec = &rec;
    let outcomes =
        join_all((0..8).map(|i| decided("claim", move || t.claim(rec, t0 + i, t0 + i - STALE_MS))))
            .await;
    let claimed = outcomes
        .iter()
        .filter(|o| matches!(o, ClaimOutcome::Claimed { .. }))
        .count();
    assert_eq!(claimed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ClaimOutcome::Claimed { .. } | ClaimOutcome::InProgress)),
        "{outcomes:?}"
    );
}

pub async fn claims_never_go_below_the_orders_high_water_mark<S: NotificationStore>(t: &S) {
    let order_id = OrderId::random();
    let t0 = 1_000_000_i64;
    let cancelled = record(&order_id, OrderStatus::Cancelled);
    assert!(matches!(
        claim(t, &cancelled, t0).await,
        ClaimOutcome::Claimed { .. }
    ));
    // "received" arrives after "cancelled" was claimed: never sent.
    let placed = record(&order_id, OrderStatus::Pending);
    assert_eq!(claim(t, &placed, t0 + 1).await, ClaimOutcome::Superseded);
    // The same message again (a redelivery after a released claim) may claim at the mark.
    t.release_claim(&cancelled, t0).await.unwrap();
    assert_eq!(
        claim(t, &cancelled, t0 + 2).await,
        ClaimOutcome::Claimed {
            claimed_at_ms: t0 + 2
        }
    );
    t.mark_sent(&cancelled, t0 + 2, (now(), now()))
        .await
        .unwrap();
    assert_eq!(
        claim(t, &placed, t0 + 3).await,
        ClaimOutcome::Superseded,
        "still, once the newer one is sent"
    );
    // Another order's mark is its own.
    let other = record(&OrderId::random(), OrderStatus::Pending);
    assert!(matches!(
        claim(t, &other, t0).await,
        ClaimOutcome::Claimed { .. }
    ));
}

pub async fn an_orders_messages_go_out_one_at_a_time<S: NotificationStore>(t: &S) {
    let order_id = OrderId::random();
    let (placed, confirmed) = (
        record(&order_id, OrderStatus::Pending),
        record(&order_id, OrderStatus::Confirmed),
    );
    let t0 = 1_000_000_i64;
    assert_eq!(
        claim(t, &placed, t0).await,
        ClaimOutcome::Claimed { claimed_at_ms: t0 }
    );
    // "received" is being published: "confirmed" must not overtake it.
    assert_eq!(claim(t, &confirmed, t0 + 1).await, ClaimOutcome::InProgress);
    t.mark_sent(&placed, t0, (now(), now())).await.unwrap();
    assert_eq!(
        claim(t, &confirmed, t0 + 2).await,
        ClaimOutcome::Claimed {
            claimed_at_ms: t0 + 2
        }
    );
    // A failed publish frees the order too; a claim left by a dead worker, once stale.
    t.release_claim(&confirmed, t0 + 2).await.unwrap();
    let cancelled = record(&order_id, OrderStatus::Cancelled);
    assert!(matches!(
        claim(t, &cancelled, t0 + 3).await,
        ClaimOutcome::Claimed { .. }
    ));
    let late = record(&order_id, OrderStatus::Cancelled);
    assert_eq!(claim(t, &late, t0 + 4).await, ClaimOutcome::InProgress);
    assert!(matches!(
        claim(t, &late, t0 + STALE_MS + 1_000).await,
        ClaimOutcome::Claimed { .. }
    ));
}
