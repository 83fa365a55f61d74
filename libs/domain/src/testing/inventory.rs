//! Products and Reservations in memory.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::lock;
use crate::ids::{AdjustmentId, CustomerId, OrderId, Sku};
use crate::inventory::reservation::{Recorded, Reservation, ReservationStatus};
use crate::inventory::stock::Product;
use crate::inventory::stock::ShardCount;
use crate::order::OrderLine;
use crate::ports::{Adjusted, InventoryStore, ProductStore, StockWrite, StoreError};

#[derive(Debug, Default)]
struct InventoryState {
    products: HashMap<Sku, Product>,
    reservations: HashMap<OrderId, Reservation>,
    adjustments: HashMap<AdjustmentId, (Sku, i64)>,
}

/// Products and Reservations in memory, one lock for both (the transaction).
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<InventoryState>,
}

impl InMemoryInventory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn product(&self, sku: &str) -> Option<Product> {
        let sku = Sku::parse(sku).ok()?;
        lock(&self.state).products.get(&sku).cloned()
    }

    pub fn reservation(&self, id: &OrderId) -> Option<Reservation> {
        lock(&self.state).reservations.get(id).cloned()
    }
}

impl ProductStore for InMemoryInventory {
    fn create(
        &self,
        sku: &Sku,
        available: u64,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get(sku) {
            Some(p) => StockWrite::Refused(p.clone()),
            None => {
                let p = Product {
                    sku: sku.clone(),
                    available,
                    reserved: 0,
                    version: 1,
                    shards: shards.get(),
                    updated_at: at,
                };
                st.products.insert(sku.clone(), p.clone());
                StockWrite::Written(p)
            }
        };
        ready(Ok(out))
    }

    fn set_if_version(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get_mut(sku) {
            None => StockWrite::NotFound,
            Some(p) if p.version != version => StockWrite::Refused(p.clone()),
            Some(p) => {
                p.available = available;
                p.version += 1;
                p.updated_at = at;
                StockWrite::Written(p.clone())
            }
        };
        ready(Ok(out))
    }

    fn adjust(
        &self,
        sku: &Sku,
        delta: i64,
        id: &AdjustmentId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Adjusted, StoreError>> + Send {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let out = match (st.adjustments.get(id), st.products.get_mut(sku)) {
            (Some(done), _) if *done != (sku.clone(), delta) => Adjusted::IdReused,
            (Some(_), Some(p)) => Adjusted::AlreadyApplied(p.clone()),
            (_, None) => Adjusted::NotFound,
            (None, Some(p)) => match p.available.checked_add_signed(delta) {
                None => Adjusted::Refused(p.clone()),
                Some(a) => {
                    p.available = a;
                    p.version += 1;
                    p.updated_at = at;
                    st.adjustments.insert(id.clone(), (sku.clone(), delta));
                    Adjusted::Applied(p.clone())
                }
            },
        };
        ready(Ok(out))
    }

    // One item stands for all shards here: the count is recorded, the units stay together.
    fn set_shards(
        &self,
        sku: &Sku,
        shards: ShardCount,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StockWrite, StoreError>> + Send {
        let mut st = lock(&self.state);
        let out = match st.products.get_mut(sku) {
            None => StockWrite::NotFound,
            Some(p) => {
                p.shards = shards.get();
                p.version += 1;
                p.updated_at = at;
                StockWrite::Written(p.clone())
            }
        };
        ready(Ok(out))
    }

    fn get(&self, sku: &Sku) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send {
        ready(Ok(lock(&self.state).products.get(sku).cloned()))
    }
}

impl InventoryStore for InMemoryInventory {
    fn reserve(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        let mut st = lock(&self.state);
        if let Some(existing) = st.reservations.get(order_id) {
            return ready(Ok(Recorded {
                reservation: existing.clone(),
                newly_written: false,
            }));
        }
        let short: Vec<Sku> = lines
            .iter()
            .filter(|l| {
                st.products
                    .get(&l.sku)
                    .is_none_or(|p| p.available < u64::from(l.quantity))
            })
            .map(|l| l.sku.clone())
            .collect();
        let status = if short.is_empty() {
            for l in lines {
                if let Some(p) = st.products.get_mut(&l.sku) {
                    p.version += 1;
                    p.available -= u64::from(l.quantity);
                    p.reserved += u64::from(l.quantity);
                    p.updated_at = at;
                }
            }
            ReservationStatus::Reserved
        } else {
            ReservationStatus::Rejected
        };
        let r = Reservation {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            status,
            lines: lines.to_vec(),
            short_skus: short,
            reason: None,
            updated_at: at,
        };
        st.reservations.insert(order_id.clone(), r.clone());
        ready(Ok(Recorded {
            reservation: r,
            newly_written: true,
        }))
    }

    fn release(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        let mut st = lock(&self.state);
        let current = st.reservations.get(order_id).cloned();
        let out = match current {
            None => {
                let r = Reservation::cancelled_before_reserve(order_id, customer_id, at);
                st.reservations.insert(order_id.clone(), r.clone());
                Recorded {
                    reservation: r,
                    newly_written: true,
                }
            }
            Some(mut r) if r.status == ReservationStatus::Reserved => {
                for l in &r.lines {
                    if let Some(p) = st.products.get_mut(&l.sku) {
                        p.version += 1;
                        p.available += u64::from(l.quantity);
                        p.reserved = p.reserved.saturating_sub(u64::from(l.quantity));
                        p.updated_at = at;
                    }
                }
                r.status = ReservationStatus::Released;
                r.updated_at = at;
                st.reservations.insert(order_id.clone(), r.clone());
                Recorded {
                    reservation: r,
                    newly_written: true,
                }
            }
            Some(r) => Recorded {
                reservation: r,
                newly_written: false,
            },
        };
        ready(Ok(out))
    }
}
