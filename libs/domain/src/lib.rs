//! The order pipeline's domain, free of AWS types: the model (`ids`, `order`, `events`), the
//! ports the adapters implement (`ports`), and one module per flow with its request type, its
//! error type and its tests beside it. Which flow is where, with its entry, port, adapter,
//! twin and tests: `docs/code-map.md`.

pub mod cancel;
pub mod consumer;
pub mod events;
pub mod expiry;
pub mod hot_sku;
pub mod ids;
pub mod inventory;
pub mod list_orders;
pub mod notify;
pub mod order;
pub mod order_status;
pub mod outbox;
pub mod place;
pub mod ports;
pub mod products;
pub mod trace;
pub mod validation;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod test_world;

pub use events::{Event, EventPayload, EventType, OrderStatusChanged, EVENT_VERSION};
pub use ids::{
    log_fingerprint, AdjustmentId, Caller, ClientScope, CustomerId, EventId, IdempotencyKey,
    OrderId, Sku,
};
pub use order::{HistoryEntry, Order, OrderLine, OrderStatus, Outbox, Trigger};
pub use trace::TraceId;
pub use validation::{ErrorCode, ValidationError};
