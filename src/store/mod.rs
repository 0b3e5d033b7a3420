//! The durable store. Everything is written here before anything acts on it.
//!
//! [`Store`] is a trait with two backends: the embedded default [`SqliteStore`], and
//! [`PgStore`] on a PostgreSQL server shared by several nodes (issue 10). Times are UTC; zones are IANA names.
//!
//! Claims: [`Store::claim_due`] moves due pending callbacks to `due` under a lease (owner +
//! expiry) in one transaction, and takes over active callbacks whose lease ran out (a
//! crashed owner). Every change a dispatcher makes to a leased callback names the owner, and
//! is refused when the lease is not held, so no callback is ever held by two owners at once.

mod figures;
mod pg;
mod pg_jobs;
mod pg_schema;
mod schema;
mod sqlite;
mod transcriptions;
mod webhooks;

pub use figures::{Figures, Histogram};
pub use pg::{redact_url, Listener, PgStore};
pub use sqlite::SqliteStore;
pub use transcriptions::{JobState, Transcribed, TranscriptStore, TranscriptionJob};
pub use webhooks::{OutboxEvent, WebhookCursor, WebhookLog};

use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Leg, State, TransitionError,
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("callback {0} not found")]
    NotFound(CallbackId),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("callback {id} is being dispatched by {owner} (lease until {until}); try again later")]
    Leased {
        id: CallbackId,
        owner: String,
        until: DateTime<Utc>,
    },
    #[error("callback {id} is no longer held by {owner}")]
    LeaseLost { id: CallbackId, owner: String },
    #[error("callback {id} is '{actual}', not '{expected}'")]
    StateChanged {
        id: CallbackId,
        expected: State,
        actual: State,
    },
    /// The agent already has a callback offered or in progress, on this node or another.
    #[error("agent {agent} already has a callback offered or in progress (on some node)")]
    AgentBusy { agent: String },
    #[error("the slot starting {start} is full ({capacity} callbacks)")]
    SlotFull { start: DateTime<Utc>, capacity: u32 },
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// An idempotency key seen before came with another request: a new request needs a
    /// new key (the first request's callback is not shown).
    #[error("this Idempotency-Key was first used with a different request body; send a new key for a new request")]
    IdempotencyMismatch,
    /// The database file or its disk failed (full, read-only, locked, I/O): nothing of
    /// the operation was stored; the same call may succeed once the fault is gone.
    #[error("{fault} ({doing}: {detail})")]
    Unavailable {
        fault: Fault,
        doing: &'static str,
        detail: String,
    },
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// The fault of the file or disk behind this error, if that is what it is.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            StoreError::Unavailable { fault, .. } => Some(*fault),
            _ => None,
        }
    }

    /// Whether the store (not the request) is at fault: an admin must act, the caller
    /// should try again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Backend(_)
        )
    }
}

/// A background loop's store outage (dispatcher, webhooks): said once when it starts or
/// its fault changes, and once when the loop works again, not on every retry.
#[derive(Debug, Default)]
pub struct Outage {
    current: Option<String>,
}

impl Outage {
    /// A failed turn of `who`'s loop. Returns whether it is a fault of the database or its
    /// disk (the loop should back off rather than spin).
    pub fn failed(&mut self, who: &str, e: &dyn std::fmt::Display, fault: Option<Fault>) -> bool {
        let key = fault.map_or_else(|| e.to_string(), |f| f.code().to_string());
        if self.current.as_deref() != Some(key.as_str()) {
            match fault {
                Some(_) => tracing::error!("{who}: {e}; retrying until it is fixed"),
                None => tracing::error!("{who}: {e}"),
            }
            self.current = Some(key);
        }
        fault.is_some()
    }

    /// A turn that worked.
    pub fn ok(&mut self, who: &str) {
        if self.current.take().is_some() {
            tracing::info!("{who}: working again");
        }
    }
}

/// What is wrong with the database or its disk, in words an admin acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SQLITE_FULL: the disk (or the file system holding the database) is full.
    Full,
    /// SQLITE_READONLY, or the file system is mounted read-only.
    ReadOnly,
    /// SQLITE_BUSY / SQLITE_LOCKED: another connection held the lock past the busy timeout.
    Busy,
    /// SQLITE_IOERR: the disk failed a read or write.
    Io,
    /// SQLITE_CANTOPEN: the file (or its -wal/-shm) cannot be opened or created.
    CannotOpen,
    /// SQLITE_CORRUPT / SQLITE_NOTADB.
    Corrupt,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Full => "the database is full (no space left on its disk)",
            Fault::ReadOnly => "the database is read-only",
            Fault::Busy => "the database is busy (locked by another connection)",
            Fault::Io => "disk I/O error on the database",
            Fault::CannotOpen => "the database file cannot be opened",
            Fault::Corrupt => "the database file is corrupt",
        }
    }

    /// A short kebab-case name for APIs and scripts.
    pub fn code(self) -> &'static str {
        match self {
            Fault::Full => "database-full",
            Fault::ReadOnly => "database-read-only",
            Fault::Busy => "database-busy",
            Fault::Io => "database-io-error",
            Fault::CannotOpen => "database-cannot-open",
            Fault::Corrupt => "database-corrupt",
        }
    }

    /// Faults after which the connection is reopened before the next use: a file opened
    /// read-only (the disk was read-only when it was opened) stays read-only, and a
    /// connection that saw I/O errors may hold stale locks or a stale -shm mapping.
    pub fn needs_reconnect(self) -> bool {
        matches!(self, Fault::ReadOnly | Fault::Io | Fault::CannotOpen)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of [`Store::create`].
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

/// What [`Store::create`] did.
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
    /// A new customer number (E.164, already validated by the service).
    pub number: Option<String>,
    /// A new personal agent (`Some(None)`: back to any agent of the queue).
    pub agent: Option<Option<String>>,
    /// Claim it before every other due callback, once (the panel's Call Now): adds
    /// [`FIRST_BOOST`] to its priority, which the next claim takes off again, so a priority
    /// a transcript tag gave it is kept.
    pub first: bool,
    /// A wait (for a ready agent, an opening of the queue, the customer's window): adds one
    /// to the callback's waits in a row, which any other transition resets.
    pub wait: bool,
    /// A failover to another queue: adds one to the callback's failovers.
    pub failover: bool,
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
            number: None,
            agent: None,
            first: false,
            wait: false,
            failover: false,
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

/// The start of a leg, for [`Store::start_attempt`].
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub callback_id: CallbackId,
    pub leg: Leg,
    pub agent: Option<String>,
    pub call_uuid: Option<String>,
}

/// The end of a leg, for [`Store::finish_attempt`].
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

/// One offer of [`Store::start_offers`]: the callback in `offering` and its agent leg, or
/// why this one was refused.
pub type Offered = Result<(CallbackRequest, Attempt), StoreError>;

/// An agent's ready/away as last set on any node ([`Store::set_agent_ready`]).
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

/// The durable store of callbacks, their traces, attempts and the do-not-call list.
pub trait Store: Send + Sync {
    /// Stores a validated request (one transaction: row + `created` event), or returns the
    /// existing one per the idempotency key / merge rule.
    fn create(
        &self,
        draft: &Draft,
        options: &CreateOptions,
        now: DateTime<Utc>,
    ) -> Result<(CallbackRequest, CreateOutcome), StoreError>;

    /// Stores many validated requests in one transaction (bulk import); no merging.
    fn create_batch(
        &self,
        drafts: &[Draft],
        now: DateTime<Utc>,
    ) -> Result<Vec<CallbackId>, StoreError>;

    fn get(&self, id: CallbackId) -> Result<CallbackRequest, StoreError>;

    /// The callbacks of `number` not finished yet (waiting or being dispatched), by id:
    /// what the per-number cap counts. The backends read it through their indexes.
    fn open_for_number(&self, number: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        Ok(self
            .list(&ListFilter {
                number: Some(number.to_string()),
                ..ListFilter::default()
            })?
            .into_iter()
            .filter(|r| !r.state.is_terminal())
            .collect())
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError>;

    /// The trace of one callback, oldest first.
    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError>;

    /// Applies a checked transition and writes its event, in one transaction.
    fn transition(
        &self,
        id: CallbackId,
        change: &Transition,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError>;

    /// Claims up to `limit` callbacks for `owner` until `now + lease`: pending ones whose due
    /// time has come (moved to `due`, oldest due first) and active ones whose lease expired
    /// (state kept, taken over). One transaction; each claim writes an event.
    fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        self.claim_due_ahead(owner, now, Duration::zero(), lease, limit)
    }

    /// [`Store::claim_due`], also taking callbacks that fall due, or whose lease expires,
    /// up to `ahead` after `now` (a dispatcher that wakes a little early: it must find what
    /// it woke for). The claim is what happened at `now`: its events and the new lease are
    /// stamped at `now`, never at the later instant it looked up to, so a trace never
    /// lists a claim later than the offer it led to.
    fn claim_due_ahead(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ahead: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<CallbackRequest>, StoreError>;

    /// Extends a lease `owner` holds; [`StoreError::LeaseLost`] if it does not hold it.
    fn renew_lease(
        &self,
        id: CallbackId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<(), StoreError>;

    /// The earliest due time among pending callbacks, or the earliest lease expiry of active
    /// ones, whichever is sooner: when the scheduler should wake next.
    fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Live callbacks of `queue` due in `[start, end)` (slot capacity).
    fn count_due_between(
        &self,
        queue: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u32, StoreError>;

    /// Records the start of a leg by the lease holder; returns the attempt id. A customer leg
    /// increments the callback's customer-attempt count in the same transaction.
    fn start_attempt(
        &self,
        attempt: &NewAttempt,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError>;

    /// The dispatcher's offers of one turn, in one transaction: for each callback, its
    /// transition (to `offering`) then the start of its agent leg, as [`Store::transition`]
    /// and [`Store::start_attempt`] would. Each offer stands or falls alone (a refused one
    /// leaves no trace and gets its error); all are committed at once, so a burst of due
    /// callbacks costs one commit instead of two per callback.
    fn start_offers(
        &self,
        offers: &[(CallbackId, Transition, NewAttempt)],
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Offered>, StoreError>;

    fn finish_attempt(
        &self,
        attempt_id: i64,
        end: &AttemptEnd,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError>;

    /// Records an agent ready or away, as set on `node` (shared by every node).
    fn set_agent_ready(
        &self,
        agent: &str,
        ready: bool,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The agents' recorded states, and the open agent legs of callbacks still leased at
    /// `now` (a dead node's legs stop holding their agents when its lease lapses; the
    /// recovery of the callback closes them). Read before each dispatch turn.
    fn agent_board(&self, now: DateTime<Utc>) -> Result<AgentBoard, StoreError>;

    /// Sets the agent's after-call disposition and note on an attempt.
    fn set_disposition(
        &self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
    ) -> Result<Attempt, StoreError>;

    /// An agent's after-call work: [`Store::set_disposition`] on the attempt and, when
    /// `do_not_call` gives `(number, reason)`, [`Store::dnc_add`], in one transaction.
    fn wrap_up(
        &self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
        do_not_call: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError>;

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError>;

    fn dnc_add(
        &self,
        number: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError>;
    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError>;
    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError>;

    fn stats(&self) -> Result<Stats, StoreError>;

    /// Durable totals for `/metrics`: attempt results, transcription jobs, and the
    /// transcriptions' processing times per the bounds given (milliseconds).
    fn figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError>;

    /// Gives an existing, unfinished callback a recording (uploaded later, e.g. by a mobile
    /// app) and queues its transcription, with a `recording` event, in one transaction.
    /// One that already has a recording keeps it; the new one is transcribed too.
    fn attach_recording(
        &self,
        id: CallbackId,
        recording: &crate::model::Recording,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError>;

    /// Forgets what callers said: the recording reference and transcript of `only` (any
    /// state), or of every callback finished (completed, cancelled, expired, failed) before
    /// `finished_before`; their transcription jobs keep only their state and timing (a job
    /// still waiting is failed), and each callback gets a `purge` trace row. One
    /// transaction. Returns the recording files to delete.
    fn purge(
        &self,
        finished_before: Option<DateTime<Utc>>,
        only: Option<CallbackId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;

    /// How long agents of `queue` spent on a callback lately: the mean duration of its last
    /// `last` answered agent legs (the preview and the call), or `None` without history.
    fn handling_time(&self, queue: &str, last: usize) -> Result<Option<Duration>, StoreError>;

    /// The newest trace row's id (0 when there is none): it grows with every change, so a
    /// watcher (the panel's live updates) compares it instead of reading the changes.
    fn last_event_id(&self) -> Result<i64, StoreError>;

    /// The agent panel's lists in `scope`: at most `limit` rows each.
    fn panel_lists(
        &self,
        scope: &PanelScope,
        finished_since: DateTime<Utc>,
        limit: usize,
    ) -> Result<PanelLists, StoreError>;

    /// Customer calls of `queue` that ended at or after `since`, counted by result
    /// (`None`: still without one), for the operator view.
    fn results_since(
        &self,
        queue: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Option<AttemptResult>, u64)>, StoreError>;

    /// The latest transcription job of a callback (a backend without transcription: none).
    fn transcription(&self, _id: CallbackId) -> Result<Option<TranscriptionJob>, StoreError> {
        Ok(None)
    }
}
