//! The webhook outbox over the `events` table: each webhook's cursor (the last event it
//! delivered) and retry state in `webhook_cursors`. Event ids grow in commit order (one
//! writer at a time), so "every event after the cursor" is exactly what is still owed.
//! The SQL is the backend's (`sqlite/webhooks.rs`).

use super::{Event, StoreError};
use chrono::{DateTime, Utc};

/// Where one webhook stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursor {
    /// The last event delivered (an `events.id`).
    pub last_event: i64,
    /// Failed tries of the next event in a row.
    pub attempts: u32,
    /// Not before this instant (after a failure).
    pub next_try_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// An event to deliver, with the callback's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event: Event,
    pub queue: String,
}

/// What the webhook worker needs of the store.
pub trait WebhookLog: Send + Sync {
    /// The webhook's cursor; a webhook seen for the first time starts at the newest event
    /// (it is owed what happens from now on, not the history).
    fn webhook_cursor(&self, name: &str, now: DateTime<Utc>) -> Result<WebhookCursor, StoreError>;
    /// Up to `limit` events after `after`, oldest first.
    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;
    /// `event` was delivered: the cursor moves on, the retry state is cleared.
    fn webhook_delivered(
        &self,
        name: &str,
        event: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The next event failed: counted, tried again at `next_try_at`.
    fn webhook_failed(
        &self,
        name: &str,
        error: &str,
        next_try_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
