//! PostgreSQL rows for the shared decoders (`store::rules::rows`), and the reads of one row
//! that several doors use.

use super::pg_err;
use crate::model::{CallbackId, CallbackRequest};
use crate::store::rules::rows::{self, Columns, CALLBACK_COLUMNS};
use crate::store::StoreError;
use postgres::{GenericClient, Row};

/// A value as the driver reads it, or what column it could not read.
pub(crate) fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
    column: &'static str,
) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
}

impl Columns for Row {
    type Error = StoreError;

    fn int(&self, idx: usize, column: &'static str) -> Result<Option<i64>, StoreError> {
        col(self, idx, column)
    }

    fn text(&self, idx: usize, column: &'static str) -> Result<Option<String>, StoreError> {
        col(self, idx, column)
    }
}

/// A callback, locked for the rest of the transaction when `lock` (a change follows).
pub(crate) fn load_with(
    c: &mut impl GenericClient,
    id: CallbackId,
    lock: bool,
) -> Result<CallbackRequest, StoreError> {
    let sql = format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = c
        .query_opt(&sql, &[&id])
        .map_err(pg_err("reading a callback"))?
        .ok_or(StoreError::NotFound(id))?;
    rows::callback(&row)
}

pub(crate) fn exists(c: &mut impl GenericClient, id: CallbackId) -> Result<(), StoreError> {
    let found = c
        .query_opt("SELECT 1 FROM callbacks WHERE id = $1", &[&id])
        .map_err(pg_err("looking up a callback"))?;
    found.map(drop).ok_or(StoreError::NotFound(id))
}

/// The callback columns prefixed by a table alias (`c.id, c.kind, ...`).
pub(crate) fn prefixed(alias: &str) -> String {
    CALLBACK_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
