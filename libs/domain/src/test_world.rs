//! What the flows' tests share: the in-memory world, a sample order request, and the events
//! other services would send.

use std::time::Duration;

use crate::cancel::CancelRequest;
use crate::cancel::{cancel_order, CancelError, Cancelled};
use crate::consumer::{ConsumerError, Handled};
use crate::events::{Event, EventPayload, InventoryRejected, InventoryReleased, InventoryReserved};
use crate::ids::{ClientScope, CustomerId, IdempotencyKey, OrderId, Sku};
use crate::order::OrderLine;
use crate::order_status::on_inventory_event;
use crate::place::PlaceOrderRequest;
use crate::place::{place_order, placement_outbox, PlaceError, PlaceOrder, Placed};
use crate::ports::{OrderStore, ProductStore};
use crate::testing::{FixedClock, InMemoryInventory, InMemoryOrders, RecordingPublisher};

/// The API key every test request comes with.
pub fn client() -> ClientScope {
    ClientScope::api_key_id("test-key-id")
}

/// The customer every test order is placed by (as `BODY` names).
pub fn customer() -> CustomerId {
    CustomerId::parse("cust-1").unwrap()
}

/// How long a placing request may run in these tests (a 10 s API timeout plus the margin).
pub const WRITER: Duration = Duration::from_secs(11);

pub const BODY: &[u8] = br#"{"customer_id":"cust-1","lines":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-2","quantity":1}]}"#;

pub struct World {
    pub orders: InMemoryOrders,
    pub publisher: RecordingPublisher,
    pub clock: FixedClock,
}

pub fn world() -> World {
    World {
        orders: InMemoryOrders::new(),
        publisher: RecordingPublisher::new(),
        clock: FixedClock::default_time(),
    }
}

impl World {
    /// Places the order `body` describes (it must be valid), with the Idempotency-Key `key`.
    pub async fn place(&self, body: &[u8], key: Option<&str>) -> Result<Placed, PlaceError> {
        let input = PlaceOrder {
            client: client(),
            key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
            request: PlaceOrderRequest::parse(body, &customer()).unwrap(),
            fresh_id: OrderId::random(),
        };
        place_order(&self.orders, &self.publisher, &self.clock, input, WRITER).await
    }

    /// order-status's consumer on an inventory event.
    pub async fn on_inventory(&self, event: &Event) -> Result<Handled, ConsumerError> {
        on_inventory_event(&self.orders, &self.publisher, &self.clock, event).await
    }

    pub async fn cancel(
        &self,
        id: &OrderId,
        reason: Option<&str>,
    ) -> Result<Cancelled, CancelError> {
        let request = CancelRequest {
            reason: reason.map(str::to_string),
        };
        cancel_order(
            &self.orders,
            &self.publisher,
            &self.clock,
            id,
            &customer(),
            request,
        )
        .await
    }
}

pub async fn stock(inv: &InMemoryInventory, sku: &str, n: u64) {
    let write = inv
        .create(
            &Sku::parse(sku).unwrap(),
            n,
            crate::inventory::stock::ShardCount::ONE,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert!(matches!(write, crate::ports::StockWrite::Written(_)));
}

pub fn placed_event(order_id: &OrderId, lines: &[(&str, u32)]) -> Event {
    let order = crate::order::Order::new_pending(
        order_id.clone(),
        CustomerId::parse("cust-1").unwrap(),
        lines
            .iter()
            .map(|(s, q)| OrderLine {
                sku: Sku::parse(*s).unwrap(),
                quantity: *q,
            })
            .collect(),
        "h".into(),
        chrono::Utc::now(),
    );
    Event::order_placed(&order, chrono::Utc::now())
}

pub fn cancelled_event(order_id: &OrderId) -> Event {
    let order = crate::order::Order::new_pending(
        order_id.clone(),
        CustomerId::parse("cust-1").unwrap(),
        vec![],
        "h".into(),
        chrono::Utc::now(),
    );
    Event::order_cancelled(&order, None, chrono::Utc::now())
}

pub fn inventory_event(order_id: &OrderId, reserved: bool) -> Event {
    let customer_id = CustomerId::parse("cust-1").unwrap();
    let payload = if reserved {
        EventPayload::InventoryReserved(InventoryReserved {
            customer_id,
            lines: vec![],
        })
    } else {
        EventPayload::InventoryRejected(InventoryRejected {
            customer_id,
            short_skus: vec![Sku::parse("SKU-2").unwrap()],
            reason: None,
        })
    };
    Event::for_order(order_id, chrono::Utc::now(), payload)
}

pub fn released_event(order_id: &OrderId) -> Event {
    Event::for_order(
        order_id,
        chrono::Utc::now(),
        EventPayload::InventoryReleased(InventoryReleased {
            customer_id: CustomerId::parse("cust-1").unwrap(),
            lines: vec![],
        }),
    )
}

/// Crash after the write, before the publish: the order sits with a pending outbox.
pub async fn crashed_placement(w: &World, key: &str) -> OrderId {
    let k = IdempotencyKey::parse(key).unwrap();
    let req = crate::place::PlaceOrderRequest::parse(BODY, &customer()).unwrap();
    let hash = req.canonical_hash();
    let now = crate::ports::Clock::now(&w.clock);
    let mut order = crate::order::Order::new_pending(
        OrderId::for_idempotency_key(&client(), &k),
        req.customer_id,
        req.lines,
        hash,
        now,
    );
    order.outbox = Some(placement_outbox(&order, now));
    w.orders.insert_new(&order).await.unwrap();
    order.order_id
}
