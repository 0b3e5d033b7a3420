//! Transcription with the real whisper model over the 8 kHz speech fixtures.
//!
//! The model is `../shared/models/ggml-tiny.en.bin` (or `$CALLBACK_WHISPER_MODEL`). Without
//! it these tests skip with a printed reason, except under `CI=true`, where a missing
//! model is a failure. It is loaded once per test binary.

use callback_core::clock::{ManualClock, SystemClock};
use callback_core::store::{JobState, SqliteStore};
use callback_core::transcribe::audio::{self, load_wav, AudioError, AudioLimits};
use callback_core::transcribe::views::View;
use callback_core::transcribe::wer::WerTally;
use callback_core::transcribe::worker::{run_once, Step};
use callback_core::transcribe::{
    Engine, EngineConfig, EngineStatus, TagRule, TagRules, TranscribeError,
};
use callback_core::transcribe::{JobQueue, WorkerConfig, Workers};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

#[path = "support/speech.rs"]
mod speech;
use speech::{fixtures, model_path};

const THREADS: u16 = 2;

/// The model path, or `None` (test skipped) when it is absent outside CI.
fn model_or_skip(test: &str) -> Option<PathBuf> {
    let p = model_path();
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the whisper model {} is missing", p.display());
    }
    println!("{test}: skipped, whisper model {} not found", p.display());
    None
}

/// The engine defaults (greedy with temperature fallback, 500 ms trim margin, no level
/// normalisation, no prompt: see `wer_experiments` for why), with the test thread count.
pub fn tuned_config(model: PathBuf) -> EngineConfig {
    EngineConfig {
        model_path: Some(model),
        threads: THREADS,
        ..EngineConfig::default()
    }
}

/// whisper's ggml threads spin while waiting, so two model tests at once on a 2-core
/// machine run far slower than one after the other: the model tests take turns.
fn model_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| model_or_skip("engine").map(|p| Engine::new(tuned_config(p))))
        .as_ref()
}

/// whisper-rs called directly, the way its own example does, on the file converted to
/// 16 kHz with nothing else done: the baseline our pipeline must not be worse than.
fn bare_whisper(ctx: &WhisperContext, wav: &Path) -> String {
    let mut r = hound::WavReader::open(wav).unwrap();
    let rate = r.spec().sample_rate;
    let samples: Vec<f32> = r
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let samples = audio::resample(&samples, rate).unwrap();
    let mut state = ctx.create_state().unwrap();
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(i32::from(THREADS));
    params.set_language(Some("en"));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    state.full(params, &samples).unwrap();
    state
        .as_iter()
        .map(|s| s.to_str_lossy().unwrap().trim().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn pipeline_wer_no_worse_than_bare_whisper() {
    // Over the 8 kHz fixture set, our decode+resample+trim path is at least as accurate as
    // whisper-rs on the plainly upsampled files (within 0.02).
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    let ctx =
        WhisperContext::new_with_params(model_path(), WhisperContextParameters::default()).unwrap();
    let (mut ours, mut bare) = (WerTally::default(), WerTally::default());
    for (wav, expected) in fixtures() {
        let got = engine.transcribe_file(&wav).unwrap();
        let plain = bare_whisper(&ctx, &wav);
        let (w1, w2) = (ours.add(&expected, &got.text), bare.add(&expected, &plain));
        let name = wav.file_stem().unwrap().to_string_lossy().to_string();
        println!("{name}: pipeline {w1:.2} \"{}\"", got.text);
        println!("{name}: bare     {w2:.2} \"{plain}\"");
        assert!(!got.segments.is_empty());
        assert_eq!(got.language.as_deref(), Some("en"));
    }
    println!(
        "wer_pipeline: {:.3}\nwer_bare: {:.3}  ({} words)",
        ours.wer(),
        bare.wer(),
        ours.words
    );
    assert!(
        ours.wer() <= bare.wer() + 0.02,
        "pipeline WER {:.3} worse than bare {:.3}",
        ours.wer(),
        bare.wer()
    );
}

/// The engine as the module runs it with the sample `callback.conf.xml` (its decoder
/// settings, tag rules' words and `whisper-vocabulary`), this model, the test threads.
fn sample_engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let model = model_or_skip("sample_engine")?;
            let file = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("plugins/mod_callback/conf/callback.conf.xml");
            let config =
                callback_core::config::Config::from_xml(&std::fs::read_to_string(file).unwrap())
                    .unwrap();
            Some(Engine::new(EngineConfig {
                model_path: Some(model),
                threads: THREADS,
                ..config.transcribe.engine
            }))
        })
        .as_ref()
}

/// The fixed subset the suite scores (the whole set is the bench's): billing requests in
/// three voices, with and without line noise, one with a product name and a spelled
/// amount. Bare whisper-rs writes "wheel", "meal" and "will" for their "bill".
const SUBSET: [&str; 3] = ["refund", "eval/e01", "eval/e20"];

/// The pipeline's WER on [`SUBSET`] when this test was written was 0.23 (tiny.en, sample
/// configuration): a regression past this ceiling fails.
const SUBSET_WER_CEILING: f64 = 0.30;

#[test]
fn billing_words_come_through_on_a_fixed_subset_of_telephone_clips() {
    // With the sample's configuration (its tag words and products as the decoder's
    // prompt), three billing requests over the telephone are tagged intent=billing by the
    // sample's own rules, and their WER stays under the ceiling measured when written.
    let _turn = model_turn();
    let Some(engine) = sample_engine() else {
        return;
    };
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/mod_callback/conf/callback.conf.xml");
    let rules = callback_core::config::Config::from_xml(&std::fs::read_to_string(file).unwrap())
        .unwrap()
        .transcribe
        .tags;
    let mut tally = WerTally::default();
    for name in SUBSET {
        let wav = speech::speech_dir("").join(format!("{name}.wav"));
        let expected = std::fs::read_to_string(wav.with_extension("txt")).unwrap();
        let got = engine.transcribe_file(&wav).unwrap();
        let w = tally.add(&expected, &got.text);
        println!("{name}: {w:.2} {:?}", got.text);
        assert_eq!(
            rules
                .apply(&got.text)
                .tags
                .get("intent")
                .map(String::as_str),
            Some("billing"),
            "{name}: {:?}",
            got.text
        );
    }
    println!("subset WER {:.3}", tally.wer());
    assert!(
        tally.wer() <= SUBSET_WER_CEILING,
        "pipeline WER {:.3} above its ceiling {SUBSET_WER_CEILING}",
        tally.wer()
    );
}

/// The sample engine with one decode (no second or third view), for what whisper writes
/// itself.
fn one_view(engine: &Engine) -> Engine {
    Engine::new(EngineConfig {
        second_view_emphasis: 0.0,
        telephone_band: false,
        ..engine.config().clone()
    })
}

#[test]
fn a_product_name_heard_as_two_words_is_stored_as_configured() {
    // whisper writes the sample's product HomeShield as "home shield" on this telephone
    // clip; the transcript the engine returns (and the worker stores) says "HomeShield".
    let _turn = model_turn();
    let Some(engine) = sample_engine() else {
        return;
    };
    let engine = one_view(engine);
    let wav = speech::speech_dir("eval").join("e09.wav");
    let audio = load_wav(&wav, &engine.config().limits).unwrap();
    let heard: String = engine
        .decode(&audio.samples, None)
        .unwrap()
        .segments
        .iter()
        .map(|s| s.text.clone())
        .collect();
    assert!(heard.to_lowercase().contains("home shield"), "{heard:?}");
    let got = engine.transcribe_file(&wav).unwrap();
    assert!(got.text.contains("HomeShield"), "{:?}", got.text);
    assert!(
        !got.text.to_lowercase().contains("home shield"),
        "{:?}",
        got.text
    );
}

#[test]
fn the_second_view_keeps_the_decode_whisper_is_surer_of() {
    // On this clip the pre-emphasised view decodes with a higher mean log-probability
    // than the audio as recorded, and with other words: the engine returns its text.
    let _turn = model_turn();
    let Some(engine) = sample_engine() else {
        return;
    };
    assert!(engine.config().second_view_emphasis > 0.0);
    let single = one_view(engine);
    let wav = speech::speech_dir("eval").join("e09.wav");
    let samples = load_wav(&wav, &engine.config().limits).unwrap().samples;
    let prompt = engine.config().prompt();
    let plain = single
        .decode_with(&samples, None, prompt.as_deref())
        .unwrap();
    let mut emphasised = samples.clone();
    audio::pre_emphasise(&mut emphasised, engine.config().second_view_emphasis);
    let other = single
        .decode_with(&emphasised, None, prompt.as_deref())
        .unwrap();
    let text = |d: &callback_core::transcribe::Decoded| {
        d.segments
            .iter()
            .map(|s| s.text.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        other.mean_logprob > plain.mean_logprob,
        "{other:?} {plain:?}"
    );
    assert_ne!(text(&other), text(&plain));
    let got = engine.decode(&samples, None).unwrap();
    assert_eq!(text(&got), text(&other));
    let wer_plain = callback_core::transcribe::wer::wer(
        &std::fs::read_to_string(wav.with_extension("txt")).unwrap(),
        &text(&plain).join(" "),
    );
    let wer_got = callback_core::transcribe::wer::wer(
        &std::fs::read_to_string(wav.with_extension("txt")).unwrap(),
        &engine.transcribe_file(&wav).unwrap().text,
    );
    assert!(wer_got < wer_plain, "{wer_got} against {wer_plain}");
}

#[test]
fn the_telephone_band_view_is_kept_where_whisper_is_surest_of_it() {
    // On this order-number clip whisper is surer of the telephone-band decode, which hears
    // the digits that the audio as recorded turns into "44, and to", than of the
    // pre-emphasised one: the engine returns it, with fewer word errors than it gives
    // decoding the audio as recorded in its place.
    let _turn = model_turn();
    let Some(engine) = sample_engine() else {
        return;
    };
    assert!(engine.config().telephone_band);
    let two = Engine::new(EngineConfig {
        telephone_band: false,
        ..engine.config().clone()
    });
    let wav = speech::speech_dir("eval").join("e11.wav");
    let expected = std::fs::read_to_string(wav.with_extension("txt")).unwrap();
    let samples = load_wav(&wav, &engine.config().limits).unwrap().samples;
    let prompt = engine.config().prompt();
    let band = one_view(engine)
        .decode_with(
            &View::TelephoneBand.render(&samples, audio::WHISPER_RATE),
            None,
            prompt.as_deref(),
        )
        .unwrap();
    let without = two.decode(&samples, None).unwrap();
    assert!(
        band.mean_logprob > without.mean_logprob,
        "{band:?} {without:?}"
    );
    let got = engine.decode(&samples, None).unwrap();
    assert_eq!(got.text(), band.text());
    let (wer_got, wer_without) = (
        callback_core::transcribe::wer::wer(&expected, &got.text()),
        callback_core::transcribe::wer::wer(&expected, &without.text()),
    );
    assert!(wer_got < wer_without, "{wer_got} against {wer_without}");
}

#[test]
fn transcript_tags_cancel_request_and_routes_it() {
    // The cancellation fixture, transcribed for real, is tagged intent=cancel and routed to
    // retention; the billing rule and the urgency rule do not fire.
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech/cancel.wav");
    let got = engine.transcribe_file(&wav).unwrap();
    let rules = TagRules::new(vec![
        TagRule::words("intent=billing", "invoice, bill, refund, charged")
            .unwrap()
            .with_queue("billing"),
        TagRule::words("intent=cancel", "cancel, cancellation, terminate")
            .unwrap()
            .with_queue("retention"),
        TagRule::regex("urgency=high", r"\b(urgent|asap|emergency)\b")
            .unwrap()
            .with_priority(10),
    ]);
    let out = rules.apply(&got.text);
    assert_eq!(
        out.tags.get("intent").map(String::as_str),
        Some("cancel"),
        "transcript: {}",
        got.text
    );
    assert_eq!(out.queue.as_deref(), Some("retention"));
    assert!(!out.tags.contains_key("urgency"));
    assert_eq!(out.priority, None);
}

#[test]
fn restart_in_the_middle_of_a_job_resumes_it() {
    // A worker claims a job and the process dies (store dropped mid-job); after reopening
    // the database the job is claimed again once its lease lapses, and completes.
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callback.db");
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech/appointment.wav");
    let t0 = chrono::DateTime::from_timestamp(1_767_600_000, 0).unwrap();
    let cfg = WorkerConfig::default();
    {
        let store = SqliteStore::open(&db).unwrap();
        store.enqueue(9, wav.to_str().unwrap(), t0).unwrap();
        let job = store.claim_next(t0, cfg.lease).unwrap().unwrap();
        assert_eq!(job.attempts, 1);
        // Crash: no complete, no fail.
    }
    let store = SqliteStore::open(&db).unwrap();
    let clock = ManualClock::new(t0 + chrono::Duration::minutes(1));
    assert_eq!(run_once(&store, engine, &clock, &cfg).unwrap(), Step::Idle);
    clock.set(t0 + cfg.lease);
    assert!(matches!(
        run_once(&store, engine, &clock, &cfg).unwrap(),
        Step::Done(_)
    ));
    let row = store.transcription(9).unwrap().unwrap();
    assert_eq!(row.state, JobState::Done);
    assert_eq!(row.attempts, 2);
    let result = row.result.unwrap();
    assert!(
        WerTally::default().add(
            "Please call me tomorrow morning to change my appointment.",
            &result.text
        ) < 0.2,
        "{}",
        result.text
    );
    assert!(!result.segments.is_empty());
}

#[test]
fn worker_thread_transcribes_queued_jobs_and_stops() {
    // One real worker thread drains two queued recordings from SQLite; stop() joins it.
    let _turn = model_turn();
    let Some(model) = model_or_skip("worker_thread") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
    let speech = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech");
    let now = chrono::Utc::now();
    for (id, name) in [(1, "cancel.wav"), (2, "password.wav")] {
        store
            .enqueue(id, speech.join(name).to_str().unwrap(), now)
            .unwrap();
    }
    // Greedy here: this test is about the thread, not accuracy, and should stay quick.
    let mut cfg = tuned_config(model);
    cfg.beam_size = 0;
    let workers = Workers::start(
        store.clone(),
        Arc::new(Engine::new(cfg)),
        Arc::new(SystemClock),
        WorkerConfig {
            poll: std::time::Duration::from_millis(50),
            ..WorkerConfig::default()
        },
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let done = |id| {
        store
            .transcription(id)
            .unwrap()
            .is_some_and(|j| j.state == JobState::Done)
    };
    while !(done(1) && done(2)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    workers.stop();
    assert!(done(1) && done(2));
}

#[test]
fn corrupt_wav_refused_with_reason() {
    // A truncated RIFF header is refused as corrupt, permanently, naming the file.
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.wav");
    let good =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech/maria.wav"))
            .unwrap();
    std::fs::write(&p, &good[..30]).unwrap();
    let err = engine.transcribe_file(&p).unwrap_err();
    assert!(
        matches!(err, TranscribeError::Audio(AudioError::Corrupt { .. })),
        "{err}"
    );
    assert!(err.is_permanent());
    assert!(err.to_string().contains("broken.wav"), "{err}");
}

fn write_tone(path: &Path, rate: u32, ms: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..rate * ms / 1000 {
        let t = i as f32 / rate as f32;
        w.write_sample(((t * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn short_wav_is_no_speech_not_hallucinated() {
    // A 0.2 s recording is the no-speech outcome before whisper can invent words for it.
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.wav");
    write_tone(&p, 8000, 200);
    let r = engine.transcribe_file(&p).unwrap();
    assert_eq!(r.text, "");
    let why = r.no_speech.unwrap();
    assert!(why.contains("at least 300 ms"), "{why}");
}

#[test]
fn silence_noise_tones_and_music_give_no_speech() {
    // Each clip of fixtures/speech/nospeech (line hiss, white and pink noise, dial and busy
    // tones, DTMF, hold music) gives the explicit no-speech outcome and not one word, with
    // the engine's defaults and with the sample's views (telephone band, pre-emphasis).
    let _turn = model_turn();
    let (Some(plain), Some(sample)) = (engine(), sample_engine()) else {
        return;
    };
    let mut seen = Vec::new();
    for (config, engine) in [("defaults", plain), ("sample", sample)] {
        for name in [
            "silence",
            "whitenoise",
            "pinknoise",
            "dialtone",
            "busytone",
            "dtmf",
            "music",
        ] {
            let wav = speech::speech_dir("nospeech").join(format!("{name}.wav"));
            let r = engine.transcribe_file(&wav).unwrap();
            println!("{config} {name}: {:?} {:?}", r.no_speech, r.text);
            assert_eq!(r.text, "", "{config} {name}: words from no speech");
            assert!(r.segments.is_empty(), "{config} {name}");
            seen.push((config, name, r.no_speech.is_some()));
        }
    }
    assert!(seen.iter().all(|(_, _, no)| *no), "{seen:?}");
}

#[test]
fn speech_is_not_taken_for_no_speech() {
    // The no-speech checks leave real speech alone: quiet, noisy and fast clips of the
    // evaluation set are transcribed, not called silent.
    let _turn = model_turn();
    let Some(engine) = engine() else { return };
    for name in ["e04", "e18", "e20"] {
        let wav = speech::speech_dir("eval").join(format!("{name}.wav"));
        let r = engine.transcribe_file(&wav).unwrap();
        assert_eq!(r.no_speech, None, "{name}: {:?}", r.text);
        assert!(!r.text.is_empty(), "{name}");
    }
}

#[test]
fn over_long_wav_refused_from_header_without_reading_it() {
    // A header announcing one hour of 8 kHz audio (the data is not even there) is refused
    // from the header alone, so memory stays bounded whatever the file claims.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hour.wav");
    let data_len: u32 = 3600 * 8000 * 2;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&8000u32.to_le_bytes());
    h.extend_from_slice(&16000u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h.extend(std::iter::repeat_n(0u8, 1600));
    std::fs::write(&p, &h).unwrap();
    let limits = AudioLimits {
        max_seconds: 60,
        ..AudioLimits::default()
    };
    let err = load_wav(&p, &limits).unwrap_err();
    assert!(
        matches!(&err, AudioError::TooLong { seconds, limit_seconds: 60, .. } if *seconds > 3599.0),
        "{err}"
    );
    assert!(err.to_string().contains("3600.0 s"), "{err}");
}

#[test]
fn unreadable_model_leaves_transcription_off_with_reason() {
    // A model path that is not a model: no panic, the status says why, calls return errors.
    let e = Engine::new(EngineConfig {
        model_path: Some(PathBuf::from(file!())),
        ..EngineConfig::default()
    });
    assert!(e.ensure_loaded().is_err());
    let EngineStatus::Off(reason) = e.status() else {
        panic!("{:?}", e.status())
    };
    assert!(reason.contains("not a usable ggml model"), "{reason}");
}

#[test]
fn a_request_with_a_recording_wakes_the_workers_and_gets_tagged() {
    // Through the service: the request stores its recording and job together, the notify
    // wakes a worker that polls only once a minute, and the real transcript of cancel.wav
    // tags it intent=cancel, moves it to retention and fires `transcribed`.
    let _turn = model_turn();
    let Some(model) = model_or_skip("service_wakes_workers") else {
        return;
    };
    let conf = r#"<configuration name="callback.conf">
  <settings><param name="default-queue" value="support"/></settings>
  <queues>
    <queue name="support"><param name="hours" value="always"/></queue>
    <queue name="retention"><param name="hours" value="always"/></queue>
  </queues>
  <tags>
    <tag name="intent=cancel">
      <param name="words" value="cancel, cancellation"/>
      <param name="queue" value="retention"/>
    </tag>
  </tags>
</configuration>"#;
    let config = Arc::new(callback_core::config::Config::from_xml(conf).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
    let host = Arc::new(callback_core::host::Detached::default());
    let mut engine_cfg = tuned_config(model);
    engine_cfg.beam_size = 0;
    let engine = Arc::new(Engine::new(engine_cfg));
    let queue = Arc::new(callback_core::transcribe::TaggingQueue::new(
        store.clone(),
        config.transcribe.tags.clone(),
        host.clone(),
    ));
    let workers = Workers::start(
        queue,
        engine.clone(),
        Arc::new(SystemClock),
        WorkerConfig {
            poll: std::time::Duration::from_secs(60),
            ..WorkerConfig::default()
        },
    )
    .unwrap();
    // Let the worker load the model, find the queue empty and go to sleep for a minute.
    let loading = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while engine.status() != EngineStatus::Ready && std::time::Instant::now() < loading {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(engine.status(), EngineStatus::Ready);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let service = callback_core::service::CallbackService::new(
        store.clone(),
        config,
        Arc::new(SystemClock),
        host.clone(),
    )
    .with_transcription(callback_core::service::TranscriptionLink {
        engine: Some(engine),
        notifier: Some(workers.notifier()),
    });
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/speech/cancel.wav");
    let mut req = callback_core::service::NewRequest::new(
        callback_core::model::CallbackType::Delayed,
        "+12125550142",
        callback_core::service::Requested::After(chrono::Duration::hours(1)),
        callback_core::model::Source::Ivr,
    );
    req.recording = Some(callback_core::model::Recording {
        path: wav.display().to_string(),
        duration_ms: 0,
        sample_rate: 8000,
    });
    let (r, _) = service.request(req).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(50);
    let done = || {
        store
            .transcription(r.id)
            .unwrap()
            .is_some_and(|j| j.state == JobState::Done)
    };
    while !done() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    workers.stop();
    assert!(done(), "not transcribed before the worker's next poll");
    let trace = service.trace(r.id).unwrap();
    assert_eq!(trace.request.queue, "retention");
    assert_eq!(
        trace.request.tags.get("intent").map(String::as_str),
        Some("cancel")
    );
    assert_eq!(trace.transcription_off, None);
    let notes = host.notifications();
    let actions: Vec<_> = notes.iter().map(|n| n.action.as_str()).collect();
    assert_eq!(actions, ["created", "transcribed"]);
    assert_eq!(
        notes[1].transcript.as_deref(),
        trace.request.transcript.as_ref().map(|t| t.text.as_str())
    );
}
