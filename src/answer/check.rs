//! The check on an answered customer leg, run on that leg before the agent is connected.
//!
//! 1. The telephony server's own detection, where the admin has it: an AMD module's
//!    verdict, a beep detector that heard a voicemail beep ([`HostDetection`]).
//! 2. Otherwise, with `machine-detection` on, the module's own judgement: the first
//!    seconds are recorded (the recording stops early when the line goes quiet: a person
//!    who said "hello?" and waits), the cadence [`super::detector`] judges them, and when
//!    that is unsure and a whisper model is loaded, the transcript's phrases decide. The
//!    model runs only then, so a clear cadence never waits for it.
//! 3. A machine leads to the queue's `on-machine`: the agent as before, a hang-up, or the
//!    configured message after the beep, then a hang-up.
//! 4. A person (or an unsure line, which is treated as one: hanging up on a person is the
//!    worse mistake) hears the queue's greeting and, when a key is configured, must press
//!    it; no key ends the leg as `no-key`.
//!
//! Every file played is configured (checked by the configuration); nothing the customer
//! said or pressed reaches an argument.

use super::detector::{judge, Cadence, Judgement};
use super::phrase::machine_phrase;
use super::Verdict;
use crate::config::{OnMachine, QueueAnswer};
use crate::ivr::{Answer, Ask, Caller, Prompt, RecordSpec};
use crate::transcribe::Engine;
use std::path::Path;

/// What the telephony server's own detectors say about the answered leg, read when asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostDetection {
    /// An AMD module's verdict: `Some(true)` machine, `Some(false)` person, `None` none
    /// or unsure.
    pub machine: Option<bool>,
    /// A beep detector heard a voicemail beep (which only a machine plays).
    pub beep: bool,
}

impl HostDetection {
    fn says_machine(self) -> bool {
        self.machine == Some(true) || self.beep
    }
}

/// The answered customer leg, as the check sees it. Blocking, on that leg's thread.
pub trait CustomerLine: Caller {
    fn host_detection(&self) -> HostDetection;
    /// Ends the leg (the agent is then not connected).
    fn hang_up(&mut self);
}

/// The recording level below which audio is silence, as the IVR's recordings use.
const SILENCE_THRESHOLD: u32 = 200;
/// The longest a machine's greeting is waited for before the message is left anyway.
const GREETING_MAX_SECS: u32 = 30;

/// Runs the check with the queue's `cfg`; `scratch` is a server-made path for the first
/// seconds' recording (removed afterwards); `engine`: the whisper engine when a model is
/// loaded. Returns the verdict and why, for the log.
pub fn run(
    cfg: &QueueAnswer,
    line: &mut dyn CustomerLine,
    engine: Option<&Engine>,
    scratch: &Path,
) -> (Verdict, String) {
    let machine = machine_by(cfg, line, engine, scratch);
    let _ = std::fs::remove_file(scratch);
    if !line.alive() {
        // Gone already: the bridge fails on its own and the hang-up classifies it.
        return (
            Verdict::Human,
            "the customer hung up during the check".into(),
        );
    }
    if let Some(why) = machine {
        match cfg.on_machine {
            OnMachine::Agent => {
                return (Verdict::Human, format!("{why}; handed to the agent"));
            }
            OnMachine::Retry => {
                line.hang_up();
                return (Verdict::Machine, why);
            }
            OnMachine::Message => {
                let Some(message) = cfg.message.clone() else {
                    line.hang_up();
                    return (Verdict::Machine, format!("{why}; no message configured"));
                };
                wait_for_beep(line, scratch);
                let _ = std::fs::remove_file(scratch);
                let played = line.play(&[Prompt::File(message)]);
                line.hang_up();
                return if played {
                    (Verdict::MessageLeft, format!("{why}; message left"))
                } else {
                    (
                        Verdict::Machine,
                        format!("{why}; hung up before the message"),
                    )
                };
            }
        }
    }
    let Some(greeting) = cfg.greeting.clone() else {
        return (Verdict::Human, "a person answered".into());
    };
    let Some(key) = cfg.greeting_key else {
        line.play(&[Prompt::File(greeting)]);
        return (Verdict::Human, "a person answered; greeted".into());
    };
    let ask = Ask::key(cfg.greeting_key_secs.saturating_mul(1000));
    match line.ask(&[Prompt::File(greeting)], &ask) {
        Answer::Digits(k) if k.chars().eq(std::iter::once(key)) => {
            (Verdict::Human, format!("the customer pressed {key}"))
        }
        Answer::HungUp => (
            Verdict::Human,
            "the customer hung up during the greeting".into(),
        ),
        other => {
            line.hang_up();
            let what = match other {
                Answer::Digits(_) => "another key",
                _ => "no key",
            };
            (
                Verdict::NoKey,
                format!("{what} after the greeting (expected {key})"),
            )
        }
    }
}

/// Why the leg is a machine, or `None` (a person, or unsure).
fn machine_by(
    cfg: &QueueAnswer,
    line: &mut dyn CustomerLine,
    engine: Option<&Engine>,
    scratch: &Path,
) -> Option<String> {
    if line.host_detection().says_machine() {
        return Some("the telephony server's detector said machine".into());
    }
    if !cfg.detect {
        return None;
    }
    // One second of quiet ends the recording: a person who answered waits by then.
    line.record(
        scratch,
        &RecordSpec {
            max_seconds: cfg.listen_secs,
            silence_threshold: SILENCE_THRESHOLD,
            silence_seconds: 1,
        },
    );
    // The server's detector listened meanwhile: its word first.
    if line.host_detection().says_machine() {
        return Some("the telephony server's detector said machine".into());
    }
    let samples = read_pcm(scratch)?;
    let cadence = Cadence {
        window_ms: cfg.listen_secs.saturating_mul(1000),
        ..Cadence::default()
    };
    let d = judge(&samples, &cadence);
    match d.judgement {
        Judgement::Machine => Some(format!("a greeting ran on ({} ms heard)", d.after_ms)),
        Judgement::Human => None,
        Judgement::Unsure => {
            let text = engine?.transcribe_file(scratch).ok()?.text;
            machine_phrase(&text).map(|p| format!("the greeting said \"{p}\""))
        }
    }
}

/// Waits for the machine's beep: the server's beep detector when it has heard it, else
/// the end of the greeting (the line going quiet), which is when the beep has played.
fn wait_for_beep(line: &mut dyn CustomerLine, scratch: &Path) {
    if line.host_detection().beep {
        return;
    }
    line.record(
        scratch,
        &RecordSpec {
            max_seconds: GREETING_MAX_SECS,
            silence_threshold: SILENCE_THRESHOLD,
            silence_seconds: 1,
        },
    );
}

/// 8 kHz mono 16-bit PCM from `path`, or `None` for anything else (then no judgement).
fn read_pcm(path: &Path) -> Option<Vec<i16>> {
    let mut r = hound::WavReader::open(path).ok()?;
    let spec = r.spec();
    if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        tracing::warn!(
            "answer check: {} is not 8 kHz mono 16-bit; no cadence judgement",
            path.display()
        );
        return None;
    }
    r.samples::<i16>().collect::<Result<_, _>>().ok()
}
