//! The `POST /orders` body: every field, every limit, every error named.

use super::*;
use crate::validation::MAX_BODY_BYTES;

/// The signed-in customer every request here comes from.
fn caller() -> CustomerId {
    CustomerId::parse("c").unwrap()
}

fn parse(body: &[u8]) -> Result<PlaceOrderRequest, ValidationError> {
    PlaceOrderRequest::parse(body, &caller())
}

fn err(body: &str) -> ValidationError {
    parse(body.as_bytes()).unwrap_err()
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
    let r =
        parse(br#"{"lines":[{"sku":"A-1","quantity":2},{"sku":"B","quantity":1000}]}"#).unwrap();
    assert_eq!(r.customer_id, caller(), "the order is the caller's");
    // The caller's own id in the body changes nothing.
    let same = parse(
        br#"{"customer_id":"c","lines":[{"sku":"A-1","quantity":2},{"sku":"B","quantity":1000}]}"#,
    );
    assert_eq!(same.unwrap(), r);
    assert_eq!(r.lines.len(), 2);
    assert_eq!(r.lines[1].quantity, 1000);
}

#[test]
fn body_errors() {
    check("", ErrorCode::InvalidBody, "body");
    check("{", ErrorCode::InvalidBody, "body");
    check("[]", ErrorCode::InvalidBody, "body");
    check("null", ErrorCode::InvalidBody, "body");
    let e = parse(&[0xff, 0xfe]).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidBody);
    let big = format!(
        r#"{{"customer_id":"c","lines":[{{"sku":"A","quantity":1}}],"x":"{}"}}"#,
        "a".repeat(MAX_BODY_BYTES)
    );
    check(&big, ErrorCode::PayloadTooLarge, "body");
}

#[test]
fn field_errors_name_the_field() {
    // Left out or null: the caller's. Another customer's id: refused, never taken.
    check(r#"{"lines":[]}"#, ErrorCode::InvalidValue, "lines");
    check(
        r#"{"customer_id":null,"lines":[]}"#,
        ErrorCode::InvalidValue,
        "lines",
    );
    check(
        r#"{"customer_id":"someone-else","lines":[{"sku":"A","quantity":1}]}"#,
        ErrorCode::InvalidValue,
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
    assert_eq!(parse(ok.as_bytes()).unwrap().lines.len(), MAX_LINES);
    let too_many = format!(
        r#"{{"customer_id":"c","lines":[{}]}}"#,
        lines(MAX_LINES + 1)
    );
    check(&too_many, ErrorCode::InvalidValue, "lines");
}

#[test]
fn canonical_hash_ignores_formatting_and_line_order_but_not_content() {
    let h = |b: &str| parse(b.as_bytes()).unwrap().canonical_hash();
    let a = h(r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":2}]}"#);
    let b = h(
        r#" { "lines" : [ {"quantity":2,"sku":"B"}, {"sku":"A","quantity":1} ], "customer_id":"c" } "#,
    );
    assert_eq!(a, b);
    assert_eq!(a.len(), 64);
    assert_ne!(
        a,
        h(r#"{"customer_id":"c","lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":3}]}"#)
    );
    let d = CustomerId::parse("d").unwrap();
    let of_d = PlaceOrderRequest::parse(
        br#"{"lines":[{"sku":"A","quantity":1},{"sku":"B","quantity":2}]}"#,
        &d,
    );
    assert_ne!(a, of_d.unwrap().canonical_hash());
}
