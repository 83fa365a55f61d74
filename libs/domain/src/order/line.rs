//! The value types every part of the domain speaks: an order's lines and its statuses.

use serde::{Deserialize, Serialize};

use crate::ids::Sku;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: u32,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Rejected,
    Cancelled,
}

impl OrderStatus {
    /// Every status, for exhaustive tests and adapters.
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Rejected,
        OrderStatus::Cancelled,
    ];

    /// The stored / wire name (`PENDING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status's place in an order's life: every transition leads to a higher one (the
    /// state machine is acyclic and never returns to `PENDING`), so it orders one order's
    /// status changes whatever order their messages arrive in.
    pub fn seq(self) -> u32 {
        match self {
            OrderStatus::Pending => 1,
            OrderStatus::Confirmed => 2,
            OrderStatus::Rejected | OrderStatus::Cancelled => 3,
        }
    }

    /// No trigger moves an order out of a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Rejected | OrderStatus::Cancelled)
    }
}
