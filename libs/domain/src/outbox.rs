//! Publishing an order's outbox: the events a write stored in the order's own item are
//! published in order, then the outbox is cleared if nothing was appended meanwhile. A crash
//! or a failed publish leaves it for a retry or the outbox sweeper, which republish the same
//! event ids (consumers dedupe by id).

use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::ids::OrderId;
use crate::order::{Order, Outbox};
use crate::ports::{Clock, EventPublisher, OrderStore, PublishError, StoreError};

/// A publish of the outbox failed after `published` of its events went out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} (after {published} of the outbox's events)")]
pub struct Unpublished {
    pub published: usize,
    pub error: PublishError,
}

impl From<Unpublished> for PublishError {
    fn from(u: Unpublished) -> Self {
        u.error
    }
}

/// Publishes every event of `outbox` in order, then clears it. Stops at the first failed
/// publish and keeps the outbox.
pub async fn publish_outbox<O: OrderStore, P: EventPublisher>(
    orders: &O,
    publisher: &P,
    order_id: &OrderId,
    outbox: &Outbox,
) -> Result<(), Unpublished> {
    for (published, event) in outbox.events.iter().enumerate() {
        if let Err(error) = publisher.publish(event).await {
            return Err(Unpublished { published, error });
        }
    }
    // The events are out; a failed clear only means the sweeper republishes the same ids.
    match orders.clear_outbox(order_id, outbox).await {
        Ok(true) => {}
        Ok(false) => {
            warn!(order_id = %order_id, "outbox changed while publishing; what was appended is published by its writer or the sweeper")
        }
        Err(e) => {
            warn!(order_id = %order_id, error = %e, "outbox not cleared; the sweeper will republish (same event ids)")
        }
    }
    Ok(())
}

/// Publishes an order's pending outbox, if any, and clears it (a retried request repairing a
/// crash, or a repeated cancel).
pub async fn publish_pending<O: OrderStore, P: EventPublisher>(
    orders: &O,
    publisher: &P,
    order: &mut Order,
) -> Result<(), Unpublished> {
    if let Some(outbox) = order.outbox.take() {
        publish_outbox(orders, publisher, &order.order_id, &outbox).await?;
        info!(order_id = %order.order_id, events = outbox.events.len(), "pending outbox republished");
    }
    Ok(())
}

/// What a sweep did (`{"scanned": n, "republished": n, "failed": n}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    pub scanned: usize,
    pub republished: usize,
    pub failed: usize,
}

/// Outbox sweeper: republish events whose publish never completed (crash between the
/// write and the publish), older than `grace` so in-flight requests finish first.
pub async fn sweep_outbox<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    grace: Duration,
    limit: usize,
) -> Result<SweepSummary, StoreError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
    let cutoff = clock.now() - grace;
    let ids = orders.stale_outbox(cutoff, limit).await?;
    let mut summary = SweepSummary {
        scanned: ids.len(),
        ..SweepSummary::default()
    };
    for id in ids {
        // The index is eventually consistent; the item decides.
        let order = match orders.get(&id).await {
            Ok(Some(o)) => o,
            Ok(None) => continue,
            Err(e) => {
                warn!(order_id = %id, error = %e, "sweep: read failed");
                summary.failed += 1;
                continue;
            }
        };
        let Some(outbox) = order.outbox.as_ref().filter(|o| o.since <= cutoff) else {
            continue;
        };
        match publish_outbox(orders, publisher, &id, outbox).await {
            Ok(()) => {
                info!(order_id = %id, events = outbox.events.len(), "sweep: republished");
                summary.republished += 1;
            }
            Err(e) => {
                warn!(order_id = %id, error = %e, "sweep: publish failed; to the back of the line");
                summary.failed += 1;
                // A publish that keeps failing (a poison entry) must not take a place among
                // the oldest `limit` forever: newer entries go first next time.
                if let Err(e) = orders.requeue_outbox(&id, outbox, clock.now()).await {
                    warn!(order_id = %id, error = %e, "sweep: requeue failed; retried next run");
                }
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
