//! The queue the transcription workers use in the module: the durable queue of the store, with the
//! configured tag rules applied in the transaction that stores each transcript, and a
//! `transcribed` notification to the host once it is committed.

use super::tags::TagRules;
use super::worker::{Job, JobId, JobQueue, Retry};
use super::TranscriptResult;
use crate::host::{Host, Notification};
use crate::model::CallbackId;
use crate::store::{StoreError, TranscriptStore};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// [`JobQueue`] over a [`TranscriptStore`] (SQLite or PostgreSQL) that tags, routes and announces each transcript.
pub struct TaggingQueue {
    store: Arc<dyn TranscriptStore>,
    rules: SharedRules,
    host: Arc<dyn Host>,
    /// Queues that name their own language (`whisper-language` of a queue).
    languages: BTreeMap<String, String>,
    /// Told of each stored transcript's callback, after the commit (the dispatcher rings a
    /// callback that waited for it).
    on_stored: Option<OnStored>,
}

/// Called with the callback whose transcript was just stored.
pub type OnStored = Box<dyn Fn(CallbackId) + Send + Sync>;

/// Tag rules a reload can replace while the workers run.
pub type SharedRules = Arc<RwLock<TagRules>>;

impl TaggingQueue {
    pub fn new(store: Arc<dyn TranscriptStore>, rules: TagRules, host: Arc<dyn Host>) -> Self {
        Self::shared(store, Arc::new(RwLock::new(rules)), host)
    }

    /// A queue whose rules are read at each transcript from `rules` (replaced by a reload).
    pub fn shared(
        store: Arc<dyn TranscriptStore>,
        rules: SharedRules,
        host: Arc<dyn Host>,
    ) -> Self {
        Self {
            store,
            rules,
            host,
            languages: BTreeMap::new(),
            on_stored: None,
        }
    }

    /// Calls `f` with each callback whose transcript this queue stored, after the commit.
    pub fn on_stored(mut self, f: OnStored) -> Self {
        self.on_stored = Some(f);
        self
    }

    /// Transcribes the recordings of these queues in their language (queue -> code or
    /// `auto`); the others in the engine's.
    pub fn with_languages(mut self, languages: BTreeMap<String, String>) -> Self {
        self.languages = languages;
        self
    }
}

impl JobQueue for TaggingQueue {
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError> {
        self.store.enqueue(callback_id, wav_path, now)
    }

    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError> {
        self.store.claim_next(now, lease)
    }

    fn complete(
        &self,
        job: &Job,
        result: &TranscriptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rules = self
            .rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let done = self.store.complete_tagged(job, result, &rules, now)?;
        // Committed: now the host may hear of it (a deleted callback has nobody to tell).
        if let Some(r) = done.request {
            let text = r.transcript.as_ref().map(|t| t.text.clone());
            tracing::info!(
                callback_id = r.id,
                "callback {} transcribed: {} tag(s) added{}",
                r.id,
                done.tags.len(),
                done.queue
                    .as_ref()
                    .map(|(from, to)| format!(", queue {from} -> {to}"))
                    .unwrap_or_default()
            );
            self.host.emit(&Notification {
                action: "transcribed".into(),
                callback_id: r.id,
                state: r.state,
                queue: r.queue.clone(),
                kind: r.kind,
                due: r.due_at,
                transcript: text,
                tags: r.tags.clone(),
            });
            if let Some(f) = &self.on_stored {
                f(r.id);
            }
        }
        Ok(())
    }

    fn fail(
        &self,
        job: &Job,
        reason: &str,
        retry: Retry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.fail(job, reason, retry, now)
    }

    fn language(&self, job: &Job) -> Option<String> {
        if self.languages.is_empty() {
            return None;
        }
        // The queue at transcription time: a request moved meanwhile is heard in its new
        // queue's language. A read failure falls back to the engine's language, said once
        // per job; the transcript is worth more than the language hint.
        match self.store.callback_queue(job.callback_id) {
            Ok(queue) => queue.and_then(|q| self.languages.get(&q).cloned()),
            Err(e) => {
                tracing::warn!(
                    job = job.id,
                    "the queue of callback {} could not be read ({e}); transcribing in the \
                     configured language",
                    job.callback_id
                );
                None
            }
        }
    }
}
