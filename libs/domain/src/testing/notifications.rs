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
