//! Sharded stock against LocalStack, where it is the DynamoDB adapter's own: DynamoDB's limit
//! of 100 items per transaction. The sharded rules every implementation keeps (never
//! oversell, no unit lost while the shard count changes) are the contract suites'
//! (`tests/contract.rs`).
#![cfg(feature = "localstack-tests")]

mod support;

use orders_aws::ProductsTable;
use orders_domain::inventory::reservation::ReservationStatus;
use orders_domain::inventory::stock::Product;
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::{InventoryStore, ProductStore, StockWrite};
use orders_domain::{OrderId, OrderLine, Sku};
use support::*;

fn shards(n: u64) -> ShardCount {
    ShardCount::new(n, "shards").unwrap()
}

async fn create(products: &ProductsTable, sku: &str, available: u64, n: u64) -> Product {
    match products
        .create(&Sku::parse(sku).unwrap(), available, shards(n), now())
        .await
        .unwrap()
    {
        StockWrite::Written(p) => p,
        other => panic!("create {sku}: {other:?}"),
    }
}

async fn product(products: &ProductsTable, sku: &str) -> Product {
    products
        .get(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_reservation_too_large_for_one_transaction_is_rejected_with_its_reason() {
    // 13 SKUs of 8 units, one in each of 8 shards; 8 of each at once needs 104 stock items,
    // over DynamoDB's 100 per transaction. Retrying cannot change that: rejected now.
    let (products, inv) = inventory().await;
    let skus: Vec<String> = (0..13).map(|i| format!("WIDE-{i}")).collect();
    for sku in &skus {
        create(&products, sku, 8, 8).await;
    }
    let lines: Vec<OrderLine> = skus
        .iter()
        .map(|s| OrderLine {
            sku: Sku::parse(s).unwrap(),
            quantity: 8,
        })
        .collect();
    let id = OrderId::random();
    let r = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert_eq!(r.reservation.status, ReservationStatus::Rejected);
    let reason = r.reservation.reason.clone().expect("a reason");
    assert!(reason.contains("stock items"), "{reason}");
    assert!(!r.reservation.short_skus.is_empty());
    for sku in &skus {
        let p = product(&products, sku).await;
        assert_eq!((p.available, p.reserved), (8, 0), "{sku}: nothing taken");
    }
    // Redelivered, it is the same decision.
    let again = inv.reserve(&id, &customer(), &lines, now()).await.unwrap();
    assert!(!again.newly_written);
    assert_eq!(again.reservation.reason, Some(reason));
}
