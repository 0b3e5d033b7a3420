//! `cargo bench --bench queue` (issue #19): callbacks keeping their callers' place in a
//! mod_callcenter queue, with the loaded mod_callback.so (the debug build, as the tests
//! use) in the simulator on its virtual clock.
//!
//! One queue (`sales@default`, linked by `agents-from`), 20 agents defined only in
//! mod_callcenter, 250 callers joining one a second: every fifth leaves by the exit key
//! for a callback (50), the others wait live (200). All agents start on other queue calls;
//! then in rounds of 30 virtual seconds (a call's handling time) each agent's live call
//! ends, mod_callcenter's member dispatch runs first (it polls every 100 ms, the module
//! about every second), then the module takes what it holds or finds free for callbacks,
//! then mod_callcenter again. The order in which callers got an agent is recorded.
//!
//! - `order_inversions`: pairs of a callback and a live caller who got an agent at
//!   different instants against their join order (the live caller joined later but was
//!   served first, or joined earlier and was served later). Goal 0.
//! - `ewt_abs_error_s_p50`: for each callback, the estimate its caller would have been
//!   told when leaving the queue (`callback_core::estimate::wait_at`: its place among the
//!   callers still waiting, times the handling time, over the agents) against the wait
//!   until an agent took it, in virtual seconds.
//! - `callbacks_served`, `live_served`: what the run got through (250 in all).
//!
//! It runs in real time where the module does (about 6 s a round, some 20 rounds):
//! virtual time moves in 6-second steps with a real second between them, as the module
//! renews its holds on agents about every second. `QUEUE_BENCH_DIAG=1` prints the order
//! served on stderr.

use callback_simulator::scenario::{load_with_config, repo_root};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

const AGENTS: usize = 20;
const CALLERS: usize = 250;
const EVERY: usize = 5;
const HANDLING_SECS: i64 = 30;

fn main() {
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let _m = load_with_config(&repo_root().join("fixtures/config/queue.conf.xml"))
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let agent = |i: usize| format!("40{i:02}@default");
    for i in 0..AGENTS {
        let name = agent(i);
        for cmd in [
            format!("callcenter_config agent add {name} callback"),
            format!("callcenter_config agent set contact {name} user/{name}"),
            format!("callcenter_config agent set status {name} Available"),
            format!("callcenter_config agent set state {name} 'In a queue call'"),
            format!(
                "callcenter_config tier add sales@default {name} 1 {}",
                i + 1
            ),
        ] {
            assert_eq!(sim.api(&cmd), "+OK\n", "{cmd}");
        }
        let dial = format!("user/{name}");
        sim.endpoint(&dial, Endpoint::Answer(1));
        for _ in 0..CALLERS / EVERY {
            sim.script(&dial, vec![Act::Press("1".into())]);
        }
    }
    // Who joined when, and (for callbacks) the estimate told on leaving.
    let mut joined: BTreeMap<String, i64> = BTreeMap::new();
    let mut callbacks: BTreeMap<i64, (String, i64, i64)> = BTreeMap::new();
    for i in 0..CALLERS {
        // 212-555-0100..0199 are the numbers set aside for examples.
        let number = format!("+1212555{:04}", 100 + i / EVERY);
        if i % EVERY == 2 {
            sim.endpoint(&format!("sofia/gateway/pstn/{number}"), Endpoint::Answer(1));
            let call = sim.new_call(&number);
            let s = sim.session(&call).unwrap();
            s.set("cc_exit_keys", "*");
            s.set("sim_queue_wait_secs", "1");
            sim.press(&call, "*");
            let at = sim.now().timestamp();
            sim.execute(&call, "callcenter", "sales@default");
            sim.execute(&call, "callback_queue_exit", "");
            let id: i64 = sim
                .var(&call, "callback_id")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{:?}", sim.var(&call, "callback_error")));
            let name = format!("callback-{id}");
            joined.insert(name.clone(), at);
            // Its place: every caller still waiting (all of them, no agent is free yet).
            let place = i + 1;
            let ewt =
                callback_core::estimate::wait_at(place, Duration::seconds(HANDLING_SECS), AGENTS);
            callbacks.insert(id, (name, sim.now().timestamp(), ewt.num_seconds()));
        } else {
            let name = format!("live-{i}");
            sim.callcenter_caller("sales@default", &name, &number);
            joined.insert(name, sim.now().timestamp());
            sim.advance(Duration::seconds(1));
        }
    }
    let mut served: Vec<(String, i64)> = Vec::new();
    let mut on_live: Vec<String> = (0..AGENTS).map(agent).collect();
    let mut seen_callbacks: Vec<i64> = Vec::new();
    let mut rounds = 0;
    while served.len() < CALLERS && rounds < 200 {
        rounds += 1;
        // The handling time passes as it would: the module renews its holds about every
        // second of it (they would lapse after 10 s without), so the clock moves in steps
        // the module sees.
        for _ in 0..HANDLING_SECS / 6 {
            sim.advance(Duration::seconds(6));
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        for a in on_live.drain(..) {
            sim.api(&format!("callcenter_config agent set state {a} Waiting"));
        }
        let now = sim.now().timestamp();
        let take = |sim: &Sim, served: &mut Vec<(String, i64)>, on_live: &mut Vec<String>| {
            for (m, a) in sim.callcenter_dispatch() {
                served.push((m, now));
                on_live.push(a);
            }
        };
        take(&sim, &mut served, &mut on_live);
        // The module's turn(s): it looks about every second while it holds agents.
        std::thread::sleep(std::time::Duration::from_millis(3000));
        Sim::settle();
        for (&id, (name, _, _)) in &callbacks {
            if seen_callbacks.contains(&id) {
                continue;
            }
            let show: Value =
                serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
            if show["trace"]["attempts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["leg"] == "agent"))
            {
                seen_callbacks.push(id);
                served.push((name.clone(), now));
            }
        }
        take(&sim, &mut served, &mut on_live);
        // Agents held for callbacks that got one are let go within the module's next turn.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        take(&sim, &mut served, &mut on_live);
    }
    if std::env::var_os("QUEUE_BENCH_DIAG").is_some() {
        for (n, at) in &served {
            eprintln!("{at} {n} joined {}", joined[n]);
        }
    }
    let mut inversions = 0;
    for (i, (a, at_a)) in served.iter().enumerate() {
        for (b, at_b) in &served[i + 1..] {
            // a got an agent before b (an earlier freeing of agents; those of the same
            // instant are simultaneous): an inversion when b joined before a, one of them
            // a callback and the other live.
            if at_a < at_b
                && a.starts_with("callback") != b.starts_with("callback")
                && joined[b] < joined[a]
            {
                inversions += 1;
            }
        }
    }
    let mut errors: Vec<i64> = callbacks
        .iter()
        .filter_map(|(_, (name, left, ewt))| {
            served
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, at)| ((at - left) - ewt).abs())
        })
        .collect();
    errors.sort_unstable();
    let p50 = errors.get(errors.len() / 2).copied().unwrap_or(-1);
    let cb = served
        .iter()
        .filter(|(n, _)| n.starts_with("callback"))
        .count();
    println!("order_inversions: {inversions} pairs");
    println!("ewt_abs_error_s_p50: {p50} s");
    println!("callbacks_served: {cb} of {}", callbacks.len());
    println!(
        "live_served: {} of {}",
        served.len() - cb,
        CALLERS - callbacks.len()
    );
}
