//! A customer's own orders, newest first, a page at a time (`GET /orders`). Whose orders they
//! are comes from the caller's sign-in, never from the request; the cursor is opaque to
//! clients and names only a place in that customer's list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::ids::{CustomerId, OrderId};
use crate::ports::{OrderPage, OrderStore, StoreError};
use crate::validation::{ErrorCode, ValidationError};

/// Orders per page unless the request asks for fewer or more.
pub const DEFAULT_PAGE: u32 = 20;
/// Most orders one page holds.
pub const MAX_PAGE: u32 = 100;
/// Longest cursor accepted: a real one is about 100 characters.
const MAX_CURSOR: usize = 256;

/// Where a page starts: after the order created at `created_at` with id `order_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: DateTime<Utc>,
    pub order_id: OrderId,
}

impl PageCursor {
    /// The cursor as clients see it: URL-safe, opaque.
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}\n{}",
            self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            self.order_id.as_str()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(cursor: &str) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::new(
                ErrorCode::InvalidValue,
                "cursor",
                "cursor must be a next_cursor this API returned",
            )
        };
        if cursor.len() > MAX_CURSOR {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (at, id) = raw.split_once('\n').ok_or_else(bad)?;
        Ok(PageCursor {
            created_at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| bad())?
                .with_timezone(&Utc),
            order_id: OrderId::parse(id).map_err(|_| bad())?,
        })
    }
}

/// A validated `GET /orders` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOrdersRequest {
    pub limit: u32,
    pub after: Option<PageCursor>,
}

impl ListOrdersRequest {
    /// From the query string's `limit` and `cursor`, each optional.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, ValidationError> {
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(ValidationError::new(
                        ErrorCode::InvalidValue,
                        "limit",
                        format!("limit must be an integer from 1 to {MAX_PAGE}"),
                    ))
                }
            },
        };
        let after = cursor.map(PageCursor::decode).transpose()?;
        Ok(ListOrdersRequest { limit, after })
    }
}

/// The caller's orders: one page.
pub async fn list_orders<O: OrderStore>(
    orders: &O,
    customer: &CustomerId,
    request: &ListOrdersRequest,
) -> Result<OrderPage, StoreError> {
    orders
        .list_for_customer(customer, request.limit, request.after.as_ref())
        .await
}

#[cfg(test)]
#[path = "list_orders_tests.rs"]
mod tests;
