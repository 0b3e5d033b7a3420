//! The transcription workers of a running node: started with it when a whisper model is
//! configured, stopped and joined before its store closes.
//!
//! No model configured, or a model path that is not a file: no workers; the log says so
//! once, at load; requests with recordings are still stored with their jobs queued, and
//! the trace (`callback show`, the panel) says why they wait. A file that is there but not a usable model is found
//! out by the first worker (the model loads lazily, once, in the background, so starting the
//! node never waits for it); that too is logged once, and the workers then idle.

use crate::clock::Clock;
use crate::config::Config;
use crate::host::Host;
use crate::service::TranscriptionLink;
use crate::store::TranscriptStore;
use crate::transcribe::{Engine, OnStored, SharedRules, TagRules, TaggingQueue, Workers};
use std::sync::{Arc, RwLock};

/// The engine (always: it answers "why off") and the workers (when they can run).
pub struct Transcription {
    pub engine: Arc<Engine>,
    pub workers: Option<Workers>,
    /// The tag rules the workers apply, replaced by `callback reload`.
    pub rules: SharedRules,
}

impl Transcription {
    /// What the service needs: the engine's status and a way to wake the workers.
    pub fn link(&self) -> TranscriptionLink {
        TranscriptionLink {
            engine: Some(self.engine.clone()),
            notifier: self.workers.as_ref().map(Workers::notifier),
        }
    }

    /// Puts reloaded tag rules in force for the next transcript stored.
    pub fn set_rules(&self, rules: TagRules) {
        *self
            .rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = rules;
    }

    /// Stops and joins the workers (a transcription in progress finishes first).
    pub fn stop(&mut self) {
        if let Some(w) = self.workers.take() {
            w.stop();
            tracing::info!("transcription workers stopped");
        }
    }
}

/// Starts the workers if the configuration allows it, on the store's queue (SQLite or
/// PostgreSQL).
pub(super) fn start(
    config: &Config,
    store: Arc<dyn TranscriptStore>,
    host: Arc<dyn Host>,
    clock: Arc<dyn Clock>,
    on_stored: OnStored,
) -> Transcription {
    let t = &config.transcribe;
    let engine = Arc::new(Engine::new(t.engine.clone()));
    let rules: SharedRules = Arc::new(RwLock::new(t.tags.clone()));
    let runnable = t.engine.model_path.as_ref().is_some_and(|p| p.is_file());
    if !runnable {
        // Fails at once without touching whisper (no model, or no such file) and logs the
        // reason, once for the life of the engine.
        let _ = engine.ensure_loaded();
        return Transcription {
            engine,
            workers: None,
            rules,
        };
    }
    let queue = Arc::new(
        TaggingQueue::shared(store, rules.clone(), host)
            .with_languages(t.queue_languages.clone())
            .on_stored(on_stored),
    );
    match Workers::start(queue, engine.clone(), clock, t.workers.clone()) {
        Ok(workers) => {
            tracing::info!(
                "transcription: {} worker(s) started, whisper model {} (loaded on first use)",
                t.workers.workers.max(1),
                t.engine
                    .model_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            Transcription {
                engine,
                workers: Some(workers),
                rules,
            }
        }
        Err(e) => {
            tracing::error!(
                "transcription workers could not start: {e}; callbacks continue without transcripts"
            );
            Transcription {
                engine,
                workers: None,
                rules,
            }
        }
    }
}
