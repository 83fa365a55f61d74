//! What the SDK's standard retry mode misses.
//!
//! SNS answers throttling with HTTP 429 and the code `Throttled` (`ThrottledException` in its
//! model). The Rust SDK's throttling list has `ThrottledException` and `Throttling`, not
//! `Throttled`, and 429 is not among its transient statuses, so out of the box a throttled
//! `Publish` fails at once. Seen with the local fault rule `sns:Publish:Throttled:1:every=2`:
//! no retry before this classifier, one retry after it.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

/// Classifies an HTTP 429 answer as a throttling error (retried with backoff).
#[derive(Debug, Default, Clone, Copy)]
pub struct TooManyRequestsIsThrottling;

impl ClassifyRetry for TooManyRequestsIsThrottling {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "HTTP 429 is throttling"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::http_status_code_classifier()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::interceptors::context::Input;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    fn classified(status: u16) -> RetryAction {
        let mut ctx = InterceptorContext::new(Input::erase(()));
        let status = StatusCode::try_from(status).expect("a valid status code");
        ctx.set_response(Response::new(status, SdkBody::empty()));
        TooManyRequestsIsThrottling.classify_retry(&ctx)
    }

    #[test]
    fn a_429_is_throttling_and_every_other_answer_is_left_to_the_sdk() {
        assert_eq!(classified(429), RetryAction::throttling_error());
        for status in [200, 400, 500, 503] {
            assert_eq!(
                classified(status),
                RetryAction::NoActionIndicated,
                "{status}"
            );
        }
    }

    #[test]
    fn no_answer_yet_is_left_to_the_sdk() {
        let ctx = InterceptorContext::new(Input::erase(()));
        assert_eq!(
            TooManyRequestsIsThrottling.classify_retry(&ctx),
            RetryAction::NoActionIndicated
        );
    }
}
