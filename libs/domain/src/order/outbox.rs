//! The outbox: an order's events not yet known to be published, stored with it.

use chrono::{DateTime, Utc};

use crate::events::Event;
use crate::ids::EventId;

/// Events written with the order in the same item, not yet known to be published, in the
/// order they are to be published. A transition appends to what is still pending, so an
/// unpublished event is never lost to a later write; the outbox is cleared only as a whole,
/// and only if nothing was appended since it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    pub events: Vec<Event>,
    /// When its first event was written; the sweeper republishes outboxes older than its
    /// grace period.
    pub since: DateTime<Utc>,
}

impl Outbox {
    pub fn new(events: Vec<Event>, since: DateTime<Utc>) -> Self {
        Outbox { events, since }
    }

    /// The first event's id: with the length, what identifies this outbox to a clear.
    pub fn first_id(&self) -> Option<&EventId> {
        self.events.first().map(|e| &e.id)
    }
}
