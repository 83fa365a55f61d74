//! `POST /orders/{id}/cancel`: the caller's own order, `202` when this call cancelled it, `200`
//! when it was already; `409` when it is past cancelling.

use lambda_http::{Body, Response as HttpResponse};
use orders_domain::cancel::CancelRequest;
use orders_domain::cancel::{cancel_order, CancelError};
use orders_domain::ports::{Clock, EventPublisher, OrderStore};
use orders_domain::{Caller, OrderId, OrderStatus};

use super::get_order::{not_found, order_view};
use super::respond::{error_response, internal, json_response, unavailable, validation_response};
use super::Api;

type Response = HttpResponse<Body>;

pub(super) async fn cancel<O: OrderStore, S, P: EventPublisher, C: Clock, A>(
    api: &Api<O, S, P, C, A>,
    caller: &Caller,
    id: &str,
    body: &[u8],
) -> Response {
    let request = match CancelRequest::parse(body) {
        Ok(r) => r,
        Err(v) => return validation_response(&v),
    };
    let Ok(id) = OrderId::parse(id) else {
        return not_found(id);
    };
    let owner = &caller.customer;
    match cancel_order(&api.orders, &api.publisher, &api.clock, &id, owner, request).await {
        Ok(c) => json_response(if c.changed { 202 } else { 200 }, &order_view(&c.order)),
        Err(e) => cancel_error(&e),
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[tokio::test]
    async fn cancel_of_a_rejected_order_is_409() {
        let api = api();
        api.call(sample("apigw-post-order.json")).await;
        let id = api.publisher.events()[0].order_id.clone();
        let rejected = orders_domain::Event::for_order(
            &id,
            chrono::Utc::now(),
            orders_domain::EventPayload::InventoryRejected(
                orders_domain::events::InventoryRejected {
                    customer_id: orders_domain::CustomerId::parse("cust-42").unwrap(),
                    short_skus: vec![],
                    reason: None,
                },
            ),
        );
        orders_domain::order_status::on_inventory_event(
            &api.orders,
            &api.publisher,
            &api.clock,
            &rejected,
        )
        .await
        .unwrap();
        assert_error(
            &api.call(for_order(sample("apigw-cancel-order.json"), id.as_str()))
                .await,
            409,
            "order_not_cancellable",
        );
    }
}
