//! The order pipeline's domain, free of AWS types. The model: identifiers (`ids`), orders and
//! their state machine (`order`), request validation (`validation`), the event contract
//! (`events`), the ports the adapters implement (`ports`). One module per flow, each with its
//! error type and its tests beside it:
//!
//! | flow | module | called by |
//! |---|---|---|
//! | place an order | `place` | orders-api |
//! | cancel an order | `cancel` | orders-api |
//! | a customer's own orders | `list_orders` | orders-api |
//! | product stock | `products` (shards: `stock`) | orders-api |
//! | reserve / release stock | `inventory` (decision: `reservation`) | inventory |
//! | spread a hot SKU over more shards | `hot_sku` | inventory |
//! | apply stock decisions to orders | `order_status` | order-status |
//! | tell the customer | `notify` | notification |
//! | publish outboxes, repair crashes | `outbox` | all writers, outbox-sweeper |
//! | end orders pending too long | `expiry` | outbox-sweeper |

pub mod cancel;
pub mod consumer;
pub mod events;
pub mod expiry;
pub mod hot_sku;
pub mod ids;
pub mod inventory;
pub mod list_orders;
pub mod model;
pub mod notify;
pub mod order;
pub mod order_status;
pub mod outbox;
pub mod place;
pub mod ports;
pub mod products;
pub mod reservation;
pub mod stock;
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
