//! Placing an order (`POST /orders`): store it `PENDING` with its outbox, publish, answer.
//! The request is parsed and validated here ([`PlaceOrderRequest`]); HTTP is the API
//! function's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::{info, warn};

use crate::events::Event;
use crate::ids::{sha256_hex, ClientScope, CustomerId, EventId, IdempotencyKey, OrderId, Sku};
use crate::order::{Order, OrderLine, OrderStatus, Outbox};
use crate::outbox::{publish_outbox, publish_pending};
use crate::ports::{Clock, EventPublisher, InsertOutcome, OrderStore, StoreError};
use crate::validation::{
    missing, parse_object, reject_unknown, wrong_type, ErrorCode, ValidationError,
};

/// A validated order request and who sent it.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// Scopes the `Idempotency-Key`: the API key that made the request.
    pub client: ClientScope,
    pub key: Option<IdempotencyKey>,
    pub request: PlaceOrderRequest,
    /// The order's id when there is no key (with a key it is derived from it): chosen before
    /// the flow runs, so an answer cut short (out of time) can still name the order it may
    /// have stored.
    pub fresh_id: OrderId,
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
    /// A dependency failed and nothing was stored; retrying the same request is safe.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// A dependency failed after the order may have been stored (a write whose answer was
    /// lost and could not be checked): a blind retry without an Idempotency-Key could place
    /// it twice, so the client is told which order to look up first. If it was stored, the
    /// outbox sweeper publishes it.
    #[error("order {order_id} may have been stored: {detail}")]
    MaybeStored { order_id: OrderId, detail: String },
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

/// Stores `PENDING` with the outbox `[OrderPlaced]`, publishes, clears the outbox. No success
/// unless `OrderPlaced` was published: if it was not, the order is rolled back (or, if even that
/// fails, left to the outbox sweeper).
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
        fresh_id,
    } = input;
    let hash = request.canonical_hash();
    let order_id = match &key {
        Some(k) => OrderId::for_idempotency_key(&client, k),
        None => fresh_id,
    };
    let now = clock.now();
    let mut order = Order::new_pending(order_id, request.customer_id, request.lines, hash, now);
    let outbox = placement_outbox(&order, now);
    let event = outbox.events[0].clone();
    order.outbox = Some(outbox.clone());

    let mut outcome = match orders.insert_new(&order).await {
        Ok(outcome) => outcome,
        Err(e) => settle_insert(orders, &order, key.is_some(), e).await?,
    };
    if outcome == InsertOutcome::AlreadyExists && key.is_none() {
        // A random id cannot already exist unless this very request wrote it: the write
        // committed, its answer was lost, and the SDK's retry met its own condition. Carry on
        // as the write that it is (a second order from the client's retry would follow a 500).
        let existing = orders
            .get(&order.order_id)
            .await
            .map_err(|e| PlaceError::MaybeStored {
                order_id: order.order_id.clone(),
                detail: format!("insert answered 'exists', then {e}"),
            })?;
        if let Some(existing) = existing {
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
                // Its one event did not go out: nobody heard of the order, so it is undone.
                Err(u) => match compensate(orders, &order.order_id, &event.id).await {
                    RolledBack::Gone => return Err(PlaceError::Unavailable(u.error.to_string())),
                    RolledBack::Unknown(detail) => {
                        return Err(PlaceError::MaybeStored {
                            order_id: order.order_id.clone(),
                            detail: format!("{}; {detail}", u.error),
                        })
                    }
                    // Not rolled back: the order stands and the sweeper publishes it. A 503
                    // here would invite a retry that places it twice.
                    RolledBack::Kept => {
                        warn!(order_id = %order.order_id, error = %u, "order kept; the sweeper publishes it");
                    }
                },
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

/// What a new order publishes: `OrderPlaced`, for inventory and as the customer's first news
/// (a `PENDING` status change of its own would be a second publish and a second copy of the
/// event in the order's item, for what this one already says).
pub(crate) fn placement_outbox(order: &Order, now: DateTime<Utc>) -> Outbox {
    Outbox::new(vec![Event::order_placed(order, now)], now)
}

/// The insert failed without a clear answer (a timeout, a 500, a conflict): it may have
/// committed. One consistent read settles it: present means this request wrote it (or, with a
/// key, an earlier request did), absent means nothing is stored and a retry is safe. If even
/// the read fails, the client is told the order may exist.
async fn settle_insert<O: OrderStore>(
    orders: &O,
    order: &Order,
    keyed: bool,
    error: StoreError,
) -> Result<InsertOutcome, PlaceError> {
    let unknown = match &error {
        StoreError::Backend(_) | StoreError::Busy(_) | StoreError::Retry(_) => error.to_string(),
        StoreError::Corrupt { .. } | StoreError::Refused(_) => return Err(error.into()),
    };
    match orders.get(&order.order_id).await {
        Ok(None) => Err(PlaceError::Unavailable(unknown)),
        Ok(Some(_)) if keyed => Ok(InsertOutcome::AlreadyExists),
        Ok(Some(existing)) if existing.request_hash == order.request_hash => {
            warn!(order_id = %order.order_id, error = %unknown, "insert failed, yet the order is stored: carrying on");
            Ok(InsertOutcome::Inserted)
        }
        Ok(Some(_)) => Err(PlaceError::Internal(format!(
            "random order id {} collided",
            order.order_id
        ))),
        // With a key the id is the key's: the retry finds whatever was stored.
        Err(_) if keyed => Err(PlaceError::Unavailable(unknown)),
        Err(read) => Err(PlaceError::MaybeStored {
            order_id: order.order_id.clone(),
            detail: format!("{unknown}; then {read}"),
        }),
    }
}

/// What a compensation left: the order gone, kept (something moved it on, or the delete
/// failed and a read found it), or unknown (not even the read answered).
#[derive(Debug)]
enum RolledBack {
    Gone,
    Kept,
    Unknown(String),
}

/// Publish failed: delete the order unless something published it meanwhile. Whether SNS got
/// the message is unknown; if it did, inventory may reserve for the deleted order and
/// order-status then publishes `OrderCancelled` to release it
/// ([`crate::order_status::on_inventory_event`]).
///
/// A delete that fails, or whose condition fails, may still have deleted the order: its
/// answer lost, the SDK's retry met its own delete. One consistent read settles it, as for an
/// insert; an accepted order that does not exist would be waited for forever (flake hunt: a
/// 300-order burst left one such order undecided).
async fn compensate<O: OrderStore>(orders: &O, id: &OrderId, event_id: &EventId) -> RolledBack {
    let unclear = match orders.delete_unpublished(id, event_id).await {
        Ok(true) => {
            info!(order_id = %id, "publish failed; order rolled back");
            return RolledBack::Gone;
        }
        Ok(false) => "no longer unpublished".to_string(),
        Err(e) => format!("rollback failed: {e}"),
    };
    match orders.get(id).await {
        Ok(None) => {
            info!(order_id = %id, delete = %unclear, "publish failed; order rolled back (the delete's answer was lost)");
            RolledBack::Gone
        }
        // The outbox stays pending: the sweeper publishes it after the grace period.
        Ok(Some(_)) => {
            warn!(order_id = %id, delete = %unclear, "publish failed; order kept");
            RolledBack::Kept
        }
        Err(read) => {
            warn!(order_id = %id, delete = %unclear, error = %read, "publish failed; whether the order was rolled back is unknown");
            RolledBack::Unknown(format!("{unclear}; then {read}"))
        }
    }
}

/// Lines per order.
pub const MAX_LINES: usize = 50;
/// Units per line.
pub const MAX_QUANTITY: u64 = 1000;

/// A validated `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrderRequest {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
}

impl PlaceOrderRequest {
    /// Parses and validates a raw body placed by `caller` (the signed-in customer, the
    /// token's subject): the order is theirs. A `customer_id` in the body is optional and
    /// must name the caller; it is never taken from there.
    pub fn parse(body: &[u8], caller: &CustomerId) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["customer_id", "lines"], "")?;

        match obj.get("customer_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.as_str() == caller.as_str() => {}
            Some(Value::String(_)) => {
                return Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "customer_id",
                    "customer_id is the signed-in customer (the token's subject); leave it out",
                ))
            }
            Some(_) => return Err(wrong_type("customer_id", "a string")),
        }
        let customer_id = caller.clone();

        let raw_lines = match obj.get("lines") {
            None | Some(Value::Null) => return Err(missing("lines")),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(wrong_type("lines", "an array")),
        };
        if raw_lines.is_empty() || raw_lines.len() > MAX_LINES {
            return Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "lines",
                format!(
                    "an order has 1 to {MAX_LINES} lines, got {}",
                    raw_lines.len()
                ),
            ));
        }

        let mut lines: Vec<OrderLine> = Vec::with_capacity(raw_lines.len());
        for (i, raw) in raw_lines.iter().enumerate() {
            let line = parse_line(raw, i)?;
            if let Some(first) = lines.iter().position(|l| l.sku == line.sku) {
                return Err(ValidationError::new(
                    ErrorCode::DuplicateSku,
                    format!("lines[{i}].sku"),
                    format!("SKU {} already appears in lines[{first}]", line.sku),
                ));
            }
            lines.push(line);
        }
        Ok(PlaceOrderRequest { customer_id, lines })
    }

    /// SHA-256 hex of the canonical form: the same order written differently (key order,
    /// whitespace, line order) hashes the same, so an `Idempotency-Key` retry matches.
    pub fn canonical_hash(&self) -> String {
        let mut lines: Vec<&OrderLine> = self.lines.iter().collect();
        lines.sort_by(|a, b| a.sku.cmp(&b.sku));
        let canonical = serde_json::json!({
            "customer_id": self.customer_id,
            "lines": lines,
        });
        sha256_hex(canonical.to_string().as_bytes())
    }
}

fn parse_line(raw: &Value, i: usize) -> Result<OrderLine, ValidationError> {
    let path = format!("lines[{i}]");
    let obj = match raw {
        Value::Object(o) => o,
        _ => return Err(wrong_type(&path, "an object")),
    };
    reject_unknown(obj, &["sku", "quantity"], &path)?;
    let sku = match obj.get("sku") {
        None | Some(Value::Null) => return Err(missing(&format!("{path}.sku"))),
        Some(Value::String(s)) => Sku::parse(s.as_str()).map_err(|_| {
            ValidationError::new(
                ErrorCode::InvalidValue,
                format!("{path}.sku"),
                "sku must match ^[A-Z0-9][A-Z0-9-]{0,31}$",
            )
        })?,
        Some(_) => return Err(wrong_type(&format!("{path}.sku"), "a string")),
    };
    let qpath = format!("{path}.quantity");
    let quantity = match obj.get("quantity") {
        None | Some(Value::Null) => return Err(missing(&qpath)),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(q) if (1..=MAX_QUANTITY).contains(&q) => q,
            _ => {
                return Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    qpath,
                    format!("quantity must be an integer from 1 to {MAX_QUANTITY}"),
                ))
            }
        },
        Some(_) => return Err(wrong_type(&qpath, "an integer")),
    };
    // In range 1..=1000, so the conversion cannot fail; map anyway rather than unwrap.
    let quantity = u32::try_from(quantity).map_err(|_| {
        ValidationError::new(
            ErrorCode::InvalidValue,
            format!("{path}.quantity"),
            "too large",
        )
    })?;
    Ok(OrderLine { sku, quantity })
}

#[cfg(test)]
#[path = "place_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "place_request_tests.rs"]
mod request_tests;
