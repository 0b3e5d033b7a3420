//! The transcription job queue ([`crate::transcribe::JobQueue`]), written once over a
//! backend's statements. A claim picks the job whose callback falls due first
//! ([`super::JOB_ORDER`]); PostgreSQL's pick skips a job another node is claiming right now
//! (its dialect's `FOR UPDATE SKIP LOCKED`). The attempt number the claim raises is the
//! claim's token: a worker that lost its lease changes nothing ([`super::held`]).

use super::exec::{params, Backend, Query};
use super::rows::{int, text};
use super::{after_failure, check_wav_path, claimed_job, held, lease_until, secs, sql};
use crate::model::CallbackId;
use crate::store::StoreError;
use crate::transcribe::{Job, JobId, Retry};
use chrono::{DateTime, Duration, Utc};

/// [`crate::transcribe::JobQueue::enqueue`].
pub(crate) fn enqueue(
    b: &impl Backend,
    callback_id: CallbackId,
    wav_path: &str,
    now: DateTime<Utc>,
) -> Result<JobId, StoreError> {
    check_wav_path(wav_path)?;
    let doing = "queueing a transcription";
    b.writing(doing, |x| {
        x.one(
            doing,
            sql::JOB_INSERT,
            &params![callback_id, wav_path, secs(now)],
            |r| int(r, 0, "id"),
        )
    })
}

/// [`crate::transcribe::JobQueue::claim_next`]: a queued job whose time has come, or a
/// running one whose worker let the lease lapse (crashed or stopped mid-job).
pub(crate) fn claim_next(
    b: &impl Backend,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<Job>, StoreError> {
    let until = lease_until(now, lease)?;
    let doing = "claiming a transcription";
    b.writing(doing, |x| {
        let t = secs(now);
        let pick = &x.dialect().job_claimable;
        let Some(id) = x.row(doing, pick, &params![t], |r| int(r, 0, "id"))? else {
            return Ok(None);
        };
        let (callback_id, wav_path, attempts) =
            x.one(doing, sql::JOB_CLAIM, &params![until, t, id], |r| {
                Ok((
                    int(r, 0, "callback_id")?,
                    text(r, 1, "wav_path")?,
                    int(r, 2, "attempts")?,
                ))
            })?;
        Ok(Some(claimed_job(
            id,
            callback_id,
            wav_path,
            attempts,
            until,
            now,
        )))
    })
}

/// [`crate::transcribe::JobQueue::fail`]: queued again at the retry time, or failed for
/// good, if this claim still holds the job.
pub(crate) fn fail(
    b: &impl Backend,
    job: &Job,
    reason: &str,
    retry: Retry,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let doing = "storing a transcription failure";
    b.writing(doing, |x| {
        let t = secs(now);
        let (state, next) = after_failure(retry, t);
        let changed = x.execute(
            doing,
            sql::JOB_FAIL,
            &params![state, next, reason, t, job.id, job.attempts],
        )?;
        held(job, changed)
    })
}

/// The [`crate::transcribe::JobQueue`] of a backend (the functions above; a completion is
/// the shared `writes::complete_tagged` without tag rules), with its
/// [`crate::store::Retention`] and [`crate::store::TranscriptStore`] (`writes::job_writes`).
macro_rules! job_queue {
    ($store:ty) => {
        $crate::store::rules::writes::job_writes!($store);

        impl $crate::transcribe::JobQueue for $store {
            fn enqueue(
                &self,
                callback_id: $crate::model::CallbackId,
                wav_path: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::transcribe::JobId, $crate::store::StoreError> {
                $crate::store::rules::queue::enqueue(self, callback_id, wav_path, now)
            }

            fn claim_next(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
            ) -> Result<Option<$crate::transcribe::Job>, $crate::store::StoreError> {
                $crate::store::rules::queue::claim_next(self, now, lease)
            }

            fn complete(
                &self,
                job: &$crate::transcribe::Job,
                result: &$crate::transcribe::TranscriptResult,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                // Without rules: the transcript lands on the request, with its event, and
                // no tags.
                $crate::store::TranscriptStore::complete_tagged(
                    self,
                    job,
                    result,
                    &$crate::transcribe::TagRules::default(),
                    now,
                )
                .map(drop)
            }

            fn fail(
                &self,
                job: &$crate::transcribe::Job,
                reason: &str,
                retry: $crate::transcribe::Retry,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                $crate::store::rules::queue::fail(self, job, reason, retry, now)
            }
        }
    };
}
pub(crate) use job_queue;
