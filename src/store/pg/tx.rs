//! The statements of the shared writes that PostgreSQL runs its own way (`store::rules::tx`
//! has the rest). What SQLite gets from its single writer, these get from locks: a row a
//! change follows is read `FOR UPDATE` (the dialect's texts, in `exec`), and a create takes
//! a transaction-scoped advisory lock on its idempotency key, on the number when merging
//! and on the queue when checking a slot ([`Tx::serialise`]), so two nodes creating the
//! same request at once still make one. A batch's callbacks and trace rows go in one
//! statement each.

use super::{pg_err, PgStore, LOCK_KEY, LOCK_NUMBER, LOCK_QUEUE};
use crate::model::{Attempt, CallbackId, Draft, State};
use crate::store::rules::rows::{self, ATTEMPT_COLUMNS};
use crate::store::rules::tx::Serial;
use crate::store::rules::writes::Tx;
use crate::store::rules::{invalid, map_json, secs, NewEvent};
use crate::store::{NewAttempt, StoreError};
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
}

impl Tx for PgTx<'_, '_> {
    fn serialise(&mut self, on: Serial, value: &str) -> Result<(), StoreError> {
        let class = match on {
            Serial::Key => LOCK_KEY,
            Serial::Number => LOCK_NUMBER,
            Serial::Queue => LOCK_QUEUE,
        };
        self.advisory_lock(class, value)
    }

    fn insert_callback(&mut self, draft: &Draft, now: i64) -> Result<CallbackId, StoreError> {
        let stmt = self
            .c
            .prepare(INSERT_CALLBACK)
            .map_err(pg_err("storing a callback"))?;
        insert_callback(self.c, &stmt, draft, now)
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
}
