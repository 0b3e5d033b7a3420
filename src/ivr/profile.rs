//! An IVR profile: what `callback_ivr <profile>` offers and how it sounds. Built from
//! `<ivr-profiles><profile name="...">` by the configuration reader; every field has a
//! default, so `callback_ivr` works with no profile configured at all.

use super::Prompt;
use crate::model::CallbackType;
use chrono::Duration;
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Every prompt the flow plays, with what it should say (the sample configuration and the
/// README list these; `make-prompts.sh` speaks them with espeak-ng for a first test).
pub const PROMPTS: &[(&str, &str)] = &[
    ("offer", "To be called back as soon as possible, press 1. In 30 minutes, press 2. At a time you choose, press 3."),
    ("number-is", "We will call you back on"),
    ("number-menu", "If this number is right, press 1. To enter another number, press 2."),
    ("enter-number", "Please enter your phone number, with the area code, then press the pound key."),
    ("invalid-number", "Sorry, that is not a valid phone number."),
    ("denied-number", "Sorry, we cannot call that number back."),
    ("do-not-call", "Sorry, this number is on our do-not-call list, so we cannot call you back on it."),
    ("invalid-choice", "Sorry, that is not a valid choice."),
    ("choose-day", "Please choose a day."),
    ("for", "For"),
    ("press", "press"),
    ("choose-time", "Please choose a time."),
    ("more-times", "For later times, press 9. To enter a time, press 0."),
    ("enter-time", "Please enter the time as four digits, for example 1 4 3 0 for 2:30 PM."),
    ("slot-unavailable", "Sorry, that time is not available."),
    ("no-slots", "Sorry, there are no free times in the coming days."),
    ("window-from", "If there are hours when we may call you, enter the hour from which we may call, from 0 to 23, then press the pound key. To be called at any time, just press the pound key."),
    ("window-until", "Now enter the hour until which we may call, from 1 to 24, then press the pound key."),
    ("consent", "We would like to record your name and the reason for your call, so that our agent can prepare. To agree, press 1. Otherwise, press 2."),
    ("record", "After the tone, please say your name and why you are calling. Press the pound key when you are done."),
    ("too-short", "Sorry, we did not hear you. Please try again."),
    ("review", "To keep your message, press 1. To listen to it, press 2. To record it again, press 3."),
    ("booked", "Thank you. We will call you back"),
    ("asap", "as soon as an agent is free."),
    ("wait-about", "The wait is about"),
    ("minutes", "minutes."),
    ("position", "You are number"),
    ("in-line", "in line."),
    ("queue-offer", "To be called back instead, keeping your place in line, press 1."),
    ("today", "today"),
    ("tomorrow", "tomorrow"),
    ("on", "on"),
    ("at", "at"),
    ("goodbye", "Goodbye."),
    ("error", "Sorry, we cannot take your callback request right now. Please try again later."),
];

/// One IVR profile.
#[derive(Debug, Clone)]
pub struct IvrProfile {
    pub name: String,
    /// The types offered, in menu order: the caller presses 1 for the first. With one type
    /// the menu is skipped.
    pub offer: Vec<CallbackType>,
    /// How long a delayed callback waits.
    pub delay: Duration,
    /// The queue of the requests (the default queue when `None`).
    pub queue: Option<String>,
    /// Language for numbers, dates and times (FreeSWITCH `say` module name, e.g. `en`).
    pub language: String,
    /// Tries on bad or missing input before the IVR ends politely.
    pub tries: u32,
    /// How long to wait for a key.
    pub input_timeout_ms: u32,
    pub max_record_seconds: u32,
    /// A recording shorter than this counts as "we did not hear you".
    pub min_record_ms: u32,
    pub silence_threshold: u32,
    pub silence_seconds: u32,
    /// Offer to listen back and re-record.
    pub review: bool,
    /// Ask the caller's consent (key 1) before recording; without it the callback is
    /// booked without a recording.
    pub consent: bool,
    /// Ask the hours the caller may be called between ("between 9 and 17"), for an
    /// immediate or delayed callback; they become the customer's window.
    pub ask_window: bool,
    /// Before the menu, tell the caller their place in the queue's line and the expected
    /// wait ("You are number 4 in line. The wait is about 10 minutes."), from the queue's
    /// (and its contact centre's) recent handling only.
    pub tell_wait: bool,
    /// A caller who hangs up after the number is known and something was recorded still
    /// gets a callback (tagged `confirmed=no`).
    pub keep_unconfirmed: bool,
    /// Days offered for a scheduled callback (from today).
    pub schedule_days: u32,
    /// Zones by the number's country (ISO 3166), for callers abroad; otherwise the queue's.
    pub country_zones: BTreeMap<String, Tz>,
    /// The tone before recording.
    pub tone: String,
    /// Prompt files by name (see [`PROMPTS`]).
    pub prompts: BTreeMap<String, String>,
}

impl IvrProfile {
    /// The profile used when none is configured: everything offered, prompts under
    /// `callback/`.
    pub fn default_named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            offer: vec![
                CallbackType::Immediate,
                CallbackType::Delayed,
                CallbackType::Scheduled,
            ],
            delay: Duration::minutes(30),
            queue: None,
            language: "en".into(),
            tries: 3,
            input_timeout_ms: 5000,
            max_record_seconds: 60,
            min_record_ms: 1000,
            silence_threshold: 200,
            silence_seconds: 3,
            review: true,
            consent: false,
            ask_window: false,
            tell_wait: false,
            keep_unconfirmed: true,
            schedule_days: 7,
            country_zones: BTreeMap::new(),
            tone: "tone_stream://%(500,0,800)".into(),
            prompts: prompt_files("callback/", &BTreeMap::new()),
        }
    }

    /// The file of a prompt.
    pub fn prompt(&self, name: &str) -> Prompt {
        Prompt::File(
            self.prompts
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("callback/{name}.wav")),
        )
    }
}

/// Prompt files: `<prefix><name>.wav`, with per-prompt overrides.
pub fn prompt_files(
    prefix: &str,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    PROMPTS
        .iter()
        .map(|(name, _)| {
            let file = overrides
                .get(*name)
                .cloned()
                .unwrap_or_else(|| format!("{prefix}{name}.wav"));
            (name.to_string(), file)
        })
        .collect()
}
