//! The load run (issue #9, item 3): the real module in the simulator on the real clock,
//! with IVR callers, web requests over HTTP and the dispatcher all busy at once, while the
//! process's resident memory is sampled.
//!
//! - `callers` IVR calls in flight at all times: each on its own thread (as FreeSWITCH runs
//!   calls), keying 1 and speaking `fixtures/speech/john.wav` through the real
//!   `callback_ivr` app, paced at human speed ([`Sim::pace`]: a recording takes as long as
//!   its audio), then the next call on the same thread.
//! - `creates_per_s` `POST /v1/callbacks` a second over real HTTP/1.1 on 127.0.0.1 (a plain
//!   keep-alive `TcpStream` client), immediate callbacks for a pool of customer numbers.
//! - Agents answer and key 1 in the preview, customers answer and talk briefly: the
//!   dispatcher delivers the web requests while the rest goes on.
//!
//! The simulator runs bounded ([`Sim::bounded`]) and forgets each finished inbound call, as
//! FreeSWITCH frees a session after hang-up, so what the resident size measures is the
//! module (and the C heap of the process), not the simulator's own records.

use crate::scenario::{load_with_config, repo_root};
use crate::{Act, Endpoint, Sim};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The load run's configuration (`@TMP@` becomes a scratch directory).
pub const CONFIG: &str = "fixtures/config/load.conf.xml";
const KEY: &str = "load-secret-0123456789";
const AGENTS: usize = 100;
/// Web requests are for this many distinct customers (each a scripted endpoint).
const CUSTOMERS: usize = 2_000;
/// Scripts kept ready per agent (one is used per answered call).
const AGENT_SCRIPTS: usize = 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub duration: Duration,
    pub callers: usize,
    pub creates_per_s: u32,
    /// One progress line this often.
    pub report_every: Duration,
    /// The resident size at this point of the run is the baseline of the growth ratio
    /// (every caller in flight, the module's caches and pools warm).
    pub warm_up: Duration,
    /// Simulator records kept in bounded mode.
    pub keep: usize,
    /// The module's configuration (`@TMP@` becomes a scratch directory); [`CONFIG`] when
    /// `None`.
    pub config: Option<std::path::PathBuf>,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Resident size (MB) right after the module loaded, before any load.
    pub rss_loaded_mb: f64,
    /// At the end of warm-up: the growth baseline.
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
    pub rss_max_after_warm_up_mb: f64,
    /// Live heap (MB, bytes malloc has handed out and not had back) at the end of warm-up
    /// and at the end: what the process holds, without the pages the allocator keeps.
    pub heap_start_mb: f64,
    pub heap_end_mb: f64,
    /// (seconds into the run, MB) at each report.
    pub samples: Vec<(u64, f64)>,
    /// IVR calls whose `callback_result` was OK.
    pub captures: usize,
    /// IVR calls that ended otherwise (with their `callback_error`, the first few).
    pub capture_errors: usize,
    pub http_creates: usize,
    pub http_failed: usize,
    /// Log lines at ERROR or worse from the module.
    pub errors_logged: usize,
    /// Calls to a variadic host function with a format other than "%s".
    pub format_violations: usize,
    /// Callbacks completed (agent accepted, customer answered), per the module's stats.
    pub dispatched: u64,
    /// Agent offers (`originate` to an agent) that reached the host.
    pub offers: usize,
    /// Every request the store holds, per the module's stats.
    pub stored: u64,
    /// The database file (with its WAL) at the end, MB: SQLite's page cache (128 MiB at
    /// most, `CACHE_KIB` in src/store/sqlite/mod.rs) fills as the file grows.
    pub db_mb: f64,
    /// The first few errors of each kind, for the report.
    pub examples: Vec<String>,
}

impl LoadReport {
    /// IVR errors + HTTP failures + module error lines + printf-format violations.
    pub fn errors(&self) -> usize {
        self.capture_errors + self.http_failed + self.errors_logged + self.format_violations
    }

    pub fn heap_growth_ratio(&self) -> f64 {
        if self.heap_start_mb > 0.0 {
            self.heap_end_mb / self.heap_start_mb
        } else {
            0.0
        }
    }

    pub fn growth_ratio(&self) -> f64 {
        if self.rss_start_mb > 0.0 {
            self.rss_end_mb / self.rss_start_mb
        } else {
            0.0
        }
    }
}

/// The resident set size of this process in MB (`VmRSS` of /proc/self/status): the module
/// runs inside it.
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// The live heap of this process in MB: the bytes glibc's malloc has handed out and not
/// had back, in every arena (`mallinfo2`'s `uordblks` + `hblkhd`, the mmap'd blocks). The
/// resident size also counts the pages malloc keeps after a free (its arenas' holes and
/// tops), which it returns to the system only at its own pace.
pub fn heap_mb() -> f64 {
    // SAFETY: mallinfo2 takes no arguments and only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as f64 / (1024.0 * 1024.0)
}

/// A `kB` line of /proc/self/status, in MB (`RssAnon:` is the heap and stacks, `RssFile:`
/// mapped files such as the libraries and SQLite's -shm).
pub fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Default)]
struct Counters {
    captures: AtomicUsize,
    capture_errors: AtomicUsize,
    http_ok: AtomicUsize,
    http_failed: AtomicUsize,
    examples: Mutex<Vec<String>>,
}

impl Counters {
    fn example(&self, what: String) {
        let mut ex = self.examples.lock().unwrap_or_else(|p| p.into_inner());
        if ex.len() < 10 {
            ex.push(what);
        }
    }
}

/// Runs the load; `say` gets each progress line. Panics only when the run cannot start
/// (the module does not load, the API does not listen).
pub fn run(spec: &LoadSpec, say: &mut dyn FnMut(String)) -> LoadReport {
    let sim = Sim::real_clock();
    sim.pace(1.0);
    sim.bounded(spec.keep);
    sim.talk(200);
    for a in 0..AGENTS {
        let target = agent(a);
        sim.endpoint(&target, Endpoint::Answer(0));
    }
    for c in 0..CUSTOMERS {
        sim.endpoint(
            &format!("sofia/gateway/pstn/{}", customer(c)),
            Endpoint::Answer(0),
        );
    }
    top_up_agents(&sim);
    let config = spec
        .config
        .clone()
        .unwrap_or_else(|| repo_root().join(CONFIG));
    let module = load_with_config(&config).unwrap_or_else(|e| panic!("load failed: {e}"));
    let addr = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .and_then(|l| l.text.rsplit(' ').next().map(|a| a.trim().to_string()))
        .unwrap_or_else(|| panic!("the REST API did not start: {:#?}", sim.logs()));

    let db = module
        .scratch
        .as_ref()
        .map(|d| d.join("callback.db"))
        .unwrap_or_default();
    let mut report = LoadReport {
        rss_loaded_mb: rss_mb(),
        ..LoadReport::default()
    };
    let counters = Counters::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let speech = repo_root().join("fixtures/speech/john.wav");
    let next_caller = AtomicUsize::new(0);
    let next_create = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..spec.callers {
            s.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let k = next_caller.fetch_add(1, Ordering::SeqCst);
                    one_caller(&sim, k, &speech, &counters);
                }
            });
        }
        // A few HTTP clients sharing one schedule: request i leaves at i / rate.
        for _ in 0..4 {
            let (addr, next_create, counters, stop) = (&addr, &next_create, &counters, &stop);
            s.spawn(move || {
                http_client(
                    addr,
                    spec.creates_per_s,
                    started,
                    next_create,
                    counters,
                    stop,
                )
            });
        }
        // The monitor: scripts for the agents, progress lines, memory.
        let mut next_report = spec.report_every;
        let mut warm = false;
        while started.elapsed() < spec.duration {
            std::thread::sleep(Duration::from_millis(250));
            top_up_agents(&sim);
            let t = started.elapsed();
            if !warm && t >= spec.warm_up {
                warm = true;
                report.rss_start_mb = rss_mb();
                report.heap_start_mb = heap_mb();
            }
            if warm {
                report.rss_max_after_warm_up_mb = report.rss_max_after_warm_up_mb.max(rss_mb());
            }
            if t >= next_report {
                next_report += spec.report_every;
                let rss = rss_mb();
                let secs = t.as_secs();
                report.samples.push((secs, rss));
                let (completed, _) = stats(&sim);
                say(format!(
                    "load_t{secs}_rss_mb: {rss:.1} MB  heap_mb={:.1} anon_mb={:.1} file_mb={:.1} \
                     db_mb={:.1} \
                     sim_calls={} captures={} capture_errors={} http_ok={} http_failed={} \
                     offers={} dispatched={completed} errors_logged={}",
                    heap_mb(),
                    status_mb("RssAnon:"),
                    status_mb("RssFile:"),
                    file_mb(&db),
                    sim.sessions().len(),
                    counters.captures.load(Ordering::SeqCst),
                    counters.capture_errors.load(Ordering::SeqCst),
                    counters.http_ok.load(Ordering::SeqCst),
                    counters.http_failed.load(Ordering::SeqCst),
                    sim.originated_count(),
                    sim.errors_logged(),
                ));
            }
        }
        report.rss_end_mb = rss_mb();
        report.heap_end_mb = heap_mb();
        report.rss_max_after_warm_up_mb = report.rss_max_after_warm_up_mb.max(report.rss_end_mb);
        stop.store(true, Ordering::SeqCst);
    });
    let (completed, stored) = stats(&sim);
    report.db_mb = file_mb(&db);
    report.dispatched = completed;
    report.stored = stored;
    report.captures = counters.captures.load(Ordering::SeqCst);
    report.capture_errors = counters.capture_errors.load(Ordering::SeqCst);
    report.http_creates = counters.http_ok.load(Ordering::SeqCst);
    report.http_failed = counters.http_failed.load(Ordering::SeqCst);
    report.offers = sim.originated_count();
    report.errors_logged = sim.errors_logged();
    report.format_violations = sim.format_violations().len();
    report.examples = counters
        .examples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    report.examples.extend(
        sim.logs()
            .into_iter()
            .filter(|l| l.level <= 3)
            .take(10)
            .map(|l| format!("log: {}", l.text)),
    );
    drop(module);
    report
}

fn agent(a: usize) -> String {
    format!("user/{}", 4001 + a)
}

/// Customer `c` of the web requests (valid NANP numbers, distinct from the IVR callers').
fn customer(c: usize) -> String {
    format!("+1646555{:04}", c % CUSTOMERS)
}

/// Each agent keeps a few "key 1 in the preview" scripts ready.
fn top_up_agents(sim: &Sim) {
    for a in 0..AGENTS {
        let target = agent(a);
        for _ in sim.scripts_left(&target)..AGENT_SCRIPTS {
            sim.script(&target, vec![Act::Press("1".into())]);
        }
    }
}

/// One IVR call: the caller confirms their number (1), speaks, and the call is forgotten
/// once `callback_ivr` returned.
fn one_caller(sim: &Sim, k: usize, speech: &std::path::Path, counters: &Counters) {
    let call = sim.new_call(&format!(
        "+1212{}{:04}",
        200 + (k / 10_000) % 800,
        k % 10_000
    ));
    sim.act(&call, Act::Press("1".into()));
    sim.act(&call, Act::Speak(speech.to_path_buf()));
    sim.execute(&call, "callback_ivr", "load");
    if sim.var(&call, "callback_result").as_deref() == Some("OK") {
        counters.captures.fetch_add(1, Ordering::SeqCst);
    } else {
        counters.capture_errors.fetch_add(1, Ordering::SeqCst);
        counters.example(format!(
            "ivr: result {:?}, error {:?}",
            sim.var(&call, "callback_result"),
            sim.var(&call, "callback_error")
        ));
    }
    sim.end_call(&call);
}

/// A database file's size with its WAL, MB.
fn file_mb(db: &std::path::Path) -> f64 {
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = db.with_extension("db-wal");
    (size(db.to_path_buf()) + size(wal)) as f64 / (1024.0 * 1024.0)
}

/// `(completed, stored in all)` from `callback json stats`.
fn stats(sim: &Sim) -> (u64, u64) {
    let reply: serde_json::Value =
        serde_json::from_str(&sim.api("callback json stats")).unwrap_or_default();
    let rows = reply["stats"]["by_queue_state"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let count = |row: &serde_json::Value| row[2].as_u64().unwrap_or(0);
    let completed = rows
        .iter()
        .filter(|row| row[1] == "completed")
        .map(count)
        .sum();
    (completed, rows.iter().map(count).sum())
}

/// Sends `POST /v1/callbacks` on schedule until `stop`.
fn http_client(
    addr: &str,
    rate: u32,
    started: Instant,
    next: &AtomicUsize,
    counters: &Counters,
    stop: &AtomicBool,
) {
    let mut conn: Option<Http> = None;
    while !stop.load(Ordering::SeqCst) {
        let i = next.fetch_add(1, Ordering::SeqCst);
        let at = started + Duration::from_secs_f64(i as f64 / f64::from(rate.max(1)));
        while Instant::now() < at {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep((at - Instant::now()).min(Duration::from_millis(100)));
        }
        let body = format!(
            r#"{{"number":"{}","type":"immediate","remark":"load {i}"}}"#,
            customer(i)
        );
        let result = match conn.as_mut() {
            Some(c) => c.post("/v1/callbacks", &body),
            None => Err(std::io::Error::other("not connected")),
        };
        // One reconnect and retry when the kept-alive connection is gone.
        let result = match result {
            Ok(r) => Ok(r),
            Err(_) => Http::connect(addr).and_then(|mut c| {
                let r = c.post("/v1/callbacks", &body);
                conn = Some(c);
                r
            }),
        };
        match result {
            Ok((201, _)) => {
                counters.http_ok.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, text)) => {
                counters.http_failed.fetch_add(1, Ordering::SeqCst);
                counters.example(format!("http: {status} {text}"));
            }
            Err(e) => {
                conn = None;
                counters.http_failed.fetch_add(1, Ordering::SeqCst);
                counters.example(format!("http: {e}"));
            }
        }
    }
}

/// A minimal HTTP/1.1 keep-alive client: enough for JSON requests with a
/// `Content-Length` reply (what axum sends for JSON).
struct Http {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Http {
    fn connect(addr: &str) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    fn post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        write!(
            self.writer,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        self.writer.flush()?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed in the headers"));
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut buf = vec![0; length];
        self.reader.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}
