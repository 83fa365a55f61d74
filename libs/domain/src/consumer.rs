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

/// Errors of the SQS consumers: every one fails the record so SQS retries it.
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

impl From<Unpublished> for ConsumerError {
    fn from(u: Unpublished) -> Self {
        ConsumerError::Publish(u.into())
    }
}
