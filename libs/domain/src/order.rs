//! Orders, lines and the order state machine.
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
pub use crate::model::{OrderLine, OrderStatus};

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

/// Events written with the order in the same item, not yet known to be published, in the
/// order they are to be published. A transition appends to what is still pending, so an
/// unpublished event is never lost to a later write; the outbox is cleared only as a whole,
/// and only if nothing was appended since it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    pub events: Vec<Event>,
    /// When its first event was written; the sweeper republishes outboxes older than its
    /// grace period.
    pub since: DateTime<Utc>,
}

impl Outbox {
    pub fn new(events: Vec<Event>, since: DateTime<Utc>) -> Self {
        Outbox { events, since }
    }

    /// The first event's id: with the length, what identifies this outbox to a clear.
    pub fn first_id(&self) -> Option<&EventId> {
        self.events.first().map(|e| &e.id)
    }
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
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn transition_table_is_exactly_this() {
        use Transition::*;
        use Trigger::*;
        let expected = [
            (Pending, InventoryReserved, Some(Moved(Confirmed))),
            (Pending, InventoryRejected, Some(Moved(Rejected))),
            (Pending, Cancel, Some(Moved(Cancelled))),
            (Confirmed, InventoryReserved, None),
            (Confirmed, InventoryRejected, None),
            (Confirmed, Cancel, Some(Moved(Cancelled))),
            (Rejected, InventoryReserved, None),
            (Rejected, InventoryRejected, None),
            (Rejected, Cancel, None),
            (Cancelled, InventoryReserved, None),
            (Cancelled, InventoryRejected, None),
            (Cancelled, Cancel, Some(Unchanged)),
            (Pending, InventoryReleased, Some(Moved(Cancelled))),
            (Confirmed, InventoryReleased, Some(Moved(Cancelled))),
            (Rejected, InventoryReleased, None),
            (Cancelled, InventoryReleased, None),
            (Pending, TimedOut, Some(Moved(Rejected))),
            (Confirmed, TimedOut, None),
            (Rejected, TimedOut, None),
            (Cancelled, TimedOut, None),
        ];
        assert_eq!(expected.len(), OrderStatus::ALL.len() * Trigger::ALL.len());
        for (from, trig, want) in expected {
            let got = transition(from, trig);
            match want {
                Some(t) => assert_eq!(got, Ok(t), "{from:?} + {trig:?}"),
                None => assert_eq!(
                    got,
                    Err(TransitionError {
                        from,
                        trigger: trig
                    }),
                    "{from:?} + {trig:?}"
                ),
            }
        }
    }

    #[test]
    fn no_trigger_leaves_a_terminal_status_or_goes_back_to_pending() {
        for from in OrderStatus::ALL {
            for trig in Trigger::ALL {
                if let Ok(Transition::Moved(to)) = transition(from, trig) {
                    assert!(!from.is_terminal(), "{from:?} left by {trig:?}");
                    assert_ne!(to, Pending);
                }
            }
        }
    }

    #[test]
    fn allowed_from_agrees_with_transition() {
        for trig in Trigger::ALL {
            for from in OrderStatus::ALL {
                let moves = matches!(transition(from, trig), Ok(Transition::Moved(_)));
                assert_eq!(
                    moves,
                    trig.allowed_from().contains(&from),
                    "{from:?} {trig:?}"
                );
            }
        }
    }

    #[test]
    fn every_transition_raises_the_status_seq() {
        for from in OrderStatus::ALL {
            for trig in Trigger::ALL {
                if let Ok(Transition::Moved(to)) = transition(from, trig) {
                    assert!(to.seq() > from.seq(), "{from:?} -> {to:?} by {trig:?}");
                }
            }
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
        }
        assert_eq!(OrderStatus::parse("pending"), None);
    }
}
