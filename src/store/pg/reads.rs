//! The reads door on PostgreSQL: lists, traces, counts, the panel's lists and `/metrics`
//! totals.

use super::rows::{col, exists};
use super::{pg_err, PgStore, ACTIVE, CLAIMABLE, PENDING};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, State};
use crate::store::rules::rows::Columns;
use crate::store::rules::rows::{
    self, enum_col, job, job_row, ATTEMPT_COLUMNS, CALLBACK_COLUMNS, EVENT_COLUMNS, JOB_COLUMNS,
};
use crate::store::rules::{panel_lists, result_counts, secs};
use crate::store::{
    Event, Figures, Histogram, ListFilter, PanelLists, PanelScope, Reads, Stats, StoreError,
    TranscriptionJob,
};
use chrono::{DateTime, Utc};

impl Reads for PgStore {
    fn open_for_number(&self, number: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE number = $1 AND {PENDING} \
                     UNION ALL SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE number = $1 AND {ACTIVE} ORDER BY id"
                ),
                &[&number],
            )
            .map_err(pg_err("listing a number's open callbacks"))?
            .iter()
            .map(rows::callback)
            .collect()
        })
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError> {
        let limit: Option<i64> = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE ($1::text IS NULL OR queue = $1) \
                     AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR number = $3) \
                     AND ($5::bigint IS NULL OR updated_at >= $5) ORDER BY id LIMIT $4"
                ),
                &[
                    &filter.queue,
                    &filter.state.map(State::as_str),
                    &filter.number,
                    &limit,
                    &filter.updated_since.map(secs),
                ],
            )
            .map_err(pg_err("listing callbacks"))?
            .iter()
            .map(rows::callback)
            .collect()
        })
    }

    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError> {
        self.with(|c| {
            exists(c, id)?;
            c.query(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE callback_id = $1 ORDER BY id"),
                &[&id],
            )
            .map_err(pg_err("reading the trace"))?
            .iter()
            .map(rows::event)
            .collect()
        })
    }

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError> {
        self.with(|c| {
            exists(c, id)?;
            c.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE callback_id = $1 ORDER BY id"
                ),
                &[&id],
            )
            .map_err(pg_err("reading attempts"))?
            .iter()
            .map(rows::attempt)
            .collect()
        })
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        self.with(|c| {
            let mut by_queue_state = c
                .query(
                    "SELECT queue, state, count(*) FROM callbacks GROUP BY queue, state",
                    &[],
                )
                .map_err(pg_err("counting callbacks"))?
                .iter()
                .map(|r| {
                    let n: i64 = col(r, 2, "count")?;
                    Ok((
                        col::<String>(r, 0, "queue")?,
                        enum_col::<_, State>(r, 1, "state")?,
                        u64::try_from(n).unwrap_or(0),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            by_queue_state.sort();
            Ok(Stats { by_queue_state })
        })
    }

    fn figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        self.with(|c| {
            let attempts = c
                .query(
                    "SELECT c.queue, a.leg, a.result, count(*) FROM attempts a \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.result IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    &[],
                )
                .map_err(pg_err("counting attempt results"))?
                .iter()
                .map(|r| {
                    Ok((
                        col(r, 0, "queue")?,
                        col(r, 1, "leg")?,
                        col(r, 2, "result")?,
                        count(col(r, 3, "count")?),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let transcription_jobs = c
                .query(
                    "SELECT state, count(*) FROM transcriptions GROUP BY state ORDER BY state",
                    &[],
                )
                .map_err(pg_err("counting transcription jobs"))?
                .iter()
                .map(|r| Ok((col(r, 0, "state")?, count(col(r, 1, "count")?))))
                .collect::<Result<Vec<_>, StoreError>>()?;
            // One pass over the finished jobs: a filtered count per bound.
            let bounds: Vec<i64> = bounds_ms
                .iter()
                .map(|b| i64::try_from(*b).unwrap_or(i64::MAX))
                .collect();
            let r = c
                .query_one(
                    "SELECT count(*), coalesce(sum(processing_ms), 0)::float8, \
                     coalesce((SELECT array_agg((SELECT count(*) FROM transcriptions t \
                         WHERE t.state = 'done' AND t.processing_ms IS NOT NULL \
                         AND t.processing_ms <= b) ORDER BY n) \
                      FROM unnest($1::bigint[]) WITH ORDINALITY AS x(b, n)), '{}') \
                     FROM transcriptions WHERE state = 'done' AND processing_ms IS NOT NULL",
                    &[&bounds],
                )
                .map_err(pg_err("measuring transcription times"))?;
            let cumulative: Vec<i64> = col(&r, 2, "processing_ms")?;
            let transcription_ms = Histogram {
                count: count(col(&r, 0, "count")?),
                sum: col(&r, 1, "processing_ms")?,
                cumulative: cumulative.into_iter().map(count).collect(),
            };
            Ok(Figures {
                attempts,
                transcription_jobs,
                transcription_ms,
            })
        })
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_one("SELECT COALESCE(MAX(id), 0)::bigint FROM events", &[])
                .map_err(pg_err("reading the last event"))
                .and_then(|r| col(&r, 0, "id"))
        })
    }

    fn panel_lists(
        &self,
        scope: &PanelScope,
        finished_since: DateTime<Utc>,
        limit: usize,
    ) -> Result<PanelLists, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let since = secs(finished_since);
        // The scope: $1 every callback, or the queues $2, or personal to the agent $3.
        let scope_sql = "($1 OR queue = ANY($2) OR agent = $3)";
        self.with(|c| {
            let err = pg_err("listing the panel's callbacks");
            let mut rows = |sql: String, with_since: bool| -> Result<Vec<CallbackRequest>, StoreError> {
                let found = if with_since {
                    c.query(&sql, &[&scope.all, &scope.queues, &scope.agent, &limit, &since])
                } else {
                    c.query(&sql, &[&scope.all, &scope.queues, &scope.agent, &limit])
                };
                found.map_err(&err)?.iter().map(rows::callback).collect()
            };
            let pending = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE state = 'requested' AND {scope_sql} ORDER BY created_at, id LIMIT $4"), false)?;
            let waiting = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE {CLAIMABLE} AND {scope_sql} ORDER BY due_at, id LIMIT $4"), false)?;
            let leased = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE {ACTIVE} AND {scope_sql} ORDER BY due_at, id LIMIT $4"), false)?;
            let recent = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE updated_at >= $5 AND state IN ('completed', 'failed', 'cancelled', 'expired', 'done') AND {scope_sql} ORDER BY updated_at DESC, id DESC LIMIT $4"), true)?;
            let pending_count: i64 = c
                .query_one(
                    &format!(
                        "SELECT count(*) FROM callbacks WHERE (state = 'requested' OR {CLAIMABLE} \
                         OR state = 'due') AND {scope_sql}"
                    ),
                    &[&scope.all, &scope.queues, &scope.agent],
                )
                .map_err(&err)?
                .get(0);
            let pending_count = u64::try_from(pending_count).unwrap_or(0);
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(panel_lists(pending, waiting, leased, recent, pending_count, limit))
        })
    }

    fn results_since(
        &self,
        queue: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Option<AttemptResult>, u64)>, StoreError> {
        let rows = self.with(|c| {
            c.query(
                "SELECT a.result, count(*) FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = $1 AND a.leg = 'customer' AND a.ended_at >= $2 \
                 GROUP BY a.result ORDER BY a.result",
                &[&queue, &secs(since)],
            )
            .map_err(pg_err("counting call results"))?
            .iter()
            .map(|r| Ok((r.text(0, "result")?, rows::int(r, 1, "count")?)))
            .collect::<Result<Vec<_>, StoreError>>()
        })?;
        Ok(result_counts(rows))
    }

    fn transcription(&self, id: CallbackId) -> Result<Option<TranscriptionJob>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM transcriptions WHERE callback_id = $1 \
                     ORDER BY id DESC LIMIT 1"
                ),
                &[&id],
            )
            .map_err(pg_err("reading a transcription"))?
            .map(|r| job_row(&r).and_then(job))
            .transpose()
        })
    }
}
