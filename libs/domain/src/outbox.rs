//! Publishing an order's outbox: the events a write stored in the order's own item are
//! published in order, then the outbox is cleared if nothing was appended meanwhile. A crash
//! or a failed publish leaves it for a retry or the outbox sweeper, which republish the same
//! event ids (consumers dedupe by id).

use tracing::warn;

use crate::ids::OrderId;
use crate::order::Outbox;
use crate::ports::{EventPublisher, OrderStore, PublishError};

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
