//! The queue tests' centre (tests/fifo.rs, tests/queue.rs): the module loaded with
//! [`QUEUE_CONF`] (queue support with agent 1001 of `<agents>`, queue sales with its agents
//! from mod_callcenter's sales@default), its customer, and a caller on hold in either
//! application, mod_callcenter's `callcenter` or mod_fifo's `fifo`.

use crate::loader::Loaded;
use crate::scenario::{load_with_config, repo_root};
use crate::{Act, Endpoint, Sim};
use chrono::{TimeZone, Utc};

/// The queue tests' configuration.
pub const QUEUE_CONF: &str = "fixtures/config/queue.conf.xml";
/// The customer the tests' callers call from.
pub const CUSTOMER: &str = "+12125550142";
/// How the module dials [`CUSTOMER`] (queue support's and sales's gateway).
pub const CUSTOMER_DIAL: &str = "sofia/gateway/pstn/+12125550142";

/// The simulator, its clock at 14:00 UTC on 23 November 2026 (inside every queue's hours).
pub fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

/// The module loaded with [`QUEUE_CONF`].
pub fn load() -> Loaded {
    load_with_config(&repo_root().join(QUEUE_CONF)).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// The module loaded with [`QUEUE_CONF`] with each `(from, to)` of `edits` made in its
/// text (each `from` must be there); `name` names the file written for it.
pub fn load_edited(name: &str, edits: &[(&str, &str)]) -> Loaded {
    let mut text = std::fs::read_to_string(repo_root().join(QUEUE_CONF)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{QUEUE_CONF} has no {from}");
        text = text.replace(from, to);
    }
    let conf = std::env::temp_dir().join(format!("{name}-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    let m = load_with_config(&conf).unwrap_or_else(|e| panic!("load failed: {e}"));
    let _ = std::fs::remove_file(&conf);
    m
}

/// The agent at `dial` answers in 2 s and accepts with 1; the customer answers in 3 s.
pub fn answers_and_accepts(sim: &Sim, dial: &str) {
    sim.endpoint(dial, Endpoint::Answer(2));
    sim.script(dial, vec![Act::Press("1".into())]);
    sim.endpoint(CUSTOMER_DIAL, Endpoint::Answer(3));
}

/// The id of the callback a hand-over application (`callback_queue_exit`,
/// `callback_fifo_exit`) just stored on `call`, which must have succeeded.
pub fn handed_over(sim: &Sim, call: &str) -> i64 {
    assert_eq!(
        sim.var(call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(call, "callback_error")
    );
    sim.var(call, "callback_id").unwrap().parse().unwrap()
}

/// Where a caller waits on hold.
#[derive(Debug, Clone, Copy)]
pub enum Hold<'a> {
    /// mod_callcenter's queue (`callcenter <queue>`), exit keys in `cc_exit_keys`.
    Callcenter(&'a str),
    /// mod_fifo's fifo (`fifo <fifo> in`), exit keys in `fifo_caller_exit_key`.
    Fifo(&'a str),
}

/// A caller of `number` who waits 8 s on hold in `hold` with exit key *, each waited
/// second taking 500 ms (the module looks about every second), pressing `keys` at the
/// next prompt; the call once the application has returned.
pub fn waits_on_hold(sim: &Sim, hold: Hold<'_>, number: &str, keys: Option<&str>) -> String {
    let call = sim.new_call(number);
    let s = sim.session(&call).unwrap();
    let (exit_keys, app, arg) = match hold {
        Hold::Callcenter(queue) => ("cc_exit_keys", "callcenter", queue.to_string()),
        Hold::Fifo(fifo) => ("fifo_caller_exit_key", "fifo", format!("{fifo} in")),
    };
    s.set(exit_keys, "*");
    s.set("sim_queue_wait_secs", "8");
    s.set("sim_queue_pace_ms", "500");
    if let Some(k) = keys {
        sim.press(&call, k);
    }
    assert!(sim.execute(&call, app, &arg));
    call
}

/// How many times the in-queue offer (`callback_queue_offer`) ran on `call`.
pub fn offers_played(sim: &Sim, call: &str) -> usize {
    sim.session(call)
        .unwrap()
        .apps
        .lock()
        .unwrap()
        .iter()
        .filter(|(app, _)| app == "callback_queue_offer")
        .count()
}
