//! The transcription queue on SQLite: the job queue is `rules::queue`'s (a claim is one
//! `BEGIN IMMEDIATE` transaction here, so nothing is locked); what is here is the callers'
//! shortcuts and the tests of the queue on a real file.

use super::SqliteStore;
use crate::model::CallbackId;
use crate::store::{Reads, StoreError, Transcribed, TranscriptStore, TranscriptionJob};
use crate::transcribe::{Job, TagRules, TranscriptResult};
use chrono::{DateTime, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobState;
    use crate::transcribe::Segment;
    use crate::transcribe::{JobQueue, Retry};
    use chrono::Duration;
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
