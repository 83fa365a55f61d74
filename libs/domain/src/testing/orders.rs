//! The Orders table in memory.

use std::future::{ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::lock;
use crate::ids::{CustomerId, EventId, OrderId};
use crate::list_orders::PageCursor;
use crate::order::{Order, Outbox};
use crate::ports::{
    InsertOutcome, OrderPage, OrderStore, OrderSummary, StoreError, TransitionOutcome,
    TransitionWrite,
};
use std::collections::HashMap;

/// At most `limit` ids, oldest first (what a sparse index query on a time range key gives).
fn oldest_first(mut due: Vec<(DateTime<Utc>, OrderId)>, limit: usize) -> Vec<OrderId> {
    due.sort();
    due.into_iter().take(limit).map(|(_, id)| id).collect()
}

/// The Orders table in memory.
#[derive(Debug, Default)]
pub struct InMemoryOrders {
    orders: Mutex<HashMap<OrderId, Order>>,
    /// Inventory events answered for ids that held no order (the table's marker items).
    absent: Mutex<HashMap<OrderId, Vec<EventId>>>,
    lose_insert_answers: AtomicUsize,
    /// Faults for the next calls: inserts that fail (after writing if `insert_writes`),
    /// reads and compensating deletes that fail.
    failing_inserts: AtomicUsize,
    insert_writes: std::sync::atomic::AtomicBool,
    failing_gets: AtomicUsize,
    failing_deletes: AtomicUsize,
    lost_deletes: AtomicUsize,
    failing_transitions: AtomicUsize,
}

/// Takes one from a fault counter; `true` if this call faults.
fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
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

    /// The next `n` inserts fail with a backend error (a 500, a timeout), having written the
    /// order first if `written`: the writer cannot tell which.
    pub fn fail_inserts(&self, n: usize, written: bool) {
        self.insert_writes.store(written, Ordering::SeqCst);
        self.failing_inserts.store(n, Ordering::SeqCst);
    }

    /// The next `n` reads fail.
    pub fn fail_gets(&self, n: usize) {
        self.failing_gets.store(n, Ordering::SeqCst);
    }

    /// The next `n` transitions fail with a backend error, writing nothing.
    pub fn fail_transitions(&self, n: usize) {
        self.failing_transitions.store(n, Ordering::SeqCst);
    }

    /// The next `n` compensating deletes fail.
    pub fn fail_deletes(&self, n: usize) {
        self.failing_deletes.store(n, Ordering::SeqCst);
    }

    /// A new order as the table stores it: with the events answered while its id held none.
    fn as_stored(&self, order: &Order) -> Order {
        let mut stored = order.clone();
        if let Some(answered) = lock(&self.absent).remove(&order.order_id) {
            stored.applied_events.extend(answered);
        }
        stored
    }

    /// The next `n` compensating deletes take effect but answer "condition failed", as a lost
    /// response followed by the SDK's retry meeting its own delete does.
    pub fn lose_delete_answers(&self, n: usize) {
        self.lost_deletes.store(n, Ordering::SeqCst);
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
        if take(&self.failing_inserts) {
            if self.insert_writes.load(Ordering::SeqCst) && !map.contains_key(&order.order_id) {
                map.insert(order.order_id.clone(), self.as_stored(order));
            }
            return ready(Err(StoreError::Backend("put order: 500".into())));
        }
        let out = if map.contains_key(&order.order_id) {
            InsertOutcome::AlreadyExists
        } else {
            map.insert(order.order_id.clone(), self.as_stored(order));
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
        if take(&self.failing_gets) {
            return ready(Err(StoreError::Backend("get order: 500".into())));
        }
        ready(Ok(lock(&self.orders).get(id).cloned()))
    }

    fn transition(
        &self,
        w: TransitionWrite<'_>,
    ) -> impl Future<Output = Result<TransitionOutcome, StoreError>> + Send {
        if take(&self.failing_transitions) {
            return ready(Err(StoreError::Backend("transition: 500".into())));
        }
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

    fn requeue_outbox(
        &self,
        id: &OrderId,
        outbox: &Outbox,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let mut map = lock(&self.orders);
        let out = match map.get_mut(id).and_then(|o| o.outbox.as_mut()) {
            Some(b) if b.events.first().map(|e| &e.id) == outbox.events.first().map(|e| &e.id) => {
                b.since = at;
                true
            }
            _ => false,
        };
        ready(Ok(out))
    }

    fn delete_unpublished(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        if take(&self.failing_deletes) {
            return ready(Err(StoreError::Backend("delete order: 500".into())));
        }
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
        ready(Ok(deletable && !take(&self.lost_deletes)))
    }

    fn record_event_for_absent_order(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let map = lock(&self.orders);
        if map.contains_key(id) {
            return ready(Ok(false));
        }
        let mut absent = lock(&self.absent);
        let answered = absent.entry(id.clone()).or_default();
        if !answered.contains(event_id) {
            answered.push(event_id.clone());
        }
        ready(Ok(true))
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

    fn list_for_customer(
        &self,
        customer: &CustomerId,
        limit: u32,
        after: Option<&PageCursor>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send {
        // The by-customer index's order: created_at (as stored, to the millisecond) then the
        // table key, newest first.
        let key = |at: DateTime<Utc>, id: &OrderId| (at.timestamp_millis(), id.clone());
        let start = after.map(|c| key(c.created_at, &c.order_id));
        let mut mine: Vec<OrderSummary> = lock(&self.orders)
            .values()
            .filter(|o| &o.customer_id == customer)
            .filter(|o| {
                start
                    .as_ref()
                    .is_none_or(|s| &key(o.created_at, &o.order_id) < s)
            })
            .map(|o| OrderSummary {
                order_id: o.order_id.clone(),
                status: o.status,
                created_at: o.created_at,
                updated_at: o.updated_at,
            })
            .collect();
        mine.sort_by_key(|o| std::cmp::Reverse(key(o.created_at, &o.order_id)));
        let more = mine.len() > limit as usize;
        mine.truncate(limit as usize);
        let next = more.then(|| mine.last()).flatten().map(|o| PageCursor {
            created_at: o.created_at,
            order_id: o.order_id.clone(),
        });
        ready(Ok(OrderPage { orders: mine, next }))
    }
}
