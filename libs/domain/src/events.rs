//! The event contract: an envelope `{id, type, version, occurred_at, order_id, trace_id?, data}`
//! with a typed payload per `type`. JSON Schemas and samples live in `events/` at the repo root;
//! a test there proves these types, the samples and the schemas agree.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, EventId, OrderId, Sku};
use crate::order::line::{OrderLine, OrderStatus};
use crate::trace::TraceId;

/// The envelope version this code writes and accepts.
pub const EVENT_VERSION: u32 = 1;

/// One domain event, as published to SNS (the message body) and read from SQS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub order_id: OrderId,
    /// The trace of the request the flow started from ([`crate::trace`]); events built while
    /// handling an event carry that event's. Absent in events from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// `type` and `data`.
    #[serde(flatten)]
    pub payload: EventPayload,
}

/// `type` (the tag) and `data` (the content) of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    OrderPlaced(OrderPlaced),
    OrderCancelled(OrderCancelled),
    InventoryReserved(InventoryReserved),
    InventoryRejected(InventoryRejected),
    InventoryReleased(InventoryReleased),
    OrderStatusChanged(OrderStatusChanged),
    CustomerNotified(CustomerNotified),
}

/// Event type names; also the SNS message attribute `type` that filter policies match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    OrderPlaced,
    OrderCancelled,
    InventoryReserved,
    InventoryRejected,
    InventoryReleased,
    OrderStatusChanged,
    CustomerNotified,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::OrderPlaced,
        EventType::OrderCancelled,
        EventType::InventoryReserved,
        EventType::InventoryRejected,
        EventType::InventoryReleased,
        EventType::OrderStatusChanged,
        EventType::CustomerNotified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "OrderPlaced",
            EventType::OrderCancelled => "OrderCancelled",
            EventType::InventoryReserved => "InventoryReserved",
            EventType::InventoryRejected => "InventoryRejected",
            EventType::InventoryReleased => "InventoryReleased",
            EventType::OrderStatusChanged => "OrderStatusChanged",
            EventType::CustomerNotified => "CustomerNotified",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub customer_id: CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryReserved {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRejected {
    pub customer_id: CustomerId,
    pub short_skus: Vec<Sku>,
    /// Why, when it is not (only) short stock: the order needs more stock items than one
    /// reservation can hold. Absent in events before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryReleased {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
}

/// An order's status changed: one per applied transition (and `PENDING` for a new order),
/// written with the transition in the order's outbox. Customer messages follow these, never
/// the inventory's raw decisions, so a customer hears only what happened to the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    /// [`OrderStatus::seq`]: grows with every transition of one order, so a consumer can
    /// tell an older change from a newer one whatever order they arrive in.
    pub seq: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerNotified {
    pub customer_id: CustomerId,
    pub source_event_id: EventId,
    pub source_type: EventType,
    pub subject: String,
    pub message: String,
}

impl EventPayload {
    pub fn event_type(&self) -> EventType {
        match self {
            EventPayload::OrderPlaced(_) => EventType::OrderPlaced,
            EventPayload::OrderCancelled(_) => EventType::OrderCancelled,
            EventPayload::InventoryReserved(_) => EventType::InventoryReserved,
            EventPayload::InventoryRejected(_) => EventType::InventoryRejected,
            EventPayload::InventoryReleased(_) => EventType::InventoryReleased,
            EventPayload::OrderStatusChanged(_) => EventType::OrderStatusChanged,
            EventPayload::CustomerNotified(_) => EventType::CustomerNotified,
        }
    }

    /// Every payload names the customer.
    pub fn customer_id(&self) -> &CustomerId {
        match self {
            EventPayload::OrderPlaced(d) => &d.customer_id,
            EventPayload::OrderCancelled(d) => &d.customer_id,
            EventPayload::InventoryReserved(d) => &d.customer_id,
            EventPayload::InventoryRejected(d) => &d.customer_id,
            EventPayload::InventoryReleased(d) => &d.customer_id,
            EventPayload::OrderStatusChanged(d) => &d.customer_id,
            EventPayload::CustomerNotified(d) => &d.customer_id,
        }
    }
}

/// Why a message body is not an event this code accepts.
#[derive(Debug, thiserror::Error)]
pub enum EventParseError {
    #[error("not a valid event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported event version {0} (this code reads version {EVENT_VERSION})")]
    UnsupportedVersion(u32),
    #[error("SNS envelope without a string Message")]
    BadEnvelope,
}

impl Event {
    pub(crate) fn new(
        order_id: &OrderId,
        occurred_at: DateTime<Utc>,
        payload: EventPayload,
    ) -> Self {
        Event {
            id: EventId::for_order_event(order_id, payload.event_type().as_str()),
            version: EVENT_VERSION,
            occurred_at,
            order_id: order_id.clone(),
            trace_id: crate::trace::current(),
            payload,
        }
    }

    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }

    /// `OrderCancelled` for stock reserved for an order that does not exist (rolled back). Its
    /// id differs from [`Event::order_cancelled`]'s: an order recreated under the same id (the
    /// client's retry with the same Idempotency-Key) may still be cancelled for real later.
    pub fn abandoned_reservation(
        order_id: &OrderId,
        customer_id: &CustomerId,
        reason: String,
        at: DateTime<Utc>,
    ) -> Self {
        Event {
            id: EventId::for_order_event(order_id, "OrderCancelled/abandoned-reservation"),
            ..Self::new(
                order_id,
                at,
                EventPayload::OrderCancelled(OrderCancelled {
                    customer_id: customer_id.clone(),
                    reason: Some(reason),
                }),
            )
        }
    }

    /// `OrderStatusChanged` to `status`. An order reaches each status at most once (the state
    /// machine never goes back), so the status names the transition: a republish after a
    /// crash carries the same id.
    pub fn status_changed(
        order_id: &OrderId,
        customer_id: &CustomerId,
        status: OrderStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Event {
            id: EventId::for_order_event(
                order_id,
                &format!("OrderStatusChanged/{}", status.as_str()),
            ),
            ..Self::new(
                order_id,
                at,
                EventPayload::OrderStatusChanged(OrderStatusChanged {
                    customer_id: customer_id.clone(),
                    status,
                    seq: status.seq(),
                    reason,
                }),
            )
        }
    }

    /// An event about `order_id` whose id is derived from the order id and the payload type.
    pub fn for_order(order_id: &OrderId, at: DateTime<Utc>, payload: EventPayload) -> Self {
        Self::new(order_id, at, payload)
    }

    /// `CustomerNotified` for `source`; its id is derived from the source event id.
    pub fn customer_notified(
        source: &Event,
        subject: String,
        message: String,
        at: DateTime<Utc>,
    ) -> Self {
        Event {
            id: EventId::for_notification(&source.id),
            version: EVENT_VERSION,
            occurred_at: at,
            order_id: source.order_id.clone(),
            trace_id: source.trace_id.clone().or_else(crate::trace::current),
            payload: EventPayload::CustomerNotified(CustomerNotified {
                customer_id: source.payload.customer_id().clone(),
                source_event_id: source.id.clone(),
                source_type: source.event_type(),
                subject,
                message,
            }),
        }
    }

    /// The JSON published as the SNS message body.
    pub fn to_json(&self) -> String {
        // Serializing these plain types cannot fail (string keys, no custom serializers
        // that error); fall back to an empty object rather than panic on the impossible.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parses an SQS message body: the raw event (raw message delivery, the design), or an
    /// SNS notification envelope whose `Message` is the event (subscription without raw
    /// delivery), so a mis-configured subscription still works.
    pub fn from_message_body(body: &str) -> Result<Self, EventParseError> {
        let value: serde_json::Value = serde_json::from_str(body)?;
        let value = match (value.get("Type"), value.get("Message")) {
            (Some(t), msg) if t == "Notification" => match msg.and_then(|m| m.as_str()) {
                Some(inner) => serde_json::from_str(inner)?,
                None => return Err(EventParseError::BadEnvelope),
            },
            _ => value,
        };
        let event: Event = serde_json::from_value(value)?;
        if event.version != EVENT_VERSION {
            return Err(EventParseError::UnsupportedVersion(event.version));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Order;
    use chrono::TimeZone;

    fn order() -> Order {
        Order::new_pending(
            OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap(),
            CustomerId::parse("cust-1").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("SKU-1").unwrap(),
                quantity: 2,
            }],
            "h".into(),
            Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        )
    }

    #[test]
    fn envelope_shape() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let e = Event::order_placed(&order(), at);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "OrderPlaced");
        assert_eq!(v["version"], 1);
        assert_eq!(v["occurred_at"], "2026-11-26T12:00:00Z");
        assert_eq!(v["order_id"], "0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11");
        assert_eq!(v["data"]["customer_id"], "cust-1");
        assert_eq!(v["data"]["lines"][0]["sku"], "SKU-1");
        assert_eq!(v["data"]["lines"][0]["quantity"], 2);
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["data", "id", "occurred_at", "order_id", "type", "version"]
        );
        assert_eq!(Event::from_message_body(&e.to_json()).unwrap(), e);
    }

    #[test]
    fn ids_are_deterministic_per_order_and_type() {
        let o = order();
        let a = Event::order_placed(&o, Utc::now());
        let b = Event::order_placed(&o, Utc::now());
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, Event::order_cancelled(&o, None, Utc::now()).id);
        let n1 = Event::customer_notified(&a, "s".into(), "m".into(), Utc::now());
        let n2 = Event::customer_notified(&b, "s".into(), "m".into(), Utc::now());
        assert_eq!(n1.id, n2.id);
        assert_ne!(n1.id, a.id);
        // One status change per status an order reaches: same status, same id.
        let c = &o.customer_id;
        let changes: Vec<EventId> = OrderStatus::ALL
            .into_iter()
            .map(|s| Event::status_changed(&o.order_id, c, s, None, Utc::now()).id)
            .collect();
        let again = Event::status_changed(&o.order_id, c, OrderStatus::Pending, None, Utc::now());
        assert_eq!(again.id, changes[0]);
        let distinct: std::collections::HashSet<_> = changes.iter().collect();
        assert_eq!(distinct.len(), changes.len());
    }

    #[test]
    fn parses_sns_envelope_and_rejects_bad_input() {
        let e = Event::order_placed(&order(), Utc::now());
        let envelope = serde_json::json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": "arn", "Message": e.to_json()
        });
        assert_eq!(Event::from_message_body(&envelope.to_string()).unwrap(), e);
        // Only a notification envelope is unwrapped: an event with a "Type" of its own is
        // taken as it is.
        let mut own_type = serde_json::to_value(&e).unwrap();
        own_type["Type"] = "OrderPlaced".into();
        assert_eq!(Event::from_message_body(&own_type.to_string()).unwrap(), e);
        assert!(matches!(
            Event::from_message_body(r#"{"Type":"Notification","Message":3}"#),
            Err(EventParseError::BadEnvelope)
        ));
        assert!(matches!(
            Event::from_message_body("not json"),
            Err(EventParseError::Json(_))
        ));
        let mut v = serde_json::to_value(&e).unwrap();
        v["type"] = "OrderShipped".into();
        assert!(Event::from_message_body(&v.to_string()).is_err());
        v["type"] = "OrderPlaced".into();
        v["version"] = 2.into();
        assert!(matches!(
            Event::from_message_body(&v.to_string()),
            Err(EventParseError::UnsupportedVersion(2))
        ));
        v["version"] = 1.into();
        v["data"]["lines"][0]["sku"] = "bad sku".into();
        assert!(Event::from_message_body(&v.to_string()).is_err());
    }

    #[test]
    fn event_type_names_match_serde_tags() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
