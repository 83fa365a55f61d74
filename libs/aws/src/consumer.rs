//! The skeleton every SQS consumer function shares: tracing, configuration and SDK clients
//! once per cold start, then each batch through the batch runner with the invocation's
//! deadline. A consumer states only what differs: how to build itself, and what to do with
//! one event ([`EventConsumer`]).

use std::fmt::{Debug, Display};
use std::future::Future;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_domain::Event;
use tokio::time::Instant;

use crate::config::{process_env, ConfigError, ProcessEnv};
use crate::deadline::time_left;
use crate::sqs::{run_event_batch, BatchError};
use crate::Clients;

/// What one consumer does with one event of its queue.
pub trait EventConsumer: Send + Sync {
    type Output: Debug;
    type Error: Display;

    /// Handles `event`; the invocation must be answered by `deadline`.
    fn on_event(
        &self,
        event: Event,
        deadline: Instant,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// One SQS batch through `consumer`, at most `concurrency` records at a time.
pub async fn handle_batch<C: EventConsumer>(
    consumer: &C,
    batch: SqsEvent,
    concurrency: usize,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    run_event_batch(batch, concurrency, deadline, |event| {
        consumer.on_event(event, deadline)
    })
    .await
}

/// Runs a consumer function: `build` makes the consumer from the environment and the SDK
/// clients (once per cold start); `BATCH_CONCURRENCY` (default 8) bounds the records in flight.
/// `service` names the function in its metrics; they are flushed after every batch.
pub async fn serve<C, B>(service: &'static str, build: B) -> Result<(), Error>
where
    C: EventConsumer,
    B: FnOnce(&ProcessEnv, &Clients) -> Result<C, ConfigError>,
{
    crate::telemetry::init();
    crate::metrics::init(service);
    let env = process_env();
    let concurrency = env.batch_concurrency()?;
    let clients = Clients::load().await;
    let consumer = build(&env, &clients)?;
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = Instant::now() + time_left(event.context.deadline);
        let response = handle_batch(consumer, event.payload, concurrency, deadline).await;
        crate::metrics::flush();
        response
    }))
    .await
}
