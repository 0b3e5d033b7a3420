//! The outbox over the `events` table: the webhooks' and the customer notices' cursors
//! (the last event each delivered), their retry state and their delivery lease, in
//! `webhook_cursors`. The SQL is the backend's (`sqlite/webhooks.rs`, `pg/webhooks.rs`),
//! the lease arithmetic is [`super::rules::outbox`].
//!
//! Why a cursor and a lease, and not a claim per event: the trace rows are the outbox
//! already (written in the transaction of the change they report, so a crash loses
//! none), a receiver is promised them in order, and one cursor row per webhook is one
//! small update per delivery. Two questions make it safe on a server several nodes share:
//!
//! - *Which events are settled?* A reader must never move its cursor past an event a
//!   transaction still running will commit. With SQLite's single writer, ids follow
//!   commits, so the position is the id. On PostgreSQL ids come from a sequence at insert
//!   time, so a transaction that took id 7 may commit after one that took id 8 was read:
//!   a cursor on the id alone would skip 7 for ever. So each PostgreSQL event also records
//!   its transaction's id (`tx`, `pg_current_xact_id()`), events are read in `(tx, id)`
//!   order, and only from transactions older than the oldest one still running
//!   (`pg_snapshot_xmin`): every event before a position read is then final, committed
//!   or rolled back, and none can appear behind the cursor later.
//!   The order delivered is then that of the transactions' ids (given at a transaction's
//!   first write or row lock), not strictly of their commits: two changes of one
//!   callback arrive in the order they happened unless the later one came from a
//!   transaction that had already locked another row first (a batch). Receivers order
//!   by the event's `at` when it matters; none is lost or sent twice by this.
//! - *Who delivers?* Each cursor has a lease (owner, expiry): a worker delivers only while
//!   it holds it, and every move of the cursor names the owner and renews the lease, so
//!   two nodes never deliver the same webhook at once; a node that died mid-delivery is
//!   replaced when its lease runs out, and sends again at most the event it was sending
//!   (delivery is at least once; receivers deduplicate by event id).

use super::{Event, StoreError};
use chrono::{DateTime, Duration, Utc};

/// Where an event stands in the outbox's order: `(tx, id)`. `tx` is 0 on SQLite, whose
/// ids alone follow commits; on PostgreSQL it is the writing transaction's id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub tx: i64,
    pub id: i64,
}

/// Where one webhook (or notice) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursor {
    /// The last event delivered (a reminders' cursor keeps a due time, in seconds, in
    /// `last.id`).
    pub last: Position,
    /// Failed tries of the next event in a row.
    pub attempts: u32,
    /// Not before this instant (after a failure).
    pub next_try_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// An event to deliver, with the callback's queue and its place in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event: Event,
    pub queue: String,
    pub position: Position,
}

/// What the webhook and notice workers need of the store. `owner` names one running
/// worker (its node and a random part), `lease` how long a claim holds without renewal.
pub trait WebhookLog: Send + Sync {
    /// The webhook's cursor, made if missing: a webhook seen for the first time starts at
    /// the newest settled event (it is owed what happens from now on, not the history).
    fn webhook_cursor(&self, name: &str, now: DateTime<Utc>) -> Result<WebhookCursor, StoreError>;

    /// Takes, or renews, the delivery lease of `name` for `owner` until `now + lease`:
    /// the cursor when it was free, expired or already `owner`'s, `None` while another
    /// owner holds it. Makes the cursor if missing, as [`WebhookLog::webhook_cursor`].
    fn claim_webhook(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<WebhookCursor>, StoreError>;

    /// Up to `limit` settled events after `after`, in outbox order.
    fn events_after(&self, after: Position, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Delivered up to `to`: the cursor moves on (never back), the retry state is cleared
    /// and the lease renewed. `false` (nothing changed) when `owner` no longer holds it.
    fn webhook_delivered(
        &self,
        name: &str,
        owner: &str,
        to: Position,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError>;

    /// The next event failed: counted, tried again at `next_try_at`. `false` when `owner`
    /// no longer holds the lease.
    fn webhook_failed(
        &self,
        name: &str,
        owner: &str,
        error: &str,
        next_try_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up (a worker stopping), so another node need not wait for it.
    fn release_webhook(&self, name: &str, owner: &str) -> Result<(), StoreError>;
}
