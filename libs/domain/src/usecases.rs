//! Use cases: the pipeline's behaviour, generic over the ports. Function handlers decode
//! their Lambda event, call one of these, and encode the result.

use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::events::{Event, EventPayload, EventType};
use crate::ids::{ClientScope, EventId, IdempotencyKey, OrderId};
use crate::order::{transition, HistoryEntry, Order, OrderStatus, Outbox, Transition, Trigger};
use crate::outbox::publish_outbox;
use crate::ports::{
    Clock, EventPublisher, InsertOutcome, InventoryStore, OrderStore, PublishError, StoreError,
    TransitionOutcome, TransitionWrite,
};
use crate::reservation::{inventory_event_for, Recorded};
use crate::validation::{CancelRequest, ErrorCode, PlaceOrderRequest, ValidationError};

/// Errors of the API use cases, each with one HTTP meaning.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 / 413: the client's mistake.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 404.
    #[error("order {0} not found")]
    OrderNotFound(String),
    /// 409: same `Idempotency-Key`, different request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// 409: a request with this `Idempotency-Key` may still be running; retry shortly.
    #[error("a request with this Idempotency-Key is in progress; retry shortly")]
    IdempotencyKeyInUse,
    /// 409: the order's status does not allow the operation.
    #[error("order is {}, it cannot be cancelled", .0.as_str())]
    NotCancellable(OrderStatus),
    /// 503: a dependency failed; retrying the same request is safe.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// 500: a stored record is corrupt (not retryable by the client).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } => ApiError::Internal(e.to_string()),
            StoreError::Backend(_) | StoreError::Retry(_) => ApiError::Unavailable(e.to_string()),
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

/// `POST /orders`: validate, store `PENDING` with the outbox `[OrderPlaced,
/// OrderStatusChanged(PENDING)]`, publish, clear the outbox. No success unless `OrderPlaced`
/// was published; a failure after it leaves the status event to the outbox sweeper.
///
/// `client` scopes the `Idempotency-Key` (the API key that made the request). `writer_window`
/// is how long the request that wrote an order may still be running: the API
/// function's timeout plus a margin. Until then that request may still roll its order back (if
/// its publish fails), so a retry with the same `Idempotency-Key` must not publish the order
/// and acknowledge it (`202`) meanwhile: it answers [`ApiError::IdempotencyKeyInUse`] instead.
pub async fn place_order<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    client: &ClientScope,
    body: &[u8],
    idempotency_key: Option<&str>,
    writer_window: Duration,
) -> Result<Placed, ApiError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let key = idempotency_key
        .map(|k| {
            IdempotencyKey::parse(k).map_err(|_| {
                ValidationError::new(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key",
                    "Idempotency-Key must be 1 to 128 printable ASCII characters",
                )
            })
        })
        .transpose()?;
    let request = PlaceOrderRequest::parse(body)?;
    let hash = request.canonical_hash();
    let order_id = match &key {
        Some(k) => OrderId::for_idempotency_key(client, k),
        None => OrderId::random(),
    };
    let now = clock.now();
    let mut order = Order::new_pending(order_id, request.customer_id, request.lines, hash, now);
    let event = Event::order_placed(&order, now);
    let status = Event::status_changed(
        &order.order_id,
        &order.customer_id,
        OrderStatus::Pending,
        None,
        now,
    );
    let outbox = Outbox::new(vec![event.clone(), status], now);
    order.outbox = Some(outbox.clone());

    let mut outcome = orders.insert_new(&order).await?;
    if outcome == InsertOutcome::AlreadyExists && key.is_none() {
        // A random id cannot already exist unless this very request wrote it: the write
        // committed, its answer was lost, and the SDK's retry met its own condition. Carry on
        // as the write that it is (a second order from the client's retry would follow a 500).
        if let Some(existing) = orders.get(&order.order_id).await? {
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
                Err(u) if u.published == 0 => {
                    compensate(orders, &order.order_id, &event.id).await;
                    return Err(ApiError::Unavailable(u.error.to_string()));
                }
                // OrderPlaced is out, so the order stands; the sweeper publishes the rest.
                Err(u) => {
                    warn!(order_id = %order.order_id, error = %u, "order placed; the rest of its outbox waits for the sweeper")
                }
            }
            info!(order_id = %order.order_id, event_id = %event.id, "order placed");
            Ok(Placed {
                order,
                replayed: false,
            })
        }
        InsertOutcome::AlreadyExists if key.is_some() => {
            let Some(existing) = orders.get(&order.order_id).await? else {
                // Deleted by a concurrent request's compensation: nothing to return yet.
                return Err(ApiError::Unavailable(
                    "the order with this Idempotency-Key is being rolled back; retry".into(),
                ));
            };
            if existing.request_hash != order.request_hash {
                return Err(ApiError::IdempotencyKeyReused);
            }
            if let Some(outbox) = &existing.outbox {
                let age = (now - outbox.since).to_std().unwrap_or_default();
                if age < writer_window {
                    return Err(ApiError::IdempotencyKeyInUse);
                }
            }
            let existing = republish_pending(orders, publisher, existing).await?;
            info!(order_id = %existing.order_id, "idempotent replay");
            Ok(Placed {
                order: existing,
                replayed: true,
            })
        }
        InsertOutcome::AlreadyExists => Err(ApiError::Internal(format!(
            "random order id {} collided",
            order.order_id
        ))),
    }
}

/// Publish failed: delete the order unless something published it meanwhile. Whether SNS
/// got the message is unknown; if it did, inventory may reserve for the deleted order and
/// order-status then publishes `OrderCancelled` to release it (see `apply_inventory_event`).
async fn compensate<O: OrderStore>(orders: &O, id: &OrderId, event_id: &EventId) {
    match orders.delete_unpublished(id, event_id).await {
        Ok(true) => info!(order_id = %id, "publish failed; order rolled back"),
        Ok(false) => warn!(order_id = %id, "publish failed; order no longer unpublished, kept"),
        // The outbox stays pending: the sweeper publishes it after the grace period.
        Err(e) => {
            warn!(order_id = %id, error = %e, "publish failed and rollback failed; outbox sweeper will publish")
        }
    }
}

/// Publishes an order's pending outbox (a retried request repairing a crash), then clears it.
async fn republish_pending<O: OrderStore, P: EventPublisher>(
    orders: &O,
    publisher: &P,
    mut order: Order,
) -> Result<Order, ApiError> {
    if let Some(outbox) = order.outbox.take() {
        publish_outbox(orders, publisher, &order.order_id, &outbox)
            .await
            .map_err(|u| ApiError::Unavailable(u.to_string()))?;
        info!(order_id = %order.order_id, events = outbox.events.len(), "pending outbox republished");
    }
    Ok(order)
}

/// `GET /orders/{id}`.
pub async fn get_order<O: OrderStore>(orders: &O, id: &str) -> Result<Order, ApiError> {
    // An id that is not even well-formed cannot exist.
    let Ok(order_id) = OrderId::parse(id) else {
        return Err(ApiError::OrderNotFound(id.chars().take(64).collect()));
    };
    orders
        .get(&order_id)
        .await?
        .ok_or_else(|| ApiError::OrderNotFound(order_id.to_string()))
}

/// Outcome of a cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    pub order: Order,
    /// `false` when the order was already cancelled (harmless repeat).
    pub changed: bool,
}

/// `POST /orders/{id}/cancel`: `PENDING|CONFIRMED -> CANCELLED`, appending `[OrderCancelled,
/// OrderStatusChanged(CANCELLED)]` to the outbox, publish, clear. Repeating it is harmless;
/// `REJECTED` is refused.
pub async fn cancel_order<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    id: &str,
    body: &[u8],
) -> Result<Cancelled, ApiError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let request = CancelRequest::parse(body)?;
    // The read supplies the event's data (customer id, immutable); the decision is the
    // conditional write's. Losing a race re-reads, a bounded number of times.
    for _ in 0..3 {
        let order = get_order(orders, id).await?;
        match transition(order.status, Trigger::Cancel) {
            Err(e) => return Err(ApiError::NotCancellable(e.from)),
            Ok(Transition::Unchanged) => {
                let order = republish_pending(orders, publisher, order).await?;
                return Ok(Cancelled {
                    order,
                    changed: false,
                });
            }
            Ok(Transition::Moved(to)) => {
                let now = clock.now();
                let event = Event::order_cancelled(&order, request.reason.clone(), now);
                let status = Event::status_changed(
                    &order.order_id,
                    &order.customer_id,
                    to,
                    request.reason.clone(),
                    now,
                );
                let outbox = Outbox::new(vec![event.clone(), status], now);
                let write = TransitionWrite {
                    order_id: &order.order_id,
                    trigger: Trigger::Cancel,
                    entry: HistoryEntry {
                        status: to,
                        at: now,
                        reason: request.reason.clone(),
                        event_id: Some(event.id.clone()),
                    },
                    applied_event: None,
                    outbox: Some(&outbox),
                    at: now,
                };
                match orders.transition(write).await? {
                    TransitionOutcome::NotApplied => continue,
                    TransitionOutcome::Applied(mut updated) => {
                        // The cancellation is recorded; if the publish fails the outbox
                        // stays and a retry (or the sweeper) publishes it. What the write
                        // returned includes anything still pending before it.
                        let pending = updated.outbox.take().unwrap_or(outbox);
                        publish_outbox(orders, publisher, &updated.order_id, &pending)
                            .await
                            .map_err(|u| ApiError::Unavailable(u.to_string()))?;
                        info!(order_id = %updated.order_id, "order cancelled");
                        return Ok(Cancelled {
                            order: *updated,
                            changed: true,
                        });
                    }
                }
            }
        }
    }
    Err(ApiError::Unavailable(
        "the order kept changing; retry".into(),
    ))
}

/// What a consumer did with one event (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Work done; `published` is the event type sent, if any.
    Done { published: Option<EventType> },
    /// Nothing to do (duplicate, late, or not for this consumer); acknowledged.
    Skipped(&'static str),
}

/// Errors of the SQS consumers: every one fails the record so SQS retries it.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Another worker holds the claim on this notification.
    #[error("notification {0} is being sent by another worker")]
    InProgress(String),
}

impl From<crate::outbox::Unpublished> for ConsumerError {
    fn from(u: crate::outbox::Unpublished) -> Self {
        ConsumerError::Publish(u.into())
    }
}

/// Inventory consumer: reserve on `OrderPlaced`, release on `OrderCancelled`, then publish
/// the event the reservation record stands for (again, on a redelivery).
pub async fn handle_inventory_event<S, P, C>(
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

/// `reason` of the `OrderCancelled` that order-status publishes for a reservation whose
/// order does not exist.
pub const ABANDONED_RESERVATION_REASON: &str = "order not found: abandoned reservation released";

/// History reason when the stock of a recreated order was released (see
/// [`Trigger::InventoryReleased`]).
pub const STOCK_RELEASED_REASON: &str =
    "stock released: the order was rolled back and placed again; place a new order";

/// Order-status consumer: `PENDING -> CONFIRMED | REJECTED`, once per event id, never
/// backwards, appending `OrderStatusChanged` to the outbox in the same write and publishing
/// it. A late or duplicate event is acknowledged; a redelivery after a failed publish finds
/// the outbox still pending and publishes it.
///
/// An `InventoryReserved` for an order that does not exist (the API rolled it back after an
/// ambiguous publish that in fact went out) is answered with `OrderCancelled`, so inventory
/// releases the stock: the orders side owns orders, so it is the one to say this order is
/// gone. Other inventory events for a missing order are acknowledged with a warning.
pub async fn apply_inventory_event<O, P, C>(
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
            Some(format!(
                "insufficient stock: {}",
                d.short_skus
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
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
            None => answer_missing_order(publisher, clock, event).await,
        },
    }
}

/// The order an inventory event is about does not exist.
async fn answer_missing_order<P: EventPublisher, C: Clock>(
    publisher: &P,
    clock: &C,
    event: &Event,
) -> Result<Handled, ConsumerError> {
    let EventPayload::InventoryReserved(d) = &event.payload else {
        // Nothing is held for it (rejected) or nothing is held any more (released).
        warn!(order_id = %event.order_id, event_id = %event.id, event_type = %event.event_type(), "inventory event for an order that does not exist; acknowledged");
        return Ok(Handled::Skipped("order not found"));
    };
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

/// What a sweep did (`{"scanned": n, "republished": n, "failed": n}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    pub scanned: usize,
    pub republished: usize,
    pub failed: usize,
}

/// Outbox sweeper: republish events whose publish never completed (crash between the
/// write and the publish), older than `grace` so in-flight requests finish first.
pub async fn sweep_outbox<O, P, C>(
    orders: &O,
    publisher: &P,
    clock: &C,
    grace: Duration,
    limit: usize,
) -> Result<SweepSummary, StoreError>
where
    O: OrderStore,
    P: EventPublisher,
    C: Clock,
{
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
    let cutoff = clock.now() - grace;
    let ids = orders.stale_outbox(cutoff, limit).await?;
    let mut summary = SweepSummary {
        scanned: ids.len(),
        ..SweepSummary::default()
    };
    for id in ids {
        // The index is eventually consistent; the item decides.
        let order = match orders.get(&id).await {
            Ok(Some(o)) => o,
            Ok(None) => continue,
            Err(e) => {
                warn!(order_id = %id, error = %e, "sweep: read failed");
                summary.failed += 1;
                continue;
            }
        };
        let Some(outbox) = order.outbox.as_ref().filter(|o| o.since <= cutoff) else {
            continue;
        };
        match publish_outbox(orders, publisher, &id, outbox).await {
            Ok(()) => {
                info!(order_id = %id, events = outbox.events.len(), "sweep: republished");
                summary.republished += 1;
            }
            Err(e) => {
                warn!(order_id = %id, error = %e, "sweep: publish failed");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}
