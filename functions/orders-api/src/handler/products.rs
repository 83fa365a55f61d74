//! The product routes: `GET` (with an `ETag`), `PUT` (create, or set under `If-Match`) and
//! `PATCH` (relative adjustment, or the shard count) of `/products/{sku}`.

use lambda_http::http::{HeaderMap, HeaderValue, Method};
use lambda_http::{Body, Response};
use orders_domain::ports::{Clock, Product, ProductStore};
use orders_domain::products::{self, etag, ProductError};
use orders_domain::ClientScope;
use serde_json::{json, Value};

use super::orders::store_error;
use super::Api;
use super::{error_response, idempotency_key, json_response, time, validation_response};

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
