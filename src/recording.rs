//! Recordings of what callers said: WAV files under one configured directory, with names
//! the server makes. A path never comes from a caller or a channel variable as is: the IVR
//! asks [`RecordingDir::fresh`] for one, and a file a dialplan recorded itself is only
//! accepted from inside the directory and then renamed to a server-made name
//! ([`RecordingDir::adopt`]).

use crate::model::Recording;
use chrono::{DateTime, Utc};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a recording cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("recording {0} is outside the recordings directory")]
    Outside(String),
    #[error("recording {0} is not a regular file")]
    NotAFile(String),
    #[error("recording {path} is not a readable WAV file: {reason}")]
    NotWav { path: String, reason: String },
    #[error("recording {0} holds no audio")]
    Empty(String),
}

impl RecordingError {
    /// What is wrong, without the file's path (for a caller or client; the log keeps the
    /// path).
    pub fn reason(&self) -> String {
        match self {
            RecordingError::Io { source, .. } => format!("cannot be read ({})", source.kind()),
            RecordingError::Outside(_) => "it is outside the recordings directory".into(),
            RecordingError::NotAFile(_) => "it is not a regular file".into(),
            RecordingError::NotWav { reason, .. } => format!("not a readable WAV file: {reason}"),
            RecordingError::Empty(_) => "it holds no audio".into(),
        }
    }
}

/// The recordings directory.
#[derive(Debug, Clone)]
pub struct RecordingDir {
    root: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A random 64-bit token (std's per-process random hash keys; no extra crate).
fn random_token() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

impl RecordingDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new, unused path `root/YYYY/MM/DD/cb-YYYYmmddTHHMMSS-<random>.wav`; the day's
    /// directory is created. Names come from the clock and a random token only.
    pub fn fresh(&self, now: DateTime<Utc>) -> Result<PathBuf, RecordingError> {
        let dir = self.root.join(now.format("%Y/%m/%d").to_string());
        std::fs::create_dir_all(&dir).map_err(|source| RecordingError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        loop {
            let name = format!(
                "cb-{}-{:016x}.wav",
                now.format("%Y%m%dT%H%M%S"),
                random_token()
            );
            let path = dir.join(name);
            if !path.exists() {
                return Ok(path);
            }
        }
    }

    /// Takes over a file a dialplan recorded itself: it must resolve (after symlinks) to a
    /// regular file inside the directory and be a WAV with audio; it is then renamed to a
    /// server-made name. Returns the recording as stored.
    pub fn adopt(&self, given: &str, now: DateTime<Utc>) -> Result<Recording, RecordingError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| RecordingError::Io { path, source }
        };
        let root = self.root.canonicalize().map_err(io(&self.root))?;
        let real = Path::new(given)
            .canonicalize()
            .map_err(io(Path::new(given)))?;
        if !real.starts_with(&root) {
            return Err(RecordingError::Outside(given.to_string()));
        }
        if !real.metadata().map_err(io(&real))?.is_file() {
            return Err(RecordingError::NotAFile(given.to_string()));
        }
        inspect(&real)?;
        let target = self.fresh(now)?;
        std::fs::rename(&real, &target).map_err(io(&real))?;
        inspect(&target)
    }
}

/// Reads a WAV file's header: duration and sample rate, refusing files that are not WAV
/// or hold no audio.
pub fn inspect(path: &Path) -> Result<Recording, RecordingError> {
    let shown = path.display().to_string();
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        // A file that ends inside its header is a broken WAV (an empty upload, a cut-off
        // copy), not a fault of the disk.
        // (hound says a short read as `Other`, "Failed to read enough bytes".)
        hound::Error::IoError(source)
            if matches!(
                source.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
            ) =>
        {
            RecordingError::NotWav {
                path: shown.clone(),
                reason: "the file ends inside its WAV header (empty or cut short)".into(),
            }
        }
        hound::Error::IoError(source) => RecordingError::Io {
            path: shown.clone(),
            source,
        },
        other => RecordingError::NotWav {
            path: shown.clone(),
            reason: other.to_string(),
        },
    })?;
    let spec = reader.spec();
    let frames = u64::from(reader.duration());
    if frames == 0 || spec.sample_rate == 0 {
        return Err(RecordingError::Empty(shown));
    }
    // A header that declares audio with no byte of it after the header holds no audio.
    let header_end = {
        use std::io::Seek;
        let mut inner = reader.into_inner();
        inner.stream_position().ok()
    };
    let file_len = std::fs::metadata(path).map(|m| m.len()).ok();
    if let (Some(end), Some(len)) = (header_end, file_len) {
        if len <= end {
            return Err(RecordingError::Empty(shown));
        }
    }
    let ms = frames * 1000 / u64::from(spec.sample_rate);
    Ok(Recording {
        path: shown,
        duration_ms: u32::try_from(ms).unwrap_or(u32::MAX),
        sample_rate: spec.sample_rate,
    })
}

/// How much of a WAV file is voice: the milliseconds of 20 ms frames whose mean absolute
/// amplitude (16-bit scale) reaches `threshold` (FreeSWITCH's `record` silence threshold
/// uses the same scale; 200 is its usual value). A file of silence or line noise gives 0.
pub fn voiced_ms(path: &Path, threshold: u32) -> Result<u32, RecordingError> {
    let shown = path.display().to_string();
    let not_wav = |e: hound::Error| RecordingError::NotWav {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let mut reader = hound::WavReader::open(path).map_err(not_wav)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let frame = (spec.sample_rate as usize / 50).max(1) * channels;
    let scale = |v: f32| v.abs();
    let levels: Box<dyn Iterator<Item = Result<f32, hound::Error>>> =
        match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, _) => Box::new(
                reader
                    .samples::<f32>()
                    .map(|s| s.map(|v| scale(v) * 32768.0)),
            ),
            (hound::SampleFormat::Int, bits) => {
                let shift = i32::from(bits).saturating_sub(16);
                Box::new(reader.samples::<i32>().map(move |s| {
                    s.map(|v| {
                        let v = if shift >= 0 { v >> shift } else { v << -shift };
                        scale(v as f32)
                    })
                }))
            }
        };
    let (mut voiced, mut sum, mut n) = (0u64, 0f32, 0usize);
    for level in levels {
        sum += level.map_err(not_wav)?;
        n += 1;
        if n == frame {
            if sum / n as f32 >= threshold as f32 {
                voiced += 20;
            }
            sum = 0.0;
            n = 0;
        }
    }
    Ok(u32::try_from(voiced).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn wav(path: &Path, samples: u32) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..samples {
            w.write_sample((i % 100) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 15, 4, 5).unwrap()
    }

    #[test]
    fn fresh_names_are_dated_unique_and_inside_the_directory() {
        // Two fresh paths differ, live under root/YYYY/MM/DD and end in .wav.
        let dir = tempfile::tempdir().unwrap();
        let rd = RecordingDir::new(dir.path());
        let a = rd.fresh(now()).unwrap();
        let b = rd.fresh(now()).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(dir.path().join("2026/11/21")));
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("cb-20261121T150405-") && name.ends_with(".wav"));
    }

    #[test]
    fn inspect_reads_duration_and_refuses_junk() {
        // 4000 samples at 8 kHz are 500 ms; a text file and an empty WAV are refused.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        wav(&p, 4000);
        let r = inspect(&p).unwrap();
        assert_eq!((r.duration_ms, r.sample_rate), (500, 8000));
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, "not audio").unwrap();
        assert!(matches!(inspect(&junk), Err(RecordingError::NotWav { .. })));
        let empty = dir.path().join("empty.wav");
        wav(&empty, 0);
        assert!(matches!(inspect(&empty), Err(RecordingError::Empty(_))));
    }

    #[test]
    fn voiced_time_counts_loud_frames_only() {
        // One second of silence then half a second at amplitude 1000: 500 ms voiced at
        // threshold 200, none at threshold 2000.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..12_000u32 {
            let v: i16 = if i < 8000 {
                0
            } else if i % 2 == 0 {
                1000
            } else {
                -1000
            };
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(voiced_ms(&p, 200).unwrap(), 500);
        assert_eq!(voiced_ms(&p, 2000).unwrap(), 0);
    }

    #[test]
    fn adopt_takes_only_files_inside_and_renames_them() {
        // A file inside is renamed to a server-made name; one outside (also via `..`) is
        // refused and left where it was.
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let rd = RecordingDir::new(root.path());
        let inside = root.path().join("dialplan-made.wav");
        wav(&inside, 8000);
        let r = rd.adopt(inside.to_str().unwrap(), now()).unwrap();
        assert!(!inside.exists());
        assert!(Path::new(&r.path).exists());
        assert!(r.path.contains("/2026/11/21/cb-"));
        assert_eq!(r.duration_ms, 1000);

        let outside = other.path().join("x.wav");
        wav(&outside, 8000);
        let sneaky = format!(
            "{}/../{}/x.wav",
            root.path().display(),
            other.path().file_name().unwrap().to_str().unwrap()
        );
        assert!(matches!(
            rd.adopt(outside.to_str().unwrap(), now()),
            Err(RecordingError::Outside(_))
        ));
        assert!(matches!(
            rd.adopt(&sneaky, now()),
            Err(RecordingError::Outside(_)) | Err(RecordingError::Io { .. })
        ));
        assert!(outside.exists());
        assert!(rd.adopt("/nonexistent/file.wav", now()).is_err());
    }
}
