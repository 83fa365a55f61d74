//! A customer's orders from the Orders table's `by-customer` index (hash `customer_id`, range
//! `created_at`, projecting `status` and `updated_at`): newest first, one page per query.

use aws_sdk_dynamodb::Client;
use orders_domain::list_orders::PageCursor;
use orders_domain::ports::{OrderPage, OrderSummary, StoreError};
use orders_domain::{CustomerId, OrderId, OrderStatus};

use super::{backend, s, ts, Item, Reader};

/// The index `list_for_customer` queries; the orders-api policy grants `Query` on it alone.
pub const CUSTOMER_INDEX: &str = "by-customer";

/// Up to `limit` of `customer`'s orders after `after`. One item more is asked for, so `next`
/// is set only when another page really follows.
pub(super) async fn page(
    client: &Client,
    table: &str,
    customer: &CustomerId,
    limit: u32,
    after: Option<&PageCursor>,
) -> Result<OrderPage, StoreError> {
    let start = after.map(|c| {
        Item::from([
            ("customer_id".to_string(), s(customer.as_str())),
            ("created_at".to_string(), s(ts(c.created_at))),
            ("order_id".to_string(), s(c.order_id.as_str())),
        ])
    });
    let out = client
        .query()
        .table_name(table)
        .index_name(CUSTOMER_INDEX)
        .key_condition_expression("customer_id = :c")
        .expression_attribute_values(":c", s(customer.as_str()))
        .scan_index_forward(false)
        .limit(limit.saturating_add(1) as i32)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| backend("list orders", e))?;
    let mut orders = out
        .items()
        .iter()
        .map(summary)
        .collect::<Result<Vec<_>, _>>()?;
    let more = orders.len() > limit as usize;
    orders.truncate(limit as usize);
    let next = if more {
        orders.last().map(|o| PageCursor {
            created_at: o.created_at,
            order_id: o.order_id.clone(),
        })
    } else {
        None
    };
    Ok(OrderPage { orders, next })
}

fn summary(item: &Item) -> Result<OrderSummary, StoreError> {
    let key = match item.get("order_id") {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let status = r.s("status")?;
    Ok(OrderSummary {
        order_id: OrderId::parse(key).map_err(|e| r.corrupt(e.to_string()))?,
        status: OrderStatus::parse(status)
            .ok_or_else(|| r.corrupt(format!("unknown status {status}")))?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}
