//! The outbox on SQLite ([`WebhookLog`]): its single writer makes event ids follow
//! commits, so an event's position is its id (tx 0). The decisions are
//! `rules::outbox`'s; `BEGIN IMMEDIATE` makes each read-then-write one step.

use super::{backend, SqliteStore};
use crate::store::rules::outbox::{
    self, advanced, cursor_row, may_claim, CursorRow, CURSOR_COLUMNS, OUTBOX_COLUMNS,
};
use crate::store::rules::{lease_until, secs};
use crate::store::{OutboxEvent, Position, StoreError, WebhookCursor, WebhookLog};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

/// The cursor `name`, made at the newest event if missing.
fn load(tx: &Transaction<'_>, name: &str, now: DateTime<Utc>) -> Result<CursorRow, StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO webhook_cursors (name, last_tx, last_event, updated_at) \
         VALUES (?1, 0, COALESCE((SELECT MAX(id) FROM events), 0), ?2)",
        params![name, secs(now)],
    )
    .map_err(backend("starting a webhook cursor"))?;
    tx.query_row(
        &format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = ?1"),
        [name],
        |r| cursor_row(r),
    )
    .optional()
    .map_err(backend("reading a webhook cursor"))?
    .ok_or_else(|| StoreError::Backend(format!("webhook cursor '{name}' vanished")))
}

/// The cursor `name` if it exists and `owner` holds it.
fn held(tx: &Transaction<'_>, name: &str, owner: &str) -> Result<Option<CursorRow>, StoreError> {
    let row = tx
        .query_row(
            &format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = ?1"),
            [name],
            |r| cursor_row(r),
        )
        .optional()
        .map_err(backend("reading a webhook cursor"))?;
    Ok(row.filter(|r| outbox::holds(r, owner)))
}

impl WebhookLog for SqliteStore {
    fn webhook_cursor(&self, name: &str, now: DateTime<Utc>) -> Result<WebhookCursor, StoreError> {
        self.write("reading a webhook cursor", |tx| {
            Ok(load(tx, name, now)?.cursor)
        })
    }

    fn claim_webhook(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<WebhookCursor>, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("claiming a webhook cursor", |tx| {
            let row = load(tx, name, now)?;
            if !may_claim(&row, owner, secs(now)) {
                return Ok(None);
            }
            tx.execute(
                "UPDATE webhook_cursors SET lease_owner = ?2, lease_expires = ?3 WHERE name = ?1",
                params![name, owner, until],
            )
            .map_err(backend("claiming a webhook cursor"))?;
            Ok(Some(row.cursor))
        })
    }

    fn events_after(&self, after: Position, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
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

    fn webhook_delivered(
        &self,
        name: &str,
        owner: &str,
        to: Position,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("recording a webhook delivery", |tx| {
            let Some(row) = held(tx, name, owner)? else {
                return Ok(false);
            };
            let at = advanced(row.cursor.last, to);
            tx.execute(
                "UPDATE webhook_cursors SET last_tx = ?2, last_event = ?3, attempts = 0, \
                 next_try_at = 0, last_error = NULL, updated_at = ?4, lease_expires = ?5 \
                 WHERE name = ?1",
                params![name, at.tx, at.id, secs(now), until],
            )
            .map_err(backend("recording a webhook delivery"))?;
            Ok(true)
        })
    }

    fn webhook_failed(
        &self,
        name: &str,
        owner: &str,
        error: &str,
        next_try_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let error = outbox::error_text(error);
        self.write("recording a webhook failure", |tx| {
            if held(tx, name, owner)?.is_none() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE webhook_cursors SET attempts = attempts + 1, next_try_at = ?2, \
                 last_error = ?3, updated_at = ?4 WHERE name = ?1",
                params![name, secs(next_try_at), error, secs(now)],
            )
            .map_err(backend("recording a webhook failure"))?;
            Ok(true)
        })
    }

    fn release_webhook(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write("releasing a webhook cursor", |tx| {
            tx.execute(
                "UPDATE webhook_cursors SET lease_owner = NULL, lease_expires = 0 \
                 WHERE name = ?1 AND lease_owner = ?2",
                params![name, owner],
            )
            .map(drop)
            .map_err(backend("releasing a webhook cursor"))
        })
    }
}
