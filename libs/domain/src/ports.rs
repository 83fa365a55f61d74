//! Ports: the small traits the use cases need from storage, messaging and time.
//!
//! Every write port is a *conditional* write whose outcome says whether the condition held,
//! so decisions are made by the store atomically, never by reading first. The DynamoDB
//! adapters live in `orders-aws`; [`crate::testing`] has in-memory twins with the same
//! semantics for unit tests.
//!
//! Methods return `impl Future + Send` so the generic use cases and handlers stay `Send`.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::events::Event;
use crate::ids::{AdjustmentId, CustomerId, EventId, OrderId, Sku};
use crate::inventory::reservation::Recorded;
use crate::inventory::stock::{Product, ShardCount};
use crate::list_orders::cursor::PageCursor;
use crate::order::{HistoryEntry, Order, OrderLine, OrderStatus, Outbox, Trigger};

/// A storage failure. None of these is a client mistake; callers retry or answer 5xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or could not be reached (network, 5xx).
    #[error("store backend error: {0}")]
    Backend(String),
    /// The backend is overloaded: it throttled the request, or the call outlasted its
    /// timeout. Nothing is wrong with the request; it is worth doing again, later.
    #[error("store busy: {0}")]
    Busy(String),
    /// A stored item does not have the expected shape.
    #[error("corrupt stored record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// Not decided this time (transaction conflict): try again later.
    #[error("retry later: {0}")]
    Retry(String),
    /// The backend refused the request itself (invalid, table missing, access denied): a
    /// defect or a misconfiguration that the same request meets again, so not worth retrying.
    #[error("store refused the request: {0}")]
    Refused(String),
}

/// Publishing an event failed; whether SNS got it is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publish failed: {detail}")]
pub struct PublishError {
    pub detail: String,
    /// Throttled or out of time (the topic or the caller overloaded), not refused.
    pub busy: bool,
}

impl PublishError {
    pub fn failed(detail: impl Into<String>) -> Self {
        PublishError {
            detail: detail.into(),
            busy: false,
        }
    }

    pub fn busy(detail: impl Into<String>) -> Self {
        PublishError {
            detail: detail.into(),
            busy: true,
        }
    }
}

/// Wall-clock time (a port so tests control it).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock, truncated to milliseconds so stored and published times round-trip.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        use chrono::SubsecRound;
        DateTime::<Utc>::from(std::time::SystemTime::now()).trunc_subsecs(3)
    }
}

/// Publishes events to one topic.
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: &Event) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// Result of [`OrderStore::insert_new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// An order with this id exists (`attribute_not_exists(order_id)` failed).
    AlreadyExists,
}

/// A conditional status change: `status IN trigger.allowed_from()` and, with
/// `applied_event`, `NOT contains(applied_events, id)`.
#[derive(Debug, Clone)]
pub struct TransitionWrite<'a> {
    pub order_id: &'a OrderId,
    pub trigger: Trigger,
    /// Appended to the history; its status is `trigger.target()`.
    pub entry: HistoryEntry,
    /// Recorded in `applied_events` (inventory events).
    pub applied_event: Option<&'a EventId>,
    /// Appended to the pending outbox (its `since` kept if one is pending).
    pub outbox: Option<&'a Outbox>,
    pub at: DateTime<Utc>,
}

impl<'a> TransitionWrite<'a> {
    /// A transition decided here (a cancel, a timeout), announced by `outbox`: the history
    /// entry names the outbox's first event.
    pub fn announced(
        order_id: &'a OrderId,
        trigger: Trigger,
        reason: Option<String>,
        outbox: &'a Outbox,
        at: DateTime<Utc>,
    ) -> Self {
        TransitionWrite {
            order_id,
            trigger,
            entry: HistoryEntry {
                status: trigger.target(),
                at,
                reason,
                event_id: outbox.first_id().cloned(),
            },
            applied_event: None,
            outbox: Some(outbox),
            at,
        }
    }
}

/// Result of [`OrderStore::transition`].
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionOutcome {
    /// Written; the order as it is now.
    Applied(Box<Order>),
    /// The condition failed: no such order, wrong status, or the event was applied already.
    NotApplied,
}

/// The Orders table.
pub trait OrderStore: Send + Sync {
    /// Puts a new order (with its outbox) if no order has its id; events recorded for the id
    /// while it held no order ([`OrderStore::record_event_for_absent_order`]) are applied.
    fn insert_new(
        &self,
        order: &Order,
    ) -> impl Future<Output = Result<InsertOutcome, StoreError>> + Send;

    /// A strongly consistent read.
    fn get(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    fn transition(
        &self,
        write: TransitionWrite<'_>,
    ) -> impl Future<Output = Result<TransitionOutcome, StoreError>> + Send;

    /// Clears the outbox if it is still `outbox` (same first event, nothing appended);
    /// `false` if it is not.
    fn clear_outbox(
        &self,
        id: &OrderId,
        outbox: &Outbox,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a pending outbox whose republish failed to the back of the sweeper's line
    /// (`since` = `at`) if it still starts with `outbox`'s first event (events appended since
    /// move with it); `false` if it does not. Entries that keep failing then never hold back
    /// newer ones.
    fn requeue_outbox(
        &self,
        id: &OrderId,
        outbox: &Outbox,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes the order if it is still `PENDING` with `event_id` unpublished (compensation
    /// after a failed publish); `false` if the condition failed.
    fn delete_unpublished(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that inventory event `event_id` was answered for an id that holds no order (its
    /// reservation is being released); `false`, recording nothing, if an order has the id. An
    /// order put under the id later (an Idempotency-Key retry after a rollback) starts with the
    /// recorded events applied, so a redelivery of one cannot confirm stock that was released.
    fn record_event_for_absent_order(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ids of `PENDING` orders created at `older_than` or before, oldest first.
    fn stale_pending(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send;

    /// Ids of orders whose outbox is pending since `older_than` or before, oldest first.
    fn stale_outbox(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send;

    /// Up to `limit` of `customer`'s orders, newest first, after `after` (the previous page's
    /// last one); `next` is set when more may follow.
    fn list_for_customer(
        &self,
        customer: &CustomerId,
        limit: u32,
        after: Option<&PageCursor>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;
}

/// One line of a customer's order list (`GET /orders`): enough to choose one to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of a customer's orders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Where the next page starts; `None` on the last one.
    pub next: Option<PageCursor>,
}

/// Outcome of a conditional stock write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockWrite {
    Written(Product),
    /// The condition did not hold; the product as it is now.
    Refused(Product),
    NotFound,
}

/// Outcome of a relative stock adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adjusted {
    /// Applied by this call: the product after it.
    Applied(Product),
    /// Applied before, by a call with the same id and delta (a retry): the product now.
    AlreadyApplied(Product),
    /// It would take `available` below zero: the product now.
    Refused(Product),
    NotFound,
    /// The id was used before for another SKU or delta.
    IdReused,
}

/// The Products table as the API sees it. Every write bumps `version`.
pub trait ProductStore: Send + Sync {
    /// Creates the product (`reserved = 0`), its units split over `shards`; `Refused` if it
    /// exists.
    fn create(
        &self,
        sku: &Sku,
        available: u64,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send;

    /// Sets `available` if the product is at `version`; `Refused` if it is not.
    fn set_if_version(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send;

    /// Adds `delta` to `available`, once per `id`; `Refused` if that would go below zero.
    fn adjust(
        &self,
        sku: &Sku,
        delta: i64,
        id: &AdjustmentId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Adjusted, StoreError>> + Send;

    /// Sets the product's shard count and spreads its units over the new shards, in one
    /// atomic write that keeps the total; `NotFound` if there is no such product.
    fn set_shards(
        &self,
        sku: &Sku,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send;

    /// The product's totals over all its shards, from one consistent read.
    fn get(&self, sku: &Sku) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;
}

/// Products and Reservations together: both change in one transaction.
pub trait InventoryStore: Send + Sync {
    /// Atomically: record a `RESERVED` reservation and take every line from stock; or, if
    /// a line is short, record `REJECTED` with the short SKUs and take nothing; or, if a
    /// reservation exists, change nothing and return it (`newly_written = false`).
    fn reserve(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// `RESERVED -> RELEASED` and give the stock back, exactly once; with no reservation,
    /// record `CANCELLED_BEFORE_RESERVE` so a late `OrderPlaced` reserves nothing;
    /// otherwise return the reservation unchanged.
    fn release(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
}

/// What the notification consumer records per event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub event_id: EventId,
    pub order_id: OrderId,
    /// The message's place among the order's messages (its status's seq).
    pub seq: u32,
    pub customer_id: CustomerId,
    pub kind: String,
    pub subject: String,
    pub message: String,
}

/// Result of [`NotificationStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This worker owns the event now (claim time in epoch ms).
    Claimed { claimed_at_ms: i64 },
    /// Already sent: acknowledge.
    AlreadySent,
    /// Another worker claimed it, or another message of the order, recently: retry later.
    InProgress,
    /// A newer message for this order was claimed or sent: this one is never sent.
    Superseded,
}

/// The Notifications table.
pub trait NotificationStore: Send + Sync {
    /// Claims `record.event_id` if unclaimed or claimed before `stale_before_ms`, only if no
    /// message of a higher `seq` was claimed for its order, and only if no other message of
    /// the order is in flight (claimed, not yet sent or released, not stale): one order's
    /// messages go out one at a time, so a newer one is never published before an older one
    /// that was claimed first. In the same atomic write it raises the order's high-water mark
    /// to `record.seq` and makes this claim the order's one in flight.
    fn claim(
        &self,
        record: &NotificationRecord,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// Marks the record sent (its publish ran from `published.0` to `published.1`), then
    /// frees the order for its next message.
    fn mark_sent(
        &self,
        record: &NotificationRecord,
        claimed_at_ms: i64,
        published: (DateTime<Utc>, DateTime<Utc>),
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Drops this worker's claim (after a failed publish) so a retry need not wait, and
    /// frees the order.
    fn release_claim(
        &self,
        record: &NotificationRecord,
        claimed_at_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
