//! The reads door on SQLite: lists, traces, counts, the panel's lists and `/metrics`
//! totals, each through an index (the partial indexes' WHEREs repeated word for word).

use super::rows::{exists, read_attempt, read_callback, read_event};
use super::{
    backend, SqliteStore, ACTIVE, CLAIMABLE, FINISHED, NUMBER_KEY, NUMBER_KEY_OF_1, OPEN,
    PANEL_REQUESTED, PANEL_SCOPE,
};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, State};
use crate::store::rules::rows::{
    attempt_columns, callback_columns, enum_col, job, job_row, EVENT_COLUMNS, JOB_COLUMNS,
};
use crate::store::rules::{invalid, panel_lists, result_counts, secs};
use crate::store::{
    Event, Figures, Histogram, ListFilter, PanelLists, PanelScope, Reads, Stats, StoreError,
    TranscriptionJob,
};
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension};

/// A number's open callbacks, waiting or being dispatched, through `callbacks_open_number`
/// (its key and WHERE word for word).
pub(super) fn open_for_number_sql() -> String {
    let cols = callback_columns!();
    format!(
        "SELECT {cols} FROM callbacks WHERE {NUMBER_KEY} = {NUMBER_KEY_OF_1} \
         AND number = ?1 AND {OPEN}"
    )
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Reads for SqliteStore {
    fn open_for_number(&self, number: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&open_for_number_sql())
                .map_err(backend("listing a number's open callbacks"))?;
            let mut rows = stmt
                .query_map([number], read_callback)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("listing a number's open callbacks"))?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError> {
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(concat!(
                    "SELECT ",
                    callback_columns!(),
                    " FROM callbacks WHERE (?1 IS NULL OR queue = ?1) \
                     AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR number = ?3) \
                     AND (?5 IS NULL OR updated_at >= ?5) ORDER BY id LIMIT ?4"
                ))
                .map_err(backend("listing callbacks"))?;
            let rows = stmt
                .query_map(
                    params![
                        filter.queue,
                        filter.state.map(State::as_str),
                        filter.number,
                        limit,
                        filter.updated_since.map(secs)
                    ],
                    read_callback,
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("listing callbacks"))?;
            Ok(rows)
        })
    }

    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError> {
        self.read(|c| {
            exists(c, id)?;
            c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE callback_id = ?1 ORDER BY id"
            ))
            .and_then(|mut s| {
                s.query_map([id], read_event)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend("reading the trace"))
        })
    }

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError> {
        self.read(|c| {
            exists(c, id)?;
            c.prepare_cached(concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM attempts WHERE callback_id = ?1 ORDER BY id"
            ))
            .and_then(|mut s| s.query_map([id], read_attempt)?.collect())
            .map_err(backend("reading attempts"))
        })
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        self.read(|c| {
            let mut by_queue_state: Vec<(String, State, u64)> = c
                .prepare_cached(
                    "SELECT queue, state, count(*) FROM callbacks GROUP BY queue, state",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        let n: i64 = r.get(2)?;
                        Ok((
                            r.get(0)?,
                            enum_col(r, 1, "state")?,
                            u64::try_from(n).unwrap_or(0),
                        ))
                    })?
                    .collect()
                })
                .map_err(backend("counting callbacks"))?;
            // Lifecycle order within a queue reads better than alphabetical.
            by_queue_state.sort();
            Ok(Stats { by_queue_state })
        })
    }

    fn figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError> {
        self.read(|c| {
            let attempts = c
                .prepare_cached(
                    "SELECT c.queue, a.leg, a.result, count(*) FROM attempts a \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.result IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, count(r.get(3)?)))
                    })?
                    .collect()
                })
                .map_err(backend("counting attempt results"))?;
            let transcription_jobs = c
                .prepare_cached(
                    "SELECT state, count(*) FROM transcriptions GROUP BY state ORDER BY state",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, count(r.get(1)?))))?
                        .collect()
                })
                .map_err(backend("counting transcription jobs"))?;
            // One pass over the finished jobs: a `sum(processing_ms <= ?)` per bound.
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
            Ok(Figures {
                attempts,
                transcription_jobs,
                transcription_ms,
            })
        })
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
                .map_err(backend("reading the last event"))
        })
    }

    fn panel_lists(
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
                    stmt.query_map(params![scope.all, queues, scope.agent, limit], read_callback)
                };
                found
                    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
                    .map_err(&err)
            };
            let count = |sql: &str| -> Result<u64, StoreError> {
                c.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_row(params![scope.all, queues, scope.agent], |r| r.get::<_, i64>(0))
                    })
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(&err)
            };
            // The requested list and counts name their index: `state = 'requested'` (or
            // 'due') also implies the WHERE of `callbacks_open_number`, and with no
            // statistics the planner chose to count through that one, every open callback
            // (schema step 13).
            let pending = rows(&format!("SELECT {} FROM callbacks INDEXED BY callbacks_requested WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE} ORDER BY created_at, id LIMIT ?4", callback_columns!()), false)?;
            let waiting = rows(&format!("SELECT {} FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4", callback_columns!()), false)?;
            let leased = rows(&format!("SELECT {} FROM callbacks WHERE {ACTIVE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4", callback_columns!()), false)?;
            let recent = rows(&format!("SELECT {} FROM callbacks WHERE updated_at >= ?5 AND {FINISHED} AND {PANEL_SCOPE} ORDER BY updated_at DESC, id DESC LIMIT ?4", callback_columns!()), true)?;
            let pending_count = count(&format!("SELECT count(*) FROM callbacks INDEXED BY callbacks_requested WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE}"))?
                + count(&format!("SELECT count(*) FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE}"))?
                + count(&format!("SELECT count(*) FROM callbacks INDEXED BY callbacks_leases WHERE {ACTIVE} AND state = 'due' AND {PANEL_SCOPE}"))?;
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(panel_lists(pending, waiting, leased, recent, pending_count, limit))
        })
    }

    fn results_since(
        &self,
        queue: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Option<AttemptResult>, u64)>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = self.read(|c| {
            c.prepare_cached(
                "SELECT a.result, COUNT(*) FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = ?1 AND a.leg = 'customer' AND a.ended_at >= ?2 \
                 GROUP BY a.result ORDER BY a.result",
            )
            .and_then(|mut s| {
                s.query_map(params![queue, secs(since)], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(backend("counting call results"))
        })?;
        Ok(result_counts(rows))
    }

    fn transcription(&self, id: CallbackId) -> Result<Option<TranscriptionJob>, StoreError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM transcriptions WHERE callback_id = ?1 \
                 ORDER BY id DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([id], |r| job_row(r)).optional())
            .map_err(backend("reading a transcription"))?
            .map(job)
            .transpose()
        })
    }
}
