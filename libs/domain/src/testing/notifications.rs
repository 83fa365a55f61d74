//! The Notifications table in memory.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::lock;
use crate::ids::{EventId, OrderId};
use crate::ports::{ClaimOutcome, NotificationRecord, NotificationStore, StoreError};

#[derive(Debug, Clone)]
struct NotificationRow {
    record: NotificationRecord,
    sent: bool,
    claimed_at_ms: i64,
}

#[derive(Debug, Clone, Default)]
struct Mark {
    hwm: u32,
    busy: Option<(EventId, i64)>,
}

/// The Notifications table in memory.
#[derive(Debug, Default)]
pub struct InMemoryNotifications {
    rows: Mutex<HashMap<EventId, NotificationRow>>,
    /// Per order: the highest `seq` claimed, and the claim in flight (event, claimed at).
    marks: Mutex<HashMap<OrderId, Mark>>,
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
        let mark = marks.entry(record.order_id.clone()).or_default();
        let busy_elsewhere = mark
            .busy
            .as_ref()
            .is_some_and(|(_, at)| *at >= stale_before_ms);
        let out = match rows.get(&record.event_id) {
            Some(r) if r.sent => ClaimOutcome::AlreadySent,
            Some(r) if r.claimed_at_ms >= stale_before_ms => ClaimOutcome::InProgress,
            _ if mark.hwm > record.seq => ClaimOutcome::Superseded,
            _ if busy_elsewhere => ClaimOutcome::InProgress,
            _ => {
                mark.hwm = record.seq;
                mark.busy = Some((record.event_id.clone(), now_ms));
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
        record: &NotificationRecord,
        claimed_at_ms: i64,
        _published: (DateTime<Utc>, DateTime<Utc>),
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut rows = lock(&self.rows);
        let out = match rows.get_mut(&record.event_id) {
            Some(r) => {
                r.sent = true;
                self.free_order(record, claimed_at_ms);
                Ok(())
            }
            None => Err(StoreError::Corrupt {
                key: record.event_id.to_string(),
                reason: "marking an unclaimed notification as sent".into(),
            }),
        };
        ready(out)
    }

    fn release_claim(
        &self,
        record: &NotificationRecord,
        claimed_at_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut rows = lock(&self.rows);
        if rows
            .get(&record.event_id)
            .is_some_and(|r| !r.sent && r.claimed_at_ms == claimed_at_ms)
        {
            rows.remove(&record.event_id);
        }
        self.free_order(record, claimed_at_ms);
        ready(Ok(()))
    }
}

impl InMemoryNotifications {
    /// Clears the order's claim in flight if it is still this one.
    fn free_order(&self, record: &NotificationRecord, claimed_at_ms: i64) {
        let mut marks = lock(&self.marks);
        if let Some(mark) = marks.get_mut(&record.order_id) {
            if mark.busy.as_ref() == Some(&(record.event_id.clone(), claimed_at_ms)) {
                mark.busy = None;
            }
        }
    }
}
