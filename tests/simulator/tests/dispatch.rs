//! The dispatcher in the loaded mod_callback.so, one test per branch: the agent is rung
//! first (`originate ... &callback_agent(<id>)`), hears the preview, keys 1, and the
//! customer is bridged from the agent's call with the queue's gateway and no-answer
//! timeout; every outcome follows the retry policy (fixtures/config/dispatch.conf.xml).
//!
//! The dispatcher runs on its own thread on the module's clock (the simulator's virtual
//! one), so each test moves the clock and then waits (bounded, in real time) for the state
//! it expects.
//!
//! Length: over 800 lines on purpose. Each file here is its own test binary, linking the
//! core, the simulator and the module's crate (about 230 MB with debug info); splitting it
//! by subject would add a link and a load to every run of `.ci/test`, which has to stay
//! within its time. Its tests share one configuration and one set of helpers.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{self, actions, load_with_config, repo_root, show, wait_state};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use std::path::PathBuf;

const CONF: &str = "fixtures/config/dispatch.conf.xml";
const CUSTOMER: &str = "+12125550142";
const CUSTOMER_DIAL: &str = "sofia/gateway/pstn/+12125550142";

fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

fn load(conf: &str) -> Loaded {
    load_with_config(&repo_root().join(conf)).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// A variant of the dispatch configuration with `from` replaced by `to`.
fn conf_with(from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(CONF)).unwrap();
    assert!(text.contains(from), "{from} not in {CONF}");
    let path = std::env::temp_dir().join(format!(
        "dispatch-{}-{}.conf.xml",
        std::process::id(),
        text.len() + to.len()
    ));
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

fn capture(sim: &Sim, args: &str) -> i64 {
    scenario::capture(sim, CUSTOMER, args)
}

fn state(sim: &Sim, id: i64) -> String {
    show(sim, id)["request"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits (up to 10 s of real time) until `done` holds; says `what` when it never does.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn attempts(t: &Value) -> Vec<(String, String, Option<String>)> {
    t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["leg"].as_str().unwrap().to_string(),
                a["result"].as_str().unwrap_or("-").to_string(),
                a["agent"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The `originate` commands the module ran (the agent legs).
fn originates(sim: &Sim) -> Vec<String> {
    sim.commands()
        .into_iter()
        .filter(|c| c.starts_with("originate "))
        .collect()
}

/// The `bridge` arguments run on agents' calls (the customer legs).
fn bridges(sim: &Sim) -> Vec<String> {
    sim.sessions()
        .iter()
        .flat_map(|s| s.apps.lock().unwrap().clone())
        .filter(|(app, _)| app == "bridge")
        .map(|(_, arg)| arg)
        .collect()
}

fn agent_answers(sim: &Sim, agent: &str, keys: &[&str]) {
    sim.endpoint(&format!("user/{agent}"), Endpoint::Answer(2));
    sim.script(
        &format!("user/{agent}"),
        keys.iter()
            .map(|k| match *k {
                "-" => Act::Silent,
                "hangup" => Act::Hangup,
                k => Act::Press(k.to_string()),
            })
            .collect(),
    );
}

#[test]
fn a_jump_of_the_host_clock_wakes_the_sleeping_dispatcher() {
    // No poll: the dispatcher sleeps until a delayed callback falls due (ten minutes on the
    // host's clock); the clock jumping there wakes it (the module's runtime thread watches
    // the clock), and the callback goes out in seconds of real time, not ten minutes.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=delayed delay=10m");
    // Long enough for the loop to have planned and gone to sleep.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(state(&sim, id), "scheduled");
    assert!(originates(&sim).is_empty());
    sim.advance(Duration::minutes(10));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(actions(&t)[..3], ["created", "claim", "offer"]);
}

#[test]
fn agent_accepts_and_the_customer_answers() {
    // The agent is rung first with the callback's variables, keys 1 after the preview, the
    // customer is bridged with the queue's gateway, caller ID and no-answer timeout; the
    // callback completes and both legs are recorded; the after-call key 1 = resolved.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(
        actions(&t),
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
    assert_eq!(
        attempts(&t),
        [
            ("agent".into(), "answered".into(), Some("1001".into())),
            ("customer".into(), "answered".into(), Some("1001".into())),
        ]
    );
    assert_eq!(t["attempts"][1]["disposition"], "resolved");
    let o = originates(&sim);
    assert_eq!(o.len(), 1, "{o:?}");
    for part in [
        "originate_timeout=20",
        &format!("callback_id={id}"),
        "callback_leg=agent",
        "callback_type=immediate",
        "callback_attempt=1",
        "callback_origin_uuid=",
        "origination_caller_id_name=Callback_12125550142",
        "}user/1001 &callback_agent(",
    ] {
        assert!(o[0].contains(part), "{part} not in {}", o[0]);
    }
    let b = bridges(&sim);
    assert_eq!(b.len(), 1);
    for part in [
        "originate_timeout=45",
        "ignore_early_media=true",
        "origination_caller_id_number=+12125550100",
        "callback_leg=customer",
        "}sofia/gateway/pstn/+12125550142",
    ] {
        assert!(b[0].contains(part), "{part} not in {}", b[0]);
    }
    // The agent heard the caller's number and the preview menu.
    let agent_call = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .unwrap();
    let apps = agent_call.apps.lock().unwrap().clone();
    assert!(apps.contains(&("say".into(), "en NUMBER iterated 12125550142".into())));
    assert_eq!(
        sim.api("callback agents")
            .lines()
            .nth(1)
            .map(|l| l.contains("ready")),
        Some(true)
    );
}

#[test]
fn a_callback_is_delivered_through_the_dial_strings_the_admin_wrote() {
    // An agent on a SIP URI with host:port and a transport, a queue dialling out through a
    // carrier at host:port: both load and reach the host exactly as written (the customer's
    // number as E.164 digits), and the callback completes.
    const AGENT_DIAL: &str = "sofia/internal/1001@192.0.2.10:5062;transport=tcp";
    let c = conf_with(
        "<agent name=\"1001\"><param name=\"queues\" value=\"support\"/></agent>",
        &format!(
            "<agent name=\"1001\"><param name=\"dial\" value=\"{AGENT_DIAL}\"/>\
             <param name=\"queues\" value=\"support\"/></agent>"
        ),
    );
    let text = std::fs::read_to_string(&c).unwrap().replacen(
        "<param name=\"gateway\" value=\"sofia/gateway/pstn/{e164}\"/>",
        "<param name=\"gateway\" value=\"sofia/external/{digits}@203.0.113.7:5080\"/>",
        1,
    );
    std::fs::write(&c, text).unwrap();
    let sim = sim();
    let _m = load_with_config(&c).unwrap_or_else(|e| panic!("load failed: {e}"));
    sim.api("callback agent 1002 away");
    sim.endpoint(AGENT_DIAL, Endpoint::Answer(2));
    sim.script(
        AGENT_DIAL,
        vec![Act::Press("1".into()), Act::Press("1".into())],
    );
    let customer = "sofia/external/12125550142@203.0.113.7:5080";
    sim.endpoint(customer, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(
        attempts(&t),
        [
            ("agent".into(), "answered".into(), Some("1001".into())),
            ("customer".into(), "answered".into(), Some("1001".into())),
        ]
    );
    let o = originates(&sim);
    assert_eq!(o.len(), 1, "{o:?}");
    assert!(
        o[0].contains(&format!("}}{AGENT_DIAL} &callback_agent({id})")),
        "{}",
        o[0]
    );
    let b = bridges(&sim);
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].ends_with(&format!("}}{customer}")), "{}", b[0]);
}

#[test]
fn customer_no_answer_busy_and_wrong_number() {
    // No answer and busy: the attempt is counted and retried after the queue's delay (the
    // no-answer timeout given to the host is the queue's 45 s); a wrong number fails.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    for (behaviour, result) in [(Endpoint::NoAnswer, "no-answer"), (Endpoint::Busy, "busy")] {
        agent_answers(&sim, "1001", &["1"]);
        sim.endpoint(CUSTOMER_DIAL, behaviour);
        let id = capture(&sim, "type=immediate");
        let t = wait_state(&sim, id, "rescheduled");
        assert_eq!(t["request"]["customer_attempts"], 1);
        assert_eq!(attempts(&t)[1].1, result);
        assert_eq!(actions(&t).last().unwrap(), "retry");
        let due: chrono::DateTime<Utc> = t["request"]["due_at"].as_str().unwrap().parse().unwrap();
        let ended: chrono::DateTime<Utc> = t["attempts"][1]["ended_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(due - ended, Duration::minutes(5));
        sim.api(&format!("callback cancel {id}"));
        // 1001 is free again once its call ended.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !sim.api("callback agents").contains("1001        ready") {
            assert!(
                std::time::Instant::now() < deadline,
                "{}",
                sim.api("callback agents")
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    assert!(bridges(&sim)
        .iter()
        .all(|b| b.contains("originate_timeout=45")));
    agent_answers(&sim, "1001", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::WrongNumber);
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "failed");
    assert_eq!(attempts(&t)[1].1, "wrong-number");
}

#[test]
fn an_agent_reject_goes_to_another_agent_without_a_customer_attempt() {
    // 1001 keys 9: the callback is offered again after the re-offer delay, to 1002 (1001
    // was idle less long), who accepts; the customer is dialled once.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    sim.api("callback agent 1002 ready");
    agent_answers(&sim, "1001", &["9"]);
    agent_answers(&sim, "1002", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert_eq!(attempts(&t)[0].1, "rejected");
    sim.advance(Duration::seconds(10));
    let t = wait_state(&sim, id, "completed");
    let a = attempts(&t);
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(
        a[1],
        ("agent".into(), "answered".into(), Some("1002".into()))
    );
    assert_eq!(a[2].0, "customer");
    assert_eq!(bridges(&sim).len(), 1);
}

#[test]
fn star_and_pound_in_the_preview_are_not_a_timeout() {
    // `#` and `*` are keys without a meaning in the preview: the preview plays again; the
    // customer is dialled only on 1.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["#", "*", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "completed");
    let agent_call = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .unwrap();
    let asks = agent_call
        .apps
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _)| a == "play_and_get_digits")
        .count();
    // Three preview menus and the after-call menu.
    assert_eq!(asks, 4);
}

#[test]
fn an_agent_who_hangs_up_in_the_preview_passes_it_on() {
    // Hanging up during the preview counts as a reject: offered again, no customer dialled.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["hangup"]);
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["attempts"][0]["hangup_cause"], "AGENT_HUNG_UP");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert!(bridges(&sim).is_empty());
}

#[test]
fn an_agent_who_does_not_answer_is_skipped() {
    // 1001 does not pick up within the ring time: no customer attempt, the callback is
    // offered again; after three declines in a row 1001 is set away.
    let sim = sim();
    let c = conf_with(
        "<agent name=\"1002\"><param name=\"queues\" value=\"support\"/></agent>",
        "",
    );
    let _m = load_with_config(&c).unwrap();
    sim.endpoint("user/1001", Endpoint::NoAnswer);
    let id = capture(&sim, "type=immediate");
    for round in 0..3 {
        let t = wait_state(&sim, id, "rescheduled");
        assert_eq!(t["request"]["customer_attempts"], 0);
        assert_eq!(attempts(&t).len(), round + 1);
        assert!(attempts(&t).iter().all(|a| a.1 == "no-answer"));
        sim.advance(Duration::seconds(10));
        if round < 2 {
            wait_until("offered again", || {
                attempts(&show(&sim, id)).len() >= round + 2
            });
        }
    }
    let agents = sim.api("callback agents");
    assert!(
        agents.contains("1001") && agents.contains("away"),
        "{agents}"
    );
    assert!(bridges(&sim).is_empty());
}

#[test]
fn preview_timeout_dials_or_requeues_as_configured() {
    // No key in the preview: with preview-timeout=dial the customer is dialled; with
    // requeue the callback goes back to the queue, no customer attempt used.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["-"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(attempts(&t)[1].0, "customer");
    drop(_m);
    drop(sim);

    let sim = self::sim();
    let c = conf_with(
        "<param name=\"preview-timeout\" value=\"dial\"/>",
        "<param name=\"preview-timeout\" value=\"requeue\"/>",
    );
    let _m = load_with_config(&c).unwrap();
    agent_answers(&sim, "1001", &["-"]);
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert_eq!(attempts(&t)[0].1, "no-answer");
    assert!(bridges(&sim).is_empty());
}

#[test]
fn an_agent_preview_callback_is_never_dialled_by_a_preview_timeout() {
    // preview-timeout=dial (the test configuration): an immediate callback would be dialled
    // on silence, but an agent-preview one waits for the agent's explicit 1: no key gives
    // it back to the queue, no customer attempt used, nobody dialled.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["-"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=agent-preview");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["request"]["kind"], "agent-preview");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert_eq!(attempts(&t)[0].1, "no-answer");
    assert!(bridges(&sim).is_empty(), "{:?}", bridges(&sim));
}

#[test]
fn with_default_settings_an_answered_agent_leg_left_alone_never_dials_the_customer() {
    // No preview-timeout in the file: an agent leg that answers and hears no key (voicemail,
    // an auto-answer phone nobody is at) gives the callback back to the queue; the
    // customer, who would answer, is never dialled and keeps every attempt.
    let c = conf_with("<param name=\"preview-timeout\" value=\"dial\"/>", "");
    let sim = sim();
    let _m = load_with_config(&c).unwrap_or_else(|e| panic!("load failed: {e}"));
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["-"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(1));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert_eq!(
        attempts(&t),
        [("agent".into(), "no-answer".into(), Some("1001".into()))]
    );
    assert_eq!(t["attempts"][0]["hangup_cause"], "PREVIEW_TIMEOUT");
    assert!(bridges(&sim).is_empty(), "{:?}", bridges(&sim));
    assert!(!actions(&t).contains(&"dial".to_string()), "{t}");
}

#[test]
fn callback_show_lists_the_trace_in_the_order_it_happened() {
    // A callback due just before a second boundary is claimed by the dispatcher's early
    // look-ahead: `callback show` lists created, claim, offer, ... in order, and no line's
    // time is earlier than the line above it (the claim is not stamped in the next second).
    let sim = sim();
    let _m = load(CONF);
    sim.advance(Duration::milliseconds(990));
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(2));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "completed");
    let text = sim.api(&format!("callback show {id}"));
    let trace: Vec<(String, String)> = text
        .lines()
        .skip_while(|l| *l != "trace:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            // "  2026-11-23 14:00:00Z  claim      scheduled -> due ..."
            let mut f = l.split_whitespace();
            let (day, time, action) = (f.next(), f.next(), f.next());
            (
                format!("{} {}", day.unwrap_or(""), time.unwrap_or("")),
                action.unwrap_or("").to_string(),
            )
        })
        .collect();
    let actions: Vec<&str> = trace.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(actions[..3], ["created", "claim", "offer"], "{text}");
    assert_eq!(trace[1].0, "2026-11-23 14:00:00Z", "{text}");
    assert!(
        trace.windows(2).all(|w| w[0].0 <= w[1].0),
        "a line earlier than the one above it:\n{text}"
    );
}

#[test]
fn a_personal_callback_waits_for_its_agent() {
    // agent=1002: 1001 is ready but never rung; while 1002 is away the callback waits.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1002", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate agent=1002");
    let t = wait_state(&sim, id, "rescheduled");
    assert!(t["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["detail"] == "agent 1002 is not ready"));
    assert!(originates(&sim).is_empty());
    sim.api("callback agent 1002 ready");
    sim.advance(Duration::seconds(10));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(attempts(&t)[0].2.as_deref(), Some("1002"));
    assert!(originates(&sim).iter().all(|o| o.contains("user/1002")));
}

#[test]
fn attempts_used_up_fail_over_and_then_fail() {
    // Two no-answers in support (max 2): failover to overflow, where 2001 takes it; one more
    // no-answer (overflow max 1, no failover) fails the callback.
    let sim = sim();
    let _m = load(CONF);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::NoAnswer);
    agent_answers(&sim, "1001", &["1"]);
    agent_answers(&sim, "1002", &["1"]);
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "rescheduled");
    sim.advance(Duration::minutes(5));
    wait_until("failed over to overflow", || {
        show(&sim, id)["request"]["queue"] == "overflow"
    });
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(t["request"]["customer_attempts"], 0);
    assert!(actions(&t).contains(&"failover".to_string()));
    agent_answers(&sim, "2001", &["1"]);
    sim.advance(Duration::minutes(5));
    let t = wait_state(&sim, id, "failed");
    let a = attempts(&t);
    assert_eq!(a.iter().filter(|a| a.0 == "customer").count(), 3, "{a:?}");
    assert_eq!(a.last().unwrap().2.as_deref(), Some("2001"));
}

#[test]
fn a_number_put_on_the_do_not_call_list_after_capture_is_never_dialled() {
    // Captured for later, then added to the list: at the due time it fails, no agent rung.
    let sim = sim();
    let _m = load(CONF);
    let id = capture(&sim, "delay=15m");
    assert!(sim
        .api(&format!("callback dnc add {CUSTOMER}"))
        .starts_with("+OK"));
    sim.advance(Duration::minutes(15));
    let t = wait_state(&sim, id, "failed");
    assert_eq!(actions(&t).last().unwrap(), "do-not-call");
    assert!(originates(&sim).is_empty());
    // Key 7 in a preview puts a number on the list too.
    sim.api(&format!("callback dnc remove {CUSTOMER}"));
    agent_answers(&sim, "1001", &["7"]);
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "failed");
    assert!(sim.api("callback dnc list").contains(CUSTOMER));
    assert!(bridges(&sim).is_empty());
}

#[test]
fn with_no_agent_ready_the_callback_waits_and_then_goes_out() {
    // Everyone away: nothing is rung and the callback waits; an agent getting ready sends it.
    let sim = sim();
    let _m = load(CONF);
    for a in ["1001", "1002", "2001"] {
        sim.api(&format!("callback agent {a} away"));
    }
    let id = capture(&sim, "type=immediate");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // A turn that counted its ready agents before the last `away` may claim it: it then
    // waits for an agent (a `wait`), it is not rung. Else no turn has claimed it.
    let t = show(&sim, id);
    match t["request"]["state"].as_str().unwrap() {
        "scheduled" => assert_eq!(actions(&t), ["created"], "{t}"),
        "rescheduled" => {
            let last = t["events"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["action"], "wait", "{t}");
            assert_eq!(last["detail"], "no agent of queue support is ready", "{t}");
        }
        other => panic!("callback {id} is {other}, not waiting: {t}"),
    }
    assert!(originates(&sim).is_empty());
    agent_answers(&sim, "1001", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.api("callback agent 1001 ready");
    wait_state(&sim, id, "completed");
}

/// Leaves callbacks in the database as a node killed in the middle of their dispatch
/// would: claimed by `sim-1` at `t0` (lease 5 minutes), moved along to `state`, with the
/// legs that state implies still open.
/// The agents of the interrupted dispatches, in order.
const AGENTS: [&str; 3] = ["1001", "1002", "2001"];

fn crashed_mid_dispatch(
    db: &std::path::Path,
    t0: chrono::DateTime<Utc>,
    states: &[&str],
) -> Vec<i64> {
    use callback_core::model::{CallbackType, Draft, Leg, Source, State, Window};
    use callback_core::store::prelude::*;
    use callback_core::store::{CreateOptions, NewAttempt, SqliteStore, Transition};
    let store = SqliteStore::open(db).unwrap();
    let mut ids = Vec::new();
    for (n, want) in states.iter().enumerate() {
        let draft = Draft {
            kind: CallbackType::Immediate,
            number: format!("+1212555{:04}", 200 + n),
            time_zone: "America/New_York".into(),
            desired_at: None,
            window: Window::default(),
            number_type: None,
            queue: "support".into(),
            agent: None,
            remark: None,
            ivr_data: Default::default(),
            source: Source::Ivr,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            tags: Default::default(),
            state: State::Scheduled,
            due_at: Some(t0),
            expires_at: None,
        };
        let id = store
            .create(&draft, &CreateOptions::default(), t0)
            .unwrap()
            .0
            .id;
        let claimed = store
            .claim_due("sim-1", t0, Duration::minutes(5), 1)
            .unwrap();
        assert_eq!(claimed[0].id, id);
        let step = |to: State, action: &str| {
            let mut t = Transition::new(to, action);
            t.owner = Some("sim-1".into());
            store.transition(id, &t, t0).unwrap();
        };
        let leg = |leg: Leg| {
            store
                .start_attempt(
                    &NewAttempt {
                        callback_id: id,
                        leg,
                        // One agent per dispatch: an agent has one open leg at a time.
                        agent: Some(AGENTS[n % AGENTS.len()].into()),
                        call_uuid: None,
                    },
                    "sim-1",
                    t0,
                )
                .unwrap();
        };
        step(State::Offering, "offer");
        leg(Leg::Agent);
        if *want != "offering" {
            step(State::Previewing, "preview");
            step(State::Dialing, "dial");
            leg(Leg::Customer);
        }
        if *want == "connected" {
            step(State::Connected, "connected");
        }
        ids.push(id);
    }
    ids
}

#[test]
fn a_dispatch_interrupted_by_a_restart_is_finished_without_a_second_dial() {
    // A node died with callbacks offering (agent ringing), dialing (customer ringing) and
    // connected. On restart, once their leases lapse: the offering one is offered again
    // (no customer attempt used), the dialing one counts its attempt as an error and waits
    // for its retry (the customer is not dialled again at once: attempt 2 comes after the
    // retry delay), the connected one is completed. Nothing is lost.
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap();
    let sim = Sim::new(t0 + Duration::minutes(6));
    let dir = std::env::temp_dir().join(format!("dispatch-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ids = crashed_mid_dispatch(
        &dir.join("callback.db"),
        t0,
        &["offering", "dialing", "connected"],
    );
    let text = std::fs::read_to_string(repo_root().join(CONF))
        .unwrap()
        .replace("@TMP@", &dir.display().to_string());
    let conf = dir.join("callback.conf.xml");
    std::fs::write(&conf, text).unwrap();
    for a in AGENTS {
        sim.endpoint(&format!("user/{a}"), Endpoint::NoAnswer);
    }
    std::env::set_var("MOD_CALLBACK_CONF", &conf);
    let _m = callback_simulator::loader::load(&callback_simulator::loader::find_module().unwrap())
        .unwrap();
    let t = wait_state(&sim, ids[2], "completed");
    assert_eq!(actions(&t).last().unwrap(), "recover");
    let t = wait_state(&sim, ids[1], "rescheduled");
    assert_eq!(actions(&t).last().unwrap(), "retry");
    assert_eq!(t["request"]["customer_attempts"], 1);
    assert_eq!(
        attempts(&t)[1],
        ("customer".into(), "error".into(), Some(AGENTS[1].into()))
    );
    assert_eq!(t["attempts"][1]["hangup_cause"], "INTERRUPTED");
    wait_until("the offering one re-offered", || {
        actions(&show(&sim, ids[0])).iter().any(|a| a == "reoffer")
    });
    assert_eq!(show(&sim, ids[0])["request"]["customer_attempts"], 0);
    // No customer was dialled during recovery.
    assert!(bridges(&sim).is_empty());
    // The retry dials the customer as attempt 2, once.
    agent_answers(&sim, "1001", &["1"]);
    agent_answers(&sim, "1002", &["1"]);
    sim.endpoint("sofia/gateway/pstn/+12125550201", Endpoint::Answer(3));
    sim.advance(Duration::minutes(5));
    let t = wait_state(&sim, ids[1], "completed");
    assert_eq!(t["request"]["customer_attempts"], 2);
    let b: Vec<String> = bridges(&sim)
        .into_iter()
        .filter(|b| b.contains("+12125550201"))
        .collect();
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].contains("callback_attempt=2"), "{}", b[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_personal_callback_overdue_goes_to_the_queue_when_configured() {
    // personal-fallback-minutes=10: while 1002 is away, the callback waits for 1002; once it
    // is 10 minutes overdue any support agent may take it.
    let sim = sim();
    let c = conf_with(
        "<param name=\"agent-declines-to-away\" value=\"3\"/>",
        "<param name=\"agent-declines-to-away\" value=\"3\"/>\n    <param name=\"personal-fallback-minutes\" value=\"10\"/>",
    );
    let _m = load_with_config(&c).unwrap();
    sim.api("callback agent 1002 away");
    agent_answers(&sim, "1001", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate agent=1002");
    wait_state(&sim, id, "rescheduled");
    // Minute by minute: each wait moves the due time on, yet the overdue time grows.
    for _ in 0..16 {
        sim.advance(Duration::minutes(1));
        std::thread::sleep(std::time::Duration::from_millis(100));
        if state(&sim, id) == "completed" {
            break;
        }
    }
    let t = wait_state(&sim, id, "completed");
    let at = |action: &str| -> chrono::DateTime<Utc> {
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap()["at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(at("offer") - at("claim") >= Duration::minutes(10), "{t}");
    assert_eq!(attempts(&t)[0].2.as_deref(), Some("1001"));
}

#[test]
fn waiting_for_an_agent_backs_off_and_a_ready_agent_pulls_it_forward() {
    // Only overflow's agent is ready: a support callback waits 10 s, then 20 s, then 40 s
    // (one trace row each, not one per 10 s); when 1001 gets ready it goes out at once.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1001 away");
    sim.api("callback agent 1002 away");
    let id = capture(&sim, "type=immediate");
    for want in [10, 20, 40] {
        let t = wait_state(&sim, id, "rescheduled");
        let due: chrono::DateTime<Utc> = t["request"]["due_at"].as_str().unwrap().parse().unwrap();
        assert_eq!((due - sim.now()).num_seconds(), want, "{t}");
        sim.advance(Duration::seconds(want));
        wait_until("claimed again", || {
            actions(&show(&sim, id))
                .iter()
                .filter(|a| *a == "wait")
                .count() as i64
                > [10, 20, 40].iter().position(|w| *w == want).unwrap() as i64 + 1
        });
    }
    assert!(originates(&sim).is_empty());
    agent_answers(&sim, "1001", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.api("callback agent 1001 ready");
    let t = wait_state(&sim, id, "completed");
    assert!(actions(&t).contains(&"agent-ready".to_string()));
}

#[test]
fn the_agent_sets_result_disposition_and_note_through_the_api() {
    // After a call: the result corrected to machine, a configured disposition code and a
    // note; an unknown code is refused and changes nothing.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["1", "-"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    let attempt = t["attempts"][1]["id"].as_i64().unwrap();
    assert!(sim
        .api(&format!("callback result {attempt} machine"))
        .starts_with("+OK"));
    let r = sim.api(&format!(
        "callback disposition {attempt} follow-up left a message"
    ));
    assert!(r.starts_with("+OK"), "{r}");
    let r = sim.api(&format!("callback disposition {attempt} sold-a-car"));
    assert!(
        r.starts_with("-ERR") && r.contains("unknown disposition"),
        "{r}"
    );
    let t = show(&sim, id);
    assert_eq!(t["attempts"][1]["result"], "machine");
    assert_eq!(t["attempts"][1]["disposition"], "follow-up");
    assert_eq!(t["attempts"][1]["note"], "left a message");
    assert!(sim
        .api(&format!("callback show {id}"))
        .contains("note: left a message"));
}

#[test]
fn an_answered_agent_leg_without_the_application_is_withdrawn() {
    // 1001's leg answers but callback_agent never runs on it: after 10 s (real time) the
    // offer is withdrawn, the leg recorded as an error, the callback offered again and the
    // agent free again (not counted as a decline).
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    sim.endpoint("user/1001", Endpoint::AnswerOnly(1));
    let id = capture(&sim, "type=immediate");
    // While the offer stands, a phone dialling the application by hand gets nothing.
    wait_until("1001 offered", || {
        actions(&show(&sim, id)).contains(&"offer".to_string())
    });
    let intruder = sim.new_call("1003");
    sim.execute(&intruder, "callback_agent", &id.to_string());
    assert_eq!(
        sim.var(&intruder, "callback_result").as_deref(),
        Some("NOT_OFFERED")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !actions(&show(&sim, id)).contains(&"reoffer".to_string()) {
        assert!(std::time::Instant::now() < deadline, "{}", show(&sim, id));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let t = show(&sim, id);
    assert_eq!(t["attempts"][0]["hangup_cause"], "AGENT_APP_NOT_STARTED");
    assert_eq!(t["attempts"][0]["result"], "error");
    let agents: Value = serde_json::from_str(&sim.api("callback json agents")).unwrap();
    assert_eq!(agents["agents"][0]["declined_in_row"], 0);
}

#[test]
fn the_callback_is_connected_when_the_customer_answers_not_when_the_call_ends() {
    // While the customer talks (the bridge still runs), the module sees the answer and
    // writes `connected` at once: a crash during the conversation then completes the
    // callback instead of dialling the customer again.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    sim.talk(1500);
    agent_answers(&sim, "1001", &["1", "-"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    // Connected while the bridge is still up (the call has not ended: no `complete` yet).
    wait_until("connected during the call", || {
        state(&sim, id) == "connected"
    });
    assert!(!actions(&show(&sim, id)).contains(&"complete".to_string()));
    let t = wait_state(&sim, id, "completed");
    let connected = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "connected")
        .unwrap()
        .clone();
    assert_eq!(connected["detail"], "the customer answered");
    assert!(!t["attempts"][1]["answered_at"].is_null());
}

#[test]
fn an_agent_whose_phone_is_not_registered_is_set_away_at_once() {
    // The host answers the agent originate with USER_NOT_REGISTERED: the agent is set away
    // at the first offer (not after three), and the callback goes to the other agent.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1002 away");
    sim.api("callback agent 1002 ready");
    sim.endpoint("user/1001", Endpoint::NotRegistered);
    agent_answers(&sim, "1002", &["1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "rescheduled");
    let agents: Value = serde_json::from_str(&sim.api("callback json agents")).unwrap();
    assert_eq!(agents["agents"][0]["state"], "away", "{agents}");
    sim.advance(Duration::seconds(10));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(attempts(&t)[0].2.as_deref(), Some("1001"));
    assert_eq!(t["attempts"][0]["hangup_cause"], "USER_NOT_REGISTERED");
    assert_eq!(attempts(&t)[1].2.as_deref(), Some("1002"));
}

#[test]
fn metrics_report_states_attempt_results_lateness_and_agents() {
    // /metrics over real HTTP from the loaded module, with a metrics-scope key: after one
    // delivered callback the store's figures and the dispatcher's own (lateness, agents)
    // are there; no key, or a key of another scope, is refused.
    let sim = sim();
    let text = std::fs::read_to_string(repo_root().join(CONF))
        .unwrap()
        .replace(
            r#"<param name="http-listen" value=""/>"#,
            r#"<param name="http-listen" value="127.0.0.1:0"/>"#,
        )
        .replace(
            "</configuration>",
            r#"<api-keys>
                 <key name="prom"><param name="secret" value="metrics-secret-0123456789"/>
                   <param name="scope" value="metrics"/></key>
                 <key name="web"><param name="secret" value="create-secret-0123456789"/>
                   <param name="scope" value="create"/></key>
               </api-keys></configuration>"#,
        );
    let conf = std::env::temp_dir().join(format!("metrics-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    let _m = load_with_config(&conf).unwrap();
    let _ = std::fs::remove_file(&conf);
    let line = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .unwrap_or_else(|| panic!("{:#?}", sim.logs()));
    let url = format!(
        "http://{}/metrics",
        line.text.rsplit(' ').next().unwrap().trim()
    );

    // A fresh install (nothing finished yet) is scraped too: no attempt series yet.
    let fresh = ureq::get(&url)
        .set("Authorization", "Bearer metrics-secret-0123456789")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(fresh.contains(r#"callback_requests{queue="support",state="completed"} 0"#));
    assert!(!fresh.contains("callback_attempts{"), "{fresh}");

    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "completed");

    let refused = |key: Option<&str>| {
        let mut req = ureq::get(&url);
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        match req.call() {
            Err(ureq::Error::Status(code, _)) => code,
            other => panic!("not refused: {:?}", other.map(|r| r.status())),
        }
    };
    assert_eq!(refused(None), 401);
    assert_eq!(refused(Some("create-secret-0123456789")), 403);

    let reply = ureq::get(&url)
        .set("Authorization", "Bearer metrics-secret-0123456789")
        .call()
        .unwrap();
    assert!(reply.content_type().starts_with("text/plain"));
    let body = reply.into_string().unwrap();
    let value = |series: &str| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} not in\n{body}"))
    };
    assert_eq!(
        value(r#"callback_requests{queue="support",state="completed"}"#),
        1.0
    );
    assert_eq!(
        value(r#"callback_requests{queue="support",state="scheduled"}"#),
        0.0
    );
    assert_eq!(
        value(r#"callback_attempts{queue="support",leg="agent",result="answered"}"#),
        1.0
    );
    assert_eq!(
        value(r#"callback_attempts{queue="support",leg="customer",result="answered"}"#),
        1.0
    );
    assert_eq!(value("callback_dispatch_lateness_seconds_count"), 1.0);
    assert_eq!(
        value(r#"callback_dispatch_lateness_seconds_bucket{le="+Inf"}"#),
        1.0
    );
    assert_eq!(value("callback_transcription_queue_depth"), 0.0);
    assert_eq!(value("callback_transcription_duration_seconds_count"), 0.0);
    let agents: f64 = ["ready", "away", "busy"]
        .iter()
        .map(|s| value(&format!(r#"callback_agents{{state="{s}"}}"#)))
        .sum();
    assert_eq!(
        agents as usize,
        sim.api("callback agents").lines().count() - 1
    );
    assert!(body.contains("# TYPE callback_attempts gauge"), "{body}");
    assert!(body.contains("# TYPE callback_dispatch_lateness_seconds histogram"));
}

#[test]
fn the_agent_hears_the_queues_ringback_while_the_customer_rings() {
    // Before the customer leg is bridged from the answered agent call, the queue's ringback
    // is set on the agent's channel (the default tone, or a vars.xml variable looked up in
    // the switch), so FreeSWITCH plays it instead of silence.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "completed");
    let b = sim.bridges();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].ringback.as_deref(), Some("%(2000,4000,440,480)"));
    let agent = sim.session(&b[0].from).unwrap();
    assert_eq!(
        agent.var("transfer_ringback").as_deref(),
        Some("%(2000,4000,440,480)")
    );
    drop(_m);
    drop(sim);

    // A queue naming vars.xml's ${uk-ring} gets that variable's tone.
    let sim = self::sim();
    let conf = conf_with(
        "<param name=\"gateway\"",
        "<param name=\"ringback\" value=\"${uk-ring}\"/><param name=\"gateway\"",
    );
    let _m = load_with_config(&conf).unwrap();
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    wait_state(&sim, id, "completed");
    assert_eq!(
        sim.bridges()[0].ringback.as_deref(),
        Some("%(400,200,400,450);%(400,2000,400,450)")
    );
}

#[test]
fn the_agent_reschedules_after_the_call_with_a_new_number() {
    // After the call the agent keys 8, 90 minutes and the number the customer gave: the
    // connected callback is rescheduled (not completed) as a delayed one on that number,
    // and at its time the customer is dialled on the new number.
    let sim = sim();
    let _m = load(CONF);
    // 1001 alone, so the second call goes to the same agent's scripted phone.
    sim.api("callback agent 1002 away");
    let start = sim.now();
    agent_answers(&sim, "1001", &["1", "8", "90#", "2125550177#"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    let r = &t["request"];
    assert_eq!(r["number"], "+12125550177");
    assert_eq!(r["kind"], "delayed");
    let due: chrono::DateTime<Utc> = r["due_at"].as_str().unwrap().parse().unwrap();
    assert!(
        due >= start + Duration::minutes(90) && due < start + Duration::minutes(91),
        "due {due}, the call began {start}"
    );
    let moved = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["action"] == "reschedule")
        .unwrap_or_else(|| panic!("no reschedule event: {t}"));
    assert_eq!(moved["from"], "connected");
    assert_eq!(moved["actor"], "1001");
    let detail = moved["detail"].as_str().unwrap();
    assert!(
        detail.contains("after the call") && detail.contains("number +12125550177"),
        "{detail}"
    );
    // Both legs of the first call are closed: the agent is free again.
    assert!(t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !a["ended_at"].is_null()));
    let agent_call = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .unwrap();
    let played: Vec<String> = agent_call
        .apps
        .lock()
        .unwrap()
        .iter()
        .map(|(_, arg)| arg.clone())
        .collect();
    assert!(
        played.iter().any(|a| a.contains("agent-rescheduled.wav")),
        "{played:?}"
    );

    // At its time it goes out again, to the new number.
    let new_dial = "sofia/gateway/pstn/+12125550177";
    agent_answers(&sim, "1001", &["1", "1"]);
    sim.endpoint(new_dial, Endpoint::Answer(4));
    sim.advance(Duration::minutes(91));
    let t = wait_state(&sim, id, "completed");
    // One bridge to each number (the sessions are not listed in call order).
    let b = bridges(&sim);
    assert_eq!(b.len(), 2, "{b:?}");
    for dial in [CUSTOMER_DIAL, new_dial] {
        assert_eq!(
            b.iter()
                .filter(|x| x.ends_with(&format!("}}{dial}")))
                .count(),
            1,
            "{dial}: {b:?}"
        );
    }
    assert_eq!(t["request"]["customer_attempts"], 2);
}

#[test]
fn a_number_the_agent_keys_after_the_call_that_is_not_valid_moves_nothing() {
    // After the call 8, 30 minutes and a number too short to be one: the agent hears that
    // the callback could not be moved, and it completes on its old number as if nothing
    // was keyed.
    let sim = sim();
    let _m = load(CONF);
    agent_answers(&sim, "1001", &["1", "8", "30#", "12#"]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(4));
    let id = capture(&sim, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["request"]["number"], CUSTOMER);
    assert!(!actions(&t).contains(&"reschedule".to_string()), "{t}");
    assert!(sim
        .logs()
        .iter()
        .any(|l| l.text.contains("asked to call again later") && l.text.contains("number")));
}

/// The dispatch configuration with the REST API on and a staff and a metrics key.
fn load_with_api(sim: &Sim) -> (Loaded, String) {
    let text = std::fs::read_to_string(repo_root().join(CONF))
        .unwrap()
        .replace(
            r#"<param name="http-listen" value=""/>"#,
            r#"<param name="http-listen" value="127.0.0.1:0"/>"#,
        )
        .replace(
            "</configuration>",
            r#"<api-keys>
                 <key name="crm"><param name="secret" value="staff-secret-0123456789ab"/>
                   <param name="scope" value="staff"/></key>
                 <key name="web"><param name="secret" value="create-secret-0123456789"/>
                   <param name="scope" value="create"/></key>
               </api-keys></configuration>"#,
        );
    let conf = std::env::temp_dir().join(format!("done-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    let m = load_with_config(&conf).unwrap();
    let _ = std::fs::remove_file(&conf);
    let line = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .unwrap_or_else(|| panic!("{:#?}", sim.logs()));
    let base = format!("http://{}", line.text.rsplit(' ').next().unwrap().trim());
    (m, base)
}

#[test]
fn done_without_a_call_is_its_own_outcome_at_every_door() {
    // A waiting callback marked done (fs_cli with a note, and the REST API) ends in state
    // `done`, not `cancelled`: the trace, the list, /metrics and the report count it apart
    // from a cancel; a done or running callback cannot be marked done, and a create key may
    // not mark one.
    let sim = sim();
    let (_m, base) = load_with_api(&sim);
    let a = capture(&sim, "type=delayed delay=2h");
    let b = capture(&sim, "type=delayed delay=2h");
    let c = capture(&sim, "type=delayed delay=2h");
    let r = sim.api(&format!("callback done {a} paid online meanwhile"));
    assert_eq!(r, format!("+OK callback {a} done (without a call)\n"));
    let t = show(&sim, a);
    assert_eq!(t["request"]["state"], "done");
    let e = t["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(e["action"], "done");
    assert_eq!(e["actor"], "fs_cli");
    assert_eq!(e["detail"], "done without a call: paid online meanwhile");

    // The REST API: a create key is refused, a staff key marks it.
    let url = format!("{base}/v1/callbacks/{b}/done");
    match ureq::post(&url)
        .set("Authorization", "Bearer create-secret-0123456789")
        .call()
    {
        Err(ureq::Error::Status(403, _)) => {}
        other => panic!(
            "a create key marked it done: {:?}",
            other.map(|r| r.status())
        ),
    }
    assert_eq!(state(&sim, b), "scheduled");
    let v: Value = ureq::post(&url)
        .set("Authorization", "Bearer staff-secret-0123456789ab")
        .send_json(serde_json::json!({"note": "customer emailed"}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(v["state"], "done", "{v}");
    // Twice: refused, naming the state, and nothing changes.
    match ureq::post(&url)
        .set("Authorization", "Bearer staff-secret-0123456789ab")
        .call()
    {
        Err(ureq::Error::Status(409, r)) => {
            let body = r.into_string().unwrap();
            assert!(body.contains("is done, not waiting"), "{body}");
        }
        other => panic!("done twice: {:?}", other.map(|r| r.status())),
    }
    let r = sim.api(&format!("callback done {b}"));
    assert!(r.starts_with("-ERR") && r.contains("not waiting"), "{r}");
    assert!(sim.api(&format!("callback cancel {c}")).starts_with("+OK"));

    // Listed, counted and reported apart from the cancel.
    let listed = sim.api("callback list done");
    assert!(listed.starts_with("+OK 2 callback(s)"), "{listed}");
    let metrics = ureq::get(&format!("{base}/metrics"))
        .set("Authorization", "Bearer staff-secret-0123456789ab")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains(r#"callback_requests{queue="support",state="done"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"callback_requests{queue="support",state="cancelled"} 1"#),
        "{metrics}"
    );
    let report = sim.api("callback report from=2026-11-22 to=2026-11-24");
    let states: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("callback,"))
        .filter_map(|l| l.split(',').find(|f| ["done", "cancelled"].contains(f)))
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "done").count(),
        2,
        "{report}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "cancelled").count(),
        1,
        "{report}"
    );
}

#[test]
fn a_queue_makes_the_phones_reschedules_personal_or_campaign() {
    // With `rescheduled-callbacks=personal` the agent's key 3 in the preview makes the
    // callback personal to that agent; with `campaign` a personal callback goes back to
    // any agent of the queue.
    for (rule, want) in [("personal", Some("1001")), ("campaign", None)] {
        let conf = conf_with(
            "<param name=\"failover-queue\" value=\"overflow\"/>",
            &format!(
                "<param name=\"failover-queue\" value=\"overflow\"/>\
                 <param name=\"rescheduled-callbacks\" value=\"{rule}\"/>"
            ),
        );
        let sim = sim();
        let _m = load_with_config(&conf).unwrap_or_else(|e| panic!("load failed: {e}"));
        sim.api("callback agent 1002 away");
        agent_answers(&sim, "1001", &["3"]);
        // Campaign: start from a callback personal to 1001, to see it let go.
        let args = if want.is_some() {
            "type=immediate"
        } else {
            "type=immediate agent=1001"
        };
        let id = capture(&sim, args);
        let t = wait_state(&sim, id, "rescheduled");
        assert_eq!(
            t["request"]["agent"].as_str(),
            want,
            "{rule}: {}",
            t["request"]
        );
        let detail = t["events"].as_array().unwrap().last().unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        let says = if want.is_some() {
            "personal to agent 1001"
        } else {
            "any agent of queue support"
        };
        assert!(detail.contains(says), "{rule}: {detail}");
    }
}

#[test]
fn fs_clis_reschedule_sets_the_type_the_time_implies() {
    // `callback reschedule` with now, +N and a clock time makes the callback immediate,
    // delayed and scheduled (said in the reply); an agent-preview callback keeps its type;
    // a bad time is refused naming the usage and changes nothing.
    let sim = sim();
    let _m = load(CONF);
    sim.api("callback agent 1001 away");
    sim.api("callback agent 1002 away");
    let id = capture(&sim, "type=delayed delay=2h");
    // The bad time first, while the callback waits two hours: once made immediate, the
    // dispatcher may claim it at any moment.
    let before = show(&sim, id)["request"].clone();
    let r = sim.api(&format!("callback reschedule {id} next blue moon"));
    assert!(
        r.starts_with("-ERR") && r.contains("callback reschedule <id> <when>"),
        "{r}"
    );
    assert_eq!(show(&sim, id)["request"], before);
    for (when, kind) in [
        ("+45m", "delayed"),
        ("tomorrow 09:30", "scheduled"),
        ("now", "immediate"),
    ] {
        let r = sim.api(&format!("callback reschedule {id} {when}"));
        assert!(
            r.starts_with(&format!("+OK callback {id} rescheduled"))
                && r.contains(&format!("type {kind}")),
            "{when}: {r}"
        );
        assert_eq!(show(&sim, id)["request"]["kind"], kind, "{when}");
    }
    let preview = capture(&sim, "type=agent-preview delay=1h");
    let r = sim.api(&format!("callback reschedule {preview} +2h"));
    assert!(r.contains("type agent-preview"), "{r}");
}
