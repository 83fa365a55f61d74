//! What the LocalStack adapter test files share: the endpoint (never skipped: a missing
//! LocalStack fails loudly), uniquely named tables per test, and small builders.
#![allow(dead_code)] // each test file uses a part

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use chrono::{DateTime, Utc};
use orders_aws::{
    InventoryTables, NotificationsTable, OrdersTable, ProductsTable, CUSTOMER_INDEX, OUTBOX_INDEX,
    PENDING_INDEX,
};
use orders_domain::inventory::reservation::ReservationStatus;
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::{
    Clock, InventoryStore, ProductStore, StockWrite, StoreError, SystemClock,
};
use orders_domain::{CustomerId, Event, Order, OrderId, OrderLine, OrderStatus, Outbox, Sku};

pub fn endpoint() -> String {
    let ep = std::env::var("LOCALSTACK_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "LOCALSTACK_ENDPOINT is not set. These adapter tests need LocalStack: run `make localstack`, then \
             LOCALSTACK_ENDPOINT=http://127.0.0.1:4566 cargo test -p orders-aws --features localstack-tests"
        )
    });
    let hostport = ep
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let reachable = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "LOCALSTACK_ENDPOINT={ep} is set but nothing answers there; is LocalStack running?"
    );
    ep
}

pub async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "localstack-tests",
        ))
        .load()
        .await
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

pub fn uuid_like() -> String {
    OrderId::random().as_str().replace('-', "")[..16].to_string()
}

pub async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    key: &str,
    outbox_index: bool,
) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key_el = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(key))
        .key_schema(key_el(key, KeyType::Hash));
    if outbox_index {
        // KEYS_ONLY, as the template: the adapter must not need more than keys from them.
        let sparse = |index: &str, hash: &str, range: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key_el(hash, KeyType::Hash))
                .key_schema(key_el(range, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap()
        };
        for a in [
            "customer_id",
            "outbox_pending",
            "outbox_since",
            "pending_order",
            "created_at",
        ] {
            req = req.attribute_definitions(attr(a));
        }
        req = req
            .global_secondary_indexes(sparse(OUTBOX_INDEX, "outbox_pending", "outbox_since"))
            .global_secondary_indexes(sparse(PENDING_INDEX, "pending_order", "created_at"))
            // As the template: only what a customer's list answers.
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(CUSTOMER_INDEX)
                    .key_schema(key_el("customer_id", KeyType::Hash))
                    .key_schema(key_el("created_at", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .non_key_attributes("status")
                            .non_key_attributes("updated_at")
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
    for _ in 0..100 {
        let d = ddb.describe_table().table_name(name).send().await.unwrap();
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("table {name} never became ACTIVE");
}

pub async fn orders_table() -> OrdersTable {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let name = unique("orders");
    create_table(&ddb, &name, "order_id", true).await;
    OrdersTable::new(ddb, name)
}

pub async fn inventory() -> (ProductsTable, InventoryTables) {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let (p, r) = (unique("products"), unique("reservations"));
    create_table(&ddb, &p, "sku", false).await;
    create_table(&ddb, &r, "order_id", false).await;
    (
        ProductsTable::new(ddb.clone(), p.clone()),
        InventoryTables::new(ddb, p, r),
    )
}

pub async fn notifications_table() -> NotificationsTable {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let name = unique("notifications");
    create_table(&ddb, &name, "order_id", false).await;
    NotificationsTable::new(ddb, name)
}

pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

pub fn line(sku: &str, q: u32) -> OrderLine {
    OrderLine {
        sku: Sku::parse(sku).unwrap(),
        quantity: q,
    }
}

pub fn customer() -> CustomerId {
    CustomerId::parse("cust-1").unwrap()
}

pub fn pending_order(at: DateTime<Utc>) -> Order {
    let mut o = Order::new_pending(
        OrderId::random(),
        customer(),
        vec![line("A", 2), line("B", 1)],
        "hash".into(),
        at,
    );
    let status = Event::status_changed(&o.order_id, &o.customer_id, OrderStatus::Pending, None, at);
    o.outbox = Some(Outbox::new(vec![Event::order_placed(&o, at), status], at));
    o
}

pub async fn stock(products: &ProductsTable, sku: &str, n: u64) {
    let write = products
        .create(&Sku::parse(sku).unwrap(), n, ShardCount::ONE, now())
        .await
        .unwrap();
    assert!(matches!(write, StockWrite::Written(_)), "{write:?}");
}

pub async fn level(products: &ProductsTable, sku: &str) -> (u64, u64) {
    let p = products
        .get(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
        .unwrap();
    (p.available, p.reserved)
}

/// Retries what the store could not decide (transaction conflicts), as SQS would.
pub async fn reserve_until_decided(
    inv: &InventoryTables,
    id: &OrderId,
    lines: &[OrderLine],
) -> ReservationStatus {
    for _ in 0..20 {
        match inv.reserve(id, &customer(), lines, now()).await {
            Ok(r) => return r.reservation.status,
            Err(StoreError::Retry(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("never decided")
}
