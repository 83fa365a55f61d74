//! SQS batch runner: every record is processed on its own, with a tracing span carrying its
//! message id; only the records that failed are reported back (`batchItemFailures`, with
//! `ReportBatchItemFailures` on the event source mapping), so one bad message never fails or
//! delays its batch-mates. A message that keeps failing (an unparseable body included) is
//! retried by SQS and moved to the queue's DLQ after `maxReceiveCount` receives. A record whose
//! handler panics fails alone, like any other failing record.
//!
//! Flow control: records run as the container's [`Limiter`] allows (fewer when the
//! dependencies push back), and records that share a lane (a stock item, an order) run one
//! after the other in batch order, never racing each other. A record that could not be done
//! because of load, not because anything is wrong with it, is sent back to its queue for later
//! ([`crate::defer`]) instead of failing toward the DLQ: one not started by
//! `deadline - START_MARGIN` (or in the batch's last quarter), one still running at
//! `deadline - FINISH_MARGIN` (given up: its handler is idempotent, so whatever part of it
//! took effect is found again later), and one whose handler answered busy. The invocation itself never runs into its timeout, which would
//! fail the whole batch, done records included.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::fmt::{Debug, Display};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::FutureExt;
use orders_domain::consumer::ConsumerError;
use orders_domain::{trace, Event};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, error, field, info, info_span, warn, Instrument, Span};

use crate::defer::{self, Deferrer};
use crate::flow::Limiter;
use crate::metrics::names;

/// No record starts later than this before the invocation's deadline, or a quarter of the
/// batch's time if that is more: time for a short record to finish and for the records not
/// started to go back to the queue (a loaded queue answers a send in hundreds of ms; sends
/// left to the last 0.5 s mostly ran out of time, and their records failed instead).
pub const START_MARGIN: Duration = Duration::from_millis(600);

/// A started record still running this long before the deadline is given up: time to send
/// the deferrals and the response. Shorter than the handlers' own margins (a notification
/// releases its claim 500 ms before the deadline), so those run first.
pub const FINISH_MARGIN: Duration = Duration::from_millis(400);

/// The deferrals are sent by this long before the deadline, or the records fail instead.
pub const SEND_MARGIN: Duration = Duration::from_millis(100);

/// After the last start, the records not started are sent back this soon.
const EARLY_SLACK: Duration = Duration::from_millis(5);

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

/// Whether a handler's error means "busy, try later" rather than "failed".
pub trait Busy {
    fn is_busy(&self) -> bool {
        false
    }
}

impl Busy for ConsumerError {
    fn is_busy(&self) -> bool {
        ConsumerError::is_busy(self)
    }
}

impl Busy for String {}
impl Busy for &str {}

/// What the runner needs besides the batch: the container's limit on records in flight and
/// where busy records go.
pub struct Flow<D> {
    pub limiter: Limiter,
    pub deferrer: D,
}

/// One record's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Done,
    Failed,
    /// Started, and not done for load: answered busy, or given up at the deadline.
    Busy,
    /// Never started: its lane or a slot was not free in time.
    NotStarted,
}

/// A record to run: its lanes (records sharing one run one at a time) and what to run it on.
struct Job<I> {
    record: SqsMessage,
    lanes: Vec<String>,
    input: I,
    span: Span,
}

fn message_span(record: &SqsMessage) -> Span {
    info_span!(
        "sqs_message",
        message_id = record.message_id.as_deref().unwrap_or("-"),
        order_id = field::Empty,
        trace_id = field::Empty
    )
}

/// Runs `process` over every record, and returns the partial batch response (see the module
/// documentation for what runs when, and what is deferred).
pub async fn run_batch<F, Fut, T, E, D>(
    event: SqsEvent,
    flow: &Flow<D>,
    deadline: Instant,
    process: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display + Busy,
    D: Deferrer,
{
    let jobs = event
        .records
        .into_iter()
        .map(|record| Job {
            span: message_span(&record),
            lanes: Vec::new(),
            // The handler takes the record; the runner keeps a copy to defer.
            input: record.clone(),
            record,
        })
        .collect();
    run_jobs(jobs, flow, deadline, process).await
}

async fn run_jobs<I, F, Fut, T, E, D>(
    jobs: Vec<Job<I>>,
    flow: &Flow<D>,
    deadline: Instant,
    process: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display + Busy,
    D: Deferrer,
{
    let total = jobs.len();
    let budget = deadline.saturating_duration_since(Instant::now());
    let last_start = deadline
        .checked_sub(START_MARGIN.max(budget / 4))
        .unwrap_or(deadline);
    let give_up = deadline.checked_sub(FINISH_MARGIN).unwrap_or(deadline);
    let send_by = deadline.checked_sub(SEND_MARGIN).unwrap_or(deadline);
    let mut lane_locks: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let mut records = Vec::with_capacity(total);
    let mut works = Vec::with_capacity(total);
    for job in jobs {
        // Sorted, so two records that share two lanes cannot each hold one the other waits for.
        let locks: Vec<Arc<Mutex<()>>> = job
            .lanes
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|lane| lane_locks.entry(lane).or_default().clone())
            .collect();
        records.push((job.record, job.span.clone()));
        works.push((locks, job.input, job.span));
    }
    // Every record's future at once: the lanes and the limiter decide which run, in batch
    // order (tokio's mutex is fair).
    let process = &process;
    // Records not started by `last_start` are sent back at once, while the others still run:
    // the end of the invocation leaves little time, and a loaded queue answers slowly.
    let unstarted = std::sync::Mutex::new(Vec::new());
    let unstarted = &unstarted;
    let runs = works.into_iter().enumerate().map(|(i, (locks, input, span))| {
        async move {
            let admitted = async {
                let mut guards = Vec::with_capacity(locks.len());
                for lock in &locks {
                    guards.push(lock.lock().await);
                }
                (guards, flow.limiter.acquire().await)
            };
            let Ok((_guards, permit)) = tokio::time::timeout_at(last_start, admitted).await else {
                warn!("not started: no free slot before the invocation's deadline; deferred");
                if let Ok(mut u) = unstarted.lock() {
                    u.push(i);
                }
                return Verdict::NotStarted;
            };
            // A panic (while the future is built or polled) fails only this record.
            let run = catch_unwind(AssertUnwindSafe(|| process(input)))
                .map(|f| AssertUnwindSafe(f).catch_unwind());
            let result = match run {
                Ok(f) => match tokio::time::timeout_at(give_up, f).await {
                    Ok(result) => result,
                    Err(_) => {
                        let elapsed = permit.started.elapsed();
                        let ms = elapsed.as_millis() as u64;
                        warn!(elapsed_ms = ms, "given up: still running at the invocation's deadline; deferred");
                        flow.limiter.record(permit.started, elapsed, true);
                        return Verdict::Busy;
                    }
                },
                Err(panic) => Err(panic),
            };
            let elapsed = permit.started.elapsed();
            let ms = elapsed.as_millis() as u64;
            let verdict = match result {
                // Debug: each flow logs what it did (one line per message at info, not two).
                Ok(Ok(outcome)) => {
                    debug!(?outcome, elapsed_ms = ms, "message processed");
                    Verdict::Done
                }
                // Load is a normal condition: the deferral's own line says what happens next.
                Ok(Err(e)) if e.is_busy() => {
                    debug!(error = %e, elapsed_ms = ms, "busy: not done for load; deferred");
                    Verdict::Busy
                }
                Ok(Err(e)) => {
                    error!(error = %e, elapsed_ms = ms, "message failed; SQS will retry it (then its DLQ)");
                    Verdict::Failed
                }
                Err(panic) => {
                    error!(
                        panic = panic_message(&panic),
                        "message handler panicked; SQS will retry it (then its DLQ)"
                    );
                    Verdict::Failed
                }
            };
            flow.limiter
                .record(permit.started, elapsed, verdict == Verdict::Busy);
            verdict
        }
        .instrument(span)
    });
    let all_ran = tokio::sync::Notify::new();
    let runs = async {
        let verdicts = futures_util::future::join_all(runs).await;
        all_ran.notify_one();
        verdicts
    };
    let early = async {
        tokio::select! {
            _ = tokio::time::sleep_until(last_start + EARLY_SLACK) => {}
            _ = all_ran.notified() => {}
        }
        let picked: Vec<usize> = unstarted.lock().map(|u| u.clone()).unwrap_or_default();
        let deferrals = picked
            .iter()
            .filter_map(|&i| {
                let record = &records[i].0;
                defer::plan(record, defer::counters(record), false, crate::jitter())
            })
            .collect();
        (picked, send_deferrals(flow, deferrals, send_by).await)
    };
    let (verdicts, (sent_early, unsent_early)) = tokio::join!(runs, early);

    let mut response = SqsBatchResponse::default();
    let mut missing = 0;
    let mut fail = |id: Option<String>| match id {
        Some(id) => response.add_failure(id),
        None => missing += 1,
    };
    let mut deferrals = Vec::new();
    let mut deferred = sent_early.len() - unsent_early.len();
    for (i, ((record, span), verdict)) in records.into_iter().zip(verdicts).enumerate() {
        let tried = match verdict {
            Verdict::Done => continue,
            Verdict::Failed => {
                fail(record.message_id);
                continue;
            }
            Verdict::NotStarted if sent_early.contains(&i) => {
                if record
                    .message_id
                    .as_ref()
                    .is_none_or(|id| unsent_early.contains(id))
                {
                    fail(record.message_id);
                }
                continue;
            }
            Verdict::Busy => true,
            Verdict::NotStarted => false,
        };
        let counters = defer::counters(&record);
        match defer::plan(&record, counters, tried, crate::jitter()) {
            Some(d) => deferrals.push(d),
            None => {
                span.in_scope(|| {
                    warn!(
                        tries = counters.1,
                        "busy too often: failed instead (SQS retries it, then its DLQ)"
                    )
                });
                fail(record.message_id);
            }
        }
    }
    let ids: Vec<String> = deferrals.iter().map(|d| d.message_id.clone()).collect();
    let unsent = send_deferrals(flow, deferrals, send_by).await;
    deferred += ids.len() - unsent.len();
    for id in ids.into_iter().filter(|id| unsent.contains(id)) {
        fail(Some(id));
    }
    metrics::counter!(names::BATCH_ITEM_FAILURES)
        .increment((response.batch_item_failures.len() + missing) as u64);
    if missing > 0 {
        return Err(BatchError::MissingMessageId(missing));
    }
    info!(
        records = total,
        failed = response.batch_item_failures.len(),
        deferred,
        limit = format!("{:.2}", flow.limiter.limit()),
        "batch done"
    );
    Ok(response)
}

/// Sends `deferrals` to the queue by `until`; returns the message ids not sent.
async fn send_deferrals<D: Deferrer>(
    flow: &Flow<D>,
    deferrals: Vec<defer::Deferral>,
    until: Instant,
) -> Vec<String> {
    if deferrals.is_empty() {
        return Vec::new();
    }
    let planned: Vec<(String, u64, u32)> = deferrals
        .iter()
        .map(|d| (d.message_id.clone(), d.delay.as_millis() as u64, d.tries))
        .collect();
    let unsent = flow.deferrer.defer(deferrals, until).await;
    for (id, delay_ms, tries) in &planned {
        if !unsent.contains(id) {
            info!(message_id = %id, delay_ms, tries, "deferred: back to its queue for later");
        }
    }
    metrics::counter!(names::RECORDS_DEFERRED).increment((planned.len() - unsent.len()) as u64);
    unsent
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

impl<E: Busy> Busy for RecordError<E> {
    fn is_busy(&self) -> bool {
        matches!(self, RecordError::Handler(e) if e.is_busy())
    }
}

/// [`run_batch`] for records whose body is a domain event: parses it (raw delivery or SNS
/// envelope), records the event's order and trace ids in the message span, puts it in the
/// lanes `lanes` names, then calls `handle` within the event's trace, so the events it builds
/// carry it on.
pub async fn run_event_batch<L, F, Fut, T, E, D>(
    event: SqsEvent,
    flow: &Flow<D>,
    deadline: Instant,
    lanes: L,
    handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    L: Fn(&Event) -> Vec<String>,
    F: Fn(Event) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display + Busy,
    D: Deferrer,
{
    let jobs = event
        .records
        .into_iter()
        .map(|record| {
            let span = message_span(&record);
            let input = span.in_scope(|| parse_record::<E>(&record));
            Job {
                lanes: input.as_ref().map_or_else(|_| Vec::new(), &lanes),
                input,
                record,
                span,
            }
        })
        .collect();
    run_jobs(
        jobs,
        flow,
        deadline,
        |input: Result<Event, RecordError<E>>| {
            let fut = input.map(|event| trace::within(event.trace_id.clone(), handle(event)));
            async move {
                match fut {
                    Ok(f) => f.await.map_err(RecordError::Handler),
                    Err(e) => Err(e),
                }
            }
        },
    )
    .await
}

fn parse_record<E>(record: &SqsMessage) -> Result<Event, RecordError<E>> {
    let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
    let event = Event::from_message_body(body)?;
    // Called inside the message's span.
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
    use crate::testing::{flow, RecordingDeferrer};
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

    /// A handler error that says "busy".
    #[derive(Debug)]
    struct Overloaded;
    impl Display for Overloaded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("throttled")
        }
    }
    impl Busy for Overloaded {
        fn is_busy(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn reports_only_the_failed_records() {
        let ev = batch(vec![
            record(Some("m1"), "ok"),
            record(Some("m2"), "fail"),
            record(Some("m3"), "ok"),
            record(Some("m4"), "fail"),
        ]);
        let resp = run_batch(ev, &flow(2), later(), |r: SqsMessage| async move {
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
    async fn a_busy_record_is_deferred_not_failed() {
        let f = flow(4);
        let ev = batch(vec![record(Some("busy"), "busy"), record(Some("ok"), "ok")]);
        let resp = run_batch(ev, &f, later(), |r: SqsMessage| async move {
            if r.body.as_deref() == Some("busy") {
                Err(Overloaded)
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty(), "no receive counted");
        assert_eq!(f.deferrer.ids(), ["busy"]);
        let sent = f.deferrer.sent.lock().unwrap();
        assert_eq!((sent[0].deferrals, sent[0].tries), (1, 1));
        assert_eq!(sent[0].body, "busy");
        assert!(sent[0].delay >= Duration::from_millis(500));
        assert!(
            f.limiter.limit() < 4.0,
            "and the container runs fewer records"
        );
    }

    #[tokio::test]
    async fn a_consumer_error_is_deferred_when_busy_and_failed_otherwise() {
        use orders_domain::ports::StoreError;
        let f = flow(4);
        let ev = batch(vec![
            record(Some("conflict"), "retry"),
            record(Some("broken"), "corrupt"),
        ]);
        let resp = run_batch(ev, &f, later(), |r: SqsMessage| async move {
            Err::<(), _>(ConsumerError::Store(match r.body.as_deref() {
                Some("retry") => StoreError::Retry("conflict".into()),
                _ => StoreError::Backend("no table".into()),
            }))
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&resp), ["broken"]);
        assert_eq!(f.deferrer.ids(), ["conflict"]);
    }

    #[tokio::test]
    async fn a_deferral_that_cannot_be_sent_fails_the_record() {
        let f = Flow {
            limiter: Limiter::new(4, Duration::from_secs(1)),
            deferrer: RecordingDeferrer {
                refuse: true,
                ..Default::default()
            },
        };
        let ev = batch(vec![record(Some("busy"), "busy")]);
        let resp = run_batch(ev, &f, later(), |_r| async { Err::<(), _>(Overloaded) })
            .await
            .unwrap();
        assert_eq!(failed_ids(&resp), ["busy"], "SQS redelivers it, as before");
    }

    #[tokio::test]
    async fn a_record_busy_too_often_fails_toward_its_dlq() {
        let f = flow(4);
        let mut tired = record(Some("tired"), "x");
        let mut tries = aws_lambda_events::sqs::SqsMessageAttribute::default();
        tries.data_type = Some("Number".into());
        tries.string_value = Some(defer::MAX_TRIES.to_string());
        tired
            .message_attributes
            .insert(defer::TRIES_ATTRIBUTE.into(), tries);
        let resp = run_batch(batch(vec![tired]), &f, later(), |_r| async {
            Err::<(), _>(Overloaded)
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&resp), ["tired"]);
        assert!(f.deferrer.ids().is_empty());
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
        let resp = run_batch(ev, &flow(2), later(), |r: SqsMessage| {
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

    /// The lines `f` logs, as plain text (this thread's subscriber only).
    async fn logged<F: Future>(f: F) -> (F::Output, String) {
        use lambda_runtime::tracing::subscriber::fmt;
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        let _on = tracing::subscriber::set_default(subscriber);
        let out = f.await;
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        (out, text)
    }

    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Sends every deferral but the named record's.
    struct Loses(&'static str);
    impl Deferrer for Loses {
        async fn defer(&self, batch: Vec<defer::Deferral>, _: Instant) -> Vec<String> {
            let lost = batch.into_iter().filter(|d| d.message_id == self.0);
            lost.map(|d| d.message_id).collect()
        }
    }

    #[tokio::test]
    async fn the_log_says_what_was_deferred_and_why_a_record_panicked() {
        let f = Flow {
            limiter: Limiter::new(4, Duration::from_secs(1)),
            deferrer: Loses("m3"),
        };
        let ev = batch(vec![
            record(Some("m1"), "busy"),
            record(Some("m2"), "busy"),
            record(Some("m3"), "busy"),
            record(Some("m4"), "panic"),
        ]);
        let (resp, log) = logged(run_batch(ev, &f, later(), |r: SqsMessage| async move {
            assert_ne!(
                r.body.as_deref(),
                Some("panic"),
                "the stock count went negative"
            );
            Err::<(), _>(Overloaded)
        }))
        .await;
        assert_eq!(failed_ids(&resp.unwrap()), ["m3", "m4"]);
        let deferred: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("deferred: back to its queue for later"))
            .collect();
        assert_eq!(deferred.len(), 2, "{log}");
        assert!(deferred.iter().all(|l| !l.contains("m3")), "{log}");
        assert!(log.contains("the stock count went negative"), "{log}");
        let done = log
            .lines()
            .find(|l| l.contains("batch done"))
            .unwrap_or_default();
        assert!(done.contains("failed=2 deferred=2"), "{done}");
    }

    #[tokio::test]
    async fn the_log_counts_the_records_deferred_unstarted_that_were_sent() {
        // One slot, 400 ms records, the deadline at 1.7 s: m4 and m5 are not started, and
        // m5's copy is not sent (so it fails).
        let ev = batch(
            (1..=5)
                .map(|i| record(Some(&format!("m{i}")), "x"))
                .collect(),
        );
        let f = Flow {
            limiter: Limiter::new(1, Duration::from_secs(1)),
            deferrer: Loses("m5"),
        };
        let deadline = Instant::now() + Duration::from_millis(1700);
        let (resp, log) = logged(run_batch(ev, &f, deadline, |_: SqsMessage| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok::<_, String>(())
        }))
        .await;
        assert_eq!(failed_ids(&resp.unwrap()), ["m5"]);
        let done = log
            .lines()
            .find(|l| l.contains("batch done"))
            .unwrap_or_default();
        assert!(done.contains("failed=1 deferred=1"), "{done}");
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
        let resp = run_batch(ev, &flow(3), later(), |_r| {
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
        let resp = run_batch(ev, &flow(2), later(), |r: SqsMessage| {
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
        let r = run_batch(ev, &flow(2), later(), |_r| async { Err::<(), _>("boom") }).await;
        assert!(matches!(r, Err(BatchError::MissingMessageId(1))));
        // ... but a successful one without id is fine.
        let ev = batch(vec![record(None, "x")]);
        assert!(
            run_batch(ev, &flow(2), later(), |_r| async { Ok::<_, String>(()) })
                .await
                .is_ok()
        );
    }

    fn event_body(order: &str, trace: &str) -> String {
        format!(
            r#"{{"id":"6f1c1f64-3f59-8a1e-9b5e-3f9ad3b9a00{order}","type":"OrderCancelled","version":1,
            "occurred_at":"2026-11-26T12:00:00Z","order_id":"0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a1{order}",
            {trace}"data":{{"customer_id":"c"}}}}"#
        )
    }

    fn no_lanes(_: &Event) -> Vec<String> {
        Vec::new()
    }

    #[tokio::test]
    async fn event_batch_fails_unparseable_bodies_and_handles_the_rest() {
        let good = event_body("1", "");
        let ev = batch(vec![
            record(Some("good"), &good),
            record(Some("poison"), "{not json"),
            record(
                Some("wrong-version"),
                &good.replace("\"version\":1", "\"version\":9"),
            ),
        ]);
        let seen = AtomicUsize::new(0);
        let resp = run_event_batch(ev, &flow(4), later(), no_lanes, |e: Event| {
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
    async fn an_event_whose_handler_is_busy_is_deferred_not_failed() {
        let f = flow(4);
        let ev = batch(vec![
            record(Some("busy"), &event_body("1", "")),
            record(Some("done"), &event_body("2", "")),
        ]);
        let resp = run_event_batch(ev, &f, later(), no_lanes, |e: Event| async move {
            if e.order_id.as_str().ends_with('1') {
                Err(Overloaded)
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(f.deferrer.ids(), ["busy"]);
    }

    #[tokio::test]
    async fn each_event_is_handled_within_its_own_trace() {
        let ev = batch(vec![
            record(
                Some("a"),
                &event_body("1", r#""trace_id":"1-6b0a2fc4-00000000000000000000000a","#),
            ),
            record(
                Some("b"),
                &event_body("2", r#""trace_id":"1-6b0a2fc4-00000000000000000000000b","#),
            ),
            record(Some("none"), &event_body("3", "")),
        ]);
        let seen = std::sync::Mutex::new(Vec::new());
        let resp = run_event_batch(ev, &flow(3), later(), no_lanes, |e: Event| {
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

    #[tokio::test]
    async fn records_of_one_lane_run_one_at_a_time_in_batch_order() {
        // Orders 1 and 3 share lane "hot", 2 has its own: 1 and 3 never overlap, 3 after 1,
        // and 2 runs beside them.
        let lanes = |e: &Event| match e.order_id.as_str().chars().last() {
            Some('1') | Some('3') => vec!["hot".to_string()],
            _ => vec!["cold".to_string()],
        };
        let log = std::sync::Mutex::new(Vec::new());
        let ev = batch(
            ["1", "2", "3"]
                .iter()
                .map(|o| record(Some(o), &event_body(o, "")))
                .collect(),
        );
        let resp = run_event_batch(ev, &flow(8), later(), lanes, |e: Event| {
            let log = &log;
            async move {
                let o = e.order_id.as_str().chars().last().unwrap();
                log.lock().unwrap().push(format!("start {o}"));
                tokio::time::sleep(Duration::from_millis(30)).await;
                log.lock().unwrap().push(format!("end {o}"));
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let log = log.into_inner().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("end 1") < at("start 3"), "{log:?}");
        assert!(
            at("start 2") < at("end 1"),
            "another lane is not held back: {log:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn records_not_started_near_the_deadline_are_deferred_unprocessed() {
        // One slot, 400 ms records, the deadline at 1.7 s: the last start is at 1.1 s. m1
        // starts at 0, m2 at 0.4 s, m3 at 0.8 s; m4 (1.2 s) and m5 are not started.
        let started = std::sync::Mutex::new(Vec::new());
        let ev = batch(
            (1..=5)
                .map(|i| record(Some(&format!("m{i}")), "x"))
                .collect(),
        );
        let deadline = Instant::now() + Duration::from_millis(1700);
        let f = flow(1);
        let resp = run_batch(ev, &f, deadline, |r: SqsMessage| {
            started.lock().unwrap().push(r.message_id.unwrap());
            async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok::<_, String>(())
            }
        })
        .await
        .unwrap();
        assert_eq!(*started.lock().unwrap(), ["m1", "m2", "m3"]);
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(f.deferrer.ids(), ["m4", "m5"]);
        let sent = f.deferrer.sent.lock().unwrap();
        assert!(
            sent.iter().all(|d| d.tries == 0),
            "never tried: no try counted"
        );
        assert!(Instant::now() <= deadline, "answered before the deadline");
    }

    #[tokio::test]
    async fn a_record_still_running_at_the_deadline_is_given_up_and_deferred() {
        // A hung call (a loaded emulator, a slow dependency) must not run the invocation into
        // its timeout: that fails the whole batch, the records already done included.
        let deadline = Instant::now() + Duration::from_millis(800);
        let ev = batch(vec![record(Some("hung"), "hung"), record(Some("ok"), "x")]);
        let f = flow(2);
        let run = run_batch(ev, &f, deadline, |r: SqsMessage| async move {
            if r.body.as_deref() == Some("hung") {
                std::future::pending::<()>().await;
            }
            Ok::<_, String>(())
        });
        let resp = tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .expect("the batch answered")
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!(f.deferrer.ids(), ["hung"]);
        assert!(
            Instant::now() + SEND_MARGIN / 2 <= deadline,
            "answered with time to spare"
        );
        assert_eq!(f.limiter.limit(), 1.0, "a give-up is congestion");
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
