//! Shared by the transcription tests and bench: where the whisper model is, and the
//! fixture speech with its expected text.

use std::path::{Path, PathBuf};

/// `$CALLBACK_WHISPER_MODEL`, else the shared tiny.en beside the project.
pub fn model_path() -> PathBuf {
    std::env::var_os("CALLBACK_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/models/ggml-tiny.en.bin"
            ))
        })
}

/// `fixtures/speech/<sub>` (`""` for the top).
pub fn speech_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/speech")
        .join(sub)
}

/// Every `fixtures/speech/*.wav` with the text of its `.txt`, sorted by file name.
#[allow(dead_code)] // each user of this file uses a part of it
pub fn fixtures() -> Vec<(PathBuf, String)> {
    clips(&speech_dir(""))
}

/// Every `NAME.wav` of `dir` with the text of its `NAME.txt`, sorted by file name.
#[allow(dead_code)]
pub fn clips(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .map(|p| {
            let txt = p.with_extension("txt");
            let text = std::fs::read_to_string(&txt)
                .unwrap_or_else(|e| panic!("each WAV needs its .txt: {}: {e}", txt.display()));
            (p, text.trim().to_string())
        })
        .collect();
    out.sort();
    out
}
