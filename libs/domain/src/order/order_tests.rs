//! The order state machine and the events an order announces.

use super::OrderStatus::*;
use super::*;

#[test]
fn transition_table_is_exactly_this() {
    use Transition::*;
    use Trigger::*;
    let expected = [
        (Pending, InventoryReserved, Some(Moved(Confirmed))),
        (Pending, InventoryRejected, Some(Moved(Rejected))),
        (Pending, Cancel, Some(Moved(Cancelled))),
        (Confirmed, InventoryReserved, None),
        (Confirmed, InventoryRejected, None),
        (Confirmed, Cancel, Some(Moved(Cancelled))),
        (Rejected, InventoryReserved, None),
        (Rejected, InventoryRejected, None),
        (Rejected, Cancel, None),
        (Cancelled, InventoryReserved, None),
        (Cancelled, InventoryRejected, None),
        (Cancelled, Cancel, Some(Unchanged)),
        (Pending, InventoryReleased, Some(Moved(Cancelled))),
        (Confirmed, InventoryReleased, Some(Moved(Cancelled))),
        (Rejected, InventoryReleased, None),
        (Cancelled, InventoryReleased, None),
        (Pending, TimedOut, Some(Moved(Rejected))),
        (Confirmed, TimedOut, None),
        (Rejected, TimedOut, None),
        (Cancelled, TimedOut, None),
    ];
    assert_eq!(expected.len(), OrderStatus::ALL.len() * Trigger::ALL.len());
    for (from, trig, want) in expected {
        let got = transition(from, trig);
        match want {
            Some(t) => assert_eq!(got, Ok(t), "{from:?} + {trig:?}"),
            None => assert_eq!(
                got,
                Err(TransitionError {
                    from,
                    trigger: trig
                }),
                "{from:?} + {trig:?}"
            ),
        }
    }
}

#[test]
fn no_trigger_leaves_a_terminal_status_or_goes_back_to_pending() {
    let terminal: Vec<_> = OrderStatus::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(terminal, [Rejected, Cancelled]);
    for from in OrderStatus::ALL {
        for trig in Trigger::ALL {
            if let Ok(Transition::Moved(to)) = transition(from, trig) {
                assert!(!from.is_terminal(), "{from:?} left by {trig:?}");
                assert_ne!(to, Pending);
            }
        }
    }
}

#[test]
fn allowed_from_agrees_with_transition() {
    for trig in Trigger::ALL {
        for from in OrderStatus::ALL {
            let moves = matches!(transition(from, trig), Ok(Transition::Moved(_)));
            assert_eq!(
                moves,
                trig.allowed_from().contains(&from),
                "{from:?} {trig:?}"
            );
        }
    }
}

#[test]
fn every_transition_raises_the_status_seq() {
    for from in OrderStatus::ALL {
        for trig in Trigger::ALL {
            if let Ok(Transition::Moved(to)) = transition(from, trig) {
                assert!(to.seq() > from.seq(), "{from:?} -> {to:?} by {trig:?}");
            }
        }
    }
}

#[test]
fn status_names_round_trip() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.as_str().into())
        );
    }
    assert_eq!(OrderStatus::parse("pending"), None);
}

proptest::proptest! {
    /// Whatever triggers arrive, in whatever order and however often: an order only moves
    /// forward, never out of a terminal status, and a repeated cancel changes nothing.
    #[test]
    fn no_sequence_of_triggers_moves_an_order_backwards(
        triggers in proptest::collection::vec(0..Trigger::ALL.len(), 0..16),
    ) {
        let mut status = OrderStatus::Pending;
        for t in triggers {
            let trigger = Trigger::ALL[t];
            match transition(status, trigger) {
                Ok(Transition::Moved(to)) => {
                    proptest::prop_assert!(!status.is_terminal(), "{status:?} moved by {trigger:?}");
                    proptest::prop_assert!(to.seq() > status.seq(), "{status:?} -> {to:?}");
                    status = to;
                }
                Ok(Transition::Unchanged) => {
                    proptest::prop_assert_eq!(status, trigger.target());
                }
                Err(e) => proptest::prop_assert_eq!(e.from, status),
            }
        }
    }
}
