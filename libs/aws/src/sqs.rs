//! SQS batch runner: every record is processed on its own, with bounded concurrency and a
//! tracing span carrying its message id; only the records that failed are reported back
//! (`batchItemFailures`, with `ReportBatchItemFailures` on the event source mapping), so one
//! bad message never fails or delays its batch-mates. A message that keeps failing (an
//! unparseable body included) is retried by SQS and moved to the queue's DLQ after
//! `maxReceiveCount` receives. A record whose handler panics fails alone, like any other
//! failing record. Near the invocation's deadline no record is started any more: the ones
//! left are reported as failures (SQS redelivers them) instead of being cut off by the timeout,
//! which would fail the whole batch, done records included. For the same reason a record still
//! running at `deadline - FINISH_MARGIN` is given up and reported as failed: its handler is
//! idempotent, so whatever part of it took effect is found again on the redelivery.

use std::any::Any;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::stream::{self, StreamExt};
use futures_util::FutureExt;
use orders_domain::{trace, Event};
use tokio::time::Instant;
use tracing::{error, field, info, info_span, warn, Instrument, Span};

/// No record starts later than this before the invocation's deadline: time for a short
/// record to finish and for the response to reach Lambda.
pub const START_MARGIN: Duration = Duration::from_millis(500);

/// A started record still running this long before the deadline is given up: time for the
/// response to reach Lambda. Shorter than the handlers' own margins (a notification releases
/// its claim before this), so those run first.
pub const FINISH_MARGIN: Duration = Duration::from_millis(200);

/// The batch cannot be answered record by record.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A failed record has no message id to report; failing the invocation makes SQS retry
    /// the whole batch rather than lose the record.
    #[error("{0} failed record(s) without a messageId; retrying the whole batch")]
    MissingMessageId(usize),
}

impl From<BatchError> for lambda_runtime::Diagnostic {
    /// A stable `errorType` (the default is the Rust type name of a boxed error).
    fn from(e: BatchError) -> Self {
        let error_type = match e {
            BatchError::MissingMessageId(_) => "BatchError.MissingMessageId",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// Runs `process` over every record, at most `concurrency` at a time, and returns the
/// partial batch response. Records not started by `deadline - START_MARGIN` are reported as
/// failures without being processed; records not finished by `deadline - FINISH_MARGIN` are
/// dropped and reported as failures.
pub async fn run_batch<F, Fut, T, E>(
    event: SqsEvent,
    concurrency: usize,
    deadline: Instant,
    process: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display,
{
    let total = event.records.len();
    let last_start = deadline.checked_sub(START_MARGIN).unwrap_or(deadline);
    let give_up = deadline.checked_sub(FINISH_MARGIN).unwrap_or(deadline);
    let outcomes: Vec<(Option<String>, bool)> = stream::iter(event.records)
        .map(|record| {
            let message_id = record.message_id.clone();
            let span = info_span!(
                "sqs_message",
                message_id = message_id.as_deref().unwrap_or("-"),
                order_id = field::Empty,
                trace_id = field::Empty
            );
            // Called as a slot frees, so this is the record's start.
            let late = Instant::now() >= last_start;
            // Created inside the span so synchronous work in `process` (parsing) logs with
            // the message id and can record the order id on it.
            // A panic (while the future is built or polled) fails only this record: its
            // batch-mates are still processed and reported, instead of the whole invocation
            // erroring and SQS redelivering the batch.
            let fut = (!late).then(|| {
                catch_unwind(AssertUnwindSafe(|| span.in_scope(|| process(record))))
                    .map(|f| AssertUnwindSafe(f).catch_unwind())
            });
            async move {
                let result = match fut {
                    Some(Ok(f)) => match tokio::time::timeout_at(give_up, f).await {
                        Ok(result) => result,
                        Err(_) => {
                            warn!("given up: still running at the invocation's deadline; SQS will redeliver it");
                            return (message_id, false);
                        }
                    },
                    Some(Err(panic)) => Err(panic),
                    None => {
                        warn!("not started: too close to the invocation's deadline; SQS will redeliver it");
                        return (message_id, false);
                    }
                };
                let ok = match result {
                    Ok(Ok(outcome)) => {
                        info!(?outcome, "message processed");
                        true
                    }
                    Ok(Err(e)) => {
                        error!(error = %e, "message failed; SQS will retry it (then its DLQ)");
                        false
                    }
                    Err(panic) => {
                        error!(
                            panic = panic_message(&panic),
                            "message handler panicked; SQS will retry it (then its DLQ)"
                        );
                        false
                    }
                };
                (message_id, ok)
            }
            .instrument(span)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;

    let mut response = SqsBatchResponse::default();
    let mut missing = 0;
    for (id, ok) in outcomes {
        match (ok, id) {
            (true, _) => {}
            (false, Some(id)) => response.add_failure(id),
            (false, None) => missing += 1,
        }
    }
    metrics::counter!(crate::metrics::names::BATCH_ITEM_FAILURES)
        .increment((response.batch_item_failures.len() + missing) as u64);
    if missing > 0 {
        return Err(BatchError::MissingMessageId(missing));
    }
    info!(
        records = total,
        failed = response.batch_item_failures.len(),
        "batch done"
    );
    Ok(response)
}

fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Why one record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError<E> {
    #[error("record has no body")]
    NoBody,
    #[error("unparseable message body: {0}")]
    Unparseable(#[from] orders_domain::events::EventParseError),
    #[error(transparent)]
    Handler(E),
}

/// [`run_batch`] for records whose body is a domain event: parses it (raw delivery or SNS
/// envelope), records the event's order and trace ids in the message span, then calls
/// `handle` within the event's trace, so the events it builds carry it on.
pub async fn run_event_batch<F, Fut, T, E>(
    event: SqsEvent,
    concurrency: usize,
    deadline: Instant,
    handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display,
{
    run_batch(event, concurrency, deadline, |record: SqsMessage| {
        let parsed = parse_record(&record);
        let fut = parsed.map(|event| {
            let trace = event.trace_id.clone();
            trace::within(trace, handle(event))
        });
        async move {
            match fut {
                Ok(f) => f.await.map_err(RecordError::Handler),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

fn parse_record<E>(record: &SqsMessage) -> Result<Event, RecordError<E>> {
    let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
    let event = Event::from_message_body(body)?;
    // run_batch calls this inside the message's span.
    let span = Span::current();
    span.record("order_id", event.order_id.as_str());
    if let Some(trace) = &event.trace_id {
        span.record("trace_id", trace.as_str());
    }
    Ok(event)
}

/// The message ids a batch response reports as failed, sorted (for tests and logs).
pub fn failed_ids(resp: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn record(id: Option<&str>, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = id.map(str::to_string);
        m.body = Some(body.to_string());
        m
    }

    /// A deadline far enough away not to matter.
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn batch(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    #[tokio::test]
    async fn reports_only_the_failed_records() {
        let ev = batch(vec![
            record(Some("m1"), "ok"),
            record(Some("m2"), "fail"),
            record(Some("m3"), "ok"),
            record(Some("m4"), "fail"),
        ]);
        let resp = run_batch(ev, 2, later(), |r: SqsMessage| async move {
            if r.body.as_deref() == Some("fail") {
                Err("boom")
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&resp), ["m2", "m4"]);
    }

    #[tokio::test]
    async fn a_panicking_record_fails_alone() {
        let ev = batch(vec![
            record(Some("m1"), "ok"),
            record(Some("m2"), "panic-polled"),
            record(Some("m3"), "panic-built"),
            record(Some("m4"), "ok"),
        ]);
        let done = AtomicUsize::new(0);
        let resp = run_batch(ev, 2, later(), |r: SqsMessage| {
            let body = r.body.unwrap_or_default();
            assert_ne!(body, "panic-built", "a bug while building the future");
            let done = &done;
            async move {
                assert_ne!(body, "panic-polled", "a bug while processing");
                done.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&resp), ["m2", "m3"]);
        assert_eq!(done.load(Ordering::SeqCst), 2, "batch-mates processed");
    }

    #[tokio::test]
    async fn concurrency_is_bounded_and_used() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let ev = batch(
            (0..10)
                .map(|i| record(Some(&format!("m{i}")), "x"))
                .collect(),
        );
        let resp = run_batch(ev, 3, later(), |_r| {
            let running = &running;
            let peak = &peak;
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_slow_record_does_not_hold_back_the_others() {
        // With concurrency 2, the fast records all finish while the slow one runs.
        let done = AtomicUsize::new(0);
        let ev = batch(vec![
            record(Some("slow"), "slow"),
            record(Some("a"), "x"),
            record(Some("b"), "x"),
            record(Some("c"), "x"),
        ]);
        let resp = run_batch(ev, 2, later(), |r: SqsMessage| {
            let done = &done;
            async move {
                if r.body.as_deref() == Some("slow") {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    assert_eq!(done.load(Ordering::SeqCst), 3, "others finished first");
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    done.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_failed_record_without_id_fails_the_invocation() {
        let ev = batch(vec![record(None, "x"), record(Some("m2"), "x")]);
        let r = run_batch(ev, 2, later(), |_r| async { Err::<(), _>("boom") }).await;
        assert!(matches!(r, Err(BatchError::MissingMessageId(1))));
        // ... but a successful one without id is fine.
        let ev = batch(vec![record(None, "x")]);
        assert!(
            run_batch(ev, 2, later(), |_r| async { Ok::<_, String>(()) })
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn event_batch_fails_unparseable_bodies_and_handles_the_rest() {
        let good = r#"{"id":"6f1c1f64-3f59-8a1e-9b5e-3f9ad3b9a001","type":"OrderCancelled","version":1,
            "occurred_at":"2026-11-26T12:00:00Z","order_id":"0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11",
            "data":{"customer_id":"c"}}"#;
        let ev = batch(vec![
            record(Some("good"), good),
            record(Some("poison"), "{not json"),
            record(
                Some("wrong-version"),
                &good.replace("\"version\":1", "\"version\":9"),
            ),
        ]);
        let seen = AtomicUsize::new(0);
        let resp = run_event_batch(ev, 4, later(), |e: Event| {
            let seen = &seen;
            async move {
                assert_eq!(e.order_id.as_str(), "0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11");
                seen.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&resp), ["poison", "wrong-version"]);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_event_is_handled_within_its_own_trace() {
        let event = |order: &str, trace: &str| {
            format!(
                r#"{{"id":"6f1c1f64-3f59-8a1e-9b5e-3f9ad3b9a00{order}","type":"OrderCancelled","version":1,
                "occurred_at":"2026-11-26T12:00:00Z","order_id":"0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a1{order}",
                {trace}"data":{{"customer_id":"c"}}}}"#
            )
        };
        let ev = batch(vec![
            record(
                Some("a"),
                &event("1", r#""trace_id":"1-6b0a2fc4-00000000000000000000000a","#),
            ),
            record(
                Some("b"),
                &event("2", r#""trace_id":"1-6b0a2fc4-00000000000000000000000b","#),
            ),
            record(Some("none"), &event("3", "")),
        ]);
        let seen = std::sync::Mutex::new(Vec::new());
        let resp = run_event_batch(ev, 3, later(), |e: Event| {
            let seen = &seen;
            async move {
                tokio::task::yield_now().await; // interleaved with its batch-mates
                let current = trace::current().map(|t| t.to_string());
                assert_eq!(current, e.trace_id.map(|t| t.to_string()));
                seen.lock().unwrap().push(current.unwrap_or_default());
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(
            seen,
            [
                "",
                "1-6b0a2fc4-00000000000000000000000a",
                "1-6b0a2fc4-00000000000000000000000b"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn records_not_started_near_the_deadline_fail_unprocessed() {
        // One slot, 400 ms records, the deadline at 1.5 s: the last start is at 1.0 s. m1
        // starts at 0, m2 at 0.4 s, m3 at 0.8 s; m4 (1.2 s) and m5 are not started.
        let started = std::sync::Mutex::new(Vec::new());
        let ev = batch(
            (1..=5)
                .map(|i| record(Some(&format!("m{i}")), "x"))
                .collect(),
        );
        let deadline = Instant::now() + Duration::from_millis(1500);
        let resp = run_batch(ev, 1, deadline, |r: SqsMessage| {
            started.lock().unwrap().push(r.message_id.unwrap());
            async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert_eq!(*started.lock().unwrap(), ["m1", "m2", "m3"]);
        assert_eq!(failed_ids(&resp), ["m4", "m5"]);
        assert!(Instant::now() <= deadline, "answered before the deadline");
    }

    #[tokio::test]
    async fn a_record_still_running_at_the_deadline_fails_alone() {
        // A hung call (a loaded emulator, a slow dependency) must not run the invocation into
        // its timeout: that fails the whole batch, the records already done included.
        let deadline = Instant::now() + Duration::from_millis(600);
        let ev = batch(vec![record(Some("hung"), "hung"), record(Some("ok"), "x")]);
        let run = run_batch(ev, 2, deadline, |r: SqsMessage| async move {
            if r.body.as_deref() == Some("hung") {
                std::future::pending::<()>().await;
            }
            Ok::<_, String>(())
        });
        let resp = tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .expect("the batch answered")
            .unwrap();
        assert_eq!(failed_ids(&resp), ["hung"]);
        assert!(
            Instant::now() + FINISH_MARGIN / 2 <= deadline,
            "answered with time to spare"
        );
    }

    #[test]
    fn batch_errors_have_a_stable_lambda_error_type() {
        let d = lambda_runtime::Diagnostic::from(BatchError::MissingMessageId(2));
        assert_eq!(d.error_type, "BatchError.MissingMessageId");
        assert!(
            d.error_message.contains("2 failed record"),
            "{}",
            d.error_message
        );
    }
}
