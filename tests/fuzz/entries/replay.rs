//! The suite's replay of a fuzz corpus, shared by the core's and the module's
//! `fuzz_corpus.rs`: every input of `fixtures/fuzz/<target>/` (sub-directories included,
//! crashes found by the fuzzer among them) through the target's own body.

use std::path::{Path, PathBuf};

/// The files of a corpus, sub-directories included, in a stable order.
fn corpus(fixtures: &Path, target: &str) -> Vec<PathBuf> {
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
    let mut files = Vec::new();
    walk(&fixtures.join("fuzz").join(target), &mut files);
    files.sort();
    files
}

/// Runs `check` on every input of `fixtures/fuzz/<target>`, and fails naming each input
/// that broke a property.
pub fn replay(fixtures: &Path, target: &str, check: fn(&[u8])) {
    let files = corpus(fixtures, target);
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
