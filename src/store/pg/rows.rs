//! PostgreSQL rows for the shared decoders (`store::rules::rows`).

use crate::store::rules::rows::{Columns, CALLBACK_COLUMNS};
use crate::store::StoreError;
use postgres::Row;

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

/// The callback columns prefixed by a table alias (`c.id, c.kind, ...`).
pub(crate) fn prefixed(alias: &str) -> String {
    CALLBACK_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
