//! `callback_ivr` and `callback_capture recording=` end to end: the real mod_callback.so in
//! the simulated FreeSWITCH, callers scripted key by key, speaking the espeak-ng fixtures
//! of fixtures/speech (8 kHz), on a virtual clock that starts Monday 2026-11-23 09:00 in
//! New York (fixtures/config/ivr.conf.xml).
//!
//! Length: over 800 lines on purpose. Each file here is its own test binary, linking the
//! core, the simulator and the module's crate (about 230 MB with debug info); splitting it
//! by subject would add a link and a load to every run of `.ci/test`, which has to stay
//! within its time. Its tests share one configuration and one set of helpers.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{load_with_config, repo_root};
use callback_simulator::{Act, Sim};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use std::path::{Path, PathBuf};

const IVR_CONF: &str = "fixtures/config/ivr.conf.xml";
const CALLER: &str = "+12125550142";

fn start() -> (Sim, Loaded) {
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let m = load_with_config(&repo_root().join(IVR_CONF)).unwrap_or_else(|e| {
        panic!("load failed: {e}\nlog: {:#?}", sim.logs());
    });
    (sim, m)
}

fn speech(name: &str) -> PathBuf {
    repo_root().join("fixtures/speech").join(name)
}

fn press(k: &str) -> Act {
    Act::Press(k.to_string())
}

fn speak(name: &str) -> Act {
    Act::Speak(speech(name))
}

/// A call from `number` that does `acts`, then runs `callback_ivr <profile>`.
fn ivr(sim: &Sim, number: &str, profile: &str, acts: Vec<Act>) -> String {
    let call = sim.new_call(number);
    for a in acts {
        sim.act(&call, a);
    }
    assert!(sim.execute(&call, "callback_ivr", profile));
    call
}

fn var(sim: &Sim, call: &str, name: &str) -> Option<String> {
    sim.var(call, name)
}

/// The stored request of `id`, as `callback json show` returns it.
fn request(sim: &Sim, id: &str) -> Value {
    let reply: Value = serde_json::from_str(&sim.api(&format!("callback json show {id}")))
        .expect("callback json show replies JSON");
    assert_eq!(reply["ok"], true, "{reply}");
    reply["trace"]["request"].clone()
}

fn stored_count(sim: &Sim) -> usize {
    let reply: Value = serde_json::from_str(&sim.api("callback json list")).unwrap();
    reply["callbacks"].as_array().map_or(0, Vec::len)
}

/// The files played on the call (`playback` arguments), in order.
fn played(sim: &Sim, call: &str) -> Vec<String> {
    sim.session(call)
        .unwrap()
        .apps
        .lock()
        .unwrap()
        .iter()
        .filter(|(app, _)| app == "playback")
        .map(|(_, arg)| arg.clone())
        .collect()
}

fn ok_id(sim: &Sim, call: &str) -> String {
    assert_eq!(
        var(sim, call, "callback_result").as_deref(),
        Some("OK"),
        "error: {:?}",
        var(sim, call, "callback_error")
    );
    var(sim, call, "callback_id").expect("callback_id is set")
}

fn due(r: &Value) -> DateTime<Utc> {
    r["due_at"].as_str().unwrap().parse().unwrap()
}

#[test]
fn immediate_with_caller_id_confirmed_and_a_recording() {
    // 1 immediate, 1 keep the caller ID, speak, 1 keep the recording: stored, scheduled
    // now, the WAV linked with its duration and rate, the read-back played, variables set.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![press("1"), press("1"), speak("john.wav"), press("1")],
    );
    let id = ok_id(&sim, &call);
    assert_eq!(
        var(&sim, &call, "callback_confirmed").as_deref(),
        Some("true")
    );
    let r = request(&sim, &id);
    assert_eq!(r["kind"], "immediate");
    assert_eq!(r["number"], CALLER);
    assert_eq!(r["state"], "scheduled");
    assert_eq!(r["source"], "ivr");
    assert_eq!(r["origin_uuid"], call.as_str());
    let rec = &r["recording"];
    let path = rec["path"].as_str().unwrap();
    assert!(Path::new(path).exists(), "{path}");
    assert!(path.contains("/recordings/2026/11/23/cb-"), "{path}");
    assert_eq!(rec["sample_rate"], 8000);
    let fixture = hound::WavReader::open(speech("john.wav"))
        .unwrap()
        .duration() as u64;
    // The speech, then 3 s of silence that ended the recording.
    assert_eq!(rec["duration_ms"].as_u64().unwrap(), fixture / 8 + 3000);
    let due_epoch: i64 = var(&sim, &call, "callback_due_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due_epoch, due(&r).timestamp());
    let files = played(&sim, &call);
    for p in [
        "callback/record.wav",
        "callback/booked.wav",
        "callback/asap.wav",
        "callback/goodbye.wav",
    ] {
        assert!(files.iter().any(|f| f == p), "{p} not in {files:?}");
    }
    // A queue that has handled nothing yet gives no figure to promise.
    assert!(
        !files.iter().any(|f| f == "callback/wait-about.wav"),
        "{files:?}"
    );
    // The number was read back digit by digit; an immediate callback is "as soon as an
    // agent is free", never "today at" the current time.
    let apps = sim.session(&call).unwrap().apps.lock().unwrap().clone();
    assert!(apps.contains(&("say".into(), "en NUMBER iterated 12125550142".into())));
    assert!(
        !apps
            .iter()
            .any(|(a, arg)| a == "say" && arg.contains("CURRENT_TIME")),
        "{apps:?}"
    );
    // No time was said, so the call's zone was never set for `say`.
    assert_eq!(var(&sim, &call, "timezone"), None);
}

#[test]
fn delayed_is_due_after_the_profile_delay() {
    // 2 delayed (30 minutes in the default profile): due 30 minutes after it was stored.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "default",
        vec![press("2"), press("1"), speak("refund.wav"), press("1")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["kind"], "delayed");
    let created: DateTime<Utc> = r["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due(&r) - created, chrono::Duration::minutes(30));
    // The quick profile offers only delayed (no menu) and 15 minutes, without review.
    let call = ivr(
        &sim,
        "+12125550143",
        "quick",
        vec![press("1"), speak("maria.wav")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["kind"], "delayed");
    assert_eq!(r["queue"], "support");
    let created: DateTime<Utc> = r["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due(&r) - created, chrono::Duration::minutes(15));
    assert!(!played(&sim, &call).contains(&"callback/review.wav".to_string()));
}

#[test]
fn agent_preview_profile_uses_its_own_prompts() {
    // A one-type profile stores an agent-preview request; prompts come from its prefix and
    // its per-prompt override.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "preview",
        vec![press("1"), speak("sales.wav")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["kind"], "agent-preview");
    let files = played(&sim, &call);
    assert!(
        files.contains(&"acme/callback-record.wav".to_string()),
        "{files:?}"
    );
    assert_eq!(files.last().map(String::as_str), Some("acme/bye.wav"));
}

#[test]
fn scheduled_picks_a_day_and_a_slot_and_skips_full_slots() {
    // Tomorrow (Tuesday) 09:00 is taken by an earlier booking (capacity 1), so the time menu
    // starts at 10:00: key 1 books 10:00 New York time.
    let (sim, _m) = start();
    let first = sim.new_call("+12125550100");
    sim.execute(
        &first,
        "callback_capture",
        "queue=clinic when='2026-11-24 09:00' tz=America/New_York",
    );
    assert_eq!(var(&sim, &first, "callback_result").as_deref(), Some("OK"));
    // Day menu: today (Monday, slots left) = 1, tomorrow = 2.
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            press("3"),
            press("1"),
            press("2"),
            press("1"),
            speak("appointment.wav"),
            press("1"),
        ],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["kind"], "scheduled");
    assert_eq!(r["queue"], "clinic");
    assert_eq!(
        due(&r),
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
    );
    let apps = sim.session(&call).unwrap().apps.lock().unwrap().clone();
    let tuesday_9 = Utc
        .with_ymd_and_hms(2026, 11, 24, 14, 0, 0)
        .unwrap()
        .timestamp();
    assert!(
        !apps
            .iter()
            .any(|(a, arg)| a == "say" && arg.ends_with(&tuesday_9.to_string())),
        "the full 09:00 slot was offered"
    );
}

#[test]
fn scheduled_time_keyed_in_must_fall_in_a_free_slot() {
    // Key 0 and 1130 books 11:30 tomorrow; 1500 (closed) is refused with its prompt first.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            press("3"),
            press("1"),
            press("2"),
            press("0"),
            press("1500"),
            press("0"),
            press("1130"),
            speak("monday.wav"),
            press("1"),
        ],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(
        due(&r),
        Utc.with_ymd_and_hms(2026, 11, 24, 16, 30, 0).unwrap()
    );
    assert!(played(&sim, &call).contains(&"callback/slot-unavailable.wav".to_string()));
}

#[test]
fn another_number_can_be_keyed_in_and_is_validated() {
    // 2 = another number; a too-short entry and a deny-listed one are refused with their
    // prompts, then a valid national number is stored as E.164.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "quick",
        vec![
            press("2"),
            press("123#"),
            press("19005550100#"),
            press("2125550199#"),
            speak("delivery.wav"),
        ],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["number"], "+12125550199");
    let files = played(&sim, &call);
    assert!(files.contains(&"callback/invalid-number.wav".to_string()));
    assert!(files.contains(&"callback/denied-number.wav".to_string()));
}

#[test]
fn three_invalid_numbers_end_politely_and_store_nothing() {
    // A caller without a usable caller ID who keys three bad numbers hears goodbye; the
    // result says why and nothing is stored.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        "anonymous",
        "quick",
        vec![press("1#"), press("99999#"), press("19005550100#")],
    );
    assert_eq!(var(&sim, &call, "callback_result").as_deref(), Some("ERR"));
    assert_eq!(
        var(&sim, &call, "callback_error").as_deref(),
        Some("no valid callback number")
    );
    assert_eq!(var(&sim, &call, "callback_id"), None);
    assert_eq!(
        played(&sim, &call).last().map(String::as_str),
        Some("callback/goodbye.wav")
    );
    assert_eq!(stored_count(&sim), 0);
}

#[test]
fn invalid_and_missing_keys_are_retried_then_refused() {
    // At the type menu: a wrong key and a timeout cost a try each; the third try counts.
    // A caller who never presses a valid key gets ERR and nothing is stored.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            press("7"),
            Act::Silent,
            press("1"),
            press("1"),
            speak("john.wav"),
            press("1"),
        ],
    );
    ok_id(&sim, &call);
    assert!(played(&sim, &call).contains(&"callback/invalid-choice.wav".to_string()));
    let call = ivr(&sim, CALLER, "", vec![press("8"), Act::Silent, press("#")]);
    assert_eq!(var(&sim, &call, "callback_result").as_deref(), Some("ERR"));
    assert!(var(&sim, &call, "callback_error")
        .unwrap()
        .contains("no valid choice"));
    assert_eq!(stored_count(&sim), 1);
}

#[test]
fn silence_only_is_asked_once_more_then_stored_without_a_recording() {
    // Saying nothing twice: "we did not hear you" once, then the request is stored with no
    // recording, and no silent file is left behind.
    let (sim, m) = start();
    let call = ivr(&sim, CALLER, "quick", vec![press("1")]);
    let r = request(&sim, &ok_id(&sim, &call));
    assert!(r["recording"].is_null(), "{r}");
    let files = played(&sim, &call);
    assert_eq!(
        files
            .iter()
            .filter(|f| *f == "callback/too-short.wav")
            .count(),
        1
    );
    let recordings = m.scratch.as_ref().unwrap().join("recordings");
    assert_eq!(wav_files(&recordings), Vec::<PathBuf>::new());
}

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(wav_files(&p));
        } else if p.extension().is_some_and(|x| x == "wav") {
            out.push(p);
        }
    }
    out
}

#[test]
fn review_can_listen_back_and_record_again() {
    // 2 plays the recording back; 3 records again (the first file is deleted); 1 keeps.
    let (sim, m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            press("1"),
            press("1"),
            speak("john.wav"),
            press("2"),
            press("3"),
            speak("maria.wav"),
            press("1"),
        ],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    let kept = r["recording"]["path"].as_str().unwrap().to_string();
    let files = played(&sim, &call);
    let listened: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".wav") && f.contains("/cb-"))
        .collect();
    assert_eq!(listened.len(), 1);
    assert_ne!(
        listened[0], &kept,
        "the first take was played back, the second kept"
    );
    let on_disk = wav_files(&m.scratch.as_ref().unwrap().join("recordings"));
    assert_eq!(on_disk, vec![PathBuf::from(&kept)]);
    let maria = hound::WavReader::open(speech("maria.wav"))
        .unwrap()
        .duration() as u64;
    assert_eq!(
        r["recording"]["duration_ms"].as_u64().unwrap(),
        maria / 8 + 3000
    );
}

#[test]
fn silence_at_the_review_menu_keeps_the_recording_without_a_goodbye_first() {
    // No key at the review menu: the recording is kept and the booking read back; the
    // caller hears goodbye once, at the end.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![press("1"), press("1"), speak("john.wav")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert!(!r["recording"].is_null());
    let files = played(&sim, &call);
    assert_eq!(
        files
            .iter()
            .filter(|f| *f == "callback/goodbye.wav")
            .count(),
        1
    );
    assert_eq!(
        files.last().map(String::as_str),
        Some("callback/goodbye.wav")
    );
}

#[test]
fn hang_ups_before_anything_was_said_store_nothing() {
    // A hang-up at the type menu, at the number menu, at the day menu or while entering a
    // number: no request, no file, ERR with the reason.
    let (sim, m) = start();
    let scripts = vec![
        vec![Act::Hangup],
        vec![press("1"), Act::Hangup],
        vec![press("3"), press("1"), Act::Hangup],
        vec![press("3"), press("1"), press("2"), Act::Hangup],
        vec![press("1"), press("2"), Act::Hangup],
    ];
    for acts in scripts {
        let call = ivr(&sim, CALLER, "", acts.clone());
        assert_eq!(
            var(&sim, &call, "callback_result").as_deref(),
            Some("ERR"),
            "{acts:?}"
        );
        assert!(var(&sim, &call, "callback_error")
            .unwrap()
            .contains("hung up"));
    }
    assert_eq!(stored_count(&sim), 0);
    assert_eq!(
        wav_files(&m.scratch.as_ref().unwrap().join("recordings")),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn hang_up_after_speaking_keeps_an_unconfirmed_request() {
    // Hanging up right after speaking, or at the review menu: what the caller said is kept
    // as an unconfirmed request (tag confirmed=no) with the recording.
    let (sim, _m) = start();
    for acts in [
        vec![press("2"), press("1"), speak("outage.wav"), Act::Hangup],
        vec![
            press("2"),
            press("1"),
            speak("outage.wav"),
            press("2"),
            Act::Hangup,
        ],
    ] {
        let call = ivr(&sim, CALLER, "", acts);
        let r = request(&sim, &ok_id(&sim, &call));
        assert_eq!(
            var(&sim, &call, "callback_confirmed").as_deref(),
            Some("false")
        );
        assert_eq!(r["tags"]["confirmed"], "no");
        assert_eq!(r["kind"], "delayed");
        assert!(Path::new(r["recording"]["path"].as_str().unwrap()).exists());
    }
    // A profile with keep-unconfirmed off stores nothing and removes the file.
    let call = ivr(
        &sim,
        CALLER,
        "strict",
        vec![press("1"), speak("outage.wav"), Act::Hangup],
    );
    assert_eq!(var(&sim, &call, "callback_result").as_deref(), Some("ERR"));
    assert_eq!(stored_count(&sim), 2);
}

#[test]
fn an_unknown_profile_is_an_error_and_touches_nothing() {
    let (sim, _m) = start();
    let call = ivr(&sim, CALLER, "nosuch", vec![]);
    assert_eq!(var(&sim, &call, "callback_result").as_deref(), Some("ERR"));
    assert_eq!(
        var(&sim, &call, "callback_error").as_deref(),
        Some("unknown IVR profile 'nosuch'")
    );
    assert!(played(&sim, &call).is_empty());
}

#[test]
fn callers_abroad_hear_times_in_their_country_zone() {
    // A German number keyed in: the profile maps DE to Europe/Berlin, so the request's zone
    // and the spoken times are Berlin's.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            press("1"),
            press("2"),
            press("+4930123456#"),
            speak("john.wav"),
            press("1"),
        ],
    );
    // `+` cannot be keyed: the entry is refused, and the caller ends without a request.
    assert_eq!(var(&sim, &call, "callback_result").as_deref(), Some("ERR"));
    let call = ivr(
        &sim,
        CALLER,
        "",
        vec![
            // Delayed: its read-back says a time (an immediate one says "as soon as an
            // agent is free").
            press("2"),
            press("2"),
            press("011493012345678#"),
            speak("john.wav"),
            press("1"),
        ],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert_eq!(r["number"], "+493012345678");
    assert_eq!(r["time_zone"], "Europe/Berlin");
    assert_eq!(
        var(&sim, &call, "timezone").as_deref(),
        Some("Europe/Berlin")
    );
}

#[test]
fn capture_adopts_a_recording_only_from_the_recordings_directory() {
    // callback_capture recording=<file in recordings-dir> renames it to a server-made name
    // and links it; a file elsewhere (or reached with ..) is refused and nothing is stored.
    let (sim, m) = start();
    let dir = m.scratch.as_ref().unwrap().join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    let mine = dir.join("from-dialplan.wav");
    std::fs::copy(speech("cancel.wav"), &mine).unwrap();
    let call = sim.new_call(CALLER);
    sim.execute(
        &call,
        "callback_capture",
        &format!("delay=15m recording={}", mine.display()),
    );
    let r = request(&sim, &ok_id(&sim, &call));
    let path = r["recording"]["path"].as_str().unwrap();
    assert!(!mine.exists());
    assert!(path.contains("/cb-") && Path::new(path).exists());

    let outside = m.scratch.as_ref().unwrap().join("elsewhere.wav");
    std::fs::copy(speech("cancel.wav"), &outside).unwrap();
    for given in [
        outside.display().to_string(),
        format!("{}/../elsewhere.wav", dir.display()),
        "/etc/passwd".to_string(),
    ] {
        let call = sim.new_call(CALLER);
        sim.execute(
            &call,
            "callback_capture",
            &format!("delay=15m recording={given}"),
        );
        assert_eq!(
            var(&sim, &call, "callback_result").as_deref(),
            Some("ERR"),
            "{given}"
        );
        assert!(var(&sim, &call, "callback_error")
            .unwrap()
            .contains("recording"));
    }
    assert!(outside.exists());
    assert_eq!(stored_count(&sim), 1);
}

#[test]
fn two_hundred_concurrent_callers_are_all_stored() {
    // 200 calls run the IVR at once, each on its own thread as FreeSWITCH runs them: every
    // one is stored exactly once with its own recording, and no call gets an error.
    let (sim, _m) = start();
    let voices = [
        "john.wav",
        "maria.wav",
        "refund.wav",
        "outage.wav",
        "sales.wav",
    ];
    let calls: Vec<String> = (0..200)
        .map(|i| {
            let call = sim.new_call(&format!("+1212555{:04}", 1000 + i));
            sim.act(&call, press("1"));
            sim.act(&call, speak(voices[i % voices.len()]));
            call
        })
        .collect();
    std::thread::scope(|s| {
        for call in &calls {
            let sim = &sim;
            s.spawn(move || sim.execute(call, "callback_ivr", "quick"));
        }
    });
    let mut ids = std::collections::BTreeSet::new();
    let mut paths = std::collections::BTreeSet::new();
    for call in &calls {
        let id = ok_id(&sim, call);
        let r = request(&sim, &id);
        assert_eq!(r["origin_uuid"], call.as_str());
        paths.insert(r["recording"]["path"].as_str().unwrap().to_string());
        ids.insert(id);
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(paths.len(), 200);
    assert_eq!(stored_count(&sim), 200);
    assert!(sim.logs().iter().all(|l| l.level > 3), "errors logged");
}

#[test]
fn an_unwritable_recordings_directory_is_said_once_and_callers_still_get_callbacks() {
    // recordings-dir that cannot be created: the load says so once, the IVR skips the
    // recording step and still stores the callback.
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let text = std::fs::read_to_string(repo_root().join(IVR_CONF))
        .unwrap()
        .replace("@TMP@/recordings", "/proc/callback-recordings");
    let conf = std::env::temp_dir().join(format!("ivr-norec-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    let _m = load_with_config(&conf).unwrap();
    let said = sim
        .logs()
        .iter()
        .filter(|l| l.text.contains("/proc/callback-recordings") && l.level == 3)
        .count();
    assert_eq!(said, 1, "{:#?}", sim.logs());
    let call = ivr(&sim, CALLER, "quick", vec![press("1"), speak("john.wav")]);
    let r = request(&sim, &ok_id(&sim, &call));
    assert!(r["recording"].is_null());
    assert!(!played(&sim, &call).contains(&"callback/record.wav".to_string()));
    let _ = std::fs::remove_file(conf);
}

#[test]
fn consent_is_asked_before_recording_when_the_profile_says_so() {
    // 1 agrees: recorded. 2 declines: the callback is booked without a recording.
    let (sim, _m) = start();
    let call = ivr(
        &sim,
        CALLER,
        "consent",
        vec![press("1"), press("1"), speak("john.wav")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert!(!r["recording"].is_null());
    let asked = sim.session(&call).unwrap().apps.lock().unwrap().clone();
    assert!(asked
        .iter()
        .any(|(a, arg)| a == "play_and_get_digits" && arg.contains("callback/consent.wav")));
    let call = ivr(
        &sim,
        "+12125550143",
        "consent",
        vec![press("1"), press("2")],
    );
    let r = request(&sim, &ok_id(&sim, &call));
    assert!(r["recording"].is_null());
    assert!(!played(&sim, &call).contains(&"callback/record.wav".to_string()));
}

#[test]
fn recordings_and_transcripts_are_purged_on_request_and_after_retention() {
    // `callback purge <id>` deletes one callback's recording now (any state); a finished
    // callback's recording goes by itself once retention-days (1) has passed.
    let (sim, m) = start();
    let first = ivr(&sim, CALLER, "quick", vec![press("1"), speak("john.wav")]);
    let first = ok_id(&sim, &first);
    let second = ivr(
        &sim,
        "+12125550143",
        "quick",
        vec![press("1"), speak("maria.wav")],
    );
    let second = ok_id(&sim, &second);
    let file = |id: &str| {
        request(&sim, id)["recording"]["path"]
            .as_str()
            .map(str::to_string)
    };
    let first_file = file(&first).unwrap();
    let second_file = file(&second).unwrap();
    let reply = sim.api(&format!("callback purge {first}"));
    assert!(reply.starts_with("+OK"), "{reply}");
    assert!(!Path::new(&first_file).exists());
    assert!(request(&sim, &first)["recording"].is_null());
    assert!(sim.api(&format!("callback show {first}")).contains("purge"));
    // The second: finished, then two days pass.
    sim.api(&format!("callback cancel {second}"));
    assert!(Path::new(&second_file).exists());
    sim.advance(chrono::Duration::days(2));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Path::new(&second_file).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "not purged after retention"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(request(&sim, &second)["recording"].is_null());
    assert!(wav_files(&m.scratch.as_ref().unwrap().join("recordings")).is_empty());
    assert!(sim.api("callback purge 999").starts_with("-ERR"));
}

/// ivr.conf.xml with two waiting callbacks per number, and merging as `merge` says.
fn capped(name: &str, merge: bool) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(IVR_CONF))
        .unwrap()
        .replace(
            r#"<param name="max-pending-per-number" value="0"/>"#,
            r#"<param name="max-pending-per-number" value="2"/>"#,
        )
        .replace(
            r#"<param name="merge-pending" value="false"/>"#,
            &format!(r#"<param name="merge-pending" value="{merge}"/>"#),
        );
    let conf = std::env::temp_dir().join(format!("{name}-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    conf
}

#[test]
fn the_ivr_holds_the_per_number_cap() {
    // Two callbacks wait for a number: a third IVR request for it hears the apology, nothing stored.
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let conf = capped("ivr-cap", false);
    let _m = load_with_config(&conf).unwrap();
    for _ in 0..2 {
        let call = ivr(&sim, CALLER, "quick", vec![press("1"), speak("john.wav")]);
        ok_id(&sim, &call);
    }
    let third = ivr(&sim, CALLER, "quick", vec![press("1"), speak("john.wav")]);
    assert_eq!(var(&sim, &third, "callback_result").as_deref(), Some("ERR"));
    let why = var(&sim, &third, "callback_error").unwrap();
    assert!(why.contains("at most 2"), "{why}");
    assert!(played(&sim, &third).contains(&"callback/error.wav".to_string()));
    assert_eq!(stored_count(&sim), 2);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn an_ivr_caller_who_joins_someone_elses_callback_hears_no_time_of_it() {
    // A caller entering another's number joins that callback: no time read back, no id set.
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let conf = capped("ivr-join", true);
    let _m = load_with_config(&conf).unwrap();
    let owner = ivr(&sim, CALLER, "quick", vec![press("1"), speak("john.wav")]);
    let id = ok_id(&sim, &owner);
    let says = |call: &str| {
        sim.session(call)
            .unwrap()
            .apps
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, arg)| a == "say" && arg.contains("CURRENT_TIME"))
            .count()
    };
    assert!(says(&owner) > 0, "the owner hears when");
    let other = ivr(
        &sim,
        "+12125550199",
        "quick",
        vec![press("2"), press("2125550142#"), speak("maria.wav")],
    );
    assert_eq!(var(&sim, &other, "callback_result").as_deref(), Some("OK"));
    assert_eq!(var(&sim, &other, "callback_id"), None);
    assert_eq!(var(&sim, &other, "callback_due_epoch"), None);
    assert_eq!(
        var(&sim, &other, "callback_outcome").as_deref(),
        Some("merged")
    );
    assert_eq!(says(&other), 0, "no day or time of the other's callback");
    assert_eq!(stored_count(&sim), 1);
    let trace: Value = serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
    let merged = trace["trace"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "merge" && e["actor"] == "ivr");
    assert!(merged, "{trace}");
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_number_on_the_do_not_call_list_hears_so_and_nothing_is_stored() {
    // The caller's number is on the do-not-call list: after confirming it they hear the
    // do-not-call prompt and goodbye, are never asked to record, and no request is stored.
    let (sim, _m) = start();
    let added = sim.api(&format!("callback dnc add {CALLER}"));
    assert!(added.starts_with("+OK"), "{added}");
    let call = ivr(&sim, CALLER, "", vec![press("1"), press("1")]);
    assert_ne!(var(&sim, &call, "callback_result").as_deref(), Some("OK"));
    let files = played(&sim, &call);
    assert!(
        files.iter().any(|f| f == "callback/do-not-call.wav"),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f == "callback/record.wav"),
        "{files:?}"
    );
    assert_eq!(
        files.last().map(String::as_str),
        Some("callback/goodbye.wav")
    );
    assert_eq!(stored_count(&sim), 0);
}
