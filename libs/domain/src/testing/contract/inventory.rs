//! The `InventoryStore` contract: a reservation takes every line or nothing, once per
//! order, never oversells whatever runs at once and whatever the shard count; a release
//! gives stock back once; a cancellation first blocks a late reservation.

use futures_util::future::join_all;

use super::{customer, decided, line, now, sku, InventoryPorts};
use crate::ids::OrderId;
use crate::inventory::reservation::{Recorded, ReservationStatus};
use crate::inventory::stock::Product;
use crate::inventory::stock::ShardCount;
use crate::order::OrderLine;
use crate::ports::{InventoryStore, ProductStore, StockWrite};

fn shards(n: u64) -> ShardCount {
    ShardCount::new(n, "shards").unwrap_or_else(|e| panic!("{n} shards: {e}"))
}

async fn stock<P: InventoryPorts>(ports: &P, s: &str, units: u64, n: u64) {
    let write = ports
        .products()
        .create(&sku(s), units, shards(n), now())
        .await
        .unwrap();
    assert!(matches!(write, StockWrite::Written(_)), "{write:?}");
}

async fn product<P: InventoryPorts>(ports: &P, s: &str) -> Product {
    ports.products().get(&sku(s)).await.unwrap().unwrap()
}

async fn level<P: InventoryPorts>(ports: &P, s: &str) -> (u64, u64) {
    let p = product(ports, s).await;
    (p.available, p.reserved)
}

async fn reserve<P: InventoryPorts>(ports: &P, id: &OrderId, lines: &[OrderLine]) -> Recorded {
    let c = customer();
    decided("reserve", || {
        ports.inventory().reserve(id, &c, lines, now())
    })
    .await
}

async fn release<P: InventoryPorts>(ports: &P, id: &OrderId) -> Recorded {
    let c = customer();
    decided("release", || ports.inventory().release(id, &c, now())).await
}

async fn status<P: InventoryPorts>(
    ports: &P,
    id: &OrderId,
    lines: &[OrderLine],
) -> ReservationStatus {
    reserve(ports, id, lines).await.reservation.status
}

pub async fn reserve_takes_every_line_and_a_duplicate_changes_nothing<P: InventoryPorts>(
    ports: &P,
) {
    stock(ports, "A", 5, 1).await;
    stock(ports, "B", 2, 1).await;
    let id = OrderId::random();
    let lines = [line("A", 2), line("B", 1)];
    let r = reserve(ports, &id, &lines).await;
    assert!(r.newly_written);
    assert_eq!(r.reservation.status, ReservationStatus::Reserved);
    assert_eq!(level(ports, "A").await, (3, 2));
    assert_eq!(level(ports, "B").await, (1, 1));

    let again = reserve(ports, &id, &lines).await;
    assert!(!again.newly_written, "a duplicate is recognised");
    assert_eq!(again.reservation.status, ReservationStatus::Reserved);
    assert_eq!(again.reservation.lines, lines.to_vec());
    assert_eq!(level(ports, "A").await, (3, 2), "nothing taken twice");
}

pub async fn short_skus_are_named_and_nothing_is_taken<P: InventoryPorts>(ports: &P) {
    stock(ports, "A", 5, 1).await;
    stock(ports, "B", 0, 1).await;
    let id = OrderId::random();
    let lines = [line("A", 1), line("B", 1), line("NOPE", 1)];
    let r = reserve(ports, &id, &lines).await;
    assert!(r.newly_written);
    assert_eq!(r.reservation.status, ReservationStatus::Rejected);
    assert_eq!(r.reservation.short_skus, vec![sku("B"), sku("NOPE")]);
    assert_eq!(level(ports, "A").await, (5, 0), "all or nothing");
    assert!(
        ports.products().get(&sku("NOPE")).await.unwrap().is_none(),
        "no upsert of unknown SKUs"
    );
    let again = reserve(ports, &id, &lines).await;
    assert!(!again.newly_written);
    assert_eq!(again.reservation.status, ReservationStatus::Rejected);
}

pub async fn concurrent_orders_for_the_last_units_never_oversell<P: InventoryPorts>(ports: &P) {
    stock(ports, "LAST", 3, 1).await;
    stock(ports, "PLENTY", 1000, 1).await;
    let ids: Vec<OrderId> = (0..12).map(|_| OrderId::random()).collect();
    let lines = [line("PLENTY", 1), line("LAST", 3)];
    let outcomes = join_all(ids.iter().map(|id| status(ports, id, &lines))).await;
    let count = |s: ReservationStatus| outcomes.iter().filter(|o| **o == s).count();
    assert_eq!(
        (
            count(ReservationStatus::Reserved),
            count(ReservationStatus::Rejected)
        ),
        (1, 11),
        "{outcomes:?}"
    );
    assert_eq!(level(ports, "LAST").await, (0, 3));
    assert_eq!(
        level(ports, "PLENTY").await,
        (999, 1),
        "rejected orders took nothing"
    );
}

pub async fn concurrent_orders_on_eight_shards_never_oversell_and_sell_every_unit<
    P: InventoryPorts,
>(
    ports: &P,
) {
    // Three SKUs of 10 units over 8 shards (2, 2, 1, 1, 1, 1, 1, 1), 12 orders each, all at
    // once: all 10 sell only if a reservation that found its random shard empty takes from
    // another (without that, 12 random picks cover every unit in ~1% of runs per SKU).
    let skus = ["HOT-A", "HOT-B", "HOT-C"];
    for s in skus {
        stock(ports, s, 10, 8).await;
    }
    let orders: Vec<(OrderId, &str)> = skus
        .iter()
        .flat_map(|&s| (0..12).map(move |_| (OrderId::random(), s)))
        .collect();
    let lines: Vec<[OrderLine; 1]> = orders.iter().map(|(_, s)| [line(s, 1)]).collect();
    let outcomes = join_all(
        orders
            .iter()
            .zip(&lines)
            .map(|((id, _), l)| status(ports, id, l)),
    )
    .await;
    for s in skus {
        let reserved = orders
            .iter()
            .zip(&outcomes)
            .filter(|((_, o_sku), o)| *o_sku == s && **o == ReservationStatus::Reserved)
            .count();
        assert_eq!(reserved, 10, "{s}: {outcomes:?}");
        assert_eq!(level(ports, s).await, (0, 10), "{s}");
    }
    join_all(orders.iter().map(|(id, _)| release(ports, id))).await;
    for s in skus {
        assert_eq!(level(ports, s).await, (10, 0), "{s}: every unit back");
    }
}

pub async fn an_order_larger_than_any_shard_is_reserved_whole<P: InventoryPorts>(ports: &P) {
    stock(ports, "HOT", 8, 8).await; // one unit per shard
    let id = OrderId::random();
    assert_eq!(
        status(ports, &id, &[line("HOT", 5)]).await,
        ReservationStatus::Reserved
    );
    assert_eq!(level(ports, "HOT").await, (3, 5));
    let short = status(ports, &OrderId::random(), &[line("HOT", 4)]).await;
    assert_eq!(short, ReservationStatus::Rejected, "3 left in all");
    release(ports, &id).await;
    assert_eq!(level(ports, "HOT").await, (8, 0));
}

pub async fn the_shard_count_changes_while_orders_reserve_and_no_unit_is_lost<P: InventoryPorts>(
    ports: &P,
) {
    stock(ports, "HOT", 60, 1).await;
    let hot = sku("HOT");
    let ids: Vec<OrderId> = (0..40).map(|_| OrderId::random()).collect();
    let lines = [line("HOT", 1)];
    let orders = join_all(ids.iter().map(|id| status(ports, id, &lines)));
    // A count change is one transaction over the product and its shards, so it conflicts
    // with the reservations like they do with each other; the API answers 503 and the
    // client retries, as here.
    let reshards = async {
        for n in [8, 3, 16] {
            let w = decided("set_shards", || {
                ports.products().set_shards(&hot, shards(n), now())
            })
            .await;
            assert!(
                matches!(w, StockWrite::Written(ref p) if u64::from(p.shards) == n),
                "{w:?}"
            );
        }
    };
    let (outcomes, ()) = tokio::join!(orders, reshards);
    assert!(
        outcomes.iter().all(|s| *s == ReservationStatus::Reserved),
        "{outcomes:?}"
    );
    let p = product(ports, "HOT").await;
    assert_eq!((p.available, p.reserved, p.shards), (20, 40, 16));
    // Down to two shards: the others are emptied into them and keep their reservations.
    decided("set_shards", || {
        ports.products().set_shards(&hot, shards(2), now())
    })
    .await;
    join_all(ids.iter().map(|id| release(ports, id))).await;
    let p = product(ports, "HOT").await;
    assert_eq!((p.available, p.reserved, p.shards), (60, 0, 2));
}

pub async fn release_gives_stock_back_exactly_once<P: InventoryPorts>(ports: &P) {
    stock(ports, "A", 5, 1).await;
    let id = OrderId::random();
    reserve(ports, &id, &[line("A", 2)]).await;
    assert_eq!(level(ports, "A").await, (3, 2));

    let results = join_all((0..4).map(|_| release(ports, &id))).await;
    assert_eq!(
        results.iter().filter(|r| r.newly_written).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.reservation.status == ReservationStatus::Released));
    assert_eq!(level(ports, "A").await, (5, 0), "given back once");
    let again = release(ports, &id).await;
    assert!(!again.newly_written);
    assert_eq!(level(ports, "A").await, (5, 0));
}

pub async fn cancellation_before_reservation_blocks_a_late_reserve<P: InventoryPorts>(ports: &P) {
    stock(ports, "A", 5, 1).await;
    let id = OrderId::random();
    let r = release(ports, &id).await;
    assert!(r.newly_written);
    assert_eq!(
        r.reservation.status,
        ReservationStatus::CancelledBeforeReserve
    );
    let late = reserve(ports, &id, &[line("A", 2)]).await;
    assert!(!late.newly_written);
    assert_eq!(
        late.reservation.status,
        ReservationStatus::CancelledBeforeReserve
    );
    assert_eq!(level(ports, "A").await, (5, 0));
}
