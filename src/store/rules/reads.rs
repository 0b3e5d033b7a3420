//! The reads door ([`crate::store::Reads`]), written once over a backend's statements:
//! lists, traces, counts, `/metrics` totals. Where a backend reads through its own indexes
//! the text is its dialect's (`open_for_number`, `list`); the panel's lists and the
//! transcription-time histogram are each backend's own algorithm (`read_panel_lists`,
//! `transcription_ms`), called from [`reads_door`].

use super::exec::{params, Backend, Query};
use super::rows::{self, enum_col, int, job, job_row, text, EVENT_COLUMNS, JOB_COLUMNS};
use super::{result_counts, secs, sql};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest, State};
use crate::store::{Event, ListFilter, Stats, StoreError, TranscriptionJob};
use chrono::{DateTime, Utc};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// [`crate::store::Reads::open_for_number`]: by id.
pub(crate) fn open_for_number(
    b: &impl Backend,
    number: &str,
) -> Result<Vec<CallbackRequest>, StoreError> {
    let mut found = b.reading(|x| {
        let sql = &x.dialect().open_for_number;
        x.rows(
            "listing a number's open callbacks",
            sql,
            &params![number],
            |r| rows::callback(r),
        )
    })?;
    found.sort_by_key(|r| r.id);
    Ok(found)
}

/// [`crate::store::Reads::list`].
pub(crate) fn list(
    b: &impl Backend,
    filter: &ListFilter,
) -> Result<Vec<CallbackRequest>, StoreError> {
    let limit = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    b.reading(|x| {
        let sql = &x.dialect().list;
        x.rows(
            "listing callbacks",
            sql,
            &params![
                filter.queue.as_ref(),
                filter.state.map(State::as_str),
                filter.number.as_ref(),
                limit,
                filter.updated_since.map(secs)
            ],
            |r| rows::callback(r),
        )
    })
}

/// [`crate::store::Reads::events`]: an unknown callback is [`StoreError::NotFound`].
pub(crate) fn events(b: &impl Backend, id: CallbackId) -> Result<Vec<Event>, StoreError> {
    b.reading(|x| {
        super::exists(x, id)?;
        x.rows(
            "reading the trace",
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE callback_id = $1 ORDER BY id"),
            &params![id],
            |r| rows::event(r),
        )
    })
}

/// [`crate::store::Reads::attempts`]: an unknown callback is [`StoreError::NotFound`].
pub(crate) fn attempts(b: &impl Backend, id: CallbackId) -> Result<Vec<Attempt>, StoreError> {
    b.reading(|x| {
        super::exists(x, id)?;
        x.rows("reading attempts", sql::ATTEMPTS_OF, &params![id], |r| {
            rows::attempt(r)
        })
    })
}

/// [`crate::store::Reads::stats`]: lifecycle order within a queue, which reads better than
/// alphabetical.
pub(crate) fn stats(b: &impl Backend) -> Result<Stats, StoreError> {
    let mut by_queue_state = b.reading(|x| {
        x.rows("counting callbacks", sql::STATS, &[], |r| {
            Ok((
                text(r, 0, "queue")?,
                enum_col::<_, State>(r, 1, "state")?,
                count(int(r, 2, "count")?),
            ))
        })
    })?;
    by_queue_state.sort();
    Ok(Stats { by_queue_state })
}

/// The attempt results and the jobs by state of [`crate::store::Reads::figures`].
#[allow(clippy::type_complexity)]
pub(crate) fn counts(
    b: &impl Backend,
) -> Result<(Vec<(String, String, String, u64)>, Vec<(String, u64)>), StoreError> {
    b.reading(|x| {
        let attempts = x.rows("counting attempt results", sql::ATTEMPT_RESULTS, &[], |r| {
            Ok((
                text(r, 0, "queue")?,
                text(r, 1, "leg")?,
                text(r, 2, "result")?,
                count(int(r, 3, "count")?),
            ))
        })?;
        let jobs = x.rows("counting transcription jobs", sql::JOB_STATES, &[], |r| {
            Ok((text(r, 0, "state")?, count(int(r, 1, "count")?)))
        })?;
        Ok((attempts, jobs))
    })
}

/// [`crate::store::Reads::last_event_id`].
pub(crate) fn last_event_id(b: &impl Backend) -> Result<i64, StoreError> {
    b.reading(|x| {
        x.one("reading the last event", sql::LAST_EVENT, &[], |r| {
            int(r, 0, "id")
        })
    })
}

/// [`crate::store::Reads::results_since`].
pub(crate) fn results_since(
    b: &impl Backend,
    queue: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(Option<AttemptResult>, u64)>, StoreError> {
    let found = b.reading(|x| {
        x.rows(
            "counting call results",
            sql::RESULTS_SINCE,
            &params![queue, secs(since)],
            |r| Ok((r.text(0, "result")?, int(r, 1, "count")?)),
        )
    })?;
    Ok(result_counts(found))
}

/// [`crate::store::Reads::transcription`]: the latest job of a callback.
pub(crate) fn transcription(
    b: &impl Backend,
    id: CallbackId,
) -> Result<Option<TranscriptionJob>, StoreError> {
    b.reading(|x| {
        x.row(
            "reading a transcription",
            &format!(
                "SELECT {JOB_COLUMNS} FROM transcriptions WHERE callback_id = $1 \
                 ORDER BY id DESC LIMIT 1"
            ),
            &params![id],
            |r| job_row(r),
        )
    })?
    .map(job)
    .transpose()
}

/// The [`crate::store::Reads`] of a backend: the functions above, and the backend's own
/// `read_panel_lists` and `transcription_ms`.
macro_rules! reads_door {
    ($store:ty) => {
        impl $crate::store::Reads for $store {
            fn list(
                &self,
                filter: &$crate::store::ListFilter,
            ) -> Result<Vec<$crate::model::CallbackRequest>, $crate::store::StoreError> {
                $crate::store::rules::reads::list(self, filter)
            }

            fn open_for_number(
                &self,
                number: &str,
            ) -> Result<Vec<$crate::model::CallbackRequest>, $crate::store::StoreError> {
                $crate::store::rules::reads::open_for_number(self, number)
            }

            fn events(
                &self,
                id: $crate::model::CallbackId,
            ) -> Result<Vec<$crate::store::Event>, $crate::store::StoreError> {
                $crate::store::rules::reads::events(self, id)
            }

            fn attempts(
                &self,
                id: $crate::model::CallbackId,
            ) -> Result<Vec<$crate::model::Attempt>, $crate::store::StoreError> {
                $crate::store::rules::reads::attempts(self, id)
            }

            fn stats(&self) -> Result<$crate::store::Stats, $crate::store::StoreError> {
                $crate::store::rules::reads::stats(self)
            }

            fn figures(
                &self,
                bounds_ms: &[u64],
            ) -> Result<$crate::store::Figures, $crate::store::StoreError> {
                let (attempts, transcription_jobs) = $crate::store::rules::reads::counts(self)?;
                Ok($crate::store::Figures {
                    attempts,
                    transcription_jobs,
                    transcription_ms: self.transcription_ms(bounds_ms)?,
                })
            }

            fn last_event_id(&self) -> Result<i64, $crate::store::StoreError> {
                $crate::store::rules::reads::last_event_id(self)
            }

            fn panel_lists(
                &self,
                scope: &$crate::store::PanelScope,
                finished_since: chrono::DateTime<chrono::Utc>,
                limit: usize,
            ) -> Result<$crate::store::PanelLists, $crate::store::StoreError> {
                self.read_panel_lists(scope, finished_since, limit)
            }

            fn results_since(
                &self,
                queue: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<(Option<$crate::model::AttemptResult>, u64)>, $crate::store::StoreError>
            {
                $crate::store::rules::reads::results_since(self, queue, since)
            }

            fn transcription(
                &self,
                id: $crate::model::CallbackId,
            ) -> Result<Option<$crate::store::TranscriptionJob>, $crate::store::StoreError> {
                $crate::store::rules::reads::transcription(self, id)
            }
        }
    };
}
pub(crate) use reads_door;
