//! The store's doors, one trait per kind of user, and [`Store`], all of them together: the
//! trait every backend implements and every front end holds (`Arc<dyn Store>`), so a
//! method of any door is called on it as before. A caller holding a concrete backend
//! brings the doors it uses into scope (`use callback_core::store::prelude::*`).

use super::{
    AgentBoard, AttemptEnd, CreateOptions, CreateOutcome, DoNotCall, Event, Figures, ListFilter,
    NewAttempt, Offered, PanelLists, PanelScope, SessionStore, Stats, StoreError, TranscriptionJob,
    Transition,
};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Recording};
use chrono::{DateTime, Duration, Utc};

/// A callback's life and its claims: what the capture doors (dialplan, HTTP, fs_cli) and
/// the dispatcher write. Every change is one transaction with its trace row.
pub trait Lifecycle {
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

    /// [`Lifecycle::claim_due`], also taking callbacks that fall due, or whose lease expires,
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
    /// transition (to `offering`) then the start of its agent leg, as [`Lifecycle::transition`]
    /// and [`Lifecycle::start_attempt`] would. Each offer stands or falls alone (a refused one
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

    /// Gives an existing, unfinished callback a recording (uploaded later, e.g. by a mobile
    /// app) and queues its transcription, with a `recording` event, in one transaction.
    /// One that already has a recording keeps it; the new one is transcribed too.
    fn attach_recording(
        &self,
        id: CallbackId,
        recording: &Recording,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError>;
}

/// The agents as every node sees them (ready/away, who is on a leg) and their after-call
/// work: what the dispatcher reads before each turn and the panel writes after a call.
pub trait AgentStore {
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

    /// An agent's after-call work: [`AgentStore::set_disposition`] on the attempt and, when
    /// `do_not_call` gives `(number, reason)`, [`DoNotCallList::dnc_add`], in one transaction.
    fn wrap_up(
        &self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
        do_not_call: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError>;

    /// How long agents of `queue` spent on a callback lately: the mean duration of its last
    /// `last` answered agent legs (the preview and the call), or `None` without history.
    fn handling_time(&self, queue: &str, last: usize) -> Result<Option<Duration>, StoreError>;
}

/// The do-not-call list, checked at dispatch time.
pub trait DoNotCallList {
    fn dnc_add(
        &self,
        number: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError>;

    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError>;

    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError>;
}

/// What fs_cli, the REST API, the panel and `/metrics` read: lists, traces, counts.
pub trait Reads {
    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError>;

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

    /// The trace of one callback, oldest first.
    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError>;

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError>;

    fn stats(&self) -> Result<Stats, StoreError>;

    /// Durable totals for `/metrics`: attempt results, transcription jobs, and the
    /// transcriptions' processing times per the bounds given (milliseconds).
    fn figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError>;

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

/// Forgetting what callers said when its time is up (the retention job, or on request).
pub trait Retention {
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
}

/// The durable store of callbacks, their traces, attempts, agents and the do-not-call
/// list, the panel's sessions: every door at once, implemented by each backend through
/// its doors.
pub trait Store:
    Lifecycle + AgentStore + DoNotCallList + Reads + Retention + SessionStore + Send + Sync
{
}

impl<
        T: Lifecycle + AgentStore + DoNotCallList + Reads + Retention + SessionStore + Send + Sync,
    > Store for T
{
}
