//! `POST /orders`: the body and the `Idempotency-Key` into `PlaceOrder`, the placement flow,
//! `202` with the order's `Location`; its errors mapped here, the only place that knows them.

use lambda_http::http::HeaderMap;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Response as HttpResponse};
use orders_domain::place::PlaceOrderRequest;
use orders_domain::place::{place_order, PlaceError, PlaceOrder};
use orders_domain::ports::{Clock, EventPublisher, OrderStore};
use orders_domain::{Caller, OrderId};
use serde_json::json;
use tracing::warn;

use super::respond::{
    error_response, idempotency_key, internal, json_response, time, unavailable,
    validation_response,
};
use super::Api;

type Response = HttpResponse<Body>;

pub(super) async fn place<O: OrderStore, S, P: EventPublisher, C: Clock, A>(
    api: &Api<O, S, P, C, A>,
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
        &api.orders,
        &api.publisher,
        &api.clock,
        input,
        api.writer_window,
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[tokio::test]
    async fn post_order_sample_is_accepted_with_location_and_publishes_once() {
        let api = api();
        let resp = api.call(sample("apigw-post-order.json")).await;
        assert_eq!(resp.status_code, 202, "{:?}", resp.body);
        let b = body_json(&resp);
        let id = b["order_id"].as_str().unwrap().to_string();
        assert_eq!(b["status"], "PENDING");
        assert_eq!(b["lines"][0]["sku"], "SKU-RED-MUG");
        assert_eq!(b["created_at"], "2026-11-26T12:00:00.000Z");
        assert_eq!(
            header(&resp, "location"),
            Some(format!("/orders/{id}").as_str())
        );
        assert_eq!(header(&resp, "idempotent-replayed"), None);
        assert_eq!(api.publisher.types(), vec![EventType::OrderPlaced]);

        // The sample carries an Idempotency-Key: a retry is the same order, no new event.
        let again = api.call(sample("apigw-post-order.json")).await;
        assert_eq!(again.status_code, 202);
        assert_eq!(body_json(&again)["order_id"], id.as_str());
        assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
        assert_eq!(api.publisher.events().len(), 1);
    }

    #[tokio::test]
    async fn same_key_different_body_is_409() {
        let api = api();
        api.call(sample("apigw-post-order.json")).await;
        let req = with_body(
            sample("apigw-post-order.json"),
            r#"{"customer_id":"cust-42","lines":[{"sku":"SKU-RED-MUG","quantity":9}]}"#,
        );
        let b = assert_error(&api.call(req).await, 409, "idempotency_key_reused");
        assert_eq!(b["field"], "Idempotency-Key");
        assert_eq!(
            api.publisher.events().len(),
            1,
            "the first request's event only"
        );
    }

    #[tokio::test]
    async fn bad_request_sample_names_the_field() {
        let api = api();
        let b = assert_error(
            &api.call(sample("apigw-bad-request.json")).await,
            400,
            "invalid_value",
        );
        assert_eq!(b["field"], "lines[0].quantity");
        assert!(api.orders.is_empty());
        assert!(api.publisher.events().is_empty());
    }

    #[tokio::test]
    async fn publish_failure_is_503_and_leaves_no_order() {
        let api = api();
        api.publisher.fail_next(1);
        let b = assert_error(
            &api.call(sample("apigw-post-order.json")).await,
            503,
            "unavailable",
        );
        assert!(
            !b["message"].as_str().unwrap().contains("injected"),
            "no internals leak"
        );
        assert!(api.orders.is_empty());
        assert_eq!(
            api.call(sample("apigw-post-order.json")).await.status_code,
            202
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unkeyed_order_cut_short_after_its_write_is_named_not_retried() {
        // Stored, then the publish hangs past the budget: "retry" would place it twice.
        let api = api_with(HungPublisher);
        let mut post = sample("apigw-post-order.json");
        post.headers.remove("idempotency-key");
        post.multi_value_headers.remove("idempotency-key");
        let resp = api
            .call_within(post, std::time::Duration::from_secs(9))
            .await;
        let body = assert_error(&resp, 503, "order_may_exist");
        let id = body["order_id"].as_str().unwrap();
        assert_eq!(
            header(&resp, "location"),
            Some(format!("/orders/{id}").as_str())
        );
        let stored = api
            .orders
            .snapshot(&orders_domain::OrderId::parse(id).unwrap())
            .expect("the order the answer names is the one stored");
        assert!(stored.outbox.is_some(), "the sweeper publishes it");
        assert!(body["message"].as_str().unwrap().contains("GET /orders/"));
    }
}
