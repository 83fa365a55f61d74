//! What every operation answers with: JSON bodies `{"error", "message", "field"?}`, the
//! statuses of store failures and of failed sign-ins, the shared header parsing.

use chrono::SecondsFormat;
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use orders_domain::ports::StoreError;
use orders_domain::validation::{ErrorCode, ValidationError};
use orders_domain::IdempotencyKey;
use serde_json::{json, Value};
use tracing::{error, info, warn};

use crate::auth::AuthError;

/// `401` with RFC 6750's `WWW-Authenticate` (or `503` when the pool's keys could not be
/// read). Logged by reason only: the token never reaches a log line.
pub(crate) fn auth_error(e: &AuthError) -> Response<Body> {
    if let AuthError::KeysUnavailable(detail) = e {
        error!(%detail, "user pool keys unavailable");
        let mut resp = error_response(
            503,
            "unavailable",
            "sign-in cannot be checked right now; retrying the same request is safe",
            None,
        );
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return resp;
    }
    info!(reason = e.reason(), "request not authenticated");
    let mut challenge = String::from("Bearer realm=\"orders\"");
    if let Some(code) = e.bearer_error() {
        challenge.push_str(&format!(", error=\"{code}\", error_description=\"{e}\""));
    }
    let mut resp = error_response(401, "unauthorized", &e.to_string(), Some("Authorization"));
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert("www-authenticate", v);
    }
    resp
}

pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `Idempotency-Key` header, if any, parsed.
pub(crate) fn idempotency_key(
    headers: &HeaderMap,
) -> Result<Option<IdempotencyKey>, ValidationError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| IdempotencyKey::parse(v).ok())
        .map(Some)
        .ok_or_else(|| {
            ValidationError::new(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 128 printable ASCII characters",
            )
        })
}

pub(crate) fn validation_response(v: &ValidationError) -> Response<Body> {
    let status = if v.code == ErrorCode::PayloadTooLarge {
        413
    } else {
        400
    };
    info!(
        code = v.code.as_str(),
        field = v.field.as_deref().unwrap_or("-"),
        "client error"
    );
    json_response(
        status,
        &serde_json::to_value(v).unwrap_or_else(|_| json!({"error": v.code.as_str()})),
    )
}

pub(crate) fn error_response(
    status: u16,
    code: &str,
    message: &str,
    field: Option<&str>,
) -> Response<Body> {
    let mut body = json!({"error": code, "message": message});
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    json_response(status, &body)
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// A store failure: `503` when retrying may help, `500` for a corrupt record or a refused request.
pub(crate) fn store_error(e: &StoreError) -> Response<Body> {
    match e {
        StoreError::Corrupt { .. } | StoreError::Refused(_) => internal(&e.to_string()),
        StoreError::Backend(_) | StoreError::Busy(_) | StoreError::Retry(_) => {
            unavailable(&e.to_string())
        }
    }
}

pub(crate) fn unavailable(detail: &str) -> Response<Body> {
    // Details stay in the logs; the client learns it may retry.
    warn!(detail = %detail, "answering 503");
    error_response(
        503,
        "unavailable",
        "temporarily unavailable; retrying the same request is safe",
        None,
    )
}

pub(crate) fn internal(detail: &str) -> Response<Body> {
    error!(detail = %detail, "answering 500");
    error_response(500, "internal", "internal error", None)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    use super::*;

    #[test]
    fn a_store_refusal_is_a_500_and_a_store_failure_a_503() {
        use orders_domain::ports::StoreError;
        let answer = |e: StoreError| {
            let resp = proxy_response(store_error(&e));
            (resp.status_code, body_json(&resp)["error"].clone())
        };
        let refused = StoreError::Refused("get order: ValidationException".into());
        assert_eq!(answer(refused), (500, "internal".into()));
        let failed = StoreError::Backend("get order: ThrottlingException".into());
        assert_eq!(answer(failed), (503, "unavailable".into()));
    }
}
