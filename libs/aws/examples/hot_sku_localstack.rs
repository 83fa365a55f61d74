//! The hot-SKU shapes of `scripts/measure/hot_sku_sim.py`, measured on LocalStack with the
//! extension's transaction-conflict model: open-loop orders for one SKU at set rates, reserved
//! by this crate's `InventoryTables::reserve` (the inventory consumer's code: random shard,
//! conflict retries, re-plan after a miss), over 1, 4 and 16 stock shards. `make shard-bench`
//! runs it (LocalStack up) and plots it next to the simulation.
//!
//! Prints one JSON object per (shards, rate): offered and reserved orders/s, orders that gave
//! up (their SQS message would be redelivered), conflicts per order (the extension's count),
//! latency percentiles.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orders_aws::{InventoryTables, ProductsTable};
use orders_domain::inventory::reservation::ReservationStatus;
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::{InventoryStore, ProductStore, StoreError};
use orders_domain::{OrderId, Sku};
use support::{customer, inventory, line, now};
use tokio::sync::Semaphore;

/// Orders in flight at most: the deployed inventory consumer's 10 concurrent batches
/// (`ConsumerMaxConcurrency`) x 8 records each (`BATCH_CONCURRENCY`); beyond it orders wait,
/// as messages wait in the queue.
const IN_FLIGHT: usize = 80;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn list(s: &str) -> Vec<f64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

/// One HTTP request to the extension (no HTTP client crate for three calls).
fn hostmode(method: &str, path: &str, body: &str) -> String {
    let endpoint = std::env::var("LOCALSTACK_ENDPOINT").unwrap_or_default();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("LocalStack reachable");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("answer read");
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

/// Transactions (writes and snapshot reads) the conflict model has cancelled so far.
fn conflicts() -> u64 {
    let body = hostmode("GET", "/_hostmode/contention", "");
    let v: serde_json::Value = serde_json::from_str(&body).expect("contention JSON");
    ["TransactWriteItems", "TransactGetItems"]
        .iter()
        .map(|k| v["conflicts"][k].as_u64().unwrap_or(0))
        .sum()
}

/// A fraction in [0, 1) from a xorshift state (seeded: the arrival times repeat run to run).
fn uniform(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

async fn run(inv: Arc<InventoryTables>, sku: &str, rate: f64, seconds: f64, seed: u64) -> String {
    let before = conflicts();
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut state = seed.max(1);
    let mut tasks = Vec::new();
    let start = Instant::now();
    let mut at = 0.0;
    while at < seconds {
        at += -(1.0 - uniform(&mut state)).ln() / rate;
        tokio::time::sleep_until((start + Duration::from_secs_f64(at)).into()).await;
        let (inv, gate, sku) = (inv.clone(), gate.clone(), sku.to_string());
        let arrived = Instant::now();
        tasks.push(tokio::spawn(async move {
            let _slot = gate.acquire().await.expect("semaphore open");
            let id = OrderId::random();
            let r = inv.reserve(&id, &customer(), &[line(&sku, 1)], now()).await;
            (r.map(|r| r.reservation.status), arrived.elapsed())
        }));
    }
    let arrivals = start.elapsed().as_secs_f64();
    let (mut reserved, mut gave_up, mut failed) = (0u64, 0u64, 0u64);
    let mut latencies = Vec::new();
    for t in tasks {
        match t.await.expect("task ran") {
            (Ok(ReservationStatus::Reserved), d) => {
                reserved += 1;
                latencies.push(d.as_secs_f64() * 1000.0);
            }
            (Err(StoreError::Retry(_)), _) => gave_up += 1,
            _ => failed += 1,
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let orders = reserved + gave_up + failed;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    serde_json::json!({
        "offered": orders as f64 / arrivals,
        "reserved_per_s": reserved as f64 / wall,
        "orders": orders,
        "gave_up": gave_up,
        "failed": failed,
        "conflicts_per_order": (conflicts() - before) as f64 / orders.max(1) as f64,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let shard_counts = list(&arg("--shards", "1,4,16"));
    let rates = list(&arg("--rates", "5,10,20,50,100,200"));
    let seconds: f64 = arg("--seconds", "8")
        .parse()
        .expect("--seconds is a number");
    let window = arg("--window-ms", "10");
    let old = hostmode("GET", "/_hostmode/contention", "");
    let old: serde_json::Value = serde_json::from_str(&old).expect("contention JSON");
    hostmode(
        "PUT",
        "/_hostmode/contention",
        &format!("{{\"window_ms\": {window}}}"),
    );
    for (i, &n) in shard_counts.iter().enumerate() {
        let (products, inv): (ProductsTable, InventoryTables) = inventory().await;
        let count = ShardCount::new(n as u64, "--shards").expect("1 to 32 shards");
        let sku = Sku::parse("HOT").expect("a SKU");
        products
            .create(&sku, 1_000_000_000, count, now())
            .await
            .expect("product created");
        let inv = Arc::new(inv);
        for (j, &rate) in rates.iter().enumerate() {
            let seed = 1 + (i * 100 + j) as u64;
            let point = run(inv.clone(), "HOT", rate, seconds, seed).await;
            println!("{{\"shards\": {n}, \"rate\": {rate}, \"window_ms\": {window}, \"point\": {point}}}");
        }
    }
    let restore = old["window_ms"].as_f64().unwrap_or(20.0);
    hostmode(
        "PUT",
        "/_hostmode/contention",
        &format!("{{\"window_ms\": {restore}}}"),
    );
}
