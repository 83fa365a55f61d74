//! Placing an order (`POST /orders`): store it `PENDING` with its outbox, publish, answer.
//! The request arrives parsed and validated ([`PlaceOrder`]); HTTP is the API function's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use tracing::{info, warn};

use crate::events::Event;
use crate::ids::{ClientScope, EventId, IdempotencyKey, OrderId};
use crate::order::{Order, OrderStatus, Outbox};
use crate::outbox::{publish_outbox, publish_pending};
use crate::ports::{Clock, EventPublisher, InsertOutcome, OrderStore, StoreError};
use crate::validation::PlaceOrderRequest;

/// A validated order request and who sent it.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// Scopes the `Idempotency-Key`: the API key that made the request.
    pub client: ClientScope,
    pub key: Option<IdempotencyKey>,
    pub request: PlaceOrderRequest,
}

/// Why an order was not placed. None is the client's mistake in the body (that is refused
/// before, while parsing).
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// Same `Idempotency-Key`, different request.
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    /// A request with this `Idempotency-Key` may still be running; retry shortly.
    #[error("a request with this Idempotency-Key is in progress; retry shortly")]
    KeyInUse,
    /// A dependency failed; retrying the same request is safe.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// A stored record is corrupt, the store refused the request, or a random id collided
    /// (not the client's to retry).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PlaceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } | StoreError::Refused(_) => {
                PlaceError::Internal(e.to_string())
            }
            StoreError::Backend(_) | StoreError::Busy(_) | StoreError::Retry(_) => {
                PlaceError::Unavailable(e.to_string())
            }
        }
    }
}

/// A placed order and whether this request created it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub order: Order,
    /// `true` when an `Idempotency-Key` retry returned the existing order.
    pub replayed: bool,
}

/// Stores `PENDING` with the outbox `[OrderPlaced, OrderStatusChanged(PENDING)]`, publishes,
/// clears the outbox. No success unless `OrderPlaced` was published; a failure after it leaves
/// the status event to the outbox sweeper.
///
/// `writer_window` is how long the request that wrote an order may still be running: the API
/// function's timeout plus a margin. Until then that request may still roll its order back (if
/// its publish fails), so a retry with the same `Idempotency-Key` must not publish the order
/// and acknowledge it meanwhile: it gets [`PlaceError::KeyInUse`] instead.
pub async fn place_order<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    input: PlaceOrder,
    writer_window: Duration,
) -> Result<Placed, PlaceError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let PlaceOrder {
        client,
        key,
        request,
    } = input;
    let hash = request.canonical_hash();
    let order_id = match &key {
        Some(k) => OrderId::for_idempotency_key(&client, k),
        None => OrderId::random(),
    };
    let now = clock.now();
    let mut order = Order::new_pending(order_id, request.customer_id, request.lines, hash, now);
    let outbox = placement_outbox(&order, now);
    let event = outbox.events[0].clone();
    order.outbox = Some(outbox.clone());

    let mut outcome = orders.insert_new(&order).await?;
    if outcome == InsertOutcome::AlreadyExists && key.is_none() {
        // A random id cannot already exist unless this very request wrote it: the write
        // committed, its answer was lost, and the SDK's retry met its own condition. Carry on
        // as the write that it is (a second order from the client's retry would follow a 500).
        if let Some(existing) = orders.get(&order.order_id).await? {
            if existing.request_hash == order.request_hash && existing.outbox.is_some() {
                warn!(order_id = %order.order_id, "insert answered 'exists' for its own write (lost response)");
                outcome = InsertOutcome::Inserted;
            }
        }
    }
    match outcome {
        InsertOutcome::Inserted => {
            match publish_outbox(orders, publisher, &order.order_id, &outbox).await {
                Ok(()) => order.outbox = None,
                Err(u) if u.published == 0 => {
                    compensate(orders, &order.order_id, &event.id).await;
                    return Err(PlaceError::Unavailable(u.error.to_string()));
                }
                // OrderPlaced is out, so the order stands; the sweeper publishes the rest.
                Err(u) => {
                    warn!(order_id = %order.order_id, error = %u, "order placed; the rest of its outbox waits for the sweeper")
                }
            }
            info!(order_id = %order.order_id, event_id = %event.id, "order placed");
            Ok(Placed {
                order,
                replayed: false,
            })
        }
        InsertOutcome::AlreadyExists if key.is_some() => {
            let Some(mut existing) = orders.get(&order.order_id).await? else {
                // Deleted by a concurrent request's compensation: nothing to return yet.
                return Err(PlaceError::Unavailable(
                    "the order with this Idempotency-Key is being rolled back; retry".into(),
                ));
            };
            if existing.request_hash != order.request_hash {
                return Err(PlaceError::KeyReused);
            }
            // Only a PENDING order can still be rolled back by its writer; once it moved on
            // (confirmed meanwhile, its news still in the outbox) the retry may answer for it.
            if let Some(outbox) = existing
                .outbox
                .as_ref()
                .filter(|_| existing.status == OrderStatus::Pending)
            {
                let age = (now - outbox.since).to_std().unwrap_or_default();
                if age < writer_window {
                    return Err(PlaceError::KeyInUse);
                }
            }
            publish_pending(orders, publisher, &mut existing)
                .await
                .map_err(|u| PlaceError::Unavailable(u.to_string()))?;
            info!(order_id = %existing.order_id, "idempotent replay");
            Ok(Placed {
                order: existing,
                replayed: true,
            })
        }
        InsertOutcome::AlreadyExists => Err(PlaceError::Internal(format!(
            "random order id {} collided",
            order.order_id
        ))),
    }
}

/// What a new order publishes: `OrderPlaced` (for inventory), then the customer's news.
pub(crate) fn placement_outbox(order: &Order, now: DateTime<Utc>) -> Outbox {
    let placed = Event::order_placed(order, now);
    let status = Event::status_changed(
        &order.order_id,
        &order.customer_id,
        OrderStatus::Pending,
        None,
        now,
    );
    Outbox::new(vec![placed, status], now)
}

/// Publish failed: delete the order unless something published it meanwhile. Whether SNS
/// got the message is unknown; if it did, inventory may reserve for the deleted order and
/// order-status then publishes `OrderCancelled` to release it
/// ([`crate::order_status::on_inventory_event`]).
async fn compensate<O: OrderStore>(orders: &O, id: &OrderId, event_id: &EventId) {
    match orders.delete_unpublished(id, event_id).await {
        Ok(true) => info!(order_id = %id, "publish failed; order rolled back"),
        Ok(false) => warn!(order_id = %id, "publish failed; order no longer unpublished, kept"),
        // The outbox stays pending: the sweeper publishes it after the grace period.
        Err(e) => {
            warn!(order_id = %id, error = %e, "publish failed and rollback failed; outbox sweeper will publish")
        }
    }
}

#[cfg(test)]
#[path = "place_tests.rs"]
mod tests;
