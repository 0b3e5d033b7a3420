//! `cargo bench --bench dispatch` (issue #6): the dispatcher of the release build of
//! mod_callback.so in the simulator, on the real clock, with 100,000 pending requests and
//! 50 agents.
//!
//! - `due_to_agent_originate_{p50,p99,max}_ms`: a stream of 2,000 requests falling due over
//!   the next 60 s (whole seconds, as the store keeps due times: about 33 per second); for
//!   each, from its due instant to the agent's `originate` reaching the host (the
//!   simulator's `switch_api_execute`). Target: p99 ≤ the bare timer's p99 + 5 ms.
//! - `bare_timer_lateness_p99_ms`: on its own thread during the same minute, a tokio
//!   current-thread runtime sleeping (`sleep_until`) to each of the same due instants in
//!   order, and how late it wakes: what this shared machine's scheduling noise alone costs.
//! - `lateness_p99_vs_bare_timer_ms`: the difference of the two p99s.
//! - `dispatch_per_s`: a backlog of 5,000 requests all due at the same instant after the
//!   stream; agent originates reaching the host per second, from that instant to the last
//!   one. Target ≥ 1,000.
//!
//! The 100,000 other requests are due in 30 days: they are the database's size, never due
//! during the run. Everything is stored through the core store before the module loads.
//!
//! Agents: every agent's phone is `busy` (`-ERR USER_BUSY` at once). The dispatch path is
//! the real one — claim under a lease, `offering`, the agent-leg attempt, `originate` on a
//! ring thread through `switch_api_execute` — and the agent is ready again as soon as the
//! originate returns, so 50 agents are never the limit; the declined offer is re-offered
//! 2 h later (`reoffer-delay`), outside the run, and `agent-declines-to-away` is 0 so a
//! declining agent is never set away. An answering agent would instead hold the agent for
//! the preview on the call's own thread, which measures the preview, not the dispatcher.
//!
//! `DISPATCH_BENCH_PENDING` (default 100000), `DISPATCH_BENCH_STREAM` (2000) and
//! `DISPATCH_BENCH_BACKLOG` (5000) shrink a run while developing; `DISPATCH_BENCH_DIAG=1`
//! also prints, on stderr, the first and last lateness of each due second (the dispatcher's
//! wake-up, then the burst) and the bare timer's lateness per instant.

use callback_core::model::{CallbackType, Draft, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::SqliteStore;
use callback_simulator::{loader, Endpoint, Sim};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const AGENTS: usize = 50;
/// The stream falls due over this many seconds.
const STREAM_SECS: i64 = 60;
/// From the end of storing to the first due instant: room for loading the module.
const LEAD_SECS: i64 = 5;
/// From the last due instant of the stream to the backlog's.
const GAP_SECS: i64 = 5;
const BATCH: usize = 10_000;

fn main() {
    let pending = count("DISPATCH_BENCH_PENDING", 100_000);
    let stream = count("DISPATCH_BENCH_STREAM", 2_000);
    let backlog = count("DISPATCH_BENCH_BACKLOG", 5_000);
    let diag = std::env::var_os("DISPATCH_BENCH_DIAG").is_some();
    loader::use_release_module();

    let sim = Sim::real_clock();
    let dir = std::env::temp_dir().join(format!("callback-dispatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let conf = write_config(&dir);

    // The requests, stored before the module opens the database.
    let store = SqliteStore::open(dir.join("callback.db")).expect("the bench database");
    let now = Utc::now();
    let far = now + Duration::days(30);
    store_all(&store, (0..pending).map(|i| draft(i, far)), now);
    let base = whole_second(Utc::now()) + Duration::seconds(LEAD_SECS);
    let stream_due: Vec<DateTime<Utc>> = (0..stream)
        .map(|i| base + Duration::seconds(i as i64 * STREAM_SECS / stream.max(1) as i64))
        .collect();
    let backlog_at = base + Duration::seconds(STREAM_SECS + GAP_SECS);
    let stream_ids = store_all(
        &store,
        stream_due
            .iter()
            .enumerate()
            .map(|(i, at)| draft(pending + i, *at)),
        Utc::now(),
    );
    let backlog_ids = store_all(
        &store,
        (0..backlog).map(|i| draft(pending + stream + i, backlog_at)),
        Utc::now(),
    );
    drop(store);
    assert!(
        Utc::now() < base,
        "storing took past the first due instant; raise LEAD_SECS"
    );

    for a in 0..AGENTS {
        sim.endpoint(&format!("user/{}", agent(a)), Endpoint::Busy);
    }
    let instants: Vec<SystemTime> = stream_due.iter().map(|t| SystemTime::from(*t)).collect();
    let bare = std::thread::spawn(move || bare_timer(&instants));
    std::env::set_var("MOD_CALLBACK_CONF", &conf);
    let mut module = loader::load(&loader::find_module().expect("the module"))
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    module.scratch = Some(dir);

    // The stream.
    let due_of: HashMap<i64, DateTime<Utc>> = stream_ids
        .iter()
        .copied()
        .zip(stream_due.iter().copied())
        .collect();
    let arrived = wait_for(&sim, &due_of, backlog_at);
    let mut late: Vec<f64> = due_of
        .iter()
        .map(|(id, due)| {
            let at = arrived
                .get(id)
                .unwrap_or_else(|| panic!("callback {id} was never offered"));
            ms(*at, *due)
        })
        .collect();
    if diag {
        let mut per_s: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
        for (id, due) in &due_of {
            per_s.entry(*due).or_default().push(ms(arrived[id], *due));
        }
        for (due, mut v) in per_s {
            v.sort_by(f64::total_cmp);
            eprintln!(
                "{due}: n={} first={:.1} last={:.1}",
                v.len(),
                v[0],
                v[v.len() - 1]
            );
        }
    }
    late.sort_by(f64::total_cmp);
    let mut bare_late = bare.join().expect("the bare timer thread");
    if diag {
        let per_instant: Vec<String> = bare_late
            .iter()
            .zip(&stream_due)
            .enumerate()
            .filter(|(i, (_, due))| *i == 0 || stream_due[i - 1] != **due)
            .map(|(_, (ms, _))| format!("{ms:.1}"))
            .collect();
        eprintln!("bare timer, per instant (ms): {}", per_instant.join(" "));
    }
    bare_late.sort_by(f64::total_cmp);

    // The backlog.
    let due_of: HashMap<i64, DateTime<Utc>> =
        backlog_ids.iter().map(|id| (*id, backlog_at)).collect();
    let arrived = wait_for(&sim, &due_of, backlog_at + Duration::seconds(120));
    let last = backlog_ids
        .iter()
        .map(|id| {
            *arrived
                .get(id)
                .unwrap_or_else(|| panic!("callback {id} was never offered"))
        })
        .max()
        .expect("a backlog");
    let per_s = backlog as f64 / (ms(last, backlog_at) / 1000.0);
    drop(module);

    let p99 = pct(&late, 0.99);
    let bare_p99 = pct(&bare_late, 0.99);
    println!("due_to_agent_originate_p50_ms: {:.1} ms", pct(&late, 0.50));
    println!("due_to_agent_originate_p99_ms: {p99:.1} ms");
    println!(
        "due_to_agent_originate_max_ms: {:.1} ms",
        late.last().copied().unwrap_or(0.0)
    );
    println!("bare_timer_lateness_p99_ms: {bare_p99:.1} ms");
    println!("lateness_p99_vs_bare_timer_ms: {:+.1} ms", p99 - bare_p99);
    println!("dispatch_per_s: {per_s:.0} dispatches/s");
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds the release mod_callback.so and points the simulator at it.
fn agent(i: usize) -> String {
    format!("{}", 3001 + i)
}

/// The dispatch configuration with 50 agents on one always-open queue.
fn write_config(dir: &Path) -> PathBuf {
    let agents: String = (0..AGENTS)
        .map(|i| {
            format!(
                "    <agent name=\"{}\"><param name=\"queues\" value=\"support\"/></agent>\n",
                agent(i)
            )
        })
        .collect();
    let conf = format!(
        r#"<configuration name="callback.conf" description="Customer callbacks (dispatch bench)">
  <settings>
    <param name="db-path" value="{db}"/>
    <param name="recordings-dir" value="{rec}"/>
    <param name="node-id" value="bench-1"/>
    <param name="default-region" value="US"/>
    <param name="default-queue" value="support"/>
    <param name="default-time-zone" value="America/New_York"/>
    <param name="merge-pending" value="false"/>
    <param name="agent-ring-seconds" value="20"/>
    <param name="agent-declines-to-away" value="0"/>
  </settings>
  <queues>
    <queue name="support">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
      <param name="gateway" value="sofia/gateway/pstn/{{e164}}"/>
      <param name="reoffer-delay" value="2h"/>
    </queue>
  </queues>
  <agents>
{agents}  </agents>
</configuration>
"#,
        db = dir.join("callback.db").display(),
        rec = dir.join("recordings").display(),
    );
    let path = dir.join("callback.conf.xml");
    std::fs::write(&path, conf).expect("the bench configuration");
    path
}

/// A scheduled request of a distinct customer, due at `due`.
fn draft(i: usize, due: DateTime<Utc>) -> Draft {
    Draft {
        kind: CallbackType::Scheduled,
        number: format!("+1212{:07}", i % 10_000_000),
        time_zone: "America/New_York".into(),
        desired_at: Some(due),
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
        due_at: Some(due),
        expires_at: None,
    }
}

/// Stores the drafts in batches of [`BATCH`]; returns their ids in order.
fn store_all(
    store: &SqliteStore,
    drafts: impl Iterator<Item = Draft>,
    now: DateTime<Utc>,
) -> Vec<i64> {
    let drafts: Vec<Draft> = drafts.collect();
    drafts
        .chunks(BATCH)
        .flat_map(|c| store.create_batch(c, now).expect("storing the requests"))
        .collect()
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t) + Duration::seconds(1)
}

fn ms(at: DateTime<Utc>, from: DateTime<Utc>) -> f64 {
    (at - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Nearest rank.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

/// Waits (until `deadline` on the real clock) for an agent originate of every callback of
/// `want`; returns the first arrival of each callback that had one.
fn wait_for(
    sim: &Sim,
    want: &HashMap<i64, DateTime<Utc>>,
    deadline: DateTime<Utc>,
) -> HashMap<i64, DateTime<Utc>> {
    let mut first: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let mut seen = 0;
    loop {
        let all = sim.originated();
        for (id, at) in &all[seen..] {
            if want.contains_key(id) {
                first
                    .entry(*id)
                    .or_insert_with(|| DateTime::<Utc>::from(*at));
            }
        }
        seen = all.len();
        if first.len() == want.len() || Utc::now() > deadline {
            return first;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Sleeps to each instant in order on a tokio current-thread runtime; returns how late
/// (ms) it woke for each. Requests due at the same instant share one wake-up: tokio rounds
/// a sleep up to its next 1 ms tick even when the deadline has passed, so sleeping again
/// for each of the ~33 requests of one second would make the bare timer itself 33 ms late.
fn bare_timer(instants: &[SystemTime]) -> Vec<f64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let mut late = Vec::with_capacity(instants.len());
        let mut woke: Option<(SystemTime, f64)> = None;
        for due in instants {
            let ms = match woke {
                Some((at, ms)) if at == *due => ms,
                _ => {
                    let ahead = due.duration_since(SystemTime::now()).unwrap_or_default();
                    tokio::time::sleep_until(tokio::time::Instant::now() + ahead).await;
                    let ms = SystemTime::now()
                        .duration_since(*due)
                        .map(|d| d.as_secs_f64() * 1000.0)
                        .unwrap_or(0.0);
                    woke = Some((*due, ms));
                    ms
                }
            };
            late.push(ms);
        }
        late
    })
}
