//! The `ProductStore` contract: creates that never overwrite, sets under a version, relative
//! adjustments applied once per id, sharded stock read and written as one product.

use futures_util::future::join_all;

use super::{customer, decided, line, now, sku, InventoryPorts};
use crate::ids::{AdjustmentId, OrderId};
use crate::inventory::stock::ShardCount;
use crate::ports::{Adjusted, InventoryStore, ProductStore, StockWrite};

fn shards(n: u64) -> ShardCount {
    ShardCount::new(n, "shards").unwrap_or_else(|e| panic!("{n} shards: {e}"))
}

pub async fn create_set_under_a_version_and_adjust<P: InventoryPorts>(ports: &P) {
    let (products, inv) = (ports.products(), ports.inventory());
    let sku = sku("SKU-1");
    assert_eq!(products.get(&sku).await.unwrap(), None);
    assert_eq!(
        products.set_if_version(&sku, 1, 1, now()).await.unwrap(),
        StockWrite::NotFound
    );
    let StockWrite::Written(p) = products
        .create(&sku, 5, ShardCount::ONE, now())
        .await
        .unwrap()
    else {
        panic!("created")
    };
    assert_eq!((p.available, p.reserved, p.version), (5, 0, 1));
    let StockWrite::Refused(p) = products
        .create(&sku, 9, ShardCount::ONE, now())
        .await
        .unwrap()
    else {
        panic!("exists")
    };
    assert_eq!(p.available, 5, "create never overwrites");

    let StockWrite::Written(p) = products.set_if_version(&sku, 7, 1, now()).await.unwrap() else {
        panic!("at version 1")
    };
    assert_eq!((p.available, p.version), (7, 2));
    // A reservation bumps the version too, so a set computed from an older read is refused.
    let id = OrderId::random();
    inv.reserve(&id, &customer(), &[line("SKU-1", 2)], now())
        .await
        .unwrap();
    let StockWrite::Refused(p) = products.set_if_version(&sku, 9, 2, now()).await.unwrap() else {
        panic!("stale version")
    };
    assert_eq!((p.available, p.reserved, p.version), (5, 2, 3));

    let restock = AdjustmentId::random();
    let Adjusted::Applied(p) = products.adjust(&sku, 4, &restock, now()).await.unwrap() else {
        panic!("restock")
    };
    assert_eq!((p.available, p.reserved, p.version), (9, 2, 4));
    // Its retry (a lost answer, a client retrying with its key) adds nothing.
    let again = products.adjust(&sku, 4, &restock, now()).await.unwrap();
    assert!(
        matches!(again, Adjusted::AlreadyApplied(ref p) if p.available == 9),
        "{again:?}"
    );
    let reused = products.adjust(&sku, 5, &restock, now()).await.unwrap();
    assert_eq!(reused, Adjusted::IdReused);
    let id = AdjustmentId::random;
    let Adjusted::Refused(p) = products.adjust(&sku, -10, &id(), now()).await.unwrap() else {
        panic!("never below zero")
    };
    assert_eq!(p.available, 9);
    let Adjusted::Applied(p) = products.adjust(&sku, -9, &id(), now()).await.unwrap() else {
        panic!("down to zero")
    };
    assert_eq!(p.available, 0);
    assert_eq!(
        products
            .adjust(&super::sku("SKU-NONE"), 1, &id(), now())
            .await
            .unwrap(),
        Adjusted::NotFound
    );
}

pub async fn a_sharded_product_is_created_read_set_and_adjusted_as_one<P: InventoryPorts>(
    ports: &P,
) {
    let products = ports.products();
    let sku = sku("HOT");
    let StockWrite::Written(p) = products.create(&sku, 20, shards(8), now()).await.unwrap() else {
        panic!("created")
    };
    assert_eq!((p.available, p.reserved, p.shards), (20, 0, 8));
    assert_eq!(
        products.get(&sku).await.unwrap(),
        Some(p),
        "a read sums every shard"
    );
    let refused = products.create(&sku, 5, shards(8), now()).await.unwrap();
    assert!(
        matches!(refused, StockWrite::Refused(ref p) if p.available == 20),
        "{refused:?}"
    );

    let restock = AdjustmentId::random();
    let Adjusted::Applied(p) = products.adjust(&sku, 5, &restock, now()).await.unwrap() else {
        panic!("restock")
    };
    assert_eq!(p.available, 25);
    let again = products.adjust(&sku, 5, &restock, now()).await.unwrap();
    assert!(
        matches!(again, Adjusted::AlreadyApplied(ref p) if p.available == 25),
        "{again:?}"
    );
    // A write-off larger than any one shard holds is taken from several.
    let Adjusted::Applied(p) = products
        .adjust(&sku, -22, &AdjustmentId::random(), now())
        .await
        .unwrap()
    else {
        panic!("write-off over shards")
    };
    assert_eq!(p.available, 3);
    let refused = products
        .adjust(&sku, -4, &AdjustmentId::random(), now())
        .await
        .unwrap();
    assert!(
        matches!(refused, Adjusted::Refused(ref p) if p.available == 3),
        "{refused:?}"
    );

    let StockWrite::Written(p) = products
        .set_if_version(&sku, 16, p.version, now())
        .await
        .unwrap()
    else {
        panic!("set at the version read")
    };
    assert_eq!((p.available, p.shards), (16, 8));
    let stale = products
        .set_if_version(&sku, 1, p.version - 1, now())
        .await
        .unwrap();
    assert!(
        matches!(stale, StockWrite::Refused(ref p) if p.available == 16),
        "{stale:?}"
    );
}

pub async fn concurrent_retries_of_one_adjustment_apply_it_once<P: InventoryPorts>(ports: &P) {
    let products = ports.products();
    let sku = sku("RESTOCK");
    products
        .create(&sku, 10, ShardCount::ONE, now())
        .await
        .unwrap();
    let id = AdjustmentId::random();
    let outcomes =
        join_all((0..6).map(|_| decided("adjust", || products.adjust(&sku, 5, &id, now())))).await;
    let applied = outcomes
        .iter()
        .filter(|a| matches!(a, Adjusted::Applied(_)))
        .count();
    assert_eq!(applied, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|a| matches!(a, Adjusted::Applied(_) | Adjusted::AlreadyApplied(_))),
        "{outcomes:?}"
    );
    let p = products.get(&sku).await.unwrap().unwrap();
    assert_eq!(p.available, 15, "added once");
}

pub async fn concurrent_sets_at_one_version_let_one_through<P: InventoryPorts>(ports: &P) {
    let products = ports.products();
    let sku = sku("SET");
    products
        .create(&sku, 10, ShardCount::ONE, now())
        .await
        .unwrap();
    let sku = &sku;
    let outcomes = join_all((0..6_u64).map(|i| {
        decided("set", move || {
            products.set_if_version(sku, 20 + i, 1, now())
        })
    }))
    .await;
    let written: Vec<u64> = outcomes
        .iter()
        .filter_map(|w| match w {
            StockWrite::Written(p) => Some(p.available),
            _ => None,
        })
        .collect();
    assert_eq!(written.len(), 1, "{outcomes:?}");
    let p = products.get(sku).await.unwrap().unwrap();
    assert_eq!((p.available, p.version), (written[0], 2));
}
