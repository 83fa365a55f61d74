//! The event contract holds three ways: the Rust types, the samples in `events/samples/`
//! and the JSON Schemas in `events/schemas/` agree, and the Lambda sample events carry
//! valid events.

#[path = "support/schema.rs"]
mod schema;

use std::collections::BTreeSet;
use std::path::PathBuf;

use orders_domain::events::EventPayload;
use orders_domain::inventory::reservation::{inventory_event_for, Reservation, ReservationStatus};
use orders_domain::notify::notification_for;
use orders_domain::order::{Order, OrderStatus};
use orders_domain::ports::{Clock, SystemClock};
use orders_domain::{
    ClientScope, CustomerId, Event, EventId, EventType, IdempotencyKey, OrderId, OrderLine, Sku,
    TraceId,
};
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read_json(rel: &str) -> Value {
    let path = events_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_of(t: EventType) -> Value {
    read_json(&format!("schemas/{t}.schema.json"))
}

fn sample_of(t: EventType) -> Value {
    read_json(&format!("samples/{t}.json"))
}

fn file_stems(dir: &str, suffix: &str) -> BTreeSet<String> {
    std::fs::read_dir(events_dir().join(dir))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
        .collect()
}

#[test]
fn every_event_type_has_exactly_one_schema_and_one_sample() {
    let types: BTreeSet<String> = EventType::ALL.iter().map(|t| t.to_string()).collect();
    assert_eq!(file_stems("schemas", ".schema.json"), types);
    assert_eq!(file_stems("samples", ".json"), types);
}

#[test]
fn samples_deserialize_round_trip_and_validate() {
    for t in EventType::ALL {
        let sample = sample_of(t);
        let event =
            Event::from_message_body(&sample.to_string()).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(event.event_type(), t);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            sample,
            "{t}: re-serialized differs"
        );
        let schema = schema_of(t);
        schema::validate(&schema, &sample).unwrap_or_else(|e| panic!("{t}: {e:?}"));
        assert_eq!(schema["properties"]["type"]["const"], t.as_str());
    }
}

#[test]
fn schemas_are_not_vacuous() {
    for t in EventType::ALL {
        let schema = schema_of(t);
        let sample = sample_of(t);
        for field in ["id", "type", "version", "occurred_at", "order_id", "data"] {
            let mut v = sample.clone();
            v.as_object_mut().unwrap().remove(field);
            assert!(
                schema::validate(&schema, &v).is_err(),
                "{t}: missing {field} accepted"
            );
        }
        let mutations: [(&str, Value); 7] = [
            ("extra", serde_json::json!(1)),
            ("version", serde_json::json!(2)),
            ("type", serde_json::json!("Other")),
            ("id", serde_json::json!("not-a-uuid")),
            (
                "order_id",
                serde_json::json!("AB3E28EF-1EA8-87F2-BD59-5B468E287C8A"),
            ),
            (
                "occurred_at",
                serde_json::json!("2026-11-26T12:00:00+01:00"),
            ),
            ("data", serde_json::json!([])),
        ];
        for (field, value) in mutations {
            let mut v = sample.clone();
            v[field] = value.clone();
            assert!(
                schema::validate(&schema, &v).is_err(),
                "{t}: {field}={value} accepted"
            );
        }
        let mut v = sample.clone();
        v["data"]["unexpected"] = Value::Bool(true);
        assert!(
            schema::validate(&schema, &v).is_err(),
            "{t}: extra data field accepted"
        );
    }
}

/// Required in the schema <=> required by the Rust type, field by field.
#[test]
fn schema_required_fields_match_the_rust_types() {
    for t in EventType::ALL {
        let schema = schema_of(t);
        let data_schema = &schema["properties"]["data"];
        let required: BTreeSet<&str> = data_schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let props = data_schema["properties"].as_object().unwrap();
        for name in props.keys() {
            let mut v = sample_of(t);
            if v["data"].as_object_mut().unwrap().remove(name).is_none() {
                // Optional and absent from the sample: check it parses when present.
                assert!(
                    !required.contains(name.as_str()),
                    "{t}: sample lacks required {name}"
                );
                continue;
            }
            let rust_ok = Event::from_message_body(&v.to_string()).is_ok();
            assert_eq!(
                rust_ok,
                !required.contains(name.as_str()),
                "{t}.data.{name}: schema says required={}, Rust accepts its absence={rust_ok}",
                required.contains(name.as_str())
            );
        }
        // The Rust type serializes exactly the schema's properties (no more).
        let event = Event::from_message_body(&sample_of(t).to_string()).unwrap();
        let rust_fields: BTreeSet<String> = serde_json::to_value(&event).unwrap()["data"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(
            rust_fields.iter().all(|f| props.contains_key(f)),
            "{t}: {rust_fields:?}"
        );
    }
}

fn line(sku: &str, q: u32) -> OrderLine {
    OrderLine {
        sku: Sku::parse(sku).unwrap(),
        quantity: q,
    }
}

/// Events as the code produces them (not just the hand-written samples) match the schemas,
/// and each carries the trace it was built in.
#[tokio::test]
async fn produced_events_validate() {
    let trace = TraceId::generate(0x6b0a2fc4);
    let produced = orders_domain::trace::within(Some(trace.clone()), async { produce() }).await;
    let mut seen = BTreeSet::new();
    for e in produced {
        let v = serde_json::to_value(&e).unwrap();
        schema::validate(&schema_of(e.event_type()), &v)
            .unwrap_or_else(|err| panic!("{}: {err:?}\n{v}", e.event_type()));
        assert_eq!(v["trace_id"], trace.as_str(), "{}", e.event_type());
        seen.insert(e.event_type().as_str());
    }
    assert_eq!(seen.len(), EventType::ALL.len(), "every type produced");
}

fn produce() -> Vec<Event> {
    let now = SystemClock.now();
    let order = Order::new_pending(
        OrderId::random(),
        CustomerId::parse("c_1").unwrap(),
        (0..50).map(|i| line(&format!("SKU-{i}"), 1000)).collect(),
        "h".into(),
        now,
    );
    let mut produced = vec![
        Event::order_placed(&order, now),
        Event::order_cancelled(&order, None, now),
        Event::order_cancelled(&order, Some("x".repeat(200)), now),
    ];
    for (status, input) in [
        (ReservationStatus::Reserved, EventType::OrderPlaced),
        (ReservationStatus::Rejected, EventType::OrderPlaced),
        (ReservationStatus::Released, EventType::OrderCancelled),
    ] {
        let r = Reservation {
            order_id: order.order_id.clone(),
            customer_id: order.customer_id.clone(),
            status,
            lines: order.lines.clone(),
            short_skus: vec![Sku::parse("SKU-3").unwrap()],
            reason: (status == ReservationStatus::Rejected)
                .then(|| "needs 120 stock items; one reservation holds 99".to_string()),
            updated_at: now,
        };
        produced.push(inventory_event_for(input, &r).unwrap());
    }
    for status in OrderStatus::ALL {
        let reason = Some("r".repeat(200)).filter(|_| status.is_terminal());
        let change =
            Event::status_changed(&order.order_id, &order.customer_id, status, reason, now);
        let n = notification_for(&change).unwrap();
        produced.push(Event::customer_notified(&change, n.subject, n.message, now));
        produced.push(change);
    }
    produced
}

#[test]
fn sample_ids_are_the_deterministic_ones() {
    let order_id = OrderId::for_idempotency_key(
        &ClientScope::api_key_id("sample-api-key-id"),
        &IdempotencyKey::parse("sample-order-1").unwrap(),
    );
    for t in EventType::ALL {
        let e = Event::from_message_body(&sample_of(t).to_string()).unwrap();
        assert_eq!(e.order_id, order_id, "{t}");
        let expected = match &e.payload {
            EventPayload::CustomerNotified(d) => EventId::for_notification(&d.source_event_id),
            EventPayload::OrderStatusChanged(d) => {
                Event::status_changed(&order_id, &d.customer_id, d.status, None, e.occurred_at).id
            }
            _ => EventId::for_order_event(&order_id, t.as_str()),
        };
        assert_eq!(e.id, expected, "{t}");
    }
}

/// The SQS sample batches carry raw-delivery bodies that are valid events, with the type
/// also in the `type` message attribute (what the filter policies match).
#[test]
fn sqs_samples_carry_valid_events() {
    let mut checked = 0;
    for name in [
        "sqs-inventory-batch",
        "sqs-order-status-batch",
        "sqs-notification-batch",
        "sqs-poison-batch",
    ] {
        let batch = read_json(&format!("lambda/{name}.json"));
        for record in batch["Records"].as_array().unwrap() {
            let body = record["body"].as_str().unwrap();
            let Ok(event) = Event::from_message_body(body) else {
                assert_eq!(
                    name, "sqs-poison-batch",
                    "only the poison batch has a bad body"
                );
                continue;
            };
            let t = event.event_type();
            assert_eq!(
                record["messageAttributes"]["type"]["stringValue"],
                t.as_str(),
                "{name}"
            );
            let v: Value = serde_json::from_str(body).unwrap();
            schema::validate(&schema_of(t), &v).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 5);
}
