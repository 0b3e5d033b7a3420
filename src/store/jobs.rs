//! Transcription jobs as the store keeps them, the same on both backends: a job's state, a
//! transcript's effect on its callback (the tag rules' tags, queue and priority), and the
//! [`TranscriptStore`] the module's workers use. Each backend's `jobs.rs` holds the SQL of
//! the durable queue ([`JobQueue`]): a claim is one transaction (the oldest due job marked
//! running, its attempt counted, a lease set), so two workers never take the same job while
//! its lease is live, and a job whose worker died is taken over when it lapses. The attempt
//! number is the claim's token: `complete`/`fail` from a worker whose lease was taken over
//! change nothing and say so.

use super::StoreError;
use crate::model::{CallbackId, CallbackRequest, State};
use crate::transcribe::{Job, JobId, JobQueue, TagRules, TranscriptResult};
use chrono::{DateTime, Utc};
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

    pub(crate) fn parse(s: &str) -> Option<Self> {
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

impl Transcribed {
    /// Nothing changed: the callback is gone.
    pub(crate) fn nothing() -> Self {
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
pub(crate) struct Tagging {
    /// `None`: no transcript yet and this one heard no speech (the column stays empty).
    pub text: Option<String>,
    pub language: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub queue: String,
    pub priority: i32,
    pub out: Transcribed,
    pub detail: String,
}

pub(crate) fn tagging(
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
        let boost = if row.priority >= crate::store::FIRST_BOOST {
            crate::store::FIRST_BOOST
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

/// The transcription queue the module's workers use: the job queue, plus storing a
/// transcript with the tag rules applied to its callback in one transaction. Both backends
/// implement it.
pub trait TranscriptStore: JobQueue {
    /// Stores a transcript and applies the tag rules to its callback, in one transaction:
    /// the transcript goes on the request (appended on a new line when an earlier recording
    /// of a merged request was transcribed first), the rules' tags are added (a key the
    /// request already has is kept), and a request still waiting (requested, scheduled,
    /// rescheduled) is moved to the rule's queue and its priority raised; one being
    /// dispatched or finished only gets the tags. A `transcribed` event says what changed.
    /// The move keeps the due time and does not check the new queue's slot capacity: a
    /// transcript arrives minutes after the request, and refusing it would lose the tags.
    /// Refused ([`StoreError::LeaseLost`]) when the job's claim lapsed and was taken over.
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
pub(crate) fn queue_of(
    got: Result<CallbackRequest, StoreError>,
) -> Result<Option<String>, StoreError> {
    match got {
        Ok(r) => Ok(Some(r.queue)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
