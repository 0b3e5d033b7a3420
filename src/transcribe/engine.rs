//! The whisper wrapper: one model, loaded lazily on first use and shared by every worker
//! thread; each call gets its own decoding state, so calls may run in parallel.
//!
//! A missing or unreadable model is not an error of the module: callbacks go on without
//! transcripts, [`Engine::status`] says why, and the log says it once.

use super::audio::{load_wav, AudioError, AudioLimits, WHISPER_RATE};
use super::spelling::respell;
use super::views::{pick, View};
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
    /// Spoken language (`en`), or `auto` to let a multilingual model detect it. A queue's
    /// own language, when it has one, is passed per call instead.
    pub language: String,
    /// CPU threads per transcription.
    pub threads: u16,
    /// 0 or 1 = greedy decoding; more = beam search of that width (slower).
    pub beam_size: u16,
    /// Decode a window again at a higher temperature when its text is improbable or
    /// repeats itself (whisper.cpp's fallback, steps of 0.2); off = one decode at 0.
    pub temperature_fallback: bool,
    /// Greedy decoding: how many candidates are sampled at each fallback temperature, the
    /// likeliest kept (whisper's `best_of`; 1 = a single sample). 1: 5 changed one clip of
    /// the tuning half (the only one that fell back), for the worse.
    pub best_of: u16,
    /// Free text put before the vocabulary in the decoder's prompt (`whisper-prompt`).
    pub initial_prompt: Option<String>,
    /// What callers of this PBX say that whisper would not guess: the tag rules' words and
    /// `whisper-vocabulary` (product names). Given to the decoder as its prompt.
    pub vocabulary: Vec<String>,
    /// whisper's probability of "no speech" above which a recording whose every window
    /// says so is taken as holding no speech.
    pub no_speech_threshold: f32,
    /// Also decode the audio pre-emphasised by this coefficient (`y[n] = x[n] - a x[n-1]`,
    /// which lifts the consonants a telephone line dulls) and keep whichever of the two
    /// decodes whisper is surer of (the higher mean log-probability of its words); 0 = one
    /// decode. Twice the decoding time, for WER 0.297 against 0.340 on the tuning half of
    /// the bench's set with the telephone band as the first view (0.305 with the audio as
    /// recorded; either view alone: 0.340). `whisper-second-view`.
    pub second_view_emphasis: f32,
    /// Decode the telephone band of the audio (300-3400 Hz, `views::View::TelephoneBand`)
    /// in place of the audio as recorded; the pre-emphasised second view is still of the
    /// audio as recorded. With the second view: WER 0.297 against 0.305 on the bench's
    /// tuning half, 0.304 against 0.315 held out, for the same decoding time; alone it gains
    /// little over the audio as recorded (0.323 against 0.340 tuning, 0.339 against 0.342
    /// held out). `whisper-telephone-band`.
    pub telephone_band: bool,
    /// Also decode without the prompt and keep whichever of the two decodes whisper is
    /// surer of (the higher mean log-probability of its words). Off: on the tuning half
    /// of the bench's set it lost (WER 0.354 against 0.346 with the prompt alone); kept
    /// for the bench's experiments.
    pub compare_unprompted: bool,
    /// whisper's `suppress_nst`: never write non-speech tokens (annotations, music signs).
    pub suppress_non_speech: bool,
    pub limits: AudioLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            model_path: None,
            language: "en".to_string(),
            threads: 2,
            // Greedy with temperature fallback, measured on the 52-clip telephone set
            // (tiny.en): WER 0.378; without the fallback 0.823 (repetition loops kept).
            // Beam 5 with the fallback took ~20 s a clip on 2 busy cores, 5x greedy, for
            // no gain on the clips it was run on; see the bench notes.
            beam_size: 0,
            temperature_fallback: true,
            best_of: 1,
            initial_prompt: None,
            vocabulary: Vec::new(),
            no_speech_threshold: 0.6,
            // Off without a configuration: measured with the vocabulary prompt only;
            // without a prompt it lost on the 10 fixtures (0.309 against bare 0.287).
            // `whisper-second-view` (on by default) turns it on for the module.
            second_view_emphasis: 0.0,
            // Off without a configuration, like the second view it was measured with.
            telephone_band: false,
            compare_unprompted: false,
            suppress_non_speech: false,
            limits: AudioLimits::default(),
        }
    }
}

impl EngineConfig {
    /// The views of each recording decoded, in order; the first decides whether whisper
    /// heard any words at all.
    pub fn views(&self) -> Vec<View> {
        let mut views = vec![if self.telephone_band {
            View::TelephoneBand
        } else {
            View::AsRecorded
        }];
        if self.second_view_emphasis > 0.0 {
            views.push(View::PreEmphasised(self.second_view_emphasis));
        }
        views
    }

    /// The decoder's prompt: the free text, then the vocabulary as a list; `None` when
    /// both are empty. Cut to [`PROMPT_MAX_CHARS`] at a word: whisper keeps only the last
    /// 224 tokens of a prompt, and a longer one would lose its start silently.
    pub fn prompt(&self) -> Option<String> {
        let mut out = self
            .initial_prompt
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        let words: Vec<&str> = self
            .vocabulary
            .iter()
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
            .collect();
        if !words.is_empty() {
            if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
                out.push('.');
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&words.join(", "));
            out.push('.');
        }
        // whisper-rs panics on an interior NUL; config text must not crash the PBX.
        let mut out = out.replace('\0', " ");
        if out.chars().count() > PROMPT_MAX_CHARS {
            let cut: String = out.chars().take(PROMPT_MAX_CHARS).collect();
            out = match cut.rfind([' ', ',']) {
                Some(i) => cut[..i].trim_end_matches([',', ' ']).to_string(),
                None => cut,
            };
        }
        (!out.trim().is_empty()).then_some(out)
    }
}

/// The pre-emphasis of the second view (`whisper-second-view`): 0.9, the coefficient
/// measured; speech front ends use 0.9 to 0.97.
pub const SECOND_VIEW_EMPHASIS: f32 = 0.9;

/// The longest prompt given to whisper, in characters (about 150 tokens of English).
pub const PROMPT_MAX_CHARS: usize = 600;

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
    /// Set when the recording holds no speech, with why (the text is then empty): what the
    /// agent is shown instead of words whisper would have invented for noise or music.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_speech: Option<String>,
}

impl TranscriptResult {
    /// The outcome for a recording without speech.
    pub fn no_speech(reason: String, language: Option<String>, processing_ms: u64) -> Self {
        Self {
            text: String::new(),
            segments: Vec::new(),
            language,
            processing_ms,
            no_speech: Some(reason),
        }
    }
}

/// What one whisper run produced, before the no-speech judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Segments with words; whisper's own annotations (`(music)`, `[BLANK_AUDIO]`, `♪`)
    /// are left out: they are not what the caller said.
    pub segments: Vec<Segment>,
    /// Annotations whisper wrote instead of words, e.g. `(dramatic music)`.
    pub annotations: Vec<String>,
    /// The lowest no-speech probability of the windows decoded (1.0 when none was).
    pub no_speech_probability: f32,
    pub language: Option<String>,
    /// The mean log-probability of the text tokens written (`-inf` when none was): how
    /// sure whisper is of this text, to choose between two decodes.
    pub mean_logprob: f32,
    /// The log-probability of each text token written, in order (the judge's evidence).
    pub token_logprobs: Vec<f32>,
}

impl Decoded {
    /// The words of the segments, one space between segments.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
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

    /// Transcribes 16 kHz mono samples in the configured language.
    pub fn transcribe(&self, samples: &[f32]) -> Result<TranscriptResult, TranscribeError> {
        self.transcribe_in(samples, None)
    }

    /// Transcribes 16 kHz mono samples; `language` (a queue's) overrides the configured
    /// one. No speech (whisper's no-speech probability, or no words but its annotations)
    /// gives an empty text with [`TranscriptResult::no_speech`] set.
    pub fn transcribe_in(
        &self,
        samples: &[f32],
        language: Option<&str>,
    ) -> Result<TranscriptResult, TranscribeError> {
        let started = Instant::now();
        let decoded = self.decode(samples, language)?;
        let Decoded {
            segments,
            annotations,
            no_speech_probability,
            language,
            ..
        } = decoded;
        let no_speech = if segments.is_empty() {
            Some(if annotations.is_empty() {
                "no speech: whisper heard no words".to_string()
            } else {
                format!("no speech: whisper heard only {}", annotations.join(" "))
            })
        } else if no_speech_probability > self.config.no_speech_threshold {
            Some(format!(
                "no speech: whisper's no-speech probability is {no_speech_probability:.2} \
                 (above {:.2})",
                self.config.no_speech_threshold
            ))
        } else {
            None
        };
        if let Some(reason) = no_speech {
            return Ok(TranscriptResult::no_speech(
                reason,
                language,
                elapsed_ms(started),
            ));
        }
        // Product names as the configuration spells them, so the tag rules and the agent
        // see `FiberMax` however whisper split or cased it.
        let segments: Vec<Segment> = segments
            .into_iter()
            .map(|s| Segment {
                text: respell(&s.text, &self.config.vocabulary),
                ..s
            })
            .collect();
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(TranscriptResult {
            text,
            segments,
            language,
            processing_ms: elapsed_ms(started),
            no_speech: None,
        })
    }

    /// One whisper run with the configured decoder settings, without judging the outcome
    /// (the bench reads the probabilities it judges by).
    pub fn decode(
        &self,
        samples: &[f32],
        language: Option<&str>,
    ) -> Result<Decoded, TranscribeError> {
        let c = &self.config;
        let prompt = c.prompt();
        let mut decodes = Vec::new();
        for view in c.views() {
            let audio = view.render(samples, WHISPER_RATE);
            let decoded = self.decode_with(&audio, language, prompt.as_deref())?;
            // A recording in which whisper heard no words is not second-guessed: another
            // view could only add words to noise.
            if decodes.is_empty() && decoded.segments.is_empty() {
                return Ok(decoded);
            }
            decodes.push(decoded);
        }
        // Same prompt, same model: the decodes are comparable.
        let keep = pick(&decodes).unwrap_or(0);
        let mut best = decodes.swap_remove(keep);
        if c.compare_unprompted && prompt.is_some() {
            let other = self.decode_with(samples, language, None)?;
            if other.mean_logprob > best.mean_logprob {
                best = other;
            }
        }
        Ok(best)
    }

    /// One whisper run with the configured decoder settings and this prompt.
    pub fn decode_with(
        &self,
        samples: &[f32],
        language: Option<&str>,
        prompt: Option<&str>,
    ) -> Result<Decoded, TranscribeError> {
        let ctx = self.model()?;
        let mut state = ctx
            .create_state()
            .map_err(|e| TranscribeError::Whisper(format!("creating a decoder state: {e}")))?;
        let c = &self.config;
        let mut params = if c.beam_size > 1 {
            FullParams::new(SamplingStrategy::BeamSearch {
                beam_size: i32::from(c.beam_size),
                patience: -1.0,
            })
        } else {
            FullParams::new(SamplingStrategy::Greedy {
                best_of: i32::from(c.best_of.max(1)),
            })
        };
        params.set_n_threads(i32::from(c.threads.max(1)));
        let language = language.unwrap_or(c.language.as_str());
        let auto = language == "auto";
        params.set_language(if auto { None } else { Some(language) });
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        // One request per call: nothing to carry over between 30 s windows worth the risk
        // of a repetition loop.
        params.set_no_context(true);
        if !c.temperature_fallback {
            params.set_temperature_inc(0.0);
        }
        if let Some(prompt) = prompt {
            params.set_initial_prompt(prompt);
        }
        params.set_suppress_nst(c.suppress_non_speech);
        state
            .full(params, samples)
            .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
        let mut segments = Vec::new();
        let mut annotations = Vec::new();
        let mut no_speech_probability = 1.0f32;
        // Text tokens are those below end-of-text; the rest are timestamps and markers.
        let eot = ctx.token_eot();
        let mut token_logprobs = Vec::new();
        for seg in state.as_iter() {
            for t in 0..seg.n_tokens() {
                if let Some(token) = seg.get_token(t) {
                    let data = token.token_data();
                    if data.id < eot && data.plog.is_finite() {
                        token_logprobs.push(data.plog);
                    }
                }
            }
            let p = seg.no_speech_probability();
            if p.is_finite() {
                no_speech_probability = no_speech_probability.min(p);
            }
            let text = seg
                .to_str_lossy()
                .map_err(|e| TranscribeError::Whisper(e.to_string()))?
                .trim()
                .to_string();
            if text.is_empty() {
                continue;
            }
            if is_annotation(&text) {
                annotations.push(text);
                continue;
            }
            // whisper timestamps are in centiseconds.
            segments.push(Segment {
                start_ms: u64::try_from(seg.start_timestamp()).unwrap_or(0) * 10,
                end_ms: u64::try_from(seg.end_timestamp()).unwrap_or(0) * 10,
                text,
            });
        }
        let language = if auto {
            whisper_rs::get_lang_str(state.full_lang_id_from_state()).map(str::to_string)
        } else {
            Some(language.to_string())
        };
        let mean_logprob = if token_logprobs.is_empty() {
            f32::NEG_INFINITY
        } else {
            (token_logprobs.iter().map(|p| f64::from(*p)).sum::<f64>()
                / token_logprobs.len() as f64) as f32
        };
        Ok(Decoded {
            segments,
            annotations,
            no_speech_probability,
            language,
            mean_logprob,
            token_logprobs,
        })
    }

    /// The whole path for a recording: decode, convert, trim, check limits, transcribe.
    /// Too little sound to be speech is the no-speech outcome, not an error.
    pub fn transcribe_file(&self, path: &Path) -> Result<TranscriptResult, TranscribeError> {
        self.transcribe_file_in(path, None)
    }

    /// [`Engine::transcribe_file`] in a queue's language (`None`: the configured one).
    pub fn transcribe_file_in(
        &self,
        path: &Path,
        language: Option<&str>,
    ) -> Result<TranscriptResult, TranscribeError> {
        let started = Instant::now();
        // Checked first so a job without a model does not decode audio for nothing.
        self.model()?;
        let audio = match load_wav(path, &self.config.limits) {
            Ok(a) => a,
            Err(AudioError::TooShort {
                speech_ms, min_ms, ..
            }) => {
                return Ok(TranscriptResult::no_speech(
                    format!(
                        "no speech: only {speech_ms} ms of sound above silence \
                         (at least {min_ms} ms needed)"
                    ),
                    None,
                    elapsed_ms(started),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(reason) = audio.no_voice() {
            return Ok(TranscriptResult::no_speech(
                reason,
                None,
                elapsed_ms(started),
            ));
        }
        let mut result = self.transcribe_in(&audio.samples, language)?;
        result.processing_ms = elapsed_ms(started);
        Ok(result)
    }
}

/// A segment that is whisper describing the audio rather than words: all of it in
/// brackets or parentheses (`(dramatic music)`, `[BLANK_AUDIO]`, `*sigh*`), or music signs.
fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    let enclosed = |open: char, close: char| {
        t.starts_with(open) && t.ends_with(close) && t[1..].find(close) == Some(t.len() - 2)
    };
    if enclosed('(', ')') || enclosed('[', ']') || enclosed('*', '*') {
        return true;
    }
    // Only music signs, punctuation and spaces: no letter or digit was heard.
    !t.chars().any(char::is_alphanumeric)
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
    fn whisper_annotations_are_not_words() {
        // "(dramatic music)", "[BLANK_AUDIO]", "*sigh*" and music signs describe the audio;
        // a sentence with a parenthesis in it is still words.
        for a in [
            "(dramatic music)",
            "[BLANK_AUDIO]",
            "*sigh*",
            "♪ ♪",
            " - ",
            "(upbeat music)",
        ] {
            assert!(is_annotation(a), "{a}");
        }
        for w in [
            "(my bill) is wrong",
            "call me (please)",
            "I was charged twice.",
            "4521",
        ] {
            assert!(!is_annotation(w), "{w}");
        }
    }

    #[test]
    fn prompt_is_the_free_text_then_the_vocabulary() {
        // No prompt without either; the vocabulary as a list after the free text; a NUL
        // from a config becomes a space (whisper-rs would panic on it).
        let mut c = EngineConfig::default();
        assert_eq!(c.prompt(), None);
        c.vocabulary = vec!["bill".into(), " FiberMax ".into(), String::new()];
        assert_eq!(c.prompt().as_deref(), Some("bill, FiberMax."));
        c.initial_prompt = Some("Callers ask\0 for callbacks".into());
        assert_eq!(
            c.prompt().as_deref(),
            Some("Callers ask  for callbacks. bill, FiberMax.")
        );
    }

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
