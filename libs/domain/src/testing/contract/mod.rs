//! Contract suites: one per port, generic over the port trait, run against the in-memory
//! twin (`cargo test -p orders-domain`) and against the DynamoDB adapter on LocalStack
//! (`libs/aws/tests/contract.rs`). A rule of a port (reservation, claim, outbox) is written
//! once, here, and both implementations must pass it; the twins the unit tests trust are
//! thereby held to what DynamoDB does.
//!
//! Each suite observes only through the port's own methods (no peeking at storage), and
//! includes the concurrency cases the twins claim to model. A DynamoDB transaction may
//! answer "not decided" (`StoreError::Retry`) under conflicts: [`decided`] retries as SQS
//! redelivery would, so the same case holds for a twin that never conflicts.
//!
//! `orders_domain::store_contract!(suite, make)` expands a suite into one `#[tokio::test]`
//! per case, `make` (an expression, `.await` allowed) building fresh ports for each.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ids::{CustomerId, OrderId, Sku};
use crate::order::{Order, OrderLine, OrderStatus, Outbox};
use crate::ports::{Clock, InventoryStore, ProductStore, StoreError, SystemClock};
use crate::Event;

pub mod inventory;
pub mod notifications;
pub mod orders;
pub mod products;

/// Products and Reservations change together (`InventoryStore` takes stock that
/// `ProductStore` reads): the inventory suites need both, over the same tables.
pub trait InventoryPorts: Send + Sync {
    type Products: ProductStore;
    type Inventory: InventoryStore;
    fn products(&self) -> &Self::Products;
    fn inventory(&self) -> &Self::Inventory;
}

impl<P: ProductStore, I: InventoryStore> InventoryPorts for (P, I) {
    type Products = P;
    type Inventory = I;
    fn products(&self) -> &P {
        &self.0
    }
    fn inventory(&self) -> &I {
        &self.1
    }
}

impl InventoryPorts for super::InMemoryInventory {
    type Products = Self;
    type Inventory = Self;
    fn products(&self) -> &Self {
        self
    }
    fn inventory(&self) -> &Self {
        self
    }
}

/// Calls `op` until the store decides (anything but `Retry`), as SQS redelivery would.
pub async fn decided<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    for _ in 0..40 {
        match op().await {
            Ok(v) => return v,
            Err(StoreError::Retry(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{what}: {e}"),
        }
    }
    panic!("{what}: never decided")
}

pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

pub fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn line(s: &str, quantity: u32) -> OrderLine {
    OrderLine {
        sku: sku(s),
        quantity,
    }
}

pub fn customer() -> CustomerId {
    named_customer("cust-1")
}

pub fn named_customer(name: &str) -> CustomerId {
    CustomerId::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A new `PENDING` order of `customer()` with its placement outbox (OrderPlaced and its
/// status event), as `place` writes it.
pub fn pending_order(at: DateTime<Utc>) -> Order {
    pending_order_of(customer(), at)
}

pub fn pending_order_of(customer: CustomerId, at: DateTime<Utc>) -> Order {
    let mut o = Order::new_pending(
        OrderId::random(),
        customer,
        vec![line("A", 2), line("B", 1)],
        "hash".into(),
        at,
    );
    let status = Event::status_changed(&o.order_id, &o.customer_id, OrderStatus::Pending, None, at);
    o.outbox = Some(Outbox::new(vec![Event::order_placed(&o, at), status], at));
    o
}

/// Expands contract suites into tests: `store_contract!(orders, make)` for one suite.
#[macro_export]
macro_rules! store_contract {
    (orders, $make:expr) => {
        $crate::store_contract!(@cases orders, $make;
            an_insert_is_conditional_and_round_trips,
            concurrent_inserts_of_one_id_store_one_order,
            outbox_clear_compensate_and_sweep_index,
            a_failed_republish_goes_to_the_back_of_the_line,
            stale_outbox_pages_and_limits,
            the_sweeper_sees_the_oldest_first,
            stale_pending_lists_only_orders_still_pending,
            an_event_answered_for_an_absent_order_never_applies_to_it,
            transitions_are_conditional_and_never_go_backwards,
            concurrent_deliveries_of_one_event_apply_it_once,
            a_customer_lists_only_their_orders_newest_first_in_pages,
        );
    };
    (products, $make:expr) => {
        $crate::store_contract!(@cases products, $make;
            create_set_under_a_version_and_adjust,
            a_sharded_product_is_created_read_set_and_adjusted_as_one,
            concurrent_retries_of_one_adjustment_apply_it_once,
            concurrent_sets_at_one_version_let_one_through,
        );
    };
    (inventory, $make:expr) => {
        $crate::store_contract!(@cases inventory, $make;
            reserve_takes_every_line_and_a_duplicate_changes_nothing,
            short_skus_are_named_and_nothing_is_taken,
            concurrent_orders_for_the_last_units_never_oversell,
            concurrent_orders_on_eight_shards_never_oversell_and_sell_every_unit,
            an_order_larger_than_any_shard_is_reserved_whole,
            the_shard_count_changes_while_orders_reserve_and_no_unit_is_lost,
            release_gives_stock_back_exactly_once,
            cancellation_before_reservation_blocks_a_late_reserve,
        );
    };
    (notifications, $make:expr) => {
        $crate::store_contract!(@cases notifications, $make;
            claim_mark_and_takeover,
            concurrent_claims_of_one_message_let_one_worker_in,
            claims_never_go_below_the_orders_high_water_mark,
            an_orders_messages_go_out_one_at_a_time,
        );
    };
    (@cases $suite:ident, $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let ports = $make;
                $crate::testing::contract::$suite::$case(&ports).await;
            }
        )+
    };
}

#[cfg(test)]
mod twins_tests;
