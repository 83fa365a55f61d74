//! A reservation as the Reservations table stores it, and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use orders_domain::inventory::reservation::{Reservation, ReservationStatus};
use orders_domain::ports::StoreError;
use orders_domain::{CustomerId, OrderId};

use super::{dedup_expiry, lines_av, s, skus_av, ts, Item, Reader};

/// The reservation as stored.
pub(super) fn reservation_item(r: &Reservation) -> Item {
    let mut item = HashMap::from([
        ("order_id".to_string(), s(r.order_id.as_str())),
        ("status".to_string(), s(r.status.as_str())),
        ("customer_id".to_string(), s(r.customer_id.as_str())),
        ("lines".to_string(), lines_av(&r.lines)),
        ("short_skus".to_string(), skus_av(&r.short_skus)),
        ("updated_at".to_string(), s(ts(r.updated_at))),
    ]);
    if let Some(reason) = &r.reason {
        item.insert("reason".to_string(), s(reason));
    }
    // Holding nothing, it is kept only to recognise a late duplicate.
    if r.status != ReservationStatus::Reserved {
        item.insert(
            "expires_at".to_string(),
            dedup_expiry(r.updated_at.timestamp()),
        );
    }
    item
}

pub(super) fn reservation_from_item(item: &Item) -> Result<Reservation, StoreError> {
    let key = match item.get("order_id") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let status = r.s("status")?;
    Ok(Reservation {
        order_id: OrderId::parse(key).map_err(|e| r.corrupt(e.to_string()))?,
        customer_id: CustomerId::parse(r.s("customer_id")?)
            .map_err(|e| r.corrupt(e.to_string()))?,
        status: ReservationStatus::parse(status)
            .ok_or_else(|| r.corrupt(format!("unknown reservation status {status}")))?,
        lines: r.lines("lines")?,
        short_skus: r.skus("short_skus")?,
        reason: r.opt_s("reason")?.map(str::to_string),
        updated_at: r.time("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use orders_domain::{OrderLine, Sku};

    use super::*;

    #[test]
    fn reservation_item_round_trips() {
        let r = Reservation {
            order_id: OrderId::random(),
            customer_id: CustomerId::parse("c").unwrap(),
            status: ReservationStatus::Rejected,
            lines: vec![OrderLine {
                sku: Sku::parse("A").unwrap(),
                quantity: 2,
            }],
            short_skus: vec![Sku::parse("A").unwrap()],
            reason: Some("why".into()),
            updated_at: super::super::parse_time("2026-11-26T12:00:00.123Z").unwrap(),
        };
        assert_eq!(reservation_from_item(&reservation_item(&r)).unwrap(), r);
    }
}
