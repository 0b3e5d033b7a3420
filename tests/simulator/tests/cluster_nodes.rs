//! Two nodes on one database (issue #10, items 2 to 4): two simulator processes, each with
//! the real mod_callback.so and the same agents (an agent is offered one callback at a
//! time whichever node offers it: issue #10, item 2), share one PostgreSQL
//! database (`db-url`) and split 10,000 callbacks that are due at once; node A is SIGKILLed
//! in the middle, while it holds leases, and node B finishes everything, including what A
//! held (once A's leases lapse, see the recovery rules in src/dispatch/scheduler.rs).
//!
//! The checks, on the database and the nodes' dial logs:
//! - none lost: every callback is completed (anything else fails, with its last event);
//!   nothing is left leased or in an active state, no attempt row is left open;
//! - none dispatched twice: no `(callback_id, callback_attempt)` is dialled twice across
//!   both nodes, and every dial is a customer attempt the store knows; a callback is
//!   dialled again (a new attempt) only if A held it when it was killed;
//! - both nodes did part of the work, and B reclaimed every callback A held;
//! - the shared agents: no agent ever had two agent legs open at once (the store refuses
//!   the second, and the node gives that callback to someone else: `agent-taken`).
//!
//! `harness = false`: with `CLUSTER_CHILD=<dir>` set, `main` is a node (the simulator);
//! otherwise the driver. Each node appends every customer dial, synced to disk before the
//! customer rings, to `dials-<node>.log` (`Sim::log_customer_dials`); it runs until the
//! driver kills it (A) or writes `<dir>/stop` (B, which then unloads the module).
//!
//! The server: `CALLBACK_PG_URL`, default the test server `.ci/postgres` starts; the test
//! works in a schema of its own (dropped when it passes, kept for a look when it fails).
//! Without a server it says it skipped; under `CI=true` it fails. `CLUSTER_N` changes the
//! number of callbacks (for development; the issue's figure is the default).

use callback_core::model::{CallbackType, Draft, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::PgStore;
use callback_simulator::{loader, read_customer_dials, Act, Endpoint, Sim};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_PG_URL: &str = "postgres://callback:callback@127.0.0.1:5432/callback_test";
/// Callbacks due at once (issue #10, item 4).
const N: usize = 10_000;
/// Agents, `s01`.., configured on both nodes.
const AGENTS: usize = 40;
/// Leases lapse this long after a killed node last renewed them (the configured minimum).
const LEASE_S: u64 = 10;
/// Node A is killed once this share of the callbacks is completed (in percent).
const KILL_AT_PERCENT: usize = 45;
/// Guards against a hang only (the checks never look at times): how long the nodes may
/// take to finish everything, and to finish one more callback.
const DRAIN: Duration = Duration::from_secs(900);
const STALL: Duration = Duration::from_secs(60);
const ACTIVE: &str = "('due', 'offering', 'previewing', 'dialing', 'connected')";

const NODES: [&str; 2] = ["a", "b"];

fn pg_url() -> String {
    std::env::var("CALLBACK_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

fn total() -> usize {
    std::env::var("CLUSTER_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N)
}

/// The customer number of callback `k` (distinct, valid NANP numbers).
fn number(k: usize) -> String {
    format!("+1212{}{:04}", 200 + k / 10_000, k % 10_000)
}

fn agent(i: usize) -> String {
    format!("s{:02}", i + 1)
}

fn config(db_url: &str, node: &str, dir: &Path) -> String {
    let agents: String = (0..AGENTS)
        .map(|i| {
            format!(
                "    <agent name=\"{}\"><param name=\"queues\" value=\"support\"/></agent>\n",
                agent(i)
            )
        })
        .collect();
    // `&` in the URL is XML.
    let db_url = db_url.replace('&', "&amp;");
    format!(
        r#"<configuration name="callback.conf" description="Customer callbacks (cluster test, node {node})">
  <settings>
    <param name="http-listen" value=""/>
    <param name="db-url" value="{db_url}"/>
    <param name="recordings-dir" value="{rec}"/>
    <param name="node-id" value="node-{node}"/>
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
      <param name="max-attempts" value="5"/>
      <param name="reoffer-delay" value="1s"/>
    </queue>
  </queues>
  <agents>
{agents}  </agents>
</configuration>
"#,
        rec = dir.join(format!("recordings-{node}")).display(),
    )
}

/// A node: the simulator with the module, until killed or told to stop.
fn child(dir: &Path) -> ExitCode {
    let node = std::env::var("CLUSTER_NODE").expect("CLUSTER_NODE");
    let so = PathBuf::from(std::env::var_os("CLUSTER_SO").expect("CLUSTER_SO"));
    let n: usize = std::env::var("CLUSTER_N_CHILD")
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("CLUSTER_N_CHILD");
    let sim = Sim::real_clock();
    std::env::set_var(
        "MOD_CALLBACK_CONF",
        dir.join(format!("callback-{node}.conf.xml")),
    );
    sim.log_customer_dials(&dir.join(format!("dials-{node}.log")))
        .expect("the dial log");
    for k in 0..n {
        sim.endpoint(
            &format!("sofia/gateway/pstn/{}", number(k)),
            Endpoint::Answer(0),
        );
    }
    let agents: Vec<String> = (0..AGENTS).map(|i| format!("user/{}", agent(i))).collect();
    for a in &agents {
        sim.endpoint(a, Endpoint::Answer(0));
    }
    let top_up = || {
        for a in &agents {
            for _ in sim.scripts_left(a)..20 {
                sim.script(a, vec![Act::Press("1".into())]);
            }
        }
    };
    top_up();
    sim.talk(5);
    // Finished calls are forgotten as FreeSWITCH destroys their sessions: 20,000 calls
    // or more per node would otherwise pile up in the simulator (the dial log is the
    // record the checks read).
    sim.bounded(1_000);
    let module = loader::load(&so).unwrap_or_else(|e| panic!("load failed: {e}"));
    let stop = dir.join("stop");
    while !stop.exists() {
        top_up();
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(module);
    ExitCode::SUCCESS
}

fn spawn(dir: &Path, so: &Path, node: &str, n: usize) -> Result<std::process::Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log =
        std::fs::File::create(dir.join(format!("node-{node}.log"))).map_err(|e| e.to_string())?;
    Command::new(exe)
        .env("CLUSTER_CHILD", dir)
        .env("CLUSTER_NODE", node)
        .env("CLUSTER_SO", so)
        .env("CLUSTER_N_CHILD", n.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting node {node}: {e}"))
}

/// A schema of its own on the server.
struct Schema {
    name: String,
    url: String,
}

impl Schema {
    fn create() -> Result<Option<Self>, String> {
        let base = pg_url();
        let mut admin = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
                "PostgreSQL is required under CI=true but {} does not answer: {e} \
                 (run .ci/postgres)",
                callback_core::store::redact_url(&base)
            ),
            Err(e) => {
                eprintln!(
                    "note: skipping the cluster test: {} does not answer ({e}); \
                     run .ci/postgres to start it",
                    callback_core::store::redact_url(&base)
                );
                return Ok(None);
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("cluster_{}_{nanos}", std::process::id());
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .map_err(|e| e.to_string())?;
        let sep = if base.contains('?') { '&' } else { '?' };
        // The nodes' sessions commit without waiting for the server's disk flush: what is
        // under test is how the nodes share rows (locks, leases), which this does not
        // change; the server is never killed here, so no commit can be lost to it.
        let url = format!("{base}{sep}options=-csearch_path%3D{name}%20-csynchronous_commit%3Doff");
        Ok(Some(Self { name, url }))
    }

    fn client(&self) -> Result<postgres::Client, String> {
        postgres::Client::connect(&self.url, postgres::NoTls).map_err(|e| e.to_string())
    }

    fn drop_it(&self) {
        if let Ok(mut c) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Stores `n` immediate callbacks due now, one per customer number; their ids in order.
fn store_requests(url: &str, n: usize) -> Result<Vec<i64>, String> {
    let store = PgStore::open(url).map_err(|e| e.to_string())?;
    let now = Utc::now();
    let drafts: Vec<Draft> = (0..n)
        .map(|k| Draft {
            kind: CallbackType::Immediate,
            number: number(k),
            time_zone: "America/New_York".into(),
            desired_at: None,
            window: Window::default(),
            number_type: None,
            queue: "support".into(),
            agent: None,
            remark: None,
            ivr_data: BTreeMap::new(),
            source: Source::Api,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            tags: BTreeMap::new(),
            state: State::Scheduled,
            due_at: Some(now),
            expires_at: None,
        })
        .collect();
    store.create_batch(&drafts, now).map_err(|e| e.to_string())
}

fn count(db: &mut postgres::Client, sql: &str) -> Result<i64, String> {
    db.query_one(sql, &[])
        .map(|r| r.get(0))
        .map_err(|e| e.to_string())
}

fn ids(db: &mut postgres::Client, sql: &str) -> Result<BTreeSet<i64>, String> {
    db.query(sql, &[])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .map_err(|e| e.to_string())
}

/// How many callbacks are finished (completed, failed, expired or cancelled).
fn terminal_count(db: &mut postgres::Client) -> Result<usize, String> {
    let terminal: Vec<String> = State::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| format!("'{s}'"))
        .collect();
    let n = count(
        db,
        &format!(
            "SELECT count(*) FROM callbacks WHERE state IN ({})",
            terminal.join(", ")
        ),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// When the count of finished callbacks last moved.
struct Progress {
    done: usize,
    at: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            done: 0,
            at: Instant::now(),
        }
    }

    /// Whether nothing finished for [`STALL`] (a hang: the run stops and fails).
    fn stalled(&mut self, done: usize) -> bool {
        if done != self.done {
            self.done = done;
            self.at = Instant::now();
        }
        self.at.elapsed() > STALL
    }
}

fn stop_node(c: &mut std::process::Child, dir: &Path) -> Option<std::process::ExitStatus> {
    let _ = std::fs::write(dir.join("stop"), "");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = c.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
    None
}

fn driver() -> Result<(), String> {
    let Some(schema) = Schema::create()? else {
        return Ok(());
    };
    let result = run(&schema);
    if result.is_ok() {
        schema.drop_it();
    } else {
        eprintln!("(schema {} kept for a look)", schema.name);
    }
    result
}

fn run(schema: &Schema) -> Result<(), String> {
    let n = total();
    let so = loader::find_module()?;
    let dir = std::env::temp_dir().join(format!("callback-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for node in NODES {
        std::fs::write(
            dir.join(format!("callback-{node}.conf.xml")),
            config(&schema.url, node, &dir),
        )
        .map_err(|e| e.to_string())?;
    }
    let stored = store_requests(&schema.url, n)?;
    let stored: BTreeSet<i64> = stored.into_iter().collect();
    let mut db = schema.client()?;
    let mut problems = Vec::new();

    let started = Instant::now();
    let mut a = spawn(&dir, &so, "a", n)?;
    let mut b = spawn(&dir, &so, "b", n)?;
    let deadline = started + DRAIN;

    // Node A is killed once enough is done, at a moment it holds leases.
    let kill_at = n * KILL_AT_PERCENT / 100;
    let held_sql = format!(
        "SELECT id FROM callbacks WHERE lease_owner = 'node-a' AND state IN {ACTIVE} ORDER BY id"
    );
    let mut progress = Progress::new();
    loop {
        let done = terminal_count(&mut db)?;
        let a_holds = count(
            &mut db,
            &format!(
                "SELECT count(*) FROM callbacks WHERE lease_owner = 'node-a' AND state IN {ACTIVE}"
            ),
        )?;
        if done >= kill_at && a_holds > 0 {
            break;
        }
        let died = [("a", a.try_wait()), ("b", b.try_wait())]
            .into_iter()
            .find_map(|(name, s)| s.ok().flatten().map(|status| (name, status)));
        if let Some((name, status)) = died {
            let _ = a.kill();
            let _ = b.kill();
            return Err(format!(
                "node {name} died on its own ({status}) with {done} of {n} finished; see {}",
                dir.join(format!("node-{name}.log")).display()
            ));
        }
        if Instant::now() > deadline || done == n || progress.stalled(done) {
            let _ = a.kill();
            let _ = b.kill();
            return Err(format!(
                "node A was never caught holding a lease past {kill_at} finished \
                 ({done} of {n} finished, the last {:?} ago); logs in {}",
                progress.at.elapsed(),
                dir.display()
            ));
        }
        // (Often enough to catch A holding leases, seldom enough not to slow the nodes.)
        std::thread::sleep(Duration::from_millis(100));
    }
    a.kill().map_err(|e| e.to_string())?; // SIGKILL
    let _ = a.wait();
    let killed_at = started.elapsed();
    // Nothing changes A's rows until its leases lapse (B cannot take them before).
    let held = ids(&mut db, &held_sql)?;
    let done_at_kill = terminal_count(&mut db)?;

    let mut finished = false;
    while Instant::now() < deadline {
        let done = terminal_count(&mut db)?;
        if done == n {
            finished = true;
            break;
        }
        if progress.stalled(done) {
            break;
        }
        if let Ok(Some(status)) = b.try_wait() {
            problems.push(format!("node b died on its own ({status})"));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = started.elapsed();
    if !finished {
        problems.push(format!(
            "node B did not finish everything (within {DRAIN:?}, none finished for \
             {STALL:?}): {} of {n} finished",
            terminal_count(&mut db)?
        ));
    }
    match stop_node(&mut b, &dir) {
        Some(s) if s.success() => {}
        other => problems.push(format!("node b did not stop cleanly: {other:?}")),
    }

    // The store: every callback completed, nothing leased, active or open.
    let rows = db
        .query(
            "SELECT id, state, lease_owner, customer_attempts FROM callbacks ORDER BY id",
            &[],
        )
        .map_err(|e| e.to_string())?;
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut in_store = BTreeSet::new();
    for r in &rows {
        let (id, state, owner): (i64, String, Option<String>) = (r.get(0), r.get(1), r.get(2));
        in_store.insert(id);
        *states.entry(state.clone()).or_default() += 1;
        if state != "completed" {
            let last: Option<(String, Option<String>)> = db
                .query_opt(
                    "SELECT action, detail FROM events WHERE callback_id = $1 \
                     ORDER BY id DESC LIMIT 1",
                    &[&id],
                )
                .map_err(|e| e.to_string())?
                .map(|e| (e.get(0), e.get(1)));
            problems.push(format!(
                "callback {id} ended {state}, not completed: {last:?}"
            ));
        }
        if owner.is_some() {
            problems.push(format!("callback {id} ({state}) still leased by {owner:?}"));
        }
    }
    if in_store != stored {
        problems.push(format!(
            "{} callback(s) stored before the nodes started are missing, {} unknown ones appeared",
            stored.difference(&in_store).count(),
            in_store.difference(&stored).count()
        ));
    }
    let open = db
        .query(
            "SELECT callback_id, leg, attempt_no FROM attempts \
             WHERE ended_at IS NULL OR result IS NULL ORDER BY id",
            &[],
        )
        .map_err(|e| e.to_string())?;
    for r in open.iter().take(20) {
        let (id, leg, no): (i64, String, i64) = (r.get(0), r.get(1), r.get(2));
        problems.push(format!("callback {id}: {leg} attempt {no} left open"));
    }
    if open.len() > 20 {
        problems.push(format!("... {} open attempt rows in all", open.len()));
    }
    let known: BTreeSet<(i64, u32)> = db
        .query(
            "SELECT callback_id, attempt_no FROM attempts WHERE leg = 'customer'",
            &[],
        )
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| {
            (
                r.get(0),
                u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX),
            )
        })
        .collect();

    // The dials: no attempt twice, each known to the store, repeats only of A's.
    let mut all: BTreeMap<(i64, u32), usize> = BTreeMap::new();
    let mut per_node = BTreeMap::new();
    for node in NODES {
        let (dials, bad) = read_customer_dials(&dir.join(format!("dials-{node}.log")));
        for line in bad {
            problems.push(format!(
                "node {node}: dial without an id or attempt: {line:?}"
            ));
        }
        per_node.insert(node, dials.values().sum::<usize>());
        for (k, times) in dials {
            *all.entry(k).or_default() += times;
        }
    }
    for ((id, no), times) in &all {
        if *times > 1 {
            problems.push(format!(
                "callback {id}: customer dialled {times} times for attempt {no}"
            ));
        }
        if !known.contains(&(*id, *no)) {
            problems.push(format!(
                "callback {id}: dialled for attempt {no}, which the store does not know"
            ));
        }
    }
    let mut attempts_dialled: BTreeMap<i64, usize> = BTreeMap::new();
    for (id, _) in all.keys() {
        *attempts_dialled.entry(*id).or_default() += 1;
    }
    let redialled: BTreeSet<i64> = attempts_dialled
        .iter()
        .filter(|(_, k)| **k > 1)
        .map(|(id, _)| *id)
        .collect();
    for id in redialled.difference(&held) {
        problems.push(format!(
            "callback {id} was dialled for more than one attempt but node A did not hold it \
             at the kill"
        ));
    }
    let completed: BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.get::<_, String>(1) == "completed")
        .map(|r| r.get(0))
        .collect();
    for id in completed
        .iter()
        .filter(|id| !attempts_dialled.contains_key(id))
    {
        problems.push(format!("callback {id} completed but never dialled"));
    }

    // Who did what: each node completed some, and B took over everything A held.
    let reclaimed = ids(
        &mut db,
        "SELECT DISTINCT callback_id FROM events WHERE action = 'reclaim' \
         AND actor = 'node-b' AND detail LIKE '%previous=node-a %'",
    )?;
    for id in held.difference(&reclaimed) {
        problems.push(format!(
            "callback {id}: node A held it at the kill, but node B never reclaimed it"
        ));
    }
    for node in NODES {
        if per_node[node] == 0 {
            problems.push(format!(
                "node {node} dialled no customer: the work was not split"
            ));
        }
    }
    // The shared agents: the store refuses a second open leg for an agent (a unique
    // index), so none is ever open twice; what the nodes show is how often one of them
    // picked an agent the other had just taken (`agent-taken`, offered again at once).
    let legs = count(&mut db, "SELECT count(*) FROM attempts WHERE leg = 'agent'")?;
    // Leases lost by a node that was alive (its turn too slow to renew in time): taken
    // over like a dead node's, correct but late; said, not failed (a loaded machine).
    let lost_alive = count(
        &mut db,
        "SELECT count(*) FROM events WHERE action = 'reclaim' AND detail LIKE '%previous=node-b %'",
    )?;
    let taken = count(
        &mut db,
        "SELECT count(*) FROM events WHERE action = 'agent-taken'",
    )?;
    if held.is_empty() {
        problems.push("node A held nothing when it was killed: recovery was not tested".into());
    }

    println!("callbacks: {n}");
    for (state, k) in &states {
        println!("callbacks_{state}: {k}");
    }
    for node in NODES {
        println!("customer_dials_node_{node}: {}", per_node[node]);
    }
    println!("agent_legs: {legs}");
    println!("leases_of_live_node_b_taken_over: {lost_alive}");
    println!("agent_taken_by_the_other_node_first: {taken}");
    println!("finished_at_kill: {done_at_kill}");
    println!("held_by_a_at_kill: {}", held.len());
    println!("reclaimed_by_b_from_a: {}", reclaimed.len());
    println!("dialled_for_a_second_attempt: {}", redialled.len());
    println!("kill_after_s: {:.1}", killed_at.as_secs_f64());
    println!("elapsed_s: {:.1}", elapsed.as_secs_f64());
    callback_simulator::campaign::verdict(&problems, &dir)
}

fn main() -> ExitCode {
    callback_simulator::campaign::main("cluster nodes", "CLUSTER_CHILD", child, driver)
}
