//! A terminal state for every order: an order still `PENDING` after the pending timeout (its
//! `OrderPlaced` sits in a dead-letter queue, or the pipeline was down) is `REJECTED` with a
//! reason, exactly once (a conditional transition), `OrderStatusChanged(REJECTED)` tells the
//! customer, and `OrderCancelled` is published so that
//! inventory releases whatever it reserved, or leaves a tombstone so that a late `OrderPlaced`
//! (a redriven message) reserves nothing.

use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::events::Event;
use crate::order::{Outbox, Trigger};
use crate::outbox::publish_outbox;
use crate::ports::{
    Clock, EventPublisher, OrderStore, StoreError, TransitionOutcome, TransitionWrite,
};

/// History and event reason of an order that waited too long.
pub const PENDING_TIMEOUT_REASON: &str =
    "no stock decision within the pending timeout; nothing is reserved for this order";

/// What an expiry pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExpirySummary {
    pub scanned: usize,
    pub expired: usize,
    pub failed: usize,
}

/// Rejects the `PENDING` orders created more than `timeout` ago (at most `limit` per pass).
/// A failed publish leaves the `OrderCancelled` in the order's outbox: the outbox sweep
/// republishes it, so the release still happens.
pub async fn expire_pending<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    timeout: Duration,
    limit: usize,
) -> Result<ExpirySummary, StoreError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let cutoff = clock.now() - timeout;
    let ids = orders.stale_pending(cutoff, limit).await?;
    let mut summary = ExpirySummary {
        scanned: ids.len(),
        ..ExpirySummary::default()
    };
    for id in ids {
        // The index is eventually consistent; the item (and the write's condition) decides.
        let order = match orders.get(&id).await {
            Ok(Some(o)) if o.created_at <= cutoff => o,
            Ok(_) => continue,
            Err(e) => {
                warn!(order_id = %id, error = %e, "expiry: read failed");
                summary.failed += 1;
                continue;
            }
        };
        let now = clock.now();
        let reason = Some(PENDING_TIMEOUT_REASON.to_string());
        let event = Event::order_cancelled(&order, reason.clone(), now);
        let status = Event::status_changed(
            &id,
            &order.customer_id,
            Trigger::TimedOut.target(),
            reason.clone(),
            now,
        );
        let outbox = Outbox::new(vec![event.clone(), status], now);
        let write = TransitionWrite::announced(&id, Trigger::TimedOut, reason, &outbox, now);
        let pending = match orders.transition(write).await {
            // Decided meanwhile (confirmed, rejected, cancelled): not ours to end.
            Ok(TransitionOutcome::NotApplied) => continue,
            Ok(TransitionOutcome::Applied(mut updated)) => updated.outbox.take().unwrap_or(outbox),
            Err(e) => {
                warn!(order_id = %id, error = %e, "expiry: transition failed");
                summary.failed += 1;
                continue;
            }
        };
        summary.expired += 1;
        match publish_outbox(orders, publisher, &id, &pending).await {
            Ok(()) => {
                info!(order_id = %id, event_id = %event.id, "pending order timed out: rejected");
            }
            Err(e) => {
                warn!(order_id = %id, error = %e, "expiry: publish failed; the outbox sweep republishes it");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
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
}
