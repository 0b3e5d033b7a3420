//! The agent panel served by the loaded mod_callback.so (fixtures/config/panel.conf.xml):
//! over plain HTTP, logins, roles, visibility, the change header and byte ranges of the
//! recording; and in a real browser (Debian's headless Chromium driven by Playwright,
//! tests/browser/panel.mjs), an agent's whole round: a callback captured in the IVR shows
//! its transcript and plays, Call Now rings this agent through the dispatcher, Mark Done
//! stores the disposition, the schedule form creates what `callback list` shows, and the
//! badge follows by live update. The browser's screenshot is written under target/artifacts.
//!
//! Without node, Chromium, playwright-core (tests/browser, `npm ci`) or the whisper model
//! the browser test skips, except under `CI=true`, where it fails.
//!
//! Length: over 800 lines on purpose. Each file here is its own test binary, linking the
//! core, the simulator and the module's crate (about 230 MB with debug info); splitting it
//! by subject would add a link and a load to every run of `.ci/test`, which has to stay
//! within its time. Its tests share one configuration and one set of helpers.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{
    self, artifacts, http_base, load_with_config, need, repo_root, show,
};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CONF: &str = "fixtures/config/panel.conf.xml";
const CUSTOMER: &str = "+12125550142";

fn sim() -> Sim {
    // Monday 2026-11-23 14:00 UTC: 09:00 in New York.
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

fn load() -> Loaded {
    load_with_config(&repo_root().join(CONF)).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// A caller leaves a request in the `later` IVR profile (delayed 2 h) saying `wav`.
fn ivr_capture(sim: &Sim, number: &str, wav: &str) -> i64 {
    let call = sim.new_call(number);
    sim.act(&call, Act::Press("1".into()));
    sim.act(
        &call,
        Act::Speak(repo_root().join("fixtures/speech").join(wav)),
    );
    assert!(sim.execute(&call, "callback_ivr", "later"));
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    sim.var(&call, "callback_id").unwrap().parse().unwrap()
}

fn capture(sim: &Sim, args: &str) -> i64 {
    scenario::capture(sim, CUSTOMER, args)
}

/// One HTTP reply.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// A browser-like client: a session cookie once logged in.
struct Client {
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            cookie: None,
        }
    }

    fn login(base: &str, user: &str, password: &str) -> Self {
        let mut c = Self::new(base);
        let r = c.post(
            "/panel/api/login",
            &format!(r#"{{"user":"{user}","password":"{password}"}}"#),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let set = r
            .header("set-cookie")
            .expect("a session cookie")
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        c.cookie = Some(set.split(';').next().unwrap().to_string());
        c
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, &[])
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        self.call("POST", path, Some(body), &[("X-Callback-Panel", "1")])
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn logins_roles_visibility_and_the_change_header_hold() {
    // Wrong passwords and missing sessions are 401; an agent sees their teams' callbacks
    // and not another team's (404, not 403, for an id they cannot see); a change without
    // X-Callback-Panel is 403 and stores nothing; roles decide cancel; logout ends it.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let support = capture(&sim, "type=delayed delay=2h queue=support");
    let sales = capture(&sim, "type=delayed delay=2h queue=sales");

    let anon = Client::new(&base);
    assert_eq!(anon.get("/panel/api/callbacks").status, 401);
    let r = anon.post(
        "/panel/api/login",
        r#"{"user":"alice","password":"wrong-password"}"#,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let r = anon.call(
        "POST",
        "/panel/api/login",
        Some(r#"{"user":"alice","password":"alice-panel-pw"}"#),
        &[],
    );
    assert_eq!(r.status, 403, "a login without the header is refused");
    let page = anon.get("/panel/");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("id=\"badge\""));

    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let list = alice.get("/panel/api/callbacks").json();
    assert_eq!(ids(&list), vec![support], "{list}");
    assert_eq!(list["pending"], 1);
    assert_eq!(
        alice.get(&format!("/panel/api/callbacks/{sales}")).status,
        404
    );
    let r = alice.post(&format!("/panel/api/callbacks/{sales}/call-now"), "");
    assert_eq!(r.status, 404, "another team's callback cannot be acted on");
    let bert = Client::login(&base, "bert", "bert-panel-pw");
    assert_eq!(ids(&bert.get("/panel/api/callbacks").json()), vec![sales]);

    // Agents may not cancel (the built-in role); the supervisor may.
    let r = alice.post(&format!("/panel/api/callbacks/{support}/cancel"), "");
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("may not cancel"));
    let sam = Client::login(&base, "sam", "sam-panel-pw1");
    let r = sam.call(
        "POST",
        &format!("/panel/api/callbacks/{support}/cancel"),
        Some(""),
        &[],
    );
    assert_eq!(r.status, 403, "no change header");
    assert_eq!(show(&sim, support)["request"]["state"], "scheduled");
    let r = sam.post(&format!("/panel/api/callbacks/{support}/cancel"), "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(show(&sim, support)["request"]["state"], "cancelled");
    assert_eq!(sam.get("/panel/api/operator").status, 200);
    assert_eq!(alice.get("/panel/api/operator").status, 403);

    // Call Now while away says so and changes nothing.
    let again = capture(&sim, "type=delayed delay=3h queue=support");
    let r = alice.post(&format!("/panel/api/callbacks/{again}/call-now"), "");
    assert_eq!((r.status, r.code().as_str()), (409, "agent-away"));
    assert_eq!(show(&sim, again)["request"]["agent"], Value::Null);

    // A bad form is a 400 naming the field, and stores nothing.
    let before = sim.api("callback list");
    let r = alice.post(
        "/panel/api/callbacks",
        r#"{"number":"+12125550143","date":"2026-11-24","time":"25:00"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "time");
    let r = alice.post(
        "/panel/api/callbacks",
        r#"{"number":"+12125550143","queue":"sales"}"#,
    );
    assert_eq!(r.status, 403, "not alice's team");
    assert_eq!(sim.api("callback list"), before);

    let r = alice.post("/panel/api/logout", "");
    assert_eq!(r.status, 200);
    assert_eq!(alice.get("/panel/api/callbacks").status, 401);

    // Guessing a password is slowed: a few tries a minute per user and address, then 429
    // (even with the right password).
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            anon.post(
                "/panel/api/login",
                r#"{"user":"bert","password":"guess-guess"}"#,
            )
            .status
        })
        .collect();
    assert_eq!(statuses[0], 401);
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let r = anon.post(
        "/panel/api/login",
        r#"{"user":"bert","password":"bert-panel-pw"}"#,
    );
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

#[test]
fn the_recording_is_served_with_byte_ranges_to_those_who_see_it() {
    // The WAV the IVR recorded: whole (200, Accept-Ranges), a range (206 with
    // Content-Range and exactly those bytes), a range past the end (416); not to an agent
    // of another team, and 404 for a callback without a recording.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let id = ivr_capture(&sim, CUSTOMER, "refund.wav");
    let plain = capture(&sim, "type=delayed delay=2h queue=support");
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let path = format!("/panel/api/callbacks/{id}/recording");
    let whole = alice.get(&path);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-type"), Some("audio/wav"));
    assert_eq!(&whole.body[..4], b"RIFF");
    let on_disk = show(&sim, id)["request"]["recording"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(whole.body, std::fs::read(&on_disk).unwrap());
    let part = alice.call("GET", &path, None, &[("Range", "bytes=100-199")]);
    assert_eq!(part.status, 206);
    let len = whole.body.len();
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{len}").as_str())
    );
    assert_eq!(part.body, whole.body[100..200]);
    let tail = alice.call("GET", &path, None, &[("Range", "bytes=-10")]);
    assert_eq!(tail.body, whole.body[len - 10..]);
    let past = alice.call("GET", &path, None, &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let bert = Client::login(&base, "bert", "bert-panel-pw");
    assert_eq!(bert.get(&path).status, 404);
    assert_eq!(Client::new(&base).get(&path).status, 401);
    let none = alice.get(&format!("/panel/api/callbacks/{plain}/recording"));
    assert_eq!((none.status, none.code().as_str()), (404, "no-recording"));
}

fn model() -> PathBuf {
    std::env::var_os("CALLBACK_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/models/ggml-tiny.en.bin"))
}

fn node_works() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Polls `callback show <id>` until the transcription is done (bounded).
fn wait_transcribed(sim: &Sim, id: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut shown = sim.api(&format!("callback show {id}"));
    while !shown.contains("transcription: done") && Instant::now() < deadline {
        assert!(!shown.contains("transcription: failed"), "{shown}");
        std::thread::sleep(Duration::from_millis(200));
        shown = sim.api(&format!("callback show {id}"));
    }
    assert!(shown.contains("transcription: done"), "{shown}");
    shown
}

#[test]
fn an_agent_works_a_callback_in_a_real_browser() {
    // Chromium against the panel of the loaded module: the captured callback with its
    // transcript, its audio's duration equal to the recording's, the badge equal to the
    // pending count; Call Now rings agent 1001 for it (the simulator sees the originate),
    // the offer shows while the preview plays and Accept in the panel dials the customer,
    // the call completes and Mark Done stores the disposition; the schedule form creates a
    // callback `callback list` shows and the badge goes up by one without a reload; Done
    // closes a waiting one as done; with auto-play on, a second offer's recording plays as
    // soon as it is offered, and Reject gives it back; the finished call is moved to later
    // with the customer's new number.
    let script = repo_root().join("tests/browser/panel.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !need("panel browser test", "the whisper model", model().is_file())
        || !need("panel browser test", "node", node_works())
        || !need(
            "panel browser test",
            &format!("Chromium ({chromium})"),
            std::path::Path::new(&chromium).is_file(),
        )
        || !need(
            "panel browser test",
            "playwright-core (npm ci in tests/browser)",
            repo_root()
                .join("tests/browser/node_modules/playwright-core/package.json")
                .is_file(),
        )
    {
        return;
    }
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    // Agent 1001's phone plays the preview and nobody keys anything there: the decisions
    // come from the panel (Accept for the first call, Reject for the second); the customer
    // answers after 2 s.
    sim.endpoint("user/1001", Endpoint::Answer(2));
    sim.script("user/1001", vec![Act::Listen(60_000)]);
    sim.script("user/1001", vec![Act::Listen(60_000)]);
    sim.endpoint(
        &format!("sofia/gateway/pstn/{CUSTOMER}"),
        Endpoint::Answer(2),
    );
    let id = ivr_capture(&sim, CUSTOMER, "refund.wav");
    // A second recorded callback (auto-play, Reject) and a plain one (Done).
    let second = ivr_capture(&sim, "+12125550143", "delivery.wav");
    let spare = capture(&sim, "type=delayed delay=3h queue=support");
    // Tuesday's 12:00 slot (capacity 2) is full: greyed out in the grid.
    let full: Vec<i64> = (0..2)
        .map(|_| capture(&sim, "type=scheduled when=2026-11-24T12:00 queue=support"))
        .collect();
    wait_transcribed(&sim, id);
    let trace = show(&sim, id);
    let transcript = trace["request"]["transcript"]["text"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    let duration_ms = trace["request"]["recording"]["duration_ms"]
        .as_u64()
        .unwrap();
    assert!(duration_ms > 1000, "{trace}");
    let pending: Value = serde_json::from_str(&sim.api("callback json list")).unwrap();
    let pending = pending["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            ["requested", "scheduled", "rescheduled", "due"].contains(&c["state"].as_str().unwrap())
        })
        .count();
    assert_eq!(pending, 5);

    let dir = artifacts();
    let out = std::process::Command::new("node")
        .arg(&script)
        .args([&base, "alice", "alice-panel-pw"])
        .arg(&dir)
        .arg(id.to_string())
        .args(["sam", "sam-panel-pw1"])
        .args([second.to_string(), spare.to_string()])
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON from panel.mjs\nstdout: {stdout}\nstderr: {stderr}"));
    assert!(
        out.status.success() && seen.get("error").is_none(),
        "panel.mjs failed: {}\nstderr: {stderr}\nmodule log: {:#?}",
        serde_json::to_string_pretty(&seen).unwrap(),
        sim.logs().iter().rev().take(30).collect::<Vec<_>>()
    );
    println!("{}", serde_json::to_string_pretty(&seen).unwrap());

    // What the browser showed.
    assert_eq!(seen["user"], "alice (agent)");
    assert_eq!(
        seen["wrong_password_message"],
        "unknown user or wrong password"
    );
    assert_eq!(seen["transcript"].as_str().unwrap().trim(), transcript);
    assert!(
        transcript.to_lowercase().contains("charged"),
        "{transcript}"
    );
    let heard = seen["audio_duration"].as_f64().unwrap();
    assert!(
        (heard - duration_ms as f64 / 1000.0).abs() < 0.05,
        "the browser's duration {heard} s, the recording's {duration_ms} ms"
    );
    let seeked = seen["audio_seeked_to"].as_f64().unwrap();
    assert!(
        (seeked - heard / 2.0).abs() < 0.1,
        "seeked to {seeked} of {heard}"
    );
    assert_eq!(seen["badge_initial"].as_u64(), Some(pending as u64));
    assert_eq!(seen["rows_initial"].as_u64(), Some(pending as u64));
    assert!(full
        .iter()
        .all(|f| show(&sim, *f)["request"]["state"] == "scheduled"));
    assert!(
        seen["call_now_message"]
            .as_str()
            .unwrap()
            .contains("calling you now"),
        "{seen}"
    );

    // Call Now went through the dispatcher to this agent.
    let rung: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("originate ") && c.contains(&format!("callback_id={id},")))
        .collect();
    assert_eq!(rung.len(), 1, "{:#?}", sim.commands());
    assert!(
        rung[0].contains("}user/1001 &callback_agent("),
        "{}",
        rung[0]
    );
    // The offer was shown while the preview played; auto-play is off by default, so the
    // recording did not play; Accept was pressed on the agent's call as key 1.
    assert_eq!(seen["offer_number"], CUSTOMER);
    assert_eq!(seen["autoplay_default"], false);
    assert_eq!(seen["offer_audio_paused"], true);
    assert_eq!(seen["offer_autoplayed"], Value::Null);
    assert_eq!(
        seen["accept_message"],
        format!("Callback {id}: accepted, calling the customer.")
    );
    let pressed: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("uuid_recv_dtmf "))
        .collect();
    assert_eq!(pressed.len(), 2, "{pressed:?}");
    assert!(
        pressed[0].ends_with(" 1") && pressed[1].ends_with(" 9"),
        "{pressed:?}"
    );
    let t = show(&sim, id);
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "complete"),
        "{t}"
    );
    assert_eq!(t["request"]["agent"], "1001");
    // Then moved again after the call: 45 minutes later, on the number the customer gave.
    assert_eq!(seen["call_again_title"], "Call again (after the call)");
    assert_eq!(
        seen["call_again_message"],
        format!("Callback {id} rescheduled.")
    );
    assert_eq!(t["request"]["state"], "rescheduled");
    assert_eq!(t["request"]["number"], "+12125550177");
    assert_eq!(t["request"]["kind"], "delayed");
    let last = t["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["actor"].as_str()),
        (Some("completed"), Some("panel:alice")),
        "{last}"
    );

    // Done without a call: its own state.
    assert_eq!(
        seen["done_message"],
        format!("Callback {spare}: done without a call.")
    );
    assert_eq!(show(&sim, spare)["request"]["state"], "done");

    // Auto-play on: the second offer's recording played as soon as it was offered (the
    // preview was still playing on the phone); Reject gave it back, no customer attempt.
    assert_eq!(seen["autoplay_stored"], "on");
    assert_eq!(seen["autoplayed"].as_i64(), Some(second));
    assert_eq!(seen["autoplay_offer_state"], "the preview is playing");
    assert_eq!(seen["autoplay_audio_for"], second.to_string());
    assert_eq!(
        seen["reject_message"],
        format!("Callback {second}: rejected, back to the queue.")
    );
    let t2 = show(&sim, second);
    assert_eq!(t2["attempts"][0]["result"], "rejected", "{t2}");
    assert_eq!(t2["attempts"][0]["hangup_cause"], "AGENT_REJECTED");
    assert_eq!(t2["request"]["customer_attempts"], 0);
    let now_event = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "now")
        .unwrap_or_else(|| panic!("no 'now' event: {t}"));
    assert_eq!(now_event["actor"], "panel:alice");
    let customer = t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|a| a["leg"] == "customer")
        .unwrap();
    assert_eq!(customer["disposition"], "resolved");
    assert_eq!(customer["note"], "customer happy, from the browser test");

    // The schedule form: stored, listed by fs_cli, the badge followed by live update.
    let new_id = seen["scheduled_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("nothing scheduled: {seen}"));
    let listed = sim.api("callback list");
    let row = listed
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&new_id.to_string()))
        .unwrap_or_else(|| panic!("{new_id} not in callback list:\n{listed}"));
    assert!(
        row.contains("+12125550199") && row.contains("support"),
        "{row}"
    );
    let n = show(&sim, new_id);
    assert_eq!(n["request"]["kind"], "scheduled");
    assert_eq!(n["request"]["source"], "agent");
    assert_eq!(n["request"]["remark"], "booked in the panel");
    // Booked for 10:00 New York, then moved with the slot grid to 11:00.
    let labels: Vec<&str> = seen["slot_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(labels.contains(&"10:00 (1 left)"), "{labels:?}");
    assert!(labels.contains(&"11:00 (2 left)"), "{labels:?}");
    assert!(labels.contains(&"12:00 (0 left)"), "{labels:?}");
    assert_eq!(
        seen["slots_disabled"], 1,
        "the full 12:00 slot is greyed out"
    );
    assert_eq!(seen["slots_disabled_labels"][0], "12:00 (0 left)");
    assert_eq!(seen["reschedule_time"], "11:00");
    assert_eq!(
        seen["reschedule_message"],
        format!("Callback {new_id} rescheduled.")
    );
    assert_eq!(
        n["request"]["due_at"].as_str().unwrap(),
        format!("{}T16:00:00Z", seen["scheduled_date"].as_str().unwrap())
    );
    assert_eq!(n["request"]["state"], "rescheduled");
    assert_eq!(
        seen["badge_after"].as_u64().unwrap(),
        seen["badge_before"].as_u64().unwrap() + 1
    );
    assert!(
        seen["live_after"].as_u64().unwrap() > seen["live_before"].as_u64().unwrap(),
        "{seen}"
    );
    let shot = PathBuf::from(seen["screenshot"].as_str().unwrap());
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    println!("panel screenshot: {}", shot.display());

    // The supervisor's operator view: the support queue's counts and results of today,
    // agent 1001 away.
    let queues: Vec<&str> = seen["operator_queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    assert_eq!(queues.len(), 1, "sam's team only: {queues:?}");
    assert!(queues[0].starts_with("support"), "{queues:?}");
    // The scheduled one, the finished call moved again and the rejected one wait again;
    // the one done without a call is counted apart.
    assert!(queues[0].contains("rescheduled=3"), "{queues:?}");
    assert!(queues[0].contains("done=1"), "{queues:?}");
    assert!(queues[0].contains(", scheduled=2"), "{queues:?}");
    assert!(queues[0].contains("answered=1"), "{queues:?}");
    let agents = seen["operator_agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{agents:?}");
    // Set away by the browser after the Reject.
    assert!(
        agents[0].as_str().unwrap().starts_with("1001\taway"),
        "{agents:?}"
    );
    println!(
        "operator screenshot: {}",
        seen["operator_screenshot"].as_str().unwrap()
    );
}

#[test]
fn reschedule_reassign_wrap_up_operator_view_and_live_updates() {
    // The slot grid greys out a full slot and a reschedule into it is 409 with nothing
    // moved; a reschedule in another zone means that instant; reassign is the
    // supervisor's; bad after-call input is 400 naming the field; the operator view counts
    // by state and lists overdue callbacks and agents; the event stream says "changed"
    // after a change.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let sam = Client::login(&base, "sam", "sam-panel-pw1");

    // Live updates: the stream greets, then reports the next change.
    let events = ureq::get(&format!("{base}/panel/api/events"))
        .set("Cookie", alice.cookie.as_deref().unwrap())
        .call()
        .unwrap();
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(events.into_reader()));
    let mut next_event = move || -> String {
        loop {
            let l = lines.next().unwrap().unwrap();
            if let Some(e) = l.strip_prefix("event: ") {
                return e.to_string();
            }
        }
    };
    assert_eq!(next_event(), "hello");
    let id = capture(&sim, "type=delayed delay=2h queue=support");
    assert_eq!(next_event(), "changed");

    // Two callbacks fill Tuesday's 10:00 slot (capacity 2) in New York.
    for n in ["+12125550150", "+12125550151"] {
        let r = alice.post(
            "/panel/api/callbacks",
            &format!(r#"{{"number":"{n}","date":"2026-11-24","time":"10:00","time_zone":"America/New_York"}}"#),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["callback"]["due_at"], "2026-11-24T15:00:00Z");
    }
    let grid = alice
        .get("/panel/api/availability?queue=support&date=2026-11-24&time_zone=America/New_York")
        .json();
    let slot = |start: &str| {
        grid["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["start"] == start)
            .unwrap_or_else(|| panic!("no slot {start}: {grid}"))["state"]
            .clone()
    };
    assert_eq!(slot("2026-11-24T15:00:00Z"), "full");
    assert_eq!(slot("2026-11-24T16:00:00Z"), "available");
    let before = show(&sim, id)["request"]["due_at"].clone();
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/reschedule"),
        r#"{"date":"2026-11-24","time":"10:00","time_zone":"America/New_York"}"#,
    );
    assert_eq!((r.status, r.code().as_str()), (400, "slot-full"));
    assert_eq!(show(&sim, id)["request"]["due_at"], before);
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/reschedule"),
        r#"{"date":"2026-11-24","time":"18:00","time_zone":"Europe/Berlin"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["due_at"], "2026-11-24T17:00:00Z");
    assert_eq!(r.json()["callback"]["time_zone"], "America/New_York");

    // Reassign: the supervisor's, not the agent's.
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":"1001"}"#,
    );
    assert_eq!(r.status, 403);
    let r = sam.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":"1001"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(show(&sim, id)["request"]["agent"], "1001");
    let r = sam.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":"9999"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("agent"))
    );
    let r = sam.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":null,"queue":"sales"}"#,
    );
    assert_eq!(r.status, 403, "sales is not one of sam's teams");
    assert_eq!(show(&sim, id)["request"]["agent"], "1001");
    let r = sam.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":null}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(show(&sim, id)["request"]["agent"], Value::Null);
    assert_eq!(show(&sim, id)["request"]["queue"], "support");
    // An admin sees every queue and moves it to the sales team.
    let ada = Client::login(&base, "ada", "ada-panel-pw1");
    let r = ada.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":"2001","queue":"sales"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let moved = show(&sim, id)["request"].clone();
    assert_eq!(
        (moved["queue"].as_str(), moved["agent"].as_str()),
        (Some("sales"), Some("2001"))
    );
    assert_eq!(alice.get(&format!("/panel/api/callbacks/{id}")).status, 404);
    let r = ada.post(
        &format!("/panel/api/callbacks/{id}/assign"),
        r#"{"agent":null,"queue":"support"}"#,
    );
    assert_eq!(r.status, 200);

    // After-call input is checked before anything is written.
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/wrap-up"),
        r#"{"disposition":"happy"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("disposition"))
    );
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/wrap-up"),
        r#"{"disposition":"resolved","do_not_call":true}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("attempt"))
    );
    assert!(!sim.api("callback dnc list").contains(CUSTOMER));

    // The operator view: counts, overdue once the clock passes the due time, agents.
    let o = sam.get("/panel/api/operator").json();
    let support = o["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "support")
        .unwrap()
        .clone();
    assert_eq!(support["states"]["scheduled"], 2, "{o}");
    assert_eq!(support["states"]["rescheduled"], 1, "{o}");
    assert!(
        o["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["name"] != "sales"),
        "sam's teams only: {o}"
    );
    assert_eq!(o["overdue"].as_array().unwrap().len(), 0);
    let agents: Vec<(String, String)> = o["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(agents, vec![("1001".to_string(), "away".to_string())]);
    sim.set_clock(Utc.with_ymd_and_hms(2026, 11, 24, 15, 30, 0).unwrap());
    let o = sam.get("/panel/api/operator").json();
    let overdue: Vec<i64> = o["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(overdue.len(), 2, "the two 10:00 callbacks: {o}");
    assert!(!overdue.contains(&id));
    let me = alice.get("/panel/api/me").json();
    assert_eq!(me["may"]["cancel"], false);
    assert_eq!(me["agent"]["state"], "away");
    let r = alice.post("/panel/api/me/state", r#"{"ready":"yes"}"#);
    assert_eq!(r.status, 400);
}

#[test]
fn the_review_fixes_hold_over_http() {
    // Call Now on another agent's callback needs reassign; schedule checks the agent
    // exists and serves the queue; a long user name is refused before the limiter; bad
    // ranges are ignored (200), several ranges too; a session holds at most four live
    // streams; a purge does not bring months-old callbacks back into "recent".
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let sam = Client::login(&base, "sam", "sam-panel-pw1");

    // Personal to agent 2001 but in alice's team: she sees it, may not take it over.
    let theirs = capture(&sim, "type=delayed delay=2h queue=support agent=2001");
    assert_eq!(show(&sim, theirs)["request"]["agent"], "2001");
    let r = alice.post(&format!("/panel/api/callbacks/{theirs}/call-now"), "");
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    assert_eq!(show(&sim, theirs)["request"]["agent"], "2001");
    assert_eq!(show(&sim, theirs)["request"]["state"], "scheduled");

    // Schedule: an agent that does not exist, or does not serve the queue, is a 400 on
    // `agent`, and nothing is stored.
    let before = sim.api("callback list");
    for agent in ["bogus", "2001"] {
        let r = sam.post(
            "/panel/api/callbacks",
            &format!(r#"{{"number":"+12125550160","queue":"support","agent":"{agent}"}}"#),
        );
        assert_eq!(
            (r.status, r.json()["error"]["field"].as_str()),
            (400, Some("agent")),
            "{agent}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(sim.api("callback list"), before);
    let r = sam.post(
        "/panel/api/callbacks",
        r#"{"number":"+12125550160","queue":"support","agent":"1001"}"#,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // A user name longer than 64 characters never reaches the limiter.
    let long = "a".repeat(65);
    let r = Client::new(&base).post(
        "/panel/api/login",
        &format!(r#"{{"user":"{long}","password":"x"}}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("user"))
    );

    // Ranges: invalid, another unit, several: the whole file (RFC 9110).
    let id = ivr_capture(&sim, "+12125550170", "refund.wav");
    let path = format!("/panel/api/callbacks/{id}/recording");
    let whole = alice.get(&path);
    assert_eq!(whole.status, 200);
    for range in ["bytes=5-4", "bytes=0-0,-1", "items=0-1", "bytes=x-"] {
        let r = alice.call("GET", &path, None, &[("Range", range)]);
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, whole.body, "{range}");
        assert_eq!(r.header("content-range"), None, "{range}");
    }
    let r = alice.call("GET", &path, None, &[("Range", "bytes=-0")]);
    assert_eq!(r.status, 416);

    // At most four live streams per session.
    // The status, and the open stream when it was served.
    let open = |c: &Client| match ureq::get(&format!("{base}/panel/api/events"))
        .set("Cookie", c.cookie.as_deref().unwrap())
        .call()
    {
        Ok(r) => (r.status(), Some(r)),
        Err(ureq::Error::Status(s, _)) => (s, None),
        Err(e) => panic!("events: {e}"),
    };
    let streams: Vec<_> = (0..4).map(|_| open(&alice)).collect();
    assert!(streams.iter().all(|(s, _)| *s == 200));
    assert_eq!(open(&alice).0, 429, "a fifth stream");
    assert_eq!(open(&sam).0, 200, "another session has its own streams");
    drop(streams);

    // A purge of a callback finished long ago leaves it out of "recent".
    let r = sam.post(&format!("/panel/api/callbacks/{id}/cancel"), "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let recent = |c: &Client| -> Vec<i64> {
        c.get("/panel/api/callbacks").json()["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert!(recent(&alice).contains(&id));
    sim.set_clock(Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap());
    assert!(!recent(&alice).contains(&id));
    let out = sim.api(&format!("callback purge {id}"));
    assert_eq!(show(&sim, id)["request"]["recording"], Value::Null, "{out}");
    assert!(!recent(&alice).contains(&id), "purged, not finished again");
    // The badge counts in SQL what the list shows.
    let list = alice.get("/panel/api/callbacks").json();
    let pending = list["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["pending"] == true)
        .count();
    assert_eq!(list["pending"], pending as u64, "{list}");
}

#[test]
fn the_panels_schedule_reschedule_and_call_now_hold_the_caps() {
    // Schedule a third waiting callback for a number: 409; reschedule past the horizon:
    // named; Call Now on a number the deny-list covers: refused; nothing changes.
    let sim = sim();
    let text = std::fs::read_to_string(repo_root().join(CONF))
        .unwrap()
        .replace(
            r#"<param name="max-pending-per-number" value="0"/>"#,
            r#"<param name="max-pending-per-number" value="2"/>
    <param name="deny-prefixes" value="+1900"/>"#,
        );
    let conf = std::env::temp_dir().join(format!("panel-caps-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    let m = load_with_config(&conf).unwrap_or_else(|e| panic!("load failed: {e}"));
    let base = http_base(&sim);
    let sam = Client::login(&base, "sam", "sam-panel-pw1");
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    // Tomorrow, so nothing falls due while alice is ready below.
    let form = |hour: u32| {
        format!(
            r#"{{"number":"+12125550161","queue":"support","date":"2026-11-24","time":"{hour}:00"}}"#
        )
    };
    for hour in [10, 11] {
        let r = sam.post("/panel/api/callbacks", &form(hour));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let before = sim.api("callback list");
    let r = sam.post("/panel/api/callbacks", &form(12));
    assert_eq!((r.status, r.code().as_str()), (409, "too-many-pending"));
    assert_eq!(sim.api("callback list"), before);

    let id = capture(&sim, "type=delayed delay=2h queue=support");
    let due = show(&sim, id)["request"]["due_at"].clone();
    let r = sam.post(
        &format!("/panel/api/callbacks/{id}/reschedule"),
        r#"{"date":"2027-06-01","time":"10:00"}"#,
    );
    assert_eq!((r.status, r.code().as_str()), (400, "beyond-horizon"));
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("beyond the booking horizon"), "{message}");
    assert_eq!(show(&sim, id)["request"]["due_at"], due);

    // A number denied since it was stored: Call Now refuses to make it due.
    let db = m.scratch.clone().unwrap().join("callback.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        &format!("UPDATE callbacks SET number = '+19005550142' WHERE id = {id}"),
        [],
    )
    .unwrap();
    let r = alice.post("/panel/api/me/state", r#"{"ready":true}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = alice.post(&format!("/panel/api/callbacks/{id}/call-now"), "");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"]["field"], "number");
    assert_eq!(show(&sim, id)["request"]["state"], "scheduled");
    assert_eq!(show(&sim, id)["request"]["due_at"], due);
    let _ = std::fs::remove_file(conf);
}

/// Waits (up to 10 s of real time) until callback `id` is in `want`.
fn wait_state(sim: &Sim, id: i64, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = show(sim, id);
        if t["request"]["state"] == want {
            return t;
        }
        assert!(Instant::now() < deadline, "{id} never reached {want}: {t}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The panel configuration with `support` given `rescheduled-callbacks=<rule>`.
fn load_with_rule(rule: &str) -> Loaded {
    let text = std::fs::read_to_string(repo_root().join(CONF)).unwrap();
    let from = r#"<param name="slot-capacity" value="2"/>"#;
    assert!(text.contains(from));
    let text = text.replace(
        from,
        &format!(r#"{from}<param name="rescheduled-callbacks" value="{rule}"/>"#),
    );
    let path = std::env::temp_dir().join(format!("panel-{rule}-{}.conf.xml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let m = load_with_config(&path).unwrap_or_else(|e| panic!("load failed: {e}"));
    let _ = std::fs::remove_file(&path);
    m
}

#[test]
fn the_panels_reschedule_sets_the_type_moves_a_finished_call_and_marks_done() {
    // The reschedule form's type: immediate (due now), delayed by N minutes, scheduled at
    // a date and time, each stored as the callback's type; a bad type or a delay without
    // minutes is 400 naming the field and moves nothing. After the call the agent moves
    // the completed callback to later with the customer's new number; Done closes a
    // waiting one as `done`, not cancelled; neither reopens a cancelled one.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let id = capture(&sim, "type=delayed delay=2h queue=support");
    let move_it = |body: &str| alice.post(&format!("/panel/api/callbacks/{id}/reschedule"), body);

    let r = move_it(r#"{"type":"immediate"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["type"], "immediate");
    assert_eq!(r.json()["callback"]["due_at"], "2026-11-23T14:00:00Z");
    let r = move_it(r#"{"type":"delayed","delay_minutes":30}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["type"], "delayed");
    assert_eq!(r.json()["callback"]["due_at"], "2026-11-23T14:30:00Z");
    let r = move_it(r#"{"type":"scheduled","date":"2026-11-24","time":"11:00"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["type"], "scheduled");
    assert_eq!(r.json()["callback"]["due_at"], "2026-11-24T16:00:00Z");
    let before = show(&sim, id)["request"].clone();
    for (body, field) in [
        (r#"{"type":"soon"}"#, "type"),
        (r#"{"type":"delayed"}"#, "delay_minutes"),
        (r#"{"type":"delayed","delay_minutes":0}"#, "delay_minutes"),
        (r#"{"type":"scheduled"}"#, "date"),
    ] {
        let r = move_it(body);
        assert_eq!(
            (r.status, r.json()["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(show(&sim, id)["request"], before);
    // The trace names the type change.
    let t = show(&sim, id);
    assert!(
        t["events"].as_array().unwrap().iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("type immediate"))),
        "{t}"
    );

    // Done: not cancelled, and final.
    let r = alice.post(&format!("/panel/api/callbacks/{id}/done"), "{}");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["state"], "done");
    let r = move_it(r#"{"type":"immediate"}"#);
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "invalid-state"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(show(&sim, id)["request"]["state"], "done");

    // A call that happened: alice takes it (key 1), the customer answers.
    sim.endpoint("user/1001", Endpoint::Answer(2));
    sim.script("user/1001", vec![Act::Press("1".into())]);
    sim.endpoint("sofia/gateway/pstn/+12125550142", Endpoint::Answer(3));
    let call = capture(&sim, "type=immediate queue=support");
    let r = alice.post("/panel/api/me/state", r#"{"ready":true}"#);
    assert_eq!(r.status, 200);
    wait_state(&sim, call, "completed");
    // Only the agent's own moves: a number that is not one is refused, nothing moves.
    let r = alice.post(
        &format!("/panel/api/callbacks/{call}/reschedule"),
        r#"{"type":"delayed","delay_minutes":60,"number":"12"}"#,
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(show(&sim, call)["request"]["state"], "completed");
    let r = alice.post(
        &format!("/panel/api/callbacks/{call}/reschedule"),
        r#"{"type":"delayed","delay_minutes":60,"number":"(212) 555-0177"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let c = &r.json()["callback"];
    assert_eq!(c["state"], "rescheduled");
    assert_eq!(c["number"], "+12125550177");
    assert_eq!(c["type"], "delayed");
    let t = show(&sim, call);
    let e = t["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(e["from"], "completed");
    assert_eq!(e["actor"], "panel:alice");
    assert!(
        e["detail"].as_str().unwrap().contains("after the call"),
        "{e}"
    );

    // A cancelled callback stays cancelled.
    let gone = capture(&sim, "type=delayed delay=3h queue=support");
    assert!(sim
        .api(&format!("callback cancel {gone}"))
        .starts_with("+OK"));
    let r = alice.post(
        &format!("/panel/api/callbacks/{gone}/reschedule"),
        r#"{"type":"immediate"}"#,
    );
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let r = alice.post(&format!("/panel/api/callbacks/{gone}/done"), "{}");
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(show(&sim, gone)["request"]["state"], "cancelled");
}

#[test]
fn a_queues_rule_makes_the_panels_reschedules_personal_or_campaign() {
    // agent-choice (the default): the agent picks personal or campaign; personal needs an
    // agent login. A queue forcing personal makes every agent's reschedule personal and
    // refuses campaign naming the rule; one forcing campaign lets a personal callback go
    // to the team. /panel/api/me says the rule, for the form.
    let sim = sim();
    let m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let sam = Client::login(&base, "sam", "sam-panel-pw1");
    let me = alice.get("/panel/api/me").json();
    assert_eq!(
        me["queues"][0]["rescheduled_callbacks"], "agent-choice",
        "{me}"
    );
    let id = capture(&sim, "type=delayed delay=2h queue=support");
    let path = format!("/panel/api/callbacks/{id}/reschedule");
    let r = alice.post(
        &path,
        r#"{"type":"delayed","delay_minutes":45,"routing":"personal"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["callback"]["agent"], "1001");
    let r = alice.post(&path, r#"{"type":"delayed","delay_minutes":50}"#);
    assert_eq!(r.json()["callback"]["agent"], "1001", "no choice keeps it");
    let r = alice.post(
        &path,
        r#"{"type":"delayed","delay_minutes":55,"routing":"campaign"}"#,
    );
    assert_eq!(r.json()["callback"]["agent"], Value::Null);
    let r = sam.post(
        &path,
        r#"{"type":"delayed","delay_minutes":60,"routing":"personal"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("routing"))
    );
    let r = alice.post(
        &path,
        r#"{"type":"delayed","delay_minutes":60,"routing":"mine"}"#,
    );
    assert_eq!(r.status, 400);
    drop(m);
    drop(sim);

    for rule in ["personal", "campaign"] {
        let sim = self::sim();
        let _m = load_with_rule(rule);
        let base = http_base(&sim);
        let alice = Client::login(&base, "alice", "alice-panel-pw");
        let me = alice.get("/panel/api/me").json();
        let support = me["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "support")
            .unwrap()
            .clone();
        assert_eq!(support["rescheduled_callbacks"], rule);
        let args = if rule == "campaign" {
            "type=delayed delay=2h queue=support agent=1001"
        } else {
            "type=delayed delay=2h queue=support"
        };
        let id = capture(&sim, args);
        let path = format!("/panel/api/callbacks/{id}/reschedule");
        let other = if rule == "personal" {
            "campaign"
        } else {
            "personal"
        };
        let r = alice.post(
            &path,
            &format!(r#"{{"type":"delayed","delay_minutes":45,"routing":"{other}"}}"#),
        );
        assert_eq!(
            (r.status, r.json()["error"]["field"].as_str()),
            (400, Some("routing")),
            "{rule}"
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("a {rule} callback")),
            "{}",
            r.json()
        );
        let r = alice.post(&path, r#"{"type":"delayed","delay_minutes":45}"#);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let want = if rule == "personal" {
            Value::from("1001")
        } else {
            Value::Null
        };
        assert_eq!(r.json()["callback"]["agent"], want, "{rule}");
    }
}

/// Polls the user's list until callback `id` is offered to them in `state` (bounded).
fn wait_offer(c: &Client, id: i64, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = c.get("/panel/api/callbacks").json();
        if l["offer"]["id"] == id && l["offer"]["state"] == state {
            return l["offer"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{id} never offered ({state}): {l}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_panels_accept_and_reject_reach_the_preview_on_the_agents_phone() {
    // While the preview plays on agent 1001's phone (nothing keyed there), the panel shows
    // the offer to alice; her Accept is pressed on that call as key 1 (uuid_recv_dtmf) and
    // the customer is dialled; her Reject on the next offer is key 9: back to the queue,
    // no customer attempt used. Nobody else can decide it, a bad decision is 400, and a
    // callback not offered is 409.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    let sam = Client::login(&base, "sam", "sam-panel-pw1");
    let customer = format!("sofia/gateway/pstn/{CUSTOMER}");
    sim.endpoint("user/1001", Endpoint::Answer(2));
    sim.endpoint(&customer, Endpoint::Answer(2));
    sim.script("user/1001", vec![Act::Listen(15_000)]);
    let waiting = capture(&sim, "type=delayed delay=3h queue=support");
    let r = alice.post(
        &format!("/panel/api/callbacks/{waiting}/offer"),
        r#"{"decision":"accept"}"#,
    );
    assert_eq!((r.status, r.code().as_str()), (409, "not-offered"));
    assert_eq!(show(&sim, waiting)["request"]["state"], "scheduled");

    let id = capture(&sim, "type=immediate queue=support");
    assert_eq!(
        alice
            .post("/panel/api/me/state", r#"{"ready":true}"#)
            .status,
        200
    );
    let offer = wait_offer(&alice, id, "previewing");
    assert_eq!(offer["number"], CUSTOMER);
    let path = format!("/panel/api/callbacks/{id}/offer");
    let r = sam.post(&path, r#"{"decision":"accept"}"#);
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("agent"))
    );
    let r = alice.post(&path, r#"{"decision":"later"}"#);
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (400, Some("decision"))
    );
    assert_eq!(show(&sim, id)["request"]["state"], "previewing");
    let r = alice.post(&path, r#"{"decision":"accept"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["delivered"], "pressed");
    let t = wait_state(&sim, id, "completed");
    let acts: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        acts,
        [
            "created",
            "claim",
            "offer",
            "preview",
            "dial",
            "connected",
            "complete"
        ]
    );
    let agent_uuid = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .expect("the agent's call")
        .uuid();
    let pressed: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("uuid_recv_dtmf "))
        .collect();
    assert_eq!(pressed.len(), 1, "{pressed:?}");
    assert!(pressed[0].ends_with(" 1"), "{pressed:?}");
    assert_eq!(pressed[0], format!("uuid_recv_dtmf {agent_uuid} 1"));

    // Reject: key 9 on the call, the callback goes back without a customer attempt.
    sim.script("user/1001", vec![Act::Listen(15_000)]);
    let next = capture(&sim, "type=immediate queue=support");
    wait_offer(&alice, next, "previewing");
    let r = alice.post(
        &format!("/panel/api/callbacks/{next}/offer"),
        r#"{"decision":"reject"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Away at once, so it is not offered to her again meanwhile.
    alice.post("/panel/api/me/state", r#"{"ready":false}"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let t = show(&sim, next);
        if t["attempts"][0]["result"] == "rejected" {
            break t;
        }
        assert!(Instant::now() < deadline, "never rejected: {t}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(t["attempts"][0]["hangup_cause"], "AGENT_REJECTED");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert!(!t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["leg"] == "customer"));
    let pressed: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("uuid_recv_dtmf "))
        .collect();
    assert!(pressed.last().unwrap().ends_with(" 9"), "{pressed:?}");
}

#[test]
fn the_panels_decision_while_the_phone_rings() {
    // Agent 1001's phone rings (real time): alice's Accept in the panel is kept and, as
    // soon as she answers, the customer is dialled without the preview menu; her Reject on
    // the next offer hangs the ringing leg up (uuid_kill ... CALL_REJECTED) and the
    // callback goes back to the queue, no customer attempt used.
    let sim = sim();
    let _m = load();
    let base = http_base(&sim);
    let alice = Client::login(&base, "alice", "alice-panel-pw");
    sim.endpoint("user/1001", Endpoint::Rings(2_000));
    sim.endpoint(
        &format!("sofia/gateway/pstn/{CUSTOMER}"),
        Endpoint::Answer(2),
    );
    let id = capture(&sim, "type=immediate queue=support");
    assert_eq!(
        alice
            .post("/panel/api/me/state", r#"{"ready":true}"#)
            .status,
        200
    );
    wait_offer(&alice, id, "offering");
    let r = alice.post(
        &format!("/panel/api/callbacks/{id}/offer"),
        r#"{"decision":"accept"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["delivered"], "when-answered");
    let t = wait_state(&sim, id, "completed");
    let agent_call = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .expect("the agent's call");
    let apps = agent_call.apps.lock().unwrap().clone();
    assert!(
        !apps.iter().any(|(a, _)| a == "play_and_get_digits"),
        "the menu was not needed: {apps:?}"
    );
    assert!(apps.iter().any(|(a, _)| a == "bridge"), "{apps:?}");
    assert_eq!(t["attempts"][1]["leg"], "customer");

    // Reject while it rings: the ringing leg is hung up.
    sim.endpoint("user/1001", Endpoint::Rings(30_000));
    let next = capture(&sim, "type=immediate queue=support");
    wait_offer(&alice, next, "offering");
    let r = alice.post(
        &format!("/panel/api/callbacks/{next}/offer"),
        r#"{"decision":"reject"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["delivered"], "ringing-stopped");
    alice.post("/panel/api/me/state", r#"{"ready":false}"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let t = show(&sim, next);
        if !t["attempts"][0]["ended_at"].is_null() {
            break t;
        }
        assert!(Instant::now() < deadline, "the ringing never ended: {t}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(t["attempts"][0]["hangup_cause"], "CALL_REJECTED");
    assert_eq!(t["attempts"][0]["result"], "rejected");
    assert_eq!(t["request"]["customer_attempts"], 0);
    let kills: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("uuid_kill "))
        .collect();
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert!(kills[0].ends_with(" CALL_REJECTED"), "{kills:?}");
}
