//! The single statements the shared writes (`store::rules::writes`) are made of, in
//! PostgreSQL's SQL. What SQLite gets from its single writer, these get from locks: a row
//! a change follows is read `FOR UPDATE`, and a create takes a transaction-scoped advisory
//! lock on its idempotency key, on the number when merging and on the queue when checking
//! a slot, so two nodes creating the same request at once still make one.

use super::rows::{load_attempt, load_with};
use super::{pg_err, PgStore, ACTIVE, CLAIMABLE, LOCK_KEY, LOCK_NUMBER, LOCK_QUEUE, PENDING};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, Draft, Recording, State};
use crate::store::jobs::Tagging;
use crate::store::rules::rows::{self, Columns, ATTEMPT_COLUMNS, CALLBACK_COLUMNS};
use crate::store::rules::writes::Tx;
use crate::store::rules::{invalid, map_json, secs, sql, NewEvent, Planned};
use crate::store::{AttemptEnd, NewAttempt, StoreError, FIRST_BOOST};
use crate::transcribe::{Job, JobId, TranscriptResult};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};

/// A transaction (or savepoint) of the store's connection, and the store whose channel
/// its notifications go to.
pub(crate) struct PgTx<'a, 't> {
    pub c: &'a mut Transaction<'t>,
    pub store: &'a PgStore,
}

pub(crate) const INSERT_CALLBACK: &str = "INSERT INTO callbacks (kind, number, time_zone, queue, \
     source, state, due_at, customer_attempts, created_at, updated_at, desired_at, window_from, \
     window_until, expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, \
     recording_path, recording_ms, recording_rate, tags, number_type) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22) RETURNING id";

/// Inserts one callback through `stmt`, a prepared [`INSERT_CALLBACK`].
pub(crate) fn insert_callback(
    c: &mut impl GenericClient,
    stmt: &postgres::Statement,
    d: &Draft,
    now: i64,
) -> Result<CallbackId, StoreError> {
    let ivr = map_json(&d.ivr_data, "ivr_data")?;
    let tags = map_json(&d.tags, "tags")?;
    let rec = d.recording.as_ref();
    let number_type = d.number_type.map(|t| t.as_str());
    let params: [&(dyn ToSql + Sync); 22] = [
        &d.kind.as_str(),
        &d.number,
        &d.time_zone,
        &d.queue,
        &d.source.as_str(),
        &d.state.as_str(),
        &d.due_at.map(secs),
        &now,
        &d.desired_at.map(secs),
        &d.window.from.map(secs),
        &d.window.until.map(secs),
        &d.expires_at.map(secs),
        &d.agent,
        &d.remark,
        &ivr,
        &d.origin_uuid,
        &d.idempotency_key,
        &rec.map(|r| r.path.as_str()),
        &rec.map(|r| i64::from(r.duration_ms)),
        &rec.map(|r| i64::from(r.sample_rate)),
        &tags,
        &number_type,
    ];
    c.query_one(stmt, &params)
        .map(|r| r.get(0))
        .map_err(|e| match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION && d.idempotency_key.is_some() => {
                invalid(
                    "idempotency_key",
                    format!(
                        "'{}' is already used by another callback",
                        d.idempotency_key.as_deref().unwrap_or_default()
                    ),
                )
            }
            _ => pg_err("storing a callback")(e),
        })
}

/// Many trace rows in one statement, ids in the order given.
pub(crate) fn insert_events(
    c: &mut impl GenericClient,
    events: &[NewEvent<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = events.iter().map(|e| e.callback_id).collect();
    let at: Vec<i64> = events.iter().map(|e| e.at).collect();
    let action: Vec<&str> = events.iter().map(|e| e.action).collect();
    let from: Vec<Option<&str>> = events.iter().map(|e| e.from.map(State::as_str)).collect();
    let to: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
    let actor: Vec<Option<&str>> = events.iter().map(|e| e.actor).collect();
    let detail: Vec<Option<&str>> = events.iter().map(|e| e.detail).collect();
    c.execute(
        "INSERT INTO events (callback_id, at, action, from_state, to_state, actor, detail) \
         SELECT a, b, c, d, f, g, h FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[]) WITH ORDINALITY AS e(a, b, c, d, f, g, h, n) ORDER BY n",
        &[&ids, &at, &action, &from, &to, &actor, &detail],
    )
    .map(drop)
    .map_err(pg_err("writing the trace"))
}

pub(crate) fn insert_job(
    c: &mut impl GenericClient,
    callback_id: CallbackId,
    wav_path: &str,
    now: i64,
) -> Result<JobId, StoreError> {
    c.query_one(
        "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
         created_at, updated_at) VALUES ($1, $2, 'queued', $3, $3, $3) RETURNING id",
        &[&callback_id, &wav_path, &now],
    )
    .map(|r| r.get(0))
    .map_err(pg_err("queueing a transcription"))
}

/// Live callbacks of a queue due in `[start, end)`.
pub(crate) fn count_slot(
    c: &mut impl GenericClient,
    queue: &str,
    start: i64,
    end: i64,
) -> Result<u32, StoreError> {
    let n: i64 = c
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                         AND due_at >= $2 AND due_at < $3 AND queue = $1) \
                      + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                         AND due_at >= $2 AND due_at < $3 AND queue = $1)"
            ),
            &[&queue, &start, &end],
        )
        .map(|r| r.get(0))
        .map_err(pg_err("counting a slot"))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

impl PgTx<'_, '_> {
    /// Serialises creators on one value (a key, a number, a queue) until the transaction
    /// ends.
    fn advisory_lock(&mut self, class: i32, value: &str) -> Result<(), StoreError> {
        self.c
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&class, &value],
            )
            .map(drop)
            .map_err(pg_err("serialising a create"))
    }

    /// Runs one statement that changes rows; how many it changed.
    fn run(
        &mut self,
        doing: &'static str,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, StoreError> {
        self.c
            .execute(sql, p)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(pg_err(doing))
    }
}

impl Tx for PgTx<'_, '_> {
    fn load(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        load_with(self.c, id, false)
    }

    fn load_for_update(&mut self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        load_with(self.c, id, true)
    }

    fn find_by_key(
        &mut self,
        key: &str,
    ) -> Result<Option<(CallbackId, Option<String>)>, StoreError> {
        self.advisory_lock(LOCK_KEY, key)?;
        Ok(self
            .c
            .query_opt(
                "SELECT id, request_hash FROM callbacks WHERE idempotency_key = $1",
                &[&key],
            )
            .map_err(pg_err("looking up the idempotency key"))?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn find_pending(
        &mut self,
        number: &str,
        queue: &str,
    ) -> Result<Option<CallbackId>, StoreError> {
        self.advisory_lock(LOCK_NUMBER, number)?;
        Ok(self
            .c
            .query_opt(
                &format!(
                    "SELECT id FROM callbacks WHERE number = $1 AND queue = $2 \
                     AND {PENDING} ORDER BY id LIMIT 1"
                ),
                &[&number, &queue],
            )
            .map_err(pg_err("looking for a pending callback to merge into"))?
            .map(|r| r.get(0)))
    }

    fn slot_used(&mut self, queue: &str, start: i64, end: i64) -> Result<u32, StoreError> {
        self.advisory_lock(LOCK_QUEUE, queue)?;
        count_slot(self.c, queue, start, end)
    }

    fn insert_callback(&mut self, draft: &Draft, now: i64) -> Result<CallbackId, StoreError> {
        let stmt = self
            .c
            .prepare(INSERT_CALLBACK)
            .map_err(pg_err("storing a callback"))?;
        insert_callback(self.c, &stmt, draft, now)
    }

    fn set_request_hash(&mut self, id: CallbackId, hash: &str) -> Result<(), StoreError> {
        self.run(
            "storing the request digest",
            "UPDATE callbacks SET request_hash = $2 WHERE id = $1",
            &[&id, &hash],
        )
        .map(drop)
    }

    fn set_remark(&mut self, id: CallbackId, remark: &str, now: i64) -> Result<(), StoreError> {
        self.run(
            "merging a remark",
            "UPDATE callbacks SET remark = $2, updated_at = $3 WHERE id = $1",
            &[&id, &remark, &now],
        )
        .map(drop)
    }

    fn has_job(&mut self, id: CallbackId, wav_path: &str) -> Result<bool, StoreError> {
        self.c
            .query_opt(
                "SELECT 1 FROM transcriptions WHERE callback_id = $1 AND wav_path = $2",
                &[&id, &wav_path],
            )
            .map(|r| r.is_some())
            .map_err(pg_err("merging a recording"))
    }

    fn set_recording(
        &mut self,
        id: CallbackId,
        rec: &Recording,
        now: i64,
    ) -> Result<(), StoreError> {
        self.run(
            "merging a recording",
            "UPDATE callbacks SET recording_path = $2, recording_ms = $3, recording_rate = $4, \
             updated_at = $5 WHERE id = $1",
            &[
                &id,
                &rec.path,
                &i64::from(rec.duration_ms),
                &i64::from(rec.sample_rate),
                &now,
            ],
        )
        .map(drop)
    }

    fn insert_job(
        &mut self,
        id: CallbackId,
        wav_path: &str,
        now: i64,
    ) -> Result<JobId, StoreError> {
        insert_job(self.c, id, wav_path, now)
    }

    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<(), StoreError> {
        self.run(
            "writing the trace",
            "INSERT INTO events (callback_id, at, action, from_state, to_state, actor, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &e.callback_id,
                &e.at,
                &e.action,
                &e.from.map(State::as_str),
                &e.to.as_str(),
                &e.actor,
                &e.detail,
            ],
        )
        .map(drop)
    }

    fn update(
        &mut self,
        id: CallbackId,
        p: &Planned<'_>,
        now: i64,
    ) -> Result<CallbackRequest, StoreError> {
        let row = self
            .c
            .query_one(
                &format!(
                    "UPDATE callbacks SET state = $2, due_at = $3, queue = $4, \
                     customer_attempts = $5, lease_owner = $6, lease_expires = $7, \
                     updated_at = $8, number = $9, agent = $10, waits = $12, failovers = $13, \
                     window_from = $14, window_until = $15, number_type = $16, kind = $17, \
                     priority = CASE WHEN $11 AND priority < {FIRST_BOOST} \
                                THEN priority + {FIRST_BOOST} ELSE priority END \
                     WHERE id = $1 RETURNING {CALLBACK_COLUMNS}"
                ),
                &[
                    &id,
                    &p.to.as_str(),
                    &p.due_at,
                    &p.queue,
                    &i64::from(p.attempts),
                    &p.lease_owner,
                    &p.lease_expires,
                    &now,
                    &p.number,
                    &p.agent,
                    &p.first,
                    &i64::from(p.waits),
                    &i64::from(p.failovers),
                    &p.window_from,
                    &p.window_until,
                    &p.number_type,
                    &p.kind.as_str(),
                ],
            )
            .map_err(pg_err("applying a transition"))?;
        rows::callback(&row)
    }

    fn close_agent_legs(&mut self, id: CallbackId, now: i64) -> Result<(), StoreError> {
        self.run(
            "closing the agent leg",
            "UPDATE attempts SET ended_at = $2, hangup_cause = 'CALLBACK_ENDED', \
             result = 'error' WHERE callback_id = $1 AND leg = 'agent' AND ended_at IS NULL",
            &[&id, &now],
        )
        .map(drop)
    }

    fn set_customer_attempts(
        &mut self,
        id: CallbackId,
        n: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        self.run(
            "counting a customer attempt",
            "UPDATE callbacks SET customer_attempts = $2, updated_at = $3 WHERE id = $1",
            &[&id, &i64::from(n), &now],
        )
        .map(drop)
    }

    fn insert_attempt(
        &mut self,
        attempt: &NewAttempt,
        attempt_no: u32,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        let r = self
            .c
            .query_one(
                &format!(
                    "INSERT INTO attempts (callback_id, leg, attempt_no, agent, call_uuid, \
                     started_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ATTEMPT_COLUMNS}"
                ),
                &[
                    &attempt.callback_id,
                    &attempt.leg.as_str(),
                    &i64::from(attempt_no),
                    &attempt.agent,
                    &attempt.call_uuid,
                    &now,
                ],
            )
            .map_err(|e| {
                // attempts_agent_busy: the agent has an open leg already (some node's offer).
                let agent_busy = e.as_db_error().is_some_and(|d| {
                    d.code() == &SqlState::UNIQUE_VIOLATION
                        && d.constraint() == Some("attempts_agent_busy")
                });
                match (&attempt.agent, agent_busy) {
                    (Some(agent), true) => StoreError::AgentBusy {
                        agent: agent.clone(),
                    },
                    _ => pg_err("starting an attempt")(e),
                }
            })?;
        rows::attempt(&r)
    }

    fn load_attempt(&mut self, attempt_id: i64) -> Result<Attempt, StoreError> {
        load_attempt(self.c, attempt_id)
    }

    fn end_attempt(
        &mut self,
        attempt_id: i64,
        end: &AttemptEnd,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        let r = self
            .c
            .query_one(
                &format!(
                    "UPDATE attempts SET answered_at = $2, ended_at = $3, hangup_cause = $4, \
                     result = $5 WHERE id = $1 RETURNING {ATTEMPT_COLUMNS}"
                ),
                &[
                    &attempt_id,
                    &end.answered_at.map(secs),
                    &now,
                    &end.hangup_cause,
                    &end.result.as_str(),
                ],
            )
            .map_err(pg_err("finishing an attempt"))?;
        rows::attempt(&r)
    }

    fn set_disposition(
        &mut self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
    ) -> Result<Attempt, StoreError> {
        let r = self
            .c
            .query_one(
                &format!(
                    "UPDATE attempts SET result = coalesce($2, result), \
                     disposition = coalesce($3, disposition), note = coalesce($4, note) \
                     WHERE id = $1 RETURNING {ATTEMPT_COLUMNS}"
                ),
                &[
                    &attempt_id,
                    &result.map(AttemptResult::as_str),
                    &disposition,
                    &note,
                ],
            )
            .map_err(pg_err("setting a disposition"))?;
        rows::attempt(&r)
    }

    fn add_dnc(&mut self, number: &str, reason: Option<&str>, now: i64) -> Result<(), StoreError> {
        self.run(
            "adding to the do-not-call list",
            "INSERT INTO do_not_call (number, reason, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (number) DO UPDATE \
             SET reason = coalesce(excluded.reason, do_not_call.reason)",
            &[&number, &reason, &now],
        )
        .map(drop)
    }

    fn purgeable(
        &mut self,
        only: Option<CallbackId>,
        before: Option<i64>,
    ) -> Result<Vec<(CallbackId, String, Option<String>)>, StoreError> {
        self.c
            .query(
                "SELECT id, state, recording_path FROM callbacks \
                 WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                        OR EXISTS (SELECT 1 FROM transcriptions t \
                                   WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
                   AND (id = $1 OR ($2::bigint IS NOT NULL AND updated_at < $2 AND \
                        state IN ('completed', 'cancelled', 'expired', 'failed', 'done'))) \
                 ORDER BY id FOR UPDATE",
                &[&only, &before],
            )
            .map_err(pg_err("purging recordings and transcripts"))?
            .iter()
            .map(|r| {
                Ok((
                    rows::int(r, 0, "id")?,
                    rows::text(r, 1, "state")?,
                    r.text(2, "recording_path")?,
                ))
            })
            .collect()
    }

    fn forget(&mut self, id: CallbackId, now: i64) -> Result<Vec<String>, StoreError> {
        let doing = "purging recordings and transcripts";
        self.run(
            doing,
            "UPDATE callbacks SET recording_path = NULL, recording_ms = NULL, \
             recording_rate = NULL, transcript_text = NULL, transcript_language = NULL \
             WHERE id = $1",
            &[&id],
        )?;
        let jobs = self
            .c
            .query(
                "SELECT wav_path FROM transcriptions \
                 WHERE callback_id = $1 AND wav_path <> '' ORDER BY id",
                &[&id],
            )
            .map_err(pg_err(doing))?
            .iter()
            .map(|r| rows::text(r, 0, "wav_path"))
            .collect::<Result<_, StoreError>>()?;
        self.run(doing, sql::TRANSCRIPTS_PURGE, &[&now, &id])?;
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
        self.run(
            "storing a transcript",
            sql::JOB_DONE,
            &[
                &result.text,
                &segments,
                &result.language,
                &ms,
                &now,
                &job.id,
                &i64::from(job.attempts),
            ],
        )
    }

    fn set_transcript(&mut self, id: CallbackId, t: &Tagging, now: i64) -> Result<(), StoreError> {
        self.run(
            "storing a transcript",
            "UPDATE callbacks SET transcript_text = $2, transcript_language = $3, \
             tags = $4, queue = $5, priority = $6, updated_at = $7 WHERE id = $1",
            &[
                &id,
                &t.text,
                &t.language,
                &map_json(&t.tags, "tags")?,
                &t.queue,
                &i64::from(t.priority),
                &now,
            ],
        )
        .map(drop)
    }

    fn notify(&mut self) -> Result<(), StoreError> {
        self.store.notify(self.c)
    }
}
