//! The do-not-call door on PostgreSQL.

use super::{pg_err, PgStore};
use crate::store::rules::rows;
use crate::store::rules::writes::{self};
use crate::store::{DoNotCall, DoNotCallList, StoreError};

impl DoNotCallList for PgStore {
    writes::dnc_writes!();

    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError> {
        self.write("removing from the do-not-call list", |tx| {
            tx.execute("DELETE FROM do_not_call WHERE number = $1", &[&number])
                .map(|n| n > 0)
                .map_err(pg_err("removing from the do-not-call list"))
        })
    }

    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_opt("SELECT 1 FROM do_not_call WHERE number = $1", &[&number])
                .map(|r| r.is_some())
                .map_err(pg_err("checking the do-not-call list"))
        })
    }

    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT number, reason, added_at FROM do_not_call ORDER BY number",
                &[],
            )
            .map_err(pg_err("listing the do-not-call list"))?
            .iter()
            .map(|r| {
                Ok(DoNotCall {
                    number: rows::text(r, 0, "number")?,
                    reason: rows::Columns::text(r, 1, "reason")?,
                    added_at: rows::time(r, 2, "added_at")?,
                })
            })
            .collect()
        })
    }
}
