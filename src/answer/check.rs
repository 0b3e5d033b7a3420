//! The check on an answered customer leg, run on that leg before the agent is connected.
//!
//! 1. The telephony server's own detection, where the admin has it: an AMD module's
//!    verdict, a beep detector that heard a voicemail beep ([`HostDetection`]).
//! 2. Otherwise, with `machine-detection` on, the module's own judgement: the first
//!    seconds are recorded (the recording stops early when the line goes quiet: a person
//!    who said "hello?" and waits), the cadence [`super::detector`] judges them, and when
//!    that does not say machine and a whisper model is loaded, the transcript's phrases
//!    may still (a short "Leave a message." has a person's cadence). The model runs on
//!    another thread while the greeting plays; without a greeting the agent's connection
//!    waits for it (seconds: tiny.en took 6 s on a 2 s clip on 2 busy cores).
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
    /// Hands `verdict` to the agent's side, then ends the leg (the agent is then not
    /// connected). In that order: the agent's bridge returns as soon as the leg is gone,
    /// and reads the verdict then, while the thread running the check may still be going.
    fn hang_up(&mut self, verdict: Verdict);
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
    let heard = listen(cfg, line, scratch);
    let verdict = std::thread::scope(|scope| {
        // The phrases are read on another thread while the greeting plays: the model's
        // time is then spent while the customer listens, not added to it.
        let phrases = match (&heard, engine) {
            (Heard::NoMachine { recorded: true }, Some(e)) => Some(scope.spawn(move || {
                e.transcribe_file(scratch)
                    .ok()
                    .and_then(|t| machine_phrase(&t.text))
            })),
            _ => None,
        };
        let greeted = match &heard {
            Heard::Machine(_) => Greeted::Skipped,
            Heard::NoMachine { .. } => greet(cfg, line),
        };
        let said = phrases.and_then(|p| p.join().ok().flatten());
        decide(cfg, line, heard, said, greeted, scratch)
    });
    let _ = std::fs::remove_file(scratch);
    verdict
}

/// What the first seconds told.
enum Heard {
    Machine(String),
    /// Not a machine by the server's detector or the cadence; `recorded`: the first
    /// seconds are in the scratch file for the phrases.
    NoMachine {
        recorded: bool,
    },
}

/// How the greeting went.
enum Greeted {
    Skipped,
    /// None configured, or played without a key to ask.
    Played,
    Pressed(char),
    /// The customer hung up meanwhile.
    HungUp,
    /// Nothing, or another key, within the time.
    NoKey(&'static str, char),
}

fn decide(
    cfg: &QueueAnswer,
    line: &mut dyn CustomerLine,
    heard: Heard,
    said: Option<&'static str>,
    greeted: Greeted,
    scratch: &Path,
) -> (Verdict, String) {
    if !line.alive() {
        // Gone already: the bridge fails on its own and the hang-up classifies it.
        return (
            Verdict::Human,
            "the customer hung up during the check".into(),
        );
    }
    let machine = match heard {
        Heard::Machine(why) => Some(why),
        Heard::NoMachine { .. } => said.map(|p| format!("the greeting said \"{p}\"")),
    };
    if let Some(why) = machine {
        return on_machine(cfg, line, why, scratch);
    }
    match greeted {
        Greeted::NoKey(what, key) => {
            line.hang_up(Verdict::NoKey);
            (
                Verdict::NoKey,
                format!("{what} after the greeting (expected {key})"),
            )
        }
        Greeted::Pressed(key) => (Verdict::Human, format!("the customer pressed {key}")),
        Greeted::HungUp => (
            Verdict::Human,
            "the customer hung up during the greeting".into(),
        ),
        Greeted::Played => (Verdict::Human, "a person answered; greeted".into()),
        Greeted::Skipped => (Verdict::Human, "a person answered".into()),
    }
}

/// The queue's `on-machine` for a machine found for `why`.
fn on_machine(
    cfg: &QueueAnswer,
    line: &mut dyn CustomerLine,
    why: String,
    scratch: &Path,
) -> (Verdict, String) {
    match cfg.on_machine {
        OnMachine::Agent => (Verdict::Human, format!("{why}; handed to the agent")),
        OnMachine::Retry => {
            line.hang_up(Verdict::Machine);
            (Verdict::Machine, why)
        }
        OnMachine::Message => {
            let Some(message) = cfg.message.clone() else {
                line.hang_up(Verdict::Machine);
                return (Verdict::Machine, format!("{why}; no message configured"));
            };
            wait_for_beep(line, scratch);
            let played = line.play(&[Prompt::File(message)]);
            line.hang_up(if played {
                Verdict::MessageLeft
            } else {
                Verdict::Machine
            });
            if played {
                (Verdict::MessageLeft, format!("{why}; message left"))
            } else {
                (
                    Verdict::Machine,
                    format!("{why}; hung up before the message"),
                )
            }
        }
    }
}

/// The greeting, and its key when one is configured.
fn greet(cfg: &QueueAnswer, line: &mut dyn CustomerLine) -> Greeted {
    let Some(greeting) = cfg.greeting.clone() else {
        return Greeted::Skipped;
    };
    let Some(key) = cfg.greeting_key else {
        line.play(&[Prompt::File(greeting)]);
        return Greeted::Played;
    };
    let ask = Ask::key(cfg.greeting_key_secs.saturating_mul(1000));
    match line.ask(&[Prompt::File(greeting)], &ask) {
        Answer::Digits(k) if k.chars().eq(std::iter::once(key)) => Greeted::Pressed(key),
        Answer::HungUp => Greeted::HungUp,
        Answer::Digits(_) => Greeted::NoKey("another key", key),
        Answer::Nothing => Greeted::NoKey("no key", key),
    }
}

/// The server's detector, then (with `machine-detection`) the cadence of the first seconds.
fn listen(cfg: &QueueAnswer, line: &mut dyn CustomerLine, scratch: &Path) -> Heard {
    let server = || Heard::Machine("the telephony server's detector said machine".into());
    if line.host_detection().says_machine() {
        return server();
    }
    if !cfg.detect {
        return Heard::NoMachine { recorded: false };
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
        return server();
    }
    let Some(samples) = read_pcm(scratch) else {
        return Heard::NoMachine { recorded: false };
    };
    let cadence = Cadence {
        window_ms: cfg.listen_secs.saturating_mul(1000),
        ..Cadence::default()
    };
    let d = judge(&samples, &cadence);
    match d.judgement {
        Judgement::Machine => {
            Heard::Machine(format!("a greeting ran on ({} ms heard)", d.after_ms))
        }
        // A short greeting ("Leave a message.") has a person's cadence: the phrases
        // may still tell.
        Judgement::Human | Judgement::Unsure => Heard::NoMachine { recorded: true },
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
