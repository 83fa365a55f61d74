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
        // The index is eventually consistent: the item, and the write's condition (still
        // pending), decide. (Its creation time never changes, so it needs no check again.)
        let order = match orders.get(&id).await {
            Ok(Some(o)) => o,
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
#[path = "expiry_tests.rs"]
mod tests;
