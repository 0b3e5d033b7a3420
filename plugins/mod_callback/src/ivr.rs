//! `callback_ivr [profile]`: the core's IVR dialogue ([`callback_core::ivr`]) over
//! FreeSWITCH's stock media applications, run on the call's own thread:
//!
//! | the flow asks to | we run |
//! |---|---|
//! | play a prompt | `playback <file>` |
//! | say digits / a number | `say <lang> NUMBER iterated <digits>` / `say <lang> NUMBER pronounced <n>` |
//! | say a date / time | `timezone=<zone>`, then `say <lang> CURRENT_DATE\|CURRENT_TIME pronounced <epoch>` |
//! | collect digits | `play_and_get_digits <min> <max> 1 <timeout> #\|none <file> silence_stream://250 callback_ivr_digits ^[0-9*#]+$` |
//! | record | `playback_terminators=#`, then `record <path> <secs> <threshold> <silence secs>` |
//!
//! Every argument is built from configuration, validated digits, numbers and server-made
//! paths: nothing the caller typed or said reaches an application argument.

use crate::capture::set_error;
use crate::ffi::switch::Session;
use crate::vars::ChannelVars;
use callback_core::ivr::{self, Answer, Ask, Caller, Outcome, Prompt, RecordSpec};
use callback_core::service::CallbackService;
use std::path::Path;

/// The channel variable `play_and_get_digits` fills.
const DIGITS_VAR: &str = "callback_ivr_digits";

/// What the IVR needs of a call besides its variables.
pub trait CallControl: ChannelVars {
    /// Runs a dialplan application (blocking, on the call's thread).
    fn execute(&self, app: &str, arg: &str) -> bool;
    /// False once the call hangs up.
    fn ready(&self) -> bool;
}

impl CallControl for Session {
    fn execute(&self, app: &str, arg: &str) -> bool {
        Session::execute(self, app, arg)
    }
    fn ready(&self) -> bool {
        Session::ready(self)
    }
}

/// A FreeSWITCH call as the IVR dialogue's [`Caller`].
pub struct FsCaller<'a> {
    call: &'a dyn CallControl,
    language: String,
}

impl<'a> FsCaller<'a> {
    pub fn new(call: &'a dyn CallControl, language: &str) -> Self {
        Self {
            call,
            language: language.to_string(),
        }
    }

    fn say(&self, kind: &str, method: &str, value: &str) {
        self.call
            .execute("say", &format!("{} {kind} {method} {value}", self.language));
    }

    fn play_one(&self, p: &Prompt) {
        match p {
            Prompt::File(f) => {
                self.call.execute("playback", f);
            }
            Prompt::Digits(d) => {
                let digits: String = d.chars().filter(char::is_ascii_digit).collect();
                if !digits.is_empty() {
                    self.say("NUMBER", "iterated", &digits);
                }
            }
            Prompt::Number(n) => self.say("NUMBER", "pronounced", &n.to_string()),
            Prompt::Date(at, zone) | Prompt::Time(at, zone) => {
                self.call.set_var("timezone", Some(zone.name()));
                let kind = if matches!(p, Prompt::Date(..)) {
                    "CURRENT_DATE"
                } else {
                    "CURRENT_TIME"
                };
                self.say(kind, "pronounced", &at.timestamp().to_string());
            }
        }
    }
}

impl Caller for FsCaller<'_> {
    fn caller_id(&self) -> Option<String> {
        self.call.var("caller_id_number")
    }

    fn uuid(&self) -> Option<String> {
        self.call.uuid()
    }

    fn alive(&self) -> bool {
        self.call.ready()
    }

    fn play(&mut self, prompts: &[Prompt]) -> bool {
        for p in prompts {
            if !self.call.ready() {
                return false;
            }
            self.play_one(p);
        }
        self.call.ready()
    }

    fn ask(&mut self, prompts: &[Prompt], ask: &Ask) -> Answer {
        // The last file is the one open to input; anything before it (or a spoken item
        // last) is played first.
        let (file, before) = match prompts.split_last() {
            Some((Prompt::File(f), before)) => (f.as_str(), before),
            _ => ("silence_stream://250", prompts),
        };
        if !self.play(before) {
            return Answer::HungUp;
        }
        // The variable keeps an old value when nothing is pressed: clear it first.
        self.call.set_var(DIGITS_VAR, None);
        // `none` holds no DTMF key: nothing ends the input early.
        let terminators = if ask.terminators.is_empty() {
            "none"
        } else {
            ask.terminators
        };
        let arg = format!(
            "{} {} 1 {} {terminators} {file} silence_stream://250 {DIGITS_VAR} ^[0-9*#]+$",
            ask.min, ask.max, ask.timeout_ms
        );
        self.call.execute("play_and_get_digits", &arg);
        match self.call.var(DIGITS_VAR).filter(|d| !d.is_empty()) {
            // `*` and `#` (when not terminators) are keys too: the flow refuses them itself.
            Some(d)
                if d.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#') =>
            {
                Answer::Digits(d)
            }
            _ if !self.call.ready() => Answer::HungUp,
            _ => Answer::Nothing,
        }
    }

    fn record(&mut self, path: &Path, spec: &RecordSpec) {
        self.call.set_var("playback_terminators", Some("#"));
        let arg = format!(
            "{} {} {} {}",
            path.display(),
            spec.max_seconds,
            spec.silence_threshold,
            spec.silence_seconds
        );
        self.call.execute("record", &arg);
    }
}

/// Runs `callback_ivr [profile]` on a call and sets the result variables.
pub fn run(svc: Option<&CallbackService>, call: &dyn CallControl, data: &str) {
    let Some(svc) = svc else {
        return set_error(call, "mod_callback is not running");
    };
    let name = data.trim();
    let Some(profile) = svc
        .config()
        .ivr_profile(Some(name).filter(|n| !n.is_empty()))
    else {
        tracing::error!("callback_ivr: no IVR profile '{name}' in callback.conf.xml");
        return set_error(call, &format!("unknown IVR profile '{name}'"));
    };
    call.execute("answer", "");
    let mut caller = FsCaller::new(call, &profile.language);
    let outcome = ivr::run(svc, &profile, &mut caller);
    let (stored, confirmed) = match outcome {
        Outcome::Booked(r) => (r, true),
        Outcome::HungUp(Some(r)) => (r, false),
        Outcome::HungUp(None) => {
            tracing::info!("callback_ivr: the caller hung up before a request was complete");
            return set_error(call, "the caller hung up before the request was complete");
        }
        Outcome::Ended(why) => {
            tracing::info!("callback_ivr: ended without a request: {why}");
            return set_error(call, &why);
        }
        // Said in the log by the dialogue, once.
        Outcome::Failed(e) => return set_error(call, &e.to_string()),
    };
    call.set_var("callback_result", Some("OK"));
    crate::capture::set_stored(call, &stored);
    call.set_var(
        "callback_confirmed",
        Some(if confirmed { "true" } else { "false" }),
    );
    call.set_var("callback_error", None);
}
