//! Transcription of recorded requests with whisper, off the call path.
//!
//! Map (one concept per file):
//! - [`audio`]: WAV decode (hound), any rate/channels to 16 kHz mono (rubato), silence
//!   trim, limits checked from the header; [`audio::AudioError`] says why a file is refused.
//! - [`engine`]: the whisper model, loaded lazily once and shared; `transcribe(&[f32])` and
//!   the whole-file path; the decoder's prompt from the vocabulary; the no-speech
//!   judgement; [`engine::TranscriptResult`] (text, segments, language, time, no speech).
//! - [`worker`]: bounded worker threads pulling from a durable [`worker::JobQueue`] with
//!   leases, exponential backoff and permanent failures that keep their reason.
//! - [`tags`]: rules from transcript words to tags (`intent=billing`), queue and priority.
//! - [`queue`]: [`queue::TaggingQueue`], the queue the module's workers use: the SQLite
//!   queue, the tag rules applied as each transcript is stored, and a `transcribed`
//!   notification to the host.
//! - [`words`]: a transcript's words normalised for tag matching (numbers, currency,
//!   spelling variants).
//! - [`spelling`]: one-word vocabulary entries (product names) written in the transcript
//!   as configured (`fiber max` -> `FiberMax`).
//! - [`wer`]: word error rate over those words, for tests and the bench.
//!
//! The SQLite implementation of the queue lives with the store (`store/sqlite/jobs.rs`, and `store/pg/jobs.rs` for PostgreSQL).
//!
//! Configuration (`callback.conf.xml`, checked in `config`): `whisper-model` (unset or
//! empty = transcription off, callbacks unaffected), `whisper-language` (`en`, or `auto`;
//! a queue's own `whisper-language` wins for its callbacks), `whisper-threads` (2),
//! `whisper-beam-size` (0 = greedy), `whisper-temperature-fallback` (true),
//! `whisper-second-view` (true: a pre-emphasised second decode, the surer one kept),
//! `whisper-telephone-band` (true: the first view is the telephone band, not the audio
//! as recorded; `transcribe::views`),
//! `whisper-prompt`, `whisper-vocabulary` (product names; with the tag rules' words they
//! make the decoder's prompt), `whisper-no-speech-threshold` (0.6),
//! `transcribe-workers` (1), `transcribe-max-seconds` (120), `transcribe-truncate-long`
//! (false: refuse), `transcribe-max-attempts` (4), `transcribe-retry-delay` (30s, doubled
//! per attempt up to 30 min). Tag rules, in the order they are tried:
//!
//! ```xml
//! <tags>
//!   <tag name="intent=billing">
//!     <param name="words" value="invoice, bill, refund, account number"/>
//!     <param name="queue" value="billing"/>
//!   </tag>
//!   <tag name="urgency=high">
//!     <param name="regex" value="\b(urgent|asap|emergency)\b"/>
//!     <param name="priority" value="10"/>
//!   </tag>
//! </tags>
//! ```

pub mod audio;
pub mod engine;
pub mod queue;
pub mod spelling;
pub mod tags;
pub mod views;
pub mod wer;
pub mod words;
pub mod worker;

pub use audio::{AudioError, AudioLimits};
pub use engine::{
    Decoded, Engine, EngineConfig, EngineStatus, Segment, TranscribeError, TranscriptResult,
};
pub use queue::{OnStored, SharedRules, TaggingQueue};
pub use tags::{TagOutcome, TagRule, TagRules};
pub use worker::{Job, JobId, JobQueue, Notifier, Retry, Transcriber, WorkerConfig, Workers};
