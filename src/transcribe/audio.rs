//! A recorded WAV turned into what whisper eats: 16 kHz mono `f32`, silence trimmed,
//! with the limits checked from the header before any sample is read (a runaway recording
//! must not be pulled into memory just to be refused).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use std::path::Path;

/// The only rate whisper accepts.
pub const WHISPER_RATE: u32 = 16_000;

/// Why a recording cannot be transcribed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable WAV file: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path}: unsupported WAV format: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("{path}: the file holds no audio")]
    Empty { path: String },
    #[error("{path}: {seconds:.1} s of audio is longer than the limit of {limit_seconds} s")]
    TooLong {
        path: String,
        seconds: f64,
        limit_seconds: u32,
    },
    #[error("{path}: only {speech_ms} ms of sound above silence, at least {min_ms} ms needed")]
    TooShort {
        path: String,
        speech_ms: u64,
        min_ms: u32,
    },
    #[error("{path}: resampling from {rate} Hz failed: {reason}")]
    Resample {
        path: String,
        rate: u32,
        reason: String,
    },
}

impl AudioError {
    /// A missing or unopenable file may still be being written by the recorder; everything
    /// else is a property of the file and will not change by trying again.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, AudioError::Open { .. })
    }
}

/// What a recording may be, and how it is cleaned up.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioLimits {
    /// Longest recording accepted, in seconds (checked from the WAV header).
    pub max_seconds: u32,
    /// Over-long recordings: keep the first `max_seconds` instead of refusing. The reason for
    /// a callback is nearly always said first.
    pub truncate_long: bool,
    /// Less sound than this after trimming is refused: whisper invents text for near-silence.
    pub min_speech_ms: u32,
    /// RMS (full scale = 1.0) below which a 20 ms frame counts as silence when trimming.
    pub silence_rms: f32,
    /// Audio kept either side of the sound when trimming, so soft word edges survive.
    pub trim_margin_ms: u32,
    /// Scale the trimmed audio so its peak reaches this level (0 = leave as recorded).
    pub normalize_peak: f32,
    /// Scale the trimmed audio so its RMS reaches this level (0 = leave as recorded);
    /// applied after `normalize_peak`, clipped at full scale.
    pub normalize_rms: f32,
    /// Voice activity: speech rises and falls with its syllables; a recording whose loud
    /// 20 ms frames stay within this many dB of each other (the 10th to the 90th
    /// percentile) is a steady hiss, hum or tone, not a voice. 0 = no check.
    pub min_level_spread_db: f32,
    /// First-order pre-emphasis `y[n] = x[n] - a x[n-1]` on the 16 kHz audio (0 = none).
    /// Off: alone, 0.9 measured the same as none (WER 0.340 on the bench's tuning half);
    /// it pays as the engine's second view instead (`EngineConfig::second_view_emphasis`).
    pub pre_emphasis: f32,
    /// Digital silence added at each end of the trimmed audio, in ms. 0: 500 ms lost on
    /// the tuning half (0.366 against 0.340).
    pub pad_ms: u32,
    /// Play the audio this many times slower (1.0 = as recorded; 1.1 = 10 % slower and
    /// lower), by resampling to `16 kHz x stretch` and reading it as 16 kHz. 1.0: 1.1 was
    /// worse on every clip it changed in the first nine of the tuning half.
    pub stretch: f32,
}

impl Default for AudioLimits {
    fn default() -> Self {
        Self {
            max_seconds: 120,
            truncate_long: false,
            min_speech_ms: 300,
            // About -46 dBFS: above line hiss, well below quiet speech.
            silence_rms: 0.005,
            // 500 ms either side: WER 0.344 on the 52-clip set, against 0.378 at 200 ms and
            // 0.346 at 1000 ms (whisper mishears the first word when it starts the audio).
            trim_margin_ms: 500,
            normalize_peak: 0.0,
            normalize_rms: 0.0,
            // Measured on fixtures/speech: speech clips spread 25 dB and more, with line
            // noise too; hiss and a dial tone under 2 dB.
            min_level_spread_db: 6.0,
            pre_emphasis: 0.0,
            pad_ms: 0,
            stretch: 1.0,
        }
    }
}

/// A recording ready for whisper.
#[derive(Debug, Clone)]
pub struct Audio {
    /// 16 kHz mono, trimmed.
    pub samples: Vec<f32>,
    pub source_rate: u32,
    pub source_channels: u16,
    /// Length of the recording as stored (before truncation and trimming).
    pub source_ms: u64,
    /// True when the recording was longer than the limit and cut.
    pub truncated: bool,
    /// How far the level of the sound's 20 ms frames moves: the 90th minus the 10th
    /// percentile of their levels, in dB (see [`AudioLimits::min_level_spread_db`]).
    pub level_spread_db: f32,
    /// The spread below which the sound is taken as no voice (from the limits).
    min_level_spread_db: f32,
}

impl Audio {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(WHISPER_RATE)
    }

    /// Why this sound is not a voice, when the voice-activity check says so: a level that
    /// never moves is a steady hiss, hum or tone.
    pub fn no_voice(&self) -> Option<String> {
        (self.level_spread_db < self.min_level_spread_db).then(|| {
            format!(
                "no speech: a steady sound (its level moves {:.1} dB, speech moves {:.0} dB \
                 or more)",
                self.level_spread_db, self.min_level_spread_db
            )
        })
    }
}

/// The 90th minus the 10th percentile of the levels (dB) of the 20 ms frames of `samples`
/// louder than `silence_rms`. Silent frames are left out: a tone between pauses (a busy
/// signal, DTMF) is as steady as a continuous one.
pub fn level_spread_db(samples: &[f32], rate: u32, silence_rms: f32) -> f32 {
    let frame = (rate * FRAME_MS / 1000).max(1) as usize;
    let floor = silence_rms * silence_rms;
    let mut levels: Vec<f32> = samples
        .chunks_exact(frame)
        .map(|c| c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32)
        .filter(|energy| *energy > floor)
        .map(|energy| 10.0 * (energy + 1e-10).log10())
        .collect();
    if levels.len() < 2 {
        return 0.0;
    }
    levels.sort_by(f32::total_cmp);
    let at = |q: f32| levels[((levels.len() - 1) as f32 * q).round() as usize];
    at(0.9) - at(0.1)
}

const FRAME_MS: u32 = 20;

/// Reads `path` and converts it: decode, downmix, check limits, trim, resample.
pub fn load_wav(path: &Path, limits: &AudioLimits) -> Result<Audio, AudioError> {
    let name = path.display().to_string();
    // Opened apart from the WAV parse: only a failure to open may be transient.
    let file = std::fs::File::open(path).map_err(|source| AudioError::Open {
        path: name.clone(),
        source,
    })?;
    let reader =
        hound::WavReader::new(std::io::BufReader::new(file)).map_err(|e| AudioError::Corrupt {
            path: name.clone(),
            reason: e.to_string(),
        })?;
    let spec = reader.spec();
    // Telephone 8 kHz up to studio 192 kHz; anything else is a broken header, and an
    // absurd rate would turn the length limit into an absurd allocation.
    if spec.channels == 0 || !(4_000..=192_000).contains(&spec.sample_rate) {
        return Err(AudioError::Unsupported {
            path: name,
            reason: format!("{} channels at {} Hz", spec.channels, spec.sample_rate),
        });
    }
    // The header's data length, in frames: known before reading a sample.
    let frames = u64::from(reader.duration());
    let rate = u64::from(spec.sample_rate);
    if frames == 0 {
        return Err(AudioError::Empty { path: name });
    }
    let max_frames = u64::from(limits.max_seconds) * rate;
    let truncated = frames > max_frames;
    if truncated && !limits.truncate_long {
        return Err(AudioError::TooLong {
            path: name,
            seconds: frames as f64 / rate as f64,
            limit_seconds: limits.max_seconds,
        });
    }
    let keep_frames = frames.min(max_frames);
    let mono = decode_mono(reader, keep_frames, &name)?;
    if mono.is_empty() {
        return Err(AudioError::Empty { path: name });
    }
    let (start, end) = trim_silence(
        &mono,
        spec.sample_rate,
        limits.silence_rms,
        limits.trim_margin_ms,
    );
    let speech_ms = (end - start) as u64 * 1000 / rate;
    if speech_ms < u64::from(limits.min_speech_ms) {
        return Err(AudioError::TooShort {
            path: name,
            speech_ms,
            min_ms: limits.min_speech_ms,
        });
    }
    let level_spread = level_spread_db(&mono[start..end], spec.sample_rate, limits.silence_rms);
    let target = if limits.stretch > 0.0 && (limits.stretch - 1.0).abs() > 1e-3 {
        (WHISPER_RATE as f32 * limits.stretch).round() as u32
    } else {
        WHISPER_RATE
    };
    let mut samples =
        resample_to(&mono[start..end], spec.sample_rate, target).map_err(|reason| {
            AudioError::Resample {
                path: name.clone(),
                rate: spec.sample_rate,
                reason,
            }
        })?;
    normalize(&mut samples, limits.normalize_peak);
    normalize_rms(&mut samples, limits.normalize_rms);
    pre_emphasise(&mut samples, limits.pre_emphasis);
    if limits.pad_ms > 0 {
        let pad = (WHISPER_RATE * limits.pad_ms / 1000) as usize;
        let mut padded = vec![0.0; pad];
        padded.extend_from_slice(&samples);
        padded.resize(padded.len() + pad, 0.0);
        samples = padded;
    }
    Ok(Audio {
        samples,
        source_rate: spec.sample_rate,
        source_channels: spec.channels,
        source_ms: frames * 1000 / rate,
        truncated,
        level_spread_db: level_spread,
        min_level_spread_db: limits.min_level_spread_db,
    })
}

/// Decodes at most `frames` frames and averages the channels. Reads sample by sample so
/// memory is bounded by the mono output, never by the file.
fn decode_mono<R: std::io::Read>(
    mut reader: hound::WavReader<R>,
    frames: u64,
    name: &str,
) -> Result<Vec<f32>, AudioError> {
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let frames = usize::try_from(frames).unwrap_or(usize::MAX);
    // Reserve for what the header promises only up to ~1 min at 48 kHz: a header may lie
    // about its length, and the data actually read grows the vector anyway.
    let mut mono = Vec::with_capacity(frames.min(1 << 22));
    let corrupt = |e: hound::Error| AudioError::Corrupt {
        path: name.to_string(),
        reason: e.to_string(),
    };
    let take = frames.saturating_mul(channels);
    let mut acc = 0.0f32;
    let mut n = 0usize;
    let mut push = |v: f32| {
        acc += v;
        n += 1;
        if n == channels {
            mono.push(acc / channels as f32);
            acc = 0.0;
            n = 0;
        }
    };
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for s in reader.samples::<f32>().take(take) {
                let v = s.map_err(corrupt)?;
                // NaN or infinity would reach whisper as is (found by fuzzing); beyond full
                // scale is clipping, and clamped so the channel sum stays finite.
                if !v.is_finite() {
                    return Err(AudioError::Corrupt {
                        path: name.to_string(),
                        reason: "a float sample is not a number (NaN or infinity)".into(),
                    });
                }
                push(v.clamp(-1.0, 1.0));
            }
        }
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            for s in reader.samples::<i32>().take(take) {
                push(s.map_err(corrupt)? as f32 * scale);
            }
        }
        (format, bits) => {
            return Err(AudioError::Unsupported {
                path: name.to_string(),
                reason: format!("{bits}-bit {format:?} samples"),
            })
        }
    }
    Ok(mono)
}

/// The `[start, end)` sample range between the first and last non-silent 20 ms frame, with
/// a margin either side. All silence gives an empty range.
pub fn trim_silence(
    samples: &[f32],
    rate: u32,
    silence_rms: f32,
    margin_ms: u32,
) -> (usize, usize) {
    let frame = (rate * FRAME_MS / 1000).max(1) as usize;
    let loud = |chunk: &[f32]| {
        let energy: f32 = chunk.iter().map(|s| s * s).sum::<f32>() / chunk.len() as f32;
        energy.sqrt() > silence_rms
    };
    let chunks: Vec<&[f32]> = samples.chunks(frame).collect();
    let Some(first) = chunks.iter().position(|c| loud(c)) else {
        return (0, 0);
    };
    let last = chunks.iter().rposition(|c| loud(c)).unwrap_or(first);
    let margin = (u64::from(rate) * u64::from(margin_ms) / 1000) as usize;
    let start = (first * frame).saturating_sub(margin);
    let end = ((last + 1) * frame + margin).min(samples.len());
    (start, end)
}

/// Converts mono audio at `rate` to 16 kHz. Synchronous FFT resampling: the ratio is fixed,
/// and it is both the fastest and the cleanest of rubato's converters for whole clips.
pub fn resample(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    resample_to(mono, rate, WHISPER_RATE)
}

fn resample_to(mono: &[f32], rate: u32, target: u32) -> Result<Vec<f32>, String> {
    if rate == target {
        return Ok(mono.to_vec());
    }
    let mut fft = Fft::<f32>::new(rate as usize, target as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| e.to_string())?;
    let out = fft
        .process_all(&input, mono.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Scales so the peak is `target` (no-op for 0 or silence). Quiet phone recordings decode
/// to small floats; whisper's log-mel is fairly level-invariant, so this is an option, not
/// the default, and is kept only if it measurably helps.
pub fn normalize(samples: &mut [f32], target: f32) {
    if target <= 0.0 {
        return;
    }
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 1e-6 {
        let gain = target / peak;
        samples.iter_mut().for_each(|s| *s *= gain);
    }
}

/// `y[n] = x[n] - a x[n-1]` in place (no-op for 0).
pub fn pre_emphasise(samples: &mut [f32], a: f32) {
    if a <= 0.0 {
        return;
    }
    let mut prev = 0.0;
    for s in samples.iter_mut() {
        let x = *s;
        *s = x - a * prev;
        prev = x;
    }
}

/// Keeps `low_hz` to `high_hz` of `samples` (at `rate`) in place: a second-order
/// Butterworth high-pass, then low-pass. A band outside `(0, rate / 2)` is left alone.
pub fn band_limit(samples: &mut [f32], rate: u32, low_hz: f32, high_hz: f32) {
    use biquad::{Biquad, Coefficients, DirectForm1, ToHertz, Type, Q_BUTTERWORTH_F32};
    let fs = (rate as f32).hz();
    for (kind, f0) in [(Type::HighPass, low_hz), (Type::LowPass, high_hz)] {
        // `from_params` refuses a cut-off at or past Nyquist; nothing to filter then.
        let Ok(coeffs) = Coefficients::<f32>::from_params(kind, fs, f0.hz(), Q_BUTTERWORTH_F32)
        else {
            continue;
        };
        let mut filter = DirectForm1::<f32>::new(coeffs);
        samples.iter_mut().for_each(|s| *s = filter.run(*s));
    }
}

/// Scales so the RMS is `target` (no-op for 0 or silence), clipping at full scale.
pub fn normalize_rms(samples: &mut [f32], target: f32) {
    if target <= 0.0 || samples.is_empty() {
        return;
    }
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    if rms > 1e-6 {
        let gain = target / rms;
        samples
            .iter_mut()
            .for_each(|s| *s = (*s * gain).clamp(-1.0, 1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }

    fn tone(rate: u32, ms: u32, amp: f32) -> Vec<i16> {
        (0..rate * ms / 1000)
            .map(|i| {
                let t = i as f32 / rate as f32;
                ((t * 440.0 * std::f32::consts::TAU).sin() * amp * 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn stereo_44k_becomes_16k_mono_with_silence_trimmed() {
        // A 44.1 kHz stereo file with 1 s of silence either side of 1 s of tone.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let mut mono = vec![0i16; 44_100];
        mono.extend(tone(44_100, 1000, 0.5));
        mono.extend(vec![0i16; 44_100]);
        let stereo: Vec<i16> = mono.iter().flat_map(|s| [*s, *s]).collect();
        write_wav(&p, 44_100, 2, &stereo);
        let a = load_wav(&p, &AudioLimits::default()).unwrap();
        assert_eq!(a.source_rate, 44_100);
        assert_eq!(a.source_channels, 2);
        assert_eq!(a.source_ms, 3000);
        // 1 s of tone plus the 2 x 500 ms margins, give or take a frame.
        let ms = a.duration_ms() as i64;
        assert!((ms - 2000).abs() <= 30, "{ms} ms");
    }

    #[test]
    fn over_long_refused_from_header_or_truncated() {
        // A 3 s file against a 2 s limit: refused, or cut to 2 s when truncation is on.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.wav");
        write_wav(&p, 8000, 1, &tone(8000, 3000, 0.5));
        let mut limits = AudioLimits {
            max_seconds: 2,
            ..AudioLimits::default()
        };
        let err = load_wav(&p, &limits).unwrap_err();
        assert!(matches!(err, AudioError::TooLong { .. }), "{err}");
        assert!(err.is_permanent());
        limits.truncate_long = true;
        let a = load_wav(&p, &limits).unwrap();
        assert!(a.truncated);
        assert!(a.duration_ms() <= 2000, "{}", a.duration_ms());
    }

    #[test]
    fn float_samples_that_are_not_numbers_are_refused() {
        // A float WAV with a NaN or an infinity (found by fuzzing) is refused, naming the
        // file; loud samples beyond full scale are clipped, never summed to infinity.
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, channels: u16, samples: &[f32]| {
            let p = dir.path().join(name);
            let spec = hound::WavSpec {
                channels,
                sample_rate: 8000,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            };
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            for s in samples {
                w.write_sample(*s).unwrap();
            }
            w.finalize().unwrap();
            p
        };
        let tone: Vec<f32> = tone(8000, 1000, 0.5)
            .into_iter()
            .map(|s| f32::from(s) / 32768.0)
            .collect();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut samples = tone.clone();
            samples[4000] = bad;
            let p = write("bad.wav", 1, &samples);
            let err = load_wav(&p, &AudioLimits::default()).unwrap_err();
            assert!(matches!(err, AudioError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("bad.wav"), "{err}");
            assert!(err.is_permanent());
        }
        let loud: Vec<f32> = tone.iter().flat_map(|s| [s * 1e38, s * 1e38]).collect();
        let a = load_wav(&write("loud.wav", 2, &loud), &AudioLimits::default()).unwrap();
        // Clipped to full scale; resampling a clipped wave rings a little beyond it.
        assert!(a.samples.iter().all(|s| s.is_finite() && s.abs() < 2.0));
    }

    #[test]
    fn silence_only_is_too_short() {
        // A file of digital silence has no sound to transcribe.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("quiet.wav");
        write_wav(&p, 8000, 1, &vec![0i16; 16_000]);
        let err = load_wav(&p, &AudioLimits::default()).unwrap_err();
        assert!(
            matches!(err, AudioError::TooShort { speech_ms: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_retryable_garbage_is_not() {
        // A file not there yet may appear; a file that is not a WAV never becomes one.
        let dir = tempfile::tempdir().unwrap();
        let missing = load_wav(&dir.path().join("nope.wav"), &AudioLimits::default());
        assert!(!missing.unwrap_err().is_permanent());
        let p = dir.path().join("junk.wav");
        std::fs::write(&p, b"this is not a wav file at all").unwrap();
        let err = load_wav(&p, &AudioLimits::default()).unwrap_err();
        assert!(matches!(err, AudioError::Corrupt { .. }), "{err}");
        assert!(err.is_permanent());
    }

    #[test]
    fn header_only_wav_is_empty_and_absurd_rate_unsupported() {
        // A WAV with no samples is refused as empty; a 1 Hz header as unsupported.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.wav");
        write_wav(&p, 8000, 1, &[]);
        let err = load_wav(&p, &AudioLimits::default()).unwrap_err();
        assert!(matches!(err, AudioError::Empty { .. }), "{err}");
        let p = dir.path().join("onehz.wav");
        write_wav(&p, 1, 1, &[1, 2, 3]);
        let err = load_wav(&p, &AudioLimits::default()).unwrap_err();
        assert!(matches!(err, AudioError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn steady_sounds_have_no_level_spread_syllables_do() {
        // A tone, a tone between pauses (a busy signal) and a hiss barely move in level;
        // a tone rising and falling four times a second (syllables) moves tens of dB.
        let rate = 8000;
        let f =
            |s: Vec<i16>| -> Vec<f32> { s.into_iter().map(|v| f32::from(v) / 32768.0).collect() };
        let steady = f(tone(rate, 2000, 0.3));
        assert!(level_spread_db(&steady, rate, 0.005) < 1.0);
        let mut busy = Vec::new();
        for _ in 0..4 {
            busy.extend(f(tone(rate, 500, 0.3)));
            busy.extend(vec![0.0; 4000]);
        }
        assert!(level_spread_db(&busy, rate, 0.005) < 1.0);
        let mut seed = 7u32;
        let hiss: Vec<f32> = (0..16_000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 * 0.2 - 0.1
            })
            .collect();
        assert!(level_spread_db(&hiss, rate, 0.005) < 3.0);
        let syllables: Vec<f32> = steady
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let env = (i as f32 / rate as f32 * 4.0 * std::f32::consts::PI)
                    .sin()
                    .abs();
                v * (0.02 + env)
            })
            .collect();
        assert!(level_spread_db(&syllables, rate, 0.005) > 10.0);
    }

    #[test]
    fn rms_normalisation_reaches_target_and_clips() {
        // Quiet audio is raised to the target RMS; silence is left alone.
        let mut s = vec![0.01, -0.01, 0.01, -0.01];
        normalize_rms(&mut s, 0.1);
        assert!((s[0] - 0.1).abs() < 1e-6);
        let mut z = vec![0.0; 4];
        normalize_rms(&mut z, 0.1);
        assert!(z.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn normalize_reaches_target_peak() {
        // Quiet audio scaled to a 0.9 peak; silence left alone.
        let mut s = vec![0.1, -0.2, 0.05];
        normalize(&mut s, 0.9);
        assert!((s[1] + 0.9).abs() < 1e-6);
        let mut z = vec![0.0; 4];
        normalize(&mut z, 0.9);
        assert!(z.iter().all(|v| *v == 0.0));
    }
}
