//! What a callback carries from the doors that capture it, through the loaded
//! mod_callback.so: the customer's window (`callback_capture`, fs_cli, the IVR), legal
//! calling hours in the customer's zone that retries never break, the IVR data a custom
//! dialplan gathered, and the number's type.
//!
//! The configuration is the dispatcher tests' (fixtures/config/dispatch.conf.xml): queue
//! `support` in New York, always open, agents 1001 and 1002.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{load_with_config, repo_root, show, wait_state};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use std::path::PathBuf;

const CONF: &str = "fixtures/config/dispatch.conf.xml";
const CUSTOMER: &str = "+12125550142";
const CUSTOMER_DIAL: &str = "sofia/gateway/pstn/+12125550142";

/// Monday 2026-11-23 14:00 UTC: 09:00 in New York.
fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

fn load(conf: &std::path::Path) -> Loaded {
    load_with_config(conf).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// The dispatch configuration with each `from` replaced by `to`, in a file named by `tag`.
fn conf_with(tag: &str, edits: &[(&str, &str)]) -> PathBuf {
    conf_from(CONF, tag, edits)
}

/// Configuration `base` with each `from` replaced by `to`, in a file named by `tag`.
fn conf_from(base: &str, tag: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo_root().join(base)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from} not in {base}");
        text = text.replace(from, to);
    }
    let path = std::env::temp_dir().join(format!(
        "capture-doors-{tag}-{}.conf.xml",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `callback_capture args` on a new call from the customer; the call's uuid.
fn capture_call(sim: &Sim, args: &str) -> String {
    let call = sim.new_call(CUSTOMER);
    sim.execute(&call, "callback_capture", args);
    call
}

fn capture(sim: &Sim, args: &str) -> i64 {
    let call = capture_call(sim, args);
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{args}: {:?}",
        sim.var(&call, "callback_error")
    );
    sim.var(&call, "callback_id").unwrap().parse().unwrap()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().map(|s| s.parse().unwrap())
}

fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

fn last_event(t: &Value) -> Value {
    t["events"].as_array().unwrap().last().unwrap().clone()
}

fn agent_answers(sim: &Sim, agent: &str, keys: &[&str]) {
    sim.endpoint(&format!("user/{agent}"), Endpoint::Answer(2));
    sim.script(
        &format!("user/{agent}"),
        keys.iter().map(|k| Act::Press(k.to_string())).collect(),
    );
}

#[test]
fn callback_capture_takes_the_customers_window() {
    // from/until on callback_capture are read in the queue's zone; the due time waits for
    // the window's start; a window that ends before it starts, or a bad time, is refused.
    let sim = sim();
    let _m = load(&repo_root().join(CONF));
    let id = capture(&sim, "delay=5m from='today 15:00' until='today 16:30'");
    let r = show(&sim, id)["request"].clone();
    // 15:00 and 16:30 in New York are 20:00 and 21:30 UTC.
    assert_eq!(time(&r["window"]["from"]), Some(utc(23, 20, 0)), "{r}");
    assert_eq!(time(&r["window"]["until"]), Some(utc(23, 21, 30)), "{r}");
    assert_eq!(time(&r["due_at"]), Some(utc(23, 20, 0)), "{r}");
    for (args, names) in [
        ("from='today 16:00' until='today 15:00'", "window"),
        ("until=teatime", "until"),
        ("from='yesterday 09:00'", "from"),
    ] {
        let call = capture_call(&sim, args);
        assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
        let e = sim.var(&call, "callback_error").unwrap_or_default();
        assert!(e.contains(names), "{args}: {e}");
    }
    assert!(sim.api("callback list").starts_with("+OK 1 callback(s)"));
}

#[test]
fn fs_cli_sets_and_clears_the_window_of_a_waiting_callback() {
    // `callback window <id> <from> to <until>` in the callback's zone moves a due time
    // before the start to it; bad words are refused with the usage and change nothing.
    let sim = sim();
    let _m = load(&repo_root().join(CONF));
    let id = capture(&sim, "delay=30m");
    let reply = sim.api(&format!("callback window {id} today 13:00 to today 17:00"));
    assert!(reply.starts_with(&format!("+OK callback {id} rescheduled, window 2026-11-23 18:00:00Z .. 2026-11-23 22:00:00Z, due 2026-11-23 18:00:00Z")), "{reply}");
    let t = show(&sim, id);
    assert_eq!(time(&t["request"]["window"]["until"]), Some(utc(23, 22, 0)));
    let e = last_event(&t);
    assert_eq!(e["action"], "window");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("2026-11-23 13:00 EST"),
        "{e}"
    );
    for bad in [
        format!("callback window {id} tomorrow 09:00"),
        format!("callback window {id} today 17:00 to today 16:00"),
        format!("callback window {id} - to today 08:00"),
        format!("callback window {id} soon to later"),
    ] {
        let reply = sim.api(&bad);
        assert!(reply.starts_with("-ERR"), "{bad}: {reply}");
    }
    assert_eq!(
        time(&show(&sim, id)["request"]["window"]["until"]),
        Some(utc(23, 22, 0))
    );
    let reply = sim.api(&format!("callback window {id} - to tomorrow 12:00"));
    assert!(
        reply.contains("window - .. 2026-11-24 17:00:00Z"),
        "{reply}"
    );
    let reply = sim.api(&format!("callback window {id} clear"));
    assert!(reply.contains("window - .. -"), "{reply}");
    let shown = sim.api(&format!("callback show {id}"));
    assert!(shown.contains("window:    - .. -"), "{shown}");
}

/// The dispatch configuration with US legal calling hours 08:00-21:00 and retries after
/// 15 minutes.
fn legal_conf(tag: &str) -> PathBuf {
    conf_with(
        tag,
        &[
            (
                "<param name=\"retry-delays\" value=\"5m\"/>",
                "<param name=\"retry-delays\" value=\"15m\"/>",
            ),
            (
                "  <agents>",
                "  <legal-hours>\n    <country name=\"US\"><param name=\"hours\" value=\"mon-sun 08:00-21:00\"/></country>\n  </legal-hours>\n  <agents>",
            ),
        ],
    )
}

#[test]
fn a_retry_that_would_land_outside_legal_hours_moves_to_the_next_lawful_time() {
    // 20:50 in New York: the customer does not answer; the retry 15 minutes on would be
    // 21:05, after the US calling hours, so it is due at 08:00 the next morning (New
    // York), though the queue itself is always open.
    let sim = sim();
    sim.set_clock(utc(24, 1, 50));
    let conf = legal_conf("retry");
    let _m = load(&conf);
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::NoAnswer);
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    let e = last_event(&t);
    assert_eq!(e["action"], "retry", "{t}");
    assert_eq!(time(&t["request"]["due_at"]), Some(utc(24, 13, 0)), "{t}");
    assert!(e["detail"].as_str().unwrap().contains("moved from"), "{e}");
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_callback_asked_for_outside_legal_hours_is_due_at_the_next_lawful_time_or_refused() {
    // 22:00 in New York: an immediate callback is booked due at 08:00 (the legal hours in
    // the customer's zone), the time the caller is told, and is not rung before; a time
    // the caller chose at 22:30, or a window ending at 23:00, is refused naming the legal
    // hours, and nothing is stored.
    let sim = sim();
    sim.set_clock(utc(24, 3, 0));
    let conf = legal_conf("booking");
    let _m = load(&conf);
    let call = capture_call(&sim, "type=immediate");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let due: i64 = sim
        .var(&call, "callback_due_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due, utc(24, 13, 0).timestamp());
    let id: i64 = sim.var(&call, "callback_id").unwrap().parse().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(show(&sim, id)["request"]["state"], "scheduled");
    assert!(sim.commands().iter().all(|c| !c.starts_with("originate ")));
    for (args, says) in [
        (
            "when='today 22:30'",
            "outside the legal calling hours in the customer's time zone (America/New_York)",
        ),
        ("type=immediate until='today 23:00'", "legal calling hours"),
    ] {
        let call = capture_call(&sim, args);
        assert_eq!(
            sim.var(&call, "callback_result").as_deref(),
            Some("ERR"),
            "{args}"
        );
        let e = sim.var(&call, "callback_error").unwrap_or_default();
        assert!(e.contains(says), "{args}: {e}");
    }
    assert!(sim.api("callback list").starts_with("+OK 1 callback(s)"));
    let _ = std::fs::remove_file(conf);
}

/// A panel session over HTTP: logs in as `user`, then posts JSON with the change header.
struct Panel {
    base: String,
    cookie: String,
}

impl Panel {
    fn login(base: &str, user: &str, password: &str) -> Self {
        let r = ureq::post(&format!("{base}/panel/api/login"))
            .set("X-Callback-Panel", "1")
            .set("Content-Type", "application/json")
            .send_string(&format!(r#"{{"user":"{user}","password":"{password}"}}"#))
            .unwrap();
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
        Self {
            base: base.to_string(),
            cookie: cookie.to_string(),
        }
    }

    /// JSON body of a GET that must succeed.
    fn get(&self, path: &str) -> Value {
        ureq::get(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie)
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// Status and JSON body of a POST.
    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = ureq::post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie)
            .set("X-Callback-Panel", "1")
            .set("Content-Type", "application/json")
            .send_string(body);
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {path}: {e}"),
        };
        (r.status(), r.into_json().unwrap_or(Value::Null))
    }
}

#[test]
fn the_panels_schedule_and_window_forms_set_the_window() {
    // The schedule form's Call from/until (datetime-local, the customer's zone) and the
    // detail's window form set the window; a bad field is a 400 naming it that changes
    // nothing.
    let sim = sim();
    let _m = load(&repo_root().join("fixtures/config/panel.conf.xml"));
    let base = callback_simulator::scenario::http_base(&sim);
    let sam = Panel::login(&base, "sam", "sam-panel-pw1");
    let (status, body) = sam.post(
        "/panel/api/callbacks",
        r#"{"number":"+12125550143","queue":"support","window_from":"2026-11-23T13:00","window_until":"2026-11-23T15:00"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let id = body["callback"]["id"].as_i64().unwrap();
    let r = show(&sim, id)["request"].clone();
    assert_eq!(time(&r["window"]["from"]), Some(utc(23, 18, 0)), "{r}");
    assert_eq!(time(&r["window"]["until"]), Some(utc(23, 20, 0)), "{r}");
    let (status, body) = sam.post(
        &format!("/panel/api/callbacks/{id}/window"),
        r#"{"from":"","until":"2026-11-24T12:00"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["window"]["from"], Value::Null);
    assert_eq!(time(&r["window"]["until"]), Some(utc(24, 17, 0)));
    for (path, form, field) in [
        (
            format!("/panel/api/callbacks/{id}/window"),
            r#"{"from":"tomorrow","until":""}"#,
            "window_from",
        ),
        (
            format!("/panel/api/callbacks/{id}/window"),
            r#"{"from":"2026-11-24T12:00","until":"2026-11-24T11:00"}"#,
            "window",
        ),
        (
            "/panel/api/callbacks".to_string(),
            r#"{"number":"+12125550144","window_until":"24.11.2026 12:00"}"#,
            "window_until",
        ),
    ] {
        let (status, body) = sam.post(&path, form);
        assert_eq!(status, 400, "{form}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    assert_eq!(
        time(&show(&sim, id)["request"]["window"]["until"]),
        Some(utc(24, 17, 0))
    );
    assert!(sim.api("callback list").starts_with("+OK 1 callback(s)"));
    // The schedule form's number type is stored and shown with the number's line type.
    let (status, body) = sam.post(
        "/panel/api/callbacks",
        r#"{"number":"+447400123456","queue":"support","number_type":"mobile"}"#,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["callback"]["number_type"], "mobile");
    assert_eq!(body["callback"]["line_type"], "mobile");
    let (status, body) = sam.post(
        "/panel/api/callbacks",
        r#"{"number":"+447400123457","number_type":"pager"}"#,
    );
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &Value::from("number_type")),
        "{body}"
    );
    // The IVR data a dialplan gathered is shown with the callback.
    let gathered = capture(&sim, "delay=1h data.account_id=42 data.reason='lost card'");
    let shown = sam.get(&format!("/panel/api/callbacks/{gathered}"));
    assert_eq!(shown["ivr_data"]["account_id"], "42", "{shown}");
    assert_eq!(shown["ivr_data"]["reason"], "lost card", "{shown}");
}

#[test]
fn the_ivr_asks_the_hours_the_caller_may_be_called_between() {
    // Profile ask-window: 13 then 17 makes the window 13:00-17:00 today in New York and
    // holds the delayed callback's due time to 13:00; an until before the from is a bad
    // choice asked again; no key at the first question means any time.
    let sim = sim();
    let conf = conf_from(
        "fixtures/config/ivr.conf.xml",
        "ivr-window",
        &[(
            "  </ivr-profiles>",
            r#"    <profile name="hours">
      <param name="offer" value="delayed"/>
      <param name="delay" value="15m"/>
      <param name="review-recording" value="false"/>
      <param name="ask-window" value="true"/>
    </profile>
  </ivr-profiles>"#,
        )],
    );
    let _m = load(&conf);
    let speech = repo_root().join("fixtures/speech/john.wav");
    let ivr = |keys: &[&str]| {
        let call = sim.new_call(CUSTOMER);
        for k in keys {
            sim.act(
                &call,
                match *k {
                    "-" => Act::Silent,
                    k => Act::Press(k.to_string()),
                },
            );
        }
        sim.act(&call, Act::Speak(speech.clone()));
        assert!(sim.execute(&call, "callback_ivr", "hours"));
        assert_eq!(
            sim.var(&call, "callback_result").as_deref(),
            Some("OK"),
            "{keys:?}: {:?}",
            sim.var(&call, "callback_error")
        );
        let id: i64 = sim.var(&call, "callback_id").unwrap().parse().unwrap();
        (call, show(&sim, id)["request"].clone())
    };
    let (call, r) = ivr(&["1", "13", "17"]);
    assert_eq!(time(&r["window"]["from"]), Some(utc(23, 18, 0)), "{r}");
    assert_eq!(time(&r["window"]["until"]), Some(utc(23, 22, 0)), "{r}");
    assert_eq!(time(&r["due_at"]), Some(utc(23, 18, 0)), "{r}");
    let played: Vec<String> = sim
        .session(&call)
        .unwrap()
        .apps
        .lock()
        .unwrap()
        .iter()
        .filter(|(app, _)| app == "play_and_get_digits")
        .map(|(_, arg)| arg.clone())
        .collect();
    assert!(
        played
            .iter()
            .any(|a| a.contains("callback/window-from.wav")),
        "{played:?}"
    );
    assert!(
        played
            .iter()
            .any(|a| a.contains("callback/window-until.wav")),
        "{played:?}"
    );
    let (call, r) = ivr(&["1", "17", "9", "9", "17"]);
    assert_eq!(time(&r["window"]["from"]), Some(utc(23, 14, 0)), "{r}");
    assert_eq!(time(&r["window"]["until"]), Some(utc(23, 22, 0)), "{r}");
    assert!(sim
        .session(&call)
        .unwrap()
        .apps
        .lock()
        .unwrap()
        .iter()
        .any(|(app, arg)| app == "playback" && arg.contains("callback/invalid-choice.wav")));
    let (_, r) = ivr(&["1", "-"]);
    assert_eq!(r["window"]["from"], Value::Null, "{r}");
    assert_eq!(r["window"]["until"], Value::Null, "{r}");
    // The simulated call took time: fifteen minutes from when it was stored.
    let created = time(&r["created_at"]).unwrap();
    assert_eq!(
        time(&r["due_at"]),
        Some(created + chrono::Duration::minutes(15)),
        "{r}"
    );
    let _ = std::fs::remove_file(conf);
}

#[test]
fn callback_capture_stores_ivr_data_and_the_agent_leg_carries_it_safely() {
    // ivr-vars reads the named channel variables and data.KEY adds pairs: stored as IVR
    // data, in the trace and `callback show`; on the agent's leg token values ride in the
    // originate's variables, free text only through the checked setter on the answered
    // call, and text that would expand reaches neither.
    let sim = sim();
    let _m = load(&repo_root().join(CONF));
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(2));
    let call = sim.new_call(CUSTOMER);
    let chan = sim.session(&call).unwrap();
    chan.set("account_id", "12345");
    chan.set("reason_code", "billing dispute, urgent");
    chan.set("unrelated", "secret");
    sim.execute(
        &call,
        "callback_capture",
        "type=immediate ivr-vars=account_id,reason_code,not_set data.tier=gold data.note='${system(id)}'",
    );
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    let id: i64 = sim.var(&call, "callback_id").unwrap().parse().unwrap();
    let t = wait_state(&sim, id, "completed");
    let data = &t["request"]["ivr_data"];
    assert_eq!(data["account_id"], "12345", "{t}");
    assert_eq!(data["reason_code"], "billing dispute, urgent");
    assert_eq!(data["tier"], "gold");
    assert_eq!(data["note"], "${system(id)}");
    assert_eq!(data.as_object().unwrap().len(), 4, "{data}");
    let created = &t["events"][0];
    assert!(
        created["detail"]
            .as_str()
            .unwrap()
            .contains("IVR data: account_id=12345"),
        "{created}"
    );
    let shown = sim.api(&format!("callback show {id}"));
    assert!(shown.contains("data:      account_id=12345"), "{shown}");
    let originate = sim
        .commands()
        .into_iter()
        .find(|c| c.starts_with("originate "))
        .unwrap();
    assert!(
        originate.contains("callback_data_account_id=12345")
            && originate.contains("callback_data_tier=gold"),
        "{originate}"
    );
    assert!(
        !originate.contains("billing")
            && !originate.contains("${")
            && !originate.contains("secret"),
        "{originate}"
    );
    let agent_call = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("callback_leg").as_deref() == Some("agent"))
        .unwrap();
    assert_eq!(
        agent_call.var("callback_data_reason_code").as_deref(),
        Some("billing dispute, urgent")
    );
    assert_eq!(agent_call.var("callback_data_note"), None);
    // The customer leg carries none of it.
    let bridge = sim
        .sessions()
        .iter()
        .flat_map(|s| s.apps.lock().unwrap().clone())
        .find(|(app, _)| app == "bridge")
        .unwrap()
        .1;
    assert!(!bridge.contains("callback_data_"), "{bridge}");
}

#[test]
fn bad_ivr_data_keys_and_sizes_are_refused_naming_them() {
    // A variable or data key outside a-z, 0-9 and _ (or too long), a name given twice, a
    // value over 256 characters: callback_result=ERR naming it, nothing stored.
    let sim = sim();
    let _m = load(&repo_root().join(CONF));
    let long = "x".repeat(257);
    for (args, var, says) in [
        (
            "ivr-vars=Account-ID",
            None,
            "ivr-vars: variable 'Account-ID'",
        ),
        ("data.x-y=1", None, "data key 'x-y'"),
        (
            "data.abcdefghijklmnopqrstuvwxyz0123456=1",
            None,
            "1-32 characters",
        ),
        ("ivr-vars=a,a", None, "twice"),
        ("ivr-vars=account_id data.account_id=7", Some("1"), "both"),
        ("ivr-vars=account_id", Some(long.as_str()), "at most 256"),
    ] {
        let call = sim.new_call(CUSTOMER);
        if let Some(v) = var {
            sim.session(&call).unwrap().set("account_id", v);
        }
        sim.execute(&call, "callback_capture", args);
        assert_eq!(
            sim.var(&call, "callback_result").as_deref(),
            Some("ERR"),
            "{args}"
        );
        let e = sim.var(&call, "callback_error").unwrap_or_default();
        assert!(e.contains(says), "{args}: {e}");
    }
    assert!(sim.api("callback list").starts_with("+OK 0 callback(s)"));
}

#[test]
fn a_number_type_is_given_at_capture_and_fs_cli_and_shown_with_the_number() {
    // number-type on callback_capture and `callback number` in fs_cli store the type;
    // `callback show` prints it with the numbering plan's line type; a new number drops
    // the old number's type; an unknown type is refused naming the four.
    let sim = sim();
    let _m = load(&repo_root().join(CONF));
    let id = capture(&sim, "delay=1h number-type=mobile");
    assert_eq!(show(&sim, id)["request"]["number_type"], "mobile");
    let shown = sim.api(&format!("callback show {id}"));
    assert!(
        shown.contains("number:    +12125550142 (mobile, line fixed-or-mobile)"),
        "{shown}"
    );
    let reply = sim.api(&format!("callback number {id} - work"));
    assert!(reply.starts_with("+OK"), "{reply}");
    assert_eq!(show(&sim, id)["request"]["number_type"], "work");
    let reply = sim.api(&format!("callback number {id} +442079460000 home"));
    assert!(reply.starts_with("+OK"), "{reply}");
    let r = show(&sim, id)["request"].clone();
    assert_eq!(
        (r["number"].as_str(), r["number_type"].as_str()),
        (Some("+442079460000"), Some("home"))
    );
    assert!(sim
        .api(&format!("callback show {id}"))
        .contains("number:    +442079460000 (home, line fixed)"));
    sim.api(&format!("callback number {id} +12125550142"));
    assert_eq!(show(&sim, id)["request"]["number_type"], Value::Null);
    let reply = sim.api(&format!("callback number {id} - pager"));
    assert!(reply.starts_with("-ERR"), "{reply}");
    let call = capture_call(&sim, "number-type=pager");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
    let e = sim.var(&call, "callback_error").unwrap();
    assert!(
        e.contains("number-type") && e.contains("mobile home work other"),
        "{e}"
    );
    assert!(sim.api("callback list").starts_with("+OK 1 callback(s)"));
}
