//! The error every parser answers with, as the API contract spells it.

use super::*;

#[test]
fn error_serializes_as_the_api_contract() {
    let e = missing("lines");
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

#[test]
fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
    let body = |len: usize| {
        let pad = len - r#"{"a":""}"#.len();
        format!(r#"{{"a":"{}"}}"#, "x".repeat(pad))
    };
    let at = body(MAX_BODY_BYTES);
    assert_eq!(at.len(), MAX_BODY_BYTES);
    assert!(parse_object(at.as_bytes()).is_ok());
    let e = parse_object(body(MAX_BODY_BYTES + 1).as_bytes()).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::PayloadTooLarge, Some("body"))
    );
}
