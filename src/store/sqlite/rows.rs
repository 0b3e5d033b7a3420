//! rusqlite rows for the shared decoders (`store::rules::rows`), and the reads of one row
//! that several doors use.

use super::backend;
use crate::model::{Attempt, CallbackId, CallbackRequest};
use crate::store::rules::rows::{self, callback_columns, BadColumn, Columns};
use crate::store::StoreError;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};

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

pub(crate) fn load(conn: &Connection, id: CallbackId) -> Result<CallbackRequest, StoreError> {
    conn.prepare_cached(concat!(
        "SELECT ",
        callback_columns!(),
        " FROM callbacks WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], read_callback).optional())
    .map_err(backend("reading a callback"))?
    .ok_or(StoreError::NotFound(id))
}

pub(crate) fn exists(conn: &Connection, id: CallbackId) -> Result<(), StoreError> {
    let found = conn
        .prepare_cached("SELECT 1 FROM callbacks WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .map_err(backend("looking up a callback"))?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound(id))
    }
}
