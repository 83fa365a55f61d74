//! `outbox-sweeper` Lambda: scheduled every minute (and invokable by hand); republishes
//! order events left unpublished by a crash between the order write and the publish, and
//! rejects orders still `PENDING` after the pending timeout.
//!
//! Env: `ORDERS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required), `OUTBOX_GRACE_SECONDS`
//! (default 60), `PENDING_TIMEOUT_SECONDS` (default 900).

mod handler;

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::{Clients, OrdersTable, SnsPublisher};
use orders_domain::ports::SystemClock;
use orders_domain::{trace, TraceId};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    orders_aws::metrics::init("outbox-sweeper");
    let env = process_env();
    let orders = env.required("ORDERS_TABLE")?;
    let topic = env.required("ORDER_EVENTS_TOPIC_ARN")?;
    let grace: u64 = env.parse_or("OUTBOX_GRACE_SECONDS", 60)?;
    let pending_timeout: u64 = env.parse_or("PENDING_TIMEOUT_SECONDS", 900)?;
    let clients = Clients::load().await;
    let sweeper = handler::Sweeper {
        orders: OrdersTable::new(clients.dynamodb.clone(), orders),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
        grace: Duration::from_secs(grace),
        pending_timeout: Duration::from_secs(pending_timeout),
    };
    let sweeper = &sweeper;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // Orders this run ends (pending timeout) are traced to this invocation; outbox
            // events it republishes keep the trace they were written with.
            let trace = event
                .context
                .xray_trace_id
                .as_deref()
                .and_then(TraceId::from_xray_header);
            let run = trace::within(trace, sweeper.handle(event.payload)).await;
            let expired = handler::timed_out(&run);
            orders_aws::metrics::count(orders_aws::metrics::names::ORDERS_TIMED_OUT, expired);
            orders_aws::metrics::flush();
            run
        },
    ))
    .await
}
