//! The turnkey callback IVR, as a flow over an abstract [`Caller`]: offer the types, confirm
//! the number, pick a day and a slot, record the name and reason, read back and store.
//!
//! - [`profile`]: one `<ivr-profiles><profile>` of the configuration (types offered,
//!   prompts, limits).
//! - [`flow`]: the dialogue itself and its [`Outcome`].
//!
//! The host adapts [`Caller`] to its media primitives (FreeSWITCH: `playback`,
//! `play_and_get_digits`, `record`, `say`); nothing here knows which.

pub mod flow;
pub mod profile;

pub use flow::{run, Outcome, Stored};
pub use profile::{IvrProfile, PROMPTS};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::path::Path;

/// One thing to play to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A sound file (or any playable the host understands, e.g. a tone stream), from the
    /// profile's configuration only.
    File(String),
    /// Digits read one by one (a phone number): `+` and ASCII digits only.
    Digits(String),
    /// A small number pronounced ("three").
    Number(u32),
    /// The date of an instant, in a zone.
    Date(DateTime<Utc>, Tz),
    /// The time of day of an instant, in a zone.
    Time(DateTime<Utc>, Tz),
}

/// How to collect digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub min: usize,
    pub max: usize,
    /// How long to wait for the first digit.
    pub timeout_ms: u32,
    /// Keys that end the input (`#`).
    pub terminators: &'static str,
}

impl Ask {
    /// One key.
    pub fn key(timeout_ms: u32) -> Self {
        Self {
            min: 1,
            max: 1,
            timeout_ms,
            terminators: "",
        }
    }
}

/// What the caller did when asked for digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Digits(String),
    /// Nothing (timeout) or only a terminator.
    Nothing,
    HungUp,
}

/// How to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    pub max_seconds: u32,
    /// Energy below this counts as silence.
    pub silence_threshold: u32,
    /// This much silence ends the recording.
    pub silence_seconds: u32,
}

/// The call, as the IVR flow sees it. Every method blocks on the call's own thread.
pub trait Caller {
    /// The caller ID number, if the call has one.
    fn caller_id(&self) -> Option<String>;
    /// The call's uuid.
    fn uuid(&self) -> Option<String>;
    /// False once the caller hung up.
    fn alive(&self) -> bool;
    /// Plays prompts in order; false when the caller hung up.
    fn play(&mut self, prompts: &[Prompt]) -> bool;
    /// Plays prompts (the last one open to input) and collects digits.
    fn ask(&mut self, prompts: &[Prompt], ask: &Ask) -> Answer;
    /// Records the caller into `path` (a WAV file) until silence, `#`, the limit or a
    /// hang-up; the flow inspects the file afterwards.
    fn record(&mut self, path: &Path, spec: &RecordSpec);
}
