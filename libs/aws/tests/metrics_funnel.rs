//! The order funnel counts each status change once, however often its events are published:
//! a republish (the sweeper's, after a clear that failed) must not count it again. Its own
//! test binary: the metrics recorder is global to the process.
#![cfg(feature = "localstack-tests")]

mod support;

use orders_aws::metrics::{flush_to, init};
use orders_aws::SnsPublisher;
use orders_domain::outbox::publish_outbox;
use orders_domain::ports::OrderStore;
use serde_json::Value;
use support::*;

/// The counters flushed since the last flush, by name.
fn flushed() -> Value {
    let mut out = Vec::new();
    flush_to(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .next()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_republished_status_change_is_counted_once() {
    init("outbox-sweeper");
    let conf = sdk().await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name(unique("order-events"))
        .send()
        .await
        .unwrap();
    let publisher = SnsPublisher::new(sns, topic.topic_arn().unwrap());
    let orders = orders_table().await;
    let order = pending_order(now());
    let outbox = order.outbox.clone().unwrap();
    orders.insert_new(&order).await.unwrap();

    // The writer publishes and clears; then the same outbox goes out again (the sweeper read
    // it before the clear): two publishes of PENDING, one placed order.
    publish_outbox(&orders, &publisher, &order.order_id, &outbox)
        .await
        .unwrap();
    publish_outbox(&orders, &publisher, &order.order_id, &outbox)
        .await
        .unwrap();
    let record = flushed();
    assert_eq!(record["OrdersPlaced"], 1, "{record}");
}
