//! The notification flow: one customer message per applied status change
//! (`OrderStatusChanged`), and never one older than a message already sent for that order.

use std::time::Duration;

use tracing::{info, warn};

use crate::consumer::{ConsumerError, Handled};
use crate::events::{Event, EventPayload, EventType, OrderStatusChanged};
use crate::order::OrderStatus;
use crate::ports::{ClaimOutcome, Clock, EventPublisher, NotificationRecord, NotificationStore};

/// A message for the customer about one status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Short kind, stored with the record (`order_placed`, ...).
    pub kind: &'static str,
    /// Subject line (ASCII, <= 100 chars: fits an SNS email subject).
    pub subject: String,
    pub message: String,
    /// Where the message stands among the order's messages.
    pub seq: u32,
}

/// The customer message for `event`: only status changes are told to customers, so a
/// customer hears what happened to the order, not what one service decided on the way.
/// `OrderPlaced` is the order's first status (`PENDING`): the placement publishes no status
/// change of its own (an `OrderStatusChanged` to `PENDING`, as before, is told the same way).
pub fn notification_for(event: &Event) -> Option<Notification> {
    let (status, reason, seq) = match &event.payload {
        EventPayload::OrderStatusChanged(OrderStatusChanged {
            status,
            reason,
            seq,
            ..
        }) => (status, reason.as_deref(), *seq),
        EventPayload::OrderPlaced(_) => (&OrderStatus::Pending, None, OrderStatus::Pending.seq()),
        _ => return None,
    };
    let id = &event.order_id;
    let short_id: String = id.as_str().chars().take(8).collect();
    // A rejection's reason is the pipeline's own words; a cancel's is the caller's free text,
    // which stays in the order's history for operators and never reaches a customer.
    let because = reason
        .filter(|_| *status == OrderStatus::Rejected)
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let (kind, subject, message) = match status {
        OrderStatus::Pending => (
            "order_placed",
            format!("We received your order {short_id}"),
            format!("Thank you! Order {id} is received and waiting for stock confirmation."),
        ),
        OrderStatus::Confirmed => (
            "order_confirmed",
            format!("Your order {short_id} is confirmed"),
            format!("Good news: the items of order {id} are reserved for you."),
        ),
        OrderStatus::Rejected => (
            "order_rejected",
            format!("We could not fulfil your order {short_id}"),
            format!(
                "Sorry, order {id} could not be fulfilled{because}. You have not been charged."
            ),
        ),
        OrderStatus::Cancelled => (
            "order_cancelled",
            format!("Your order {short_id} is cancelled"),
            format!("Order {id} is cancelled."),
        ),
    };
    Some(Notification {
        kind,
        subject,
        message,
        seq,
    })
}

/// Margin on a notification claim's lifetime for clock differences between workers.
pub const CLAIM_CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// Notification consumer: claim, publish `CustomerNotified`, mark sent; once per event id, and
/// not at all once a newer message of the same order was claimed (the claim raises the
/// order's high-water mark in the same write, so two workers cannot both pass it).
///
/// `claim_ttl` is how long a claim blocks other workers: the function's timeout (plus
/// [`CLAIM_CLOCK_MARGIN`]), because a claim can only be in progress while the invocation that
/// made it runs. A longer one outlives the worker it protects: a worker killed at its timeout
/// (before it could release its claim) would block every redelivery until the message reached
/// the DLQ, which the local stack showed with a 2 s timeout, a 12 s visibility timeout and a
/// fixed 60 s claim.
pub async fn notify_customer<S, P, C>(
    store: &S,
    publisher: &P,
    clock: &C,
    event: &Event,
    claim_ttl: Duration,
) -> Result<Handled, ConsumerError>
where
    S: NotificationStore,
    P: EventPublisher,
    C: Clock,
{
    let Some(note) = notification_for(event) else {
        return Ok(Handled::Skipped("not a customer-facing event"));
    };
    let record = NotificationRecord {
        event_id: event.id.clone(),
        order_id: event.order_id.clone(),
        seq: note.seq,
        customer_id: event.payload.customer_id().clone(),
        kind: note.kind.to_string(),
        subject: note.subject.clone(),
        message: note.message.clone(),
    };
    let now = clock.now();
    let now_ms = now.timestamp_millis();
    let ttl_ms = i64::try_from(claim_ttl.as_millis()).unwrap_or(i64::MAX);
    let claimed_at_ms = match store
        .claim(&record, now_ms, now_ms.saturating_sub(ttl_ms))
        .await?
    {
        ClaimOutcome::AlreadySent => return Ok(Handled::Skipped("already notified")),
        ClaimOutcome::Superseded => {
            info!(order_id = %event.order_id, event_id = %event.id, kind = note.kind, "a newer message was sent for this order; this one is dropped");
            return Ok(Handled::Skipped("superseded by a newer message"));
        }
        ClaimOutcome::InProgress => return Err(ConsumerError::InProgress(event.id.to_string())),
        ClaimOutcome::Claimed { claimed_at_ms } => claimed_at_ms,
    };
    let out = Event::customer_notified(event, note.subject, note.message, now);
    let publishing = clock.now();
    if let Err(e) = publisher.publish(&out).await {
        if let Err(release) = store.release_claim(&record, claimed_at_ms).await {
            warn!(order_id = %event.order_id, error = %release, "claim not released; it expires");
        }
        return Err(e.into());
    }
    // A crash here leaves the claim; after it expires a retry republishes the same
    // CustomerNotified id, which subscribers can dedupe.
    store
        .mark_sent(&record, claimed_at_ms, (publishing, clock.now()))
        .await?;
    info!(order_id = %event.order_id, event_id = %event.id, kind = note.kind, "customer notified");
    Ok(Handled::Done {
        published: Some(EventType::CustomerNotified),
    })
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
