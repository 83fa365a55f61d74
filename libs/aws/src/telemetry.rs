//! Tracing set-up: JSON lines when `AWS_LAMBDA_LOG_FORMAT=json` (Lambda's advanced logging
//! controls), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `info`), as
//! `lambda_runtime::tracing::init_default_subscriber` does, with one difference: a line
//! carries its innermost span only, not the list of every span around it. Our spans
//! (`sqs_message`, `request`) hold what a line needs (`message_id`, `order_id`, `trace_id`,
//! `request_id`); the list repeated them and the runtime's invocation span on every line, a
//! third of the log bytes an order cost (`make calls-per-order`).

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt;

/// Installs the global subscriber; call once at the top of `main`.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(LevelFilter::INFO);
    let collector = fmt().with_target(false).without_time().with_env_filter(
        EnvFilter::builder()
            .with_default_directive(level.into())
            .from_env_lossy(),
    );
    if json {
        collector
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        collector.init();
    }
}
