//! The transcription job queue and the retention of recordings on PostgreSQL: [`JobQueue`]
//! (a claim picks the oldest due job `FOR UPDATE SKIP LOCKED`, so workers of several nodes
//! never take the same job while its lease is live; the attempt number stays the claim's
//! token), the [`crate::store::TranscriptStore`] the workers use, and the purge ([`crate::store::Retention`]).

use super::tx::insert_job;
use super::{pg_err, PgStore};
use crate::model::CallbackId;
use crate::store::rules::rows;
use crate::store::rules::{
    after_failure, check_wav_path, claimed_job, held, lease_until, secs, JOB_ORDER,
};
use crate::store::rules::{sql, writes};
use crate::store::{StoreError, TranscriptStore};
use crate::transcribe::{Job, JobId, JobQueue, Retry, TagRules, TranscriptResult};
use chrono::{DateTime, Duration, Utc};

fn changed_count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

writes::job_writes!(PgStore);

impl JobQueue for PgStore {
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError> {
        check_wav_path(wav_path)?;
        self.write("queueing a transcription", |tx| {
            insert_job(tx, callback_id, wav_path, secs(now))
        })
    }

    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("claiming a transcription", |tx| {
            let t = secs(now);
            // A queued job whose time has come, or a running one whose worker let the lease
            // lapse, the callback due first first; one another worker is claiming right now
            // is skipped.
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE transcriptions SET state = 'running', attempts = attempts + 1, \
                         lease_until = $2, updated_at = $1 WHERE id = (SELECT t.id \
                         FROM transcriptions t LEFT JOIN callbacks c ON c.id = t.callback_id \
                         WHERE (t.state = 'queued' AND t.next_try_at <= $1) \
                            OR (t.state = 'running' AND t.lease_until <= $1) \
                         ORDER BY {JOB_ORDER} LIMIT 1 FOR UPDATE OF t SKIP LOCKED) \
                         RETURNING id, callback_id, wav_path, attempts"
                    ),
                    &[&t, &until],
                )
                .map_err(pg_err("claiming a transcription"))?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(claimed_job(
                rows::int(&row, 0, "id")?,
                rows::int(&row, 1, "callback_id")?,
                rows::text(&row, 2, "wav_path")?,
                rows::int(&row, 3, "attempts")?,
                until,
                now,
            )))
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
            let (state, next) = after_failure(retry, t);
            let changed = tx
                .execute(
                    sql::JOB_FAIL,
                    &[&state, &next, &reason, &t, &job.id, &attempts],
                )
                .map_err(pg_err("storing a transcription failure"))?;
            held(job, changed_count(changed))
        })
    }
}
