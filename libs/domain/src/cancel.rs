//! Cancelling an order (`POST /orders/{id}/cancel`): `PENDING|CONFIRMED -> CANCELLED` by a
//! conditional write that appends `[OrderCancelled, OrderStatusChanged(CANCELLED)]` to the
//! outbox, then publish. Repeating it is harmless; a `REJECTED` order is refused.

use serde_json::Value;
use tracing::info;

use crate::events::Event;
use crate::ids::{CustomerId, OrderId};
use crate::order::{transition, Order, OrderStatus, Outbox, Transition, Trigger};
use crate::outbox::{publish_outbox, publish_pending};
use crate::ports::{
    Clock, EventPublisher, OrderStore, StoreError, TransitionOutcome, TransitionWrite,
};
use crate::validation::{parse_object, reject_unknown, wrong_type, ErrorCode, ValidationError};

/// Why an order was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("order {0} not found")]
    NotFound(OrderId),
    /// The order's status does not allow it.
    #[error("order is {}, it cannot be cancelled", .0.as_str())]
    NotCancellable(OrderStatus),
    /// A dependency failed; retrying the same request is safe.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// A stored record is corrupt, or the store refused the request (not the client's to retry).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for CancelError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } | StoreError::Refused(_) => {
                CancelError::Internal(e.to_string())
            }
            StoreError::Backend(_) | StoreError::Busy(_) | StoreError::Retry(_) => {
                CancelError::Unavailable(e.to_string())
            }
        }
    }
}

/// Outcome of a cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    pub order: Order,
    /// `false` when the order was already cancelled (harmless repeat).
    pub changed: bool,
}

pub async fn cancel_order<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    id: &OrderId,
    owner: &CustomerId,
    request: CancelRequest,
) -> Result<Cancelled, CancelError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    // The read supplies the event's data (customer id, immutable); the decision is the
    // conditional write's. Losing a race re-reads, a bounded number of times.
    for _ in 0..3 {
        // Another customer's order is answered as no order at all: no existence oracle.
        let Some(mut order) = orders.get(id).await?.filter(|o| &o.customer_id == owner) else {
            return Err(CancelError::NotFound(id.clone()));
        };
        let to = match transition(order.status, Trigger::Cancel) {
            Err(e) => return Err(CancelError::NotCancellable(e.from)),
            Ok(Transition::Unchanged) => {
                publish_pending(orders, publisher, &mut order)
                    .await
                    .map_err(|u| CancelError::Unavailable(u.to_string()))?;
                return Ok(Cancelled {
                    order,
                    changed: false,
                });
            }
            Ok(Transition::Moved(to)) => to,
        };
        let now = clock.now();
        let reason = request.reason.clone();
        let event = Event::order_cancelled(&order, reason.clone(), now);
        let status = Event::status_changed(id, &order.customer_id, to, reason.clone(), now);
        let outbox = Outbox::new(vec![event, status], now);
        let write = TransitionWrite::announced(id, Trigger::Cancel, reason, &outbox, now);
        let TransitionOutcome::Applied(mut updated) = orders.transition(write).await? else {
            continue;
        };
        // The cancellation is recorded; if the publish fails the outbox stays and a retry (or
        // the sweeper) publishes it. What the write returned includes anything still pending.
        let pending = updated.outbox.take().unwrap_or(outbox);
        publish_outbox(orders, publisher, id, &pending)
            .await
            .map_err(|u| CancelError::Unavailable(u.to_string()))?;
        info!(order_id = %id, "order cancelled");
        return Ok(Cancelled {
            order: *updated,
            changed: true,
        });
    }
    Err(CancelError::Unavailable(
        "the order kept changing; retry".into(),
    ))
}

/// Longest cancellation reason.
pub const MAX_REASON_CHARS: usize = 200;

/// A validated `POST /orders/{id}/cancel` body: empty, or `{"reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

impl CancelRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(CancelRequest::default());
        }
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["reason"], "")?;
        match obj.get("reason") {
            None | Some(Value::Null) => Ok(CancelRequest::default()),
            Some(Value::String(s)) if s.chars().count() <= MAX_REASON_CHARS => Ok(CancelRequest {
                reason: Some(s.clone()),
            }),
            Some(Value::String(_)) => Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "reason",
                format!("reason is at most {MAX_REASON_CHARS} characters"),
            )),
            Some(_) => Err(wrong_type("reason", "a string")),
        }
    }
}

#[cfg(test)]
#[path = "cancel_tests.rs"]
mod tests;
