//! The product routes: `GET` (with an `ETag`), `PUT` (create, or set under `If-Match`) and
//! `PATCH` (relative adjustment, or the shard count) of `/products/{sku}`.

use lambda_http::http::{HeaderMap, HeaderValue, Method};
use lambda_http::{Body, Response};
use orders_domain::inventory::stock::Product;
use orders_domain::ports::{Clock, ProductStore};
use orders_domain::products::{self, etag, ProductError};
use orders_domain::ClientScope;
use serde_json::{json, Value};

use super::respond::{
    error_response, idempotency_key, json_response, store_error, time, validation_response,
};
use super::Api;

pub(super) async fn handle<O, S: ProductStore, P, C: Clock, A>(
    api: &Api<O, S, P, C, A>,
    method: &Method,
    headers: &HeaderMap,
    client: &ClientScope,
    sku: &str,
    body: &[u8],
) -> Response<Body> {
    let (store, clock) = (&api.products, &api.clock);
    let result = match *method {
        Method::PUT => {
            let if_match = match headers.get("if-match").map(HeaderValue::to_str) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => Some("?"), // not ASCII: reported as a malformed If-Match
            };
            products::set_stock(store, clock, sku, if_match, body, api.default_shards)
                .await
                .map(|set| with_etag(if set.created { 201 } else { 200 }, &set.product))
        }
        Method::PATCH => match idempotency_key(headers) {
            Err(v) => Err(v.into()),
            Ok(key) => products::patch_product(store, clock, sku, client, key.as_ref(), body)
                .await
                .map(|p| with_etag(200, &p)),
        },
        _ => products::get_product(store, sku)
            .await
            .map(|p| with_etag(200, &p)),
    };
    result.unwrap_or_else(|e| error(&e))
}

fn view(p: &Product) -> Value {
    json!({
        "sku": p.sku,
        "available": p.available,
        "reserved": p.reserved,
        "version": p.version,
        "shards": p.shards,
        "updated_at": time(p.updated_at),
    })
}

fn with_etag(status: u16, p: &Product) -> Response<Body> {
    let mut resp = json_response(status, &view(p));
    if let Ok(v) = HeaderValue::from_str(&etag(p.version)) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

fn error(e: &ProductError) -> Response<Body> {
    let (status, code, field, current) = match e {
        ProductError::Invalid(v) => return validation_response(v),
        ProductError::Store(s) => return store_error(s),
        ProductError::NotFound(_) => (404, "not_found", Some("sku"), None),
        ProductError::PreconditionRequired(p) => {
            (428, "precondition_required", Some("If-Match"), Some(p))
        }
        ProductError::VersionMismatch(p) => (412, "precondition_failed", Some("If-Match"), Some(p)),
        ProductError::Insufficient(p, _) => (409, "insufficient_stock", Some("delta"), Some(p)),
        ProductError::KeyReused => (409, "idempotency_key_reused", Some("Idempotency-Key"), None),
    };
    let mut resp = error_response(status, code, &e.to_string(), field);
    if let Some(p) = current {
        if let Ok(v) = HeaderValue::from_str(&etag(p.version)) {
            resp.headers_mut().insert("etag", v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;

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
    async fn a_product_gets_the_default_shard_count_or_its_own_and_patch_changes_it() {
        let mut api = api();
        api.default_shards = orders_domain::inventory::stock::ShardCount::new(4, "shards").unwrap();
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
}
