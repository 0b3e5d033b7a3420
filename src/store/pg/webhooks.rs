//! The outbox on PostgreSQL ([`crate::store::WebhookLog`]). Event ids come from a sequence
//! at insert time, so they do not follow commits: an event's position is `(tx, id)`, `tx` its
//! transaction's id, and a read stops before the oldest transaction still running
//! (`pg_snapshot_xmin`), so everything before a position read is final (the reasoning is
//! in `store/webhooks.rs`). A cursor row is read `FOR UPDATE`, so a claim or a move is one
//! step against another node's; the cursors' writes are `rules::outbox`'s (where a new
//! cursor starts and the lock are in `exec`'s dialect). What is here is the outbox read.

use super::exec::HORIZON;
use super::{pg_err, PgStore};
use crate::store::rules::outbox::{self, OUTBOX_COLUMNS};
use crate::store::{OutboxEvent, Position, StoreError};

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
