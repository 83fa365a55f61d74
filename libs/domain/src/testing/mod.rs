//! In-memory port implementations for unit tests (feature `testing`).
//!
//! They keep the adapters' conditional semantics: inserts refuse existing ids, status
//! changes check the allowed statuses and applied events, a reservation never oversells
//! and is recorded once per order, a notification is claimed once. Each store holds its
//! state behind one mutex, so every operation is atomic like a DynamoDB conditional write
//! or transaction.

use std::future::{ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::events::{Event, EventType};
use crate::ports::{Clock, EventPublisher, PublishError};

pub mod contract;
mod inventory;
mod notifications;
mod orders;

pub use inventory::InMemoryInventory;
pub use notifications::InMemoryNotifications;
pub use orders::InMemoryOrders;

#[cfg(test)]
mod properties_tests;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertions that follow.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(t))
    }

    /// 2026-11-26T12:00:00Z.
    pub fn default_time() -> Self {
        Self::at(
            Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    pub fn advance(&self, by: Duration) {
        let mut t = lock(&self.0);
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// Records published events; can be told to fail the next `n` publishes, cleanly or
/// ambiguously.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    events: Mutex<Vec<Event>>,
    fail_next: AtomicUsize,
    ambiguous_next: AtomicUsize,
    /// Publishes still to let through before one fails.
    fail_nth: Mutex<Option<usize>>,
    /// Orders whose every event fails to publish (a poison entry).
    poisoned: Mutex<Vec<crate::OrderId>>,
}

impl RecordingPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` publishes fail (and publish nothing).
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// The `n`th publish from now (1 = the next) fails; those before it go out.
    pub fn fail_nth(&self, n: usize) {
        *lock(&self.fail_nth) = n.checked_sub(1);
    }

    /// The next `n` publishes go out but report failure (a timeout after SNS accepted the
    /// message): the caller cannot tell them from a clean failure.
    pub fn ambiguous_next(&self, n: usize) {
        self.ambiguous_next.store(n, Ordering::SeqCst);
    }

    /// Every publish of an event of `order` fails from now on.
    pub fn poison(&self, order: &crate::OrderId) {
        lock(&self.poisoned).push(order.clone());
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    pub fn types(&self) -> Vec<EventType> {
        lock(&self.events).iter().map(Event::event_type).collect()
    }
}

impl EventPublisher for RecordingPublisher {
    fn publish(&self, event: &Event) -> impl Future<Output = Result<(), PublishError>> + Send {
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        let nth = {
            let mut left = lock(&self.fail_nth);
            match *left {
                Some(0) => {
                    *left = None;
                    true
                }
                Some(n) => {
                    *left = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        let poisoned = lock(&self.poisoned).contains(&event.order_id);
        let result = if poisoned || nth || take(&self.fail_next) {
            Err(PublishError::failed("injected publish failure"))
        } else if take(&self.ambiguous_next) {
            lock(&self.events).push(event.clone());
            Err(PublishError::busy(
                "injected timeout after the publish went out",
            ))
        } else {
            lock(&self.events).push(event.clone());
            Ok(())
        };
        ready(result)
    }
}

/// The text of a sample Lambda event in `events/lambda/` (the files `cargo lambda invoke
/// --data-file` takes), so handler tests run on the very payloads users invoke with.
pub fn lambda_sample_text(name: &str) -> String {
    let path = format!("{}/../../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// [`lambda_sample_text`], deserialized.
pub fn lambda_sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&lambda_sample_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
