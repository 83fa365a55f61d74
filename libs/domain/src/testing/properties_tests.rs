//! Rules that must hold for every sequence, over the in-memory twins (which the contract
//! suites hold equal to DynamoDB): stock never below zero and units conserved through
//! reservations, releases, restocks and shard changes; a notification never sent after a
//! newer one of its order, never twice, one in flight at a time.

use std::collections::HashMap;
use std::future::Future;

use chrono::{TimeZone, Utc};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::ids::{AdjustmentId, CustomerId, EventId, OrderId, Sku};
use crate::inventory::reservation::ReservationStatus;
use crate::inventory::stock::ShardCount;
use crate::order::{OrderLine, OrderStatus};
use crate::ports::{
    Adjusted, ClaimOutcome, InventoryStore, NotificationRecord, NotificationStore, ProductStore,
};
use crate::testing::{InMemoryInventory, InMemoryNotifications};

/// The twins answer at once; this drives one of their futures to its answer.
fn now<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map(|rt| rt.block_on(f))
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

#[derive(Debug, Clone)]
enum StockOp {
    Reserve { order: usize, a: u32, b: u32 },
    Release { order: usize },
    Adjust { sku: usize, delta: i64, id: usize },
    Reshard { sku: usize, n: u32 },
}

fn stock_op() -> impl Strategy<Value = StockOp> {
    prop_oneof![
        (0..12usize, 0..6u32, 0..6u32).prop_map(|(order, a, b)| StockOp::Reserve { order, a, b }),
        (0..12usize).prop_map(|order| StockOp::Release { order }),
        (0..2usize, -8..8i64, 0..4usize).prop_map(|(sku, delta, id)| StockOp::Adjust {
            sku,
            delta,
            id
        }),
        (0..2usize, 1..=8u32).prop_map(|(sku, n)| StockOp::Reshard { sku, n }),
    ]
}

proptest! {
    #[test]
    fn stock_never_goes_below_zero_and_every_unit_is_accounted_for(
        start in (0..30u64, 0..30u64),
        ops in vec(stock_op(), 0..40),
    ) {
        let inv = InMemoryInventory::new();
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().unwrap_or_default();
        let skus = [Sku::parse("P-A").unwrap(), Sku::parse("P-B").unwrap()];
        let customer = CustomerId::parse("c").unwrap();
        let orders: Vec<OrderId> = (0..12).map(|_| OrderId::random()).collect();
        let ids: Vec<AdjustmentId> = (0..4).map(|_| AdjustmentId::random()).collect();
        let mut id_use: HashMap<usize, (usize, i64)> = HashMap::new();
        // What must be, whatever the store decides: units in = start + applied adjustments.
        let mut units = [start.0, start.1];
        for (sku, n) in skus.iter().zip([start.0, start.1]) {
            now(inv.create(sku, n, ShardCount::ONE, at)).unwrap();
        }
        for op in ops {
            match op {
                StockOp::Reserve { order, a, b } => {
                    let lines: Vec<OrderLine> = [(0, a), (1, b)]
                        .into_iter()
                        .filter(|&(_, q)| q > 0)
                        .map(|(k, q)| OrderLine { sku: skus[k].clone(), quantity: q })
                        .collect();
                    if !lines.is_empty() {
                        now(inv.reserve(&orders[order], &customer, &lines, at)).unwrap();
                    }
                }
                StockOp::Release { order } => {
                    now(inv.release(&orders[order], &customer, at)).unwrap();
                }
                StockOp::Adjust { sku, delta, id } => {
                    let out = now(inv.adjust(&skus[sku], delta, &ids[id], at)).unwrap();
                    match (&out, id_use.get(&id)) {
                        (Adjusted::Applied(_), None) => {
                            id_use.insert(id, (sku, delta));
                            units[sku] = units[sku].checked_add_signed(delta).unwrap_or(0);
                        }
                        (Adjusted::Applied(_), Some(_)) => {
                            prop_assert!(false, "id {id} applied twice")
                        }
                        (Adjusted::AlreadyApplied(_), Some(&used)) => {
                            prop_assert_eq!(used, (sku, delta))
                        }
                        (Adjusted::IdReused, Some(&used)) => prop_assert_ne!(used, (sku, delta)),
                        (Adjusted::Refused(p), None) => {
                            prop_assert!(p.available.checked_add_signed(delta).is_none());
                        }
                        (other, used) => {
                            prop_assert!(false, "{other:?} for id {id} used as {used:?}")
                        }
                    }
                }
                StockOp::Reshard { sku, n } => {
                    let n = ShardCount::new(u64::from(n), "n").unwrap();
                    now(inv.set_shards(&skus[sku], n, at)).unwrap();
                }
            }
            for (k, sku) in skus.iter().enumerate() {
                let p = inv.product(sku.as_str()).unwrap();
                let held: u64 = orders
                    .iter()
                    .filter_map(|o| inv.reservation(o))
                    .filter(|r| r.status == ReservationStatus::Reserved)
                    .flat_map(|r| r.lines)
                    .filter(|l| l.sku == *sku)
                    .map(|l| u64::from(l.quantity))
                    .sum();
                let name = sku.as_str();
                prop_assert_eq!(p.reserved, held, "{}: reserved = what RESERVED orders hold", name);
                prop_assert_eq!(p.available + p.reserved, units[k], "{}: units conserved", name);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum NewsOp {
    Claim { msg: usize, dt: i64 },
    Finish { msg: usize, sent: bool },
}

fn news_op() -> impl Strategy<Value = NewsOp> {
    prop_oneof![
        (0..4usize, 0..20_000i64).prop_map(|(msg, dt)| NewsOp::Claim { msg, dt }),
        (0..4usize, any::<bool>()).prop_map(|(msg, sent)| NewsOp::Finish { msg, sent }),
    ]
}

proptest! {
    #[test]
    fn an_orders_news_goes_out_in_order_once_and_one_at_a_time(
        statuses in vec(0..OrderStatus::ALL.len(), 4),
        ops in vec(news_op(), 0..40),
    ) {
        // A claim older than a minute is a dead worker's: taken over, its publish never
        // completes (the model forgets it).
        let store = InMemoryNotifications::new();
        let order = OrderId::random();
        let msgs: Vec<NotificationRecord> = statuses
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let status = OrderStatus::ALL[s];
                NotificationRecord {
                    event_id: EventId::for_order_event(&order, &format!("m{i}")),
                    order_id: order.clone(),
                    seq: status.seq(),
                    customer_id: CustomerId::parse("c").unwrap(),
                    kind: status.as_str().into(),
                    subject: "s".into(),
                    message: "m".into(),
                }
            })
            .collect();
        let mut t = 1_000_000i64;
        let mut in_flight: Option<(usize, i64)> = None;
        let mut sent: Vec<usize> = Vec::new();
        // The highest seq ever claimed (a released claim keeps it: a newer message was
        // about to go out, so an older one never may).
        let mut hwm = 0;
        for op in ops {
            match op {
                NewsOp::Claim { msg, dt } => {
                    t += dt;
                    match now(store.claim(&msgs[msg], t, t - 60_000)).unwrap() {
                        ClaimOutcome::Claimed { claimed_at_ms } => {
                            let live = in_flight.filter(|&(_, at)| at >= t - 60_000);
                            prop_assert!(live.is_none(), "{msg} claimed, {live:?} in flight");
                            prop_assert!(!sent.contains(&msg), "{msg} claimed after it was sent");
                            let seq = msgs[msg].seq;
                            prop_assert!(seq >= hwm, "seq {seq} claimed past {hwm}");
                            hwm = msgs[msg].seq;
                            in_flight = Some((msg, claimed_at_ms));
                        }
                        ClaimOutcome::AlreadySent => prop_assert!(sent.contains(&msg)),
                        ClaimOutcome::InProgress => prop_assert!(in_flight.is_some()),
                        ClaimOutcome::Superseded => prop_assert!(hwm > msgs[msg].seq),
                    }
                }
                NewsOp::Finish { msg, sent: ok } => {
                    if let Some((m, at)) = in_flight.filter(|(m, _)| *m == msg) {
                        if ok {
                            now(store.mark_sent(&msgs[m], at, (Utc::now(), Utc::now()))).unwrap();
                            if let Some(&last) = sent.last() {
                                let (before, now_sent) = (msgs[last].seq, msgs[m].seq);
                                prop_assert!(before <= now_sent, "seq {now_sent} after {before}");
                            }
                            sent.push(m);
                        } else {
                            now(store.release_claim(&msgs[m], at)).unwrap();
                        }
                        in_flight = None;
                    }
                }
            }
        }
    }
}
