//! What `/metrics` reads from the database: durable totals, so they survive restarts and
//! (with a shared store) count the work of every node.

use super::sqlite::backend;
use super::{SqliteStore, StoreError};
use rusqlite::types::Value;

/// Totals for the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// `(queue, leg, result, count)` of finished attempts.
    pub attempts: Vec<(String, String, String, u64)>,
    /// `(state, count)` of transcription jobs (`queued`, `running`, `done`, `failed`).
    pub transcription_jobs: Vec<(String, u64)>,
    /// Processing time of finished transcriptions, per the bounds asked for.
    pub transcription_ms: Histogram,
}

/// A histogram of stored durations: `cumulative[i]` counts the values `<= bounds[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub count: u64,
    pub sum: f64,
    pub cumulative: Vec<u64>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteStore {
    pub(super) fn read_figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError> {
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
}
