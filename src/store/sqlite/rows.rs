//! rusqlite rows for the shared decoders (`store::rules::rows`).

use crate::model::{Attempt, CallbackRequest};
use crate::store::rules::rows::{self, BadColumn, Columns};
use rusqlite::types::Type;
use rusqlite::Row;

/// A value the model cannot represent stays a conversion failure of its column, so the
/// error reads like any other of the statement that read it.
impl From<BadColumn> for rusqlite::Error {
    fn from(e: BadColumn) -> Self {
        let ty = if e.integer { Type::Integer } else { Type::Text };
        rusqlite::Error::FromSqlConversionFailure(e.idx, ty, Box::new(e))
    }
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn int(&self, idx: usize, _column: &'static str) -> rusqlite::Result<Option<i64>> {
        self.get(idx)
    }

    fn text(&self, idx: usize, _column: &'static str) -> rusqlite::Result<Option<String>> {
        self.get(idx)
    }
}

pub(crate) fn read_callback(row: &Row<'_>) -> rusqlite::Result<CallbackRequest> {
    rows::callback(row)
}

pub(crate) fn read_attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    rows::attempt(row)
}
