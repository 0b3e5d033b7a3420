//! The customer-leg check's phrase judgement with the real whisper model: a short machine
//! greeting ("Please leave a message.") has a person's cadence, so only its words show it
//! is a machine; a short "hello" stays a person. The check runs on a line that plays a
//! clip of fixtures/answer/phrase as the customer's first seconds.
//!
//! Needs the model (`../shared/models/ggml-tiny.en.bin` or `$CALLBACK_WHISPER_MODEL`);
//! without it these tests skip with a printed reason, except under `CI=true`, where a
//! missing model fails them.

use callback_core::answer::{
    self, judge, Cadence, CustomerLine, HostDetection, Judgement, Verdict,
};
use callback_core::config::{OnMachine, QueueAnswer};
use callback_core::ivr::{Answer, Ask, Caller, Prompt, RecordSpec};
use callback_core::transcribe::{Engine, EngineConfig};
use std::path::{Path, PathBuf};

#[path = "support/speech.rs"]
mod speech;

/// The model, or `None` (test skipped) when it is absent outside CI.
fn engine() -> Option<Engine> {
    let p = speech::model_path();
    if p.exists() {
        return Some(Engine::new(EngineConfig {
            model_path: Some(p),
            ..EngineConfig::default()
        }));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the whisper model {} is missing", p.display());
    }
    println!("skipped: the whisper model {} is missing", p.display());
    None
}

fn clip(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/answer/phrase/{name}.wav"))
}

/// The customer's leg: its first seconds are the clip; it records what it is played.
struct ClipLine {
    clip: PathBuf,
    played: Vec<String>,
    up: bool,
    /// The verdict handed over as the leg was ended.
    handed: Option<Verdict>,
}

impl Caller for ClipLine {
    fn caller_id(&self) -> Option<String> {
        None
    }
    fn uuid(&self) -> Option<String> {
        None
    }
    fn alive(&self) -> bool {
        self.up
    }
    fn play(&mut self, prompts: &[Prompt]) -> bool {
        for p in prompts {
            if let Prompt::File(f) = p {
                self.played.push(f.clone());
            }
        }
        self.up
    }
    fn ask(&mut self, prompts: &[Prompt], _ask: &Ask) -> Answer {
        self.play(prompts);
        Answer::Nothing
    }
    fn record(&mut self, path: &Path, _spec: &RecordSpec) {
        std::fs::copy(&self.clip, path).unwrap();
    }
}

impl CustomerLine for ClipLine {
    fn host_detection(&self) -> HostDetection {
        HostDetection::default()
    }
    fn hang_up(&mut self, verdict: Verdict) {
        assert!(
            self.up,
            "the verdict is handed over while the leg is still up"
        );
        self.handed = Some(verdict);
        self.up = false;
    }
}

fn check(name: &str, engine: &Engine) -> (Verdict, ClipLine) {
    let cfg = QueueAnswer {
        detect: true,
        on_machine: OnMachine::Retry,
        ..QueueAnswer::default()
    };
    let mut line = ClipLine {
        clip: clip(name),
        played: Vec::new(),
        up: true,
        handed: None,
    };
    let scratch =
        std::env::temp_dir().join(format!("answer-phrases-{}-{name}.wav", std::process::id()));
    let (verdict, _why) = answer::run(&cfg, &mut line, Some(engine), &scratch);
    assert!(!scratch.exists(), "the first seconds' recording is removed");
    (verdict, line)
}

fn cadence_of(name: &str) -> Judgement {
    let mut r = hound::WavReader::open(clip(name)).unwrap();
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    judge(&samples, &Cadence::default()).judgement
}

#[test]
fn a_short_greeting_is_a_machine_by_its_words() {
    // The cadence calls "Please leave a message." a person; the transcript's phrase makes
    // it a machine, and the leg is hung up (on-machine=retry).
    let Some(engine) = engine() else { return };
    assert_eq!(cadence_of("short-machine"), Judgement::Human);
    let (verdict, line) = check("short-machine", &engine);
    assert_eq!(verdict, Verdict::Machine);
    assert!(!line.up);
    assert_eq!(
        line.handed,
        Some(Verdict::Machine),
        "handed over before the leg ended"
    );
}

#[test]
fn a_short_hello_stays_a_person() {
    // "Hello, who is this?" has no machine phrase: a person, the leg stays up.
    let Some(engine) = engine() else { return };
    assert_eq!(cadence_of("short-human"), Judgement::Human);
    let (verdict, line) = check("short-human", &engine);
    assert_eq!(verdict, Verdict::Human);
    assert!(line.up);
    assert_eq!(line.handed, None);
}
