//! The transcription job queue and the retention of recordings on SQLite: [`JobQueue`]
//! over the `transcriptions` table (a claim is one `BEGIN IMMEDIATE` transaction), the
//! [`TranscriptStore`] the workers use, and the purge ([`crate::store::Retention`]).

use super::{backend, SqliteStore, SqliteTx};
use crate::model::CallbackId;
use crate::store::rules::sql;
use crate::store::rules::writes::{self, Tx};
use crate::store::rules::{
    after_failure, check_wav_path, claimed_job, held, lease_until, secs, JOB_ORDER,
};
use crate::store::{Reads, StoreError, Transcribed, TranscriptStore, TranscriptionJob};
use crate::transcribe::{Job, JobId, JobQueue, Retry, TagRules, TranscriptResult};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

impl SqliteStore {
    /// The latest transcription job of a callback ([`Reads::transcription`], callable
    /// without the trait in scope).
    pub fn transcription(
        &self,
        callback_id: CallbackId,
    ) -> Result<Option<TranscriptionJob>, StoreError> {
        Reads::transcription(self, callback_id)
    }

    /// [`TranscriptStore::complete_tagged`], callable without the trait in scope.
    pub fn complete_tagged(
        &self,
        job: &Job,
        result: &TranscriptResult,
        rules: &TagRules,
        now: DateTime<Utc>,
    ) -> Result<Transcribed, StoreError> {
        TranscriptStore::complete_tagged(self, job, result, rules, now)
    }
}

writes::job_writes!(SqliteStore);

impl JobQueue for SqliteStore {
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError> {
        check_wav_path(wav_path)?;
        self.write("queueing a transcription", |tx| {
            SqliteTx(tx).insert_job(callback_id, wav_path, secs(now))
        })
    }

    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("claiming a transcription", |tx| {
            let err = backend("claiming a transcription");
            let t = secs(now);
            // A queued job whose time has come, or a running one whose worker let the lease
            // lapse (crashed or stopped mid-job); the callback due first goes first.
            let id: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT t.id FROM transcriptions t LEFT JOIN callbacks c \
                         ON c.id = t.callback_id \
                         WHERE (t.state = 'queued' AND t.next_try_at <= ?1) \
                            OR (t.state = 'running' AND t.lease_until <= ?1) \
                         ORDER BY {JOB_ORDER} LIMIT 1"
                    ),
                    [t],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&err)?;
            let Some(id) = id else { return Ok(None) };
            let (callback_id, wav_path, attempts): (i64, String, i64) = tx
                .query_row(
                    "UPDATE transcriptions SET state = 'running', attempts = attempts + 1, \
                     lease_until = ?2, updated_at = ?3 WHERE id = ?1 \
                     RETURNING callback_id, wav_path, attempts",
                    params![id, until, t],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(&err)?;
            let job = claimed_job(id, callback_id, wav_path, attempts, until, now);
            Ok(Some(job))
        })
    }

    fn complete(
        &self,
        job: &Job,
        result: &TranscriptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Without rules: the transcript lands on the request, with its event, and no tags.
        TranscriptStore::complete_tagged(self, job, result, &TagRules::default(), now).map(drop)
    }

    fn fail(
        &self,
        job: &Job,
        reason: &str,
        retry: Retry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("storing a transcription failure", |tx| {
            let t = secs(now);
            let (state, next) = after_failure(retry, t);
            let changed = tx
                .execute(
                    sql::JOB_FAIL,
                    params![state, next, reason, t, job.id, job.attempts],
                )
                .map_err(backend("storing a transcription failure"))?;
            held(job, changed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobState;
    use crate::transcribe::Segment;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
    }

    fn result() -> TranscriptResult {
        TranscriptResult {
            text: "call me back".into(),
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 1200,
                text: "call me back".into(),
            }],
            language: Some("en".into()),
            processing_ms: 1500,
            no_speech: None,
        }
    }

    #[test]
    fn claim_complete_and_read_back() {
        // A job is claimed once, its transcript and segments stored and read back.
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("db")).unwrap();
        s.enqueue(42, "/rec/42.wav", t0()).unwrap();
        let job = s.claim_next(t0(), Duration::minutes(10)).unwrap().unwrap();
        assert_eq!((job.callback_id, job.attempts), (42, 1));
        assert!(s.claim_next(t0(), Duration::minutes(10)).unwrap().is_none());
        s.complete(&job, &result(), t0()).unwrap();
        let row = s.transcription(42).unwrap().unwrap();
        assert_eq!(row.state, JobState::Done);
        assert_eq!(row.result, Some(result()));
    }

    #[test]
    fn retry_waits_and_permanent_failure_keeps_reason() {
        // A retry is not claimable before its time; a permanent failure is never claimed.
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("db")).unwrap();
        s.enqueue(1, "/rec/1.wav", t0()).unwrap();
        let lease = Duration::minutes(10);
        let job = s.claim_next(t0(), lease).unwrap().unwrap();
        let at = t0() + Duration::seconds(30);
        s.fail(&job, "whisper failed", Retry::At(at), t0()).unwrap();
        assert!(s
            .claim_next(at - Duration::seconds(1), lease)
            .unwrap()
            .is_none());
        let job = s.claim_next(at, lease).unwrap().unwrap();
        assert_eq!(job.attempts, 2);
        s.fail(&job, "corrupt WAV", Retry::Never, at).unwrap();
        assert!(s
            .claim_next(at + Duration::days(1), lease)
            .unwrap()
            .is_none());
        let row = s.transcription(1).unwrap().unwrap();
        assert_eq!(row.state, JobState::Failed);
        assert_eq!(row.error.as_deref(), Some("corrupt WAV"));
    }

    #[test]
    fn taken_over_job_refuses_the_old_worker() {
        // After the lease lapses and another worker claims the job, the first worker's
        // late result is refused instead of overwriting the new attempt.
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("db")).unwrap();
        s.enqueue(1, "/rec/1.wav", t0()).unwrap();
        let lease = Duration::minutes(10);
        let old = s.claim_next(t0(), lease).unwrap().unwrap();
        let new = s.claim_next(t0() + lease, lease).unwrap().unwrap();
        assert_eq!(new.attempts, 2);
        assert!(matches!(
            s.complete(&old, &result(), t0() + lease),
            Err(StoreError::LeaseLost { .. })
        ));
        s.complete(&new, &result(), t0() + lease).unwrap();
    }
}
