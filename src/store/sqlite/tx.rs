//! The statements of the shared writes that SQLite runs its own way (`store::rules::tx`
//! has the rest): storing a callback and a trace row through prepared statements a batch
//! reuses, and a leg whose constraint error names a busy agent. One writer at a time
//! (`BEGIN IMMEDIATE`), so nothing here locks rows.

use super::rows::read_attempt;
use super::{backend, classify};
use crate::model::{Attempt, CallbackId, Draft, Leg, State};
use crate::store::rules::rows::attempt_columns;
use crate::store::rules::writes::Tx;
use crate::store::rules::{invalid, map_json, secs, NewEvent};
use crate::store::{NewAttempt, StoreError};
use rusqlite::{params, Connection, Statement};

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

impl Tx for SqliteTx<'_> {
    fn insert_callback(&mut self, draft: &Draft, now: i64) -> Result<CallbackId, StoreError> {
        let mut insert = self
            .0
            .prepare_cached(INSERT_CALLBACK)
            .map_err(backend("storing a callback"))?;
        insert_callback(&mut insert, draft, now)
    }

    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<(), StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(INSERT_EVENT)
            .map_err(backend("writing the trace"))?;
        insert_event_with(&mut stmt, e)
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
}
