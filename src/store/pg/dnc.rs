//! The do-not-call door on PostgreSQL.

use super::{pg_err, PgStore, PgTx};
use crate::store::rules::rows;
use crate::store::rules::writes::Tx;
use crate::store::rules::{check_number, secs};
use crate::store::{DoNotCall, DoNotCallList, StoreError};
use chrono::{DateTime, Utc};

impl DoNotCallList for PgStore {
    fn dnc_add(
        &self,
        number: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_number(number)?;
        self.write("adding to the do-not-call list", |tx| {
            PgTx { c: tx, store: self }.add_dnc(number, reason, secs(now))
        })
    }

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
