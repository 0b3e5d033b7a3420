//! The transcription job queue on PostgreSQL: [`JobQueue`] and [`TranscriptStore`] for
//! [`PgStore`], with the SQLite queue's rules (`store::transcriptions`). A claim picks the
//! oldest due job `FOR UPDATE SKIP LOCKED`, so workers of several nodes never take the same
//! job while its lease is live; the attempt number stays the claim's token.

use super::pg::{col, insert_event, insert_job, load_with, pg_err, NewEvent, PgStore};
use super::sqlite::{ceil_secs, lease_until, map_json, secs};
use super::transcriptions::{held, queue_of, tagging, Tagging, Transcribed, TranscriptStore};
use super::StoreError;
use crate::model::CallbackId;
use crate::transcribe::{Job, JobId, JobQueue, Retry, TagRules, TranscriptResult};
use chrono::{DateTime, Duration, Utc};

fn changed_count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl TranscriptStore for PgStore {
    fn complete_tagged(
        &self,
        job: &Job,
        result: &TranscriptResult,
        rules: &TagRules,
        now: DateTime<Utc>,
    ) -> Result<Transcribed, StoreError> {
        let segments = serde_json::to_string(&result.segments)
            .map_err(|e| StoreError::Backend(format!("encoding segments: {e}")))?;
        let ms = i64::try_from(result.processing_ms).unwrap_or(i64::MAX);
        let outcome = rules.apply(&result.text);
        let attempts = i64::from(job.attempts);
        self.write("storing a transcript", |tx| {
            let err = pg_err("storing a transcript");
            let t = secs(now);
            let changed = tx
                .execute(
                    "UPDATE transcriptions SET state = 'done', lease_until = NULL, text = $3, \
                     segments = $4, language = $5, processing_ms = $6, updated_at = $7 \
                     WHERE id = $1 AND state = 'running' AND attempts = $2",
                    &[
                        &job.id,
                        &attempts,
                        &result.text,
                        &segments,
                        &result.language,
                        &ms,
                        &t,
                    ],
                )
                .map_err(&err)?;
            held(job, changed_count(changed))?;
            let row = match load_with(tx, job.callback_id, true) {
                Ok(row) => row,
                Err(StoreError::NotFound(_)) => return Ok(Transcribed::nothing()),
                Err(e) => return Err(e),
            };
            let Tagging {
                text,
                language,
                tags,
                queue,
                priority,
                mut out,
                detail,
            } = tagging(&row, result, &outcome);
            tx.execute(
                "UPDATE callbacks SET transcript_text = $2, transcript_language = $3, \
                 tags = $4, queue = $5, priority = $6, updated_at = $7 WHERE id = $1",
                &[
                    &row.id,
                    &text,
                    &language,
                    &map_json(&tags, "tags")?,
                    &queue,
                    &i64::from(priority),
                    &t,
                ],
            )
            .map_err(&err)?;
            insert_event(
                tx,
                &NewEvent {
                    callback_id: row.id,
                    at: t,
                    action: "transcribed",
                    from: Some(row.state),
                    to: row.state,
                    actor: Some("whisper"),
                    detail: Some(&detail),
                },
            )?;
            out.request = Some(load_with(tx, row.id, false)?);
            Ok(out)
        })
    }

    fn callback_queue(&self, id: CallbackId) -> Result<Option<String>, StoreError> {
        queue_of(super::Store::get(self, id))
    }
}

impl JobQueue for PgStore {
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError> {
        super::transcriptions::check_wav_path(wav_path)?;
        self.write("queueing a transcription", |tx| {
            insert_job(tx, callback_id, wav_path, secs(now))
        })
    }

    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("claiming a transcription", |tx| {
            let t = secs(now);
            // Oldest due first: a queued job whose time has come, or a running one whose
            // worker let the lease lapse; one another worker is claiming right now is skipped.
            let row = tx
                .query_opt(
                    "UPDATE transcriptions SET state = 'running', attempts = attempts + 1, \
                     lease_until = $2, updated_at = $1 WHERE id = (SELECT id FROM transcriptions \
                     WHERE (state = 'queued' AND next_try_at <= $1) \
                        OR (state = 'running' AND lease_until <= $1) \
                     ORDER BY next_try_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, callback_id, wav_path, attempts",
                    &[&t, &until],
                )
                .map_err(pg_err("claiming a transcription"))?;
            let Some(row) = row else { return Ok(None) };
            let attempts: i64 = col(&row, 3, "attempts")?;
            Ok(Some(Job {
                id: col(&row, 0, "id")?,
                callback_id: col(&row, 1, "callback_id")?,
                wav_path: col(&row, 2, "wav_path")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                lease_until: DateTime::from_timestamp(until, 0).unwrap_or(now),
            }))
        })
    }

    fn complete(
        &self,
        job: &Job,
        result: &TranscriptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        TranscriptStore::complete_tagged(self, job, result, &TagRules::default(), now).map(drop)
    }

    fn fail(
        &self,
        job: &Job,
        reason: &str,
        retry: Retry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let attempts = i64::from(job.attempts);
        self.write("storing a transcription failure", |tx| {
            let t = secs(now);
            let (state, next) = match retry {
                Retry::At(at) => ("queued", ceil_secs(at)),
                Retry::Never => ("failed", t),
            };
            let changed = tx
                .execute(
                    "UPDATE transcriptions SET state = $3, next_try_at = $4, lease_until = NULL, \
                     error = $5, updated_at = $6 \
                     WHERE id = $1 AND state = 'running' AND attempts = $2",
                    &[&job.id, &attempts, &state, &next, &reason, &t],
                )
                .map_err(pg_err("storing a transcription failure"))?;
            held(job, changed_count(changed))
        })
    }
}
