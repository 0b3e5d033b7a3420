//! The reads on PostgreSQL that are its own: the texts of its reads, the panel's lists
//! (the scope's queues an array) and the transcription-time histogram (a filtered count
//! per bound over an array of them). The reads door itself is `rules::reads`'.

use super::rows::col;
use super::{pg_err, PgStore, ACTIVE, CLAIMABLE, PENDING};
use crate::model::CallbackRequest;
use crate::store::rules::rows::{self, CALLBACK_COLUMNS};
use crate::store::rules::{panel_lists, secs};
use crate::store::{Histogram, PanelLists, PanelScope, StoreError};
use chrono::{DateTime, Utc};

/// [`crate::store::Reads::open_for_number`]'s text.
pub(super) fn open_for_number_sql() -> String {
    format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE number = $1 AND {PENDING} \
         UNION ALL SELECT {CALLBACK_COLUMNS} FROM callbacks \
         WHERE number = $1 AND {ACTIVE} ORDER BY id"
    )
}

/// [`crate::store::Reads::list`]'s text: a NULL limit is none.
pub(super) fn list_sql() -> String {
    format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks \
         WHERE ($1::text IS NULL OR queue = $1) \
         AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR number = $3) \
         AND ($5::bigint IS NULL OR updated_at >= $5) ORDER BY id LIMIT $4"
    )
}

impl PgStore {
    /// The finished transcriptions' processing times per bound, in one pass: a filtered
    /// count per bound.
    pub(crate) fn transcription_ms(&self, bounds_ms: &[u64]) -> Result<Histogram, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        self.with(|c| {
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
}

crate::store::rules::reads::reads_door!(PgStore);
