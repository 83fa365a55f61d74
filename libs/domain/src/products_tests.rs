//! Product stock over the in-memory ports.

use super::*;
use crate::testing::{FixedClock, InMemoryInventory};

/// A `PATCH` without an `Idempotency-Key`.
async fn adjust(
    inv: &InMemoryInventory,
    c: &FixedClock,
    sku: &str,
    body: &[u8],
) -> Result<Product, ProductError> {
    patch_product(inv, c, sku, &ClientScope::api_key_id("k"), None, body).await
}

#[tokio::test]
async fn an_adjustment_retried_with_its_key_is_applied_once() {
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    create(&inv, &c, 5).await;
    let (me, other) = (
        ClientScope::api_key_id("me"),
        ClientScope::api_key_id("other"),
    );
    let key = IdempotencyKey::parse("restock-1").unwrap();
    for _ in 0..2 {
        let p = patch_product(&inv, &c, "SKU-9", &me, Some(&key), br#"{"delta":3}"#)
            .await
            .unwrap();
        assert_eq!((p.available, p.version), (8, 2), "applied once");
    }
    // The same key from another client is another adjustment.
    let p = patch_product(&inv, &c, "SKU-9", &other, Some(&key), br#"{"delta":3}"#)
        .await
        .unwrap();
    assert_eq!(p.available, 11);
    let e = patch_product(&inv, &c, "SKU-9", &me, Some(&key), br#"{"delta":4}"#)
        .await
        .unwrap_err();
    assert!(matches!(e, ProductError::KeyReused), "{e:?}");
    // Without a key, each request is its own adjustment.
    adjust(&inv, &c, "SKU-9", br#"{"delta":1}"#).await.unwrap();
    let p = adjust(&inv, &c, "SKU-9", br#"{"delta":1}"#).await.unwrap();
    assert_eq!(p.available, 13);
}

async fn create(inv: &InMemoryInventory, c: &FixedClock, available: u64) -> Product {
    let body = format!(r#"{{"available":{available}}}"#);
    let set = set_stock(inv, c, "SKU-9", None, body.as_bytes(), ShardCount::ONE)
        .await
        .unwrap();
    assert!(set.created);
    set.product
}

#[tokio::test]
async fn a_new_product_is_created_by_a_plain_put() {
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    let p = create(&inv, &c, 7).await;
    assert_eq!((p.available, p.reserved, p.version), (7, 0, 1));
    assert_eq!(get_product(&inv, "SKU-9").await.unwrap(), p);
}

#[tokio::test]
async fn an_existing_product_is_set_only_against_the_version_read() {
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    create(&inv, &c, 7).await;
    let e = set_stock(
        &inv,
        &c,
        "SKU-9",
        None,
        br#"{"available":9}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ProductError::PreconditionRequired(ref p) if p.version == 1),
        "{e:?}"
    );

    let set = set_stock(
        &inv,
        &c,
        "SKU-9",
        Some("\"1\""),
        br#"{"available":9}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap();
    assert!(!set.created);
    assert_eq!((set.product.available, set.product.version), (9, 2));

    // A reservation (or any write) in between makes the read stale.
    let e = set_stock(
        &inv,
        &c,
        "SKU-9",
        Some("\"1\""),
        br#"{"available":3}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ProductError::VersionMismatch(ref p) if p.version == 2 && p.available == 9),
        "{e:?}"
    );
    assert_eq!(
        inv.product("SKU-9").unwrap().available,
        9,
        "nothing overwritten"
    );

    let e = set_stock(
        &inv,
        &c,
        "SKU-0",
        Some("1"),
        br#"{"available":3}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ProductError::NotFound(_)), "{e:?}");
    let e = set_stock(
        &inv,
        &c,
        "SKU-9",
        Some("W/x"),
        br#"{"available":3}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ProductError::Invalid(ref v) if v.field.as_deref() == Some("If-Match")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_reservation_since_the_read_makes_an_absolute_set_fail() {
    use crate::ports::InventoryStore;
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    let read = create(&inv, &c, 5).await;
    inv.reserve(
        &crate::OrderId::random(),
        &crate::CustomerId::parse("c").unwrap(),
        &[crate::OrderLine {
            sku: Sku::parse("SKU-9").unwrap(),
            quantity: 2,
        }],
        c.now(),
    )
    .await
    .unwrap();
    // "+5" computed from the read, written as an absolute 10, would resell the 2 units.
    let if_match = etag(read.version);
    let e = set_stock(
        &inv,
        &c,
        "SKU-9",
        Some(&if_match),
        br#"{"available":10}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ProductError::VersionMismatch(ref p) if p.available == 3),
        "{e:?}"
    );
    // The relative restock composes with the reservation.
    let p = adjust(&inv, &c, "SKU-9", br#"{"delta":5}"#).await.unwrap();
    assert_eq!((p.available, p.reserved), (8, 2));
}

#[tokio::test]
async fn adjustments_compose_and_never_go_below_zero() {
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    create(&inv, &c, 5).await;
    let p = adjust(&inv, &c, "SKU-9", br#"{"delta":5}"#).await.unwrap();
    assert_eq!((p.available, p.version), (10, 2));
    let p = adjust(&inv, &c, "SKU-9", br#"{"delta":-10}"#)
        .await
        .unwrap();
    assert_eq!(p.available, 0);
    let e = adjust(&inv, &c, "SKU-9", br#"{"delta":-1}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProductError::Insufficient(ref p, 1) if p.available == 0),
        "{e:?}"
    );
    let e = adjust(&inv, &c, "SKU-0", br#"{"delta":1}"#)
        .await
        .unwrap_err();
    assert!(matches!(e, ProductError::NotFound(_)), "{e:?}");
    let e = adjust(&inv, &c, "SKU-9", br#"{"delta":0}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProductError::Invalid(ref v) if v.field.as_deref() == Some("delta")),
        "{e:?}"
    );
}

#[tokio::test]
async fn bad_skus_and_bodies_name_the_field() {
    let (inv, c) = (InMemoryInventory::new(), FixedClock::default_time());
    let e = set_stock(
        &inv,
        &c,
        "bad sku",
        None,
        br#"{"available":7}"#,
        ShardCount::ONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, ProductError::Invalid(ref v) if v.field.as_deref() == Some("sku")),
        "{e:?}"
    );
    let e = adjust(&inv, &c, "SKU-9", br#"{"delta":"x"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProductError::Invalid(ref v) if v.field.as_deref() == Some("delta")),
        "{e:?}"
    );
    assert!(matches!(
        get_product(&inv, "SKU-404").await.unwrap_err(),
        ProductError::NotFound(_)
    ));
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
    let most = format!(r#"{{"available":{MAX_AVAILABLE}}}"#);
    let r = SetStockRequest::parse(most.as_bytes()).unwrap();
    assert_eq!(r.available, MAX_AVAILABLE);
    let over = format!(r#"{{"available":{}}}"#, MAX_AVAILABLE + 1);
    let e = SetStockRequest::parse(over.as_bytes()).unwrap_err();
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
