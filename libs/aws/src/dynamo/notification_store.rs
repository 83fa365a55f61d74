//! The Notifications table: one record per source event id, claimed before publishing and
//! marked `SENT` after, so a customer gets one message per event; and per order a mark item
//! (`order#<order id>`): the high-water mark `hwm`, raised by every claim in the same
//! transaction, so no message older than one claimed for that order is ever sent, and the
//! claim in flight (`busy`, `busy_at`), so one order's messages are published one at a time:
//! a newer one waits until the older one is out (SNS would not keep two concurrent publishes
//! in order).

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::inventory::reservation::ItemFailure;
use orders_domain::ports::{ClaimOutcome, NotificationRecord, NotificationStore, StoreError};
use orders_domain::{EventId, OrderId};

use super::cancellation::cancellation_reasons;
use super::{
    backend, dedup_expiry, get_consistent, key1, n, retry_conflicts, s, ts, unbuilt, Reader,
};

const CLAIMED: &str = "CLAIMED";
const SENT: &str = "SENT";

/// The Notifications table.
#[derive(Debug, Clone)]
pub struct NotificationsTable {
    client: Client,
    table: String,
}

impl NotificationsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        NotificationsTable {
            client,
            table: table.into(),
        }
    }

    /// Current state (`CLAIMED` / `SENT`) of a record, if any.
    pub async fn state(&self, event_id: &EventId) -> Result<Option<String>, StoreError> {
        let key = key1("event_id", event_id.as_str());
        match get_consistent(&self.client, &self.table, key, "get notification").await? {
            None => Ok(None),
            Some(item) => Ok(Some(
                Reader::new(&item, event_id.as_str())
                    .s("state")?
                    .to_string(),
            )),
        }
    }
}

/// Key of an order's high-water-mark item (cannot collide with an event id, a UUID).
pub fn mark_key(order_id: &OrderId) -> String {
    format!("order#{}", order_id.as_str())
}

impl NotificationsTable {
    /// The highest message seq claimed for an order, if any.
    pub async fn high_water_mark(&self, order_id: &OrderId) -> Result<Option<u32>, StoreError> {
        let key = mark_key(order_id);
        match get_consistent(
            &self.client,
            &self.table,
            key1("event_id", &key),
            "get mark",
        )
        .await?
        {
            None => Ok(None),
            Some(item) => Ok(Some(Reader::new(&item, &key).n("hwm")?)),
        }
    }

    async fn claim_once(
        &self,
        rec: &NotificationRecord,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("event_id", s(rec.event_id.as_str()))
            .item("order_id", s(rec.order_id.as_str()))
            .item("seq", n(rec.seq))
            .item("customer_id", s(rec.customer_id.as_str()))
            .item("kind", s(rec.kind.as_str()))
            .item("subject", s(rec.subject.as_str()))
            .item("message", s(rec.message.as_str()))
            .item("state", s(CLAIMED))
            .item("claimed_at", n(now_ms))
            .item("expires_at", dedup_expiry(now_ms / 1000))
            .condition_expression(
                "attribute_not_exists(event_id) OR (#state = :claimed AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":stale", n(stale_before_ms))
            .build()
            .map_err(|e| unbuilt("build notification claim", e))?;
        let mark = Update::builder()
            .table_name(&self.table)
            .key("event_id", s(mark_key(&rec.order_id)))
            .update_expression("SET hwm = :seq, busy = :event, busy_at = :now, expires_at = :exp")
            .condition_expression(
                "(attribute_not_exists(hwm) OR hwm <= :seq) \
                 AND (attribute_not_exists(busy) OR busy_at < :stale)",
            )
            .expression_attribute_values(":seq", n(rec.seq))
            .expression_attribute_values(":event", s(rec.event_id.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":stale", n(stale_before_ms))
            .expression_attribute_values(":exp", dedup_expiry(now_ms / 1000))
            .build()
            .map_err(|e| unbuilt("build notification mark", e))?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(mark).build())
            .send()
            .await;
        let err = match res {
            Ok(_) => {
                return Ok(ClaimOutcome::Claimed {
                    claimed_at_ms: now_ms,
                })
            }
            Err(e) => e,
        };
        match cancellation_reasons(&err).as_deref() {
            // The claim's condition decided; this read only tells "done" from "in progress".
            Some([ItemFailure::ConditionFailed, _]) => {
                match self.state(&rec.event_id).await?.as_deref() {
                    Some(SENT) => Ok(ClaimOutcome::AlreadySent),
                    _ => Ok(ClaimOutcome::InProgress),
                }
            }
            // Newer than this one, or another message of the order still going out.
            Some([_, ItemFailure::ConditionFailed]) => {
                match self.high_water_mark(&rec.order_id).await? {
                    Some(hwm) if hwm > rec.seq => Ok(ClaimOutcome::Superseded),
                    _ => Ok(ClaimOutcome::InProgress),
                }
            }
            Some(reasons) => Err(StoreError::Retry(format!(
                "notification claim cancelled without a decision: {reasons:?}"
            ))),
            None => Err(backend("claim notification", err)),
        }
    }
}

impl NotificationStore for NotificationsTable {
    async fn claim(
        &self,
        rec: &NotificationRecord,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        retry_conflicts("claim notification", || {
            self.claim_once(rec, now_ms, stale_before_ms)
        })
        .await
    }

    async fn mark_sent(
        &self,
        rec: &NotificationRecord,
        claimed_at_ms: i64,
        (from, at): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        // `publish_started`: with `sent_at` of the order's previous message, what shows that
        // one order's messages never went out at once.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("event_id", s(rec.event_id.as_str()))
            .update_expression("SET #state = :sent, sent_at = :at, publish_started = :from")
            .condition_expression("attribute_exists(event_id)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":at", s(ts(at)))
            .expression_attribute_values(":from", s(ts(from)))
            .send()
            .await
            .map_err(|e| backend("mark notification sent", e))?;
        // Only after the record says SENT: a redelivery then finds it sent, not claimable.
        self.free_order(rec, claimed_at_ms).await
    }

    async fn release_claim(
        &self,
        rec: &NotificationRecord,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("event_id", s(rec.event_id.as_str()))
            .condition_expression("#state = :claimed AND claimed_at = :at")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":at", n(claimed_at_ms))
            .send()
            .await;
        match res {
            Ok(_) => {}
            // Not ours any more (taken over or sent): nothing to release.
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteItemError::is_conditional_check_failed_exception) => {}
            Err(e) => return Err(backend("release notification claim", e)),
        }
        self.free_order(rec, claimed_at_ms).await
    }
}

impl NotificationsTable {
    /// Lets the order's next message go: clears the claim in flight if it is still this one
    /// (a claim taken over after it went stale is the new worker's to clear).
    async fn free_order(
        &self,
        rec: &NotificationRecord,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("event_id", s(mark_key(&rec.order_id)))
            .update_expression("REMOVE busy, busy_at")
            .condition_expression("busy = :event AND busy_at = :at")
            .expression_attribute_values(":event", s(rec.event_id.as_str()))
            .expression_attribute_values(":at", n(claimed_at_ms))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(())
            }
            Err(e) => Err(backend("free the order's next notification", e)),
        }
    }
}
