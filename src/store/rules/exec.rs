//! One statement at a time, the same way on both backends: what the doors written once
//! (`rules::doors`) run their SQL through. A backend implements [`Exec`] once for its
//! connection or transaction (binding [`Param`]s, reading rows as [`Cells`], naming what
//! it was doing in its errors), [`Backend`] once for its store (a read, a transaction),
//! and gives the text of the statements its dialect writes differently ([`Dialect`]).
//!
//! Object-safe on purpose: a door takes `&mut dyn Exec`, so it is compiled once, not once
//! per backend, and a backend's driver types never reach the rules.

use super::rows::Columns;
use crate::store::StoreError;

/// A value bound to a statement's parameter. NULL is untyped: both databases take the
/// parameter's type from the statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<i32> for Param<'_> {
    fn from(v: i32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The parameters of a statement, in order: `params![a, b]` as with rusqlite, each value
/// made a [`Param`].
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        [$($crate::store::rules::exec::Param::from($v)),*]
    };
}
pub(crate) use params;

/// One row of a query, read by position. A value of the wrong type is an error naming the
/// column.
pub(crate) trait Cells {
    fn int(&self, idx: usize, column: &'static str) -> Result<Option<i64>, StoreError>;
    fn text(&self, idx: usize, column: &'static str) -> Result<Option<String>, StoreError>;
    fn real(&self, idx: usize, column: &'static str) -> Result<Option<f64>, StoreError>;
}

/// `impl Cells for $row` by the driver's typed getter `$get(row, idx, column)`, generic in
/// the value's type (`-> Result<Option<T>, StoreError>`, naming the column in its error):
/// every cell is read the same way, at `i64`, `String` or `f64`, so only the getter is the
/// backend's own.
macro_rules! cells_by {
    ($row:ty, $get:path) => {
        impl $crate::store::rules::exec::Cells for $row {
            fn int(
                &self,
                idx: usize,
                column: &'static str,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                $get(self, idx, column)
            }

            fn text(
                &self,
                idx: usize,
                column: &'static str,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                $get(self, idx, column)
            }

            fn real(
                &self,
                idx: usize,
                column: &'static str,
            ) -> Result<Option<f64>, $crate::store::StoreError> {
                $get(self, idx, column)
            }
        }
    };
}
pub(crate) use cells_by;

/// So the shared decoders (`rules::rows`) read a row of either backend.
impl Columns for dyn Cells + '_ {
    type Error = StoreError;

    fn int(&self, idx: usize, column: &'static str) -> Result<Option<i64>, StoreError> {
        Cells::int(self, idx, column)
    }

    fn text(&self, idx: usize, column: &'static str) -> Result<Option<String>, StoreError> {
        Cells::text(self, idx, column)
    }
}

/// A backend's connection or transaction, one statement at a time. `doing` says what the
/// store was doing, for the error. SQL is PostgreSQL's `$N` style: the texts of
/// [`super::sql`] run on both (SQLite binds `$N` in order of first appearance; that module
/// says how that is kept right).
pub(crate) trait Exec {
    /// The texts this backend's dialect writes its own way.
    fn dialect(&self) -> &'static Dialect;

    /// Runs a statement; how many rows it changed.
    fn execute(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<usize, StoreError>;

    /// Runs a query and hands each row, in order, to `each`.
    fn each_row(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Cells) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Tells the other nodes, when this transaction commits, that there is work to look at
    /// (nothing on a backend without other nodes).
    fn notify(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Reading rows through any [`Exec`]: `x.rows(..)`, `x.row(..)`, `x.one(..)`.
pub(crate) trait Query: Exec {
    /// Every row of a query, each made a `T` by `f`.
    fn rows<T>(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
        mut f: impl FnMut(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each_row(doing, sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, if any, made a `T` by `f`.
    fn row<T>(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
        f: impl FnOnce(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.each_row(doing, sql, params, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The row a query always returns (an aggregate, a `RETURNING`), made a `T` by `f`.
    fn one<T>(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[Param<'_>],
        f: impl FnOnce(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.row(doing, sql, params, f)?
            .ok_or_else(|| StoreError::Backend(format!("{doing}: the query returned no row")))
    }
}

impl<X: Exec + ?Sized> Query for X {}

/// A backend's store: a read on its connection, a write in one transaction of it.
pub(crate) trait Backend {
    /// Runs `f` on the connection (opening it again first if it was lost).
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    fn writing<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;
}

/// The statements each backend writes in its own dialect (index hints, casts, row locks,
/// its idea of a transaction's position); everything else is one text in [`super::sql`].
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The callbacks of the number `$1` not finished yet (waiting or being dispatched).
    pub open_for_number: String,
    /// Callbacks by id, filtered by queue `$1`, state `$2`, number `$3`, changed since `$5`
    /// (each NULL: any), at most `$4` (NULL: all).
    pub list: String,
    /// The agents with an open agent leg on a callback leased past `$1`: agent, callback.
    pub agents_busy: String,
    /// The mean handling time (seconds, a float) of the last `$2` answered agent legs of
    /// the queue `$1`.
    pub handling_time: String,
    /// Starts the webhook cursor `$1` at now `$2` where it begins (if it is new).
    pub cursor_make: String,
    /// The webhook cursor `$1` ([`super::outbox::CURSOR_COLUMNS`]), locked for the
    /// transaction where the backend locks rows.
    pub cursor_read: String,
    /// Extends the lease of the callback `$1` held by `$2` to `$3`, if it is live at `$4`.
    pub renew_lease: String,
    /// The first due time of a waiting callback and the first lease expiry of an active one.
    pub next_wakeup: String,
    /// The transcription job to claim at `$1` (id), locked where the backend locks rows.
    pub job_claimable: String,
    /// The callback `$1` ([`super::rows::CALLBACK_COLUMNS`]), locked for the transaction
    /// where the backend locks rows: a change follows.
    pub callback_for_update: String,
    /// The attempt `$1` ([`super::rows::ATTEMPT_COLUMNS`]), locked likewise.
    pub attempt_for_update: String,
    /// The oldest waiting callback (id) of the number `$1` in the queue `$2`.
    pub pending_of_number: String,
    /// Live callbacks (a count) of the queue `$1` due in `[$2, $3)`.
    pub slot_count: String,
    /// `id, state, recording_path` of the callbacks a purge forgets: the id `$1`, or those
    /// finished before `$2`, that still hold a recording or what was said (locked likewise).
    pub purgeable: String,
}
