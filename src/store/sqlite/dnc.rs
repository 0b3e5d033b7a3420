//! The do-not-call door on SQLite.

use super::{backend, SqliteStore};
use crate::store::rules::rows::time;
use crate::store::rules::writes::{self};
use crate::store::{DoNotCall, DoNotCallList, StoreError};

impl DoNotCallList for SqliteStore {
    writes::dnc_writes!();

    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError> {
        self.write("removing from the do-not-call list", |tx| {
            tx.prepare_cached("DELETE FROM do_not_call WHERE number = ?1")
                .and_then(|mut s| s.execute([number]))
                .map(|n| n > 0)
                .map_err(backend("removing from the do-not-call list"))
        })
    }

    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM do_not_call WHERE number = ?1")
                .and_then(|mut s| s.exists([number]))
                .map_err(backend("checking the do-not-call list"))
        })
    }

    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT number, reason, added_at FROM do_not_call ORDER BY number")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(DoNotCall {
                            number: r.get(0)?,
                            reason: r.get(1)?,
                            added_at: time(r, 2, "added_at")?,
                        })
                    })?
                    .collect()
                })
                .map_err(backend("listing the do-not-call list"))
        })
    }
}
