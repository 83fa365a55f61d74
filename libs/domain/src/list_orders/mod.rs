//! A customer's own orders, newest first, a page at a time (`GET /orders`). Whose orders they
//! are comes from the caller's sign-in, never from the request; the cursor is opaque to
//! clients and names only a place in that customer's list.

use crate::ids::CustomerId;
use crate::ports::{OrderPage, OrderStore, StoreError};
use crate::validation::{ErrorCode, ValidationError};

pub use cursor::PageCursor;

pub mod cursor;

/// Orders per page unless the request asks for fewer or more.
pub const DEFAULT_PAGE: u32 = 20;
/// Most orders one page holds.
pub const MAX_PAGE: u32 = 100;

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
