//! The durable store. Everything is written here before anything acts on it.
//!
//! [`Store`] is a trait with two backends side by side: the embedded default
//! [`SqliteStore`] (`sqlite/`), and [`PgStore`] (`pg/`) on a PostgreSQL server shared by
//! several nodes (issue 10). Times are UTC; zones are IANA names.
//!
//! - [`traits`]: the doors, one per kind of user ([`Lifecycle`] and claims, [`AgentStore`],
//!   [`DoNotCallList`], [`Reads`] for reports and the panel, [`Retention`]); [`Store`] is
//!   them all, with the panel's logins ([`SessionStore`]). The job queues have theirs:
//!   [`TranscriptStore`] ([`jobs`]) and the outbox's cursors ([`WebhookLog`]).
//! - [`rules`]: everything both backends decide the same way (validation, lease arithmetic,
//!   the transition plan, decoding rows, the steps of every multi-statement write) and the
//!   doors themselves, written once over a statement executor each backend implements once
//!   (`rules::exec`), so a backend folder holds only its connection and its SQL.
//! - [`error`]: [`StoreError`], the database [`Fault`]s an admin acts on, [`Outage`].
//!
//! Claims: [`Lifecycle::claim_due`] moves due pending callbacks to `due` under a lease
//! (owner and expiry) in one transaction, and takes over active callbacks whose lease ran
//! out (a crashed owner). Every change a dispatcher makes to a leased callback names the owner, and
//! is refused when the lease is not held, so no callback is ever held by two owners at once.

mod error;
mod figures;
mod jobs;
mod pg;
mod rules;
mod sessions;
mod sqlite;
mod traits;
mod webhooks;

pub use error::{Fault, Outage, StoreError};
pub use figures::{Figures, Histogram};
pub use jobs::{JobState, Transcribed, TranscriptStore, TranscriptionJob};
pub use pg::{redact_url, Listener, PgStore};
pub use sessions::{PanelSession, SessionStore};
pub use sqlite::SqliteStore;
pub use traits::{AgentStore, DoNotCallList, Lifecycle, Reads, Retention, Store};
pub use webhooks::{OutboxEvent, Position, WebhookCursor, WebhookLog};

pub use rules::ddl::Engine;

/// The schema's migration steps, oldest first, as `engine` runs them: step `i` brings a
/// database from version `i` to `i + 1`. For the schema tests (`tests/store_schema.rs`),
/// which build a database at any version.
pub fn migration_steps(engine: Engine) -> Vec<String> {
    rules::schema::steps(engine)
}

/// Every door of the store, for a caller that holds a concrete backend
/// (`use callback_core::store::prelude::*`); `dyn Store` needs none of them.
pub mod prelude {
    pub use super::{
        AgentStore, DoNotCallList, Lifecycle, Reads, Retention, SessionStore, Store,
        TranscriptStore, WebhookLog,
    };
    pub use crate::transcribe::JobQueue;
}

use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, CallbackType, Leg, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Options of [`Lifecycle::create`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// When the same number already has a pending callback in the same queue, return that
    /// one (with the new remark appended) instead of creating a second.
    pub merge_pending: bool,
    /// `[start, end)` and capacity: refuse with [`StoreError::SlotFull`] when the slot already
    /// holds `capacity` live callbacks of the queue (checked in the same transaction).
    pub slot: Option<(DateTime<Utc>, DateTime<Utc>, u32)>,
    /// Who asked, written on the `created` or `merge` event of the trace.
    pub actor: Option<String>,
    /// A digest of the request as the client sent it, kept with its idempotency key: the
    /// same key replayed with another request is refused with
    /// [`StoreError::IdempotencyMismatch`] instead of answering with the first callback.
    pub request_hash: Option<String>,
}

/// What [`Lifecycle::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreateOutcome {
    /// A new callback was stored.
    Created,
    /// The idempotency key was seen before: this is the callback it created.
    Existing,
    /// The number already had a pending callback in the queue; the remark was appended to it.
    Merged,
}

/// A change of state, with the fields it may set.
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: State,
    /// Refuse with [`StoreError::StateChanged`] unless the callback is in this state.
    pub expect: Option<State>,
    /// The lease holder making the change. `None` is a person (fs_cli, HTTP): allowed unless
    /// a live lease is held by someone, except for the side exits (cancel/expire/fail),
    /// which always win and clear the lease.
    pub owner: Option<String>,
    /// A short verb for the trace: `cancel`, `reschedule`, `offer`, `retry`, ...
    pub action: String,
    /// Who asked (an agent id, `fs_cli`, an API key name).
    pub actor: Option<String>,
    /// Free text for the trace.
    pub detail: Option<String>,
    /// A new due time.
    pub due_at: Option<DateTime<Utc>>,
    /// A new queue (failover).
    pub queue: Option<String>,
    /// Reset the customer-attempt count (after a failover).
    pub reset_attempts: bool,
    /// Give back the customer attempt just made (a machine answered, and the queue says a
    /// machine does not count).
    pub refund_attempt: bool,
    /// A new customer number (E.164, already validated by the service).
    pub number: Option<String>,
    /// A new personal agent (`Some(None)`: back to any agent of the queue).
    pub agent: Option<Option<String>>,
    /// A new customer window (either end open), checked by the service.
    pub window: Option<crate::model::Window>,
    /// A new number type (`Some(None)`: none said, as for a new number given without one).
    pub number_type: Option<Option<crate::model::NumberType>>,
    /// Claim it before every other due callback, once (the panel's Call Now): adds
    /// [`FIRST_BOOST`] to its priority, which the next claim takes off again, so a priority
    /// a transcript tag gave it is kept.
    pub first: bool,
    /// A wait (for a ready agent, an opening of the queue, the customer's window): adds one
    /// to the callback's waits in a row, which any other transition resets.
    pub wait: bool,
    /// A failover to another queue: adds one to the callback's failovers.
    pub failover: bool,
    /// A new request type (a reschedule that changes it: now, after a delay, at a time).
    pub kind: Option<CallbackType>,
}

/// What [`Transition::first`] adds to a callback's priority until it is claimed: above any
/// priority a transcript tag rule gives (those stay below it).
pub const FIRST_BOOST: i32 = 1 << 30;

impl Transition {
    pub fn new(to: State, action: impl Into<String>) -> Self {
        Self {
            to,
            expect: None,
            owner: None,
            action: action.into(),
            actor: None,
            detail: None,
            due_at: None,
            queue: None,
            reset_attempts: false,
            refund_attempt: false,
            number: None,
            agent: None,
            window: None,
            number_type: None,
            first: false,
            wait: false,
            failover: false,
            kind: None,
        }
    }
}

/// One row of a callback's trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub callback_id: CallbackId,
    pub at: DateTime<Utc>,
    pub action: String,
    pub from: Option<State>,
    pub to: State,
    pub actor: Option<String>,
    pub detail: Option<String>,
}

/// Which callbacks to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub queue: Option<String>,
    pub state: Option<State>,
    pub number: Option<String>,
    /// Only those changed at or after this instant (the panel's recently finished).
    pub updated_since: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

/// The start of a leg, for [`Lifecycle::start_attempt`].
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub callback_id: CallbackId,
    pub leg: Leg,
    pub agent: Option<String>,
    pub call_uuid: Option<String>,
}

/// The end of a leg, for [`Lifecycle::finish_attempt`].
#[derive(Debug, Clone)]
pub struct AttemptEnd {
    pub answered_at: Option<DateTime<Utc>>,
    pub hangup_cause: String,
    pub result: AttemptResult,
}

/// A number on the do-not-call list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoNotCall {
    pub number: String,
    pub reason: Option<String>,
    pub added_at: DateTime<Utc>,
}

/// Whose callbacks the agent panel shows: every one, or those of some queues (teams) and
/// those personal to one agent.
#[derive(Debug, Clone, Default)]
pub struct PanelScope {
    /// Every callback (the other fields are then ignored).
    pub all: bool,
    pub queues: Vec<String>,
    pub agent: Option<String>,
}

/// The agent panel's lists, each read through an index and filtered by scope in SQL.
#[derive(Debug, Clone, Default)]
pub struct PanelLists {
    /// Waiting (requested, scheduled, rescheduled, due), by due time (requested ones, which
    /// have none, first by age); at most the limit.
    pub pending: Vec<CallbackRequest>,
    /// How many are waiting in scope (exact, not capped by the limit).
    pub pending_count: u64,
    /// Being dispatched now (offering, previewing, dialing, connected), by due time.
    pub active: Vec<CallbackRequest>,
    /// Finished (completed, failed, cancelled, expired) since the given instant, newest
    /// change first; at most the limit.
    pub recent: Vec<CallbackRequest>,
}

/// Counts of callbacks per queue and state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// `(queue, state, count)`, sorted.
    pub by_queue_state: Vec<(String, State, u64)>,
}

/// One offer of [`Lifecycle::start_offers`]: the callback in `offering` and its agent leg, or
/// why this one was refused.
pub type Offered = Result<(CallbackRequest, Attempt), StoreError>;

/// An agent's ready/away as last set on any node ([`AgentStore::set_agent_ready`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub id: String,
    pub ready: bool,
    /// When it was set.
    pub since: DateTime<Utc>,
    /// The node it was set on.
    pub node: String,
}

/// What every node needs to know of the agents before it offers: their ready/away, and
/// which of them have an agent leg open (offered or in a callback) on any node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentBoard {
    pub states: Vec<AgentRecord>,
    /// `(agent, callback)` of every open agent leg whose callback is leased, by agent.
    pub busy: Vec<(String, CallbackId)>,
}
