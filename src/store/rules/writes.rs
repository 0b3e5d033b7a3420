//! Every write of several steps, written once for both backends: the order of the steps,
//! the checks between them and the trace rows they leave. A backend gives the single
//! statements ([`Tx`], one transaction of its own) and runs these inside it; what differs
//! between backends (SQLite's single writer, PostgreSQL's row and advisory locks, its
//! notifications to the other nodes) stays behind the statements.

use super::{holds, merged_remark, plan, same_request, NewEvent};
use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Leg, Recording, TransitionError,
};
use crate::store::jobs::{tagging, Transcribed};
use crate::store::{AttemptEnd, CreateOptions, CreateOutcome, NewAttempt, StoreError, Transition};
use crate::transcribe::{Job, TagOutcome, TranscriptResult};

pub(crate) use super::tx::Tx;

/// See [`crate::store::Lifecycle::create`].
pub(crate) fn create(
    tx: &mut impl Tx,
    draft: &Draft,
    options: &CreateOptions,
    now: i64,
) -> Result<(CallbackRequest, CreateOutcome), StoreError> {
    if let Some(key) = &draft.idempotency_key {
        if let Some((id, hash)) = tx.find_by_key(key)? {
            same_request(hash.as_deref(), options.request_hash.as_deref())?;
            return Ok((tx.load(id)?, CreateOutcome::Existing));
        }
    }
    if options.merge_pending {
        if let Some(id) = tx.find_pending(&draft.number, &draft.queue)? {
            return merge(tx, id, draft, options, now);
        }
    }
    if let Some((start, end, capacity)) = options.slot {
        let used = tx.slot_used(&draft.queue, super::ceil_secs(start), super::ceil_secs(end))?;
        if used >= capacity {
            return Err(StoreError::SlotFull { start, capacity });
        }
    }
    let id = tx.insert_callback(draft, now)?;
    // What the IVR (or the client) gathered, in the trace from the first row.
    let data = (!draft.ivr_data.is_empty()).then(|| {
        let pairs: Vec<String> = draft
            .ivr_data
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("IVR data: {}", pairs.join(", "))
    });
    tx.insert_event(&NewEvent {
        callback_id: id,
        at: now,
        action: "created",
        from: None,
        to: draft.state,
        actor: options.actor.as_deref(),
        detail: data.as_deref(),
    })?;
    if let (Some(_), Some(hash)) = (&draft.idempotency_key, &options.request_hash) {
        tx.set_request_hash(id, hash)?;
    }
    queue_recording(tx, id, draft, now)?;
    tx.notify()?;
    Ok((tx.load(id)?, CreateOutcome::Created))
}

/// A repeated request folded into the waiting callback `id`: its remark and recording
/// added, with a `merge` trace row saying what was new.
fn merge(
    tx: &mut impl Tx,
    id: CallbackId,
    draft: &Draft,
    options: &CreateOptions,
    now: i64,
) -> Result<(CallbackRequest, CreateOutcome), StoreError> {
    let row = tx.load_for_update(id)?;
    let remark = merged_remark(row.remark.as_deref(), draft.remark.as_deref());
    if let Some(remark) = &remark {
        tx.set_remark(id, remark, now)?;
    }
    let mut added = Vec::new();
    if remark.is_some() {
        added.push("its remark".to_string());
    }
    if let Some(rec) = draft.recording.as_ref().filter(|r| !r.path.is_empty()) {
        added.extend(merge_recording(tx, &row, rec, now)?);
    }
    let detail = if added.is_empty() {
        "a repeated request, nothing new to add".to_string()
    } else {
        format!("a repeated request added {}", added.join(" and "))
    };
    tx.insert_event(&NewEvent {
        callback_id: id,
        at: now,
        action: "merge",
        from: Some(row.state),
        to: row.state,
        actor: options.actor.as_deref(),
        detail: Some(&detail),
    })?;
    Ok((tx.load(id)?, CreateOutcome::Merged))
}

/// Queues the transcription of a new callback's recording, in the transaction that stores
/// the callback: a stored recording never lacks its job, whatever crashes when.
pub(crate) fn queue_recording(
    tx: &mut impl Tx,
    id: CallbackId,
    d: &Draft,
    now: i64,
) -> Result<(), StoreError> {
    match d.recording.as_ref().filter(|r| !r.path.trim().is_empty()) {
        Some(rec) => tx.insert_job(id, &rec.path, now).map(drop),
        None => Ok(()),
    }
}

/// A repeated request brought a recording. The pending callback without one takes it as
/// its recording; one that has a recording keeps it, and the new one is transcribed too (its
/// transcript is appended to the callback's, see [`tagging`]). Either way it is queued, and
/// the returned words (for the trace) name the file, so no path is lost. The same file
/// again (a client retrying without an idempotency key) adds nothing.
fn merge_recording(
    tx: &mut impl Tx,
    row: &CallbackRequest,
    rec: &Recording,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let known = row.recording.as_ref().is_some_and(|r| r.path == rec.path)
        || tx.has_job(row.id, &rec.path)?;
    if known {
        return Ok(None);
    }
    if row.recording.is_none() {
        tx.set_recording(row.id, rec, now)?;
        tx.insert_job(row.id, &rec.path, now)?;
        Ok(Some(format!("its recording {}", rec.path)))
    } else {
        tx.insert_job(row.id, &rec.path, now)?;
        Ok(Some(format!(
            "a second recording {} (transcribed too, its text appended)",
            rec.path
        )))
    }
}

/// See [`crate::store::Lifecycle::attach_recording`].
pub(crate) fn attach_recording(
    tx: &mut impl Tx,
    id: CallbackId,
    recording: &Recording,
    actor: &str,
    now: i64,
) -> Result<CallbackRequest, StoreError> {
    let row = tx.load_for_update(id)?;
    if row.state.is_terminal() {
        return Err(StoreError::Transition(TransitionError {
            from: row.state,
            to: row.state,
        }));
    }
    if let Some(detail) = merge_recording(tx, &row, recording, now)? {
        tx.insert_event(&NewEvent {
            callback_id: id,
            at: now,
            action: "recording",
            from: Some(row.state),
            to: row.state,
            actor: Some(actor),
            detail: Some(&detail),
        })?;
    }
    tx.load(id)
}

/// A checked transition and its trace row, inside the caller's transaction.
pub(crate) fn apply_transition(
    tx: &mut impl Tx,
    id: CallbackId,
    change: &Transition,
    now: i64,
) -> Result<CallbackRequest, StoreError> {
    let row = tx.load_for_update(id)?;
    let planned = plan(&row, change, now)?;
    let to = planned.to;
    let updated = tx.update(id, &planned, now)?;
    tx.insert_event(&NewEvent {
        callback_id: id,
        at: now,
        action: &change.action,
        from: Some(row.state),
        to,
        actor: change.actor.as_deref().or(change.owner.as_deref()),
        detail: change.detail.as_deref(),
    })?;
    if !to.is_active() {
        // Out of a dispatch (cancelled during the preview, say): an agent leg still open
        // would hold its agent on every node forever (one open leg per agent).
        tx.close_agent_legs(id, now)?;
    }
    Ok(updated)
}

/// See [`crate::store::Lifecycle::transition`]: a callback waiting again is news for the
/// other nodes' dispatchers.
pub(crate) fn transition(
    tx: &mut impl Tx,
    id: CallbackId,
    change: &Transition,
    now: i64,
) -> Result<CallbackRequest, StoreError> {
    let r = apply_transition(tx, id, change, now)?;
    if r.state.is_pending() {
        tx.notify()?;
    }
    Ok(r)
}

/// A new leg by the lease holder, inside the caller's transaction. A customer leg uses up
/// a customer attempt; an agent leg offers the next one without using it up.
pub(crate) fn start_attempt(
    tx: &mut impl Tx,
    attempt: &NewAttempt,
    owner: &str,
    now: i64,
) -> Result<Attempt, StoreError> {
    let row = tx.load_for_update(attempt.callback_id)?;
    holds(&row, owner, now)?;
    let attempt_no = row.customer_attempts.saturating_add(1);
    if attempt.leg == Leg::Customer {
        tx.set_customer_attempts(row.id, attempt_no, now)?;
    }
    tx.insert_attempt(attempt, attempt_no, now)
}

/// See [`crate::store::Lifecycle::finish_attempt`]: the first report of a leg's end is the
/// true one; a late duplicate is refused. An agent leg's end frees its agent for any node.
pub(crate) fn finish_attempt(
    tx: &mut impl Tx,
    attempt_id: i64,
    end: &AttemptEnd,
    now: i64,
) -> Result<Attempt, StoreError> {
    let a = tx.load_attempt(attempt_id)?;
    if let Some(ended) = a.ended_at {
        return Err(super::invalid(
            "attempt_id",
            format!("attempt {attempt_id} already ended at {ended}"),
        ));
    }
    let done = tx.end_attempt(attempt_id, end, now)?;
    if a.leg == Leg::Agent {
        tx.notify()?;
    }
    Ok(done)
}

/// See [`crate::store::Agents::wrap_up`] (the number is checked before the transaction).
pub(crate) fn wrap_up(
    tx: &mut impl Tx,
    attempt_id: i64,
    result: Option<AttemptResult>,
    disposition: Option<&str>,
    note: Option<&str>,
    do_not_call: Option<(&str, &str)>,
    now: i64,
) -> Result<Attempt, StoreError> {
    if let Some((number, reason)) = do_not_call {
        tx.add_dnc(number, Some(reason), now)?;
    }
    set_disposition(tx, attempt_id, result, disposition, note)
}

/// An attempt's disposition; `None` keeps what is there: an agent correcting the note
/// does not erase the code.
pub(crate) fn set_disposition(
    tx: &mut impl Tx,
    attempt_id: i64,
    result: Option<AttemptResult>,
    disposition: Option<&str>,
    note: Option<&str>,
) -> Result<Attempt, StoreError> {
    tx.load_attempt(attempt_id)?;
    tx.set_disposition(attempt_id, result, disposition, note)
}

/// See [`crate::store::Retention::purge`].
pub(crate) fn purge(
    tx: &mut impl Tx,
    before: Option<i64>,
    only: Option<CallbackId>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let mut files = Vec::new();
    for (id, state, path) in tx.purgeable(only, before)? {
        // `updated_at` stays: the panel's "recently finished" list reads it, and months-old
        // callbacks must not come back there after a purge (the purge event records it).
        // The jobs keep their row without what was said, so the processing times
        // /metrics counts never go down; one still waiting is failed, so no worker
        // transcribes a deleted file.
        let jobs = tx.forget(id, now)?;
        let state = super::parse_state(&state, "purging")?;
        tx.insert_event(&NewEvent {
            callback_id: id,
            at: now,
            action: "purge",
            from: Some(state),
            to: state,
            actor: None,
            detail: Some(if only.is_some() {
                "recording and transcript deleted on request"
            } else {
                "recording and transcript deleted (retention)"
            }),
        })?;
        files.extend(path);
        files.extend(jobs);
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// See [`crate::store::TranscriptStore::complete_tagged`]: the job done, then (if its
/// callback still exists) what the transcript and the tag rules' `outcome` change on it,
/// with a `transcribed` trace row.
pub(crate) fn complete_tagged(
    tx: &mut impl Tx,
    job: &Job,
    result: &TranscriptResult,
    outcome: &TagOutcome,
    now: i64,
) -> Result<Transcribed, StoreError> {
    let segments = serde_json::to_string(&result.segments)
        .map_err(|e| StoreError::Backend(format!("encoding segments: {e}")))?;
    let changed = tx.job_done(job, result, &segments, now)?;
    super::held(job, changed)?;
    // A callback deleted meanwhile: the job is done, there is nothing to tag.
    let row = match tx.load_for_update(job.callback_id) {
        Ok(row) => row,
        Err(StoreError::NotFound(_)) => return Ok(Transcribed::nothing()),
        Err(e) => return Err(e),
    };
    let t = tagging(&row, result, outcome);
    tx.set_transcript(row.id, &t, now)?;
    tx.insert_event(&NewEvent {
        callback_id: row.id,
        at: now,
        action: "transcribed",
        from: Some(row.state),
        to: row.state,
        actor: Some("whisper"),
        detail: Some(&t.detail),
    })?;
    let mut out = t.out;
    out.request = Some(tx.load(row.id)?);
    Ok(out)
}

/// The methods of [`crate::store::Lifecycle`] that are a shared write: each checks its
/// input, then runs its steps in one transaction of the backend (`self.in_tx`, which makes
/// the backend's [`Tx`] of it). Stamped into each backend's `impl Lifecycle`, so the
/// backends do not repeat them.
macro_rules! lifecycle_writes {
    () => {
        fn create(
            &self,
            draft: &$crate::model::Draft,
            options: &$crate::store::CreateOptions,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<
            ($crate::model::CallbackRequest, $crate::store::CreateOutcome),
            $crate::store::StoreError,
        > {
            $crate::store::rules::validate(draft)?;
            self.in_tx("creating a callback", |w| {
                $crate::store::rules::writes::create(
                    w,
                    draft,
                    options,
                    $crate::store::rules::secs(now),
                )
            })
        }

        fn transition(
            &self,
            id: $crate::model::CallbackId,
            change: &$crate::store::Transition,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::model::CallbackRequest, $crate::store::StoreError> {
            $crate::store::rules::validate_transition(change)?;
            self.in_tx("applying a transition", |w| {
                $crate::store::rules::writes::transition(
                    w,
                    id,
                    change,
                    $crate::store::rules::secs(now),
                )
            })
        }

        fn start_attempt(
            &self,
            attempt: &$crate::store::NewAttempt,
            owner: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::model::Attempt, $crate::store::StoreError> {
            self.in_tx("starting an attempt", |w| {
                $crate::store::rules::writes::start_attempt(
                    w,
                    attempt,
                    owner,
                    $crate::store::rules::secs(now),
                )
            })
        }

        fn finish_attempt(
            &self,
            attempt_id: i64,
            end: &$crate::store::AttemptEnd,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::model::Attempt, $crate::store::StoreError> {
            self.in_tx("finishing an attempt", |w| {
                $crate::store::rules::writes::finish_attempt(
                    w,
                    attempt_id,
                    end,
                    $crate::store::rules::secs(now),
                )
            })
        }

        fn attach_recording(
            &self,
            id: $crate::model::CallbackId,
            recording: &$crate::model::Recording,
            actor: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::model::CallbackRequest, $crate::store::StoreError> {
            self.in_tx("attaching a recording", |w| {
                $crate::store::rules::writes::attach_recording(
                    w,
                    id,
                    recording,
                    actor,
                    $crate::store::rules::secs(now),
                )
            })
        }
    };
}
pub(crate) use lifecycle_writes;

/// The methods of [`crate::store::AgentStore`] that are a shared write (after-call work),
/// stamped into each backend's impl as [`lifecycle_writes`] is.
macro_rules! agent_writes {
    () => {
        fn set_disposition(
            &self,
            attempt_id: i64,
            result: Option<$crate::model::AttemptResult>,
            disposition: Option<&str>,
            note: Option<&str>,
        ) -> Result<$crate::model::Attempt, $crate::store::StoreError> {
            self.in_tx("setting a disposition", |w| {
                $crate::store::rules::writes::set_disposition(
                    w,
                    attempt_id,
                    result,
                    disposition,
                    note,
                )
            })
        }

        fn wrap_up(
            &self,
            attempt_id: i64,
            result: Option<$crate::model::AttemptResult>,
            disposition: Option<&str>,
            note: Option<&str>,
            do_not_call: Option<(&str, &str)>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::model::Attempt, $crate::store::StoreError> {
            if let Some((number, _)) = do_not_call {
                $crate::store::rules::check_number(number)?;
            }
            self.in_tx("storing after-call work", |w| {
                $crate::store::rules::writes::wrap_up(
                    w,
                    attempt_id,
                    result,
                    disposition,
                    note,
                    do_not_call,
                    $crate::store::rules::secs(now),
                )
            })
        }
    };
}
pub(crate) use agent_writes;

/// [`crate::store::DoNotCallList::dnc_add`], stamped into each backend's impl.
macro_rules! dnc_writes {
    () => {
        fn dnc_add(
            &self,
            number: &str,
            reason: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), $crate::store::StoreError> {
            $crate::store::rules::check_number(number)?;
            self.in_tx("adding to the do-not-call list", |w| {
                $crate::store::rules::writes::Tx::add_dnc(
                    w,
                    number,
                    reason,
                    $crate::store::rules::secs(now),
                )
            })
        }
    };
}
pub(crate) use dnc_writes;

/// [`crate::store::Retention`] and [`crate::store::TranscriptStore`] for a backend whose
/// `in_tx` runs a shared write: both are shared writes through and through.
macro_rules! job_writes {
    ($backend:ty) => {
        impl $crate::store::Retention for $backend {
            fn purge(
                &self,
                finished_before: Option<chrono::DateTime<chrono::Utc>>,
                only: Option<$crate::model::CallbackId>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<String>, $crate::store::StoreError> {
                self.in_tx("purging recordings and transcripts", |w| {
                    $crate::store::rules::writes::purge(
                        w,
                        finished_before.map($crate::store::rules::secs),
                        only,
                        $crate::store::rules::secs(now),
                    )
                })
            }
        }

        impl $crate::store::TranscriptStore for $backend {
            fn complete_tagged(
                &self,
                job: &$crate::transcribe::Job,
                result: &$crate::transcribe::TranscriptResult,
                rules: &$crate::transcribe::TagRules,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::Transcribed, $crate::store::StoreError> {
                let outcome = rules.apply(&result.text);
                self.in_tx("storing a transcript", |w| {
                    $crate::store::rules::writes::complete_tagged(
                        w,
                        job,
                        result,
                        &outcome,
                        $crate::store::rules::secs(now),
                    )
                })
            }

            fn callback_queue(
                &self,
                id: $crate::model::CallbackId,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                $crate::store::jobs::queue_of($crate::store::Lifecycle::get(self, id))
            }
        }
    };
}
pub(crate) use job_writes;
