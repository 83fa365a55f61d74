//! Test doubles for the batch runner (feature `testing`): a deferrer that keeps what it was
//! given, and a flow around it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::defer::{Deferral, Deferrer};
use crate::flow::Limiter;
use crate::sqs::Flow;

/// Keeps every deferral; `refuse` makes it send none (as SQS down would).
#[derive(Debug, Default)]
pub struct RecordingDeferrer {
    pub sent: Mutex<Vec<Deferral>>,
    pub refuse: bool,
}

impl RecordingDeferrer {
    /// The message ids deferred so far, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sent
            .lock()
            .map(|s| s.iter().map(|d| d.message_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

impl Deferrer for RecordingDeferrer {
    async fn defer(&self, batch: Vec<Deferral>, _until: Instant) -> Vec<String> {
        if self.refuse {
            return batch.into_iter().map(|d| d.message_id).collect();
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.extend(batch);
        }
        Vec::new()
    }
}

/// A flow of at most `concurrency` records, latency target 1 s, deferring into a recorder.
pub fn flow(concurrency: usize) -> Flow<RecordingDeferrer> {
    Flow {
        limiter: Limiter::new(concurrency, Duration::from_secs(1)),
        deferrer: RecordingDeferrer::default(),
    }
}
