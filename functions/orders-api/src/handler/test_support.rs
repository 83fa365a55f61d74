//! What the operations' tests share: handler tests over the in-memory ports, driven by the sample events in `events/lambda/`:
//! each test edits an API Gateway REST event, which goes through `lambda_http`'s own
//! conversion to an `http::Request` (as in the deployed function), and reads the response
//! back as API Gateway would see it.

pub(crate) use base64::Engine;
pub(crate) use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse,
};
pub(crate) use orders_domain::testing::{
    FixedClock, InMemoryInventory, InMemoryOrders, RecordingPublisher,
};
pub(crate) use orders_domain::EventType;
pub(crate) use serde_json::Value;

use super::*;

/// The event as `lambda_http` turns it into a request in the deployed function.
pub(crate) fn request(event: &ApiGatewayProxyRequest) -> Request {
    let json = serde_json::to_string(event).unwrap();
    lambda_http::request::from_str(&json).unwrap()
}

/// The response as API Gateway receives it.
pub(crate) fn proxy_response(resp: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = resp.into_parts();
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = Some(body);
    out
}

/// The customer the samples' orders belong to (their bodies name `cust-42`).
pub(crate) const CUSTOMER: &str = "cust-42";

/// `event` with `Authorization: <value>` (replacing any).
pub(crate) fn authorized(mut event: ApiGatewayProxyRequest, value: &str) -> ApiGatewayProxyRequest {
    let v = HeaderValue::from_str(value).unwrap();
    event.headers.insert("authorization", v.clone());
    event.multi_value_headers.insert("authorization", v);
    event
}

/// Signed in as `sub`, in `groups`.
pub(crate) fn as_user(
    event: ApiGatewayProxyRequest,
    sub: &str,
    groups: &[&str],
) -> ApiGatewayProxyRequest {
    let t = crate::auth::testing::token(sub, groups);
    authorized(event, &format!("Bearer {t}"))
}

impl<O: OrderStore, S: ProductStore, P: EventPublisher, C: Clock, A: Authenticate>
    Api<O, S, P, C, A>
{
    /// The request as the samples' customer, an operator too, unless it is signed already.
    pub(crate) async fn call(&self, event: ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
        let event = if event.headers.contains_key("authorization") {
            event
        } else {
            as_user(event, CUSTOMER, &["operators"])
        };
        proxy_response(self.handle(request(&event)).await)
    }

    pub(crate) async fn call_within(
        &self,
        event: ApiGatewayProxyRequest,
        budget: std::time::Duration,
    ) -> ApiGatewayProxyResponse {
        let event = as_user(event, CUSTOMER, &[]);
        proxy_response(self.handle_within(request(&event), budget).await)
    }
}

pub(crate) type TestApi = Api<
    InMemoryOrders,
    InMemoryInventory,
    RecordingPublisher,
    FixedClock,
    crate::auth::Verifier<crate::auth::testing::FixedKeys>,
>;

pub(crate) fn api() -> TestApi {
    api_with(RecordingPublisher::new())
}

/// [`api`] with another publisher.
pub(crate) fn api_with<P: EventPublisher>(
    publisher: P,
) -> Api<
    InMemoryOrders,
    InMemoryInventory,
    P,
    FixedClock,
    crate::auth::Verifier<crate::auth::testing::FixedKeys>,
> {
    Api {
        orders: InMemoryOrders::new(),
        products: InMemoryInventory::new(),
        publisher,
        clock: FixedClock::default_time(),
        writer_window: std::time::Duration::from_secs(11),
        default_shards: orders_domain::inventory::stock::ShardCount::ONE,
        auth: crate::auth::testing::verifier(),
    }
}

pub(crate) fn sample(name: &str) -> ApiGatewayProxyRequest {
    orders_domain::testing::lambda_sample(name)
}

pub(crate) fn body_json(resp: &ApiGatewayProxyResponse) -> Value {
    match &resp.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

pub(crate) fn header<'a>(resp: &'a ApiGatewayProxyResponse, name: &str) -> Option<&'a str> {
    resp.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A GET or cancel sample aimed at order `id` (the samples' own id is the one the sample's
/// Idempotency-Key gives under its API key; signed-in callers' keys are their own).
pub(crate) fn for_order(mut req: ApiGatewayProxyRequest, id: &str) -> ApiGatewayProxyRequest {
    let cancel = req.path.as_deref().is_some_and(|p| p.ends_with("/cancel"));
    req.path = Some(format!(
        "/orders/{id}{}",
        if cancel { "/cancel" } else { "" }
    ));
    req.path_parameters.insert("id".into(), id.into());
    req
}

pub(crate) fn with_body(mut req: ApiGatewayProxyRequest, body: &str) -> ApiGatewayProxyRequest {
    req.body = Some(body.to_string());
    req
}

pub(crate) fn assert_error(resp: &ApiGatewayProxyResponse, status: i64, code: &str) -> Value {
    assert_eq!(resp.status_code, status, "{:?}", resp.body);
    assert_eq!(header(resp, "content-type"), Some("application/json"));
    let b = body_json(resp);
    assert_eq!(b["error"], code, "{b}");
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    b
}

/// A publisher that never answers (a hung SNS call).
pub(crate) struct HungPublisher;

impl EventPublisher for HungPublisher {
    async fn publish(
        &self,
        _: &orders_domain::Event,
    ) -> Result<(), orders_domain::ports::PublishError> {
        std::future::pending().await
    }
}
