//! The API's router on `lambda_http`: an `http::Request` in (API Gateway REST, a function URL,
//! or `cargo lambda watch` serving plain HTTP), authenticated, routed (`route`) to one module
//! per operation (`place`, `list`, `get_order`, `cancel`, `products`), each of which parses
//! its input, calls its flow and maps that flow's errors; `respond` holds the shared response
//! helpers. Generic over the ports, so it is unit-tested with the in-memory stores.
//!
//! Routes: `POST|GET /orders`, `GET /orders/{id}`, `POST /orders/{id}/cancel`,
//! `GET|PUT|PATCH /products/{sku}`. Errors: `{"error": code, "message": text, "field"?: path}`.
//! Every request is authenticated first ([`crate::auth`]): orders are the caller's own, stock
//! writes need the `operators` group.

use lambda_http::http::{HeaderValue, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use orders_domain::ports::{Clock, EventPublisher, OrderStore, ProductStore};
use orders_domain::validation::{ErrorCode, ValidationError, MAX_BODY_BYTES};
use orders_domain::{log_fingerprint, trace, OrderId, TraceId};
use tracing::{error, info, info_span, Instrument};

use crate::auth::Authenticate;
use respond::{auth_error, error_response, validation_response};
use route::{route, Route};

/// The API's dependencies.
pub struct Api<O, S, P, C, A> {
    pub orders: O,
    pub products: S,
    pub publisher: P,
    pub clock: C,
    /// How long a request of this function may run: its timeout plus a margin (see
    /// `orders_domain::place::place_order`).
    pub writer_window: std::time::Duration,
    /// Shards a new product's stock gets unless its `PUT` names a count (`StockShards`).
    pub default_shards: orders_domain::inventory::stock::ShardCount,
    /// Who is calling, from the `Authorization` header.
    pub auth: A,
}

/// A matched route.
/// The id a new order without an Idempotency-Key gets ([`Api::handle_within`] chooses it).
#[derive(Debug, Clone)]
struct FreshOrderId(OrderId);

impl<O, S, P, C, A> Api<O, S, P, C, A>
where
    O: OrderStore,
    S: ProductStore,
    P: EventPublisher,
    C: Clock,
    A: Authenticate,
{
    /// Handles one request within `budget` (the invocation's time left, less a margin): past it,
    /// a JSON `503` the client may retry, instead of the function timing out into API
    /// Gateway's bare `502`/`504`. Work cut short is safe to repeat: an order written but not
    /// published stays in the outbox, and its `Idempotency-Key` retry or the sweeper finishes it.
    pub async fn handle_within(
        &self,
        mut req: Request,
        budget: std::time::Duration,
    ) -> Response<Body> {
        // A new order's id is chosen before anything is written, so an answer cut short can
        // still name the order it may have stored (a keyed order's id is the key's).
        let fresh = OrderId::random();
        let placing = req.method() == Method::POST
            && matches!(route(&req), Some(Route::Orders))
            && !req.headers().contains_key("idempotency-key");
        req.extensions_mut().insert(FreshOrderId(fresh.clone()));
        match tokio::time::timeout(budget, self.handle(req)).await {
            Ok(resp) => resp,
            Err(_) => {
                error!(
                    budget_ms = budget.as_millis() as u64,
                    "request ran out of time"
                );
                if placing {
                    return place::maybe_stored(&fresh);
                }
                let mut resp = error_response(
                    503,
                    "unavailable",
                    "the request ran out of time; retrying the same request is safe",
                    None,
                );
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
                resp
            }
        }
    }

    /// Serves one request as the deployed function does: within its trace (the X-Ray trace
    /// Lambda gives the invocation, else the `X-Amzn-Trace-Id` header, else a new one), which
    /// every event it publishes carries on; with a log span naming the API request id, the
    /// `Idempotency-Key` and the trace; the trace id answered in `x-trace-id`, so a client can
    /// quote it.
    pub async fn serve(&self, req: Request, budget: std::time::Duration) -> Response<Body> {
        let trace = request_trace(&req, &self.clock);
        let request_id = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
            _ => None,
        };
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let span = info_span!(
            "request",
            request_id = request_id.as_deref().unwrap_or("-"),
            // A fingerprint, not the key: a client may build keys from private data.
            idempotency_key = key.as_deref().map_or_else(|| "-".into(), log_fingerprint),
            trace_id = %trace
        );
        let mut resp = trace::within(Some(trace.clone()), self.handle_within(req, budget))
            .instrument(span)
            .await;
        if let Ok(v) = HeaderValue::from_str(trace.as_str()) {
            resp.headers_mut().insert("x-trace-id", v);
        }
        resp
    }

    /// Handles one request; never fails: every outcome is an HTTP response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let method = req.method().clone();
        let Some(route) = route(&req) else {
            return error_response(404, "not_found", "no such route", None);
        };
        if !route.allowed().contains(&method) {
            let allow = route
                .allowed()
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let mut resp = error_response(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed here; allowed: {allow}"),
                None,
            );
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert("allow", v);
            }
            return resp;
        }
        // API Gateway validates the key's value (usage plan); a request without one can
        // only come from a misconfigured method or a direct invoke.
        if !req.headers().contains_key("x-api-key") {
            return error_response(403, "forbidden", "the x-api-key header is required", None);
        }
        let authorization = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("?"));
        let caller = match self.auth.authenticate(authorization).await {
            Ok(caller) => caller,
            Err(e) => return auth_error(&e),
        };
        let body: &[u8] = req.body();
        if body.len() > MAX_BODY_BYTES {
            return validation_response(&ValidationError::new(
                ErrorCode::PayloadTooLarge,
                "body",
                format!("the body is limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        let headers = req.headers();
        match route {
            Route::Orders if method == Method::GET => {
                let query = req.query_string_parameters();
                list::list(self, &caller, query.first("limit"), query.first("cursor")).await
            }
            Route::Orders => {
                let fresh = req
                    .extensions()
                    .get::<FreshOrderId>()
                    .map_or_else(OrderId::random, |f| f.0.clone());
                place::place(self, &caller, headers, body, fresh).await
            }
            Route::Order(id) => get_order::get(self, &caller, &id).await,
            Route::Cancel(id) => cancel::cancel(self, &caller, &id, body).await,
            Route::Product(sku) => {
                if method != Method::GET && !caller.operator {
                    info!(sku = %sku, "stock write refused: not an operator");
                    return error_response(
                        403,
                        "forbidden",
                        "managing stock needs the operators group",
                        None,
                    );
                }
                products::handle(self, &method, headers, &caller.scope(), &sku, body).await
            }
        }
    }
}

fn request_trace(req: &Request, clock: &impl Clock) -> TraceId {
    let from_lambda = req
        .lambda_context_ref()
        .and_then(|c| c.xray_trace_id.as_deref())
        .and_then(TraceId::from_xray_header);
    let from_header = || {
        req.headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceId::from_xray_header)
    };
    from_lambda
        .or_else(from_header)
        .unwrap_or_else(|| TraceId::generate(clock.now().timestamp() as u32))
}

mod cancel;
mod get_order;
mod list;
mod place;
mod products;
mod respond;
mod route;

#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod test_support;
