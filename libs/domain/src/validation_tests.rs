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
