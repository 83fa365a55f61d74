//! The order model in one place: orders and their state machine (here), lines and statuses
//! (`line`, what events speak of too), the outbox of unpublished events (`outbox`).
//!
//! ```text
//! PENDING --InventoryReserved--> CONFIRMED --Cancel--> CANCELLED
//!    |  \--InventoryRejected--> REJECTED (terminal)
//!    \----Cancel-------------------------------------> CANCELLED (terminal; Cancel again: unchanged)
//! ```
//! Adapters never read-then-write: they turn a trigger into a conditional write whose
//! condition is [`Trigger::allowed_from`] and whose new status is [`Trigger::target`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{Event, EventPayload, OrderCancelled, OrderPlaced};
use crate::ids::{CustomerId, EventId, OrderId};
pub use line::{OrderLine, OrderStatus};
pub use outbox::Outbox;

pub mod line;
mod outbox;

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `InventoryReserved` arrived.
    InventoryReserved,
    /// `InventoryRejected` arrived.
    InventoryRejected,
    /// The customer asked to cancel.
    Cancel,
    /// `InventoryReleased` arrived for an order that is not cancelled. Only a recreated order
    /// meets this: its placement was rolled back after an ambiguous publish, the abandoned
    /// reservation was released, and a retry with the same Idempotency-Key brought the order
    /// back under the same id. Whether it still waits for stock or was confirmed by the
    /// republished `InventoryReserved` of that earlier reservation, no stock is held for it
    /// any more (one reservation per order id, and it is released), so it ends cancelled.
    InventoryReleased,
    /// The order waited for stock longer than the pending timeout (its `OrderPlaced` sits in a
    /// dead-letter queue, or the pipeline is down): it ends rejected, and any reservation is
    /// released, so no order waits forever.
    TimedOut,
}

impl Trigger {
    pub const ALL: [Trigger; 5] = [
        Trigger::InventoryReserved,
        Trigger::InventoryRejected,
        Trigger::Cancel,
        Trigger::InventoryReleased,
        Trigger::TimedOut,
    ];

    /// The status a successful trigger leads to.
    pub fn target(self) -> OrderStatus {
        match self {
            Trigger::InventoryReserved => OrderStatus::Confirmed,
            Trigger::InventoryRejected | Trigger::TimedOut => OrderStatus::Rejected,
            Trigger::Cancel | Trigger::InventoryReleased => OrderStatus::Cancelled,
        }
    }

    /// The statuses from which the trigger moves the order (the write condition).
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        match self {
            Trigger::InventoryReserved | Trigger::InventoryRejected | Trigger::TimedOut => {
                &[OrderStatus::Pending]
            }
            Trigger::Cancel | Trigger::InventoryReleased => {
                &[OrderStatus::Pending, OrderStatus::Confirmed]
            }
        }
    }
}

/// Result of applying a trigger to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The order moves to this status.
    Moved(OrderStatus),
    /// Already there (cancelling a cancelled order): harmless, nothing to write.
    Unchanged,
}

/// A trigger that does not apply: late, duplicate, or forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order is {}; {trigger:?} does not apply", from.as_str())]
pub struct TransitionError {
    pub from: OrderStatus,
    pub trigger: Trigger,
}

/// The state machine, pure.
pub fn transition(from: OrderStatus, trigger: Trigger) -> Result<Transition, TransitionError> {
    if trigger.allowed_from().contains(&from) {
        Ok(Transition::Moved(trigger.target()))
    } else if from == trigger.target() && trigger == Trigger::Cancel {
        Ok(Transition::Unchanged)
    } else {
        Err(TransitionError { from, trigger })
    }
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
    pub status: OrderStatus,
    pub history: Vec<HistoryEntry>,
    /// Ids of inventory events already applied (dedupe).
    pub applied_events: Vec<EventId>,
    /// SHA-256 hex of the canonical request (idempotency).
    pub request_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub outbox: Option<Outbox>,
}

impl Order {
    /// A new `PENDING` order with one history entry and no outbox yet.
    pub fn new_pending(
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<OrderLine>,
        request_hash: String,
        now: DateTime<Utc>,
    ) -> Self {
        Order {
            order_id,
            customer_id,
            lines,
            status: OrderStatus::Pending,
            history: vec![HistoryEntry {
                status: OrderStatus::Pending,
                at: now,
                reason: None,
                event_id: None,
            }],
            applied_events: Vec::new(),
            request_hash,
            created_at: now,
            updated_at: now,
            outbox: None,
        }
    }
}

/// The events an order itself stands for (here, not in `events`, so that the event contract
/// does not depend on the order model).
impl Event {
    /// `OrderPlaced` for a new order; its id is derived from the order id.
    pub fn order_placed(order: &Order, at: DateTime<Utc>) -> Self {
        Self::new(
            &order.order_id,
            at,
            EventPayload::OrderPlaced(OrderPlaced {
                customer_id: order.customer_id.clone(),
                lines: order.lines.clone(),
            }),
        )
    }

    /// `OrderCancelled` for an order that is cancelled (by its customer) or rejected (pending
    /// timeout): either ends the order, so it happens at most once per order.
    pub fn order_cancelled(order: &Order, reason: Option<String>, at: DateTime<Utc>) -> Self {
        Self::new(
            &order.order_id,
            at,
            EventPayload::OrderCancelled(OrderCancelled {
                customer_id: order.customer_id.clone(),
                reason,
            }),
        )
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
