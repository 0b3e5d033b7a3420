//! SQLite's side of `rules::exec`: statements through the connection's statement cache,
//! parameters bound as SQLite values, and the statements SQLite writes its own way.

use super::{
    backend, SqliteStore, SqliteTx, ACTIVE, CLAIMABLE, NUMBER_KEY, NUMBER_KEY_OF_1, OPEN, PENDING,
};
use crate::store::rules::exec::{Backend, Cells, Dialect, Exec, Param};
use crate::store::rules::rows::attempt_columns;
use crate::store::rules::tx::CALLBACK_BY_ID;
use crate::store::rules::JOB_ORDER;
use crate::store::StoreError;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Row, ToSql};
use std::sync::LazyLock;

/// SQLite's texts of the statements the dialects write differently.
static DIALECT: LazyLock<Dialect> = LazyLock::new(|| Dialect {
    open_for_number: super::reads::open_for_number_sql(),
    list: super::reads::LIST.into(),
    // The index of open agent legs, named: the planner otherwise scans every leg.
    agents_busy: "SELECT a.agent, a.callback_id \
         FROM attempts a INDEXED BY attempts_agent_busy \
         JOIN callbacks c ON c.id = a.callback_id \
         WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
         AND c.lease_expires > $1 ORDER BY a.agent"
        .into(),
    handling_time: "SELECT avg(ended_at - started_at) FROM (SELECT a.ended_at, a.started_at \
         FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
         WHERE c.queue = $1 AND a.leg = 'agent' AND a.result = 'answered' \
         AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT $2)"
        .into(),
    // A new cursor starts after the newest event: ids follow commits here.
    cursor_make: "INSERT OR IGNORE INTO webhook_cursors (name, last_tx, last_event, updated_at) \
         VALUES ($1, 0, COALESCE((SELECT MAX(id) FROM events), 0), $2)"
        .into(),
    // One writer at a time: nothing to lock.
    cursor_read: format!(
        "SELECT {} FROM webhook_cursors WHERE name = $1",
        crate::store::rules::outbox::CURSOR_COLUMNS
    ),
    // One writer at a time: nothing to lock.
    callback_for_update: CALLBACK_BY_ID.into(),
    attempt_for_update: concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM attempts WHERE id = $1"
    )
    .into(),
    // Through `callbacks_open_number`: `OPEN` word for word so the number's index is used;
    // `PENDING` then keeps the waiting ones among the few rows of that number.
    pending_of_number: format!(
        "SELECT id FROM callbacks WHERE {NUMBER_KEY} = {NUMBER_KEY_OF_1} \
         AND number = ?1 AND queue = ?2 AND {OPEN} AND {PENDING} ORDER BY id LIMIT 1"
    ),
    // Waiting ones through the claim index, plus the few held under a lease (requested ones
    // have no due time, so never count).
    slot_count: format!(
        "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                 AND due_at >= ?2 AND due_at < ?3 AND queue = ?1) \
              + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                 AND due_at >= ?2 AND due_at < ?3 AND queue = ?1)"
    ),
    purgeable: "SELECT id, state, recording_path FROM callbacks \
         WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                OR EXISTS (SELECT 1 FROM transcriptions t \
                           WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
           AND (id = ?1 OR (?2 IS NOT NULL AND updated_at < ?2 AND \
                state IN ('completed', 'cancelled', 'expired', 'failed', 'done')))"
        .into(),
    renew_lease: format!(
        "UPDATE callbacks SET lease_expires = ?3 WHERE id = ?1 AND lease_owner = ?2 \
         AND lease_expires > ?4 AND {ACTIVE}"
    ),
    next_wakeup: format!(
        "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
    ),
    job_claimable: format!(
        "SELECT t.id FROM transcriptions t LEFT JOIN callbacks c ON c.id = t.callback_id \
         WHERE (t.state = 'queued' AND t.next_try_at <= $1) \
            OR (t.state = 'running' AND t.lease_until <= $1) \
         ORDER BY {JOB_ORDER} LIMIT 1"
    ),
});

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(v),
            // As rusqlite stores a bool: 0 or 1.
            Param::Bool(b) => ValueRef::Integer(i64::from(b)),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn column<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    idx: usize,
    column: &'static str,
) -> Result<Option<T>, StoreError> {
    row.get(idx)
        .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
}

crate::store::rules::exec::cells_by!(Row<'_>, column);

impl Exec for SqliteTx<'_> {
    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }

    fn execute(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<usize, StoreError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params_from_iter(params)))
            .map_err(backend(doing))
    }

    fn each_row(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Cells) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(backend(doing))?;
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(backend(doing))?;
        while let Some(row) = rows.next().map_err(backend(doing))? {
            each(row)?;
        }
        Ok(())
    }
}

impl Backend for SqliteStore {
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(|c| f(&mut SqliteTx(c)))
    }

    fn writing<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(doing, |tx| f(&mut SqliteTx(tx)))
    }
}
