//! Business and reliability metrics, as CloudWatch Embedded Metric Format: one JSON line per
//! invocation on stdout, which CloudWatch Logs turns into metrics with no API call (so no IAM
//! grant, no latency on the request path). Counted anywhere through the `metrics` facade
//! (`metrics::counter!(names::X)`), a no-op where [`init`] was not called (tests).
//!
//! Namespace [`NAMESPACE`], one dimension, `Stack` (low cardinality: one series per metric per
//! stack, which the alarms and the dashboard name); the function is the `Service` property of
//! the record, for Logs Insights.

use std::io::Write;
use std::sync::OnceLock;

use metrics_cloudwatch_embedded::Collector;
use orders_domain::{Event, EventPayload, OrderStatus};

/// The CloudWatch namespace of every metric this code emits.
pub const NAMESPACE: &str = "OrdersPipeline";

/// The metric names; the template's alarms and dashboard use the same strings.
pub mod names {
    /// Orders accepted (their `PENDING` status change published).
    pub const ORDERS_PLACED: &str = "OrdersPlaced";
    pub const ORDERS_CONFIRMED: &str = "OrdersConfirmed";
    /// Rejected for stock or for the pending timeout (which also counts [`ORDERS_TIMED_OUT`]).
    pub const ORDERS_REJECTED: &str = "OrdersRejected";
    pub const ORDERS_CANCELLED: &str = "OrdersCancelled";
    pub const ORDERS_TIMED_OUT: &str = "OrdersTimedOut";
    /// A stock transaction cancelled by a concurrent writer of the same item.
    pub const RESERVATION_CONFLICTS: &str = "ReservationConflicts";
    /// Conflicts retried within the delivery (the rest fail the record; SQS redelivers it).
    pub const RESERVATION_RETRIES: &str = "ReservationRetries";
    /// Records reported failed to SQS (redelivered, then their DLQ).
    pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";
    /// Publishes that failed after the SDK's retries (the outbox or a redelivery repeats them).
    pub const PUBLISH_FAILURES: &str = "PublishFailures";
    pub const NOTIFICATIONS_SENT: &str = "NotificationsSent";
    /// A reservation found its stock shard short and re-planned over the SKU's other shards.
    pub const STOCK_SHARD_MISSES: &str = "StockShardMisses";
    /// Shards of a SKU evened out after a miss.
    pub const STOCK_REBALANCES: &str = "StockRebalances";
    /// A hot SKU's shard count raised by inventory (`orders_domain::hot_sku`).
    pub const STOCK_SHARDS_RAISED: &str = "StockShardsRaised";
    /// Records sent back to their queue for later (load, not failure: see `orders_aws::defer`).
    pub const RECORDS_DEFERRED: &str = "RecordsDeferred";
    /// Times a consumer container halved its records-in-flight limit (`orders_aws::flow`).
    pub const FLOW_LIMIT_CUTS: &str = "FlowLimitCuts";

    /// Every name above.
    pub const ALL: [&str; 15] = [
        ORDERS_PLACED,
        ORDERS_CONFIRMED,
        ORDERS_REJECTED,
        ORDERS_CANCELLED,
        ORDERS_TIMED_OUT,
        RESERVATION_CONFLICTS,
        RESERVATION_RETRIES,
        BATCH_ITEM_FAILURES,
        PUBLISH_FAILURES,
        NOTIFICATIONS_SENT,
        STOCK_SHARD_MISSES,
        STOCK_REBALANCES,
        STOCK_SHARDS_RAISED,
        RECORDS_DEFERRED,
        FLOW_LIMIT_CUTS,
    ];
}

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the recorder for this process: `service` is the function's name in the pipeline,
/// the stack from `STACK_NAME` (set by the template). Call once, at cold start; a failure is
/// logged and metrics are off (a function never fails for its metrics).
pub fn init(service: &'static str) {
    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "local".into());
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("Stack", stack)
        .init()
    {
        Ok(collector) => {
            collector.set_property("Service", service);
            let _ = COLLECTOR.set(collector);
        }
        Err(e) => tracing::warn!(error = %e, "metrics are off: no recorder"),
    }
}

/// Writes what was counted since the last flush as one EMF line (nothing when nothing was
/// counted); called at the end of every invocation.
pub fn flush() {
    let out = std::io::stdout();
    let mut lock = out.lock();
    if let Err(e) = flush_to(&mut lock).and_then(|()| lock.flush()) {
        tracing::warn!(error = %e, "metrics not written");
    }
}

/// [`flush`] to any writer.
pub fn flush_to(w: impl Write) -> std::io::Result<()> {
    match COLLECTOR.get() {
        Some(c) => c.flush(w),
        None => Ok(()),
    }
}

/// Adds `n` to the counter `name` (one of [`names`]).
pub fn count(name: &'static str, n: u64) {
    metrics::counter!(name).increment(n);
}

/// The funnel counter an event of a cleared outbox stands for: an applied status change.
pub fn funnel(event: &Event) -> Option<&'static str> {
    match &event.payload {
        EventPayload::OrderStatusChanged(c) => Some(match c.status {
            OrderStatus::Pending => names::ORDERS_PLACED,
            OrderStatus::Confirmed => names::ORDERS_CONFIRMED,
            OrderStatus::Rejected => names::ORDERS_REJECTED,
            OrderStatus::Cancelled => names::ORDERS_CANCELLED,
        }),
        _ => None,
    }
}

/// An outbox was cleared (its events are out, and this happens once per outbox).
pub(crate) fn cleared(events: &[Event]) {
    for name in events.iter().filter_map(funnel) {
        metrics::counter!(name).increment(1);
    }
}

/// A published event: only a customer message counts here (status changes count once, when
/// their outbox is cleared: see [`cleared`]).
pub(crate) fn published(event: &Event) {
    if let EventPayload::CustomerNotified(_) = &event.payload {
        metrics::counter!(names::NOTIFICATIONS_SENT).increment(1);
    }
}
