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

/// Every `fixtures/speech/*.wav` with the text of its `.txt`, sorted by file name.
pub fn fixtures() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("fixtures/speech is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .map(|p| {
            let text =
                std::fs::read_to_string(p.with_extension("txt")).expect("each WAV has its .txt");
            (p, text.trim().to_string())
        })
        .collect();
    out.sort();
    out
}
