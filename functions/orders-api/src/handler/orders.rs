//! The order routes: `POST /orders`, `GET /orders` (the caller's own, a page at a time),
//! `GET /orders/{id}`, `POST /orders/{id}/cancel`. An order is its customer's alone: another
//! customer's answers `404`, as if it did not exist. Each
//! parses its request into the flow's typed input, calls the flow, and maps its result (and
//! its error type) to HTTP here, the only place that knows the statuses.

use lambda_http::http::{HeaderMap, HeaderValue};
use lambda_http::{Body, Response as HttpResponse};
use orders_domain::cancel::{cancel_order, CancelError};
use orders_domain::list_orders::{list_orders, ListOrdersRequest};
use orders_domain::place::{place_order, PlaceError, PlaceOrder};
use orders_domain::ports::{Clock, EventPublisher, OrderStore, ProductStore, StoreError};
use orders_domain::validation::{CancelRequest, PlaceOrderRequest};
use orders_domain::{Caller, Order, OrderId, OrderStatus};
use serde_json::{json, Value};
use tracing::{error, warn};

use super::{error_response, idempotency_key, json_response, time, validation_response, Api};

type Response = HttpResponse<Body>;

impl<O, S, P, C, A> Api<O, S, P, C, A>
where
    O: OrderStore,
    S: ProductStore,
    P: EventPublisher,
    C: Clock,
{
    pub(super) async fn place(
        &self,
        caller: &Caller,
        headers: &HeaderMap,
        body: &[u8],
        fresh_id: OrderId,
    ) -> Response {
        let input = match idempotency_key(headers).and_then(|key| {
            Ok(PlaceOrder {
                client: caller.scope(),
                key,
                request: PlaceOrderRequest::parse(body, &caller.customer)?,
                fresh_id,
            })
        }) {
            Ok(input) => input,
            Err(v) => return validation_response(&v),
        };
        let placed = match place_order(
            &self.orders,
            &self.publisher,
            &self.clock,
            input,
            self.writer_window,
        )
        .await
        {
            Ok(placed) => placed,
            Err(e) => return place_error(&e),
        };
        let o = &placed.order;
        let mut resp = json_response(
            202,
            &json!({
                "order_id": o.order_id,
                "status": o.status,
                "customer_id": o.customer_id,
                "lines": o.lines,
                "created_at": time(o.created_at),
            }),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("/orders/{}", o.order_id)) {
            resp.headers_mut().insert("location", v);
        }
        if placed.replayed {
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        resp
    }

    pub(super) async fn get(&self, caller: &Caller, id: &str) -> Response {
        // An id that is not even well-formed cannot exist.
        let Ok(id) = OrderId::parse(id) else {
            return not_found(id);
        };
        match self.orders.get(&id).await {
            Ok(Some(order)) if order.customer_id == caller.customer => {
                json_response(200, &order_view(&order))
            }
            Ok(_) => not_found(id.as_str()),
            Err(e) => store_error(&e),
        }
    }

    pub(super) async fn list(
        &self,
        caller: &Caller,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Response {
        let request = match ListOrdersRequest::parse(limit, cursor) {
            Ok(r) => r,
            Err(v) => return validation_response(&v),
        };
        match list_orders(&self.orders, &caller.customer, &request).await {
            Ok(page) => json_response(
                200,
                &json!({
                    "orders": page.orders.iter().map(|o| json!({
                        "order_id": o.order_id,
                        "status": o.status,
                        "created_at": time(o.created_at),
                        "updated_at": time(o.updated_at),
                    })).collect::<Vec<_>>(),
                    "next_cursor": page.next.map(|c| c.encode()),
                }),
            ),
            Err(e) => store_error(&e),
        }
    }

    pub(super) async fn cancel(&self, caller: &Caller, id: &str, body: &[u8]) -> Response {
        let request = match CancelRequest::parse(body) {
            Ok(r) => r,
            Err(v) => return validation_response(&v),
        };
        let Ok(id) = OrderId::parse(id) else {
            return not_found(id);
        };
        let owner = &caller.customer;
        match cancel_order(
            &self.orders,
            &self.publisher,
            &self.clock,
            &id,
            owner,
            request,
        )
        .await
        {
            Ok(c) => json_response(if c.changed { 202 } else { 200 }, &order_view(&c.order)),
            Err(e) => cancel_error(&e),
        }
    }
}

fn order_view(o: &Order) -> Value {
    json!({
        "order_id": o.order_id,
        "customer_id": o.customer_id,
        "status": o.status,
        "lines": o.lines,
        "history": o.history.iter().map(|h| {
            let mut e = json!({"status": h.status, "at": time(h.at)});
            if let Some(r) = &h.reason { e["reason"] = json!(r); }
            if let Some(id) = &h.event_id { e["event_id"] = json!(id); }
            e
        }).collect::<Vec<_>>(),
        "created_at": time(o.created_at),
        "updated_at": time(o.updated_at),
    })
}

fn not_found(id: &str) -> Response {
    let shown: String = id.chars().take(64).collect();
    error_response(404, "not_found", &format!("order {shown} not found"), None)
}

fn place_error(e: &PlaceError) -> Response {
    match e {
        PlaceError::KeyInUse => {
            let mut resp = error_response(
                409,
                "idempotency_key_in_use",
                &e.to_string(),
                Some("Idempotency-Key"),
            );
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            resp
        }
        PlaceError::KeyReused => error_response(
            409,
            "idempotency_key_reused",
            &e.to_string(),
            Some("Idempotency-Key"),
        ),
        PlaceError::Unavailable(detail) => unavailable(detail),
        PlaceError::MaybeStored { order_id, detail } => {
            warn!(order_id = %order_id, detail = %detail, "answering 503: the order may be stored");
            maybe_stored(order_id)
        }
        PlaceError::Internal(detail) => internal(detail),
    }
}

fn cancel_error(e: &CancelError) -> Response {
    match e {
        CancelError::NotFound(id) => not_found(id.as_str()),
        CancelError::NotCancellable(status) => {
            let msg = match status {
                OrderStatus::Rejected => {
                    "the order was rejected; there is nothing to cancel".to_string()
                }
                _ => e.to_string(),
            };
            error_response(409, "order_not_cancellable", &msg, None)
        }
        CancelError::Unavailable(detail) => unavailable(detail),
        CancelError::Internal(detail) => internal(detail),
    }
}

/// A store failure: `503` when retrying may help, `500` for a corrupt record or a refused request.
pub(super) fn store_error(e: &StoreError) -> Response {
    match e {
        StoreError::Corrupt { .. } | StoreError::Refused(_) => internal(&e.to_string()),
        StoreError::Backend(_) | StoreError::Busy(_) | StoreError::Retry(_) => {
            unavailable(&e.to_string())
        }
    }
}

/// `503` for a placement that may have stored its order: not "retry", which could place it
/// twice, but which order to look up first (if it was stored, the outbox sweeper publishes
/// it; a `404` means it was not, and the retry is safe).
pub(super) fn maybe_stored(id: &OrderId) -> Response {
    let mut resp = json_response(
        503,
        &json!({
            "error": "order_may_exist",
            "message": format!(
                "the request failed after order {id} may have been stored: GET /orders/{id} \
                 before retrying (404: it was not stored and a retry is safe); send an \
                 Idempotency-Key to make retries safe without this step"
            ),
            "order_id": id,
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/orders/{id}")) {
        resp.headers_mut().insert("location", v);
    }
    resp
}

fn unavailable(detail: &str) -> Response {
    // Details stay in the logs; the client learns it may retry.
    warn!(detail = %detail, "answering 503");
    error_response(
        503,
        "unavailable",
        "temporarily unavailable; retrying the same request is safe",
        None,
    )
}

fn internal(detail: &str) -> Response {
    error!(detail = %detail, "answering 500");
    error_response(500, "internal", "internal error", None)
}
