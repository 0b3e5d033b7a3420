//! Transcription in the loaded mod_callback.so: with a whisper model configured, a request
//! stored with a recording (its job queued with it) is transcribed by the module's workers,
//! tagged, re-routed, shown by `callback show` and announced as `callback::info`
//! `transcribed`; with no model, the module works on and says why the job waits.
//!
//! The model is `../shared/models/ggml-tiny.en.bin` beside the project (or
//! `$CALLBACK_WHISPER_MODEL`); without it the model test skips, except under `CI=true`.

use callback_core::model::{CallbackType, Draft, Recording, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::{CreateOptions, SqliteStore};
use callback_simulator::loader::{self, Loaded};
use callback_simulator::scenario::repo_root;
use callback_simulator::{Act, Sim};
use chrono::{TimeZone, Utc};
use mod_callback::ffi::types::SWITCH_STATUS_SUCCESS;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn model_or_skip(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("CALLBACK_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/models/ggml-tiny.en.bin"));
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the whisper model {} is missing", p.display());
    }
    println!("{test}: skipped, whisper model {} not found", p.display());
    None
}

/// A configuration with a `retention` queue and an `intent=cancel` rule routing to it;
/// `model` is written as `whisper-model` (empty: transcription off).
fn write_config(dir: &Path, model: &str) -> PathBuf {
    let conf = format!(
        r#"<configuration name="callback.conf" description="transcription test">
  <settings>
    <param name="db-path" value="{db}"/>
    <param name="recordings-dir" value="{rec}"/>
    <param name="default-region" value="US"/>
    <param name="default-queue" value="support"/>
    <param name="default-time-zone" value="America/New_York"/>
    <param name="whisper-model" value="{model}"/>
    <param name="http-listen" value=""/>
    <param name="whisper-beam-size" value="0"/>
    <param name="whisper-threads" value="2"/>
  </settings>
  <queues>
    <queue name="support"><param name="hours" value="always"/></queue>
    <queue name="retention"><param name="hours" value="always"/></queue>
  </queues>
  <tags>
    <tag name="intent=cancel">
      <param name="words" value="cancel, cancellation, terminate"/>
      <param name="queue" value="retention"/>
    </tag>
  </tags>
</configuration>
"#,
        db = dir.join("callback.db").display(),
        rec = dir.join("recordings").display()
    );
    let path = dir.join("callback.conf.xml");
    std::fs::write(&path, conf).unwrap();
    path
}

/// Stores a scheduled request with `wav` as its recording, as capture would, through the
/// core store on the module's database file (closed again before the module opens it).
fn store_request(dir: &Path, wav: &Path, now: chrono::DateTime<Utc>) -> i64 {
    store_request_due(dir, wav, now, now + chrono::Duration::hours(1))
}

/// [`store_request`], due at `due`.
fn store_request_due(
    dir: &Path,
    wav: &Path,
    now: chrono::DateTime<Utc>,
    due: chrono::DateTime<Utc>,
) -> i64 {
    let store = SqliteStore::open(dir.join("callback.db")).unwrap();
    let draft = Draft {
        kind: CallbackType::Immediate,
        number: "+12125550142".into(),
        time_zone: "America/New_York".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: "support".into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Ivr,
        origin_uuid: None,
        idempotency_key: None,
        recording: Some(Recording {
            path: wav.display().to_string(),
            duration_ms: 0,
            sample_rate: 8000,
        }),
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(due),
        expires_at: None,
    };
    store
        .create(&draft, &CreateOptions::default(), now)
        .unwrap()
        .0
        .id
}

fn load(conf: &Path) -> Loaded {
    std::env::set_var("MOD_CALLBACK_CONF", conf);
    loader::load(&loader::find_module().unwrap()).unwrap()
}

#[test]
fn a_stored_recording_is_transcribed_tagged_and_announced() {
    // The real model in the loaded module: the queued job of cancel.wav completes, the
    // request is tagged intent=cancel and moved to retention, show and the event say so.
    let Some(model) = model_or_skip("transcribed_in_module") else {
        return;
    };
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let dir = tempfile_dir("model");
    let conf = write_config(&dir, &model.display().to_string());
    let wav = repo_root().join("fixtures/speech/cancel.wav");
    let id = store_request(&dir, &wav, sim.now());
    let m = load(&conf);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut shown = sim.api(&format!("callback show {id}"));
    while !shown.contains("transcription: done") && Instant::now() < deadline {
        assert!(!shown.contains("transcription: failed"), "{shown}");
        std::thread::sleep(Duration::from_millis(200));
        shown = sim.api(&format!("callback show {id}"));
    }
    assert!(
        shown.contains("transcription: done after 1 attempt(s)"),
        "{shown}"
    );
    let transcript = shown
        .lines()
        .find_map(|l| l.strip_prefix("transcript: "))
        .unwrap_or_else(|| panic!("no transcript line: {shown}"))
        .to_string();
    assert!(transcript.to_lowercase().contains("cancel"), "{shown}");
    assert!(shown.contains("tags:      intent=cancel"), "{shown}");
    assert!(shown.contains("queue:     retention"), "{shown}");
    assert!(shown.contains("language:  en"), "{shown}");
    assert!(shown.contains("transcribed in: "), "{shown}");
    assert!(
        shown.contains("transcribed scheduled -> scheduled by whisper (tags intent=cancel; queue support -> retention)"),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
    assert_eq!(json["trace"]["transcription"]["state"], "done");
    assert_eq!(json["trace"]["request"]["tags"]["intent"], "cancel");
    assert_eq!(
        json["trace"]["request"]["transcript"]["text"].as_str(),
        Some(transcript.as_str())
    );
    let events = sim.events();
    let ev = events
        .iter()
        .find(|e| e.header("Callback-Action") == Some("transcribed"))
        .unwrap_or_else(|| panic!("no transcribed event: {events:#?}"));
    assert_eq!(ev.subclass.as_deref(), Some("callback::info"));
    assert_eq!(ev.header("Callback-ID"), Some(id.to_string().as_str()));
    assert_eq!(ev.header("Callback-Queue"), Some("retention"));
    assert_eq!(ev.header("Callback-Transcript"), Some(transcript.as_str()));
    assert_eq!(ev.header("Callback-Tags"), Some("intent=cancel"));
    // Unload joins the workers before the store closes.
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    assert!(
        sim.logs()
            .iter()
            .any(|l| l.text.contains("transcription workers stopped")),
        "{:#?}",
        sim.logs()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_due_callback_waits_for_its_transcript_and_is_rung_in_the_queue_its_tags_chose() {
    // Due now with cancel.wav still to transcribe, support waiting up to 10 minutes for
    // transcripts: no agent is rung until the transcript is stored; then it is due at
    // once, in retention (its intent=cancel rule), so retention's agent 2001 is rung, not
    // support's 1001; `callback show` says the transcript came before the first offer.
    let Some(model) = model_or_skip("transcript_wait") else {
        return;
    };
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let dir = tempfile_dir("wait");
    let conf = write_config(&dir, &model.display().to_string());
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        r#"<queue name="support"><param name="hours" value="always"/></queue>"#,
        r#"<queue name="support"><param name="hours" value="always"/><param name="transcript-wait" value="10m"/></queue>"#,
    ).replace(
        "</configuration>",
        r#"<agents>
    <agent name="1001"><param name="queues" value="support"/></agent>
    <agent name="2001"><param name="queues" value="retention"/></agent>
  </agents>
</configuration>"#,
    );
    assert!(text.contains("transcript-wait") && text.contains("<agents>"));
    std::fs::write(&conf, text).unwrap();
    for agent in ["user/1001", "user/2001"] {
        sim.endpoint(agent, callback_simulator::Endpoint::Busy);
    }
    let wav = repo_root().join("fixtures/speech/cancel.wav");
    let id = store_request_due(&dir, &wav, sim.now(), sim.now());
    let m = load(&conf);
    let shown = wait_transcribed(&sim, &id.to_string());
    assert!(shown.contains("queue:     retention"), "{shown}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let originates = || {
        sim.commands()
            .into_iter()
            .filter(|c| c.starts_with("originate "))
            .collect::<Vec<_>>()
    };
    while originates().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = originates();
    assert!(!o.is_empty(), "no agent was rung");
    assert!(
        o[0].contains("}user/2001 "),
        "retention's agent first: {o:?}"
    );
    assert!(!o.iter().any(|c| c.contains("}user/1001 ")), "{o:?}");
    let json: serde_json::Value =
        serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
    let actions: Vec<&str> = json["trace"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let at = |a: &str| actions.iter().position(|x| *x == a);
    assert!(
        at("transcript-wait") < at("transcribed")
            && at("transcribed") < at("transcript-ready")
            && at("transcript-ready") < at("offer")
            && at("transcript-wait").is_some(),
        "{actions:?}"
    );
    // The virtual clock never moved: the transcript, not the limit, let it go.
    assert_eq!(json["trace"]["transcript_before_offer_s"], 0);
    let shown = sim.api(&format!("callback show {id}"));
    assert!(
        shown.contains("transcript ready: 0 s before the first offer"),
        "{shown}"
    );
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls `callback show <id>` until the transcription is done (bounded).
fn wait_transcribed(sim: &Sim, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut shown = sim.api(&format!("callback show {id}"));
    while !shown.contains("transcription: done") && Instant::now() < deadline {
        assert!(!shown.contains("transcription: failed"), "{shown}");
        std::thread::sleep(Duration::from_millis(200));
        shown = sim.api(&format!("callback show {id}"));
    }
    shown
}

#[test]
fn what_a_caller_says_in_the_ivr_is_transcribed_and_routes_the_request() {
    // End to end: a caller asks in callback_ivr and says (espeak, 8 kHz) they want to
    // cancel; the recording the IVR made is transcribed by the module's workers off the
    // call, and the request is tagged intent=cancel and moved to the retention queue.
    let Some(model) = model_or_skip("ivr_transcribed") else {
        return;
    };
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let dir = tempfile_dir("ivr");
    let conf = write_config(&dir, &model.display().to_string());
    let m = load(&conf);
    let call = sim.new_call("+12125550142");
    for act in [
        Act::Press("1".into()),
        Act::Press("1".into()),
        Act::Speak(repo_root().join("fixtures/speech/cancel.wav")),
        Act::Press("1".into()),
    ] {
        sim.act(&call, act);
    }
    sim.execute(&call, "callback_ivr", "");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let id = sim.var(&call, "callback_id").unwrap();
    let shown = wait_transcribed(&sim, &id);
    assert!(shown.contains("transcription: done"), "{shown}");
    assert!(shown.contains("tags:      intent=cancel"), "{shown}");
    assert!(shown.contains("queue:     retention"), "{shown}");
    assert!(
        shown.contains(&dir.join("recordings").display().to_string()),
        "{shown}"
    );
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_model_callbacks_work_and_the_job_says_why_it_waits() {
    // No whisper-model: the module loads, logs the reason once, and show keeps the job
    // queued with that reason; a missing model file is said once the same way.
    for (model, why) in [
        ("", "no whisper model configured"),
        ("/nonexistent/ggml-none.bin", "/nonexistent/ggml-none.bin"),
    ] {
        let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
        let dir = tempfile_dir("nomodel");
        let conf = write_config(&dir, model);
        let wav = repo_root().join("fixtures/speech/cancel.wav");
        let id = store_request(&dir, &wav, sim.now());
        let m = load(&conf);
        let shown = sim.api(&format!("callback show {id}"));
        assert!(
            shown.contains("transcription: queued after 0 attempt(s) ("),
            "{shown}"
        );
        assert!(shown.contains(why), "{shown}");
        assert!(shown.contains("queue:     support"), "{shown}");
        sim.api("callback list");
        sim.api(&format!("callback show {id}"));
        let said: Vec<_> = sim
            .logs()
            .into_iter()
            .filter(|l| l.text.contains("callbacks continue without transcripts"))
            .collect();
        assert_eq!(said.len(), 1, "{model}: {said:#?}");
        assert!(said[0].text.contains(why), "{}", said[0].text);
        assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn tempfile_dir(tag: &str) -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "callback-sim-transcribe-{tag}-{}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
