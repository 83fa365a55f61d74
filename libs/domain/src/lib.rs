//! The order pipeline's domain, free of AWS types: identifiers, orders and their state
//! machine, request validation, the event contract, the reservation decision, customer
//! notification text, the ports (traits) the adapters implement, and the use cases that
//! the Lambda handlers call.

pub mod events;
pub mod expiry;
pub mod ids;
pub mod notify;
pub mod order;
pub mod outbox;
pub mod ports;
pub mod products;
pub mod reservation;
pub mod usecases;
pub mod validation;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod usecases_tests;

pub use events::{Event, EventPayload, EventType, OrderStatusChanged, EVENT_VERSION};
pub use ids::{ClientScope, CustomerId, EventId, IdempotencyKey, OrderId, Sku};
pub use order::{HistoryEntry, Order, OrderLine, OrderStatus, OrderView, Outbox, Trigger};
pub use validation::{ErrorCode, ValidationError};
