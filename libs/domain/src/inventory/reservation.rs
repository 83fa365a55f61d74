//! Stock reservations: the record kept per order, how a cancelled reservation transaction
//! is read, and which inventory event a recorded reservation stands for.
//!
//! The reservation is keyed by order id and written in the same transaction as the stock
//! change, so a redelivered `OrderPlaced` finds it and changes nothing: it only
//! republishes the event the record stands for (same deterministic event id).

use chrono::{DateTime, Utc};

use crate::events::{
    Event, EventPayload, EventType, InventoryRejected, InventoryReleased, InventoryReserved,
};
use crate::ids::{CustomerId, OrderId, Sku};
use crate::order::OrderLine;

/// State of an order's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservationStatus {
    /// Stock is held for the order.
    Reserved,
    /// Some lines were short; nothing is held.
    Rejected,
    /// Stock was held and given back after a cancellation.
    Released,
    /// The cancellation arrived first; a late `OrderPlaced` must reserve nothing.
    CancelledBeforeReserve,
}

impl ReservationStatus {
    pub const ALL: [ReservationStatus; 4] = [
        ReservationStatus::Reserved,
        ReservationStatus::Rejected,
        ReservationStatus::Released,
        ReservationStatus::CancelledBeforeReserve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Reserved => "RESERVED",
            ReservationStatus::Rejected => "REJECTED",
            ReservationStatus::Released => "RELEASED",
            ReservationStatus::CancelledBeforeReserve => "CANCELLED_BEFORE_RESERVE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The reservation record (Reservations table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub status: ReservationStatus,
    pub lines: Vec<OrderLine>,
    pub short_skus: Vec<Sku>,
    /// A rejection's reason when it is not short stock (see [`InventoryRejected::reason`]).
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl Reservation {
    /// The tombstone a cancel leaves when it arrives before any reservation: a redelivered
    /// or late `OrderPlaced` then reserves nothing.
    pub fn cancelled_before_reserve(
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> Self {
        Reservation {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            status: ReservationStatus::CancelledBeforeReserve,
            lines: Vec::new(),
            short_skus: Vec::new(),
            reason: None,
            updated_at: at,
        }
    }
}

/// What a reserve or release call left in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The reservation after the call.
    pub reservation: Reservation,
    /// `true` if this call wrote it; `false` if it was already there (redelivery).
    pub newly_written: bool,
}

/// Outcome of one item of a cancelled write transaction, as far as the decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFailure {
    /// The item's condition held (it did not cause the cancellation).
    None,
    /// The item's condition failed.
    ConditionFailed,
    /// Anything else: a conflicting concurrent transaction, throttling, validation.
    Other,
}

/// How to read a cancelled reserve transaction whose first item is the reservation put and
/// whose item `i + 1` takes units of line `item_lines[i]` from one stock shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveVerdict {
    /// The reservation already exists: a redelivery (or a cancellation that came first).
    Duplicate,
    /// These lines (indexes, ascending) found too few units on a shard they tried: read
    /// their stock and take from other shards, or reject the order if all of it is short.
    Missed(Vec<usize>),
    /// Not a decision (conflict, throttling, unexpected shape): retry the message.
    Retry,
}

/// The reservation decision for a cancelled transaction, pure.
pub fn classify_reserve_cancellation(
    reasons: &[ItemFailure],
    item_lines: &[usize],
) -> ReserveVerdict {
    if reasons.len() != item_lines.len() + 1 {
        return ReserveVerdict::Retry;
    }
    if reasons[0] == ItemFailure::ConditionFailed {
        return ReserveVerdict::Duplicate;
    }
    // A conflict anywhere means the stock check may not be final; retrying is cheap and
    // never oversells, rejecting an order that would have fitted is not.
    if reasons.contains(&ItemFailure::Other) {
        return ReserveVerdict::Retry;
    }
    let mut missed: Vec<usize> = reasons[1..]
        .iter()
        .zip(item_lines)
        .filter(|(r, _)| **r == ItemFailure::ConditionFailed)
        .map(|(_, &line)| line)
        .collect();
    // A re-planned line's items move to the end: sort before dropping repeats.
    missed.sort_unstable();
    missed.dedup();
    if missed.is_empty() {
        ReserveVerdict::Retry
    } else {
        ReserveVerdict::Missed(missed)
    }
}

/// The inventory event a reservation record stands for, given the input that led to it.
///
/// `OrderPlaced`: `RESERVED` -> `InventoryReserved`, `REJECTED` -> `InventoryRejected`,
/// `RELEASED` -> `InventoryReleased` (the same event the release published: saying
/// "reserved" now would contradict it, and an order recreated under the same id must hear
/// that its stock is gone), `CANCELLED_BEFORE_RESERVE` -> nothing (nothing was ever held).
/// `OrderCancelled`: `RELEASED` -> `InventoryReleased`; otherwise nothing was held.
pub fn inventory_event_for(input: EventType, r: &Reservation) -> Option<Event> {
    let customer_id = r.customer_id.clone();
    let payload = match (input, r.status) {
        (EventType::OrderPlaced, ReservationStatus::Reserved) => {
            EventPayload::InventoryReserved(InventoryReserved {
                customer_id,
                lines: r.lines.clone(),
            })
        }
        (EventType::OrderPlaced, ReservationStatus::Rejected) => {
            EventPayload::InventoryRejected(InventoryRejected {
                customer_id,
                short_skus: r.short_skus.clone(),
                reason: r.reason.clone(),
            })
        }
        (EventType::OrderPlaced | EventType::OrderCancelled, ReservationStatus::Released) => {
            EventPayload::InventoryReleased(InventoryReleased {
                customer_id,
                lines: r.lines.clone(),
            })
        }
        _ => return None,
    };
    // occurred_at is the record's time, so a republished event is identical to the first.
    Some(Event::for_order(&r.order_id, r.updated_at, payload))
}

#[cfg(test)]
#[path = "reservation_tests.rs"]
mod tests;
