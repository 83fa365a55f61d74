//! `orders-api` Lambda: API Gateway REST proxy for orders and products.
//!
//! Env: `ORDERS_TABLE`, `PRODUCTS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required),
//! `FUNCTION_TIMEOUT_SECONDS` (this function's timeout: how long a request may still roll its
//! order back; default 29, API Gateway's limit).

mod handler;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::deadline::time_left;
use orders_aws::{Clients, OrdersTable, ProductsTable, SnsPublisher};
use orders_domain::ports::SystemClock;
use std::time::Duration;

/// Margin on time comparisons between function instances (their clocks differ slightly).
const CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// Time kept back from the invocation's deadline to encode and return the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    // Config and clients once per cold start; a missing variable fails the init loudly.
    let env = process_env();
    let orders_table = env.required("ORDERS_TABLE")?;
    let products_table = env.required("PRODUCTS_TABLE")?;
    let topic = env.required("ORDER_EVENTS_TOPIC_ARN")?;
    let timeout: u64 = env.parse_or("FUNCTION_TIMEOUT_SECONDS", 29)?;
    let clients = Clients::load().await;
    let api = handler::Api {
        orders: OrdersTable::new(clients.dynamodb.clone(), orders_table),
        products: ProductsTable::new(clients.dynamodb.clone(), products_table),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
        writer_window: Duration::from_secs(timeout) + CLOCK_MARGIN,
    };
    let api = &api;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            let budget = time_left(event.context.deadline).saturating_sub(ANSWER_MARGIN);
            Ok::<_, Error>(api.handle_within(event.payload, budget).await)
        },
    ))
    .await
}
