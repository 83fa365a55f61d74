//! Tracing set-up: JSON lines when `AWS_LAMBDA_LOG_FORMAT=json` (Lambda's advanced logging
//! controls), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `info`). Span fields
//! (`message_id`, `order_id`) appear on every line logged inside the span.

/// Installs the global subscriber; call once at the top of `main`.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
