//! What a batch counts: the records it reported failed (one without an id included) and the
//! ones it sent back for later, not the ones it tried to. Its own test binary: the metrics
//! recorder is global to the process.

use std::fmt::Display;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use orders_aws::defer::{Deferral, Deferrer};
use orders_aws::flow::Limiter;
use orders_aws::metrics::{flush_to, init};
use orders_aws::sqs::{run_batch, Busy, Flow};
use serde_json::Value;
use tokio::time::Instant;

/// Sends every deferral but `lost`'s.
struct Loses(&'static str);
impl Deferrer for Loses {
    async fn defer(&self, batch: Vec<Deferral>, _: Instant) -> Vec<String> {
        let lost = batch.into_iter().filter(|d| d.message_id == self.0);
        lost.map(|d| d.message_id).collect()
    }
}

#[derive(Debug)]
enum Outcome {
    Busy,
    Failed,
}
impl Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl Busy for Outcome {
    fn is_busy(&self) -> bool {
        matches!(self, Outcome::Busy)
    }
}

fn batch(records: &[(Option<&str>, &str)]) -> SqsEvent {
    let mut e = SqsEvent::default();
    for (id, body) in records {
        let mut m = SqsMessage::default();
        m.message_id = id.map(str::to_string);
        m.body = Some(body.to_string());
        e.records.push(m);
    }
    e
}

async fn run(records: &[(Option<&str>, &str)]) -> bool {
    let flow = Flow {
        limiter: Limiter::new(4, Duration::from_secs(1)),
        deferrer: Loses("lost"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    run_batch(
        batch(records),
        &flow,
        deadline,
        |r: SqsMessage| async move {
            match r.body.as_deref() {
                Some("busy") => Err(Outcome::Busy),
                Some("fail") => Err(Outcome::Failed),
                _ => Ok(()),
            }
        },
    )
    .await
    .is_ok()
}

fn flushed() -> Value {
    let mut out = Vec::new();
    flush_to(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .next()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn failed_and_deferred_records_are_counted_as_they_ended() {
    init("inventory");
    let ok = run(&[
        (Some("done"), "ok"),
        (Some("failed"), "fail"),
        (Some("later-1"), "busy"),
        (Some("lost"), "busy"),
        (Some("later-2"), "busy"),
    ])
    .await;
    assert!(ok);
    let record = flushed();
    assert_eq!(record["BatchItemFailures"], 2, "failed and lost: {record}");
    assert_eq!(record["RecordsDeferred"], 2, "{record}");

    // A failed record without an id fails the whole invocation, and still counts.
    assert!(!run(&[(Some("failed"), "fail"), (None, "fail")]).await);
    let record = flushed();
    assert_eq!(record["BatchItemFailures"], 2, "{record}");
}
