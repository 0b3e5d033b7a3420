//! The customer leg on answer (#20) in the loaded mod_callback.so: the agent's `bridge`
//! runs `callback_answer <id>` on the customer's answered leg through FreeSWITCH's group
//! confirm (`group_confirm_key=exec`), which judges machine or person (the server's AMD
//! variables, the module's own cadence detector on the leg's first seconds), applies the
//! queue's policy, and plays the greeting and asks for its key. One test per branch, on
//! fixtures/config/dispatch.conf.xml with the support queue's answer keys added. The
//! customer's audio is a clip of fixtures/answer (made by its make-clips.sh).

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{self, actions, load_with_config, repo_root, show, wait_state};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use std::path::PathBuf;

const CONF: &str = "fixtures/config/dispatch.conf.xml";
const CUSTOMER: &str = "+12125550142";
const CUSTOMER_DIAL: &str = "sofia/gateway/pstn/+12125550142";
/// Where the support queue's keys end (the answer keys go in before it).
const SUPPORT_END: &str =
    "<param name=\"reoffer-delay\" value=\"10s\"/>\n    </queue>\n    <queue name=\"overflow\">";

fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

/// The dispatch configuration with `keys` (`name=value`) added to the support queue.
fn load(keys: &[(&str, &str)]) -> Loaded {
    let text = std::fs::read_to_string(repo_root().join(CONF)).unwrap();
    assert!(
        text.contains(SUPPORT_END),
        "the support queue's end moved in {CONF}"
    );
    let params: String = keys
        .iter()
        .map(|(k, v)| format!("<param name=\"{k}\" value=\"{v}\"/>\n      "))
        .collect();
    let path = std::env::temp_dir().join(format!(
        "answer-{}-{}.conf.xml",
        std::process::id(),
        keys.iter()
            .map(|(k, v)| format!("{k}{v}"))
            .collect::<String>()
            .len()
            * 7
            + keys.len()
            + params.bytes().map(usize::from).sum::<usize>()
    ));
    std::fs::write(
        &path,
        text.replace(SUPPORT_END, &format!("{params}{SUPPORT_END}")),
    )
    .unwrap();
    load_with_config(&path).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn clip(name: &str) -> PathBuf {
    repo_root()
        .join("fixtures/answer")
        .join(format!("{name}.wav"))
}

/// Agent 1001 answers, keys 1 (dial), then nothing at the after-call menu.
fn agent_dials(sim: &Sim) {
    sim.endpoint("user/1001", Endpoint::Answer(2));
    sim.script("user/1001", vec![Act::Press("1".into()), Act::Silent]);
}

fn customer_leg(t: &Value) -> Value {
    t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|a| a["leg"] == "customer")
        .cloned()
        .unwrap_or_else(|| panic!("no customer attempt: {t}"))
}

/// Seconds from the event `action` (the last of them) to the callback's due time.
fn retry_pause(t: &Value, action: &str) -> i64 {
    let at = |v: &Value| -> chrono::DateTime<Utc> { v.as_str().unwrap().parse().unwrap() };
    let event = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action}: {t}"));
    (at(&t["request"]["due_at"]) - at(&event["at"])).num_seconds()
}

/// The applications run on the customer's leg (the session dialled at CUSTOMER_DIAL).
fn customer_apps(sim: &Sim) -> Vec<(String, String)> {
    sim.sessions()
        .iter()
        .filter(|s| s.var("destination_number").as_deref() == Some(CUSTOMER_DIAL))
        .flat_map(|s| s.apps.lock().unwrap().clone())
        .collect()
}

#[test]
fn an_amd_machine_verdict_is_hung_up_and_retried_without_using_an_attempt() {
    // An AMD module on the customer's leg says MACHINE: the check hangs the leg up before
    // the agent is connected, the attempt is `machine`, the callback is retried after the
    // queue's delay, and (machine-counts-attempt=false) the attempt is given back.
    let sim = sim();
    let _m = load(&[("on-machine", "retry"), ("machine-counts-attempt", "false")]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.answer_vars(
        CUSTOMER_DIAL,
        &[("amd_result", "MACHINE"), ("amd_cause", "LONGGREETING")],
    );
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(customer_leg(&t)["result"], "machine", "{t}");
    assert!(actions(&t).contains(&"retry".to_string()), "{t}");
    assert!(!actions(&t).contains(&"connected".to_string()), "{t}");
    assert_eq!(t["request"]["customer_attempts"], 0, "{t}");
    assert_eq!(retry_pause(&t, "retry"), 300, "{t}");
    let apps = customer_apps(&sim);
    assert!(apps.iter().any(|(a, _)| a == "callback_answer"), "{apps:?}");
    assert!(apps.iter().any(|(a, _)| a == "hangup"), "{apps:?}");
    // The check ran through the agent call's group confirm variables, cleared afterwards.
    let agent = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .unwrap();
    assert_eq!(agent.var("group_confirm_key"), None);
    assert_eq!(agent.var("callback_answer").as_deref(), Some("machine"));
}

#[test]
fn the_detector_hears_a_machine_greeting_and_leaves_the_message() {
    // No AMD module: the module's own detector hears a greeting that runs on, waits for its
    // end, leaves the configured message and hangs up; after-message=complete completes
    // the callback with a `message-left` attempt, and the agent never talks to anyone.
    let sim = sim();
    let _m = load(&[
        ("machine-detection", "on"),
        ("on-machine", "message"),
        ("machine-message", "callback/acme-message.wav"),
        ("after-message", "complete"),
    ]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.script(CUSTOMER_DIAL, vec![Act::Speak(clip("machine-03"))]);
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(customer_leg(&t)["result"], "message-left", "{t}");
    assert!(!actions(&t).contains(&"connected".to_string()), "{t}");
    let apps: Vec<String> = customer_apps(&sim)
        .into_iter()
        .map(|(a, arg)| format!("{a} {arg}"))
        .collect();
    let at = |p: &str| {
        apps.iter()
            .position(|a| a.starts_with(p))
            .unwrap_or_else(|| panic!("no {p}: {apps:?}"))
    };
    assert!(
        at("record ") < at("playback callback/acme-message.wav"),
        "{apps:?}"
    );
    assert!(
        at("playback callback/acme-message.wav") < at("hangup"),
        "{apps:?}"
    );
    // The agent is not told the callback will be tried again: it is done.
    let agent_heard: Vec<String> = sim
        .sessions()
        .iter()
        .filter(|s| s.var("destination_number").as_deref() == Some("user/1001"))
        .flat_map(|s| s.apps.lock().unwrap().clone())
        .map(|(_, arg)| arg)
        .collect();
    assert!(
        agent_heard.iter().any(|a| a == "callback/agent-thanks.wav"),
        "{agent_heard:?}"
    );
    assert!(
        !agent_heard
            .iter()
            .any(|a| a.contains("customer-not-reached")),
        "{agent_heard:?}"
    );
}

#[test]
fn the_detector_hears_a_person_say_hello_and_connects_the_agent() {
    // The same detector on a short "hello?" then waiting: a person, so the leg wins, the
    // bridge completes and the callback is completed with an answered customer attempt.
    let sim = sim();
    let _m = load(&[("machine-detection", "on"), ("on-machine", "retry")]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.script(CUSTOMER_DIAL, vec![Act::Speak(clip("human-01"))]);
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(customer_leg(&t)["result"], "answered", "{t}");
    assert!(actions(&t).contains(&"connected".to_string()), "{t}");
    let apps = customer_apps(&sim);
    assert!(apps.iter().any(|(a, _)| a == "record"), "{apps:?}");
    assert!(!apps.iter().any(|(a, _)| a == "hangup"), "{apps:?}");
    let leg = sim
        .sessions()
        .into_iter()
        .find(|s| s.var("destination_number").as_deref() == Some(CUSTOMER_DIAL))
        .unwrap();
    assert_eq!(leg.var("group_dial_status").as_deref(), Some("winner"));
}

#[test]
fn a_machine_keyed_by_the_agent_after_the_call_is_retried() {
    // No detection at all: the agent talked to a machine and says so after the call
    // (`callback result <attempt> machine`): the completed callback is retried after the
    // queue's delay, as if the call had ended so; a wrong number keyed later fails it.
    let sim = sim();
    let _m = load(&[]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    let attempt = customer_leg(&t)["id"].as_i64().unwrap();
    let r = sim.api(&format!("callback result {attempt} machine"));
    assert!(r.starts_with("+OK"), "{r}");
    let t = show(&sim, id);
    assert_eq!(t["request"]["state"], "rescheduled", "{t}");
    assert_eq!(retry_pause(&t, "retry"), 300, "{t}");
    assert_eq!(customer_leg(&t)["result"], "machine", "{t}");
    // A label on an older call moves nothing: the callback is not completed by it.
    let r = sim.api(&format!("callback result {attempt} wrong-number"));
    assert!(r.starts_with("+OK"), "{r}");
    assert_eq!(show(&sim, id)["request"]["state"], "rescheduled");
}

#[test]
fn a_wrong_number_keyed_by_the_agent_after_the_call_fails_the_callback() {
    // The agent says the number was wrong: the retry policy fails the completed callback.
    let sim = sim();
    let _m = load(&[]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    let attempt = customer_leg(&t)["id"].as_i64().unwrap();
    let r = sim.api(&format!("callback result {attempt} wrong-number"));
    assert!(r.starts_with("+OK"), "{r}");
    assert_eq!(show(&sim, id)["request"]["state"], "failed");
}

#[test]
fn the_greeting_with_its_key_pressed_connects_the_agent() {
    // The queue greets the customer and asks for 1: pressed, the agent is connected.
    let sim = sim();
    let _m = load(&[
        ("customer-greeting", "callback/acme-returning-your-call.wav"),
        ("greeting-key", "1"),
    ]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.script(CUSTOMER_DIAL, vec![Act::Press("1".into())]);
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(customer_leg(&t)["result"], "answered", "{t}");
    let apps = customer_apps(&sim);
    assert!(
        apps.iter().any(|(a, arg)| a == "play_and_get_digits"
            && arg.contains("callback/acme-returning-your-call.wav")),
        "{apps:?}"
    );
}

#[test]
fn the_greeting_without_a_key_ends_the_leg_as_no_key_and_retries() {
    // Greeted, the customer presses nothing: the leg is hung up before the agent is
    // connected, the attempt is `no-key` and the retry policy calls again later.
    let sim = sim();
    let _m = load(&[
        ("customer-greeting", "callback/acme-returning-your-call.wav"),
        ("greeting-key", "1"),
    ]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.script(CUSTOMER_DIAL, vec![Act::Silent]);
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(customer_leg(&t)["result"], "no-key", "{t}");
    assert!(!actions(&t).contains(&"connected".to_string()), "{t}");
    assert_eq!(t["request"]["customer_attempts"], 1, "{t}");
}

#[test]
fn an_avmd_beep_leaves_the_message_at_once_and_the_callback_is_retried() {
    // mod_avmd heard the voicemail beep (avmd_detect=TRUE): a machine, and the beep has
    // played, so the message is left without waiting for the greeting to end; with
    // after-message=retry the callback is called again, the attempt counted.
    let sim = sim();
    let _m = load(&[
        ("on-machine", "message"),
        ("machine-message", "callback/acme-message.wav"),
        ("after-message", "retry"),
    ]);
    agent_dials(&sim);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
    sim.answer_vars(CUSTOMER_DIAL, &[("avmd_detect", "TRUE")]);
    let id = scenario::capture(&sim, CUSTOMER, "type=immediate");
    let t = wait_state(&sim, id, "rescheduled");
    assert_eq!(customer_leg(&t)["result"], "message-left", "{t}");
    assert_eq!(t["request"]["customer_attempts"], 1, "{t}");
    assert_eq!(retry_pause(&t, "retry"), 300, "{t}");
    let apps: Vec<String> = customer_apps(&sim)
        .into_iter()
        .map(|(a, arg)| format!("{a} {arg}"))
        .collect();
    assert!(!apps.iter().any(|a| a.starts_with("record ")), "{apps:?}");
    assert!(
        apps.iter()
            .any(|a| a == "playback callback/acme-message.wav"),
        "{apps:?}"
    );
}
