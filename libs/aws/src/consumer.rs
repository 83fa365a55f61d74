//! The skeleton every SQS consumer function shares: tracing, configuration and SDK clients
//! once per cold start, then each batch through the batch runner with the invocation's
//! deadline and the container's flow control. A consumer states only what differs: how to
//! build itself, what to do with one event, and which records must not race ([`EventConsumer`]).

use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_domain::Event;
use tokio::time::Instant;

use crate::config::{process_env, ConfigError, ProcessEnv};
use crate::deadline::time_left;
use crate::defer::{Deferrer, SqsDeferrer};
use crate::flow::Limiter;
use crate::sqs::{run_event_batch, BatchError, Busy, Flow};
use crate::Clients;

/// A record slower than this tells the container's flow control that its dependencies queue.
/// Well above a loaded emulator's normal (~0.7 s a record): a target the healthy path misses
/// pins the limit at one and turns every batch into a queue inside the invocation.
pub const DEFAULT_LATENCY_TARGET: Duration = Duration::from_millis(2000);

/// What one consumer does with one event of its queue.
pub trait EventConsumer: Send + Sync {
    type Output: Debug;
    type Error: Display + Busy;

    /// Handles `event`; the invocation must be answered by `deadline`.
    fn on_event(
        &self,
        event: Event,
        deadline: Instant,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// The lanes of `event`: records of one batch that share a lane run one after the other,
    /// in batch order. By default its order: one order's events never race each other.
    fn lanes(&self, event: &Event) -> Vec<String> {
        vec![event.order_id.to_string()]
    }
}

/// One SQS batch through `consumer`, as the container's `flow` allows.
pub async fn handle_batch<C: EventConsumer, D: Deferrer>(
    consumer: &C,
    batch: SqsEvent,
    flow: &Flow<D>,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    run_event_batch(
        batch,
        flow,
        deadline,
        |event| consumer.lanes(event),
        |event| consumer.on_event(event, deadline),
    )
    .await
}

/// Runs a consumer function: `build` makes the consumer from the environment and the SDK
/// clients (once per cold start). `BATCH_CONCURRENCY` (default 8) is the most records in
/// flight, `FLOW_LATENCY_TARGET_MS` (default 2000) the record latency above which the container
/// runs fewer, `DEFER_QUEUE_URL` (required) the queue busy records go back to: the function's
/// own. `service` names the function in its metrics; they are flushed after every batch.
pub async fn serve<C, B>(service: &'static str, build: B) -> Result<(), Error>
where
    C: EventConsumer,
    B: FnOnce(&ProcessEnv, &Clients) -> Result<C, ConfigError>,
{
    crate::telemetry::init();
    crate::metrics::init(service);
    let env = process_env();
    let concurrency = env.batch_concurrency()?;
    let target: u64 = env.parse_or(
        "FLOW_LATENCY_TARGET_MS",
        DEFAULT_LATENCY_TARGET.as_millis() as u64,
    )?;
    let clients = Clients::load().await;
    let flow = Flow {
        limiter: Limiter::new(concurrency, Duration::from_millis(target)),
        deferrer: SqsDeferrer::new(clients.sqs.clone(), env.required("DEFER_QUEUE_URL")?),
    };
    let consumer = build(&env, &clients)?;
    let (consumer, flow) = (&consumer, &flow);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = Instant::now() + time_left(event.context.deadline);
        // Boxed: the batch future's type is deep enough to overflow rustc's layout queries.
        let response = Box::pin(handle_batch(consumer, event.payload, flow, deadline)).await;
        crate::metrics::flush();
        response
    }))
    .await
}

/// The batch behaviour every consumer gets from this skeleton, tested once here with the
/// sample batches users invoke with; each consumer's tests keep only what is its own.
#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use orders_domain::testing::lambda_sample;
    use orders_domain::EventType;

    use super::*;
    use crate::sqs::failed_ids;

    /// Records what it was given.
    #[derive(Default)]
    struct Recording {
        seen: Mutex<Vec<EventType>>,
    }

    #[derive(Debug)]
    struct Never;
    impl Display for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("never")
        }
    }
    impl Busy for Never {
        fn is_busy(&self) -> bool {
            false
        }
    }

    impl EventConsumer for Recording {
        type Output = ();
        type Error = Never;
        async fn on_event(&self, event: Event, _: Instant) -> Result<(), Never> {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(event.event_type());
            }
            Ok(())
        }
    }

    async fn run(c: &Recording, sample: &str) -> SqsBatchResponse {
        let later = Instant::now() + Duration::from_secs(10);
        handle_batch(c, lambda_sample(sample), &crate::testing::flow(4), later)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_poison_message_is_reported_by_id_and_its_batch_mates_are_handled() {
        let c = Recording::default();
        let resp = run(&c, "sqs-poison-batch.json").await;
        assert_eq!(failed_ids(&resp), ["7d1e2f3a-0000-4000-8000-000000000001"]);
        assert_eq!(*c.seen.lock().unwrap(), [EventType::OrderCancelled]);
    }

    #[test]
    fn an_events_lane_is_its_order_unless_the_consumer_says_otherwise() {
        let batch: SqsEvent = lambda_sample("sqs-poison-batch.json");
        let events: Vec<Event> = batch
            .records
            .iter()
            .filter_map(|r| serde_json::from_str(r.body.as_deref()?).ok())
            .collect();
        assert!(!events.is_empty());
        for event in &events {
            assert_eq!(
                Recording::default().lanes(event),
                [event.order_id.to_string()]
            );
        }
    }
}
