//! PostgreSQL's side of `rules::exec`: statements on the connection or the transaction,
//! parameters bound as the type the server inferred for them, and the statements
//! PostgreSQL writes its own way (row locks, casts, positions in transaction order).

use super::rows::col;
use super::{pg_err, PgStore, PgTx, ACTIVE, CLAIMABLE, PENDING};
use crate::store::rules::exec::{Backend, Cells, Dialect, Exec, Param};
use crate::store::rules::outbox::CURSOR_COLUMNS;
use crate::store::rules::rows::{ATTEMPT_COLUMNS, CALLBACK_COLUMNS};
use crate::store::rules::JOB_ORDER;
use crate::store::StoreError;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, Row};
use std::error::Error;
use std::sync::LazyLock;

/// The oldest transaction still running: every event of an older transaction is
/// committed or rolled back for good.
pub(crate) const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())";

/// PostgreSQL's texts of the statements the dialects write differently.
static DIALECT: LazyLock<Dialect> = LazyLock::new(|| Dialect {
    open_for_number: super::reads::open_for_number_sql(),
    list: super::reads::list_sql(),
    agents_busy: "SELECT a.agent, a.callback_id FROM attempts a \
         JOIN callbacks c ON c.id = a.callback_id \
         WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
         AND c.lease_expires > $1 ORDER BY a.agent"
        .into(),
    // avg() of BIGINTs is NUMERIC: read as a float, like SQLite's.
    handling_time: "SELECT avg(ended_at - started_at)::float8 FROM (SELECT a.ended_at, \
         a.started_at FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
         WHERE c.queue = $1 AND a.leg = 'agent' AND a.result = 'answered' \
         AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT $2) last"
        .into(),
    // A new cursor starts at the horizon: it is owed every event of a transaction not
    // finished before it was made (what happens from now on).
    cursor_make: format!(
        "INSERT INTO webhook_cursors (name, last_tx, last_event, updated_at) \
         VALUES ($1, {HORIZON}::text::bigint, 0, $2) ON CONFLICT (name) DO NOTHING"
    ),
    // Locked: a claim or a move is one step against another node's.
    cursor_read: format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = $1 FOR UPDATE"),
    // Locked: a change follows.
    callback_for_update: format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = $1 FOR UPDATE"
    ),
    attempt_for_update: format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1 FOR UPDATE"),
    pending_of_number: format!(
        "SELECT id FROM callbacks WHERE number = $1 AND queue = $2 \
         AND {PENDING} ORDER BY id LIMIT 1"
    ),
    slot_count: format!(
        "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                 AND due_at >= $2 AND due_at < $3 AND queue = $1) \
              + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                 AND due_at >= $2 AND due_at < $3 AND queue = $1)"
    ),
    // In id order, locked: two purges (or a purge and a turn) lock in the same order.
    purgeable: "SELECT id, state, recording_path FROM callbacks \
         WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                OR EXISTS (SELECT 1 FROM transcriptions t \
                           WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
           AND (id = $1 OR ($2::bigint IS NOT NULL AND updated_at < $2 AND \
                state IN ('completed', 'cancelled', 'expired', 'failed', 'done'))) \
         ORDER BY id FOR UPDATE"
        .into(),
    renew_lease: format!(
        "UPDATE callbacks SET lease_expires = $3 WHERE id = $1 \
         AND lease_owner = $2 AND lease_expires > $4 AND {ACTIVE}"
    ),
    next_wakeup: format!(
        "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
    ),
    // One another worker is claiming right now is skipped.
    job_claimable: format!(
        "SELECT t.id FROM transcriptions t LEFT JOIN callbacks c ON c.id = t.callback_id \
         WHERE (t.state = 'queued' AND t.next_try_at <= $1) \
            OR (t.state = 'running' AND t.lease_until <= $1) \
         ORDER BY {JOB_ORDER} LIMIT 1 FOR UPDATE OF t SKIP LOCKED"
    ),
});

/// Each value is checked against the type the server inferred for its parameter, as the
/// driver's own types are.
impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // Checked per value either way: `accepts` takes every type.
        self.to_sql_checked(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        // Per value, in to_sql_checked.
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => v.to_sql_checked(ty, out),
            Param::Bool(b) => b.to_sql_checked(ty, out),
            Param::Text(s) => s.to_sql_checked(ty, out),
        }
    }
}

crate::store::rules::exec::cells_by!(Row, col);

/// [`Exec`] on a connection or a transaction of it: `$c` names the client in `self`.
macro_rules! pg_exec {
    ($ty:ty, $c:ident, $($notify:tt)*) => {
        impl Exec for $ty {
            fn dialect(&self) -> &'static Dialect {
                &DIALECT
            }

            fn execute(
                &mut self,
                doing: &'static str,
                sql: &str,
                params: &[Param<'_>],
            ) -> Result<usize, StoreError> {
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                self.$c
                    .execute(sql, &params)
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                    .map_err(pg_err(doing))
            }

            fn each_row(
                &mut self,
                doing: &'static str,
                sql: &str,
                params: &[Param<'_>],
                each: &mut dyn FnMut(&dyn Cells) -> Result<(), StoreError>,
            ) -> Result<(), StoreError> {
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                for row in self.$c.query(sql, &params).map_err(pg_err(doing))? {
                    each(&row)?;
                }
                Ok(())
            }

            $($notify)*
        }
    };
}

/// The connection outside a transaction: each statement commits on its own.
pub(crate) struct PgConn<'a> {
    c: &'a mut Client,
}

pg_exec!(PgConn<'_>, c,);
pg_exec!(
    PgTx<'_, '_>,
    c,
    fn notify(&mut self) -> Result<(), StoreError> {
        self.store.notify(self.c)
    }
);

impl Backend for PgStore {
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|c| f(&mut PgConn { c }))
    }

    fn writing<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.in_tx(doing, |tx| f(tx))
    }
}
