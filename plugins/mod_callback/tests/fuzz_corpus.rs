//! Every input of the module's fuzz corpora (fixtures/fuzz/{capture,command}, crashes found
//! by the fuzzer included once fixed) replayed through the fuzz targets' own bodies
//! (tests/fuzz/entries/plugin.rs): no panic, every call ends OK with an id or ERR with a
//! reason, every `callback` reply is `+OK`/`-ERR` or JSON with `ok`.

#[path = "../../../tests/fuzz/entries/plugin.rs"]
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
        .join("../../fixtures/fuzz")
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
fn capture_arguments_corpus() {
    // callback_capture arguments: parsed, run on a call against a real store, OK or ERR with a reason.
    replay("capture", entries::capture);
}

#[test]
fn command_lines_corpus() {
    // callback lines: parsed and executed with and without the module running, +OK/-ERR or JSON.
    replay("command", entries::command);
}
