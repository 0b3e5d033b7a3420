//! The single statements the shared writes (`writes`) are made of ([`Tx`]), written once
//! over a backend's [`Exec`]: the same text on both (`$N` in order of first appearance, as
//! in `sql`), or its dialect's where one reads through its own indexes or locks rows. A
//! backend writes only what it does its own way: storing a callback and a leg (their
//! constraint errors), and, for PostgreSQL, the
//! advisory locks that serialise creators ([`Tx::serialise`]).

use super::exec::{params, Exec, Query};
use super::rows::{self, attempt_columns, callback_columns, int, text};
use super::{invalid, map_json, sql, NewEvent, Planned};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Recording, State};
use crate::store::jobs::Tagging;
use crate::store::{AttemptEnd, NewAttempt, StoreError};
use crate::transcribe::{Job, JobId, TranscriptResult};

/// What a create serialises on where several writers may create at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serial {
    /// An idempotency key.
    Key,
    /// A number, when merging a repeated request.
    Number,
    /// A queue, when checking a slot's capacity.
    Queue,
}

/// A callback by id (`$1`).
pub(crate) const CALLBACK_BY_ID: &str = concat!(
    "SELECT ",
    callback_columns!(),
    " FROM callbacks WHERE id = $1"
);

/// Writes a planned transition of the callback `$17`; `$16`: add [`crate::store::FIRST_BOOST`]
/// to its priority (the test below keeps the number right).
const UPDATE: &str = concat!(
    "UPDATE callbacks SET state = $1, due_at = $2, queue = $3, customer_attempts = $4, \
     lease_owner = $5, lease_expires = $6, updated_at = $7, number = $8, agent = $9, \
     waits = $10, failovers = $11, window_from = $12, window_until = $13, \
     number_type = $14, kind = $15, \
     priority = CASE WHEN $16 AND priority < 1073741824 \
                THEN priority + 1073741824 ELSE priority END \
     WHERE id = $17 RETURNING ",
    callback_columns!()
);

const END_ATTEMPT: &str = concat!(
    "UPDATE attempts SET answered_at = $1, ended_at = $2, hangup_cause = $3, result = $4 \
     WHERE id = $5 RETURNING ",
    attempt_columns!()
);

const SET_DISPOSITION: &str = concat!(
    "UPDATE attempts SET result = coalesce($1, result), \
     disposition = coalesce($2, disposition), note = coalesce($3, note) \
     WHERE id = $4 RETURNING ",
    attempt_columns!()
);

const FIND_BY_KEY: &str = "SELECT id, request_hash FROM callbacks WHERE idempotency_key = $1";
const SET_REQUEST_HASH: &str = "UPDATE callbacks SET request_hash = $1 WHERE id = $2";
const SET_REMARK: &str = "UPDATE callbacks SET remark = $1, updated_at = $2 WHERE id = $3";
const HAS_JOB: &str = "SELECT 1 FROM transcriptions WHERE callback_id = $1 AND wav_path = $2";
const SET_RECORDING: &str = "UPDATE callbacks SET recording_path = $1, recording_ms = $2, \
     recording_rate = $3, updated_at = $4 WHERE id = $5";
const CLOSE_AGENT_LEGS: &str = "UPDATE attempts SET ended_at = $1, \
     hangup_cause = 'CALLBACK_ENDED', result = 'error' \
     WHERE callback_id = $2 AND leg = 'agent' AND ended_at IS NULL";
const SET_CUSTOMER_ATTEMPTS: &str =
    "UPDATE callbacks SET customer_attempts = $1, updated_at = $2 WHERE id = $3";
/// Adding twice keeps the first date (when the customer first asked); a new reason
/// replaces the old one.
const ADD_DNC: &str = "INSERT INTO do_not_call (number, reason, added_at) VALUES ($1, $2, $3) \
     ON CONFLICT (number) DO UPDATE \
     SET reason = coalesce(excluded.reason, do_not_call.reason)";
const FORGET_CALLBACK: &str = "UPDATE callbacks SET recording_path = NULL, \
     recording_ms = NULL, recording_rate = NULL, transcript_text = NULL, \
     transcript_language = NULL WHERE id = $1";
const JOB_FILES: &str = "SELECT wav_path FROM transcriptions \
     WHERE callback_id = $1 AND wav_path <> '' ORDER BY id";
const SET_TRANSCRIPT: &str = "UPDATE callbacks SET transcript_text = $1, \
     transcript_language = $2, tags = $3, queue = $4, priority = $5, updated_at = $6 \
     WHERE id = $7";

/// Live callbacks of the queue `$1` due in `[$2, $3)`, through the backend's dialect.
pub(crate) fn count_slot(
    x: &mut (impl Exec + ?Sized),
    queue: &str,
    start: i64,
    end: i64,
) -> Result<u32, StoreError> {
    let sql = &x.dialect().slot_count;
    let n = x.one("counting a slot", sql, &params![queue, start, end], |r| {
        int(r, 0, "count")
    })?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The statements of one backend's transaction that the shared writes are made of.
pub(crate) trait Tx: Exec {
    /// Serialises creators on `value` until the transaction ends (nothing where one
    /// writer at a time is all there is).
    fn serialise(&mut self, _on: Serial, _value: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// A new callback row; an idempotency key already used is an invalid
    /// `idempotency_key`.
    fn insert_callback(&mut self, draft: &Draft, now: i64) -> Result<CallbackId, StoreError>;

    /// A trace row.
    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<(), StoreError> {
        self.execute(
            "writing the trace",
            INSERT_EVENT,
            &params![
                e.callback_id,
                e.at,
                e.action,
                e.from.map(State::as_str),
                e.to.as_str(),
                e.actor,
                e.detail
            ],
        )
        .map(drop)
    }

    /// A new leg row; an agent with an open leg already is [`StoreError::AgentBusy`].
    fn insert_attempt(
        &mut self,
        attempt: &NewAttempt,
        attempt_no: u32,
        now: i64,
    ) -> Result<Attempt, StoreError>;

    /// A callback as it is now.
    fn load(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        self.row("reading a callback", CALLBACK_BY_ID, &params![id], |r| {
            rows::callback(r)
        })?
        .ok_or(StoreError::NotFound(id))
    }

    /// A callback that a change follows (PostgreSQL locks its row for the transaction).
    fn load_for_update(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        let sql = &self.dialect().callback_for_update;
        self.row("reading a callback", sql, &params![id], |r| {
            rows::callback(r)
        })?
        .ok_or(StoreError::NotFound(id))
    }

    /// The callback an idempotency key made, and the digest of its request.
    fn find_by_key(
        &mut self,
        key: &str,
    ) -> Result<Option<(CallbackId, Option<String>)>, StoreError> {
        self.serialise(Serial::Key, key)?;
        self.row(
            "looking up the idempotency key",
            FIND_BY_KEY,
            &params![key],
            |r| Ok((int(r, 0, "id")?, r.text(1, "request_hash")?)),
        )
    }

    /// The oldest waiting callback of `number` in `queue`, to merge a repeated request into.
    fn find_pending(
        &mut self,
        number: &str,
        queue: &str,
    ) -> Result<Option<CallbackId>, StoreError> {
        self.serialise(Serial::Number, number)?;
        let sql = &self.dialect().pending_of_number;
        self.row(
            "looking for a pending callback to merge into",
            sql,
            &params![number, queue],
            |r| int(r, 0, "id"),
        )
    }

    /// Live callbacks of `queue` due in `[start, end)` (epoch seconds), for a create that
    /// must not overfill a slot.
    fn slot_used(&mut self, queue: &str, start: i64, end: i64) -> Result<u32, StoreError> {
        self.serialise(Serial::Queue, queue)?;
        count_slot(self, queue, start, end)
    }

    fn set_request_hash(&mut self, id: CallbackId, hash: &str) -> Result<(), StoreError> {
        self.execute(
            "storing the request digest",
            SET_REQUEST_HASH,
            &params![hash, id],
        )
        .map(drop)
    }

    fn set_remark(&mut self, id: CallbackId, remark: &str, now: i64) -> Result<(), StoreError> {
        self.execute("merging a remark", SET_REMARK, &params![remark, now, id])
            .map(drop)
    }

    /// Whether the callback already has a transcription job of this file.
    fn has_job(&mut self, id: CallbackId, wav_path: &str) -> Result<bool, StoreError> {
        self.row(
            "merging a recording",
            HAS_JOB,
            &params![id, wav_path],
            |_| Ok(()),
        )
        .map(|found| found.is_some())
    }

    fn set_recording(
        &mut self,
        id: CallbackId,
        rec: &Recording,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "merging a recording",
            SET_RECORDING,
            &params![rec.path.as_str(), rec.duration_ms, rec.sample_rate, now, id],
        )
        .map(drop)
    }

    fn insert_job(
        &mut self,
        id: CallbackId,
        wav_path: &str,
        now: i64,
    ) -> Result<JobId, StoreError> {
        self.one(
            "queueing a transcription",
            sql::JOB_INSERT,
            &params![id, wav_path, now],
            |r| int(r, 0, "id"),
        )
    }

    /// Writes a planned transition; the callback as it is then.
    fn update(
        &mut self,
        id: CallbackId,
        p: &Planned<'_>,
        now: i64,
    ) -> Result<CallbackRequest, StoreError> {
        self.one(
            "applying a transition",
            UPDATE,
            &params![
                p.to.as_str(),
                p.due_at,
                p.queue,
                p.attempts,
                p.lease_owner.as_ref(),
                p.lease_expires,
                now,
                p.number,
                p.agent,
                p.waits,
                p.failovers,
                p.window_from,
                p.window_until,
                p.number_type,
                p.kind.as_str(),
                p.first,
                id
            ],
            |r| rows::callback(r),
        )
    }

    /// Ends the callback's agent legs still open (`CALLBACK_ENDED`, result `error`).
    fn close_agent_legs(&mut self, id: CallbackId, now: i64) -> Result<(), StoreError> {
        self.execute("closing the agent leg", CLOSE_AGENT_LEGS, &params![now, id])
            .map(drop)
    }

    fn set_customer_attempts(
        &mut self,
        id: CallbackId,
        n: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "counting a customer attempt",
            SET_CUSTOMER_ATTEMPTS,
            &params![n, now, id],
        )
        .map(drop)
    }

    /// An attempt that a change follows; an unknown id is an invalid `attempt_id`.
    fn load_attempt(&mut self, attempt_id: i64) -> Result<Attempt, StoreError> {
        let sql = &self.dialect().attempt_for_update;
        self.row("reading an attempt", sql, &params![attempt_id], |r| {
            rows::attempt(r)
        })?
        .ok_or_else(|| invalid("attempt_id", format!("there is no attempt {attempt_id}")))
    }

    fn end_attempt(
        &mut self,
        attempt_id: i64,
        end: &AttemptEnd,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        self.one(
            "finishing an attempt",
            END_ATTEMPT,
            &params![
                end.answered_at.map(super::secs),
                now,
                end.hangup_cause.as_str(),
                end.result.as_str(),
                attempt_id
            ],
            |r| rows::attempt(r),
        )
    }

    /// Sets what is given (`None` keeps what is there).
    fn set_disposition(
        &mut self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
    ) -> Result<Attempt, StoreError> {
        self.one(
            "setting a disposition",
            SET_DISPOSITION,
            &params![
                result.map(AttemptResult::as_str),
                disposition,
                note,
                attempt_id
            ],
            |r| rows::attempt(r),
        )
    }

    /// A number onto the do-not-call list: adding twice keeps the first date (when the
    /// customer first asked); a new reason replaces the old one.
    fn add_dnc(&mut self, number: &str, reason: Option<&str>, now: i64) -> Result<(), StoreError> {
        self.execute(
            "adding to the do-not-call list",
            ADD_DNC,
            &params![number, reason, now],
        )
        .map(drop)
    }

    /// `(id, state, recording)` of the callbacks a purge forgets: `only`, or those finished
    /// before `before` (epoch seconds), that still hold a recording or what was said.
    fn purgeable(
        &mut self,
        only: Option<CallbackId>,
        before: Option<i64>,
    ) -> Result<Vec<(CallbackId, String, Option<String>)>, StoreError> {
        let sql = &self.dialect().purgeable;
        self.rows(
            "purging recordings and transcripts",
            sql,
            &params![only, before],
            |r| {
                Ok((
                    int(r, 0, "id")?,
                    text(r, 1, "state")?,
                    r.text(2, "recording_path")?,
                ))
            },
        )
    }

    /// Forgets a callback's recording and transcript and its jobs' words and files (a job
    /// still waiting is failed); returns the jobs' files.
    fn forget(&mut self, id: CallbackId, now: i64) -> Result<Vec<String>, StoreError> {
        let doing = "purging recordings and transcripts";
        self.execute(doing, FORGET_CALLBACK, &params![id])?;
        let jobs = self.rows(doing, JOB_FILES, &params![id], |r| text(r, 0, "wav_path"))?;
        self.execute(doing, sql::TRANSCRIPTS_PURGE, &params![now, id])?;
        Ok(jobs)
    }

    /// Marks a running job done with its transcript, if this claim still holds it; how
    /// many rows changed (0: the claim was taken over).
    fn job_done(
        &mut self,
        job: &Job,
        result: &TranscriptResult,
        segments: &str,
        now: i64,
    ) -> Result<usize, StoreError> {
        let ms = i64::try_from(result.processing_ms).unwrap_or(i64::MAX);
        self.execute(
            "storing a transcript",
            sql::JOB_DONE,
            &params![
                result.text.as_str(),
                segments,
                result.language.as_ref(),
                ms,
                now,
                job.id,
                job.attempts
            ],
        )
    }

    /// The transcript, tags, queue and priority a transcript gives its callback.
    fn set_transcript(&mut self, id: CallbackId, t: &Tagging, now: i64) -> Result<(), StoreError> {
        let tags = map_json(&t.tags, "tags")?;
        self.execute(
            "storing a transcript",
            SET_TRANSCRIPT,
            &params![
                t.text.as_ref(),
                t.language.as_ref(),
                tags.as_ref(),
                t.queue.as_str(),
                t.priority,
                now,
                id
            ],
        )
        .map(drop)
    }
}

/// A trace row: callback, at, action, from, to, actor, detail.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (callback_id, at, action, \
     from_state, to_state, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_adds_the_first_boost_the_store_names() {
        // The boost is written as a number in the SQL: it must be FIRST_BOOST's.
        let boost = crate::store::FIRST_BOOST.to_string();
        assert_eq!(UPDATE.matches(&boost).count(), 2, "{UPDATE}");
    }

    #[test]
    fn the_statements_number_their_parameters_in_order_of_first_appearance() {
        // SQLite binds $N by first appearance: each shared text here must keep the order.
        for sql in [
            CALLBACK_BY_ID,
            UPDATE,
            END_ATTEMPT,
            SET_DISPOSITION,
            FIND_BY_KEY,
            SET_REQUEST_HASH,
            SET_REMARK,
            HAS_JOB,
            SET_RECORDING,
            CLOSE_AGENT_LEGS,
            SET_CUSTOMER_ATTEMPTS,
            ADD_DNC,
            FORGET_CALLBACK,
            JOB_FILES,
            SET_TRANSCRIPT,
            INSERT_EVENT,
        ] {
            let seen = sql::first_appearances(sql);
            let expected: Vec<u32> = (1..=u32::try_from(seen.len()).unwrap()).collect();
            assert_eq!(seen, expected, "parameters out of order in: {sql}");
        }
    }
}
