//! `orders-api` Lambda: API Gateway REST proxy for orders and products.
//!
//! Env: `ORDERS_TABLE`, `PRODUCTS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required).

mod handler;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orders_aws::config::process_env;
use orders_aws::{Clients, OrdersTable, ProductsTable, SnsPublisher};
use orders_domain::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    // Config and clients once per cold start; a missing variable fails the init loudly.
    let env = process_env();
    let orders_table = env.required("ORDERS_TABLE")?;
    let products_table = env.required("PRODUCTS_TABLE")?;
    let topic = env.required("ORDER_EVENTS_TOPIC_ARN")?;
    let clients = Clients::load().await;
    let api = handler::Api {
        orders: OrdersTable::new(clients.dynamodb.clone(), orders_table),
        products: ProductsTable::new(clients.dynamodb.clone(), products_table),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
    };
    let api = &api;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            Ok::<_, Error>(api.handle(event.payload).await)
        },
    ))
    .await
}
