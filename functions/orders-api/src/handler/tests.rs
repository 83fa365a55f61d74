//! Handler tests over the in-memory ports, driven by the sample events in `events/lambda/`:
//! each test edits an API Gateway REST event, which goes through `lambda_http`'s own
//! conversion to an `http::Request` (as in the deployed function), and reads the response
//! back as API Gateway would see it.

use super::*;
use base64::Engine;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use orders_domain::testing::{FixedClock, InMemoryInventory, InMemoryOrders, RecordingPublisher};
use orders_domain::EventType;

/// The event as `lambda_http` turns it into a request in the deployed function.
fn request(event: &ApiGatewayProxyRequest) -> Request {
    let json = serde_json::to_string(event).unwrap();
    lambda_http::request::from_str(&json).unwrap()
}

/// The response as API Gateway receives it.
fn proxy_response(resp: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = resp.into_parts();
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = Some(body);
    out
}

/// The customer the samples' orders belong to (their bodies name `cust-42`).
const CUSTOMER: &str = "cust-42";

/// `event` with `Authorization: <value>` (replacing any).
fn authorized(mut event: ApiGatewayProxyRequest, value: &str) -> ApiGatewayProxyRequest {
    let v = HeaderValue::from_str(value).unwrap();
    event.headers.insert("authorization", v.clone());
    event.multi_value_headers.insert("authorization", v);
    event
}

/// Signed in as `sub`, in `groups`.
fn as_user(event: ApiGatewayProxyRequest, sub: &str, groups: &[&str]) -> ApiGatewayProxyRequest {
    let t = crate::auth::testing::token(sub, groups);
    authorized(event, &format!("Bearer {t}"))
}

impl<O: OrderStore, S: ProductStore, P: EventPublisher, C: Clock, A: Authenticate>
    Api<O, S, P, C, A>
{
    /// The request as the samples' customer, an operator too, unless it is signed already.
    async fn call(&self, event: ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
        let event = if event.headers.contains_key("authorization") {
            event
        } else {
            as_user(event, CUSTOMER, &["operators"])
        };
        proxy_response(self.handle(request(&event)).await)
    }

    async fn call_within(
        &self,
        event: ApiGatewayProxyRequest,
        budget: std::time::Duration,
    ) -> ApiGatewayProxyResponse {
        let event = as_user(event, CUSTOMER, &[]);
        proxy_response(self.handle_within(request(&event), budget).await)
    }
}

type TestApi = Api<
    InMemoryOrders,
    InMemoryInventory,
    RecordingPublisher,
    FixedClock,
    crate::auth::Verifier<crate::auth::testing::FixedKeys>,
>;

fn api() -> TestApi {
    Api {
        orders: InMemoryOrders::new(),
        products: InMemoryInventory::new(),
        publisher: RecordingPublisher::new(),
        clock: FixedClock::default_time(),
        writer_window: std::time::Duration::from_secs(11),
        default_shards: orders_domain::stock::ShardCount::ONE,
        auth: crate::auth::testing::verifier(),
    }
}

fn sample(name: &str) -> ApiGatewayProxyRequest {
    orders_domain::testing::lambda_sample(name)
}

fn body_json(resp: &ApiGatewayProxyResponse) -> Value {
    match &resp.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn header<'a>(resp: &'a ApiGatewayProxyResponse, name: &str) -> Option<&'a str> {
    resp.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A GET or cancel sample aimed at order `id` (the samples' own id is the one the sample's
/// Idempotency-Key gives under its API key; signed-in callers' keys are their own).
fn for_order(mut req: ApiGatewayProxyRequest, id: &str) -> ApiGatewayProxyRequest {
    let cancel = req.path.as_deref().is_some_and(|p| p.ends_with("/cancel"));
    req.path = Some(format!(
        "/orders/{id}{}",
        if cancel { "/cancel" } else { "" }
    ));
    req.path_parameters.insert("id".into(), id.into());
    req
}

fn with_body(mut req: ApiGatewayProxyRequest, body: &str) -> ApiGatewayProxyRequest {
    req.body = Some(body.to_string());
    req
}

fn assert_error(resp: &ApiGatewayProxyResponse, status: i64, code: &str) -> Value {
    assert_eq!(resp.status_code, status, "{:?}", resp.body);
    assert_eq!(header(resp, "content-type"), Some("application/json"));
    let b = body_json(resp);
    assert_eq!(b["error"], code, "{b}");
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    b
}

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
    assert_eq!(
        api.publisher.types(),
        vec![EventType::OrderPlaced, EventType::OrderStatusChanged]
    );

    // The sample carries an Idempotency-Key: a retry is the same order, no new event.
    let again = api.call(sample("apigw-post-order.json")).await;
    assert_eq!(again.status_code, 202);
    assert_eq!(body_json(&again)["order_id"], id.as_str());
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(api.publisher.events().len(), 2);
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
        2,
        "the first request's events only"
    );
}

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
        2,
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
            EventType::OrderStatusChanged,
            EventType::OrderCancelled,
            EventType::OrderStatusChanged
        ]
    );
}

#[tokio::test]
async fn cancel_of_a_rejected_order_is_409() {
    let api = api();
    api.call(sample("apigw-post-order.json")).await;
    let id = api.publisher.events()[0].order_id.clone();
    let rejected = orders_domain::Event::for_order(
        &id,
        chrono::Utc::now(),
        orders_domain::EventPayload::InventoryRejected(orders_domain::events::InventoryRejected {
            customer_id: orders_domain::CustomerId::parse("cust-42").unwrap(),
            short_skus: vec![],
            reason: None,
        }),
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

#[tokio::test]
async fn put_and_get_product() {
    let api = api();
    let resp = api.call(sample("apigw-put-product.json")).await;
    assert_eq!(resp.status_code, 201, "created: {:?}", resp.body);
    assert_eq!(header(&resp, "etag"), Some("\"1\""));
    let b = body_json(&resp);
    assert_eq!(
        (
            b["sku"].as_str(),
            b["available"].as_u64(),
            b["reserved"].as_u64()
        ),
        (Some("SKU-RED-MUG"), Some(25), Some(0))
    );
    let mut get = sample("apigw-put-product.json");
    get.http_method = Method::GET;
    get.body = None;
    let resp = api.call(get.clone()).await;
    assert_eq!(body_json(&resp)["available"], 25);
    assert_eq!(header(&resp, "etag"), Some("\"1\""));

    // Setting an existing product's stock needs the version it was read at.
    let put = sample("apigw-put-product.json");
    let b = assert_error(&api.call(put.clone()).await, 428, "precondition_required");
    assert_eq!(b["field"], "If-Match");
    let mut put_v1 = put.clone();
    put_v1
        .headers
        .insert("if-match", HeaderValue::from_static("\"1\""));
    let resp = api.call(put_v1.clone()).await;
    assert_eq!(resp.status_code, 200, "{:?}", resp.body);
    assert_eq!(header(&resp, "etag"), Some("\"2\""));
    let resp = api.call(put_v1).await;
    assert_error(&resp, 412, "precondition_failed");
    assert_eq!(header(&resp, "etag"), Some("\"2\""), "the current version");

    // A relative adjustment composes with whatever happened since.
    let mut patch = put.clone();
    patch.http_method = Method::PATCH;
    patch.body = Some(r#"{"delta": -30}"#.into());
    let b = assert_error(&api.call(patch.clone()).await, 409, "insufficient_stock");
    assert_eq!(b["field"], "delta");
    patch.body = Some(r#"{"delta": 5}"#.into());
    let resp = api.call(patch).await;
    assert_eq!(resp.status_code, 200, "{:?}", resp.body);
    assert_eq!(body_json(&resp)["available"], 30);

    get.path_parameters.insert("sku".into(), "SKU-NONE".into());
    let b = assert_error(&api.call(get.clone()).await, 404, "not_found");
    assert_eq!(b["field"], "sku");
    get.path_parameters
        .insert("sku".into(), "lower-case".into());
    let b = assert_error(&api.call(get).await, 400, "invalid_value");
    assert_eq!(b["field"], "sku");
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
async fn client_mistakes_are_always_4xx_never_5xx() {
    let api = api();
    let bodies = [
        "",
        "null",
        "[]",
        "\"x\"",
        "{",
        "{}",
        r#"{"customer_id":""}"#,
        r#"{"customer_id":"c","lines":"x"}"#,
        r#"{"customer_id":"c","lines":[{}]}"#,
        r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1e309}]}"#,
        r#"{"customer_id":"c","lines":[null]}"#,
        "\u{feff}{}",
    ];
    for body in bodies {
        let mut req = with_body(sample("apigw-bad-request.json"), body);
        req.headers.remove("idempotency-key");
        req.multi_value_headers.remove("idempotency-key");
        let resp = api.call(req).await;
        assert!(
            (400..500).contains(&resp.status_code),
            "{body:?} -> {}",
            resp.status_code
        );
        assert!(body_json(&resp)["error"].is_string());
    }
    let mut long_key = sample("apigw-post-order.json");
    long_key.headers.insert(
        "idempotency-key",
        HeaderValue::from_str(&"k".repeat(129)).unwrap(),
    );
    let b = assert_error(&api.call(long_key).await, 400, "invalid_idempotency_key");
    assert_eq!(b["field"], "Idempotency-Key");
}

#[tokio::test]
async fn body_limit_is_413_also_for_base64() {
    let api = api();
    let big = format!(
        r#"{{"customer_id":"c","pad":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let b = assert_error(
        &api.call(with_body(sample("apigw-bad-request.json"), &big))
            .await,
        413,
        "payload_too_large",
    );
    assert_eq!(b["field"], "body");
    let mut req = with_body(
        sample("apigw-bad-request.json"),
        &base64::engine::general_purpose::STANDARD.encode(big.as_bytes()),
    );
    req.is_base64_encoded = true;
    assert_error(&api.call(req).await, 413, "payload_too_large");
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    let api = api();
    let mut req = sample("apigw-post-order.json");
    let raw = req.body.clone().unwrap();
    req.body = Some(base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()));
    req.is_base64_encoded = true;
    assert_eq!(api.call(req).await.status_code, 202);
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_missing_key() {
    let api = api();
    let mut req = sample("apigw-get-order.json");
    req.resource = Some("/{proxy+}".into());
    req.path = Some("/nothing/here".into());
    assert_error(&api.call(req).await, 404, "not_found");

    let mut req = sample("apigw-post-order.json");
    req.http_method = Method::DELETE;
    let resp = api.call(req).await;
    assert_error(&resp, 405, "method_not_allowed");
    assert_eq!(header(&resp, "allow"), Some("POST, GET"));

    let mut req = sample("apigw-put-product.json");
    req.http_method = Method::POST;
    assert_eq!(
        header(&api.call(req).await, "allow"),
        Some("GET, PUT, PATCH")
    );

    let mut req = sample("apigw-post-order.json");
    req.headers.remove("x-api-key");
    req.multi_value_headers.remove("x-api-key");
    assert_error(&api.call(req).await, 403, "forbidden");
    assert!(api.publisher.events().is_empty());
}

#[tokio::test]
async fn path_routing_without_a_resource_template() {
    let api = api();
    let mut post = sample("apigw-post-order.json");
    post.resource = Some("/{proxy+}".into());
    post.path = Some("/orders/".into());
    let id = body_json(&api.call(post).await)["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut get = sample("apigw-get-order.json");
    get.resource = None;
    get.path_parameters.clear();
    get.path = Some(format!("/orders/{id}"));
    assert_eq!(api.call(get.clone()).await.status_code, 200);
    let mut cancel = get.clone();
    cancel.http_method = Method::POST;
    cancel.path = Some(format!("/orders/{id}/cancel"));
    assert_eq!(api.call(cancel.clone()).await.status_code, 202);
    // Unknown and malformed ids do not exist: 404 for reads and cancels alike.
    for bad in ["0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11", "not-an-id"] {
        get.path = Some(format!("/orders/{bad}"));
        assert_error(&api.call(get.clone()).await, 404, "not_found");
        cancel.path = Some(format!("/orders/{bad}/cancel"));
        assert_error(&api.call(cancel.clone()).await, 404, "not_found");
    }
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

#[test]
fn a_store_refusal_is_a_500_and_a_store_failure_a_503() {
    use orders_domain::ports::StoreError;
    let answer = |e: StoreError| {
        let resp = proxy_response(orders::store_error(&e));
        (resp.status_code, body_json(&resp)["error"].clone())
    };
    let refused = StoreError::Refused("get order: ValidationException".into());
    assert_eq!(answer(refused), (500, "internal".into()));
    let failed = StoreError::Backend("get order: ThrottlingException".into());
    assert_eq!(answer(failed), (503, "unavailable".into()));
}

/// A publisher that never answers (a hung SNS call).
struct HungPublisher;

impl EventPublisher for HungPublisher {
    async fn publish(
        &self,
        _: &orders_domain::Event,
    ) -> Result<(), orders_domain::ports::PublishError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_that_runs_out_of_time_answers_a_json_503() {
    let api = Api {
        orders: InMemoryOrders::new(),
        products: InMemoryInventory::new(),
        publisher: HungPublisher,
        clock: FixedClock::default_time(),
        writer_window: std::time::Duration::from_secs(11),
        default_shards: orders_domain::stock::ShardCount::ONE,
        auth: crate::auth::testing::verifier(),
    };
    let resp = api
        .call_within(
            sample("apigw-post-order.json"),
            std::time::Duration::from_secs(9),
        )
        .await;
    let body = assert_error(&resp, 503, "unavailable");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("ran out of time"));
    assert_eq!(header(&resp, "retry-after"), Some("1"));

    // Within its budget the same handler answers as usual.
    let resp = api
        .call_within(
            sample("apigw-get-order.json"),
            std::time::Duration::from_secs(9),
        )
        .await;
    assert_ne!(resp.status_code, 503);
}

#[tokio::test]
async fn an_orders_events_carry_the_trace_of_the_request_that_placed_it() {
    const ROOT: &str = "1-6b0a2fc4-1f2755f95f808630e5313525";
    let api = api();
    let mut event = sample("apigw-post-order.json");
    let trace: HeaderValue = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
        .parse()
        .unwrap();
    event.headers.insert("x-amzn-trace-id", trace.clone());
    event.multi_value_headers.insert("x-amzn-trace-id", trace);
    let budget = std::time::Duration::from_secs(5);
    let event = as_user(event, CUSTOMER, &[]);
    let resp = proxy_response(api.serve(request(&event), budget).await);
    assert_eq!(resp.status_code, 202, "{:?}", resp.body);
    assert_eq!(header(&resp, "x-trace-id"), Some(ROOT));
    let traces: Vec<_> = api
        .publisher
        .events()
        .into_iter()
        .map(|e| e.trace_id)
        .collect();
    assert_eq!(traces.len(), 2);
    assert!(traces
        .iter()
        .all(|t| t.as_ref().map(|t| t.as_str()) == Some(ROOT)));

    // Without a trace header, a new trace, in X-Ray's format, still reaches the events.
    let mut other = sample("apigw-post-order.json");
    other
        .headers
        .insert("idempotency-key", "another".parse().unwrap());
    let other = as_user(other, CUSTOMER, &[]);
    let resp = proxy_response(api.serve(request(&other), budget).await);
    let new = header(&resp, "x-trace-id").unwrap().to_string();
    assert!(TraceId::parse(new.as_str()).is_ok(), "{new}");
    assert_ne!(new, ROOT);
    let last = api.publisher.events().pop().unwrap();
    assert_eq!(last.trace_id.unwrap().as_str(), new);
}

#[tokio::test]
async fn a_product_gets_the_default_shard_count_or_its_own_and_patch_changes_it() {
    let mut api = api();
    api.default_shards = orders_domain::stock::ShardCount::new(4, "shards").unwrap();
    let resp = api.call(sample("apigw-put-product.json")).await;
    assert_eq!(body_json(&resp)["shards"], 4, "the stack's default");

    let mut own = sample("apigw-put-product.json");
    own.path_parameters.insert("sku".into(), "SKU-HOT".into());
    own.path = Some("/products/SKU-HOT".into());
    own.body = Some(r#"{"available": 9, "shards": 8}"#.into());
    let resp = api.call(own.clone()).await;
    assert_eq!(resp.status_code, 201, "{:?}", resp.body);
    assert_eq!(body_json(&resp)["shards"], 8);

    // The count of an existing product changes by PATCH, not by a set.
    own.headers
        .insert("if-match", HeaderValue::from_static("\"1\""));
    let b = assert_error(&api.call(own.clone()).await, 400, "invalid_value");
    assert_eq!(b["field"], "shards");
    let mut patch = own;
    patch.headers.remove("if-match");
    patch.http_method = Method::PATCH;
    patch.body = Some(r#"{"shards": 2}"#.into());
    let resp = api.call(patch.clone()).await;
    assert_eq!(resp.status_code, 200, "{:?}", resp.body);
    assert_eq!(
        (
            body_json(&resp)["shards"].as_u64(),
            body_json(&resp)["available"].as_u64()
        ),
        (Some(2), Some(9))
    );
    patch.body = Some(r#"{"shards": 0}"#.into());
    let b = assert_error(&api.call(patch).await, 400, "invalid_value");
    assert_eq!(b["field"], "shards");
}

#[tokio::test]
async fn without_valid_credentials_a_401_with_a_challenge_and_nothing_stored() {
    let api = api();
    let unsigned = sample("apigw-post-order.json");
    let resp = proxy_response(api.handle(request(&unsigned)).await);
    let b = assert_error(&resp, 401, "unauthorized");
    assert_eq!(b["field"], "Authorization");
    assert_eq!(
        header(&resp, "www-authenticate"),
        Some("Bearer realm=\"orders\"")
    );

    let expired = {
        let mut c = crate::auth::testing::claims(CUSTOMER, &[]);
        c["exp"] = serde_json::json!(1_000_000_000);
        crate::auth::testing::sign_with(&c, &crate::auth::testing::key(), crate::auth::testing::KID)
    };
    for value in [
        "Basic abc",
        "Bearer not-a-jwt",
        &format!("Bearer {expired}"),
    ] {
        let resp = api
            .call(authorized(sample("apigw-post-order.json"), value))
            .await;
        assert_error(&resp, 401, "unauthorized");
        let challenge = header(&resp, "www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"orders\", error=\"invalid"),
            "{challenge}"
        );
    }
    assert!(api.orders.is_empty());
    assert!(api.publisher.events().is_empty());
}

#[tokio::test]
async fn only_operators_write_stock_everyone_signed_in_reads_it() {
    let api = api();
    let customer = |req| as_user(req, CUSTOMER, &[]);
    let b = assert_error(
        &api.call(customer(sample("apigw-put-product.json"))).await,
        403,
        "forbidden",
    );
    assert!(b["message"].as_str().unwrap().contains("operators"), "{b}");
    let mut patch = with_body(sample("apigw-put-product.json"), r#"{"delta": 5}"#);
    patch.http_method = Method::PATCH;
    assert_error(&api.call(customer(patch)).await, 403, "forbidden");
    assert_eq!(api.products.product("SKU-RED-MUG"), None, "nothing written");

    assert_eq!(
        api.call(sample("apigw-put-product.json")).await.status_code,
        201
    );
    let mut get = sample("apigw-put-product.json");
    get.http_method = Method::GET;
    get.body = None;
    assert_eq!(api.call(customer(get)).await.status_code, 200);
}

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

#[tokio::test(start_paused = true)]
async fn an_unkeyed_order_cut_short_after_its_write_is_named_not_retried() {
    // Stored, then the publish hangs past the budget: "retry" would place it twice.
    let api = Api {
        orders: InMemoryOrders::new(),
        products: InMemoryInventory::new(),
        publisher: HungPublisher,
        clock: FixedClock::default_time(),
        writer_window: std::time::Duration::from_secs(11),
        default_shards: orders_domain::stock::ShardCount::ONE,
        auth: crate::auth::testing::verifier(),
    };
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
