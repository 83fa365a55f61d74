use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::order::{Order, OrderLine};
use crate::ports::OrderStore;
use crate::testing::InMemoryOrders;
use crate::{OrderId, Sku};

fn customer(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

/// `n` orders of `who`, one a minute from a fixed time; their ids, oldest first.
async fn orders_of(store: &InMemoryOrders, who: &str, n: i64) -> Vec<OrderId> {
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = OrderId::random();
        let line = OrderLine {
            sku: Sku::parse("SKU-1").unwrap(),
            quantity: 1,
        };
        let order = Order::new_pending(
            id.clone(),
            customer(who),
            vec![line],
            String::new(),
            t0 + Duration::minutes(i),
        );
        store.insert_new(&order).await.unwrap();
        ids.push(id);
    }
    ids
}

fn request(limit: Option<&str>, cursor: Option<&str>) -> ListOrdersRequest {
    ListOrdersRequest::parse(limit, cursor).unwrap()
}

#[tokio::test]
async fn a_customer_sees_only_their_own_orders_newest_first_page_by_page() {
    let store = InMemoryOrders::new();
    let mine = orders_of(&store, "alice", 5).await;
    orders_of(&store, "bob", 3).await;

    let first = list_orders(&store, &customer("alice"), &request(Some("2"), None))
        .await
        .unwrap();
    let ids = |p: &OrderPage| {
        p.orders
            .iter()
            .map(|o| o.order_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), vec![mine[4].clone(), mine[3].clone()]);
    let cursor = first.next.as_ref().unwrap().encode();

    let second = list_orders(
        &store,
        &customer("alice"),
        &request(Some("2"), Some(&cursor)),
    )
    .await
    .unwrap();
    assert_eq!(ids(&second), vec![mine[2].clone(), mine[1].clone()]);
    let cursor = second.next.as_ref().unwrap().encode();

    let last = list_orders(
        &store,
        &customer("alice"),
        &request(Some("2"), Some(&cursor)),
    )
    .await
    .unwrap();
    assert_eq!(ids(&last), vec![mine[0].clone()]);
    assert_eq!(last.next, None);

    let nobody = list_orders(&store, &customer("carol"), &request(None, None))
        .await
        .unwrap();
    assert_eq!(nobody, OrderPage::default());
}

#[test]
fn a_cursor_round_trips_and_anything_else_is_refused_naming_the_field() {
    let c = PageCursor {
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        order_id: OrderId::random(),
    };
    assert_eq!(PageCursor::decode(&c.encode()).unwrap(), c);
    for bad in ["", "not base64!", "aGVsbG8", &"A".repeat(300)] {
        let e = ListOrdersRequest::parse(None, Some(bad)).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidValue, Some("cursor")),
            "{bad}"
        );
    }
}

#[test]
fn the_page_size_is_bounded() {
    assert_eq!(request(None, None).limit, DEFAULT_PAGE);
    assert_eq!(request(Some("100"), None).limit, 100);
    for bad in ["0", "101", "-1", "ten", ""] {
        let e = ListOrdersRequest::parse(Some(bad), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("limit"), "{bad}");
    }
}
