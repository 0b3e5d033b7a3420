//! The store's backend-neutral rules: what both backends decide the same way, so each
//! backend folder holds only its SQL.
//!
//! - this file: validation of what is stored, the lease arithmetic (whole epoch seconds,
//!   expiries rounded up), the transition [`plan`], idempotency and merge rules;
//! - [`rows`]: decoding a row of `callbacks`, `attempts`, `events` or `transcriptions`
//!   into the model, over any backend's row ([`rows::Columns`]);
//! - [`outbox`]: the outbox cursors' leases and moves; [`sessions`]: the panel sessions'
//!   expiry and renewal;
//! - [`exec`]: the statement executor both backends implement once ([`exec::Exec`],
//!   [`exec::Backend`]) and the texts their dialects write differently ([`exec::Dialect`]);
//!   the doors written once over it live with their rules (the sessions in [`sessions`],
//!   the outbox in [`outbox`], ...);
//! - [`sql`]: the statements both backends run as the same text;
//! - [`tx`]: the single statements those writes are made of ([`tx::Tx`]), over [`exec`];
//! - [`schema`]: the migration steps, written once in the words of [`ddl`], which renders
//!   them in each engine's dialect;
//! - [`writes`]: every multi-step write (create, transition, attempts, after-call work,
//!   purge, a transcript's tags) written once over a backend's transaction ([`writes::Tx`]).

pub(crate) mod agents;
pub(crate) mod ddl;
pub(crate) mod exec;
pub(crate) mod lifecycle;
pub(crate) mod outbox;
pub(crate) mod queue;
pub(crate) mod reads;
pub(crate) mod rows;
pub(crate) mod schema;
pub(crate) mod sessions;
pub(crate) mod sql;
pub(crate) mod tx;
pub(crate) mod writes;

use super::{PanelLists, StoreError, Transition};
use crate::model::{AttemptResult, CallbackId, CallbackRequest, CallbackType, Draft, State};
use crate::transcribe::{Job, Retry};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::str::FromStr;

// ---- validation ----------------------------------------------------------------------------

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field,
        message: message.into(),
    }
}

/// A state read outside a decoded row, e.g. the state a row had before an update.
pub(crate) fn parse_state(text: &str, doing: &str) -> Result<State, StoreError> {
    State::from_str(text).map_err(|e| StoreError::Backend(format!("{doing}: column state: {e}")))
}

/// A number the store keeps: E.164 (the service normalises what people type first).
pub(crate) fn check_number(number: &str) -> Result<(), StoreError> {
    if crate::number::is_e164(number) {
        Ok(())
    } else {
        Err(invalid(
            "number",
            format!("'{number}' is not an E.164 number (+ and 2 to 15 digits)"),
        ))
    }
}

/// Checks what the store relies on, whoever built the draft: a key that is safe to log and
/// index, a dialable number, a queue, and a state/due time the claim index can see.
pub(crate) fn validate(draft: &Draft) -> Result<(), StoreError> {
    if let Some(key) = &draft.idempotency_key {
        if key.is_empty() || key.len() > 160 {
            return Err(invalid(
                "idempotency_key",
                format!("must be 1 to 160 characters, not {}", key.chars().count()),
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(invalid(
                "idempotency_key",
                format!("{c:?} is not allowed (use letters, digits and . _ : -)"),
            ));
        }
    }
    check_number(&draft.number)?;
    validate_queue(&draft.queue)?;
    if draft.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(invalid(
            "time_zone",
            format!("'{}' is not an IANA time zone", draft.time_zone),
        ));
    }
    match (draft.state, draft.due_at) {
        (State::Scheduled, Some(_)) | (State::Requested, None) => Ok(()),
        (State::Scheduled, None) => Err(invalid("due_at", "a scheduled callback needs a due time")),
        (State::Requested, Some(_)) => Err(invalid(
            "due_at",
            "a requested callback has no due time yet (store it as scheduled)",
        )),
        (other, _) => Err(invalid(
            "state",
            format!("a new callback is requested or scheduled, not '{other}'"),
        )),
    }
}

pub(crate) fn validate_agent(agent: &str) -> Result<(), StoreError> {
    if agent.trim().is_empty() {
        return Err(invalid("agent", "must not be empty"));
    }
    Ok(())
}

pub(crate) fn validate_queue(queue: &str) -> Result<(), StoreError> {
    if queue.trim().is_empty() {
        return Err(invalid("queue", "must not be empty"));
    }
    Ok(())
}

/// What a transition may carry: a queue and a number the store keeps.
pub(crate) fn validate_transition(change: &Transition) -> Result<(), StoreError> {
    if let Some(q) = &change.queue {
        validate_queue(q)?;
    }
    if let Some(n) = &change.number {
        check_number(n)?;
    }
    Ok(())
}

/// What a claim of due callbacks may ask for; `Ok(false)`: nothing to claim (`limit` 0).
pub(crate) fn check_claim(owner: &str, ahead: Duration, limit: usize) -> Result<bool, StoreError> {
    if owner.is_empty() {
        return Err(invalid("owner", "must not be empty"));
    }
    if ahead < Duration::zero() {
        return Err(invalid("ahead", "must not be negative"));
    }
    Ok(limit > 0)
}

/// A job needs a recording to transcribe.
pub(crate) fn check_wav_path(wav_path: &str) -> Result<(), StoreError> {
    if wav_path.trim().is_empty() {
        return Err(invalid("wav_path", "empty recording path"));
    }
    Ok(())
}

/// A map as JSON, or NULL when empty (most requests carry none).
pub(crate) fn map_json(
    map: &BTreeMap<String, String>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    if map.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(map)
        .map(Some)
        .map_err(|e| invalid(field, e.to_string()))
}

/// Refuses an id no callback has.
pub(crate) fn exists(x: &mut dyn exec::Exec, id: CallbackId) -> Result<(), StoreError> {
    use exec::Query;
    x.row(
        "looking up a callback",
        sql::CALLBACK_EXISTS,
        &exec::params![id],
        |_| Ok(()),
    )?
    .ok_or(StoreError::NotFound(id))
}

// ---- time and leases -------------------------------------------------------------------------

/// Epoch seconds, truncated: what is stored for event and request times.
pub(crate) fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Epoch seconds rounded up: lease expiries and exclusive bounds, so the stored value is
/// never earlier than the instant it stands for.
pub(crate) fn ceil_secs(t: DateTime<Utc>) -> i64 {
    if t.timestamp_subsec_nanos() > 0 {
        t.timestamp() + 1
    } else {
        t.timestamp()
    }
}

pub(crate) fn lease_until(now: DateTime<Utc>, lease: Duration) -> Result<i64, StoreError> {
    now.checked_add_signed(lease)
        .map(ceil_secs)
        .ok_or_else(|| invalid("lease", format!("{lease} from {now} is out of range")))
}

/// When the scheduler should wake: the earlier of the first due time and the first lease
/// expiry (epoch seconds), if any.
pub(crate) fn next_wakeup(
    due: Option<i64>,
    lease: Option<i64>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next = match (due, lease) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    next.map(|s| {
        DateTime::from_timestamp(s, 0).ok_or_else(|| {
            StoreError::Backend(format!(
                "finding the next wake-up: column due_at/lease_expires: {s} is not a \
                 representable time"
            ))
        })
    })
    .transpose()
}

/// Whether `row` is held by someone at `now` (seconds): who, and until when.
pub(crate) fn live_lease(row: &CallbackRequest, now: i64) -> Option<(&str, DateTime<Utc>)> {
    match (&row.lease_owner, row.lease_expires) {
        (Some(owner), Some(until)) if secs(until) > now => Some((owner.as_str(), until)),
        _ => None,
    }
}

pub(crate) fn holds(row: &CallbackRequest, owner: &str, now: i64) -> Result<(), StoreError> {
    match live_lease(row, now) {
        Some((holder, _)) if holder == owner => Ok(()),
        _ => Err(StoreError::LeaseLost {
            id: row.id,
            owner: owner.to_string(),
        }),
    }
}

/// Refuses a write from a transcription worker that no longer holds the job.
pub(crate) fn held(job: &Job, changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost {
            id: job.callback_id,
            owner: format!("transcription job {} attempt {}", job.id, job.attempts),
        })
    }
}

/// The trace detail of a claim (key=value, so it reads for people and checks for tests).
pub(crate) fn claim_detail(until: i64) -> String {
    format!("lease_until={until}")
}

/// The trace detail of a reclaim: the new lease and the one that lapsed.
pub(crate) fn reclaim_detail(
    until: i64,
    previous: Option<&str>,
    previous_until: Option<i64>,
) -> String {
    format!(
        "lease_until={until} previous={} previous_until={}",
        previous.unwrap_or("-"),
        previous_until.map_or_else(|| "-".to_string(), |t| t.to_string()),
    )
}

// ---- create and merge ------------------------------------------------------------------------

/// Refuses an idempotency key replayed with another request than the one it first came
/// with. A row stored without a digest (before migration 8, or by a door that sends none)
/// and a replay without one are not compared: there is nothing to compare.
pub(crate) fn same_request(stored: Option<&str>, given: Option<&str>) -> Result<(), StoreError> {
    match (stored, given) {
        (Some(a), Some(b)) if a != b => Err(StoreError::IdempotencyMismatch),
        _ => Ok(()),
    }
}

/// Appends a repeated request's remark to the pending one's, once.
pub(crate) fn merged_remark(existing: Option<&str>, new: Option<&str>) -> Option<String> {
    let new = new.map(str::trim).filter(|r| !r.is_empty())?;
    match existing.filter(|e| !e.is_empty()) {
        None => Some(new.to_string()),
        Some(e) if e == new || e.split('\n').any(|line| line == new) => None,
        Some(e) => Some(format!("{e}\n{new}")),
    }
}

// ---- transitions -------------------------------------------------------------------------------

/// What a transition writes, decided from the current row by the lifecycle and lease
/// rules both backends share; each backend only writes it in its own SQL.
pub(crate) struct Planned<'a> {
    pub to: State,
    pub due_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<i64>,
    pub queue: &'a str,
    pub number: &'a str,
    pub agent: Option<&'a str>,
    /// The number's type, as its `as_str()`.
    pub number_type: Option<&'static str>,
    /// The customer's window, epoch seconds.
    pub window_from: Option<i64>,
    pub window_until: Option<i64>,
    pub attempts: u32,
    /// The dispatcher's counters after this transition.
    pub waits: u32,
    pub failovers: u32,
    /// Raise the priority by [`super::FIRST_BOOST`] (the panel's Call Now), once.
    pub first: bool,
    pub kind: CallbackType,
}

/// Checks `change` against `row` (expected state, lifecycle, lease, due time) and says
/// what to write.
pub(crate) fn plan<'a>(
    row: &'a CallbackRequest,
    change: &'a Transition,
    now_s: i64,
) -> Result<Planned<'a>, StoreError> {
    let id = row.id;
    if let Some(expected) = change.expect {
        if expected != row.state {
            return Err(StoreError::StateChanged {
                id,
                expected,
                actual: row.state,
            });
        }
    }
    let to = row.state.check(change.to)?;
    match &change.owner {
        Some(owner) => holds(row, owner, now_s)?,
        None => {
            let side_exit = matches!(to, State::Cancelled | State::Expired | State::Failed);
            if let (Some((holder, until)), false) = (live_lease(row, now_s), side_exit) {
                return Err(StoreError::Leased {
                    id,
                    owner: holder.to_string(),
                    until,
                });
            }
        }
    }
    let due_at = change.due_at.or(row.due_at).map(secs);
    if matches!(to, State::Scheduled | State::Rescheduled) && due_at.is_none() {
        return Err(invalid(
            "due_at",
            format!("a '{to}' callback needs a due time"),
        ));
    }
    let (lease_owner, lease_expires) = if !to.is_active() {
        // Waiting or finished: nobody holds it any more.
        (None, None)
    } else if change.owner.is_some() {
        (row.lease_owner.clone(), row.lease_expires.map(secs))
    } else {
        // A person moved it into an active state (e.g. "call now" on a due one):
        // leave it unowned with an expired lease so the next claim takes it over.
        (None, Some(now_s))
    };
    Ok(Planned {
        to,
        due_at,
        lease_owner,
        lease_expires,
        queue: change.queue.as_deref().unwrap_or(&row.queue),
        number: change.number.as_deref().unwrap_or(&row.number),
        agent: match &change.agent {
            Some(a) => a.as_deref(),
            None => row.agent.as_deref(),
        },
        number_type: change
            .number_type
            .unwrap_or(row.number_type)
            .map(|t| t.as_str()),
        window_from: change.window.unwrap_or(row.window).from.map(secs),
        window_until: change.window.unwrap_or(row.window).until.map(secs),
        attempts: if change.reset_attempts {
            0
        } else if change.refund_attempt {
            row.customer_attempts.saturating_sub(1)
        } else {
            row.customer_attempts
        },
        waits: if change.wait {
            row.counts.waits.saturating_add(1)
        } else {
            0
        },
        failovers: row
            .counts
            .failovers
            .saturating_add(u32::from(change.failover)),
        first: change.first,
        kind: change.kind.unwrap_or(row.kind),
    })
}

/// One row of a callback's trace, to be written.
pub(crate) struct NewEvent<'a> {
    pub callback_id: crate::model::CallbackId,
    pub at: i64,
    pub action: &'a str,
    pub from: Option<State>,
    pub to: State,
    pub actor: Option<&'a str>,
    pub detail: Option<&'a str>,
}

// ---- what reads and job claims make of their rows ---------------------------------------------

/// The order transcription jobs are claimed in (the same SQL on both backends; `t` is the
/// jobs table, `c` its callback): the job of the callback that falls due first (a waiting
/// or due one; its agent may be waiting for the transcript), then jobs of callbacks with
/// no time ahead (finished, or requested without one), oldest first.
pub(crate) const JOB_ORDER: &str = "CASE WHEN c.state IN ('requested', 'scheduled', \
    'rescheduled', 'due') AND c.due_at IS NOT NULL THEN 0 ELSE 1 END, \
    CASE WHEN c.state IN ('requested', 'scheduled', 'rescheduled', 'due') THEN c.due_at END, \
    t.next_try_at, t.id";

/// A job claimed until `until` (epoch seconds) from its stored id, callback, file and the
/// attempt count the claim just raised.
pub(crate) fn claimed_job(
    id: i64,
    callback_id: CallbackId,
    wav_path: String,
    attempts: i64,
    until: i64,
    now: DateTime<Utc>,
) -> Job {
    Job {
        id,
        callback_id,
        wav_path,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        lease_until: DateTime::from_timestamp(until, 0).unwrap_or(now),
    }
}

/// A failed job's next state and time: queued again at the retry time (rounded up: never
/// claimed before the promised time), or failed for good now.
pub(crate) fn after_failure(retry: Retry, now_s: i64) -> (&'static str, i64) {
    match retry {
        Retry::At(at) => ("queued", ceil_secs(at)),
        Retry::Never => ("failed", now_s),
    }
}

/// A mean duration in seconds as the database computed it (`None`: no rows).
pub(crate) fn mean_duration(avg_s: Option<f64>) -> Option<Duration> {
    avg_s.map(|s| Duration::milliseconds((s.max(0.0) * 1000.0) as i64))
}

/// Customer calls counted by result: a stored result the model does not know counts as
/// none, as a call still without one does.
pub(crate) fn result_counts(rows: Vec<(Option<String>, i64)>) -> Vec<(Option<AttemptResult>, u64)> {
    rows.into_iter()
        .map(|(r, n)| {
            (
                r.and_then(|r| r.parse().ok()),
                u64::try_from(n).unwrap_or(0),
            )
        })
        .collect()
}

/// The panel's lists of their four reads: waiting ones are the requested (by age), then the
/// due (the earliest of the waiting; requested ones have no due time), then the scheduled,
/// at most `limit`; the leased ones not yet due are the active list.
pub(crate) fn panel_lists(
    mut requested: Vec<CallbackRequest>,
    mut waiting: Vec<CallbackRequest>,
    leased: Vec<CallbackRequest>,
    recent: Vec<CallbackRequest>,
    pending_count: u64,
    limit: usize,
) -> PanelLists {
    let (due, active): (Vec<_>, Vec<_>) = leased.into_iter().partition(|r| r.state == State::Due);
    waiting.splice(0..0, due);
    requested.append(&mut waiting);
    requested.truncate(limit);
    PanelLists {
        pending: requested,
        pending_count,
        active,
        recent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lease_expiries_round_up_and_stored_times_truncate() {
        // A lease never ends earlier in the store than for its holder.
        let t = Utc.timestamp_opt(100, 1).unwrap();
        assert_eq!(secs(t), 100);
        assert_eq!(ceil_secs(t), 101);
        assert_eq!(ceil_secs(Utc.timestamp_opt(100, 0).unwrap()), 100);
        assert_eq!(lease_until(t, Duration::seconds(2)).unwrap(), 103);
    }

    #[test]
    fn a_repeated_remark_is_appended_once() {
        // Merging appends a new remark on its own line, and skips empty or known ones.
        assert_eq!(merged_remark(None, Some(" late ")), Some("late".into()));
        assert_eq!(merged_remark(Some("a"), Some("b")), Some("a\nb".into()));
        assert_eq!(merged_remark(Some("a\nb"), Some("b")), None);
        assert_eq!(merged_remark(Some("a"), Some("  ")), None);
        assert_eq!(merged_remark(Some("a"), None), None);
    }
}
