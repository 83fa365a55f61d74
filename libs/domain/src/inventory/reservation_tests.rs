//! The reserve/release decision, and what a cancelled transaction's reasons mean.

use super::*;
use ItemFailure::{ConditionFailed as F, None as N, Other as O};

fn lines(skus: &[&str]) -> Vec<OrderLine> {
    skus.iter()
        .map(|s| OrderLine {
            sku: Sku::parse(*s).unwrap(),
            quantity: 1,
        })
        .collect()
}

#[test]
fn classify_cancellation() {
    let l = [0, 1, 2];
    assert_eq!(
        classify_reserve_cancellation(&[F, N, N, N], &l),
        ReserveVerdict::Duplicate
    );
    // Reservation exists and stock is short too: still a duplicate (record wins).
    assert_eq!(
        classify_reserve_cancellation(&[F, F, N, F], &l),
        ReserveVerdict::Duplicate
    );
    assert_eq!(
        classify_reserve_cancellation(&[N, N, F, N], &l),
        ReserveVerdict::Missed(vec![1])
    );
    assert_eq!(
        classify_reserve_cancellation(&[N, F, N, F], &l),
        ReserveVerdict::Missed(vec![0, 2])
    );
    // Line 1 took from two shards and both were short: named once.
    assert_eq!(
        classify_reserve_cancellation(&[N, N, F, F, N], &[0, 1, 1, 2]),
        ReserveVerdict::Missed(vec![1])
    );
    // Re-planned lines come last in the transaction; the verdict is in line order.
    assert_eq!(
        classify_reserve_cancellation(&[N, F, N, F, F], &[2, 0, 1, 1]),
        ReserveVerdict::Missed(vec![1, 2])
    );
    assert_eq!(
        classify_reserve_cancellation(&[N, F, O, N], &l),
        ReserveVerdict::Retry
    );
    assert_eq!(
        classify_reserve_cancellation(&[O, N, N, N], &l),
        ReserveVerdict::Retry
    );
    assert_eq!(
        classify_reserve_cancellation(&[N, N, N, N], &l),
        ReserveVerdict::Retry
    );
    assert_eq!(
        classify_reserve_cancellation(&[N, F], &l),
        ReserveVerdict::Retry
    );
    assert_eq!(
        classify_reserve_cancellation(&[], &l),
        ReserveVerdict::Retry
    );
}

fn reservation(status: ReservationStatus) -> Reservation {
    Reservation {
        order_id: OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap(),
        customer_id: CustomerId::parse("c").unwrap(),
        status,
        lines: lines(&["A"]),
        short_skus: if status == ReservationStatus::Rejected {
            vec![Sku::parse("A").unwrap()]
        } else {
            vec![]
        },
        reason: None,
        updated_at: Utc::now(),
    }
}

#[test]
fn event_for_each_input_and_status() {
    use ReservationStatus::*;
    let cases = [
        (
            EventType::OrderPlaced,
            Reserved,
            Some(EventType::InventoryReserved),
        ),
        (
            EventType::OrderPlaced,
            Rejected,
            Some(EventType::InventoryRejected),
        ),
        (
            EventType::OrderPlaced,
            Released,
            Some(EventType::InventoryReleased),
        ),
        (EventType::OrderPlaced, CancelledBeforeReserve, None),
        (EventType::OrderCancelled, Reserved, None),
        (EventType::OrderCancelled, Rejected, None),
        (
            EventType::OrderCancelled,
            Released,
            Some(EventType::InventoryReleased),
        ),
        (EventType::OrderCancelled, CancelledBeforeReserve, None),
        (EventType::InventoryReserved, Reserved, None),
    ];
    for (input, status, want) in cases {
        let r = reservation(status);
        let got = inventory_event_for(input, &r);
        assert_eq!(
            got.as_ref().map(Event::event_type),
            want,
            "{input:?} {status:?}"
        );
        if let Some(e) = got {
            assert_eq!(e.order_id, r.order_id);
            assert_eq!(e.occurred_at, r.updated_at);
            // Same record, same event: a republish is byte-for-byte the first one.
            assert_eq!(Some(e), inventory_event_for(input, &r));
        }
    }
    let rejected = inventory_event_for(EventType::OrderPlaced, &reservation(Rejected)).unwrap();
    match rejected.payload {
        EventPayload::InventoryRejected(d) => {
            assert_eq!(d.short_skus, vec![Sku::parse("A").unwrap()])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn status_names_round_trip() {
    for s in ReservationStatus::ALL {
        assert_eq!(ReservationStatus::parse(s.as_str()), Some(s));
    }
}
