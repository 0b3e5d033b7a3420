//! The outbox on SQLite ([`crate::store::WebhookLog`]): its single writer makes event ids
//! follow commits, so an event's position is its id (tx 0). The cursors' writes are
//! `rules::outbox`'s (where a new cursor starts is in `exec`'s dialect); `BEGIN IMMEDIATE`
//! makes each one step. What is here is the outbox read.

use super::{backend, SqliteStore};
use crate::store::rules::outbox::{self, OUTBOX_COLUMNS};
use crate::store::{OutboxEvent, Position, StoreError};
use rusqlite::params;

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
