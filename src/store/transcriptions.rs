//! The durable transcription job queue: [`JobQueue`] over the `transcriptions` table.
//!
//! A claim is one `BEGIN IMMEDIATE` transaction (pick the oldest due row, mark it running,
//! count the attempt, set the lease), so two workers or two processes never take the same
//! job while its lease is live, and a job whose worker died is taken over when it lapses.
//! The attempt number is the claim's token: `complete`/`fail` from a worker whose lease
//! was taken over change nothing and say so.

use super::sqlite::{
    backend, ceil_secs, insert_event, lease_until, load, map_json, secs, NewEvent,
};
use super::{SqliteStore, StoreError};
use crate::model::{CallbackId, CallbackRequest, State};
use crate::transcribe::{Job, JobId, JobQueue, Retry, Segment, TagRules, TranscriptResult};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a transcription job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
                    job_from_columns(
                        id, cb, path, state, attempts, next, error, text, segs, lang, ms,
                    )
                },
            )
            .transpose()
        })
    }
}

/// A job from the columns of `transcriptions` (both backends read the same ones).
#[allow(clippy::too_many_arguments)]
pub(super) fn job_from_columns(
    id: i64,
    cb: i64,
    path: String,
    state: String,
    attempts: i64,
    next: i64,
    error: Option<String>,
    text: Option<String>,
    segs: Option<String>,
    lang: Option<String>,
    ms: Option<i64>,
) -> Result<TranscriptionJob, StoreError> {
    let bad = |m: String| StoreError::Backend(format!("transcription {id}: {m}"));
    let state = JobState::parse(&state).ok_or_else(|| bad(format!("unknown state '{state}'")))?;
    let result = match (state, text) {
        (JobState::Done, Some(text)) => {
            let segments: Vec<Segment> = match segs {
                Some(j) => serde_json::from_str(&j).map_err(|e| bad(format!("segments: {e}")))?,
                None => Vec::new(),
            };
            // An empty text is how a no-speech outcome is stored (its reason is in the
            // `transcribed` event); a transcription with words always has some.
            let no_speech = text.trim().is_empty().then(|| "no speech".to_string());
            Some(TranscriptResult {
                text,
                segments,
                language: lang,
                processing_ms: u64::try_from(ms.unwrap_or(0)).unwrap_or(0),
                no_speech,
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
}

/// What storing a transcript changed on its callback (for the `transcribed` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcribed {
    /// The callback after the change; `None` when it was deleted meanwhile.
    pub request: Option<CallbackRequest>,
    /// The tags this transcript added (keys the request already had are kept as they were).
    pub tags: BTreeMap<String, String>,
    /// `(from, to)` when the request was moved to another queue.
    pub queue: Option<(String, String)>,
    /// `(from, to)` when the priority was raised.
    pub priority: Option<(i32, i32)>,
}

/// Queues a recording in the caller's transaction (the store's create and merge use it, so
/// a stored recording and its job commit together).
pub(super) fn insert_job(
    tx: &Connection,
    callback_id: CallbackId,
    wav_path: &str,
    now: i64,
) -> Result<JobId, StoreError> {
    tx.prepare_cached(
        "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
         created_at, updated_at) VALUES (?1, ?2, 'queued', ?3, ?3, ?3)",
    )
    .and_then(|mut s| s.execute(params![callback_id, wav_path, now]))
    .map_err(backend("queueing a transcription"))?;
    Ok(tx.last_insert_rowid())
}

impl SqliteStore {
    /// Stores a transcript and applies the tag rules to its callback, in one transaction:
    /// the transcript goes on the request (appended on a new line when an earlier recording
    /// of a merged request was transcribed first), the rules' tags are added (a key the
    /// request already has is kept), and a request still waiting (requested, scheduled,
    /// rescheduled) is moved to the rule's queue and its priority raised; one being
    /// dispatched or finished only gets the tags. A `transcribed` event says what changed.
    /// The move keeps the due time and does not check the new queue's slot capacity: a
    /// transcript arrives minutes after the request, and refusing it would lose the tags.
    /// Refused ([`StoreError::LeaseLost`]) when the job's claim lapsed and was taken over.
    pub fn complete_tagged(
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
            // A callback deleted meanwhile: the job is done, there is nothing to tag.
            let row = match load(tx, job.callback_id) {
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
                "UPDATE callbacks SET transcript_text = ?2, transcript_language = ?3, \
                 tags = ?4, queue = ?5, priority = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    row.id,
                    text,
                    language,
                    map_json(&tags, "tags")?,
                    queue,
                    priority,
                    t
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
            out.request = Some(load(tx, row.id)?);
            Ok(out)
        })
    }
}

impl Transcribed {
    /// Nothing changed: the callback is gone.
    pub(super) fn nothing() -> Self {
        Self {
            request: None,
            tags: BTreeMap::new(),
            queue: None,
            priority: None,
        }
    }
}

/// What a transcript does to its callback, the same for both backends: the text appended
/// to an earlier one, the rules' new tags, and for a request still waiting the rule's queue
/// and a raised priority; `detail` is the `transcribed` event's text.
pub(super) struct Tagging {
    /// `None`: no transcript yet and this one heard no speech (the column stays empty).
    pub text: Option<String>,
    pub language: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub queue: String,
    pub priority: i32,
    pub out: Transcribed,
    pub detail: String,
}

pub(super) fn tagging(
    row: &CallbackRequest,
    result: &TranscriptResult,
    outcome: &crate::transcribe::TagOutcome,
) -> Tagging {
    let mut out = Transcribed::nothing();
    let before = row
        .transcript
        .as_ref()
        .map(|t| t.text.as_str())
        .filter(|b| !b.is_empty());
    // No speech adds no words: an earlier recording's transcript stays as it was, and a
    // request with none keeps none (the job says "no speech").
    let text = match (before, result.no_speech.is_some() || result.text.is_empty()) {
        (Some(before), true) => Some(before.to_string()),
        (Some(before), false) => Some(format!("{before}\n{}", result.text)),
        (None, true) => None,
        (None, false) => Some(result.text.clone()),
    };
    let language = row
        .transcript
        .as_ref()
        .and_then(|t| t.language.clone())
        .or_else(|| result.language.clone());
    let mut tags = row.tags.clone();
    for (k, v) in &outcome.tags {
        if !tags.contains_key(k) {
            tags.insert(k.clone(), v.clone());
            out.tags.insert(k.clone(), v.clone());
        }
    }
    // The states of `PENDING`: waiting for their time, so a new queue is safe.
    let pending = matches!(
        row.state,
        State::Requested | State::Scheduled | State::Rescheduled
    );
    let mut queue = row.queue.clone();
    let mut priority = row.priority;
    if pending {
        if let Some(q) = outcome.queue.as_ref().filter(|q| **q != row.queue) {
            out.queue = Some((row.queue.clone(), q.clone()));
            queue.clone_from(q);
        }
        // A Call Now boost (`Transition::first`) stays on top of the tag's priority, so
        // the claim that takes the boost off leaves the tag's.
        let boost = if row.priority >= super::FIRST_BOOST {
            super::FIRST_BOOST
        } else {
            0
        };
        let own = row.priority - boost;
        if let Some(p) = outcome.priority.filter(|p| *p > own) {
            out.priority = Some((own, p));
            priority = p + boost;
        }
    }
    let mut detail = describe(&out, &outcome.queue, pending, row);
    if let Some(reason) = &result.no_speech {
        detail = format!("{reason}; {detail}");
    }
    Tagging {
        text,
        language,
        tags,
        queue,
        priority,
        out,
        detail,
    }
}

/// The trace line of a transcript: `tags intent=billing; queue support -> billing`.
fn describe(
    out: &Transcribed,
    wanted_queue: &Option<String>,
    pending: bool,
    row: &CallbackRequest,
) -> String {
    let mut parts = Vec::new();
    if out.tags.is_empty() {
        parts.push("no new tags".to_string());
    } else {
        let tags: Vec<String> = out.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("tags {}", tags.join(" ")));
    }
    if let Some((from, to)) = &out.queue {
        parts.push(format!("queue {from} -> {to}"));
    } else if let (Some(q), false) = (wanted_queue, pending) {
        if *q != row.queue {
            parts.push(format!("queue {q} not applied ({})", row.state));
        }
    }
    if let Some((from, to)) = out.priority {
        parts.push(format!("priority {from} -> {to}"));
    }
    parts.join("; ")
}

/// Refuses a write from a worker that no longer holds the job.
pub(super) fn held(job: &Job, changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost {
            id: job.callback_id,
            owner: format!("transcription job {} attempt {}", job.id, job.attempts),
        })
    }
}

/// The transcription queue the module's workers use: the job queue, plus storing a
/// transcript with the tag rules applied to its callback in one transaction. Both backends
/// implement it.
pub trait TranscriptStore: JobQueue {
    /// See [`SqliteStore::complete_tagged`]; the same rules on every backend.
    fn complete_tagged(
        &self,
        job: &Job,
        result: &TranscriptResult,
        rules: &TagRules,
        now: DateTime<Utc>,
    ) -> Result<Transcribed, StoreError>;
    /// The queue a callback is in now (`None`: deleted).
    fn callback_queue(&self, id: CallbackId) -> Result<Option<String>, StoreError>;
}

/// [`TranscriptStore::callback_queue`] from a store's `get`, the same on both backends.
pub(super) fn queue_of(
    got: Result<CallbackRequest, StoreError>,
) -> Result<Option<String>, StoreError> {
    match got {
        Ok(r) => Ok(Some(r.queue)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl TranscriptStore for SqliteStore {
    fn complete_tagged(
        &self,
        job: &Job,
        result: &TranscriptResult,
        rules: &TagRules,
        now: DateTime<Utc>,
    ) -> Result<Transcribed, StoreError> {
        SqliteStore::complete_tagged(self, job, result, rules, now)
    }

    fn callback_queue(&self, id: CallbackId) -> Result<Option<String>, StoreError> {
        queue_of(super::Store::get(self, id))
    }
}

/// A job needs a recording to transcribe.
pub(super) fn check_wav_path(wav_path: &str) -> Result<(), StoreError> {
    if wav_path.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "wav_path",
            message: "empty recording path".into(),
        });
    }
    Ok(())
}

impl JobQueue for SqliteStore {
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
        // Without rules: the transcript lands on the request, with its event, and no tags.
        self.complete_tagged(job, result, &TagRules::default(), now)
            .map(drop)
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
