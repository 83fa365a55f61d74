//! What every request parser shares: the typed error that names the field, the body limit,
//! and the walk over a JSON object. Each flow's request type is parsed in its own module
//! (`place`, `cancel`, `products`).
//!
//! Parsing walks a `serde_json::Value` by hand (rather than deriving) so every error can
//! say exactly which field is wrong (`lines[2].quantity`) and why, and so that a client
//! mistake is always a [`ValidationError`] (a 4xx), never a panic or a 5xx.

use serde::Serialize;
use serde_json::{Map, Value};

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Machine-readable error codes of the API (`{"error": code}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not UTF-8, not JSON, or not a JSON object.
    InvalidBody,
    /// The body exceeds [`MAX_BODY_BYTES`].
    PayloadTooLarge,
    MissingField,
    UnknownField,
    InvalidType,
    /// Right type, wrong value (format, range, count).
    InvalidValue,
    DuplicateSku,
    InvalidIdempotencyKey,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidType => "invalid_type",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::DuplicateSku => "duplicate_sku",
            ErrorCode::InvalidIdempotencyKey => "invalid_idempotency_key",
        }
    }
}

/// A client mistake: `{"error": code, "message": ..., "field": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ValidationError {
    #[serde(rename = "error")]
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ValidationError {
    pub fn new(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationError::new(
            ErrorCode::PayloadTooLarge,
            "body",
            format!("the body is limited to {MAX_BODY_BYTES} bytes"),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        ValidationError::new(ErrorCode::InvalidBody, "body", "the body is not UTF-8")
    })?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ValidationError::new(
            ErrorCode::InvalidBody,
            "body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ValidationError::new(
            ErrorCode::InvalidBody,
            "body",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

pub(crate) fn reject_unknown(
    obj: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
) -> Result<(), ValidationError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => {
            let shown: String = k.chars().take(64).collect();
            let field = if path.is_empty() {
                shown.clone()
            } else {
                format!("{path}.{shown}")
            };
            Err(ValidationError::new(
                ErrorCode::UnknownField,
                field,
                format!("unknown field {shown:?}; expected one of {allowed:?}"),
            ))
        }
    }
}

pub(crate) fn missing(field: &str) -> ValidationError {
    ValidationError::new(
        ErrorCode::MissingField,
        field,
        format!("{field} is required"),
    )
}

pub(crate) fn wrong_type(field: &str, expected: &str) -> ValidationError {
    ValidationError::new(
        ErrorCode::InvalidType,
        field,
        format!("{field} must be {expected}"),
    )
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
