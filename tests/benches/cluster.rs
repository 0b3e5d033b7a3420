//! Cluster benchmark (issue 10): claims per second from one PostgreSQL database by one node
//! and by two nodes at once (two connections on two threads, each claiming batches of 100
//! until nothing is left), and the single-node figure on SQLite for comparison, in one run.
//! Every run also checks that the two nodes together claimed every request exactly once.
//!
//! The server: `CALLBACK_PG_URL`, default the test server `.ci/postgres` starts. Each
//! measure runs in its own schema, dropped afterwards. `CLUSTER_BENCH_N` sets the number of
//! due requests (default 10,000). Prints one `name: value unit` line per figure.

use callback_core::model::{CallbackType, Draft, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::{PgStore, SqliteStore};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::Instant;

const LIMIT: usize = 100;

fn total() -> usize {
    std::env::var("CLUSTER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn pg_url() -> String {
    std::env::var("CALLBACK_PG_URL")
        .unwrap_or_else(|_| "postgres://callback:callback@127.0.0.1:5432/callback_test".into())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap()
}

fn drafts(n: usize) -> Vec<Draft> {
    (0..n)
        .map(|i| Draft {
            kind: CallbackType::Immediate,
            number: format!("+4930{:08}", 10_000_000 + i),
            time_zone: "Europe/Berlin".into(),
            desired_at: None,
            window: Window::default(),
            number_type: None,
            queue: ["sales", "support", "billing"][i % 3].into(),
            agent: None,
            remark: None,
            ivr_data: BTreeMap::new(),
            source: Source::Ivr,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            tags: BTreeMap::new(),
            state: State::Scheduled,
            due_at: Some(t0() + Duration::seconds((i % 3600) as i64)),
            expires_at: None,
        })
        .collect()
}

/// A schema of its own on the server, dropped on drop.
struct Schema {
    name: String,
    url: String,
}

impl Schema {
    fn new(tag: &str) -> Result<Self, String> {
        let base = pg_url();
        let name = format!("bench_{tag}_{}", std::process::id());
        let mut c = postgres::Client::connect(&base, postgres::NoTls).map_err(|e| {
            format!(
                "PostgreSQL at {} does not answer: {e} (run .ci/postgres)",
                callback_core::store::redact_url(&base)
            )
        })?;
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .map_err(|e| e.to_string())?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{base}{sep}options=-csearch_path%3D{name}"),
            name,
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Each store claims on its own thread until nothing is due; returns claims per second
/// over the whole run, after checking every request was claimed exactly once.
fn claim_all(stores: Vec<Arc<dyn Store>>, n: usize) -> Result<f64, String> {
    let now = t0() + Duration::hours(2);
    let start = Arc::new(Barrier::new(stores.len() + 1));
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let start = start.clone();
            std::thread::spawn(move || -> Result<Vec<i64>, String> {
                let owner = format!("node-{i}");
                let mut mine = Vec::new();
                start.wait();
                loop {
                    let got = s
                        .claim_due(&owner, now, Duration::minutes(5), LIMIT)
                        .map_err(|e| e.to_string())?;
                    if got.is_empty() {
                        return Ok(mine);
                    }
                    mine.extend(got.into_iter().map(|r| r.id));
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut all = Vec::new();
    let mut per_node = Vec::new();
    for h in handles {
        let mine = h.join().map_err(|_| "a claiming thread panicked")??;
        per_node.push(mine.len());
        all.extend(mine);
    }
    let secs = began.elapsed().as_secs_f64();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    if all.len() != n || distinct.len() != n {
        return Err(format!(
            "claimed {} ({} distinct) of {n}: lost or doubled",
            all.len(),
            distinct.len()
        ));
    }
    eprintln!("claims per node: {per_node:?} in {secs:.2} s");
    Ok(n as f64 / secs)
}

fn run() -> Result<(), String> {
    let n = total();
    let batch = drafts(n);
    let err = |e: callback_core::store::StoreError| e.to_string();

    let one = Schema::new("one")?;
    let store = PgStore::open(&one.url).map_err(err)?;
    store.create_batch(&batch, t0()).map_err(err)?;
    let pg_one = claim_all(vec![Arc::new(store)], n)?;

    let two = Schema::new("two")?;
    let a = PgStore::open(&two.url).map_err(err)?;
    a.create_batch(&batch, t0()).map_err(err)?;
    let b = PgStore::open(&two.url).map_err(err)?;
    let pg_two = claim_all(vec![Arc::new(a), Arc::new(b)], n)?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let lite = SqliteStore::open(dir.path().join("cb.db")).map_err(err)?;
    lite.create_batch(&batch, t0()).map_err(err)?;
    let sqlite_one = claim_all(vec![Arc::new(lite)], n)?;

    println!("claims_per_s_1_node: {pg_one:.0} claims/s");
    println!("claims_per_s_2_nodes: {pg_two:.0} claims/s");
    println!("sqlite_claims_per_s_1_node: {sqlite_one:.0} claims/s");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
