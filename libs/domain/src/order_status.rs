//! The order-status flow: applies inventory's decisions to the order (`PENDING -> CONFIRMED |
//! REJECTED`, and `-> CANCELLED` when the stock of a recreated order was released) by a
//! conditional write that also stores the `OrderStatusChanged` it then publishes.

use tracing::{info, warn};

use crate::consumer::{ConsumerError, Handled};
use crate::events::{Event, EventPayload, EventType};
use crate::order::{HistoryEntry, Order, OrderStatus, Outbox, Trigger};
use crate::outbox::publish_outbox;
use crate::ports::{
    Clock, EventPublisher, OrderStore, StoreError, TransitionOutcome, TransitionWrite,
};

/// `reason` of the `OrderCancelled` that order-status publishes for a reservation whose
/// order does not exist.
pub const ABANDONED_RESERVATION_REASON: &str = "order not found: abandoned reservation released";

/// History reason when the stock of a recreated order was released (see
/// [`Trigger::InventoryReleased`]).
pub const STOCK_RELEASED_REASON: &str =
    "stock released: the order was rolled back and placed again; place a new order";

/// Handles one inventory event: `PENDING -> CONFIRMED | REJECTED`, once per event id, never
/// backwards, appending `OrderStatusChanged` to the outbox in the same write and publishing
/// it. A late or duplicate event is acknowledged; a redelivery after a failed publish finds
/// the outbox still pending and publishes it.
///
/// An `InventoryReserved` for an order that does not exist (the API rolled it back after an
/// ambiguous publish that in fact went out) is answered with `OrderCancelled`, so inventory
/// releases the stock: the orders side owns orders, so it is the one to say this order is
/// gone. Other inventory events for a missing order are acknowledged with a warning.
pub async fn on_inventory_event<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    event: &Event,
) -> Result<Handled, ConsumerError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let (trigger, reason) = match &event.payload {
        EventPayload::InventoryReserved(_) => (Trigger::InventoryReserved, None),
        EventPayload::InventoryRejected(d) => (
            Trigger::InventoryRejected,
            Some(d.reason.clone().unwrap_or_else(|| {
                format!(
                    "insufficient stock: {}",
                    d.short_skus
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })),
        ),
        // The normal release follows a cancel, so the order is CANCELLED already and the
        // write's condition fails (acknowledged below). A PENDING or CONFIRMED order moves:
        // only a recreated order meets this, and no stock is held for it any more.
        EventPayload::InventoryReleased(_) => (
            Trigger::InventoryReleased,
            Some(STOCK_RELEASED_REASON.to_string()),
        ),
        _ => return Ok(Handled::Skipped("no status change for this event")),
    };
    let now = clock.now();
    let status = Event::status_changed(
        &event.order_id,
        event.payload.customer_id(),
        trigger.target(),
        reason.clone(),
        now,
    );
    let outbox = Outbox::new(vec![status], now);
    let write = TransitionWrite {
        order_id: &event.order_id,
        trigger,
        entry: HistoryEntry {
            status: trigger.target(),
            at: now,
            reason,
            event_id: Some(event.id.clone()),
        },
        applied_event: Some(&event.id),
        outbox: Some(&outbox),
        at: now,
    };
    match orders.transition(write).await? {
        TransitionOutcome::Applied(mut o) => {
            info!(order_id = %o.order_id, status = o.status.as_str(), "order status changed");
            let pending = o.outbox.take().unwrap_or(outbox);
            publish_outbox(orders, publisher, &o.order_id, &pending).await?;
            Ok(Handled::Done {
                published: Some(EventType::OrderStatusChanged),
            })
        }
        // The condition also fails for a missing order; only a (strongly consistent) read
        // tells which, and it is paid only when the condition failed.
        TransitionOutcome::NotApplied => match orders.get(&event.order_id).await? {
            // A redelivery after this consumer's publish failed. (A PENDING order's outbox is
            // its placement's, which that request publishes or rolls back.)
            Some(Order {
                outbox: Some(pending),
                status,
                ..
            }) if status != OrderStatus::Pending => {
                publish_outbox(orders, publisher, &event.order_id, &pending).await?;
                info!(order_id = %event.order_id, event_id = %event.id, "pending outbox republished");
                Ok(Handled::Done {
                    published: pending.events.last().map(Event::event_type),
                })
            }
            Some(_) => {
                info!(order_id = %event.order_id, event_id = %event.id, "late or duplicate event ignored");
                Ok(Handled::Skipped("late or duplicate"))
            }
            None => answer_missing_order(orders, publisher, clock, event).await,
        },
    }
}

/// The order an inventory event is about does not exist.
async fn answer_missing_order<O: OrderStore, P: EventPublisher, C: Clock>(
    orders: &O,
    publisher: &P,
    clock: &C,
    event: &Event,
) -> Result<Handled, ConsumerError> {
    let EventPayload::InventoryReserved(d) = &event.payload else {
        // Nothing is held for it (rejected) or nothing is held any more (released).
        warn!(order_id = %event.order_id, event_id = %event.id, event_type = %event.event_type(), "inventory event for an order that does not exist; acknowledged");
        return Ok(Handled::Skipped("order not found"));
    };
    // Recorded before the release is asked for: an order placed again under this id (an
    // Idempotency-Key retry after its rollback) then never applies this event, should SQS
    // deliver it again, and is not confirmed with stock that is being released.
    if !orders
        .record_event_for_absent_order(&event.order_id, &event.id)
        .await?
    {
        return Err(StoreError::Retry(format!(
            "order {} was placed again meanwhile: the event is retried against it",
            event.order_id
        ))
        .into());
    }
    // The id is derived from the order id, so a redelivered InventoryReserved republishes
    // the same OrderCancelled and inventory releases once.
    let out = Event::abandoned_reservation(
        &event.order_id,
        &d.customer_id,
        ABANDONED_RESERVATION_REASON.to_string(),
        clock.now(),
    );
    // Acknowledged only once published: a failure fails the record and SQS retries it.
    publisher.publish(&out).await?;
    warn!(order_id = %event.order_id, event_id = %out.id, "stock reserved for an order that does not exist; OrderCancelled published to release it");
    Ok(Handled::Done {
        published: Some(EventType::OrderCancelled),
    })
}

#[cfg(test)]
#[path = "order_status_tests.rs"]
mod tests;
