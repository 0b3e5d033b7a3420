//! The whisper wrapper: one model, loaded lazily on first use and shared by every worker
//! thread; each call gets its own decoding state, so calls may run in parallel.
//!
//! A missing or unreadable model is not an error of the module: callbacks go on without
//! transcripts, [`Engine::status`] says why, and the log says it once.

use super::audio::{load_wav, AudioError, AudioLimits};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// How to run whisper.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The ggml model file; `None` = transcription off.
    pub model_path: Option<PathBuf>,
    /// Spoken language (`en`), or `auto` to let a multilingual model detect it.
    pub language: String,
    /// CPU threads per transcription.
    pub threads: u16,
    /// 0 or 1 = greedy decoding; more = beam search of that width (slower).
    pub beam_size: u16,
    /// Text that primes the decoder with the vocabulary of callback requests.
    pub initial_prompt: Option<String>,
    pub limits: AudioLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            model_path: None,
            language: "en".to_string(),
            threads: 2,
            // Beam 5 (whisper.cpp's CLI default) lowered the fixture WER from 0.309 to 0.272
            // for ~1.5x the decode time; see the bench notes.
            beam_size: 5,
            initial_prompt: None,
            limits: AudioLimits::default(),
        }
    }
}

/// One stretch of the transcript with its place in the (trimmed) audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// What whisper heard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptResult {
    pub text: String,
    pub segments: Vec<Segment>,
    pub language: Option<String>,
    /// Wall time of this transcription (decode and convert included for files).
    pub processing_ms: u64,
}

/// Why a transcription did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(
        "transcription is off: no whisper model configured (to turn it on, set \
         settings/whisper-model to a whisper.cpp ggml model file)"
    )]
    NoModel,
    #[error("transcription is off: the whisper model {path} cannot be loaded: {reason}")]
    ModelUnavailable { path: String, reason: String },
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("whisper failed: {0}")]
    Whisper(String),
}

impl TranscribeError {
    /// Permanent: trying the same job again cannot succeed. A missing model is not (the
    /// job waits for one); a whisper failure is retried, bounded by the worker's attempts.
    pub fn is_permanent(&self) -> bool {
        match self {
            TranscribeError::Audio(a) => a.is_permanent(),
            _ => false,
        }
    }
}

/// Whether transcription can run, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineStatus {
    /// The model is configured and will be loaded by the first job.
    NotLoaded,
    Ready,
    /// Transcription is off, and why.
    Off(String),
}

/// The shared whisper engine.
pub struct Engine {
    config: EngineConfig,
    /// The load is attempted once; its outcome (model or reason) is kept. A fixed model file
    /// is picked up by reloading the module, not by retrying on every job.
    model: OnceLock<Result<WhisperContext, String>>,
    /// "No model configured" is said once too, however often the workers ask.
    said_off: std::sync::Once,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("status", &self.status())
            .finish()
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            model: OnceLock::new(),
            said_off: std::sync::Once::new(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn status(&self) -> EngineStatus {
        if self.config.model_path.is_none() {
            return EngineStatus::Off(TranscribeError::NoModel.to_string());
        }
        match self.model.get() {
            None => EngineStatus::NotLoaded,
            Some(Ok(_)) => EngineStatus::Ready,
            Some(Err(reason)) => EngineStatus::Off(reason.clone()),
        }
    }

    /// Loads the model if that has not been tried yet, and says whether it is usable.
    pub fn ensure_loaded(&self) -> Result<(), TranscribeError> {
        self.model().map(|_| ())
    }

    fn model(&self) -> Result<&WhisperContext, TranscribeError> {
        let Some(path) = &self.config.model_path else {
            self.said_off.call_once(|| {
                tracing::warn!(
                    "{}; callbacks continue without transcripts",
                    TranscribeError::NoModel
                );
            });
            return Err(TranscribeError::NoModel);
        };
        let loaded = self.model.get_or_init(|| {
            // Once per process is enough; whisper.cpp otherwise prints its load report and
            // per-call timings on the PBX's stderr.
            whisper_rs::install_logging_hooks();
            let result = load_model(path);
            match &result {
                // Inside get_or_init, so this runs once however many jobs ask.
                Err(reason) => tracing::warn!("{reason}; callbacks continue without transcripts"),
                Ok(_) => tracing::info!(model = %path.display(), "whisper model loaded"),
            }
            result
        });
        loaded
            .as_ref()
            .map_err(|reason| TranscribeError::ModelUnavailable {
                path: path.display().to_string(),
                reason: reason.clone(),
            })
    }

    /// Transcribes 16 kHz mono samples.
    pub fn transcribe(&self, samples: &[f32]) -> Result<TranscriptResult, TranscribeError> {
        let started = Instant::now();
        let ctx = self.model()?;
        let mut state = ctx
            .create_state()
            .map_err(|e| TranscribeError::Whisper(format!("creating a decoder state: {e}")))?;
        let mut params = if self.config.beam_size > 1 {
            FullParams::new(SamplingStrategy::BeamSearch {
                beam_size: i32::from(self.config.beam_size),
                patience: -1.0,
            })
        } else {
            FullParams::new(SamplingStrategy::Greedy { best_of: 1 })
        };
        params.set_n_threads(i32::from(self.config.threads.max(1)));
        let auto = self.config.language == "auto";
        params.set_language(if auto {
            None
        } else {
            Some(self.config.language.as_str())
        });
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        // One request per call: nothing to carry over between 30 s windows worth the risk
        // of a repetition loop.
        params.set_no_context(true);
        if let Some(prompt) = self.config.initial_prompt.as_deref() {
            // whisper-rs panics on an interior NUL; config text must not crash the PBX.
            params.set_initial_prompt(&prompt.replace('\0', " "));
        }
        state
            .full(params, samples)
            .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
        let mut segments = Vec::new();
        for seg in state.as_iter() {
            let text = seg
                .to_str_lossy()
                .map_err(|e| TranscribeError::Whisper(e.to_string()))?
                .trim()
                .to_string();
            if text.is_empty() {
                continue;
            }
            // whisper timestamps are in centiseconds.
            segments.push(Segment {
                start_ms: u64::try_from(seg.start_timestamp()).unwrap_or(0) * 10,
                end_ms: u64::try_from(seg.end_timestamp()).unwrap_or(0) * 10,
                text,
            });
        }
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let language = if auto {
            whisper_rs::get_lang_str(state.full_lang_id_from_state()).map(str::to_string)
        } else {
            Some(self.config.language.clone())
        };
        Ok(TranscriptResult {
            text,
            segments,
            language,
            processing_ms: elapsed_ms(started),
        })
    }

    /// The whole path for a recording: decode, convert, trim, check limits, transcribe.
    pub fn transcribe_file(&self, path: &Path) -> Result<TranscriptResult, TranscribeError> {
        let started = Instant::now();
        // Checked first so a job without a model does not decode audio for nothing.
        self.model()?;
        let audio = load_wav(path, &self.config.limits)?;
        let mut result = self.transcribe(&audio.samples)?;
        result.processing_ms = elapsed_ms(started);
        Ok(result)
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn load_model(path: &Path) -> Result<WhisperContext, String> {
    let shown = path.display();
    // whisper.cpp reports a bad path only as a failed init; say which it is.
    match std::fs::metadata(path) {
        Err(e) => return Err(format!("whisper model {shown}: {e}")),
        Ok(m) if !m.is_file() => return Err(format!("whisper model {shown}: not a file")),
        Ok(_) => {}
    }
    WhisperContext::new_with_params(path, WhisperContextParameters::default())
        .map_err(|e| format!("whisper model {shown}: not a usable ggml model ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_model_configured_is_off_with_reason() {
        // Without a model path nothing is loaded and the status says what to set.
        let e = Engine::new(EngineConfig::default());
        assert!(matches!(e.status(), EngineStatus::Off(r) if r.contains("whisper-model")));
        assert!(matches!(
            e.transcribe(&[0.0; 16]),
            Err(TranscribeError::NoModel)
        ));
    }

    /// Counts WARN events; the smallest subscriber `tracing` accepts.
    struct WarnCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for WarnCounter {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, e: &tracing::Event<'_>) {
            if *e.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn missing_or_unreadable_model_warns_once_not_per_call() {
        // Five jobs against a broken model log one warning, not five; likewise with none.
        let warns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let e = Engine::new(EngineConfig {
            model_path: Some(PathBuf::from("/nonexistent/ggml-model.bin")),
            ..EngineConfig::default()
        });
        tracing::subscriber::with_default(WarnCounter(warns.clone()), || {
            for _ in 0..5 {
                assert!(e.transcribe_file(Path::new("/rec/a.wav")).is_err());
            }
        });
        assert_eq!(warns.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Same for no model at all.
        let off = Engine::new(EngineConfig::default());
        tracing::subscriber::with_default(WarnCounter(warns.clone()), || {
            for _ in 0..5 {
                assert!(!crate::transcribe::Transcriber::ready(&off));
            }
        });
        assert_eq!(warns.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn unreadable_model_is_off_and_remembered() {
        // A garbage model file fails once; the reason is kept, not retried per call.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.bin");
        std::fs::write(&p, b"not a model").unwrap();
        let e = Engine::new(EngineConfig {
            model_path: Some(p),
            ..EngineConfig::default()
        });
        assert_eq!(e.status(), EngineStatus::NotLoaded);
        let err = e.ensure_loaded().unwrap_err();
        assert!(
            matches!(err, TranscribeError::ModelUnavailable { .. }),
            "{err}"
        );
        assert!(!err.is_permanent());
        assert!(matches!(e.status(), EngineStatus::Off(r) if r.contains("bad.bin")));
        assert!(e.transcribe_file(Path::new("/nonexistent.wav")).is_err());
    }
}
