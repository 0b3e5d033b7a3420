//! The reads on SQLite that are its own: the texts of the reads it runs through its
//! partial indexes (their WHEREs repeated word for word), the panel's lists and the
//! transcription-time histogram. The reads door itself is `rules::reads`'.

use super::rows::read_callback;
use super::{
    backend, SqliteStore, ACTIVE, CLAIMABLE, FINISHED, NUMBER_KEY, NUMBER_KEY_OF_1, OPEN,
    PANEL_REQUESTED, PANEL_SCOPE,
};
use crate::model::CallbackRequest;
use crate::store::rules::rows::callback_columns;
use crate::store::rules::{invalid, panel_lists, secs};
use crate::store::{Histogram, PanelLists, PanelScope, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::params;
use rusqlite::types::Value;

/// A number's open callbacks, waiting or being dispatched, through `callbacks_open_number`
/// (its key and WHERE word for word).
pub(super) fn open_for_number_sql() -> String {
    let cols = callback_columns!();
    format!(
        "SELECT {cols} FROM callbacks WHERE {NUMBER_KEY} = {NUMBER_KEY_OF_1} \
         AND number = ?1 AND {OPEN}"
    )
}

/// [`crate::store::Reads::list`]'s text: a NULL limit is none.
pub(super) const LIST: &str = concat!(
    "SELECT ",
    callback_columns!(),
    " FROM callbacks WHERE (?1 IS NULL OR queue = ?1) \
     AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR number = ?3) \
     AND (?5 IS NULL OR updated_at >= ?5) ORDER BY id LIMIT coalesce(?4, -1)"
);

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteStore {
    /// The finished transcriptions' processing times per bound, in one pass: a
    /// `total(processing_ms <= ?)` per bound.
    pub(crate) fn transcription_ms(&self, bounds_ms: &[u64]) -> Result<Histogram, StoreError> {
        self.read(|c| {
            let mut sql = String::from("SELECT count(*), total(processing_ms)");
            for i in 0..bounds_ms.len() {
                sql.push_str(&format!(", total(processing_ms <= ?{})", i + 1));
            }
            sql.push_str(" FROM transcriptions WHERE state = 'done' AND processing_ms IS NOT NULL");
            let params: Vec<Value> = bounds_ms
                .iter()
                .map(|b| Value::Integer(i64::try_from(*b).unwrap_or(i64::MAX)))
                .collect();
            let transcription_ms = c
                .prepare(&sql)
                .and_then(|mut s| {
                    s.query_row(rusqlite::params_from_iter(params), |r| {
                        let mut cumulative = Vec::with_capacity(bounds_ms.len());
                        for i in 0..bounds_ms.len() {
                            let n: f64 = r.get(i + 2)?;
                            cumulative.push(n as u64);
                        }
                        Ok(Histogram {
                            count: count(r.get(0)?),
                            sum: r.get(1)?,
                            cumulative,
                        })
                    })
                })
                .map_err(backend("measuring transcription times"))?;
            Ok(transcription_ms)
        })
    }

    pub(crate) fn read_panel_lists(
        &self,
        scope: &PanelScope,
        finished_since: DateTime<Utc>,
        limit: usize,
    ) -> Result<PanelLists, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let queues =
            serde_json::to_string(&scope.queues).map_err(|e| invalid("queues", e.to_string()))?;
        let since = secs(finished_since);
        self.read(|c| {
            let err = backend("listing the panel's callbacks");
            let rows = |sql: &str, with_since: bool| -> Result<Vec<CallbackRequest>, StoreError> {
                let mut stmt = c.prepare_cached(sql).map_err(&err)?;
                let found = if with_since {
                    stmt.query_map(
                        params![scope.all, queues, scope.agent, limit, since],
                        read_callback,
                    )
                } else {
                    stmt.query_map(
                        params![scope.all, queues, scope.agent, limit],
                        read_callback,
                    )
                };
                found
                    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
                    .map_err(&err)
            };
            let count = |sql: &str| -> Result<u64, StoreError> {
                c.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_row(params![scope.all, queues, scope.agent], |r| {
                            r.get::<_, i64>(0)
                        })
                    })
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(&err)
            };
            let sql = panel_sql();
            let pending = rows(&sql.pending, false)?;
            let waiting = rows(&sql.waiting, false)?;
            let leased = rows(&sql.leased, false)?;
            let recent = rows(&sql.recent, true)?;
            let [requested, claimable, due] = &sql.counts;
            let pending_count = count(requested)? + count(claimable)? + count(due)?;
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(panel_lists(
                pending,
                waiting,
                leased,
                recent,
                pending_count,
                limit,
            ))
        })
    }
}

crate::store::rules::reads::reads_door!(SqliteStore);

/// The statements of [`SqliteStore::read_panel_lists`], one text for the store and for the
/// test of the indexes they use: ?1-?3 the scope ([`PANEL_SCOPE`]), ?4 a list's limit, ?5
/// the recent list's earliest finish.
pub(super) struct PanelSql {
    /// Requested (waiting for a due time), oldest first.
    pub pending: String,
    /// Claimable, by due time.
    pub waiting: String,
    /// In an agent's or customer's hands, by due time.
    pub leased: String,
    /// Finished since ?5, newest first.
    pub recent: String,
    /// The counts of the requested, the claimable and the due.
    pub counts: [String; 3],
}

/// The panel's statements. The requested list and counts name their index: `state =
/// 'requested'` (or 'due') also implies the WHERE of `callbacks_open_number`, and with no
/// statistics the planner chose to count through that one, every open callback (schema
/// step 13).
pub(super) fn panel_sql() -> PanelSql {
    let cols = callback_columns!();
    PanelSql {
        pending: format!("SELECT {cols} FROM callbacks INDEXED BY callbacks_requested WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE} ORDER BY created_at, id LIMIT ?4"),
        waiting: format!("SELECT {cols} FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4"),
        leased: format!("SELECT {cols} FROM callbacks WHERE {ACTIVE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4"),
        recent: format!("SELECT {cols} FROM callbacks WHERE updated_at >= ?5 AND {FINISHED} AND {PANEL_SCOPE} ORDER BY updated_at DESC, id DESC LIMIT ?4"),
        counts: [
            format!("SELECT count(*) FROM callbacks INDEXED BY callbacks_requested WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE}"),
            format!("SELECT count(*) FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE}"),
            format!("SELECT count(*) FROM callbacks INDEXED BY callbacks_leases WHERE {ACTIVE} AND state = 'due' AND {PANEL_SCOPE}"),
        ],
    }
}
