//! `dialplans/make-prompts.sh`: the script an admin runs on a PBX host (espeak-ng and sox,
//! no cargo) makes every `callback/...` prompt the IVR, the agent's preview and the shipped
//! dialplans play, each a valid 8 kHz WAV, with the words the code documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` runs; outside CI a missing one skips the test (said on stderr), under
/// `CI=true` it fails (`.ci/setup` installs both).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing (bash .ci/setup installs it)"
        );
        eprintln!("skipped: {tool} is not installed (apt-get install espeak-ng sox)");
    }
    ok
}

/// Every `callback/<name>.wav` written literally in `text`.
fn literal_prompts(text: &str, into: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("callback/") {
        let tail = &rest[i + "callback/".len()..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if !name.is_empty() && tail[name.len()..].starts_with(".wav") {
            into.insert(name);
        }
        rest = tail;
    }
}

fn files_under(dir: &Path, ext: &str, into: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, ext, into);
        } else if p.extension().is_some_and(|x| x == ext) {
            into.push(p);
        }
    }
}

/// The prompts the product plays: the IVR's and the preview's lists, and every literal
/// `callback/<name>.wav` in the shipped dialplans and the IVR and agent-leg code.
fn referenced_prompts() -> BTreeMap<String, Option<&'static str>> {
    let mut names: BTreeMap<String, Option<&'static str>> = BTreeMap::new();
    for (n, text) in callback_core::ivr::PROMPTS {
        names.insert(n.to_string(), Some(*text));
    }
    for (n, text) in callback_core::dispatch::preview::AGENT_PROMPTS {
        names.insert(format!("agent-{n}"), Some(*text));
    }
    let mut literal = BTreeSet::new();
    let mut files = Vec::new();
    files_under(&root().join("dialplans"), "xml", &mut files);
    let dialplans = files.len();
    for dir in ["src/ivr", "src/dispatch", "plugins/mod_callback/src"] {
        files_under(&root().join(dir), "rs", &mut files);
    }
    for f in &files {
        literal_prompts(&std::fs::read_to_string(f).unwrap(), &mut literal);
    }
    assert!(dialplans >= 4, "the shipped dialplans were not found");
    assert!(
        literal.contains("custom-menu"),
        "custom_ivr.xml's menu prompt is referenced: {literal:?}"
    );
    for n in literal {
        names.entry(n).or_insert(None);
    }
    names
}

#[test]
fn make_prompts_makes_every_prompt_played_as_an_8khz_wav() {
    // The script, run as an admin would (sh, no cargo), writes one valid 8 kHz mono 16-bit
    // WAV with speech in it for each prompt the dialplans and the code play, saying what the
    // code's prompt list says.
    if !have("espeak-ng") || !have("sox") {
        return;
    }
    let out = std::env::temp_dir().join(format!("callback-prompts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // Run from elsewhere, with a PATH without cargo, to prove it needs no checkout or build.
    let run = Command::new("sh")
        .arg(root().join("dialplans/make-prompts.sh"))
        .arg(&out)
        .current_dir(std::env::temp_dir())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success(),
        "make-prompts.sh failed: {}{}",
        stdout,
        String::from_utf8_lossy(&run.stderr)
    );
    let said: BTreeMap<String, String> = stdout
        .lines()
        .filter_map(|l| l.split_once(".wav: "))
        .map(|(path, text)| {
            let name = path.rsplit('/').next().unwrap_or(path).to_string();
            (name, text.to_string())
        })
        .collect();
    let wanted = referenced_prompts();
    let mut missing = Vec::new();
    for (name, text) in &wanted {
        let path = out.join(format!("{name}.wav"));
        let Ok(mut wav) = hound::WavReader::open(&path) else {
            missing.push(name.clone());
            continue;
        };
        let spec = wav.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (8000, 1, 16),
            "{name}.wav"
        );
        assert_eq!(spec.sample_format, hound::SampleFormat::Int, "{name}.wav");
        let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
        assert!(samples.len() >= 1600, "{name}.wav is shorter than 0.2 s");
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 1000, "{name}.wav is silent (peak {peak})");
        if let Some(text) = text {
            assert_eq!(said.get(name).map(String::as_str), Some(*text), "{name}");
        }
    }
    assert!(
        missing.is_empty(),
        "prompts not made: {missing:?}\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn make_prompts_says_what_is_missing() {
    // Without espeak-ng on the PATH the script stops at once with one line naming the tool
    // and the package, and writes nothing.
    let out = std::env::temp_dir().join(format!("callback-prompts-none-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let empty = std::env::temp_dir().join(format!("callback-empty-path-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let run = Command::new("/bin/sh")
        .arg(root().join("dialplans/make-prompts.sh"))
        .arg(&out)
        .env("PATH", &empty)
        .output()
        .expect("sh runs");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        err.contains("espeak-ng not found") && err.contains("apt-get install espeak-ng sox"),
        "{err}"
    );
    assert!(!out.exists(), "wrote {}", out.display());
    let _ = std::fs::remove_dir_all(&empty);
}
