//! The Notifications table: one item per order (`order_id`), written with single-item
//! conditional updates, no transaction. It holds the order's high-water mark `hwm` (the
//! highest message seq claimed: no message older than one claimed is ever sent), the claim in
//! flight (`busy`, `busy_at`: one order's messages are published one at a time, since SNS would
//! not keep two concurrent publishes in order), and each message's record `m<seq>` (`CLAIMED`,
//! then `SENT`: a customer gets one message per event). Mark, claim and record are one item,
//! so one conditional write decides all three: a transaction over two items bought nothing
//! more and billed four units where one does (see `docs/capacity.md`).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::ports::{ClaimOutcome, NotificationRecord, NotificationStore, StoreError};
use orders_domain::OrderId;
use std::collections::HashMap;

use super::{backend, dedup_expiry, get_consistent, key1, n, s, ts, Item, Reader};

const CLAIMED: &str = "CLAIMED";
const SENT: &str = "SENT";

/// The Notifications table.
#[derive(Debug, Clone)]
pub struct NotificationsTable {
    client: Client,
    table: String,
}

/// Name of the attribute holding message `seq`'s record.
pub fn message_attr(seq: u32) -> String {
    format!("m{seq}")
}

fn is_condition_failure(e: &UpdateItemError) -> bool {
    e.is_conditional_check_failed_exception()
}

impl NotificationsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        NotificationsTable {
            client,
            table: table.into(),
        }
    }

    async fn order_item(&self, order_id: &OrderId) -> Result<Option<Item>, StoreError> {
        let key = key1("order_id", order_id.as_str());
        get_consistent(&self.client, &self.table, key, "get notifications").await
    }

    /// State (`CLAIMED` / `SENT`) of an order's message `seq`, if it has a record.
    pub async fn state(&self, order_id: &OrderId, seq: u32) -> Result<Option<String>, StoreError> {
        let Some(item) = self.order_item(order_id).await? else {
            return Ok(None);
        };
        message_state(&item, order_id, seq)
    }

    /// The highest message seq claimed for an order, if any.
    pub async fn high_water_mark(&self, order_id: &OrderId) -> Result<Option<u32>, StoreError> {
        match self.order_item(order_id).await? {
            None => Ok(None),
            Some(item) => Reader::new(&item, order_id.as_str()).opt_n("hwm"),
        }
    }

    /// What a refused claim met: sent already, a newer message claimed, or one in flight.
    fn refusal(item: &Item, rec: &NotificationRecord) -> Result<ClaimOutcome, StoreError> {
        if message_state(item, &rec.order_id, rec.seq)?.as_deref() == Some(SENT) {
            return Ok(ClaimOutcome::AlreadySent);
        }
        let hwm: Option<u32> = Reader::new(item, rec.order_id.as_str()).opt_n("hwm")?;
        Ok(match hwm {
            Some(hwm) if hwm > rec.seq => ClaimOutcome::Superseded,
            _ => ClaimOutcome::InProgress,
        })
    }
}

fn message_state(item: &Item, order_id: &OrderId, seq: u32) -> Result<Option<String>, StoreError> {
    let name = message_attr(seq);
    match item.get(&name) {
        None => Ok(None),
        Some(AttributeValue::M(m)) => Ok(Some(
            Reader::new(m, order_id.as_str()).s("state")?.to_string(),
        )),
        Some(_) => {
            Err(Reader::new(item, order_id.as_str()).corrupt(format!("{name} is not a map")))
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
        let record = AttributeValue::M(HashMap::from([
            ("event_id".to_string(), s(rec.event_id.as_str())),
            ("kind".to_string(), s(rec.kind.as_str())),
            ("state".to_string(), s(CLAIMED)),
            ("claimed_at".to_string(), n(now_ms)),
        ]));
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key1("order_id", rec.order_id.as_str())))
            .update_expression(
                "SET hwm = :seq, busy = :event, busy_at = :now, customer_id = :customer, \
                 expires_at = :exp, #m = :record",
            )
            // Not below the mark, no other claim in flight (or it went stale), and this
            // message not sent already (a stale claim of it may be taken over).
            .condition_expression(
                "(attribute_not_exists(hwm) OR hwm <= :seq) \
                 AND (attribute_not_exists(busy) OR busy_at < :stale) \
                 AND (attribute_not_exists(#m) OR #m.#state = :claimed)",
            )
            .expression_attribute_names("#m", message_attr(rec.seq))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":seq", n(rec.seq))
            .expression_attribute_values(":event", s(rec.event_id.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":customer", s(rec.customer_id.as_str()))
            .expression_attribute_values(":exp", dedup_expiry(now_ms / 1000))
            .expression_attribute_values(":record", record)
            .expression_attribute_values(":stale", n(stale_before_ms))
            .expression_attribute_values(":claimed", s(CLAIMED))
            // A refusal returns the item it met: no second read to tell why.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
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
        let Some(refused) = err.as_service_error().and_then(|e| match e {
            UpdateItemError::ConditionalCheckFailedException(c) => Some(c),
            _ => None,
        }) else {
            return Err(backend("claim notification", err));
        };
        match refused.item() {
            Some(item) => Self::refusal(item, rec),
            // Only a store that ignores `ReturnValuesOnConditionCheckFailure` gets here (a
            // missing item passes every clause): undecided, so the message is tried again.
            None => Err(StoreError::Retry(
                "notification claim refused without the item it met".into(),
            )),
        }
    }

    async fn mark_sent(
        &self,
        rec: &NotificationRecord,
        claimed_at_ms: i64,
        (from, at): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        // `publish_started`: with `sent_at` of the order's previous message, what shows that
        // one order's messages never went out at once.
        let update = |free_order: bool| {
            let expression = if free_order {
                "SET #m.#state = :sent, #m.sent_at = :at, #m.publish_started = :from \
                 REMOVE busy, busy_at"
            } else {
                "SET #m.#state = :sent, #m.sent_at = :at, #m.publish_started = :from"
            };
            let condition = if free_order {
                "busy = :event AND busy_at = :claimed_at"
            } else {
                "attribute_exists(#m)"
            };
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key1("order_id", rec.order_id.as_str())))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names("#m", message_attr(rec.seq))
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":sent", s(SENT))
                .expression_attribute_values(":at", s(ts(at)))
                .expression_attribute_values(":from", s(ts(from)));
            if free_order {
                req = req
                    .expression_attribute_values(":event", s(rec.event_id.as_str()))
                    .expression_attribute_values(":claimed_at", n(claimed_at_ms));
            }
            req.send()
        };
        // One write marks it sent and lets the order's next message go, while the claim is
        // still this worker's (the usual case).
        match update(true).await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => {}
            Err(e) => return Err(backend("mark notification sent", e)),
        }
        // Taken over after it went stale: the record still says it went out; the claim in
        // flight is the new worker's to clear.
        match update(false).await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(()),
            Err(e) => Err(backend("mark notification sent", e)),
        }
    }

    async fn release_claim(
        &self,
        rec: &NotificationRecord,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        // The mark stays: a redelivery of this message may claim it again, an older one not.
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key1("order_id", rec.order_id.as_str())))
            .update_expression("REMOVE #m, busy, busy_at")
            .condition_expression(
                "busy = :event AND busy_at = :claimed_at AND #m.#state = :claimed",
            )
            .expression_attribute_names("#m", message_attr(rec.seq))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":event", s(rec.event_id.as_str()))
            .expression_attribute_values(":claimed_at", n(claimed_at_ms))
            .expression_attribute_values(":claimed", s(CLAIMED))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Not ours any more (taken over, or sent by its new owner): nothing to release.
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(()),
            Err(e) => Err(backend("release notification claim", e)),
        }
    }
}
