//! An order as a DynamoDB item, and back (the layout in `docs/design.md`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use orders_domain::ports::StoreError;
use orders_domain::{
    CustomerId, Event, EventId, HistoryEntry, Order, OrderId, OrderStatus, Outbox,
};

use super::{lines_av, s, ts, Item, Reader};

/// Hash key values of the sparse indexes (`outbox_pending`, `pending_order`): an order's is
/// `index_key(order id)`, one of this many. One constant value put every order on one index
/// partition (1,000 WCU/s: ~170 orders/s for `outbox`, docs/capacity.md); the sweeper queries
/// each value. Items written before had "1", which is one of them.
pub(super) const INDEX_PARTITIONS: u32 = 16;

/// The sparse indexes' hash key value of an order: FNV-1a of its id, stable across releases
/// (a later transition must write the value its insert wrote).
pub(super) fn index_key(order_id: &OrderId) -> String {
    let hash = order_id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % u64::from(INDEX_PARTITIONS)).to_string()
}

pub(super) fn history_av(h: &HistoryEntry) -> AttributeValue {
    let mut m = HashMap::from([
        ("status".to_string(), s(h.status.as_str())),
        ("at".to_string(), s(ts(h.at))),
    ]);
    if let Some(r) = &h.reason {
        m.insert("reason".into(), s(r.as_str()));
    }
    if let Some(id) = &h.event_id {
        m.insert("event_id".into(), s(id.as_str()));
    }
    AttributeValue::M(m)
}

/// The item for a new order.
pub(crate) fn order_to_item(o: &Order) -> Item {
    let mut item = HashMap::from([
        ("order_id".to_string(), s(o.order_id.as_str())),
        ("customer_id".to_string(), s(o.customer_id.as_str())),
        ("lines".to_string(), lines_av(&o.lines)),
        ("status".to_string(), s(o.status.as_str())),
        (
            "history".to_string(),
            AttributeValue::L(o.history.iter().map(history_av).collect()),
        ),
        ("request_hash".to_string(), s(o.request_hash.as_str())),
        ("created_at".to_string(), s(ts(o.created_at))),
        ("updated_at".to_string(), s(ts(o.updated_at))),
    ]);
    // A string set cannot be empty: the attribute exists only once an event is applied.
    if !o.applied_events.is_empty() {
        item.insert(
            "applied_events".into(),
            AttributeValue::Ss(o.applied_events.iter().map(|e| e.to_string()).collect()),
        );
    }
    if let Some(ob) = &o.outbox {
        item.extend(outbox_attrs(&o.order_id, ob));
    }
    if o.status == OrderStatus::Pending {
        item.insert("pending_order".into(), s(index_key(&o.order_id)));
    }
    item
}

fn outbox_events_av(ob: &Outbox) -> AttributeValue {
    AttributeValue::L(ob.events.iter().map(|e| s(e.to_json())).collect())
}

pub(super) fn first_id(ob: &Outbox) -> &str {
    ob.first_id().map_or("", |id| id.as_str())
}

pub(super) fn outbox_attrs(order_id: &OrderId, ob: &Outbox) -> [(String, AttributeValue); 4] {
    [
        ("outbox_events".to_string(), outbox_events_av(ob)),
        ("outbox_id".to_string(), s(first_id(ob))),
        ("outbox_pending".to_string(), s(index_key(order_id))),
        ("outbox_since".to_string(), s(ts(ob.since))),
    ]
}

pub(crate) fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let key = match item.get("order_id") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let corrupt = |e: &dyn std::fmt::Display| r.corrupt(e.to_string());
    let status = r.s("status")?;
    let history = r
        .opt_list("history")?
        .iter()
        .map(|v| {
            let m = v
                .as_m()
                .map_err(|_| r.corrupt("history has a non-map entry"))?;
            let h = Reader::new(m, key);
            Ok(HistoryEntry {
                status: OrderStatus::parse(h.s("status")?)
                    .ok_or_else(|| r.corrupt("history status unknown"))?,
                at: h.time("at")?,
                reason: h.opt_s("reason")?.map(str::to_string),
                event_id: h
                    .opt_s("event_id")?
                    .map(EventId::parse)
                    .transpose()
                    .map_err(|e| corrupt(&e))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let outbox = match item.get("outbox_events") {
        None => None,
        Some(_) => Some(Outbox {
            events: r
                .opt_list("outbox_events")?
                .iter()
                .map(|v| {
                    let json = v
                        .as_s()
                        .map_err(|_| r.corrupt("outbox has a non-string entry"))?;
                    serde_json::from_str::<Event>(json).map_err(|e| corrupt(&e))
                })
                .collect::<Result<_, StoreError>>()?,
            since: r.time("outbox_since")?,
        }),
    };
    Ok(Order {
        order_id: OrderId::parse(key).map_err(|e| corrupt(&e))?,
        customer_id: CustomerId::parse(r.s("customer_id")?).map_err(|e| corrupt(&e))?,
        lines: r.lines("lines")?,
        status: OrderStatus::parse(status)
            .ok_or_else(|| r.corrupt(format!("unknown status {status}")))?,
        history,
        applied_events: r
            .string_set("applied_events")?
            .iter()
            .map(|s| EventId::parse(s.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(&e))?,
        request_hash: r.opt_s("request_hash")?.unwrap_or_default().to_string(),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        outbox,
    })
}
