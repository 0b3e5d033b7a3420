//! Crash campaign (issue #9, item 1): the simulator with the real mod_callback.so captures
//! callbacks and dispatches them on the real clock, and is SIGKILLed at random moments,
//! over and over; each time it is started again on the same database. Afterwards a last
//! run, never killed, finishes what is due, and the checks are:
//!
//! - no request lost: every callback whose capture returned OK (the *promised* ones) is in
//!   the store and finished: completed, or failed / expired with a reason;
//! - no customer dialled twice for one attempt: no `(callback_id, callback_attempt)` pair
//!   appears twice among the customer dials the host saw, and each is a customer attempt
//!   the store knows;
//! - all due work eventually dispatched: nothing in the store is left pending or active,
//!   nothing holds a lease, and every completed callback was dialled;
//! - `PRAGMA integrity_check` is `ok`.
//!
//! `harness = false`: with `CRASH_CHILD=<dir>` set, `main` is a child (the simulator);
//! otherwise it is the driver. Each child appends, synced to disk, `try <k>` before capture
//! number k and `ok <k> <id>` once it returned OK (`captures.log`); the simulator appends
//! every customer dial before ringing the customer (`dials.log`, see
//! `Sim::log_customer_dials`).
//!
//! The mix (by capture number, see [`Variant`]): most callbacks are immediate with a
//! customer who answers; some are delayed (due a few seconds later, claimed at their due
//! time), some customers are busy on every try (retried, then failed once the attempts are
//! used up), and some requests come over the REST API (promised when the client got its
//! 201). Agents reject one offer in six (key 9), which passes the callback to another agent
//! without a customer attempt.
//!
//! When to kill: four kills in five wait until the child says `ready` (its first capture
//! returned; the first one takes about a second in a debug build) and then a random
//! 20–300 ms, while it captures and dispatches; every fifth is at a random moment of the
//! first second, during loading, recovery and the first capture.
//!
//! Short version (the test suite): 30 kills, about 40 s. Long version:
//! `CRASH_KILLS=200 cargo test -p callback-simulator --test crash_campaign` (≥ 200 kills).
//! `CRASH_SEED=<n>` repeats a run's kill times.

use callback_core::model::{Leg, State};
use callback_core::store::prelude::*;
use callback_core::store::{ListFilter, SqliteStore};
use callback_simulator::{loader, read_customer_dials, Act, Endpoint, Sim};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const AGENTS: [&str; 4] = ["1001", "1002", "1003", "1004"];
/// Leases lapse this long after a killed child last renewed them (the configured minimum).
const LEASE_S: u64 = 10;
/// How long a child may take to return its first capture.
const READY: Duration = Duration::from_secs(30);
/// How long the final, unkilled child may take to finish everything.
const DRAIN: Duration = Duration::from_secs(120);
/// Customer attempts per callback: a busy customer's callback fails after these.
const MAX_ATTEMPTS: u32 = 5;
/// The children's REST API key.
const KEY: &str = "crash-campaign-staff-key-01";

/// How capture number `k` asks, and how its customer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    Immediate,
    Delayed,
    BusyCustomer,
    Http,
}

impl Variant {
    fn of(k: u64) -> Variant {
        match k % 10 {
            6 => Variant::Delayed,
            7 => Variant::BusyCustomer,
            8 => Variant::Http,
            _ => Variant::Immediate,
        }
    }

    fn endpoint(self) -> Endpoint {
        match self {
            Variant::BusyCustomer => Endpoint::Busy,
            _ => Endpoint::Answer(0),
        }
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn config(dir: &Path) -> String {
    let agents: String = AGENTS
        .iter()
        .map(|a| {
            format!("    <agent name=\"{a}\"><param name=\"queues\" value=\"support\"/></agent>\n")
        })
        .collect();
    format!(
        r#"<configuration name="callback.conf" description="Customer callbacks (crash campaign)">
  <settings>
    <param name="http-listen" value="127.0.0.1:0"/>
    <param name="http-rate-per-key" value="0"/>
    <param name="http-rate-per-ip" value="0"/>
    <param name="db-path" value="{db}"/>
    <param name="recordings-dir" value="{rec}"/>
    <param name="node-id" value="crash-1"/>
    <param name="lease-seconds" value="{LEASE_S}"/>
    <param name="default-region" value="US"/>
    <param name="default-queue" value="support"/>
    <param name="default-time-zone" value="America/New_York"/>
    <param name="merge-pending" value="false"/>
    <param name="agent-ring-seconds" value="20"/>
    <param name="preview-seconds" value="10"/>
    <param name="preview-timeout" value="dial"/>
    <param name="agent-declines-to-away" value="0"/>
    <param name="after-call-menu" value="false"/>
  </settings>
  <queues>
    <queue name="support">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
      <param name="gateway" value="sofia/gateway/pstn/{{e164}}"/>
      <param name="caller-id-number" value="+12125550100"/>
      <param name="customer-timeout-seconds" value="45"/>
      <param name="retry-delays" value="1s"/>
      <param name="max-attempts" value="{MAX_ATTEMPTS}"/>
      <param name="reoffer-delay" value="1s"/>
    </queue>
  </queues>
  <agents>
{agents}  </agents>
  <api-keys>
    <key name="crm"><param name="secret" value="{KEY}"/><param name="scope" value="staff"/></key>
  </api-keys>
</configuration>
"#,
        db = dir.join("callback.db").display(),
        rec = dir.join("recordings").display(),
    )
}

/// The caller number of capture `k` (distinct, valid NANP numbers).
fn number(k: u64) -> String {
    format!("+1212{}{:04}", 200 + k / 10_000, k % 10_000)
}

/// What `captures.log` says: captures tried, and the ids promised (`k -> id`).
fn read_captures(dir: &Path) -> (u64, BTreeMap<u64, i64>) {
    let text = std::fs::read_to_string(dir.join("captures.log")).unwrap_or_default();
    let (mut tried, mut ok) = (0, BTreeMap::new());
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["try", k] => {
                if let Ok(k) = k.parse::<u64>() {
                    tried = tried.max(k + 1);
                }
            }
            ["ok", k, id] => {
                if let (Ok(k), Ok(id)) = (k.parse(), id.parse()) {
                    ok.insert(k, id);
                }
            }
            // A line cut by the kill: never counted (its capture was not promised).
            _ => {}
        }
    }
    (tried, ok)
}

fn append_synced(f: &mut std::fs::File, line: &str) {
    f.write_all(line.as_bytes())
        .and_then(|()| f.sync_data())
        .expect("writing the captures log");
}

/// A child: the simulator with the module on the database in `dir`, capturing until
/// killed; with `CRASH_FINAL` set, it captures nothing and returns once every request in
/// the store is finished.
fn child(dir: &Path) -> ExitCode {
    let last = std::env::var_os("CRASH_FINAL").is_some();
    let so = PathBuf::from(std::env::var_os("CRASH_SO").expect("CRASH_SO"));
    let sim = Sim::real_clock();
    let conf = dir.join("callback.conf.xml");
    std::fs::write(&conf, config(dir)).expect("the configuration");
    std::env::set_var("MOD_CALLBACK_CONF", &conf);
    sim.log_customer_dials(&dir.join("dials.log"))
        .expect("the dial log");
    let (mut tried, _) = read_captures(dir);
    // Every customer ever captured (promised or not) answers as their variant says.
    for k in 0..tried {
        sim.endpoint(
            &format!("sofia/gateway/pstn/{}", number(k)),
            Variant::of(k).endpoint(),
        );
    }
    for a in AGENTS {
        sim.endpoint(&format!("user/{a}"), Endpoint::Answer(0));
        for i in 0..2_000 {
            let key = if i % 6 == 5 { "9" } else { "1" };
            sim.script(&format!("user/{a}"), vec![Act::Press(key.into())]);
        }
    }
    sim.talk(20);
    let module = loader::load(&so).unwrap_or_else(|e| panic!("load failed: {e}"));
    if last {
        // Through the module's own `callback json stats`: a second SQLite library in this
        // process (the test's) must not open the file the module's has open (their POSIX
        // locks would release each other's: sqlite.org/howtocorrupt.html, 2.2).
        let deadline = Instant::now() + DRAIN;
        loop {
            let reply: serde_json::Value =
                serde_json::from_str(&sim.api("callback json stats")).expect("stats in JSON");
            let open: Vec<String> = reply["stats"]["by_queue_state"]
                .as_array()
                .expect("stats by queue and state")
                .iter()
                .filter(|row| {
                    row[1]
                        .as_str()
                        .and_then(|s| s.parse::<State>().ok())
                        .is_none_or(|s| !s.is_terminal())
                        && row[2].as_u64() != Some(0)
                })
                .map(ToString::to_string)
                .collect();
            if open.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("still open: {open:?}");
                return ExitCode::FAILURE;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        drop(module);
        return ExitCode::SUCCESS;
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("captures.log"))
        .expect("the captures log");
    let api = sim
        .logs()
        .into_iter()
        .find_map(|l| {
            l.text
                .split("REST API listening on ")
                .nth(1)
                .map(|a| format!("http://{}/v1/callbacks", a.trim()))
        })
        .expect("the REST API's address in the log");
    let mut ready = false;
    loop {
        let k = tried;
        tried += 1;
        let n = number(k);
        let variant = Variant::of(k);
        sim.endpoint(&format!("sofia/gateway/pstn/{n}"), variant.endpoint());
        append_synced(&mut log, &format!("try {k}\n"));
        let promised = match variant {
            Variant::Http => ureq::post(&api)
                .set("Authorization", &format!("Bearer {KEY}"))
                .send_string(&format!(r#"{{"number": "{n}"}}"#))
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    r.into_json::<serde_json::Value>()
                        .map_err(|e| e.to_string())
                })
                .and_then(|v| {
                    v["callback"]["id"]
                        .as_i64()
                        .map(|id| id.to_string())
                        .ok_or(format!("no id in {v}"))
                }),
            _ => {
                let call = sim.new_call(&n);
                let args = if variant == Variant::Delayed {
                    "type=delayed delay=2s"
                } else {
                    "type=immediate"
                };
                sim.execute(&call, "callback_capture", args);
                match sim.var(&call, "callback_result").as_deref() {
                    Some("OK") => Ok(sim.var(&call, "callback_id").expect("callback_id")),
                    _ => Err(format!("{:?}", sim.var(&call, "callback_error"))),
                }
            }
        };
        if let Ok(id) = promised {
            append_synced(&mut log, &format!("ok {k} {id}\n"));
            if !ready {
                // The first capture of a run is slow (the module's lazy start-up, about a
                // second in a debug build): the driver times its kill from here.
                ready = true;
                println!("ready");
                let _ = std::io::stdout().flush();
            }
        } else if let Err(e) = promised {
            eprintln!("capture {k} ({variant:?}) refused: {e}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn(dir: &Path, so: &Path, last: bool) -> std::process::Child {
    let exe = std::env::current_exe().expect("own path");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("children.log"))
        .expect("the children's log");
    let mut c = Command::new(exe);
    c.env("CRASH_CHILD", dir)
        .env("CRASH_SO", so)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log);
    if last {
        c.env("CRASH_FINAL", "1");
    }
    c.spawn().expect("starting a child")
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn driver() -> Result<(), String> {
    let kills = env_u64("CRASH_KILLS").unwrap_or(30);
    let seed = env_u64("CRASH_SEED").unwrap_or_else(|| {
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos(),
        );
        u64::from(std::process::id()) << 32 | nanos
    }) | 1;
    println!("seed: {seed}");
    let mut rng = Rng(seed);
    let so = loader::find_module()?;
    let dir = std::env::temp_dir().join(format!("callback-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut problems = Vec::new();
    let (mut early, mut killed) = (0, 0);
    for round in 0..kills {
        let mut c = spawn(&dir, &so, false);
        if round % 5 == 4 {
            // During start-up: loading, recovering, the first capture.
            early += 1;
            std::thread::sleep(Duration::from_millis(rng.below(1_000)));
        } else {
            // In the steady state: capturing and dispatching at once.
            let (tx, rx) = std::sync::mpsc::channel();
            if let Some(out) = c.stdout.take() {
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let _ = std::io::BufReader::new(out).read_line(&mut line);
                    let _ = tx.send(line);
                });
            }
            match rx.recv_timeout(READY) {
                Ok(line) if line.trim() == "ready" => {
                    std::thread::sleep(Duration::from_millis(20 + rng.below(281)));
                }
                got => {
                    problems.push(format!(
                        "child {round} never got ready ({got:?}, {:?})",
                        c.try_wait()
                    ));
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
            }
        }
        if let Ok(Some(status)) = c.try_wait() {
            problems.push(format!("child {round} died on its own: {status}"));
            break;
        }
        c.kill().map_err(|e| e.to_string())?; // SIGKILL
        let _ = c.wait();
        killed += 1;
    }
    let killed_at = started.elapsed();
    let status = spawn(&dir, &so, true).wait().map_err(|e| e.to_string())?;
    if !status.success() {
        problems.push(format!(
            "the final run did not finish everything within {DRAIN:?} ({status}); see {}",
            dir.join("children.log").display()
        ));
    }
    let elapsed = started.elapsed();

    let (tried, promised) = read_captures(&dir);
    let (dials, bad) = read_customer_dials(&dir.join("dials.log"));
    for line in bad {
        problems.push(format!("dial without an id or attempt: {line:?}"));
    }
    for ((id, n), times) in &dials {
        if *times > 1 {
            problems.push(format!(
                "callback {id}: customer dialled {times} times for attempt {n}"
            ));
        }
    }

    let store = SqliteStore::open(dir.join("callback.db")).map_err(|e| e.to_string())?;
    let all = store
        .list(&ListFilter::default())
        .map_err(|e| e.to_string())?;
    let by_id: BTreeMap<i64, _> = all.iter().map(|r| (r.id, r)).collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut variants: BTreeMap<(Variant, String), usize> = BTreeMap::new();
    for (k, id) in &promised {
        match by_id.get(id) {
            None => problems.push(format!("promised callback {id} (capture {k}) is lost")),
            Some(r) => {
                *counts.entry(r.state.to_string()).or_default() += 1;
                *variants
                    .entry((Variant::of(*k), r.state.to_string()))
                    .or_default() += 1;
                // A busy customer never completes; everyone else is answered.
                let expected = match Variant::of(*k) {
                    Variant::BusyCustomer => State::Failed,
                    _ => State::Completed,
                };
                // (An answering customer's callback may run out of attempts only if kills
                // interrupted that many of its calls: the policy, not a loss.)
                let used_up = r.state == State::Failed && r.customer_attempts >= MAX_ATTEMPTS;
                if r.state.is_terminal() && r.state != expected && !used_up {
                    problems.push(format!(
                        "callback {id} ({:?}) ended {}, not {expected}",
                        Variant::of(*k),
                        r.state
                    ));
                }
                if matches!(r.state, State::Failed | State::Expired) {
                    let why = store
                        .events(*id)
                        .map_err(|e| e.to_string())?
                        .last()
                        .and_then(|e| e.detail.clone());
                    match why {
                        Some(why) => println!("callback {id}: {} ({why})", r.state),
                        None => {
                            problems.push(format!("callback {id}: {} without a reason", r.state))
                        }
                    }
                } else if r.state != State::Completed {
                    problems.push(format!("promised callback {id} ended {}", r.state));
                }
            }
        }
    }
    let dialled: BTreeSet<i64> = dials.keys().map(|(id, _)| *id).collect();
    let mut agent_results: BTreeMap<String, usize> = BTreeMap::new();
    for r in &all {
        for a in store.attempts(r.id).map_err(|e| e.to_string())? {
            if a.ended_at.is_none() || a.result.is_none() {
                problems.push(format!(
                    "callback {} ({}): {} attempt {} left open: {a:?}; events {:?}",
                    r.id,
                    r.state,
                    a.leg,
                    a.attempt_no,
                    store
                        .events(r.id)
                        .map_err(|e| e.to_string())?
                        .iter()
                        .map(|e| format!("{} {:?}", e.action, e.detail))
                        .collect::<Vec<_>>()
                ));
            }
            if a.leg == Leg::Agent {
                let result = a.result.map_or("unfinished".to_string(), |x| x.to_string());
                *agent_results.entry(result).or_default() += 1;
            }
        }
        if !r.state.is_terminal() || r.lease_owner.is_some() {
            problems.push(format!(
                "callback {} left {} (lease {:?})",
                r.id, r.state, r.lease_owner
            ));
        }
        if r.state == State::Completed && !dialled.contains(&r.id) {
            problems.push(format!("callback {} completed but never dialled", r.id));
        }
        let attempts: BTreeSet<u32> = store
            .attempts(r.id)
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|a| a.leg == Leg::Customer)
            .map(|a| a.attempt_no)
            .collect();
        for (_, n) in dials.keys().filter(|(id, _)| *id == r.id) {
            if !attempts.contains(n) {
                problems.push(format!(
                    "callback {}: dialled for attempt {n}, which the store does not know",
                    r.id
                ));
            }
        }
    }
    for id in &dialled {
        if !by_id.contains_key(id) {
            problems.push(format!("callback {id} was dialled but is not in the store"));
        }
    }
    drop(store);
    let conn = rusqlite::Connection::open(dir.join("callback.db")).map_err(|e| e.to_string())?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    drop(conn);

    println!("kills_survived: {killed}");
    println!("kills_during_start_up: {early}");
    println!("kill_phase_s: {:.1}", killed_at.as_secs_f64());
    println!("captures_tried: {tried}");
    println!("callbacks_promised: {}", promised.len());
    println!("requests_stored: {}", all.len());
    println!("callbacks_dialled: {}", dialled.len());
    println!("customer_dials: {}", dials.values().sum::<usize>());
    for (state, n) in &counts {
        println!("promised_{state}: {n}");
    }
    for (result, n) in &agent_results {
        println!("agent_offers_{result}: {n}");
    }
    if !agent_results.contains_key("rejected") {
        problems.push("no agent ever rejected an offer: the mix was not tested".into());
    }
    for ((variant, state), n) in &variants {
        println!("promised_{variant:?}_{state}: {n}");
    }
    for v in [
        Variant::Immediate,
        Variant::Delayed,
        Variant::BusyCustomer,
        Variant::Http,
    ] {
        if !variants.keys().any(|(w, _)| *w == v) {
            problems.push(format!(
                "no {v:?} request was promised: the mix was not tested"
            ));
        }
    }
    println!("integrity_check: {integrity}");
    println!("elapsed_s: {:.1}", elapsed.as_secs_f64());
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    if promised.is_empty() {
        problems.push("no capture was ever promised: the campaign tested nothing".into());
    }
    callback_simulator::campaign::verdict(&problems, &dir)
}

fn main() -> ExitCode {
    callback_simulator::campaign::main("crash campaign", "CRASH_CHILD", child, driver)
}
