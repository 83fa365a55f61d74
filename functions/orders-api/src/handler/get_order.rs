//! `GET /orders/{id}`: the caller's own order; another customer's answers `404`, as if it did
//! not exist.

use lambda_http::{Body, Response as HttpResponse};
use orders_domain::ports::OrderStore;
use orders_domain::{Caller, Order, OrderId};
use serde_json::json;
use serde_json::Value;

use super::respond::{error_response, json_response, store_error, time};
use super::Api;

type Response = HttpResponse<Body>;

pub(super) async fn get<O: OrderStore, S, P, C, A>(
    api: &Api<O, S, P, C, A>,
    caller: &Caller,
    id: &str,
) -> Response {
    // An id that is not even well-formed cannot exist.
    let Ok(id) = OrderId::parse(id) else {
        return not_found(id);
    };
    match api.orders.get(&id).await {
        Ok(Some(order)) if order.customer_id == caller.customer => {
            json_response(200, &order_view(&order))
        }
        Ok(_) => not_found(id.as_str()),
        Err(e) => store_error(&e),
    }
}

pub(super) fn order_view(o: &Order) -> Value {
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

pub(super) fn not_found(id: &str) -> Response {
    let shown: String = id.chars().take(64).collect();
    error_response(404, "not_found", &format!("order {shown} not found"), None)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[tokio::test]
    async fn get_and_cancel_samples_follow_the_posted_order() {
        let api = api();
        let posted = api.call(sample("apigw-post-order.json")).await;
        let id = body_json(&posted)["order_id"].as_str().unwrap().to_string();
        let get = || for_order(sample("apigw-get-order.json"), &id);
        let cancel = || for_order(sample("apigw-cancel-order.json"), &id);

        // Another customer's order does not exist for them: not readable, not cancellable.
        let stranger = |req| as_user(req, "someone-else", &["operators"]);
        assert_error(&api.call(stranger(get())).await, 404, "not_found");
        assert_error(&api.call(stranger(cancel())).await, 404, "not_found");
        assert_eq!(
            api.publisher.events().len(),
            1,
            "nothing published for them"
        );

        let resp = api.call(get()).await;
        assert_eq!(resp.status_code, 200);
        let b = body_json(&resp);
        assert_eq!(b["status"], "PENDING");
        assert_eq!(b["history"][0]["status"], "PENDING");
        assert_eq!(b["lines"].as_array().unwrap().len(), 2);

        let resp = api.call(cancel()).await;
        assert_eq!(resp.status_code, 202, "{:?}", resp.body);
        let b = body_json(&resp);
        assert_eq!(b["status"], "CANCELLED");
        assert_eq!(b["history"][1]["reason"], "changed my mind");
        let again = api.call(cancel()).await;
        assert_eq!(again.status_code, 200, "repeat is harmless");
        assert_eq!(body_json(&again)["status"], "CANCELLED");
        assert_eq!(
            api.publisher.types(),
            vec![
                EventType::OrderPlaced,
                EventType::OrderCancelled,
                EventType::OrderStatusChanged
            ]
        );
    }
}
