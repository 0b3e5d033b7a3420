//! Every input of the core's fuzz corpora (fixtures/fuzz/{when,config,http,wav}, crashes
//! found by the fuzzer included once fixed) replayed through the fuzz targets' own bodies
//! (tests/fuzz/entries/core.rs): no panic, every refusal says what is wrong, no 5xx.

#[path = "fuzz/entries/core.rs"]
mod entries;

use std::path::{Path, PathBuf};

/// The files of a corpus, sub-directories included, in a stable order.
fn corpus(target: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz")
        .join(target);
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
}

/// Runs `check` on every input, and fails naming each input that broke a property.
fn replay(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= 5,
        "{target}: the corpus is there ({} inputs)",
        files.len()
    );
    let broken: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).unwrap();
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(broken.is_empty(), "{target}: inputs that fail: {broken:#?}");
}

#[test]
fn time_expressions_corpus() {
    // Time expressions: parsed in three zones at three moments and planned, or refused quoting the input.
    replay("when", entries::when);
}

#[test]
fn config_corpus() {
    // callback.conf.xml: loads, or the error names where and why.
    replay("config", entries::config);
}

#[test]
fn http_bodies_corpus() {
    // JSON bodies through the real router and store: never a 5xx, every 4xx in the error shape.
    replay("http", entries::http);
}

#[test]
fn wav_corpus() {
    // WAV input: the recording checks and the transcriber's loader refuse bad files naming them.
    replay("wav", entries::wav);
}
