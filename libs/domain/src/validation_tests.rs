//! Request validation: every field, every limit, every error named.
use super::*;

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
    let r = SetStockRequest::parse(br#"{"available":3,"shards":8}"#).unwrap();
    assert_eq!(r.shards.map(ShardCount::get), Some(8));
    for bad in [
        &br#"{"available":3,"shards":0}"#[..],
        br#"{"available":3,"shards":33}"#,
        br#"{"available":3,"shards":1.5}"#,
    ] {
        let e = SetStockRequest::parse(bad).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("shards"), "{e:?}");
    }
}

#[test]
fn patch_product_request() {
    use PatchProductRequest::*;
    assert_eq!(
        PatchProductRequest::parse(br#"{"delta":-4}"#).unwrap(),
        Adjust { delta: -4 }
    );
    assert_eq!(
        PatchProductRequest::parse(br#"{"shards":4}"#).unwrap(),
        Reshard {
            shards: ShardCount::new(4, "shards").unwrap()
        }
    );
    let cases: [(&[u8], ErrorCode, &str); 6] = [
        (br#"{}"#, ErrorCode::MissingField, "delta"),
        (br#"{"delta":0}"#, ErrorCode::InvalidValue, "delta"),
        (br#"{"delta":"1"}"#, ErrorCode::InvalidType, "delta"),
        (br#"{"shards":"2"}"#, ErrorCode::InvalidType, "shards"),
        (br#"{"shards":64}"#, ErrorCode::InvalidValue, "shards"),
        (
            br#"{"delta":1,"shards":2}"#,
            ErrorCode::InvalidValue,
            "shards",
        ),
    ];
    for (body, code, field) in cases {
        let e = PatchProductRequest::parse(body).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (code, Some(field)), "{e:?}");
    }
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
