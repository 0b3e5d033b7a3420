//! Callbacks inside FreeSWITCH's contact centre (issue #19), in the loaded mod_callback.so:
//! a queue takes its agents from mod_callcenter (`agents-from`), whose `callcenter_config`
//! the simulator answers as mod_callcenter 1.10.12 does (src/callcenter.rs); an agent busy
//! there, or on a busy phone, is neither offered a callback nor counted as declining; a
//! callback's agent shows busy in mod_callcenter while it rings and talks.
//! Configuration: fixtures/config/queue.conf.xml.

use callback_simulator::loader::Loaded;
use callback_simulator::queue_centre::{
    answers_and_accepts, handed_over, load, load_edited, offers_played, sim, waits_on_hold, Hold,
    CUSTOMER,
};
use callback_simulator::scenario::{self, actions, http_base, show, wait_state};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::Duration;
use serde_json::Value;

fn capture(sim: &Sim, args: &str) -> i64 {
    scenario::capture(sim, CUSTOMER, args)
}

fn agent(sim: &Sim, id: &str) -> Value {
    let agents: Value = serde_json::from_str(&sim.api("callback json agents")).unwrap();
    agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no agent {id} in {agents}"))
}

fn originates_to(sim: &Sim, dial: &str) -> usize {
    sim.commands()
        .iter()
        .filter(|c| c.starts_with("originate ") && c.contains(dial))
        .count()
}

/// A mod_callcenter agent as an admin adds one with `callcenter_config`, in `sales@default`.
fn cc_agent(sim: &Sim, name: &str, contact: &str, state: &str) {
    cc_agent_at(sim, name, contact, state, 1);
}

/// [`cc_agent`] at tier position `position` (the centre rings lower positions first).
fn cc_agent_at(sim: &Sim, name: &str, contact: &str, state: &str, position: u32) {
    for cmd in [
        format!("callcenter_config agent add {name} callback"),
        format!("callcenter_config agent set contact {name} {contact}"),
        format!("callcenter_config agent set status {name} Available"),
        format!("callcenter_config agent set state {name} '{state}'"),
        format!("callcenter_config tier add sales@default {name} 1 {position}"),
    ] {
        assert_eq!(sim.api(&cmd), "+OK\n", "{cmd}");
    }
}

/// A caller who waits `waited` seconds in `sales@default` and leaves by the exit key for a
/// callback (`callback_queue_exit`): the callback's id.
fn exits_for_a_callback(sim: &Sim, waited: u32) -> i64 {
    let call = sim.new_call(CUSTOMER);
    let s = sim.session(&call).unwrap();
    s.set("cc_exit_keys", "*");
    s.set("sim_queue_wait_secs", &waited.to_string());
    sim.press(&call, "*");
    assert!(sim.execute(&call, "callcenter", "sales@default"));
    sim.execute(&call, "callback_queue_exit", "");
    handed_over(sim, &call)
}

#[test]
fn a_callcenter_agent_on_a_live_call_is_never_offered_a_callback_nor_set_away() {
    // While mod_callcenter has the agent on a queue call (as it sets the state when it
    // bridges a member, mod_callcenter.c:2042) the callback waits and the agent is neither
    // rung nor counted as declining; once the centre has it waiting again, the agent takes
    // the callback and the centre shows it busy until it ends.
    let sim = sim();
    let _m = load();
    cc_agent(&sim, "3001@default", "user/3001@default", "In a queue call");
    answers_and_accepts(&sim, "user/3001@default");
    let id = capture(&sim, "type=immediate queue=sales");
    for _ in 0..6 {
        sim.advance(Duration::seconds(20));
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert_eq!(originates_to(&sim, "user/3001@default"), 0);
    // It waits for an agent: no leg was ever started for it.
    assert_eq!(show(&sim, id)["attempts"], serde_json::json!([]));
    let a = agent(&sim, "3001@default");
    assert_eq!(a["state"], "busy", "{a}");
    assert_eq!(a["centre_busy"], "on a queue call", "{a}");
    assert_eq!(a["declined_in_row"], 0, "{a}");
    // The queue call ends: mod_callcenter sets the agent Waiting (mod_callcenter.c:2231).
    sim.api("callcenter_config agent set state 3001@default Waiting");
    sim.advance(Duration::seconds(1));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], "3001@default");
    assert_eq!(originates_to(&sim, "user/3001@default"), 1);
    assert_eq!(
        sim.callcenter_states("3001@default"),
        [
            "In a queue call",
            "Waiting",
            "Receiving",
            "In a queue call",
            "Waiting"
        ]
    );
    assert_ne!(agent(&sim, "3001@default")["state"], "away");
}

#[test]
fn an_agent_defined_only_in_callcenter_takes_a_callback() {
    // No <agents> entry names the agent: mod_callcenter's agent list and tiers make it a
    // sales agent, rung at its contact without the centre's own [leg_timeout=...] block.
    let sim = sim();
    let _m = load();
    cc_agent(
        &sim,
        "3002@default",
        "[leg_timeout=10]user/3002@default",
        "Waiting",
    );
    answers_and_accepts(&sim, "user/3002@default");
    let id = capture(&sim, "type=immediate queue=sales");
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], "3002@default");
    assert_eq!(t["attempts"][1]["leg"], "customer");
    let rung: Vec<String> = sim
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("originate "))
        .collect();
    assert_eq!(rung.len(), 1, "{rung:?}");
    assert!(rung[0].contains("}user/3002@default "), "{rung:?}");
    assert!(!rung[0].contains("leg_timeout=10"), "{rung:?}");
    assert_eq!(
        sim.callcenter_states("3002@default"),
        ["Waiting", "Receiving", "In a queue call", "Waiting"]
    );
}

#[test]
fn an_agent_on_a_break_in_callcenter_is_not_offered() {
    // Status On Break keeps a waiting agent from callbacks as it does from queue calls.
    let sim = sim();
    let _m = load();
    cc_agent(&sim, "3003@default", "user/3003@default", "Waiting");
    sim.api("callcenter_config agent set status 3003@default 'On Break'");
    answers_and_accepts(&sim, "user/3003@default");
    let id = capture(&sim, "type=immediate queue=sales");
    for _ in 0..3 {
        sim.advance(Duration::seconds(20));
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert_eq!(originates_to(&sim, "user/3003@default"), 0);
    assert_eq!(
        agent(&sim, "3003@default")["centre_busy"],
        "on break in the contact centre"
    );
    sim.api("callcenter_config agent set status 3003@default Available");
    sim.advance(Duration::seconds(1));
    wait_state(&sim, id, "completed");
}

#[test]
fn a_phone_busy_on_another_call_is_not_a_decline() {
    // The agent's phone answers USER_BUSY (a personal call, do-not-disturb) to every offer:
    // each is recorded and the callback offered again, but the agent is never counted as
    // declining and never set away (three declines would).
    let sim = sim();
    let _m = load();
    sim.endpoint("user/1001", Endpoint::Busy);
    let id = capture(&sim, "type=immediate queue=support");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let busy = show(&sim, id)["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["hangup_cause"] == "USER_BUSY")
            .count();
        if busy >= 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", show(&sim, id));
        sim.advance(Duration::seconds(11));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let a = agent(&sim, "1001");
    assert_eq!(a["declined_in_row"], 0, "{a}");
    assert_ne!(a["state"], "away", "{a}");
}

#[test]
fn an_in_queue_caller_presses_the_exit_key_and_gets_a_callback_with_the_original_join_time() {
    // The caller waits in sales@default (dialplans/callback_queue.xml: cc_exit_keys=*),
    // presses 5 (no exit key, ignored) and then *, and callback_queue_exit stores an
    // immediate sales callback that keeps the join time mod_callcenter set, the centre's
    // queue, the caller's name and the listed variable only; a centre agent then takes it.
    let sim = sim();
    let _m = load();
    let joined = sim.now().timestamp();
    cc_agent(&sim, "3004@default", "user/3004@default", "In a queue call");
    answers_and_accepts(&sim, "user/3004@default");
    let call = sim.new_call(CUSTOMER);
    let s = sim.session(&call).unwrap();
    s.set("caller_id_name", "Ann Lee");
    s.set("cc_exit_keys", "*");
    s.set("sim_queue_wait_secs", "90");
    s.set("account_id", "77812");
    s.set("pin", "4321");
    sim.press(&call, "5");
    sim.press(&call, "*");
    assert!(sim.execute(&call, "callcenter", "sales@default"));
    assert_eq!(
        sim.var(&call, "cc_cancel_reason").as_deref(),
        Some("EXIT_WITH_KEY")
    );
    assert!(sim.execute(&call, "callback_queue_exit", "vars=account_id"));
    let id = handed_over(&sim, &call);
    let r = show(&sim, id)["request"].clone();
    assert_eq!(r["queue"], "sales");
    assert_eq!(r["kind"], "immediate");
    assert_eq!(r["number"], CUSTOMER);
    assert_eq!(r["ivr_data"]["queue_joined_epoch"], joined.to_string());
    assert_eq!(r["ivr_data"]["centre_queue"], "sales@default");
    assert_eq!(r["ivr_data"]["caller_name"], "Ann Lee");
    assert_eq!(r["ivr_data"]["var.account_id"], "77812");
    assert!(r["ivr_data"].get("var.pin").is_none(), "{r}");
    assert_eq!(r["origin_uuid"], call);
    // The centre frees its agent; the callback goes out to it.
    sim.api("callcenter_config agent set state 3004@default Waiting");
    sim.advance(Duration::seconds(1));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], "3004@default");
}

#[test]
fn a_caller_who_left_the_queue_without_the_exit_key_gets_no_callback() {
    // The wait ran out (cc_cancel_reason=TIMEOUT): callback_queue_exit says so and stores
    // nothing; a call that never waited in a queue is refused as such.
    let sim = sim();
    let _m = load();
    let call = sim.new_call(CUSTOMER);
    sim.session(&call).unwrap().set("cc_exit_keys", "*");
    sim.press(&call, "5");
    assert!(sim.execute(&call, "callcenter", "sales@default"));
    assert_eq!(
        sim.var(&call, "cc_cancel_reason").as_deref(),
        Some("TIMEOUT")
    );
    sim.execute(&call, "callback_queue_exit", "");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
    assert!(sim
        .var(&call, "callback_error")
        .unwrap()
        .contains("did not leave the queue with its exit key"));
    let other = sim.new_call(CUSTOMER);
    sim.session(&other)
        .unwrap()
        .set("cc_cancel_reason", "EXIT_WITH_KEY");
    sim.execute(&other, "callback_queue_exit", "");
    assert!(sim
        .var(&other, "callback_error")
        .unwrap()
        .contains("no contact-centre queue"));
    let list: Value = serde_json::from_str(&sim.api("callback json list")).unwrap();
    assert_eq!(list["callbacks"], serde_json::json!([]), "{list}");
}

/// mod_callcenter's ready_time of `agent`.
fn ready_time(sim: &Sim, agent: &str) -> i64 {
    let out = sim.api(&format!("callcenter_config agent list {agent}"));
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split('|').collect();
    let row: Vec<&str> = lines.next().unwrap().split('|').collect();
    let at = header.iter().position(|h| *h == "ready_time").unwrap();
    row[at].parse().unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn three_live_callers_and_one_callback_from_the_same_queue_are_served_in_join_order() {
    // Live caller 1 joins, then the caller who leaves for a callback, then live callers 2
    // and 3; one agent. Each time the agent is free mod_callcenter's dispatch looks first
    // (it polls every 100 ms): caller 1 is served before the callback (which waits for
    // it though its agent is free), then the callback (the module holds the agent from
    // mod_callcenter once no live caller is ahead), then callers 2 and 3.
    let sim = sim();
    let _m = load();
    let agent = "3006@default";
    cc_agent(&sim, agent, "user/3006@default", "In a queue call");
    answers_and_accepts(&sim, "user/3006@default");
    sim.callcenter_caller("sales@default", "live-1", "+12125550161");
    sim.advance(Duration::seconds(10));
    let id = exits_for_a_callback(&sim, 5);
    sim.advance(Duration::seconds(5));
    sim.callcenter_caller("sales@default", "live-2", "+12125550162");
    sim.advance(Duration::seconds(10));
    sim.callcenter_caller("sales@default", "live-3", "+12125550163");
    // The agent's queue call ends: its tier is Ready again and it is Waiting
    // (mod_callcenter.c:2218-2232); the centre rings it from the next second (:2331).
    let free = || {
        sim.callcenter_call_ends(agent);
        sim.advance(Duration::seconds(1));
    };
    let mut order: Vec<String> = Vec::new();
    // Caller 1's turn: the dispatcher sees the agent free too, but the callback waits.
    free();
    std::thread::sleep(std::time::Duration::from_millis(300));
    order.extend(sim.callcenter_dispatch().into_iter().map(|(m, _)| m));
    assert_eq!(order, ["live-1"]);
    // The callback is at the front now: the module holds the agent while caller 1 talks.
    wait_for("the agent held for the callback", || {
        ready_time(&sim, agent) > sim.now().timestamp()
    });
    free();
    assert_eq!(sim.callcenter_dispatch(), []);
    sim.advance(Duration::seconds(2));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], agent);
    order.push("callback".into());
    // The hold ends with the callback, and mod_callcenter serves callers 2 and 3.
    wait_for("the hold ended", || ready_time(&sim, agent) == 0);
    order.extend(sim.callcenter_dispatch().into_iter().map(|(m, _)| m));
    free();
    order.extend(sim.callcenter_dispatch().into_iter().map(|(m, _)| m));
    assert_eq!(order, ["live-1", "callback", "live-2", "live-3"]);
    let trace = actions(&t);
    assert!(trace.contains(&"place-wait".to_string()), "{trace:?}");
}

#[test]
fn the_agent_freed_first_goes_to_the_callback_at_the_front_whichever_it_is() {
    // Two agents on queue calls: 3101's began first (the one likely to be freed first),
    // 3102's later. The callback is first in line, a live caller joined after it. 3102's
    // call ends first: the module held both agents (not only the one its place was
    // predicted to get), so mod_callcenter does not give 3102 to the later caller, and the
    // callback takes 3102; the later caller gets 3101 when its call ends.
    let sim = sim();
    let _m = load();
    let (first, second) = ("3101@default", "3102@default");
    for (name, position) in [(first, 1), (second, 2)] {
        cc_agent_at(&sim, name, &format!("user/{name}"), "Waiting", position);
        answers_and_accepts(&sim, &format!("user/{name}"));
    }
    // mod_callcenter bridges a caller to each agent, 3101 first.
    sim.callcenter_caller("sales@default", "live-a", "+12125550171");
    assert_eq!(
        sim.callcenter_dispatch(),
        [("live-a".to_string(), first.to_string())]
    );
    sim.advance(Duration::seconds(5));
    sim.callcenter_caller("sales@default", "live-b", "+12125550172");
    assert_eq!(
        sim.callcenter_dispatch(),
        [("live-b".to_string(), second.to_string())]
    );
    sim.advance(Duration::seconds(5));
    let id = exits_for_a_callback(&sim, 5);
    sim.advance(Duration::seconds(2));
    sim.callcenter_caller("sales@default", "live-c", "+12125550173");
    wait_for("both busy agents held for the callback", || {
        let now = sim.now().timestamp();
        ready_time(&sim, first) > now && ready_time(&sim, second) > now
    });
    // 3102's call ends first (mod_callcenter.c:2086-2090, then Waiting at :2231).
    sim.callcenter_call_ends(second);
    sim.advance(Duration::seconds(1));
    assert_eq!(
        sim.callcenter_dispatch(),
        [],
        "live-c joined after the callback"
    );
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], second);
    // 3102 stayed held from the offer until the centre took the claim: a hold ended in
    // between (its ready time put back to 0) would let the centre give it to live-c.
    let commands = sim.commands();
    let claim = format!("callcenter_config agent set state_if_waiting {second} Receiving");
    let claimed_at = commands
        .iter()
        .position(|c| *c == claim)
        .expect("the claim of 3102");
    let let_go = format!("callcenter_config agent set ready_time {second} 0");
    assert!(
        !commands[..claimed_at].contains(&let_go),
        "3102's hold ended before its claim: {:#?}",
        &commands[claimed_at.saturating_sub(8)..=claimed_at]
    );
    // With the callback served, the holds end and 3101's end goes to live-c.
    wait_for("the holds ended", || {
        ready_time(&sim, first) <= sim.now().timestamp()
    });
    sim.callcenter_call_ends(first);
    sim.advance(Duration::seconds(1));
    let served = sim.callcenter_dispatch();
    assert!(
        served.contains(&("live-c".to_string(), first.to_string())),
        "{served:?}"
    );
}

#[test]
fn an_agent_freed_from_a_callback_is_held_before_the_centre_sees_it_free() {
    // Agent 3201 rings for a callback with no place in the line (captured, not handed
    // over). In sales@default live-1 waits, then a callback handed over from the queue,
    // then live-2. 3202 and 3203 come free: going down the line, 3202 falls to live-1 (the
    // module leaves it to the centre) and 3203 to the callback (held for it, which waits
    // for live-1 to be served); nothing is left for 3201, so it is not held, while 3203
    // is. 3201's ringing ends (no answer) before the centre has served live-1: the module
    // holds 3201 (its ready time ahead) before it sets it Waiting, so the centre's pass
    // that sees it free (here at once, as mod_callcenter's every 100 ms would before the
    // module's next look) gives live-1 3202 and live-2, who joined after the waiting
    // callback, nothing; unheld, 3201 would go to live-1 and 3202 to live-2. The callback
    // then takes 3203, and 3201 is let go, to live-2.
    let sim = sim();
    let _m = load();
    let (freed, to_live, to_callback) = ("3201@default", "3202@default", "3203@default");
    for (name, position, state) in [
        (freed, 1, "Waiting"),
        (to_live, 2, "In a queue call"),
        (to_callback, 3, "In a queue call"),
    ] {
        cc_agent_at(&sim, name, &format!("user/{name}"), state, position);
    }
    sim.endpoint(&format!("user/{freed}"), Endpoint::Rings(30_000));
    answers_and_accepts(&sim, &format!("user/{to_callback}"));
    scenario::capture(&sim, "+12125550190", "type=immediate queue=sales");
    let ringing = || {
        sim.commands()
            .into_iter()
            .find(|c| c.starts_with("originate ") && c.contains(&format!("}}user/{freed} ")))
    };
    wait_for("3201 rung for the captured callback", || {
        ringing().is_some()
    });
    sim.callcenter_caller("sales@default", "live-1", "+12125550191");
    sim.advance(Duration::seconds(5));
    let id = exits_for_a_callback(&sim, 5);
    sim.advance(Duration::seconds(1));
    sim.callcenter_caller("sales@default", "live-2", "+12125550192");
    // No agent is free: the two busy beyond the one left for live-1 are held.
    wait_for("3202 and 3203 held", || {
        let now = sim.now().timestamp();
        ready_time(&sim, to_live) > now && ready_time(&sim, to_callback) > now
    });
    for name in [to_live, to_callback] {
        let cmd = format!("callcenter_config agent set state {name} Waiting");
        assert_eq!(sim.api(&cmd), "+OK\n");
    }
    wait_for(
        "3202 left for live-1, 3203 held for the callback, 3201 not held",
        || {
            let now = sim.now().timestamp();
            ready_time(&sim, to_live) <= now
                && ready_time(&sim, to_callback) > now
                && ready_time(&sim, freed) <= now
        },
    );
    let before_release = sim.commands().len();
    sim.callcenter_pass_on_free(true);
    let leg = ringing().unwrap();
    let uuid = leg
        .split(['{', ',', '}'])
        .find_map(|kv| kv.strip_prefix("origination_uuid="))
        .unwrap()
        .to_string();
    assert_eq!(sim.api(&format!("uuid_kill {uuid} NO_ANSWER")), "+OK\n");
    let set_free = format!("callcenter_config agent set state {freed} Waiting");
    wait_for("3201 set free", || {
        sim.commands()[before_release..].contains(&set_free)
    });
    sim.callcenter_pass_on_free(false);
    let now = sim.now().timestamp();
    assert_eq!(
        sim.callcenter_served_on_free(),
        [("live-1".to_string(), to_live.to_string())],
        "live-2 joined after the waiting callback"
    );
    // What the centre was told about 3201 once it was freed: held, then free.
    let told: Vec<String> = sim.commands()[before_release..]
        .iter()
        .filter(|c| c.starts_with("callcenter_config agent set ") && c.contains(freed))
        .cloned()
        .collect();
    let held_at = told
        .iter()
        .position(|c| {
            c.strip_prefix(&format!("callcenter_config agent set ready_time {freed} "))
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t > now)
        })
        .unwrap_or_else(|| panic!("3201 never held: {told:?}"));
    let free_at = told.iter().position(|c| *c == set_free).unwrap();
    assert!(held_at < free_at, "{told:?}");
    // live-1 is served: at its next look (within 2 s) the callback takes the agent held for
    // it; then 3201 is let go, to live-2.
    sim.advance(Duration::seconds(2));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], to_callback, "{t}");
    wait_for("3201 let go", || {
        ready_time(&sim, freed) <= sim.now().timestamp()
    });
    assert_eq!(
        sim.callcenter_dispatch(),
        [("live-2".to_string(), freed.to_string())]
    );
}

#[test]
fn a_claim_the_centre_refused_is_offered_again_at_once_and_is_no_decline() {
    // Two free agents and a live caller in sales@default; a callback that keeps no place
    // in the line (captured, not handed over: nobody is held) may take either. Between the
    // module's reading of the tables and its claim (`state_if_waiting`), mod_callcenter's
    // own dispatch gives the agent the module picked to the live caller, so the claim is
    // refused: nobody is rung, the callback is due again at once (`centre-took`, not after
    // the queue's 10 s re-offer delay) and goes to the other agent without the clock
    // moving, and the agent the centre took counts no decline.
    let sim = sim();
    let _m = load();
    for a in ["3211@default", "3212@default"] {
        cc_agent(&sim, a, &format!("user/{a}"), "Waiting");
        answers_and_accepts(&sim, &format!("user/{a}"));
    }
    sim.callcenter_caller("sales@default", "live-1", "+12125550181");
    sim.callcenter_bridge_before_next_claim("live-1");
    let id = capture(&sim, "type=immediate queue=sales");
    // The clock does not move until the second agent answers: only a callback due again
    // at once reaches it.
    wait_for(
        "the callback offered again at once after the refused claim",
        || show(&sim, id)["attempts"].as_array().unwrap().len() >= 2,
    );
    let t = wait_state(&sim, id, "completed");
    let attempts = t["attempts"].as_array().unwrap();
    let (taken, other) = (
        attempts[0]["agent"].as_str().unwrap(),
        attempts[1]["agent"].as_str().unwrap(),
    );
    assert_ne!(taken, other, "{t}");
    assert_eq!(attempts[0]["hangup_cause"], "USER_BUSY", "{t}");
    assert_eq!(attempts[0]["started_at"], attempts[1]["started_at"], "{t}");
    // The centre has the live caller on the agent it took, which the module never rang
    // nor set free.
    assert_eq!(
        sim.callcenter_states(taken),
        ["Waiting", "Receiving", "In a queue call"],
        "{t}"
    );
    assert_eq!(originates_to(&sim, &format!("user/{taken}")), 0);
    assert_eq!(originates_to(&sim, &format!("user/{other}")), 1);
    let a = agent(&sim, taken);
    assert_eq!(a["declined_in_row"], 0, "{a}");
    // Refused, then claimed and offered again in the same instant: no wait for an agent
    // (nor a re-offer) in between.
    assert_eq!(
        actions(&t)[..6],
        ["created", "claim", "offer", "centre-took", "claim", "offer"],
        "{t}"
    );
}

/// The queue tests' configuration with the in-queue offer on (`offer-after-wait` 5m for
/// sales) and the REST API on 127.0.0.1 with a metrics key and a create key; the module
/// loaded with it, and the API's address.
fn load_with_offer(sim: &Sim) -> (Loaded, String) {
    let m = load_edited(
        "queue-offer",
        &[
            (
                r#"<param name="agents-from" value="callcenter:sales@default"/>"#,
                r#"<param name="agents-from" value="callcenter:sales@default"/>
      <param name="offer-after-wait" value="5m"/>"#,
            ),
            (
                r#"<param name="http-listen" value=""/>"#,
                r#"<param name="http-listen" value="127.0.0.1:0"/>"#,
            ),
            (
                "</configuration>",
                r#"<api-keys>
                 <key name="prom"><param name="secret" value="metrics-secret-0123456789"/>
                   <param name="scope" value="metrics"/></key>
                 <key name="web"><param name="secret" value="create-secret-0123456789"/>
                   <param name="scope" value="create"/></key>
               </api-keys>
               <ivr-profiles><profile name="sales-wait">
                 <param name="queue" value="sales"/><param name="offer" value="immediate"/>
                 <param name="tell-wait" value="true"/>
               </profile></ivr-profiles></configuration>"#,
            ),
        ],
    );
    let addr = http_base(sim)
        .strip_prefix("http://")
        .unwrap_or_default()
        .to_string();
    (m, addr)
}

/// Two mod_callcenter agents of sales@default who have each handled a 300 s queue call and
/// are now on another one (the centre's talk time and calls answered say 300 s a call).
fn agents_with_history(sim: &Sim) -> [&'static str; 2] {
    let agents = ["5001@default", "5002@default"];
    for a in agents {
        cc_agent(sim, a, &format!("user/{a}"), "Waiting");
    }
    for (i, who) in ["h1", "h2"].iter().enumerate() {
        sim.callcenter_caller("sales@default", who, &format!("+1212555010{i}"));
    }
    assert_eq!(sim.callcenter_dispatch().len(), 2);
    sim.advance(Duration::seconds(300));
    for a in agents {
        sim.callcenter_call_ends(a);
    }
    // Past the second the calls ended in (mod_callcenter: last_bridge_end < now - wrap-up).
    sim.advance(Duration::seconds(1));
    for (i, who) in ["h3", "h4"].iter().enumerate() {
        sim.callcenter_caller("sales@default", who, &format!("+1212555011{i}"));
    }
    assert_eq!(sim.callcenter_dispatch().len(), 2);
    agents
}

/// A caller who waits 8 s in sales@default ([`waits_on_hold`]).
fn waits_in_queue(sim: &Sim, number: &str, keys: Option<&str>) -> String {
    waits_on_hold(sim, Hold::Callcenter("sales@default"), number, keys)
}

#[test]
fn the_ewt_offer_fires_past_its_threshold_and_not_before() {
    // Threshold 5 minutes, two agents on calls, 300 s a call. Caller A has one live caller
    // ahead: place 2, about 300 s, not past the threshold: no offer. Caller B has two
    // ahead: place 3, about 450 s: offered once (about 8 minutes), B presses nothing and
    // keeps waiting. Caller C, also past it, presses 1: the offer queues the exit key,
    // mod_callcenter ends the wait as for the key, and callback_queue_exit makes the
    // callback with its estimate kept.
    let sim = sim();
    let (_m, _) = load_with_offer(&sim);
    agents_with_history(&sim);
    sim.callcenter_caller("sales@default", "l1", "+12125550120");
    // Joined a second before the next (a tie goes to the later caller's callback).
    sim.advance(Duration::seconds(1));
    let a = waits_in_queue(&sim, "+12125550131", None);
    assert_eq!(offers_played(&sim, &a), 0, "{:?}", sim.commands());
    assert_eq!(sim.var(&a, "cc_cancel_reason").as_deref(), Some("TIMEOUT"));
    assert_eq!(sim.var(&a, "callback_offer"), None);

    sim.callcenter_caller("sales@default", "l2", "+12125550121");
    // Joined a second before the next (a tie goes to the later caller's callback).
    sim.advance(Duration::seconds(1));
    let b = waits_in_queue(&sim, "+12125550132", None);
    assert_eq!(offers_played(&sim, &b), 1, "{:?}", sim.commands());
    let broadcast = format!("uuid_broadcast {b} callback_queue_offer::8 aleg");
    assert_eq!(
        sim.commands().iter().filter(|c| **c == broadcast).count(),
        1,
        "{:?}",
        sim.commands()
    );
    assert_eq!(sim.var(&b, "callback_offer").as_deref(), Some("played"));
    assert_eq!(sim.var(&b, "cc_cancel_reason").as_deref(), Some("TIMEOUT"));

    let c = waits_in_queue(&sim, "+12125550133", Some("1"));
    assert_eq!(offers_played(&sim, &c), 1);
    assert_eq!(sim.var(&c, "callback_offer").as_deref(), Some("taken"));
    assert_eq!(
        sim.var(&c, "cc_cancel_reason").as_deref(),
        Some("EXIT_WITH_KEY")
    );
    assert_eq!(sim.var(&c, "cc_exit_key").as_deref(), Some("*"));
    assert!(sim.execute(&c, "callback_queue_exit", ""));
    let id = handed_over(&sim, &c);
    let r = show(&sim, id)["request"].clone();
    // l1 and l2 ahead: place 3, 3 x 300 s over 2 agents.
    assert_eq!(r["ivr_data"]["estimated_wait_seconds"], "450", "{r}");
}

#[test]
fn the_estimate_counts_the_centres_line_over_rest_and_its_error_is_a_metric() {
    // With two live callers waiting and a callback taken from the queue, the availability
    // answer places a new request 4th (2 live + 1 callback ahead), about 600 s with two
    // agents at 300 s a call, and the IVR's tell-wait says so before the menu. When the callback is first offered to an agent, the wait it
    // had less its estimate is observed in callback_estimate_error_seconds.
    let sim = sim();
    let (_m, addr) = load_with_offer(&sim);
    let agents = agents_with_history(&sim);
    sim.callcenter_caller("sales@default", "l1", "+12125550120");
    // Joined a second before the next (a tie goes to the later caller's callback).
    sim.advance(Duration::seconds(1));
    sim.callcenter_caller("sales@default", "l2", "+12125550121");
    // Joined a second before the next (a tie goes to the later caller's callback).
    sim.advance(Duration::seconds(1));
    let id = exits_for_a_callback(&sim, 5);
    assert_eq!(
        show(&sim, id)["request"]["ivr_data"]["estimated_wait_seconds"],
        "450"
    );
    // The dispatcher has looked at it: it waits for l1 and l2 (not in its hands a moment).
    wait_for("the callback waits for its place", || {
        show(&sim, id)["request"]["state"] == "rescheduled"
    });
    let day: Value = ureq::get(&format!(
        "http://{addr}/v1/availability?queue=sales&date=2026-11-23"
    ))
    .set("Authorization", "Bearer create-secret-0123456789")
    .call()
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(
        day["estimate"],
        serde_json::json!({"place": 4, "live_ahead": 2, "seconds": 600}),
        "{day}"
    );

    // The IVR with tell-wait says the same before the caller chooses (who hangs up then).
    let ivr_call = sim.new_call("+12125550150");
    sim.act(&ivr_call, Act::Hangup);
    sim.execute(&ivr_call, "callback_ivr", "sales-wait");
    let apps = sim.session(&ivr_call).unwrap().apps.lock().unwrap().clone();
    let said: Vec<String> = apps
        .iter()
        .filter(|(a, _)| a == "playback" || a == "say")
        .map(|(_, arg)| arg.clone())
        .take(6)
        .collect();
    assert_eq!(
        said,
        [
            "callback/position.wav",
            "en NUMBER pronounced 4",
            "callback/in-line.wav",
            "callback/wait-about.wav",
            "en NUMBER pronounced 10",
            "callback/minutes.wav"
        ],
        "{apps:?}"
    );

    // The centre's calls end: l1 and l2 take the agents; then one is free again and the
    // callback, first in line, gets it.
    answers_and_accepts(&sim, "user/5001@default");
    for a in agents {
        sim.callcenter_call_ends(a);
    }
    sim.advance(Duration::seconds(1));
    assert_eq!(sim.callcenter_dispatch().len(), 2);
    sim.advance(Duration::seconds(120));
    sim.callcenter_call_ends(agents[0]);
    sim.advance(Duration::seconds(1));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], agents[0]);
    let body = ureq::get(&format!("http://{addr}/metrics"))
        .set("Authorization", "Bearer metrics-secret-0123456789")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let value = |series: &str| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} not in\n{body}"))
    };
    assert_eq!(value("callback_estimate_error_seconds_count"), 1.0);
    // Offered 122 s after it was made (the calls' end, 1 s, 120 s, 1 s), told 450 s.
    let waited = {
        let created =
            chrono::DateTime::parse_from_rfc3339(t["request"]["created_at"].as_str().unwrap())
                .unwrap();
        let started =
            chrono::DateTime::parse_from_rfc3339(t["attempts"][0]["started_at"].as_str().unwrap())
                .unwrap();
        (started - created).num_seconds()
    };
    assert_eq!(
        value("callback_estimate_error_seconds_sum"),
        (waited - 450) as f64,
        "{t}"
    );
    assert_eq!(
        value(r#"callback_estimate_error_seconds_bucket{le="-300"}"#),
        1.0
    );
}

#[test]
fn a_caller_being_offered_an_agent_keeps_its_place_and_the_centres_no_answer_delay_is_kept() {
    // 3402 talks to live-0; the centre offers live-1 to 3401, which rings (live-1 Trying,
    // 3401 Receiving, its tier Offering). A caller who joined after live-1 leaves for a
    // callback: live-1 is still ahead of it (the offer may fail), but already has an
    // agent ringing, so the module holds both agents for the callback. 3401 does not
    // answer: the centre puts live-1 back in line and 3401 to sleep for its no-answer
    // delay (mod_callcenter.c:2126-2232), and the module neither wakes 3401 early nor
    // takes 3402, which is freed next and goes to live-1. The callback gets 3401 when it
    // wakes.
    let sim = sim();
    let _m = load();
    let (ringing, talking) = ("3401@default", "3402@default");
    cc_agent_at(&sim, talking, &format!("user/{talking}"), "Waiting", 1);
    cc_agent_at(&sim, ringing, &format!("user/{ringing}"), "Waiting", 2);
    for a in [ringing, talking] {
        answers_and_accepts(&sim, &format!("user/{a}"));
    }
    let cmd = format!("callcenter_config agent set no_answer_delay_time {ringing} 30");
    assert_eq!(sim.api(&cmd), "+OK\n");
    sim.callcenter_caller("sales@default", "live-0", "+12125550190");
    assert_eq!(
        sim.callcenter_dispatch(),
        [("live-0".to_string(), talking.to_string())]
    );
    sim.advance(Duration::seconds(5));
    sim.callcenter_caller("sales@default", "live-1", "+12125550191");
    assert_eq!(
        sim.callcenter_offer(),
        [("live-1".to_string(), ringing.to_string())]
    );
    sim.advance(Duration::seconds(5));
    let id = exits_for_a_callback(&sim, 5);
    wait_for("both agents held for the callback", || {
        let now = sim.now().timestamp();
        ready_time(&sim, ringing) > now && ready_time(&sim, talking) > now
    });
    // live-1, being offered 3401, is still ahead of the callback's caller.
    wait_for("the callback waiting in its place", || {
        actions(&show(&sim, id)).contains(&"place-wait".to_string())
    });
    let t = show(&sim, id);
    assert_eq!(t["attempts"].as_array().unwrap().len(), 0, "{t}");
    // 3401 does not answer: asleep for 30 s from now, its own ready time. The no-answer
    // comes just before the module's next read of the centre's agents, so no hold it
    // renews from an earlier read is written over it (a race the module cannot close:
    // `callcenter_config` has no conditional write).
    sim.advance(Duration::seconds(3));
    let asleep_until = sim.now().timestamp() + 30;
    let sent_before = sim.commands().len();
    sim.callcenter_no_answer_before_next_read(ringing);
    let full_reads = |from: usize| -> Vec<usize> {
        sim.commands()
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, c)| *c == "callcenter_config agent list")
            .map(|(i, _)| i)
            .collect()
    };
    // Two looks after it: the first read saw the no-answer, the second began after the
    // first look's writes.
    wait_for("two looks of the module after the no-answer", || {
        full_reads(sent_before).len() >= 2
    });
    let seen_at = full_reads(sent_before)[0];
    assert_eq!(ready_time(&sim, ringing), asleep_until);
    // Those looks keep 3402 held (live-1 is ahead again, and 3401, asleep, is the agent
    // likely free first, left to the centre), and 3401's ready time is never set earlier.
    assert!(ready_time(&sim, talking) > sim.now().timestamp());
    let set_ready = |agent: &str| format!("callcenter_config agent set ready_time {agent} ");
    let after = sim.commands()[seen_at..].to_vec();
    assert!(
        after.iter().any(|c| c.starts_with(&set_ready(talking))),
        "3402's hold was not renewed after the no-answer: {after:#?}"
    );
    let woken: Vec<&String> = after
        .iter()
        .filter(|c| c.starts_with(&set_ready(ringing)))
        .collect();
    assert!(
        woken.iter().all(|c| c
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v >= asleep_until)),
        "the module set 3401's ready time before its no-answer delay ended: {woken:?}"
    );
    // 3402's call ends: the module lets it go to live-1, ahead of the callback.
    sim.callcenter_call_ends(talking);
    sim.advance(Duration::seconds(1));
    wait_for("3402 let go to the centre", || {
        ready_time(&sim, talking) <= sim.now().timestamp()
    });
    assert_eq!(
        sim.callcenter_dispatch(),
        [("live-1".to_string(), talking.to_string())]
    );
    assert_eq!(originates_to(&sim, &format!("user/{ringing}")), 0);
    // 3401 wakes: the callback, first in line now, takes it.
    sim.advance(Duration::seconds(30));
    let t = wait_state(&sim, id, "completed");
    assert_eq!(t["attempts"][0]["agent"], ringing, "{t}");
    let started = t["attempts"][0]["started_at"].as_str().unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(started).unwrap();
    assert!(started.timestamp() >= asleep_until, "{t}");
}
