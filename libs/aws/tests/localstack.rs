//! Adapter tests against LocalStack: `cargo test -p orders-aws --features localstack-tests`
//! with `LOCALSTACK_ENDPOINT` set (`make localstack` starts it). Without the variable, or
//! with LocalStack unreachable, every test fails with a clear message; it never skips.
//!
//! Each test creates its own uniquely named tables, topic and queues, so tests run in
//! parallel and against a LocalStack that other things use.
#![cfg(feature = "localstack-tests")]

mod support;

use std::collections::HashMap;

use orders_aws::{NotificationsTable, SnsPublisher};
use orders_domain::ports::{
    ClaimOutcome, EventPublisher, InventoryStore, NotificationRecord, NotificationStore,
};
use orders_domain::{Event, EventPayload, OrderId, OrderStatus};
use support::*;

/// Receives until `want` messages arrived or `rounds` one-second polls passed.
async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    want: usize,
    rounds: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    for _ in 0..rounds {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
        if got.len() >= want {
            break;
        }
    }
    got
}

#[tokio::test]
async fn sns_publish_carries_the_type_attribute_through_a_filter_policy() {
    let conf = sdk().await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name(unique("order-events"))
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let mut queues = HashMap::new();
    for (name, filter) in [
        (
            "filtered",
            Some(r#"{"type": ["OrderPlaced", "OrderCancelled"]}"#),
        ),
        ("all", None),
    ] {
        let q = sqs
            .create_queue()
            .queue_name(unique(name))
            .send()
            .await
            .unwrap();
        let url = q.queue_url().unwrap().to_string();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap();
        let mut sub = sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true");
        if let Some(f) = filter {
            sub = sub.attributes("FilterPolicy", f);
        }
        sub.send().await.unwrap();
        queues.insert(name, url);
    }

    let publisher = SnsPublisher::new(sns.clone(), topic_arn);
    let order = pending_order(now());
    let placed = order.outbox.clone().unwrap().events[0].clone();
    let reserved = Event::for_order(
        &order.order_id,
        now(),
        EventPayload::InventoryReserved(orders_domain::events::InventoryReserved {
            customer_id: customer(),
            lines: order.lines.clone(),
        }),
    );
    publisher.publish(&placed).await.unwrap();
    publisher.publish(&reserved).await.unwrap();

    let all = receive_all(&sqs, &queues["all"], 2, 10).await;
    let mut types: Vec<String> = all
        .iter()
        .map(|m| {
            Event::from_message_body(m.body().unwrap())
                .unwrap()
                .event_type()
                .to_string()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["InventoryReserved", "OrderPlaced"]);

    // Both were delivered to the unfiltered queue by now; two more polls would catch a
    // wrongly delivered InventoryReserved.
    let filtered = receive_all(&sqs, &queues["filtered"], 2, 3).await;
    assert_eq!(
        filtered.len(),
        1,
        "the filter policy lets only OrderPlaced through: {filtered:?}"
    );
    let m = &filtered[0];
    // Raw delivery: the body is the event itself, byte-for-byte what was published.
    assert_eq!(Event::from_message_body(m.body().unwrap()).unwrap(), placed);
    assert_eq!(m.body().unwrap(), placed.to_json());
    let attr = m
        .message_attributes()
        .and_then(|a| a.get("type"))
        .and_then(|v| v.string_value());
    assert_eq!(attr, Some("OrderPlaced"));
}

/// The item's `expires_at` (the tables' TTL attribute), if any.
async fn expires_at(ddb: &aws_sdk_dynamodb::Client, table: &str, key: (&str, &str)) -> Option<i64> {
    let item = ddb
        .get_item()
        .table_name(table)
        .key(
            key.0,
            aws_sdk_dynamodb::types::AttributeValue::S(key.1.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {key:?} in {table}"));
    item.get("expires_at")
        .map(|v| v.as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn records_kept_only_to_recognise_duplicates_expire_and_live_ones_do_not() {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let (p, r, n) = (unique("products"), unique("reservations"), unique("notes"));
    create_table(&ddb, &p, "sku", false).await;
    create_table(&ddb, &r, "order_id", false).await;
    create_table(&ddb, &n, "order_id", false).await;
    let products = orders_aws::ProductsTable::new(ddb.clone(), p.clone());
    let inv = orders_aws::InventoryTables::new(ddb.clone(), p, r.clone());
    stock(&products, "A", 1).await;
    let in_30_days = now().timestamp() + 30 * 24 * 3600;
    let about = |t: Option<i64>| t.is_some_and(|t| (t - in_30_days).abs() < 120);

    // A reservation holding stock is live state: no expiry. Rejected, or released, it holds
    // nothing and is kept only for late duplicates.
    let (held, short) = (OrderId::random(), OrderId::random());
    inv.reserve(&held, &customer(), &[line("A", 1)], now())
        .await
        .unwrap();
    inv.reserve(&short, &customer(), &[line("A", 1)], now())
        .await
        .unwrap();
    assert_eq!(
        expires_at(&ddb, &r, ("order_id", held.as_str())).await,
        None
    );
    assert!(about(
        expires_at(&ddb, &r, ("order_id", short.as_str())).await
    ));
    inv.release(&held, &customer(), now()).await.unwrap();
    assert!(about(
        expires_at(&ddb, &r, ("order_id", held.as_str())).await
    ));

    // An order's notification item (mark, claim, records) exists only to stop a duplicate.
    let t = NotificationsTable::new(ddb.clone(), n.clone());
    let order_id = OrderId::random();
    let e = Event::status_changed(&order_id, &customer(), OrderStatus::Pending, None, now());
    let rec = NotificationRecord {
        event_id: e.id.clone(),
        order_id: order_id.clone(),
        seq: 1,
        customer_id: customer(),
        kind: "order_placed".into(),
        subject: "s".into(),
        message: "m".into(),
    };
    let ms = now().timestamp_millis();
    t.claim(&rec, ms, ms - 60_000).await.unwrap();
    assert!(about(
        expires_at(&ddb, &n, ("order_id", order_id.as_str())).await
    ));
}

#[tokio::test]
async fn a_superseded_or_released_message_leaves_no_record() {
    // What the contract cannot see: no item is left behind to store (and bill) forever.
    let t = notifications_table().await;
    let order_id = OrderId::random();
    let rec = |status| orders_domain::testing::contract::notifications::record(&order_id, status);
    let (placed, cancelled) = (rec(OrderStatus::Pending), rec(OrderStatus::Cancelled));
    let t0 = 1_000_000_i64;
    assert!(matches!(
        t.claim(&cancelled, t0, t0 - 60_000).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
    assert_eq!(t.high_water_mark(&order_id).await.unwrap(), Some(3));
    assert_eq!(
        t.claim(&placed, t0 + 1, t0 + 1 - 60_000).await.unwrap(),
        ClaimOutcome::Superseded
    );
    assert_eq!(t.state(&order_id, placed.seq).await.unwrap(), None);
    t.release_claim(&cancelled, t0).await.unwrap();
    assert_eq!(t.state(&order_id, cancelled.seq).await.unwrap(), None);
    assert_eq!(
        t.high_water_mark(&order_id).await.unwrap(),
        Some(3),
        "the mark stays"
    );
}
