//! The inventory flow: reserve stock on `OrderPlaced`, release it on `OrderCancelled`, then
//! publish the event the reservation record stands for (again, on a redelivery, under the
//! same id). Inventory in one place: the flow (here), the reserve/release decision
//! ([`reservation`]), stock spread over shards ([`stock`]).

use tracing::info;

use crate::consumer::{ConsumerError, Handled};
use crate::events::{Event, EventPayload};
use crate::ports::{Clock, EventPublisher, InventoryStore};
use reservation::{inventory_event_for, Recorded};

pub mod reservation;
pub mod stock;

/// Handles one order event delivered to inventory.
pub async fn on_order_event<S, P, C>(
    store: &S,
    publisher: &P,
    clock: &C,
    event: &Event,
) -> Result<Handled, ConsumerError>
where
    S: InventoryStore,
    P: EventPublisher,
    C: Clock,
{
    let recorded: Recorded = match &event.payload {
        EventPayload::OrderPlaced(d) => {
            store
                .reserve(&event.order_id, &d.customer_id, &d.lines, clock.now())
                .await?
        }
        EventPayload::OrderCancelled(d) => {
            store
                .release(&event.order_id, &d.customer_id, clock.now())
                .await?
        }
        _ => return Ok(Handled::Skipped("not an inventory input")),
    };
    info!(
        order_id = %event.order_id,
        reservation = recorded.reservation.status.as_str(),
        newly_written = recorded.newly_written,
        "reservation recorded"
    );
    match inventory_event_for(event.event_type(), &recorded.reservation) {
        Some(out) => {
            publisher.publish(&out).await?;
            Ok(Handled::Done {
                published: Some(out.event_type()),
            })
        }
        None => Ok(Handled::Done { published: None }),
    }
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
