//! The outbox on PostgreSQL ([`WebhookLog`]). Event ids come from a sequence at insert
//! time, so they do not follow commits: an event's position is `(tx, id)`, `tx` its
//! transaction's id, and a read stops before the oldest transaction still running
//! (`pg_snapshot_xmin`), so everything before a position read is final (the reasoning is
//! in `store/webhooks.rs`). A cursor row is read `FOR UPDATE`, so a claim or a move is one
//! step against another node's; the decisions are `rules::outbox`'s.

use super::{pg_err, PgStore};
use crate::store::rules::outbox::{
    self, advanced, cursor_row, may_claim, CursorRow, CURSOR_COLUMNS, OUTBOX_COLUMNS,
};
use crate::store::rules::{lease_until, secs};
use crate::store::{OutboxEvent, Position, StoreError, WebhookCursor, WebhookLog};
use chrono::{DateTime, Duration, Utc};
use postgres::Transaction;

/// The oldest transaction still running, as a plain integer: every event of an older
/// transaction is committed or rolled back for good.
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())";

/// The cursor `name`, locked, made if missing at the horizon (owed every event of a
/// transaction not finished before it was made: what happens from now on).
fn load(tx: &mut Transaction<'_>, name: &str, now: DateTime<Utc>) -> Result<CursorRow, StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO webhook_cursors (name, last_tx, last_event, updated_at) \
             VALUES ($1, {HORIZON}::text::bigint, 0, $2) ON CONFLICT (name) DO NOTHING"
        ),
        &[&name, &secs(now)],
    )
    .map_err(pg_err("starting a webhook cursor"))?;
    locked(tx, name)?
        .ok_or_else(|| StoreError::Backend(format!("webhook cursor '{name}' vanished")))
}

fn locked(tx: &mut Transaction<'_>, name: &str) -> Result<Option<CursorRow>, StoreError> {
    tx.query_opt(
        &format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = $1 FOR UPDATE"),
        &[&name],
    )
    .map_err(pg_err("reading a webhook cursor"))?
    .map(|r| cursor_row(&r))
    .transpose()
}

impl WebhookLog for PgStore {
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
                "UPDATE webhook_cursors SET lease_owner = $2, lease_expires = $3 WHERE name = $1",
                &[&name, &owner, &until],
            )
            .map_err(pg_err("claiming a webhook cursor"))?;
            Ok(Some(row.cursor))
        })
    }

    fn events_after(&self, after: Position, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS}, e.tx::text::bigint FROM events e \
                     JOIN callbacks c ON c.id = e.callback_id \
                     WHERE (e.tx, e.id) > ($1::bigint::text::xid8, $2) AND e.tx < {HORIZON} \
                     ORDER BY e.tx, e.id LIMIT $3"
                ),
                &[&after.tx, &after.id, &limit],
            )
            .map_err(pg_err("reading the outbox"))?
            .iter()
            .map(outbox::outbox_event)
            .collect()
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
            let Some(row) = locked(tx, name)?.filter(|r| outbox::holds(r, owner)) else {
                return Ok(false);
            };
            let at = advanced(row.cursor.last, to);
            tx.execute(
                "UPDATE webhook_cursors SET last_tx = $2, last_event = $3, attempts = 0, \
                 next_try_at = 0, last_error = NULL, updated_at = $4, lease_expires = $5 \
                 WHERE name = $1",
                &[&name, &at.tx, &at.id, &secs(now), &until],
            )
            .map_err(pg_err("recording a webhook delivery"))?;
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
            if locked(tx, name)?
                .filter(|r| outbox::holds(r, owner))
                .is_none()
            {
                return Ok(false);
            }
            tx.execute(
                "UPDATE webhook_cursors SET attempts = attempts + 1, next_try_at = $2, \
                 last_error = $3, updated_at = $4 WHERE name = $1",
                &[&name, &secs(next_try_at), &error, &secs(now)],
            )
            .map_err(pg_err("recording a webhook failure"))?;
            Ok(true)
        })
    }

    fn release_webhook(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write("releasing a webhook cursor", |tx| {
            tx.execute(
                "UPDATE webhook_cursors SET lease_owner = NULL, lease_expires = 0 \
                 WHERE name = $1 AND lease_owner = $2",
                &[&name, &owner],
            )
            .map(drop)
            .map_err(pg_err("releasing a webhook cursor"))
        })
    }
}
