//! What every SQS consumer's flow answers per event: done, skipped, or an error that fails
//! the record (so SQS redelivers it, then moves it to the queue's DLQ).

use crate::events::EventType;
use crate::outbox::Unpublished;
use crate::ports::{PublishError, StoreError};

/// What a consumer did with one event (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Work done; `published` is the event type sent, if any.
    Done { published: Option<EventType> },
    /// Nothing to do (duplicate, late, or not for this consumer); acknowledged.
    Skipped(&'static str),
}

/// Errors of the SQS consumers. A busy one ([`ConsumerError::is_busy`]) sends the record back
/// to its queue for later; any other fails it, so SQS retries it and then moves it to the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Another worker holds the claim on this notification.
    #[error("notification {0} is being sent by another worker")]
    InProgress(String),
}

impl ConsumerError {
    /// Not done because the dependencies were busy (a conflict that kept coming back,
    /// throttling, a call out of time, another worker on the same notification), not because
    /// anything is wrong with the message: it is worth doing again later, and is no failure.
    pub fn is_busy(&self) -> bool {
        match self {
            ConsumerError::Store(StoreError::Busy(_) | StoreError::Retry(_)) => true,
            ConsumerError::Store(_) => false,
            ConsumerError::Publish(e) => e.busy,
            ConsumerError::InProgress(_) => true,
        }
    }
}

impl From<Unpublished> for ConsumerError {
    fn from(u: Unpublished) -> Self {
        ConsumerError::Publish(u.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_errors_are_told_from_failures() {
        let busy = [
            ConsumerError::Store(StoreError::Busy("throttled".into())),
            ConsumerError::Store(StoreError::Retry("conflict".into())),
            ConsumerError::Publish(PublishError::busy("throttled")),
            ConsumerError::InProgress("e".into()),
        ];
        let failed = [
            ConsumerError::Store(StoreError::Backend("500".into())),
            ConsumerError::Store(StoreError::Refused("access denied".into())),
            ConsumerError::Store(StoreError::Corrupt {
                key: "k".into(),
                reason: "r".into(),
            }),
            ConsumerError::Publish(PublishError::failed("500")),
        ];
        assert!(busy.iter().all(ConsumerError::is_busy));
        assert!(!failed.iter().any(ConsumerError::is_busy));
    }
}
