//! Inventory over the in-memory ports: reservations, releases, tombstones.

use super::*;
use crate::events::EventType;
use crate::ids::{OrderId, Sku};
use crate::inventory::reservation::ReservationStatus;
use crate::test_world::*;
use crate::testing::{FixedClock, InMemoryInventory, RecordingPublisher};

/// An empty inventory, a publisher, a fixed clock.
fn setup() -> (InMemoryInventory, RecordingPublisher, FixedClock) {
    (
        InMemoryInventory::new(),
        RecordingPublisher::new(),
        FixedClock::default_time(),
    )
}

#[tokio::test]
async fn inventory_reserves_atomically_and_redelivery_changes_nothing() {
    let (inv, p, c) = setup();
    stock(&inv, "A", 5).await;
    stock(&inv, "B", 1).await;
    let id = OrderId::random();
    let e = placed_event(&id, &[("A", 2), ("B", 1)]);
    let r = on_order_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(
        r,
        Handled::Done {
            published: Some(EventType::InventoryReserved)
        }
    );
    assert_eq!(
        (
            inv.product("A").unwrap().available,
            inv.product("A").unwrap().reserved
        ),
        (3, 2)
    );
    assert_eq!(inv.product("B").unwrap().available, 0);
    // Redelivery: same event republished, stock untouched.
    on_order_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 3);
    let out = p.events();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], out[1], "identical republish");
}

#[tokio::test]
async fn inventory_rejects_naming_short_skus_and_takes_nothing() {
    let (inv, p, c) = setup();
    stock(&inv, "A", 5).await;
    stock(&inv, "B", 1).await;
    let id = OrderId::random();
    let e = placed_event(&id, &[("A", 2), ("B", 2), ("NOPE", 1)]);
    on_order_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 5, "all or nothing");
    match &p.events()[0].payload {
        EventPayload::InventoryRejected(d) => assert_eq!(
            d.short_skus,
            vec![Sku::parse("B").unwrap(), Sku::parse("NOPE").unwrap()]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        inv.reservation(&id).unwrap().status,
        ReservationStatus::Rejected
    );
}

#[tokio::test]
async fn last_units_go_to_exactly_one_of_many_orders() {
    // Real concurrency against DynamoDB is covered by the orders-aws LocalStack tests.
    let (inv, p, c) = setup();
    stock(&inv, "LAST", 3).await;
    for _ in 0..10 {
        let e = placed_event(&OrderId::random(), &[("LAST", 3)]);
        on_order_event(&inv, &p, &c, &e).await.unwrap();
    }
    let types = p.types();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::InventoryReserved)
            .count(),
        1
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::InventoryRejected)
            .count(),
        9
    );
    let last = inv.product("LAST").unwrap();
    assert_eq!((last.available, last.reserved), (0, 3));
}

#[tokio::test]
async fn cancellation_releases_exactly_once() {
    let (inv, p, c) = setup();
    stock(&inv, "A", 5).await;
    let id = OrderId::random();
    on_order_event(&inv, &p, &c, &placed_event(&id, &[("A", 2)]))
        .await
        .unwrap();
    let cancel = cancelled_event(&id);
    for _ in 0..3 {
        let r = on_order_event(&inv, &p, &c, &cancel).await.unwrap();
        assert_eq!(
            r,
            Handled::Done {
                published: Some(EventType::InventoryReleased)
            }
        );
    }
    let a = inv.product("A").unwrap();
    assert_eq!(
        (a.available, a.reserved),
        (5, 0),
        "released once, not three times"
    );
    let released: Vec<_> = p
        .events()
        .into_iter()
        .filter(|e| e.event_type() == EventType::InventoryReleased)
        .collect();
    assert_eq!(released.len(), 3);
    assert!(
        released.windows(2).all(|w| w[0] == w[1]),
        "same event each time"
    );
}

#[tokio::test]
async fn cancellation_before_reservation_blocks_the_late_order_placed() {
    let (inv, p, c) = setup();
    stock(&inv, "A", 5).await;
    let id = OrderId::random();
    let r = on_order_event(&inv, &p, &c, &cancelled_event(&id))
        .await
        .unwrap();
    assert_eq!(r, Handled::Done { published: None });
    let r = on_order_event(&inv, &p, &c, &placed_event(&id, &[("A", 2)]))
        .await
        .unwrap();
    assert_eq!(r, Handled::Done { published: None });
    assert_eq!(inv.product("A").unwrap().available, 5);
    assert!(p.events().is_empty());
    assert_eq!(
        inv.reservation(&id).unwrap().status,
        ReservationStatus::CancelledBeforeReserve
    );
}

#[tokio::test]
async fn inventory_skips_events_it_does_not_handle_and_fails_on_publish_errors() {
    let (inv, p, c) = setup();
    let id = OrderId::random();
    let r = on_order_event(&inv, &p, &c, &inventory_event(&id, true))
        .await
        .unwrap();
    assert!(matches!(r, Handled::Skipped(_)));
    stock(&inv, "A", 5).await;
    p.fail_next(1);
    let e = placed_event(&id, &[("A", 1)]);
    assert!(matches!(
        on_order_event(&inv, &p, &c, &e).await,
        Err(ConsumerError::Publish(_))
    ));
    // The retry republishes from the record without reserving twice.
    on_order_event(&inv, &p, &c, &e).await.unwrap();
    assert_eq!(inv.product("A").unwrap().available, 4);
    assert_eq!(p.types(), vec![EventType::InventoryReserved]);
}
