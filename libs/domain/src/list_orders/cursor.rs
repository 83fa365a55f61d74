//! Where a page of a customer's orders starts, and the opaque form clients carry it in. The
//! store's port takes it too (`OrderStore::list_for_customer`), so it has no other dependency.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::ids::OrderId;
use crate::validation::{ErrorCode, ValidationError};

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
