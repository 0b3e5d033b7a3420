//! Callbacks from mod_fifo's holding lines (issue #19), in the loaded mod_callback.so: a
//! caller waiting in `fifo <name> in` leaves by `fifo_caller_exit_key` and
//! `callback_fifo_exit` stores its callback with the time it joined; the callback keeps
//! its place behind the fifo's older live callers, read with `fifo list` as mod_fifo 1.10.12
//! prints it (the simulator's src/fifo.rs). Configuration: fixtures/config/queue.conf.xml
//! (queue support, agent 1001 at user/1001).

use callback_simulator::loader::Loaded;
use callback_simulator::queue_centre::{
    answers_and_accepts, handed_over, load, load_edited, offers_played, sim, waits_on_hold, Hold,
    CUSTOMER, CUSTOMER_DIAL,
};
use callback_simulator::scenario::{actions, repo_root, show, wait_state};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::Duration;
use serde_json::Value;

const AGENT_DIAL: &str = "user/1001";

fn agent_answers_and_accepts(sim: &Sim) {
    answers_and_accepts(sim, AGENT_DIAL);
}

fn agent_rung(sim: &Sim) -> usize {
    sim.commands()
        .iter()
        .filter(|c| c.starts_with("originate ") && c.contains(AGENT_DIAL))
        .count()
}

fn callbacks(sim: &Sim) -> Value {
    let list: Value = serde_json::from_str(&sim.api("callback json list")).unwrap();
    list["callbacks"].clone()
}

/// A caller of `number` in fifo `fifo` who presses `keys` after `wait_secs`; returns the
/// call's uuid once `fifo` has returned.
fn fifo_caller_leaves(sim: &Sim, fifo: &str, number: &str, keys: &str, wait_secs: i64) -> String {
    let call = sim.new_call(number);
    let s = sim.session(&call).unwrap();
    s.set("fifo_caller_exit_key", "*");
    s.set("sim_queue_wait_secs", &wait_secs.to_string());
    sim.press(&call, keys);
    assert!(sim.execute(&call, "fifo", &format!("{fifo} in")));
    call
}

#[test]
fn a_fifo_caller_presses_the_exit_key_and_gets_a_callback_with_the_original_join_time() {
    // The caller waits in fifo support (slot 2) for 90 s, presses 5 (no exit key, ignored)
    // and then *; callback_fifo_exit stores an immediate support callback keeping the time
    // the caller joined (mod_fifo's fifo_push_timestamp), the fifo, the slot, the caller's
    // name and the listed variable only; the queue's agent then takes it.
    let sim = sim();
    let _m = load();
    let joined = sim.now().timestamp();
    agent_answers_and_accepts(&sim);
    let call = sim.new_call(CUSTOMER);
    let s = sim.session(&call).unwrap();
    s.set("caller_id_name", "Ann Lee");
    s.set("fifo_caller_exit_key", "*#");
    s.set("fifo_priority", "2");
    s.set("sim_queue_wait_secs", "90");
    s.set("account_id", "77812");
    s.set("pin", "4321");
    sim.press(&call, "5");
    sim.press(&call, "*");
    assert!(sim.execute(&call, "fifo", "support in"));
    assert_eq!(sim.var(&call, "fifo_status").as_deref(), Some("ABORTED"));
    assert_eq!(sim.var(&call, "fifo_caller_exit_key").as_deref(), Some("*"));
    assert_eq!(sim.now().timestamp(), joined + 90);
    assert!(sim.execute(&call, "callback_fifo_exit", "support vars=account_id"));
    let id = handed_over(&sim, &call);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["queue"], "support");
    assert_eq!(r["kind"], "immediate");
    assert_eq!(r["number"], CUSTOMER);
    assert_eq!(r["ivr_data"]["queue_joined_epoch"], joined.to_string());
    assert_eq!(r["ivr_data"]["line_queue"], "support");
    assert_eq!(r["ivr_data"]["line_slot"], "2");
    assert_eq!(r["ivr_data"]["caller_name"], "Ann Lee");
    assert_eq!(r["ivr_data"]["var.account_id"], "77812");
    assert!(r["ivr_data"].get("var.pin").is_none(), "{r}");
    assert!(r["ivr_data"].get("centre_queue").is_none(), "{r}");
    assert_eq!(r["origin_uuid"], call);
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], "1001");
}

#[test]
fn a_fifo_caller_who_left_without_the_exit_key_gets_no_callback() {
    // The orbit's timeout ended the wait (fifo_status=TIMEOUT): refused, nothing stored;
    // so are a call that never waited in a fifo, a fifo no queue is named like, and
    // arguments without the fifo's name or with a name that is no token.
    let sim = sim();
    let _m = load();
    let call = sim.new_call(CUSTOMER);
    let s = sim.session(&call).unwrap();
    s.set("fifo_caller_exit_key", "*");
    s.set("fifo_orbit_exten", "_continue_:30");
    sim.press(&call, "*");
    assert!(sim.execute(&call, "fifo", "support in"));
    assert_eq!(sim.var(&call, "fifo_status").as_deref(), Some("TIMEOUT"));
    sim.execute(&call, "callback_fifo_exit", "support");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
    assert!(sim
        .var(&call, "callback_error")
        .unwrap()
        .contains("did not leave the queue with its exit key"));

    let never = sim.new_call(CUSTOMER);
    sim.execute(&never, "callback_fifo_exit", "support");
    assert!(sim
        .var(&never, "callback_error")
        .unwrap()
        .contains("did not leave the queue with its exit key"));

    let billing = fifo_caller_leaves(&sim, "billing", CUSTOMER, "*", 5);
    assert_eq!(sim.var(&billing, "fifo_status").as_deref(), Some("ABORTED"));
    sim.execute(&billing, "callback_fifo_exit", "billing");
    assert!(sim
        .var(&billing, "callback_error")
        .unwrap()
        .contains("no queue is named like the holding line 'billing'"));
    for (args, says) in [
        ("queue=support", "the fifo's name comes first"),
        ("", "the fifo's name comes first"),
        ("sup'port", "a fifo name is"),
        ("billing queue=nosuch", "unknown queue"),
    ] {
        sim.execute(&billing, "callback_fifo_exit", args);
        let err = sim.var(&billing, "callback_error").unwrap_or_default();
        assert!(err.contains(says), "{args}: {err}");
    }
    assert_eq!(callbacks(&sim), serde_json::json!([]));
}

#[test]
fn a_callback_from_a_fifo_waits_for_the_older_live_callers_and_not_for_later_ones() {
    // Live caller 1 joins fifo support (slot 0), then one of slot 1, then the caller who
    // leaves for a callback, then live caller 2. Agent 1001 is free all along, but the
    // callback is not offered while caller 1 waits (the module reads `fifo list support`);
    // once a consumer has taken caller 1, it goes out though the slot-1 caller (served
    // after slot 0 whatever its time) and caller 2 (joined later) still wait.
    let sim = sim();
    let _m = load();
    agent_answers_and_accepts(&sim);
    sim.fifo_caller("support", 0, "live-1", "+12125550161");
    sim.advance(Duration::seconds(5));
    sim.fifo_caller("support", 1, "early-low", "+12125550160");
    sim.advance(Duration::seconds(5));
    let call = fifo_caller_leaves(&sim, "support", CUSTOMER, "*", 5);
    sim.execute(&call, "callback_fifo_exit", "support");
    let id = handed_over(&sim, &call);
    sim.advance(Duration::seconds(3));
    sim.fifo_caller("support", 0, "live-2", "+12125550162");
    // The dispatcher looks (in its own threads) until the trace shows it waiting for its
    // place, then a few more turns.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !actions(&show(&sim, id)).contains(&"place-wait".to_string()) {
        assert!(std::time::Instant::now() < deadline, "{}", show(&sim, id));
        assert_eq!(agent_rung(&sim), 0, "offered before caller 1");
        sim.advance(Duration::seconds(1));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for _ in 0..3 {
        sim.advance(Duration::seconds(3));
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert_eq!(agent_rung(&sim), 0, "offered before caller 1");
    let t = show(&sim, id);
    assert_eq!(t["attempts"], serde_json::json!([]));
    assert!(
        sim.commands().iter().any(|c| c == "fifo list support"),
        "{:?}",
        sim.commands()
    );
    // A consumer takes caller 1 (the first of slot 0).
    assert_eq!(sim.fifo_pop("support").as_deref(), Some("live-1"));
    sim.advance(Duration::seconds(3));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], "1001");
    assert_eq!(agent_rung(&sim), 1);
    // The later callers were never taken: they still wait, in mod_fifo's order.
    let list = sim.api("fifo list support");
    assert!(list.contains("uuid=\"live-2\""), "{list}");
    assert!(list.contains("uuid=\"early-low\""), "{list}");
    assert_eq!(sim.fifo_pop("support").as_deref(), Some("live-2"));
}

#[test]
fn the_shipped_fifo_dialplan_turns_the_exit_key_into_a_callback() {
    // dialplans/callback_fifo.xml's actions run in order on a caller who presses * while
    // waiting (`set` as FreeSWITCH's set app; the log and the closing prompt skipped):
    // the module stores the support callback and the caller is told OK.
    let sim = sim();
    let _m = load();
    let xml = std::fs::read_to_string(repo_root().join("dialplans/callback_fifo.xml")).unwrap();
    let action =
        regex::Regex::new(r#"<action application="([a-z_]+)"(?: data="([^"]*)")?/>"#).unwrap();
    let call = sim.new_call(CUSTOMER);
    let s = sim.session(&call).unwrap();
    s.set("sim_queue_wait_secs", "30");
    s.set("account_id", "5150");
    sim.press(&call, "*");
    let mut ran = Vec::new();
    for c in action.captures_iter(&xml) {
        let (app, data) = (&c[1], c.get(2).map_or("", |d| d.as_str()));
        match app {
            "set" => {
                let (k, v) = data.split_once('=').unwrap();
                s.set(k, v);
            }
            "log" | "playback" | "hangup" => continue,
            _ => assert!(sim.execute(&call, app, data), "{app} {data}"),
        }
        ran.push(app.to_string());
    }
    assert_eq!(ran, ["answer", "set", "set", "fifo", "callback_fifo_exit"]);
    let id = handed_over(&sim, &call);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["queue"], "support");
    assert_eq!(r["ivr_data"]["line_queue"], "support");
    assert_eq!(r["ivr_data"]["var.account_id"], "5150");
}

/// Set in the child process of the time-zone test.
const TZ_CHILD: &str = "FIFO_TEST_TZ_CHILD";

#[test]
fn a_fifo_join_time_written_in_new_york_time_is_kept_as_the_same_instant() {
    // mod_fifo writes the join time in the switch's local time: with the process in New
    // York (a child process started with TZ set, as a FreeSWITCH started there), the
    // channel says 09:00 for 14:00 UTC and the callback keeps 14:00 UTC.
    const NAME: &str = "a_fifo_join_time_written_in_new_york_time_is_kept_as_the_same_instant";
    if std::env::var_os(TZ_CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(TZ_CHILD, "1")
            // A POSIX rule, so no tzdata is needed: New York, five hours behind UTC in November.
            .env("TZ", "EST5EDT,M3.2.0,M11.1.0")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    let sim = sim();
    let _m = load();
    let joined = sim.now().timestamp();
    let call = fifo_caller_leaves(&sim, "support", CUSTOMER, "*", 30);
    assert_eq!(
        sim.var(&call, "fifo_push_timestamp").as_deref(),
        Some("2026-11-23 09:00:00")
    );
    sim.execute(&call, "callback_fifo_exit", "support");
    let id = handed_over(&sim, &call);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["ivr_data"]["queue_joined_epoch"], joined.to_string());
}

/// The fifo tests' configuration with the in-queue offer on for fifo support
/// (`line-from`, `offer-after-wait` 5m); the module loaded with it.
fn load_with_fifo_offer() -> Loaded {
    load_edited(
        "fifo-offer",
        &[(
            r#"<param name="caller-id-number" value="+12125550100"/>
      <param name="reoffer-delay" value="10s"/>
    </queue>
    <queue name="sales">"#,
            r#"<param name="caller-id-number" value="+12125550100"/>
      <param name="reoffer-delay" value="10s"/>
      <param name="line-from" value="fifo:support"/>
      <param name="offer-after-wait" value="5m"/>
    </queue>
    <queue name="sales">"#,
        )],
    )
}

/// A caller who waits 8 s in fifo support ([`waits_on_hold`]).
fn waits_in_fifo(sim: &Sim, number: &str, keys: Option<&str>) -> String {
    waits_on_hold(sim, Hold::Fifo("support"), number, keys)
}

/// A caller of fifo support leaves for a callback, which agent 1001 takes (as the test set
/// the endpoints): the queue's handling time, in seconds (that callback's agent leg).
fn one_callback_handled(sim: &Sim) -> i64 {
    let seed = fifo_caller_leaves(sim, "support", CUSTOMER, "*", 5);
    sim.execute(&seed, "callback_fifo_exit", "support");
    let seed_id: i64 = sim.var(&seed, "callback_id").unwrap().parse().unwrap();
    let t = wait_state(sim, seed_id, "completed");
    let leg = &t["attempts"][0];
    let secs = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(leg[k].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    secs("ended_at") - secs("started_at")
}

#[test]
fn the_ewt_offer_in_a_fifo_fires_past_its_threshold_and_not_before() {
    // Threshold 5 minutes, one agent, and the queue's own handling time H (one callback
    // handled, its agent leg 70 s and more). Caller A has one live caller ahead: place 2,
    // 2H, within the threshold: no offer. Caller B has four ahead: place 5, 5H, past it:
    // offered once while it waits (uuid_broadcast during mod_fifo's hold music), presses
    // nothing and keeps waiting. Caller C, also past it, presses 1: the offer queues the
    // fifo's exit key, mod_fifo ends the wait as for the key (ABORTED, the key in
    // fifo_caller_exit_key), and callback_fifo_exit makes the callback with the time C
    // joined.
    let sim = sim();
    let _m = load_with_fifo_offer();
    // Within the agent's ring time (20 s) and the customer's (60 s).
    sim.endpoint(AGENT_DIAL, Endpoint::Answer(15));
    sim.script(AGENT_DIAL, vec![Act::Press("1".into())]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(55));
    let handling = one_callback_handled(&sim);
    assert!(
        (61..=150).contains(&handling),
        "the premise: 2H within 5 min, 5H past it ({handling} s)"
    );

    sim.fifo_caller("support", 0, "l1", "+12125550120");
    sim.advance(Duration::seconds(1));
    let a = waits_in_fifo(&sim, "+12125550131", None);
    assert_eq!(offers_played(&sim, &a), 0, "{:?}", sim.commands());
    assert_eq!(sim.var(&a, "callback_offer"), None);
    assert!(
        !sim.commands()
            .iter()
            .any(|c| c.contains(&format!("uuid_broadcast {a}"))),
        "{:?}",
        sim.commands()
    );

    sim.fifo_caller("support", 0, "l2", "+12125550121");
    sim.fifo_caller("support", 0, "l3", "+12125550122");
    sim.fifo_caller("support", 0, "l4", "+12125550123");
    sim.advance(Duration::seconds(1));
    let b = waits_in_fifo(&sim, "+12125550132", None);
    assert_eq!(offers_played(&sim, &b), 1, "{:?}", sim.commands());
    let broadcasts = sim
        .commands()
        .iter()
        .filter(|c| c.starts_with(&format!("uuid_broadcast {b} callback_queue_offer::")))
        .count();
    assert_eq!(broadcasts, 1, "{:?}", sim.commands());
    assert_eq!(sim.var(&b, "callback_offer").as_deref(), Some("played"));
    assert_ne!(sim.var(&b, "fifo_status").as_deref(), Some("WAITING"));
    assert!(sim.var(&b, "callback_id").is_none());

    sim.advance(Duration::seconds(1));
    let joined = sim.now().timestamp();
    let c = waits_in_fifo(&sim, "+12125550133", Some("1"));
    assert_eq!(offers_played(&sim, &c), 1, "{:?}", sim.commands());
    assert_eq!(sim.var(&c, "callback_offer").as_deref(), Some("taken"));
    assert_eq!(sim.var(&c, "fifo_status").as_deref(), Some("ABORTED"));
    assert_eq!(sim.var(&c, "fifo_caller_exit_key").as_deref(), Some("*"));
    assert!(sim.execute(&c, "callback_fifo_exit", "support"));
    let id = handed_over(&sim, &c);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["queue"], "support");
    assert_eq!(r["ivr_data"]["queue_joined_epoch"], joined.to_string());
    assert_eq!(r["ivr_data"]["line_queue"], "support");
}

#[test]
fn a_fifo_hand_over_keeps_the_wait_estimated_at_the_callers_place_in_the_fifo() {
    // With the queue's own handling time H (one callback handled) and one agent: a caller
    // of slot 0 leaves fifo support while two older slot-0 callers still wait there (a
    // slot-1 caller, older still, is served after it): its callback keeps place 3, 3 x H,
    // as estimated_wait_seconds (what the estimate-error metric is measured against).
    let sim = sim();
    let _m = load();
    agent_answers_and_accepts(&sim);
    let handling = one_callback_handled(&sim);
    assert!(handling > 0, "{handling}");

    sim.fifo_caller("support", 1, "low", "+12125550160");
    sim.advance(Duration::seconds(1));
    sim.fifo_caller("support", 0, "live-1", "+12125550161");
    sim.fifo_caller("support", 0, "live-2", "+12125550162");
    sim.advance(Duration::seconds(1));
    let call = fifo_caller_leaves(&sim, "support", "+12125550143", "*", 30);
    sim.execute(&call, "callback_fifo_exit", "support");
    let id = handed_over(&sim, &call);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(
        r["ivr_data"]["estimated_wait_seconds"],
        (3 * handling).to_string(),
        "{r}"
    );
}
