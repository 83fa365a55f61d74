//! `orders-api` Lambda: the HTTP API for orders and products, on `lambda_http` (API Gateway
//! REST when deployed; `cargo lambda watch` serves the same handler as plain HTTP).
//!
//! Env: `ORDERS_TABLE`, `PRODUCTS_TABLE`, `ORDER_EVENTS_TOPIC_ARN` (required),
//! `FUNCTION_TIMEOUT_SECONDS` (this function's timeout: how long a request may still roll its
//! order back; default 29, API Gateway's limit), `STOCK_SHARDS` (shards of a new product's
//! stock; default 1), `USER_POOL_ISSUER` (the Cognito user pool whose access tokens are
//! accepted: `https://cognito-idp.<region>.amazonaws.com/<pool id>`), `USER_POOL_CLIENT_IDS`
//! (the app clients they may be issued to, comma-separated); the pool's keys are fetched from
//! the issuer, or from `AWS_ENDPOINT_URL` (an emulator) when that is set.

mod auth;
mod handler;

use lambda_http::{service_fn, Error, Request, RequestExt};
use orders_aws::config::process_env;
use orders_aws::deadline::time_left;
use orders_aws::{Clients, OrdersTable, ProductsTable, SnsPublisher};
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::SystemClock;
use std::time::Duration;

/// Margin on time comparisons between function instances (their clocks differ slightly).
const CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// 2020-01-01T00:00:00Z in epoch milliseconds: any real invocation deadline is later.
const EPOCH_MS_2020: u64 = 1_577_836_800_000;

/// Time kept back from the invocation's deadline to encode and return the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> Result<(), Error> {
    orders_aws::telemetry::init();
    orders_aws::metrics::init("orders-api");
    // Config and clients once per cold start; a missing variable fails the init loudly.
    let env = process_env();
    let orders_table = env.required("ORDERS_TABLE")?;
    let products_table = env.required("PRODUCTS_TABLE")?;
    let topic = env.required("ORDER_EVENTS_TOPIC_ARN")?;
    let timeout: u64 = env.parse_or("FUNCTION_TIMEOUT_SECONDS", 29)?;
    let shards: u64 = env.parse_or("STOCK_SHARDS", 1)?;
    let default_shards = ShardCount::new(shards, "STOCK_SHARDS")?;
    let trust = auth::Trust {
        issuer: env.required("USER_POOL_ISSUER")?,
        clients: env
            .required("USER_POOL_CLIENT_IDS")?
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let keys =
        auth::jwks::HttpJwks::new(&auth::jwks::jwks_url(&trust.issuer, endpoint.as_deref()))?;
    let verifier = auth::Verifier::new(trust, keys);
    // The first request should not pay for the key fetch (and its TLS handshake); a failure
    // here is retried by the first request that needs the keys.
    if let Err(e) = verifier.prefetch().await {
        tracing::warn!(error = %e, "user pool keys not fetched at start");
    }
    let clients = Clients::load().await;
    let api = handler::Api {
        orders: OrdersTable::new(clients.dynamodb.clone(), orders_table),
        products: ProductsTable::new(clients.dynamodb.clone(), products_table),
        publisher: SnsPublisher::new(clients.sns.clone(), topic),
        clock: SystemClock,
        writer_window: Duration::from_secs(timeout) + CLOCK_MARGIN,
        default_shards,
        auth: verifier,
    };
    let api = &api;
    let request_limit = Duration::from_secs(timeout).saturating_sub(ANSWER_MARGIN);
    lambda_http::run(service_fn(move |req: Request| async move {
        // Lambda gives the deadline in epoch ms; `cargo lambda watch` gives its timeout
        // instead (600000), so anything that is not an epoch time gets the function's own.
        let budget = match req.lambda_context_ref().map_or(0, |c| c.deadline) {
            deadline if deadline > EPOCH_MS_2020 => {
                time_left(deadline).saturating_sub(ANSWER_MARGIN)
            }
            _ => request_limit,
        };
        let resp = api.serve(req, budget).await;
        orders_aws::metrics::flush();
        Ok::<_, Error>(resp)
    }))
    .await
}
