//! The outbox on PostgreSQL ([`crate::store::WebhookLog`]). Event ids come from a sequence
//! at insert time, so they do not follow commits: an event's position is `(tx, id)`, `tx` its
//! transaction's id, and a read stops before the oldest transaction still running
//! (`pg_snapshot_xmin`), so everything before a position read is final (the reasoning is
//! in `store/webhooks.rs`). A cursor row is read `FOR UPDATE`, so a claim or a move is one
//! step against another node's; the cursors' writes are `rules::outbox`'s, over these
//! statements.

use super::{pg_err, PgStore, PgTx};
use crate::store::rules::outbox::{
    self, cursor_row, CursorRow, CursorTx, CURSOR_COLUMNS, OUTBOX_COLUMNS,
};
use crate::store::rules::sql;
use crate::store::{OutboxEvent, Position, StoreError};

/// The oldest transaction still running: every event of an older transaction is
/// committed or rolled back for good.
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())";

impl CursorTx for PgTx<'_, '_> {
    /// A new cursor starts at the horizon: it is owed every event of a transaction not
    /// finished before it was made (what happens from now on).
    fn make_cursor(&mut self, name: &str, now: i64) -> Result<(), StoreError> {
        self.c
            .execute(
                &format!(
                    "INSERT INTO webhook_cursors (name, last_tx, last_event, updated_at) \
                     VALUES ($1, {HORIZON}::text::bigint, 0, $2) ON CONFLICT (name) DO NOTHING"
                ),
                &[&name, &now],
            )
            .map(drop)
            .map_err(pg_err("starting a webhook cursor"))
    }

    fn cursor(&mut self, name: &str) -> Result<Option<CursorRow>, StoreError> {
        self.c
            .query_opt(
                &format!("SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE name = $1 FOR UPDATE"),
                &[&name],
            )
            .map_err(pg_err("reading a webhook cursor"))?
            .map(|r| cursor_row(&r))
            .transpose()
    }

    fn set_lease(&mut self, name: &str, owner: Option<&str>, until: i64) -> Result<(), StoreError> {
        self.c
            .execute(sql::CURSOR_LEASE, &[&owner, &until, &name])
            .map(drop)
            .map_err(pg_err("leasing a webhook cursor"))
    }

    fn move_cursor(
        &mut self,
        name: &str,
        at: Position,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.c
            .execute(sql::CURSOR_MOVE, &[&at.tx, &at.id, &now, &until, &name])
            .map(drop)
            .map_err(pg_err("recording a webhook delivery"))
    }

    fn count_failure(
        &mut self,
        name: &str,
        error: &str,
        next_try: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.c
            .execute(sql::CURSOR_FAILURE, &[&next_try, &error, &now, &name])
            .map(drop)
            .map_err(pg_err("recording a webhook failure"))
    }
}

outbox::webhook_log!(PgStore);

impl PgStore {
    /// The settled events after `after`, in outbox order
    /// ([`crate::store::WebhookLog::events_after`]).
    pub(crate) fn read_outbox(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
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
}
