//! `GET /orders`: the caller's own orders, newest first, a page at a time (`limit`, `cursor`).

use lambda_http::{Body, Response as HttpResponse};
use orders_domain::list_orders::{list_orders, ListOrdersRequest};
use orders_domain::ports::OrderStore;
use orders_domain::Caller;
use serde_json::json;

use super::respond::{json_response, store_error, time, validation_response};
use super::Api;

type Response = HttpResponse<Body>;

pub(super) async fn list<O: OrderStore, S, P, C, A>(
    api: &Api<O, S, P, C, A>,
    caller: &Caller,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Response {
    let request = match ListOrdersRequest::parse(limit, cursor) {
        Ok(r) => r,
        Err(v) => return validation_response(&v),
    };
    match list_orders(&api.orders, &caller.customer, &request).await {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[tokio::test]
    async fn an_order_is_placed_for_the_caller_and_listed_only_to_them() {
        let api = api();
        // The body may name the caller, never someone else.
        let other = with_body(
            sample("apigw-post-order.json"),
            r#"{"customer_id":"someone-else","lines":[{"sku":"SKU-RED-MUG","quantity":1}]}"#,
        );
        let b = assert_error(&api.call(other).await, 400, "invalid_value");
        assert_eq!(b["field"], "customer_id");
        let mine = api.call(sample("apigw-post-order.json")).await;
        assert_eq!(body_json(&mine)["customer_id"], CUSTOMER);

        let mut list = sample("apigw-get-order.json");
        list.resource = Some("/orders".into());
        list.path = Some("/orders".into());
        list.path_parameters.clear();
        let page = body_json(&api.call(list.clone()).await);
        assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["orders"][0]["order_id"], body_json(&mine)["order_id"]);
        assert_eq!(page["next_cursor"], Value::Null);
        let theirs = body_json(&api.call(as_user(list.clone(), "someone-else", &[])).await);
        assert_eq!(theirs["orders"], serde_json::json!([]), "{theirs}");

        let limit = std::collections::HashMap::from([("limit".to_string(), vec!["0".to_string()])]);
        list.query_string_parameters = limit.clone().into();
        list.multi_value_query_string_parameters = limit.into();
        let b = assert_error(&api.call(list).await, 400, "invalid_value");
        assert_eq!(b["field"], "limit");
    }
}
