//! Answering-machine bench: `cargo bench --bench amd`. Prints `name: value unit` lines.
//!
//! Over the labelled clips of `fixtures/answer` (made by its `make-clips.sh`: espeak-ng
//! voices at several speeds and pitches through the 8 kHz G.711 telephone chain; the label
//! is the file name's prefix), the module's own cadence detector
//! ([`callback_core::answer::judge`], default [`Cadence`]) as the customer-leg check runs it:
//!
//! - `amd_accuracy`: clips judged as labelled (human -> human, machine -> machine, silence
//!   and noise -> unsure, which the policy treats as a person), as a ratio of all clips;
//! - `amd_decision_ms_p50` (and `_p90`): the audio the detector needed before it decided,
//!   plus the compute time of the judgement, per clip;
//! - `amd_clips_<label>`: how many clips of each label, and `amd_correct_<label>`;
//! - `amd_machines_judged_human`, `amd_humans_judged_machine`: the two costly mistakes.
//!
//! `AMD_CLIPS=DIR` reads another directory of `<label>-*.wav` clips. `-- --verbose` lists
//! each clip's verdict.

use callback_core::answer::{judge, Cadence, Judgement};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let verbose = std::env::args().any(|a| a == "--verbose");
    let dir = std::env::var_os("AMD_CLIPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/answer"));
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    clips.sort();
    assert!(!clips.is_empty(), "no clips in {}", dir.display());
    let cadence = Cadence::default();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut decision_ms: Vec<f64> = Vec::new();
    let (mut machine_as_human, mut human_as_machine) = (0, 0);
    for path in &clips {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let label = name.split('-').next().unwrap_or_default().to_string();
        let expected = match label.as_str() {
            "human" => Judgement::Human,
            "machine" => Judgement::Machine,
            "silence" | "noise" => Judgement::Unsure,
            other => panic!("{name}: unknown label {other}"),
        };
        let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let spec = r.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (8000, 1, 16),
            "{name}: not 8 kHz mono 16-bit"
        );
        let samples: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        let started = Instant::now();
        let d = judge(&samples, &cadence);
        let compute_ms = started.elapsed().as_secs_f64() * 1000.0;
        decision_ms.push(f64::from(d.after_ms) + compute_ms);
        let entry = counts.entry(label.clone()).or_default();
        entry.0 += 1;
        if d.judgement == expected {
            entry.1 += 1;
        }
        if label == "machine" && d.judgement == Judgement::Human {
            machine_as_human += 1;
        }
        if label == "human" && d.judgement == Judgement::Machine {
            human_as_machine += 1;
        }
        if verbose {
            eprintln!("{name}: {} after {} ms", d.judgement.as_str(), d.after_ms);
        }
    }
    let total: usize = counts.values().map(|c| c.0).sum();
    let correct: usize = counts.values().map(|c| c.1).sum();
    decision_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| decision_ms[((decision_ms.len() - 1) as f64 * p).round() as usize];
    println!("amd_accuracy: {:.3} ratio", correct as f64 / total as f64);
    println!("amd_decision_ms_p50: {:.0} ms", pct(0.5));
    println!("amd_decision_ms_p90: {:.0} ms", pct(0.9));
    for (label, (n, ok)) in &counts {
        println!("amd_clips_{label}: {n} clips");
        println!("amd_correct_{label}: {ok} clips");
    }
    println!("amd_machines_judged_human: {machine_as_human} clips");
    println!("amd_humans_judged_machine: {human_as_machine} clips");
}
