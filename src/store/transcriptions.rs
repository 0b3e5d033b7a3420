//! The durable transcription job queue: [`JobQueue`] over the `transcriptions` table.
//!
//! A claim is one `BEGIN IMMEDIATE` transaction (pick the oldest due row, mark it running,
//! count the attempt, set the lease), so two workers or two processes never take the same
//! job while its lease is live, and a job whose worker died is taken over when it lapses.
//! The attempt number is the claim's token: `complete`/`fail` from a worker whose lease
//! was taken over change nothing and say so.

use super::sqlite::{backend, ceil_secs, lease_until, secs};
use super::{SqliteStore, StoreError};
use crate::model::CallbackId;
use crate::transcribe::{Job, JobId, JobQueue, Retry, Segment, TranscriptResult};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

/// Where a transcription job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// A transcription job as stored, for status displays and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionJob {
    pub id: JobId,
    pub callback_id: CallbackId,
    pub wav_path: String,
    pub state: JobState,
    pub attempts: u32,
    pub next_try_at: DateTime<Utc>,
    /// The last failure's reason (kept after a later success, for the record).
    pub error: Option<String>,
    pub result: Option<TranscriptResult>,
}

impl SqliteStore {
    /// The latest transcription job of a callback.
    pub fn transcription(
        &self,
        callback_id: CallbackId,
    ) -> Result<Option<TranscriptionJob>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT id, callback_id, wav_path, state, attempts, next_try_at, error, text, \
                 segments, language, processing_ms FROM transcriptions WHERE callback_id = ?1 \
                 ORDER BY id DESC LIMIT 1",
                [callback_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, Option<i64>>(10)?,
                    ))
                },
            )
            .optional()
            .map_err(backend("reading a transcription"))?
            .map(
                |(id, cb, path, state, attempts, next, error, text, segs, lang, ms)| {
                    let bad = |m: String| StoreError::Backend(format!("transcription {id}: {m}"));
                    let state = JobState::parse(&state)
                        .ok_or_else(|| bad(format!("unknown state '{state}'")))?;
                    let result = match (state, text) {
                        (JobState::Done, Some(text)) => {
                            let segments: Vec<Segment> = match segs {
                                Some(j) => serde_json::from_str(&j)
                                    .map_err(|e| bad(format!("segments: {e}")))?,
                                None => Vec::new(),
                            };
                            Some(TranscriptResult {
                                text,
                                segments,
                                language: lang,
                                processing_ms: u64::try_from(ms.unwrap_or(0)).unwrap_or(0),
                            })
                        }
                        _ => None,
                    };
                    Ok(TranscriptionJob {
                        id,
                        callback_id: cb,
                        wav_path: path,
                        state,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        next_try_at: DateTime::from_timestamp(next, 0)
                            .ok_or_else(|| bad(format!("next_try_at {next} out of range")))?,
                        error,
                        result,
                    })
                },
            )
            .transpose()
        })
    }
}

/// Refuses a write from a worker that no longer holds the job.
fn held(job: &Job, changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost {
            id: job.callback_id,
            owner: format!("transcription job {} attempt {}", job.id, job.attempts),
        })
    }
}

impl JobQueue for SqliteStore {
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError> {
        if wav_path.trim().is_empty() {
            return Err(StoreError::Invalid {
                field: "wav_path",
                message: "empty recording path".into(),
            });
        }
        self.write("queueing a transcription", |tx| {
            let t = secs(now);
            tx.execute(
                "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
                 created_at, updated_at) VALUES (?1, ?2, 'queued', ?3, ?3, ?3)",
                params![callback_id, wav_path, t],
            )
            .map_err(backend("queueing a transcription"))?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError> {
        let until = lease_until(now, lease)?;
        self.write("claiming a transcription", |tx| {
            let err = backend("claiming a transcription");
            let t = secs(now);
            // Oldest due first: a queued job whose time has come, or a running one whose
            // worker let the lease lapse (crashed or stopped mid-job).
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM transcriptions \
                     WHERE (state = 'queued' AND next_try_at <= ?1) \
                        OR (state = 'running' AND lease_until <= ?1) \
                     ORDER BY next_try_at, id LIMIT 1",
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
            Ok(Some(Job {
                id,
                callback_id,
                wav_path,
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
        let segments = serde_json::to_string(&result.segments)
            .map_err(|e| StoreError::Backend(format!("encoding segments: {e}")))?;
        let ms = i64::try_from(result.processing_ms).unwrap_or(i64::MAX);
        self.write("storing a transcript", |tx| {
            let err = backend("storing a transcript");
            let t = secs(now);
            let changed = tx
                .execute(
                    "UPDATE transcriptions SET state = 'done', lease_until = NULL, text = ?3, \
                     segments = ?4, language = ?5, processing_ms = ?6, updated_at = ?7 \
                     WHERE id = ?1 AND state = 'running' AND attempts = ?2",
                    params![
                        job.id,
                        job.attempts,
                        result.text,
                        segments,
                        result.language,
                        ms,
                        t
                    ],
                )
                .map_err(&err)?;
            held(job, changed)?;
            // The request itself shows the transcript (agent preview, API); a callback
            // deleted meanwhile simply updates nothing.
            tx.execute(
                "UPDATE callbacks SET transcript_text = ?2, transcript_language = ?3, \
                 updated_at = ?4 WHERE id = ?1",
                params![job.callback_id, result.text, result.language, t],
            )
            .map_err(&err)?;
            Ok(())
        })
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
            let (state, next) = match retry {
                // Rounded up: never claimed before the promised time.
                Retry::At(at) => ("queued", ceil_secs(at)),
                Retry::Never => ("failed", t),
            };
            let changed = tx
                .execute(
                    "UPDATE transcriptions SET state = ?3, next_try_at = ?4, lease_until = NULL, \
                     error = ?5, updated_at = ?6 \
                     WHERE id = ?1 AND state = 'running' AND attempts = ?2",
                    params![job.id, job.attempts, state, next, reason, t],
                )
                .map_err(backend("storing a transcription failure"))?;
            held(job, changed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
