//! The outbox on SQLite ([`crate::store::WebhookLog`]): its single writer makes event ids
//! follow commits, so an event's position is its id (tx 0). The cursors' writes are
//! `rules::outbox`'s, over these statements; `BEGIN IMMEDIATE` makes each one step.

use super::{backend, SqliteStore, SqliteTx};
use crate::store::rules::outbox::{
    self, cursor_row, CursorRow, CursorTx, CURSOR_COLUMNS, OUTBOX_COLUMNS,
};
use crate::store::rules::sql;
use crate::store::{OutboxEvent, Position, StoreError};
use rusqlite::{params, OptionalExtension};

impl CursorTx for SqliteTx<'_> {
    fn make_cursor(&mut self, name: &str, now: i64) -> Result<(), StoreError> {
        self.0
            .execute(
                "INSERT OR IGNORE INTO webhook_cursors (name, last_tx, last_event, updated_at) \
                 VALUES (?1, 0, COALESCE((SELECT MAX(id) FROM events), 0), ?2)",
                params![name, now],
            )
            .map(drop)
            .map_err(backend("starting a webhook cursor"))
    }

    fn cursor(&mut self, name: &str) -> Result<Option<CursorRow>, StoreError> {
        self.0
            .query_row(
                &format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = ?1"),
                [name],
                |r| cursor_row(r),
            )
            .optional()
            .map_err(backend("reading a webhook cursor"))
    }

    fn set_lease(&mut self, name: &str, owner: Option<&str>, until: i64) -> Result<(), StoreError> {
        self.0
            .execute(sql::CURSOR_LEASE, params![owner, until, name])
            .map(drop)
            .map_err(backend("leasing a webhook cursor"))
    }

    fn move_cursor(
        &mut self,
        name: &str,
        at: Position,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.0
            .execute(sql::CURSOR_MOVE, params![at.tx, at.id, now, until, name])
            .map(drop)
            .map_err(backend("recording a webhook delivery"))
    }

    fn count_failure(
        &mut self,
        name: &str,
        error: &str,
        next_try: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.0
            .execute(sql::CURSOR_FAILURE, params![next_try, error, now, name])
            .map(drop)
            .map_err(backend("recording a webhook failure"))
    }
}

outbox::webhook_log!(SqliteStore);

impl SqliteStore {
    /// The settled events after `after`, in outbox order
    /// ([`crate::store::WebhookLog::events_after`]).
    pub(crate) fn read_outbox(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS}, e.tx FROM events e JOIN callbacks c \
                     ON c.id = e.callback_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
                ))
                .map_err(backend("reading the outbox"))?;
            s.query_map(params![after.id, limit], |r| outbox::outbox_event(r))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("reading the outbox"))
        })
    }
}
