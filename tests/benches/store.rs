//! Store benchmark: bulk insert of 1,000,000 realistic requests, claims at 1M pending, bytes
//! per request on disk, and the same inserts through the `sqlite3` command-line tool as a
//! yardstick. Prints one `name: value unit` line per measure on stdout; progress on stderr.
//! `STORE_BENCH_N` (1,000,000) and `STORE_BENCH_CLAIMS` (21) change the sizes, e.g. for a
//! profile of the claims.

use callback_core::model::{CallbackType, Draft, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::SqliteStore;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Requests inserted; `STORE_BENCH_N` overrides it for a quick smoke run.
fn total() -> usize {
    std::env::var("STORE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}
const BATCH: usize = 10_000;
/// Claims timed; `STORE_BENCH_CLAIMS` overrides it (more claims make a profile of them).
fn claims() -> usize {
    std::env::var("STORE_BENCH_CLAIMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21)
}
const CLAIM_LIMIT: usize = 100;
const SQLITE3: &str = "/usr/bin/sqlite3";

/// CPU time this thread has run, in nanoseconds (the first field of Linux's
/// `/proc/thread-self/schedstat`); `None` where that file is missing.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A small deterministic generator, so both inserts see the very same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap()
}

/// Draft number `i`: mixed queues, types, sources and zones, due times over 30 days, a
/// remark, IVR data and an idempotency key on a share of them, as the front ends send them.
fn make_draft(rng: &mut Rng, i: usize) -> Draft {
    let queues = ["sales", "support", "billing", "tech", "retention", "vip"];
    let zones = [
        "Europe/Berlin",
        "Europe/London",
        "America/New_York",
        "Europe/Paris",
    ];
    let kinds = [
        CallbackType::Immediate,
        CallbackType::Delayed,
        CallbackType::Scheduled,
        CallbackType::AgentPreview,
    ];
    let source = [
        Source::Ivr,
        Source::Ivr,
        Source::Web,
        Source::Mobile,
        Source::Api,
    ][rng.below(5) as usize];
    let kind = kinds[rng.below(4) as usize];
    let number = match rng.below(3) {
        0 => format!("+1{}{:09}", 2 + rng.below(8), rng.below(1_000_000_000)),
        _ => format!("+49{}{:09}", 1 + rng.below(9), rng.below(1_000_000_000)),
    };
    let due = base() + Duration::seconds(rng.below(30 * 86_400) as i64);
    let mut ivr_data = BTreeMap::new();
    if source == Source::Ivr {
        ivr_data.insert(
            "account".to_string(),
            format!("{:08}", rng.below(100_000_000)),
        );
        ivr_data.insert("menu".to_string(), format!("{}", 1 + rng.below(4)));
    }
    let remark = (rng.below(4) == 0).then(|| {
        rng.pick(&[
            "about my last invoice",
            "router keeps rebooting",
            "contract renewal",
        ])
        .to_string()
    });
    let idempotency_key =
        (source != Source::Ivr).then(|| format!("{}:{}-{i}", source.as_str(), rng.hex(16)));
    let origin_uuid = (source == Source::Ivr).then(|| {
        let h = rng.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    });
    Draft {
        kind,
        number,
        time_zone: rng.pick(&zones).to_string(),
        desired_at: (kind == CallbackType::Scheduled).then_some(due),
        window: Window::default(),
        number_type: None,
        queue: rng.pick(&queues).to_string(),
        agent: (rng.below(10) == 0).then(|| format!("10{:02}", rng.below(100))),
        remark,
        ivr_data,
        source,
        origin_uuid,
        idempotency_key,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(due),
        expires_at: Some(due + Duration::days(2)),
    }
}

fn sql_text(s: Option<&str>) -> String {
    match s {
        None => "NULL".to_string(),
        Some(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

fn sql_int(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_string(), |v| v.to_string())
}

fn sql_map(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        "NULL".to_string()
    } else {
        sql_text(serde_json::to_string(m).ok().as_deref())
    }
}

/// The same rows as [`Store::create_batch`] writes (callback + `created` event), as SQL text.
fn write_cli_script(path: &Path, now: i64, total: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    // The same per-connection settings the store uses, so the comparison is of the code path.
    writeln!(
        out,
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-131072; BEGIN;"
    )?;
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for i in 0..total {
        let d = make_draft(&mut rng, i);
        writeln!(
            out,
            "INSERT INTO callbacks (kind, number, time_zone, queue, source, state, due_at, \
             customer_attempts, created_at, updated_at, desired_at, window_from, window_until, \
             expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, recording_path, \
             recording_ms, recording_rate, tags) VALUES ('{}', '{}', '{}', '{}', '{}', '{}', {}, \
             0, {now}, {now}, {}, NULL, NULL, {}, {}, {}, {}, {}, {}, NULL, NULL, NULL, NULL);\n\
             INSERT INTO events (callback_id, at, action, from_state, to_state, actor, detail) \
             VALUES (last_insert_rowid(), {now}, 'created', NULL, 'scheduled', NULL, NULL);",
            d.kind.as_str(),
            d.number,
            d.time_zone,
            d.queue,
            d.source.as_str(),
            d.state.as_str(),
            sql_int(d.due_at.map(|t| t.timestamp())),
            sql_int(d.desired_at.map(|t| t.timestamp())),
            sql_int(d.expires_at.map(|t| t.timestamp())),
            sql_text(d.agent.as_deref()),
            sql_text(d.remark.as_deref()),
            sql_map(&d.ivr_data),
            sql_text(d.origin_uuid.as_deref()),
            sql_text(d.idempotency_key.as_deref()),
        )?;
    }
    writeln!(out, "COMMIT;")?;
    out.flush()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn run() -> Result<(), String> {
    if !Path::new(SQLITE3).exists() {
        return Err(format!(
            "{SQLITE3} is missing: the bench compares against the sqlite3 command-line tool \
             (install the sqlite3 package)"
        ));
    }
    let total = total();
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let db = dir.path().join("bench.db");
    let store = SqliteStore::open(&db).map_err(|e| e.to_string())?;
    let now = base() - Duration::hours(1);

    // Insert: only the create_batch calls are timed, not building the drafts.
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut inserting = std::time::Duration::ZERO;
    for b in 0..total / BATCH {
        let drafts: Vec<Draft> = (0..BATCH)
            .map(|j| make_draft(&mut rng, b * BATCH + j))
            .collect();
        let started = Instant::now();
        store
            .create_batch(&drafts, now)
            .map_err(|e| format!("batch {b}: {e}"))?;
        inserting += started.elapsed();
        if b % 20 == 19 {
            eprintln!("inserted {}", (b + 1) * BATCH);
        }
    }
    let ours = total as f64 / inserting.as_secs_f64();

    // Claims at 1M pending: everything is due, take the next 100 each time.
    let later = base() + Duration::days(31);
    let mut times = Vec::with_capacity(claims());
    let mut cpu = Vec::with_capacity(claims());
    for _ in 0..claims() {
        let cpu_before = thread_cpu_ns();
        let started = Instant::now();
        let got = store
            .claim_due("bench", later, Duration::seconds(60), CLAIM_LIMIT)
            .map_err(|e| format!("claim: {e}"))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if let (Some(a), Some(b)) = (cpu_before, thread_cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64 / 1e6);
        }
        if got.len() != CLAIM_LIMIT {
            return Err(format!("claimed {} instead of {CLAIM_LIMIT}", got.len()));
        }
    }
    times.sort_by(f64::total_cmp);
    let claim_ms = times[times.len() / 2];
    // The tail: a claim whose commit also folded the WAL back used to take 4-5x the median.
    let claim_p90_ms = times[times.len() * 9 / 10];
    let claim_max_ms = times[times.len() - 1];
    // The claim runs on this thread (the store's connection is used by its caller), so its
    // CPU time is what a claim costs whatever else the machine is running.
    cpu.sort_by(f64::total_cmp);
    let claim_cpu_ms = cpu.get(cpu.len() / 2).copied();

    // Closing the last connection checkpoints the WAL into the file.
    drop(store);
    let bytes = file_size(&db) + file_size(&db.with_extension("db-wal"));
    let per_request = bytes as f64 / total as f64;

    // The yardstick: a fresh file with our schema (made by our migrations), then the same
    // rows through the sqlite3 tool in one transaction, timed from process start to exit.
    let cli_db = dir.path().join("cli.db");
    drop(SqliteStore::open(&cli_db).map_err(|e| e.to_string())?);
    let script = dir.path().join("insert.sql");
    write_cli_script(&script, now.timestamp(), total)
        .map_err(|e| format!("writing the script: {e}"))?;
    eprintln!("sqlite3 script: {} bytes", file_size(&script));
    let input = std::fs::File::open(&script).map_err(|e| format!("script: {e}"))?;
    let started = Instant::now();
    let status = Command::new(SQLITE3)
        .arg(&cli_db)
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("running {SQLITE3}: {e}"))?;
    let cli_secs = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{SQLITE3} failed: {status}"));
    }
    let check = rusqlite::Connection::open(&cli_db).map_err(|e| e.to_string())?;
    let rows: i64 = check
        .query_row("SELECT count(*) FROM callbacks", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if rows != total as i64 {
        return Err(format!("sqlite3 inserted {rows} rows, not {total}"));
    }
    let cli = total as f64 / cli_secs;

    println!("insert_per_s: {ours:.0} req/s");
    println!("claim_batch_ms: {claim_ms:.2} ms");
    println!("claim_batch_p90_ms: {claim_p90_ms:.2} ms");
    println!("claim_batch_max_ms: {claim_max_ms:.2} ms");
    if let Some(ms) = claim_cpu_ms {
        println!("claim_batch_cpu_ms: {ms:.2} ms");
    }
    println!("db_bytes_per_request: {per_request:.0} bytes");
    println!(
        "insert_ratio_vs_sqlite3_cli: {:.2} (ours {ours:.0} req/s vs sqlite3 CLI {cli:.0} req/s)",
        ours / cli
    );
    Ok(())
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
