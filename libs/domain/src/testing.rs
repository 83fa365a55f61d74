//! In-memory port implementations for unit tests (feature `testing`).
//!
//! They keep the adapters' conditional semantics: inserts refuse existing ids, status
//! changes check the allowed statuses and applied events, a reservation never oversells
//! and is recorded once per order, a notification is claimed once. Each store holds its
//! state behind one mutex, so every operation is atomic like a DynamoDB conditional write
//! or transaction.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::events::{Event, EventType};
use crate::ids::{CustomerId, EventId, OrderId, Sku};
use crate::order::{Order, OrderLine, Outbox};
use crate::ports::{
    ClaimOutcome, Clock, EventPublisher, InsertOutcome, InventoryStore, NotificationRecord,
    NotificationStore, OrderStore, Product, ProductStore, PublishError, StockWrite, StoreError,
    TransitionOutcome, TransitionWrite,
};
use crate::reservation::{Recorded, Reservation, ReservationStatus};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertions that follow.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(t))
    }

    /// 2026-11-26T12:00:00Z.
    pub fn default_time() -> Self {
        Self::at(
            Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    pub fn advance(&self, by: Duration) {
        let mut t = lock(&self.0);
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// Records published events; can be told to fail the next `n` publishes, cleanly or
/// ambiguously.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    events: Mutex<Vec<Event>>,
    fail_next: AtomicUsize,
    ambiguous_next: AtomicUsize,
    /// Publishes still to let through before one fails.
    fail_nth: Mutex<Option<usize>>,
}

impl RecordingPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` publishes fail (and publish nothing).
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// The `n`th publish from now (1 = the next) fails; those before it go out.
    pub fn fail_nth(&self, n: usize) {
        *lock(&self.fail_nth) = n.checked_sub(1);
    }

    /// The next `n` publishes go out but report failure (a timeout after SNS accepted the
    /// message): the caller cannot tell them from a clean failure.
    pub fn ambiguous_next(&self, n: usize) {
        self.ambiguous_next.store(n, Ordering::SeqCst);
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    pub fn types(&self) -> Vec<EventType> {
        lock(&self.events).iter().map(Event::event_type).collect()
    }
}

impl EventPublisher for RecordingPublisher {
    fn publish(&self, event: &Event) -> impl Future<Output = Result<(), PublishError>> + Send {
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        let nth = {
            let mut left = lock(&self.fail_nth);
            match *left {
                Some(0) => {
                    *left = None;
                    true
                }
                Some(n) => {
                    *left = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        let result = if nth || take(&self.fail_next) {
            Err(PublishError("injected publish failure".into()))
        } else if take(&self.ambiguous_next) {
            lock(&self.events).push(event.clone());
            Err(PublishError(
                "injected timeout after the publish went out".into(),
            ))
        } else {
            lock(&self.events).push(event.clone());
            Ok(())
        };
        ready(result)
    }
}

/// At most `limit` ids, oldest first (what a sparse index query on a time range key gives).
fn oldest_first(mut due: Vec<(DateTime<Utc>, OrderId)>, limit: usize) -> Vec<OrderId> {
    due.sort();
    due.into_iter().take(limit).map(|(_, id)| id).collect()
}

/// The Orders table in memory.
#[derive(Debug, Default)]
pub struct InMemoryOrders {
    orders: Mutex<HashMap<OrderId, Order>>,
    lose_insert_answers: AtomicUsize,
}

impl InMemoryOrders {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` inserts take effect but answer "exists", as a lost response followed by
    /// the SDK's retry meeting its own condition does.
    pub fn lose_insert_answers(&self, n: usize) {
        self.lose_insert_answers.store(n, Ordering::SeqCst);
    }

    /// Direct read for assertions.
    pub fn snapshot(&self, id: &OrderId) -> Option<Order> {
        lock(&self.orders).get(id).cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.orders).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl OrderStore for InMemoryOrders {
    fn insert_new(
        &self,
        order: &Order,
    ) -> impl Future<Output = Result<InsertOutcome, StoreError>> + Send {
        let mut map = lock(&self.orders);
        let out = if map.contains_key(&order.order_id) {
            InsertOutcome::AlreadyExists
        } else {
            map.insert(order.order_id.clone(), order.clone());
            let lost = self
                .lose_insert_answers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if lost {
                InsertOutcome::AlreadyExists
            } else {
                InsertOutcome::Inserted
            }
        };
        ready(Ok(out))
    }

    fn get(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        ready(Ok(lock(&self.orders).get(id).cloned()))
    }

    fn transition(
        &self,
        w: TransitionWrite<'_>,
    ) -> impl Future<Output = Result<TransitionOutcome, StoreError>> + Send {
        let mut map = lock(&self.orders);
        let out = match map.get_mut(w.order_id) {
            Some(o)
                if w.trigger.allowed_from().contains(&o.status)
                    && w.applied_event
                        .is_none_or(|id| !o.applied_events.contains(id)) =>
            {
                o.status = w.trigger.target();
                o.history.push(w.entry);
                o.updated_at = w.at;
                if let Some(id) = w.applied_event {
                    o.applied_events.push(id.clone());
                }
                if let Some(new) = w.outbox {
                    match &mut o.outbox {
                        Some(pending) => pending.events.extend(new.events.iter().cloned()),
                        None => o.outbox = Some(new.clone()),
                    }
                }
                TransitionOutcome::Applied(Box::new(o.clone()))
            }
            _ => TransitionOutcome::NotApplied,
        };
        ready(Ok(out))
    }

    fn clear_outbox(
        &self,
        id: &OrderId,
        outbox: &Outbox,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let mut map = lock(&self.orders);
        let same =
            |b: &Outbox| b.first_id() == outbox.first_id() && b.events.len() == outbox.events.len();
        let cleared = match map.get_mut(id) {
            Some(o) if o.outbox.as_ref().is_some_and(same) => {
                o.outbox = None;
                true
            }
            _ => false,
        };
        ready(Ok(cleared))
    }

    fn delete_unpublished(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let mut map = lock(&self.orders);
        let deletable = map.get(id).is_some_and(|o| {
            o.status == crate::order::OrderStatus::Pending
                && o.outbox
                    .as_ref()
                    .is_some_and(|b| b.first_id() == Some(event_id))
        });
        if deletable {
            map.remove(id);
        }
        ready(Ok(deletable))
    }

    fn stale_pending(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send {
        let due = lock(&self.orders)
            .values()
            .filter(|o| {
                o.status == crate::order::OrderStatus::Pending && o.created_at <= older_than
            })
            .map(|o| (o.created_at, o.order_id.clone()))
            .collect();
        ready(Ok(oldest_first(due, limit)))
    }

    fn stale_outbox(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send {
        let due = lock(&self.orders)
            .values()
            .filter_map(|o| {
                o.outbox
                    .as_ref()
                    .filter(|b| b.since <= older_than)
                    .map(|b| (b.since, o.order_id.clone()))
            })
            .collect();
        ready(Ok(oldest_first(due, limit)))
    }
}

#[derive(Debug, Default)]
struct InventoryState {
    products: HashMap<Sku, Product>,
    reservations: HashMap<OrderId, Reservation>,
}

/// Products and Reservations in memory, one lock for both (the transaction).
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<InventoryState>,
}

impl InMemoryInventory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn product(&self, sku: &str) -> Option<Product> {
        let sku = Sku::parse(sku).ok()?;
        lock(&self.state).products.get(&sku).cloned()
    }

    pub fn reservation(&self, id: &OrderId) -> Option<Reservation> {
        lock(&self.state).reservations.get(id).cloned()
    }
}

impl ProductStore for InMemoryInventory {
    fn create(
        &self,
        sku: &Sku,
        available: u64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get(sku) {
            Some(p) => StockWrite::Refused(p.clone()),
            None => {
                let p = Product {
                    sku: sku.clone(),
                    available,
                    reserved: 0,
                    version: 1,
                    updated_at: at,
                };
                st.products.insert(sku.clone(), p.clone());
                StockWrite::Written(p)
            }
        };
        ready(Ok(out))
    }

    fn set_if_version(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get_mut(sku) {
            None => StockWrite::NotFound,
            Some(p) if p.version != version => StockWrite::Refused(p.clone()),
            Some(p) => {
                p.available = available;
                p.version += 1;
                p.updated_at = at;
                StockWrite::Written(p.clone())
            }
        };
        ready(Ok(out))
    }

    fn adjust(
        &self,
        sku: &Sku,
        delta: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get_mut(sku) {
            None => StockWrite::NotFound,
            Some(p) => match p.available.checked_add_signed(delta) {
                None => StockWrite::Refused(p.clone()),
                Some(a) => {
                    p.available = a;
                    p.version += 1;
                    p.updated_at = at;
                    StockWrite::Written(p.clone())
                }
            },
        };
        ready(Ok(out))
    }

    fn get(&self, sku: &Sku) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send {
        ready(Ok(lock(&self.state).products.get(sku).cloned()))
    }
}

impl InventoryStore for InMemoryInventory {
    fn reserve(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        let mut st = lock(&self.state);
        if let Some(existing) = st.reservations.get(order_id) {
            return ready(Ok(Recorded {
                reservation: existing.clone(),
                newly_written: false,
            }));
        }
        let short: Vec<Sku> = lines
            .iter()
            .filter(|l| {
                st.products
                    .get(&l.sku)
                    .is_none_or(|p| p.available < u64::from(l.quantity))
            })
            .map(|l| l.sku.clone())
            .collect();
        let status = if short.is_empty() {
            for l in lines {
                if let Some(p) = st.products.get_mut(&l.sku) {
                    p.version += 1;
                    p.available -= u64::from(l.quantity);
                    p.reserved += u64::from(l.quantity);
                    p.updated_at = at;
                }
            }
            ReservationStatus::Reserved
        } else {
            ReservationStatus::Rejected
        };
        let r = Reservation {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            status,
            lines: lines.to_vec(),
            short_skus: short,
            updated_at: at,
        };
        st.reservations.insert(order_id.clone(), r.clone());
        ready(Ok(Recorded {
            reservation: r,
            newly_written: true,
        }))
    }

    fn release(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        let mut st = lock(&self.state);
        let current = st.reservations.get(order_id).cloned();
        let out = match current {
            None => {
                let r = Reservation {
                    order_id: order_id.clone(),
                    customer_id: customer_id.clone(),
                    status: ReservationStatus::CancelledBeforeReserve,
                    lines: Vec::new(),
                    short_skus: Vec::new(),
                    updated_at: at,
                };
                st.reservations.insert(order_id.clone(), r.clone());
                Recorded {
                    reservation: r,
                    newly_written: true,
                }
            }
            Some(mut r) if r.status == ReservationStatus::Reserved => {
                for l in &r.lines {
                    if let Some(p) = st.products.get_mut(&l.sku) {
                        p.version += 1;
                        p.available += u64::from(l.quantity);
                        p.reserved = p.reserved.saturating_sub(u64::from(l.quantity));
                        p.updated_at = at;
                    }
                }
                r.status = ReservationStatus::Released;
                r.updated_at = at;
                st.reservations.insert(order_id.clone(), r.clone());
                Recorded {
                    reservation: r,
                    newly_written: true,
                }
            }
            Some(r) => Recorded {
                reservation: r,
                newly_written: false,
            },
        };
        ready(Ok(out))
    }
}

#[derive(Debug, Clone)]
struct NotificationRow {
    record: NotificationRecord,
    sent: bool,
    claimed_at_ms: i64,
}

/// The Notifications table in memory.
#[derive(Debug, Default)]
pub struct InMemoryNotifications {
    rows: Mutex<HashMap<EventId, NotificationRow>>,
    /// Highest `seq` claimed per order.
    marks: Mutex<HashMap<OrderId, u32>>,
}

impl InMemoryNotifications {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(true)` if sent, `Some(false)` if only claimed.
    pub fn sent(&self, id: &EventId) -> Option<bool> {
        lock(&self.rows).get(id).map(|r| r.sent)
    }

    pub fn record(&self, id: &EventId) -> Option<NotificationRecord> {
        lock(&self.rows).get(id).map(|r| r.record.clone())
    }
}

impl NotificationStore for InMemoryNotifications {
    fn claim(
        &self,
        record: &NotificationRecord,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send {
        let mut rows = lock(&self.rows);
        let mut marks = lock(&self.marks);
        let out = match rows.get(&record.event_id) {
            Some(r) if r.sent => ClaimOutcome::AlreadySent,
            Some(r) if r.claimed_at_ms >= stale_before_ms => ClaimOutcome::InProgress,
            _ if marks.get(&record.order_id).is_some_and(|m| *m > record.seq) => {
                ClaimOutcome::Superseded
            }
            _ => {
                marks.insert(record.order_id.clone(), record.seq);
                rows.insert(
                    record.event_id.clone(),
                    NotificationRow {
                        record: record.clone(),
                        sent: false,
                        claimed_at_ms: now_ms,
                    },
                );
                ClaimOutcome::Claimed {
                    claimed_at_ms: now_ms,
                }
            }
        };
        ready(Ok(out))
    }

    fn mark_sent(
        &self,
        event_id: &EventId,
        _at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut rows = lock(&self.rows);
        let out = match rows.get_mut(event_id) {
            Some(r) => {
                r.sent = true;
                Ok(())
            }
            None => Err(StoreError::Corrupt {
                key: event_id.to_string(),
                reason: "marking an unclaimed notification as sent".into(),
            }),
        };
        ready(out)
    }

    fn release_claim(
        &self,
        event_id: &EventId,
        claimed_at_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut rows = lock(&self.rows);
        if rows
            .get(event_id)
            .is_some_and(|r| !r.sent && r.claimed_at_ms == claimed_at_ms)
        {
            rows.remove(event_id);
        }
        ready(Ok(()))
    }
}

/// The text of a sample Lambda event in `events/lambda/` (the files `cargo lambda invoke
/// --data-file` takes), so handler tests run on the very payloads users invoke with.
pub fn lambda_sample_text(name: &str) -> String {
    let path = format!("{}/../../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// [`lambda_sample_text`], deserialized.
pub fn lambda_sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&lambda_sample_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
