//! Request parsing and validation from raw bytes, with typed errors that name the field.
//!
//! Parsing walks a `serde_json::Value` by hand (rather than deriving) so every error can
//! say exactly which field is wrong (`lines[2].quantity`) and why, and so that a client
//! mistake is always a [`ValidationError`] (a 4xx), never a panic or a 5xx.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{sha256_hex, CustomerId, Sku};
use crate::order::OrderLine;
use crate::stock::ShardCount;

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Lines per order.
pub const MAX_LINES: usize = 50;
/// Units per line.
pub const MAX_QUANTITY: u64 = 1000;
/// Largest stock level `PUT /products/{sku}` accepts.
pub const MAX_AVAILABLE: u64 = 1_000_000_000;
/// Longest cancellation reason.
pub const MAX_REASON_CHARS: usize = 200;

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

/// A validated `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrderRequest {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
}

impl PlaceOrderRequest {
    /// Parses and validates a raw body placed by `caller` (the signed-in customer, the
    /// token's subject): the order is theirs. A `customer_id` in the body is optional and
    /// must name the caller; it is never taken from there.
    pub fn parse(body: &[u8], caller: &CustomerId) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["customer_id", "lines"], "")?;

        match obj.get("customer_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.as_str() == caller.as_str() => {}
            Some(Value::String(_)) => {
                return Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "customer_id",
                    "customer_id is the signed-in customer (the token's subject); leave it out",
                ))
            }
            Some(_) => return Err(wrong_type("customer_id", "a string")),
        }
        let customer_id = caller.clone();

        let raw_lines = match obj.get("lines") {
            None | Some(Value::Null) => return Err(missing("lines")),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(wrong_type("lines", "an array")),
        };
        if raw_lines.is_empty() || raw_lines.len() > MAX_LINES {
            return Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "lines",
                format!(
                    "an order has 1 to {MAX_LINES} lines, got {}",
                    raw_lines.len()
                ),
            ));
        }

        let mut lines: Vec<OrderLine> = Vec::with_capacity(raw_lines.len());
        for (i, raw) in raw_lines.iter().enumerate() {
            let line = parse_line(raw, i)?;
            if let Some(first) = lines.iter().position(|l| l.sku == line.sku) {
                return Err(ValidationError::new(
                    ErrorCode::DuplicateSku,
                    format!("lines[{i}].sku"),
                    format!("SKU {} already appears in lines[{first}]", line.sku),
                ));
            }
            lines.push(line);
        }
        Ok(PlaceOrderRequest { customer_id, lines })
    }

    /// SHA-256 hex of the canonical form: the same order written differently (key order,
    /// whitespace, line order) hashes the same, so an `Idempotency-Key` retry matches.
    pub fn canonical_hash(&self) -> String {
        let mut lines: Vec<&OrderLine> = self.lines.iter().collect();
        lines.sort_by(|a, b| a.sku.cmp(&b.sku));
        let canonical = serde_json::json!({
            "customer_id": self.customer_id,
            "lines": lines,
        });
        sha256_hex(canonical.to_string().as_bytes())
    }
}

fn parse_line(raw: &Value, i: usize) -> Result<OrderLine, ValidationError> {
    let path = format!("lines[{i}]");
    let obj = match raw {
        Value::Object(o) => o,
        _ => return Err(wrong_type(&path, "an object")),
    };
    reject_unknown(obj, &["sku", "quantity"], &path)?;
    let sku = match obj.get("sku") {
        None | Some(Value::Null) => return Err(missing(&format!("{path}.sku"))),
        Some(Value::String(s)) => Sku::parse(s.as_str()).map_err(|_| {
            ValidationError::new(
                ErrorCode::InvalidValue,
                format!("{path}.sku"),
                "sku must match ^[A-Z0-9][A-Z0-9-]{0,31}$",
            )
        })?,
        Some(_) => return Err(wrong_type(&format!("{path}.sku"), "a string")),
    };
    let qpath = format!("{path}.quantity");
    let quantity = match obj.get("quantity") {
        None | Some(Value::Null) => return Err(missing(&qpath)),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(q) if (1..=MAX_QUANTITY).contains(&q) => q,
            _ => {
                return Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    qpath,
                    format!("quantity must be an integer from 1 to {MAX_QUANTITY}"),
                ))
            }
        },
        Some(_) => return Err(wrong_type(&qpath, "an integer")),
    };
    // In range 1..=1000, so the conversion cannot fail; map anyway rather than unwrap.
    let quantity = u32::try_from(quantity).map_err(|_| {
        ValidationError::new(
            ErrorCode::InvalidValue,
            format!("{path}.quantity"),
            "too large",
        )
    })?;
    Ok(OrderLine { sku, quantity })
}

/// A validated `PUT /products/{sku}` body: `{"available": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetStockRequest {
    pub available: u64,
    /// The shard count a new product gets (else the stack's default). Only on create: an
    /// existing product's count changes by `PATCH`.
    pub shards: Option<ShardCount>,
}

impl SetStockRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["available", "shards"], "")?;
        let available = match obj.get("available") {
            None | Some(Value::Null) => return Err(missing("available")),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(a) if a <= MAX_AVAILABLE => a,
                _ => {
                    return Err(ValidationError::new(
                        ErrorCode::InvalidValue,
                        "available",
                        format!("available must be an integer from 0 to {MAX_AVAILABLE}"),
                    ))
                }
            },
            Some(_) => return Err(wrong_type("available", "an integer")),
        };
        let shards = match obj.get("shards") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_shards(v)?),
        };
        Ok(SetStockRequest { available, shards })
    }
}

fn parse_shards(v: &Value) -> Result<ShardCount, ValidationError> {
    match v {
        Value::Number(n) => ShardCount::new(n.as_u64().unwrap_or(0), "shards"),
        _ => Err(wrong_type("shards", "an integer")),
    }
}

/// A validated `PATCH /products/{sku}` body: `{"delta": n}` (n a non-zero integer within
/// +-[`MAX_AVAILABLE`]), or `{"shards": n}` (the SKU's shard count, changed while it sells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchProductRequest {
    Adjust { delta: i64 },
    Reshard { shards: ShardCount },
}

impl PatchProductRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["delta", "shards"], "")?;
        let max = MAX_AVAILABLE as i64;
        let given = |name| obj.get(name).filter(|v| !v.is_null());
        match (given("delta"), given("shards")) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "shards",
                "send either delta or shards, not both",
            )),
            (None, None) => Err(missing("delta")),
            (None, Some(v)) => Ok(PatchProductRequest::Reshard {
                shards: parse_shards(v)?,
            }),
            (Some(Value::Number(n)), None) => match n.as_i64() {
                Some(d) if d != 0 && (-max..=max).contains(&d) => {
                    Ok(PatchProductRequest::Adjust { delta: d })
                }
                _ => Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "delta",
                    format!("delta must be a non-zero integer from -{max} to {max}"),
                )),
            },
            (Some(_), None) => Err(wrong_type("delta", "an integer")),
        }
    }
}

/// A validated `POST /orders/{id}/cancel` body: empty, or `{"reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

impl CancelRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(CancelRequest::default());
        }
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["reason"], "")?;
        match obj.get("reason") {
            None | Some(Value::Null) => Ok(CancelRequest::default()),
            Some(Value::String(s)) if s.chars().count() <= MAX_REASON_CHARS => Ok(CancelRequest {
                reason: Some(s.clone()),
            }),
            Some(Value::String(_)) => Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "reason",
                format!("reason is at most {MAX_REASON_CHARS} characters"),
            )),
            Some(_) => Err(wrong_type("reason", "a string")),
        }
    }
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
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

fn reject_unknown(
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

fn missing(field: &str) -> ValidationError {
    ValidationError::new(
        ErrorCode::MissingField,
        field,
        format!("{field} is required"),
    )
}

fn wrong_type(field: &str, expected: &str) -> ValidationError {
    ValidationError::new(
        ErrorCode::InvalidType,
        field,
        format!("{field} must be {expected}"),
    )
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
