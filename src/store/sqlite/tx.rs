//! The single statements the shared writes (`store::rules::writes`) are made of, in
//! SQLite's SQL. One writer at a time (`BEGIN IMMEDIATE`), so nothing here locks rows.

use super::rows::{load, load_attempt, read_attempt, read_callback};
use super::{backend, classify, ACTIVE, CLAIMABLE, NUMBER_KEY, NUMBER_KEY_OF_1, OPEN, PENDING};
use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Leg, Recording, State,
};
use crate::store::jobs::Tagging;
use crate::store::rules::rows::{attempt_columns, callback_columns};
use crate::store::rules::writes::Tx;
use crate::store::rules::{invalid, map_json, secs, sql, NewEvent, Planned};
use crate::store::{AttemptEnd, NewAttempt, StoreError};
use crate::transcribe::{Job, JobId, TranscriptResult};
use rusqlite::{params, Connection, OptionalExtension, Statement};

/// A transaction (or savepoint) of the store's connection.
pub(crate) struct SqliteTx<'a>(pub &'a Connection);

pub(crate) const INSERT_CALLBACK: &str = "INSERT INTO callbacks (kind, number, time_zone, queue, \
     source, state, due_at, customer_attempts, created_at, updated_at, desired_at, window_from, \
     window_until, expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, \
     recording_path, recording_ms, recording_rate, tags, number_type) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21, ?22)";

pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (callback_id, at, action, from_state, \
     to_state, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Inserts one callback through `stmt`, a prepared [`INSERT_CALLBACK`]: a batch prepares it
/// once instead of looking the SQL up in the statement cache for every row.
pub(crate) fn insert_callback(
    stmt: &mut Statement<'_>,
    d: &Draft,
    now: i64,
) -> Result<CallbackId, StoreError> {
    let ivr = map_json(&d.ivr_data, "ivr_data")?;
    let tags = map_json(&d.tags, "tags")?;
    stmt.insert(params![
        d.kind.as_str(),
        d.number,
        d.time_zone,
        d.queue,
        d.source.as_str(),
        d.state.as_str(),
        d.due_at.map(secs),
        now,
        d.desired_at.map(secs),
        d.window.from.map(secs),
        d.window.until.map(secs),
        d.expires_at.map(secs),
        d.agent,
        d.remark,
        ivr,
        d.origin_uuid,
        d.idempotency_key,
        d.recording.as_ref().map(|r| r.path.as_str()),
        d.recording.as_ref().map(|r| r.duration_ms),
        d.recording.as_ref().map(|r| r.sample_rate),
        tags,
        d.number_type.map(|t| t.as_str()),
    ])
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if d.idempotency_key.is_some() => invalid(
            "idempotency_key",
            format!(
                "'{}' is already used by another callback",
                d.idempotency_key.as_deref().unwrap_or_default()
            ),
        ),
        _ => classify("storing a callback", e),
    })
}

/// One trace row through `stmt`, a prepared [`INSERT_EVENT`].
pub(crate) fn insert_event_with(
    stmt: &mut Statement<'_>,
    e: &NewEvent<'_>,
) -> Result<(), StoreError> {
    stmt.execute(params![
        e.callback_id,
        e.at,
        e.action,
        e.from.map(State::as_str),
        e.to.as_str(),
        e.actor,
        e.detail,
    ])
    .map(drop)
    .map_err(backend("writing the trace"))
}

/// Live callbacks of a queue due in `[start, end)`: waiting ones through the claim index,
/// plus the few held under a lease (requested ones have no due time, so never count).
pub(crate) fn count_slot(
    conn: &Connection,
    queue: &str,
    start: i64,
    end: i64,
) -> Result<u32, StoreError> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                     AND due_at >= ?2 AND due_at < ?3 AND queue = ?1) \
                  + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                     AND due_at >= ?2 AND due_at < ?3 AND queue = ?1)"
        ))
        .and_then(|mut s| s.query_row(params![queue, start, end], |r| r.get(0)))
        .map_err(backend("counting a slot"))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Runs one cached statement that changes rows; how many it changed.
fn run(
    c: &Connection,
    doing: &'static str,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.execute(p))
        .map_err(backend(doing))
}

impl Tx for SqliteTx<'_> {
    fn load(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        load(self.0, id)
    }

    fn load_for_update(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        load(self.0, id)
    }

    fn find_by_key(
        &mut self,
        key: &str,
    ) -> Result<Option<(CallbackId, Option<String>)>, StoreError> {
        self.0
            .prepare_cached("SELECT id, request_hash FROM callbacks WHERE idempotency_key = ?1")
            .and_then(|mut s| {
                s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend("looking up the idempotency key"))
    }

    fn find_pending(
        &mut self,
        number: &str,
        queue: &str,
    ) -> Result<Option<CallbackId>, StoreError> {
        // `OPEN` word for word so the number's index is used; `PENDING` then keeps the
        // waiting ones among the few rows of that number.
        self.0
            .prepare_cached(&format!(
                "SELECT id FROM callbacks WHERE {NUMBER_KEY} = {NUMBER_KEY_OF_1} \
                 AND number = ?1 AND queue = ?2 AND {OPEN} AND {PENDING} ORDER BY id LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([number, queue], |r| r.get(0)).optional())
            .map_err(backend("looking for a pending callback to merge into"))
    }

    fn slot_used(&mut self, queue: &str, start: i64, end: i64) -> Result<u32, StoreError> {
        count_slot(self.0, queue, start, end)
    }

    fn insert_callback(&mut self, draft: &Draft, now: i64) -> Result<CallbackId, StoreError> {
        let mut insert = self
            .0
            .prepare_cached(INSERT_CALLBACK)
            .map_err(backend("storing a callback"))?;
        insert_callback(&mut insert, draft, now)
    }

    fn set_request_hash(&mut self, id: CallbackId, hash: &str) -> Result<(), StoreError> {
        run(
            self.0,
            "storing the request digest",
            "UPDATE callbacks SET request_hash = ?2 WHERE id = ?1",
            params![id, hash],
        )
        .map(drop)
    }

    fn set_remark(&mut self, id: CallbackId, remark: &str, now: i64) -> Result<(), StoreError> {
        run(
            self.0,
            "merging a remark",
            "UPDATE callbacks SET remark = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, remark, now],
        )
        .map(drop)
    }

    fn has_job(&mut self, id: CallbackId, wav_path: &str) -> Result<bool, StoreError> {
        self.0
            .prepare_cached("SELECT 1 FROM transcriptions WHERE callback_id = ?1 AND wav_path = ?2")
            .and_then(|mut s| s.exists(params![id, wav_path]))
            .map_err(backend("merging a recording"))
    }

    fn set_recording(
        &mut self,
        id: CallbackId,
        rec: &Recording,
        now: i64,
    ) -> Result<(), StoreError> {
        run(
            self.0,
            "merging a recording",
            "UPDATE callbacks SET recording_path = ?2, recording_ms = ?3, recording_rate = ?4, \
             updated_at = ?5 WHERE id = ?1",
            params![id, rec.path, rec.duration_ms, rec.sample_rate, now],
        )
        .map(drop)
    }

    fn insert_job(
        &mut self,
        id: CallbackId,
        wav_path: &str,
        now: i64,
    ) -> Result<JobId, StoreError> {
        run(
            self.0,
            "queueing a transcription",
            "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
             created_at, updated_at) VALUES (?1, ?2, 'queued', ?3, ?3, ?3)",
            params![id, wav_path, now],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<(), StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(INSERT_EVENT)
            .map_err(backend("writing the trace"))?;
        insert_event_with(&mut stmt, e)
    }

    fn update(
        &mut self,
        id: CallbackId,
        p: &Planned<'_>,
        now: i64,
    ) -> Result<CallbackRequest, StoreError> {
        self.0
            .prepare_cached(concat!(
                "UPDATE callbacks SET state = ?2, due_at = ?3, queue = ?4, \
                 customer_attempts = ?5, lease_owner = ?6, lease_expires = ?7, \
                 updated_at = ?8, number = ?9, agent = ?10, waits = ?12, failovers = ?13, \
                 window_from = ?14, window_until = ?15, number_type = ?16, kind = ?17, \
                 priority = CASE WHEN ?11 AND priority < 1073741824 \
                            THEN priority + 1073741824 ELSE priority END \
                 WHERE id = ?1 RETURNING ",
                callback_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        id,
                        p.to.as_str(),
                        p.due_at,
                        p.queue,
                        p.attempts,
                        p.lease_owner,
                        p.lease_expires,
                        now,
                        p.number,
                        p.agent,
                        p.first,
                        p.waits,
                        p.failovers,
                        p.window_from,
                        p.window_until,
                        p.number_type,
                        p.kind.as_str()
                    ],
                    read_callback,
                )
            })
            .map_err(backend("applying a transition"))
    }

    fn close_agent_legs(&mut self, id: CallbackId, now: i64) -> Result<(), StoreError> {
        run(
            self.0,
            "closing the agent leg",
            "UPDATE attempts SET ended_at = ?2, hangup_cause = 'CALLBACK_ENDED', \
             result = 'error' WHERE callback_id = ?1 AND leg = 'agent' AND ended_at IS NULL",
            params![id, now],
        )
        .map(drop)
    }

    fn set_customer_attempts(
        &mut self,
        id: CallbackId,
        n: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        run(
            self.0,
            "counting a customer attempt",
            "UPDATE callbacks SET customer_attempts = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, n, now],
        )
        .map(drop)
    }

    fn insert_attempt(
        &mut self,
        attempt: &NewAttempt,
        attempt_no: u32,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        self.0
            .prepare_cached(concat!(
                "INSERT INTO attempts (callback_id, leg, attempt_no, agent, call_uuid, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING ",
                attempt_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        attempt.callback_id,
                        attempt.leg.as_str(),
                        attempt_no,
                        attempt.agent,
                        attempt.call_uuid,
                        now
                    ],
                    read_attempt,
                )
            })
            .map_err(|e| match &attempt.agent {
                // attempts_agent_busy: the agent has an open leg already (some node's offer).
                Some(agent)
                    if attempt.leg == Leg::Agent
                        && e.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::ConstraintViolation)
                        && e.to_string().contains("attempts.agent") =>
                {
                    StoreError::AgentBusy {
                        agent: agent.clone(),
                    }
                }
                _ => classify("starting an attempt", e),
            })
    }

    fn load_attempt(&mut self, attempt_id: i64) -> Result<Attempt, StoreError> {
        load_attempt(self.0, attempt_id)
    }

    fn end_attempt(
        &mut self,
        attempt_id: i64,
        end: &AttemptEnd,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        self.0
            .prepare_cached(concat!(
                "UPDATE attempts SET answered_at = ?2, ended_at = ?3, hangup_cause = ?4, \
                 result = ?5 WHERE id = ?1 RETURNING ",
                attempt_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        attempt_id,
                        end.answered_at.map(secs),
                        now,
                        end.hangup_cause,
                        end.result.as_str()
                    ],
                    read_attempt,
                )
            })
            .map_err(backend("finishing an attempt"))
    }

    fn set_disposition(
        &mut self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
    ) -> Result<Attempt, StoreError> {
        self.0
            .prepare_cached(concat!(
                "UPDATE attempts SET result = coalesce(?2, result), \
                 disposition = coalesce(?3, disposition), note = coalesce(?4, note) \
                 WHERE id = ?1 RETURNING ",
                attempt_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        attempt_id,
                        result.map(AttemptResult::as_str),
                        disposition,
                        note
                    ],
                    read_attempt,
                )
            })
            .map_err(backend("setting a disposition"))
    }

    fn add_dnc(&mut self, number: &str, reason: Option<&str>, now: i64) -> Result<(), StoreError> {
        run(
            self.0,
            "adding to the do-not-call list",
            "INSERT INTO do_not_call (number, reason, added_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (number) DO UPDATE SET reason = coalesce(excluded.reason, reason)",
            params![number, reason, now],
        )
        .map(drop)
    }

    fn purgeable(
        &mut self,
        only: Option<CallbackId>,
        before: Option<i64>,
    ) -> Result<Vec<(CallbackId, String, Option<String>)>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT id, state, recording_path FROM callbacks \
                 WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                        OR EXISTS (SELECT 1 FROM transcriptions t \
                                   WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
                   AND (id = ?1 OR (?2 IS NOT NULL AND updated_at < ?2 AND \
                        state IN ('completed', 'cancelled', 'expired', 'failed', 'done')))",
            )
            .and_then(|mut s| {
                s.query_map(params![only, before], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(backend("purging recordings and transcripts"))
    }

    fn forget(&mut self, id: CallbackId, now: i64) -> Result<Vec<String>, StoreError> {
        let doing = "purging recordings and transcripts";
        run(
            self.0,
            doing,
            "UPDATE callbacks SET recording_path = NULL, recording_ms = NULL, \
             recording_rate = NULL, transcript_text = NULL, transcript_language = NULL \
             WHERE id = ?1",
            params![id],
        )?;
        let jobs: Vec<String> = self
            .0
            .prepare_cached(
                "SELECT wav_path FROM transcriptions WHERE callback_id = ?1 AND wav_path <> ''",
            )
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(backend(doing))?;
        run(self.0, doing, sql::TRANSCRIPTS_PURGE, params![now, id])?;
        Ok(jobs)
    }

    fn job_done(
        &mut self,
        job: &Job,
        result: &TranscriptResult,
        segments: &str,
        now: i64,
    ) -> Result<usize, StoreError> {
        let ms = i64::try_from(result.processing_ms).unwrap_or(i64::MAX);
        run(
            self.0,
            "storing a transcript",
            sql::JOB_DONE,
            params![
                result.text,
                segments,
                result.language,
                ms,
                now,
                job.id,
                job.attempts
            ],
        )
    }

    fn set_transcript(&mut self, id: CallbackId, t: &Tagging, now: i64) -> Result<(), StoreError> {
        run(
            self.0,
            "storing a transcript",
            "UPDATE callbacks SET transcript_text = ?2, transcript_language = ?3, \
             tags = ?4, queue = ?5, priority = ?6, updated_at = ?7 WHERE id = ?1",
            params![
                id,
                t.text,
                t.language,
                map_json(&t.tags, "tags")?,
                t.queue,
                t.priority,
                now
            ],
        )
        .map(drop)
    }

    fn notify(&mut self) -> Result<(), StoreError> {
        // One node: its own dispatcher is nudged by the service, nobody else listens.
        Ok(())
    }
}
