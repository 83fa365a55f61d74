//! What the router does for every operation: routes and methods, the API key and sign-in,
//! body limits and encodings, the time budget, the trace.

use super::test_support::*;
use super::*;

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

#[tokio::test(start_paused = true)]
async fn a_request_that_runs_out_of_time_answers_a_json_503() {
    let api = api_with(HungPublisher);
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
    assert_eq!(traces.len(), 1);
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
