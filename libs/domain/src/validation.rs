//! Request parsing and validation from raw bytes, with typed errors that name the field.
//!
//! Parsing walks a `serde_json::Value` by hand (rather than deriving) so every error can
//! say exactly which field is wrong (`lines[2].quantity`) and why, and so that a client
//! mistake is always a [`ValidationError`] (a 4xx), never a panic or a 5xx.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{sha256_hex, CustomerId, Sku};
use crate::order::OrderLine;

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
    /// Parses and validates a raw body.
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["customer_id", "lines"], "")?;

        let customer_id = match obj.get("customer_id") {
            None | Some(Value::Null) => {
                return Err(missing("customer_id"));
            }
            Some(Value::String(s)) => CustomerId::parse(s.as_str()).map_err(|_| {
                ValidationError::new(
                    ErrorCode::InvalidValue,
                    "customer_id",
                    "customer_id must match ^[A-Za-z0-9_-]{1,64}$",
                )
            })?,
            Some(_) => return Err(wrong_type("customer_id", "a string")),
        };

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
}

impl SetStockRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["available"], "")?;
        match obj.get("available") {
            None | Some(Value::Null) => Err(missing("available")),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(a) if a <= MAX_AVAILABLE => Ok(SetStockRequest { available: a }),
                _ => Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "available",
                    format!("available must be an integer from 0 to {MAX_AVAILABLE}"),
                )),
            },
            Some(_) => Err(wrong_type("available", "an integer")),
        }
    }
}

/// A validated `PATCH /products/{sku}` body: `{"delta": n}`, n a non-zero integer within
/// +-[`MAX_AVAILABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdjustStockRequest {
    pub delta: i64,
}

impl AdjustStockRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["delta"], "")?;
        let max = MAX_AVAILABLE as i64;
        match obj.get("delta") {
            None | Some(Value::Null) => Err(missing("delta")),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(d) if d != 0 && (-max..=max).contains(&d) => {
                    Ok(AdjustStockRequest { delta: d })
                }
                _ => Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "delta",
                    format!("delta must be a non-zero integer from -{max} to {max}"),
                )),
            },
            Some(_) => Err(wrong_type("delta", "an integer")),
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
mod tests {
    use super::*;

    fn err(body: &str) -> ValidationError {
        PlaceOrderRequest::parse(body.as_bytes()).unwrap_err()
    }

    fn check(body: &str, code: ErrorCode, field: &str) {
        let e = err(body);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (code, Some(field)),
            "{body}: {e}"
        );
    }

    #[test]
    fn parses_a_valid_order() {
        let r = PlaceOrderRequest::parse(
            br#"{"customer_id":"c-1","lines":[{"sku":"A-1","quantity":2},{"sku":"B","quantity":1000}]}"#,
        )
        .unwrap();
        assert_eq!(r.customer_id.as_str(), "c-1");
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[1].quantity, 1000);
    }

    #[test]
    fn body_errors() {
        check("", ErrorCode::InvalidBody, "body");
        check("{", ErrorCode::InvalidBody, "body");
        check("[]", ErrorCode::InvalidBody, "body");
        check("null", ErrorCode::InvalidBody, "body");
        let e = PlaceOrderRequest::parse(&[0xff, 0xfe]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidBody);
        let big = format!(
            r#"{{"customer_id":"c","lines":[{{"sku":"A","quantity":1}}],"x":"{}"}}"#,
            "a".repeat(MAX_BODY_BYTES)
        );
        check(&big, ErrorCode::PayloadTooLarge, "body");
    }

    #[test]
    fn field_errors_name_the_field() {
        check(r#"{"lines":[]}"#, ErrorCode::MissingField, "customer_id");
        check(
            r#"{"customer_id":null,"lines":[]}"#,
            ErrorCode::MissingField,
            "customer_id",
        );
        check(
            r#"{"customer_id":7,"lines":[]}"#,
            ErrorCode::InvalidType,
            "customer_id",
        );
        check(
            r#"{"customer_id":"a b","lines":[]}"#,
            ErrorCode::InvalidValue,
            "customer_id",
        );
        check(r#"{"customer_id":"c"}"#, ErrorCode::MissingField, "lines");
        check(
            r#"{"customer_id":"c","lines":{}}"#,
            ErrorCode::InvalidType,
            "lines",
        );
        check(
            r#"{"customer_id":"c","lines":[]}"#,
            ErrorCode::InvalidValue,
            "lines",
        );
        check(
            r#"{"customer_id":"c","lines":[1]}"#,
            ErrorCode::InvalidType,
            "lines[0]",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"quantity":1}]}"#,
            ErrorCode::MissingField,
            "lines[1].sku",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"a","quantity":1}]}"#,
            ErrorCode::InvalidValue,
            "lines[0].sku",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":1,"quantity":1}]}"#,
            ErrorCode::InvalidType,
            "lines[0].sku",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":1},{"sku":"C","quantity":0}]}"#,
            ErrorCode::InvalidValue,
            "lines[2].quantity",
        );
        for q in ["1001", "-1", "1.5", "1e3", "18446744073709551616"] {
            check(
                &format!(r#"{{"customer_id":"c","lines":[{{"sku":"A","quantity":{q}}}]}}"#),
                ErrorCode::InvalidValue,
                "lines[0].quantity",
            );
        }
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":"1"}]}"#,
            ErrorCode::InvalidType,
            "lines[0].quantity",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A"}]}"#,
            ErrorCode::MissingField,
            "lines[0].quantity",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"A","quantity":2}]}"#,
            ErrorCode::DuplicateSku,
            "lines[1].sku",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1}],"coupon":"x"}"#,
            ErrorCode::UnknownField,
            "coupon",
        );
        check(
            r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1,"price":3}]}"#,
            ErrorCode::UnknownField,
            "lines[0].price",
        );
    }

    #[test]
    fn line_count_limits() {
        let lines = |n: usize| {
            (0..n)
                .map(|i| format!(r#"{{"sku":"S{i}","quantity":1}}"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let ok = format!(r#"{{"customer_id":"c","lines":[{}]}}"#, lines(MAX_LINES));
        assert_eq!(
            PlaceOrderRequest::parse(ok.as_bytes()).unwrap().lines.len(),
            MAX_LINES
        );
        let too_many = format!(
            r#"{{"customer_id":"c","lines":[{}]}}"#,
            lines(MAX_LINES + 1)
        );
        check(&too_many, ErrorCode::InvalidValue, "lines");
    }

    #[test]
    fn canonical_hash_ignores_formatting_and_line_order_but_not_content() {
        let h = |b: &str| {
            PlaceOrderRequest::parse(b.as_bytes())
                .unwrap()
                .canonical_hash()
        };
        let a =
            h(r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":2}]}"#);
        let b = h(
            r#" { "lines" : [ {"quantity":2,"sku":"B"}, {"sku":"A","quantity":1} ], "customer_id":"c" } "#,
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(
            a,
            h(r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":3}]}"#)
        );
        assert_ne!(
            a,
            h(r#"{"customer_id":"d","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":2}]}"#)
        );
    }

    #[test]
    fn set_stock_request() {
        assert_eq!(
            SetStockRequest::parse(br#"{"available":0}"#)
                .unwrap()
                .available,
            0
        );
        assert_eq!(
            SetStockRequest::parse(br#"{"available":25}"#)
                .unwrap()
                .available,
            25
        );
        let e = SetStockRequest::parse(br#"{"available":-1}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidValue, Some("available"))
        );
        let e = SetStockRequest::parse(br#"{}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingField);
        let e = SetStockRequest::parse(br#"{"available":"3"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidType);
        let e = SetStockRequest::parse(br#"{"available":3,"reserved":1}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownField);
    }

    #[test]
    fn cancel_request() {
        assert_eq!(CancelRequest::parse(b"").unwrap(), CancelRequest::default());
        assert_eq!(
            CancelRequest::parse(b"  \n").unwrap(),
            CancelRequest::default()
        );
        assert_eq!(
            CancelRequest::parse(b"{}").unwrap(),
            CancelRequest::default()
        );
        assert_eq!(
            CancelRequest::parse(br#"{"reason":"changed my mind"}"#)
                .unwrap()
                .reason
                .as_deref(),
            Some("changed my mind")
        );
        let long = format!(r#"{{"reason":"{}"}}"#, "x".repeat(MAX_REASON_CHARS + 1));
        assert_eq!(
            CancelRequest::parse(long.as_bytes()).unwrap_err().code,
            ErrorCode::InvalidValue
        );
        assert_eq!(
            CancelRequest::parse(b"nope").unwrap_err().code,
            ErrorCode::InvalidBody
        );
    }

    #[test]
    fn error_serializes_as_the_api_contract() {
        let e = err(r#"{"customer_id":"c"}"#);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["error"], "missing_field");
        assert_eq!(v["field"], "lines");
        assert!(v["message"].as_str().unwrap().contains("lines"));
        for code in [
            ErrorCode::InvalidBody,
            ErrorCode::PayloadTooLarge,
            ErrorCode::MissingField,
            ErrorCode::UnknownField,
            ErrorCode::InvalidType,
            ErrorCode::InvalidValue,
            ErrorCode::DuplicateSku,
            ErrorCode::InvalidIdempotencyKey,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
