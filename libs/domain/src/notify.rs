//! Customer notification text, one message per event.

use crate::events::{Event, EventPayload};
use crate::order::OrderLine;

/// A message for the customer about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Short kind, stored with the record (`order_placed`, ...).
    pub kind: &'static str,
    /// Subject line (ASCII, <= 100 chars: fits an SNS email subject).
    pub subject: String,
    pub message: String,
}

/// The customer message for `event`; `None` for events that are themselves notifications.
pub fn notification_for(event: &Event) -> Option<Notification> {
    let short_id: String = event.order_id.as_str().chars().take(8).collect();
    let n = match &event.payload {
        EventPayload::OrderPlaced(d) => Notification {
            kind: "order_placed",
            subject: format!("We received your order {short_id}"),
            message: format!(
                "Thank you! Order {} for {} is received and waiting for stock confirmation.",
                event.order_id,
                describe(&d.lines)
            ),
        },
        EventPayload::InventoryReserved(d) => Notification {
            kind: "order_confirmed",
            subject: format!("Your order {short_id} is confirmed"),
            message: format!(
                "Good news: {} for order {} is reserved for you.",
                describe(&d.lines),
                event.order_id
            ),
        },
        EventPayload::InventoryRejected(d) => Notification {
            kind: "order_rejected",
            subject: format!("We could not fulfil your order {short_id}"),
            message: format!(
                "Sorry, order {} could not be fulfilled: not enough stock for {}. You have not been charged.",
                event.order_id,
                d.short_skus
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        EventPayload::OrderCancelled(d) => Notification {
            kind: "order_cancelled",
            subject: format!("Your order {short_id} is cancelled"),
            message: match &d.reason {
                Some(r) => format!("Order {} is cancelled ({r}).", event.order_id),
                None => format!("Order {} is cancelled.", event.order_id),
            },
        },
        EventPayload::InventoryReleased(d) => Notification {
            kind: "stock_released",
            subject: format!("Items of order {short_id} released"),
            message: format!(
                "The items held for cancelled order {} ({}) are released.",
                event.order_id,
                describe(&d.lines)
            ),
        },
        EventPayload::CustomerNotified(_) => return None,
    };
    Some(n)
}

fn describe(lines: &[OrderLine]) -> String {
    let items: Vec<String> = lines
        .iter()
        .map(|l| format!("{} x {}", l.quantity, l.sku))
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventType, InventoryRejected, OrderCancelled};
    use crate::ids::{CustomerId, OrderId, Sku};
    use crate::order::Order;
    use chrono::Utc;

    fn order() -> Order {
        Order::new_pending(
            OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap(),
            CustomerId::parse("c").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("SKU-1").unwrap(),
                quantity: 3,
            }],
            "h".into(),
            Utc::now(),
        )
    }

    #[test]
    fn one_message_per_domain_event_and_none_for_notifications() {
        let o = order();
        let placed = Event::order_placed(&o, Utc::now());
        let n = notification_for(&placed).unwrap();
        assert_eq!(n.kind, "order_placed");
        assert!(n.message.contains("3 x SKU-1"), "{}", n.message);
        assert!(n.subject.contains("0b6f6b3e"));

        let rejected = Event::for_order(
            &o.order_id,
            Utc::now(),
            EventPayload::InventoryRejected(InventoryRejected {
                customer_id: o.customer_id.clone(),
                short_skus: vec![Sku::parse("A").unwrap(), Sku::parse("B").unwrap()],
            }),
        );
        let n = notification_for(&rejected).unwrap();
        assert_eq!(n.kind, "order_rejected");
        assert!(n.message.contains("A, B"), "{}", n.message);

        let cancelled = Event::for_order(
            &o.order_id,
            Utc::now(),
            EventPayload::OrderCancelled(OrderCancelled {
                customer_id: o.customer_id.clone(),
                reason: Some("changed mind".into()),
            }),
        );
        assert!(notification_for(&cancelled)
            .unwrap()
            .message
            .contains("changed mind"));

        let notified = Event::customer_notified(&placed, "s".into(), "m".into(), Utc::now());
        assert_eq!(notified.event_type(), EventType::CustomerNotified);
        assert_eq!(notification_for(&notified), None);
    }

    #[test]
    fn subjects_fit_an_email_subject() {
        let o = order();
        let e = Event::order_placed(&o, Utc::now());
        let n = notification_for(&e).unwrap();
        assert!(n.subject.len() <= 100 && n.subject.is_ascii());
    }
}
