//! HTTP benchmark: concurrent `POST /v1/callbacks` over loopback against the real server
//! (a node as the module starts it: axum, SQLite on disk, system clock, the dispatcher), driven by a load generator in the same process;
//! then, with the same generator, the same bodies and the same number of requests, against
//! a bare axum + rusqlite handler that parses the JSON and inserts one row in a WAL
//! database with the store's pragmas: the limit of the stack the server is built on.
//! Prints `create_per_s`, `create_p99_ms`, `create_per_s_bare`, `create_p99_ms_bare` and
//! `create_ratio_vs_bare` (ours ÷ bare) as `name: value unit`; progress on stderr. Then the
//! servers' thread CPU time per create, `create_cpu_us` (the node's threads) and
//! `create_cpu_us_bare` (the bare server's), and `create_cpu_ratio_vs_bare` (bare ÷ ours):
//! on a machine others are using, throughput follows the share of the cores the run got,
//! while the CPU a create costs holds (the load generator's threads are left out of both).
//! `HTTP_BENCH_N` (default 20000) and `HTTP_BENCH_CLIENTS` (default 32) tune the run.

use callback_core::clock::SystemClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::node::Node;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "bench-secret-0123456789";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let total = env("HTTP_BENCH_N", 20_000);
    let clients = env("HTTP_BENCH_CLIENTS", 32).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = format!(
        r#"<configuration name="callback.conf"><settings>
      <param name="default-region" value="US"/>
      <param name="default-queue" value="web"/>
      <param name="merge-pending" value="false"/>
      <param name="max-pending-per-number" value="0"/>
      <param name="http-rate-per-key" value="0"/>
      <param name="http-rate-per-ip" value="0"/>
      <param name="http-token-secret" value="bench-token-secret-0123"/>
      <param name="http-listen" value="127.0.0.1:0"/>
      <param name="db-path" value="{db}"/>
      <param name="recordings-dir" value="{rec}"/>
      <param name="whisper-model" value=""/>
    </settings>
    <queues><queue name="web"><param name="hours" value="always"/></queue></queues>
    <api-keys><key name="bench"><param name="secret" value="{KEY}"/><param name="scope" value="create"/></key></api-keys>
    </configuration>"#,
        db = dir.path().join("callback.db").display(),
        rec = dir.path().join("rec").display(),
    );
    let config = Config::from_xml(&conf).expect("bench config");
    let node = Node::start(
        config,
        Arc::new(Detached::default()),
        Arc::new(SystemClock),
        None,
    )
    .expect("the node");
    let addr = node.http_addr().expect("the API listens");
    let url = format!("http://{addr}/v1/callbacks");
    eprintln!("http bench: {total} creates, {clients} clients, {url}");
    let before = cpu::of_threads("callback-");
    let ours = drive(&url, total, clients);
    let ours_cpu = cpu::of_threads("callback-").since(&before);
    node.stop();
    println!("create_per_s: {:.0} req/s", ours.per_s);
    println!("create_p99_ms: {:.2} ms", ours.p99_ms);

    let bare_dir = tempfile::tempdir().expect("temp dir");
    let (bare_url, stop) = bare::start(&bare_dir.path().join("bare.db"));
    eprintln!("http bench: the same against the bare stack, {bare_url}");
    let before = cpu::of_threads(bare::THREADS);
    let bare = drive(&bare_url, total, clients);
    let bare_cpu = cpu::of_threads(bare::THREADS).since(&before);
    stop();
    println!("create_per_s_bare: {:.0} req/s", bare.per_s);
    println!("create_p99_ms_bare: {:.2} ms", bare.p99_ms);
    println!("create_ratio_vs_bare: {:.2} ratio", ours.per_s / bare.per_s);
    let per_create = |ns: u64| ns as f64 / 1000.0 / total as f64;
    println!("create_cpu_us: {:.1} us", per_create(ours_cpu));
    println!("create_cpu_us_bare: {:.1} us", per_create(bare_cpu));
    println!(
        "create_cpu_ratio_vs_bare: {:.2} ratio",
        bare_cpu as f64 / ours_cpu.max(1) as f64
    );
}

/// The CPU time of this process's threads by name, from Linux's per-thread scheduler
/// statistics (`/proc/self/task/<tid>/schedstat`: nanoseconds on a CPU).
mod cpu {
    use std::collections::BTreeMap;

    /// CPU nanoseconds so far of each live thread whose name starts with a prefix.
    pub struct Threads(BTreeMap<String, u64>);

    pub fn of_threads(prefix: &str) -> Threads {
        let mut seen = BTreeMap::new();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return Threads(seen);
        };
        for task in tasks.flatten() {
            let dir = task.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if !name.starts_with(prefix) {
                continue;
            }
            let ns = std::fs::read_to_string(dir.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            seen.insert(task.file_name().to_string_lossy().into_owned(), ns);
        }
        Threads(seen)
    }

    impl Threads {
        /// The CPU time these threads used since `earlier` (threads started meanwhile count
        /// whole; one that ended meanwhile is missed, and the runtimes keep theirs alive).
        pub fn since(&self, earlier: &Threads) -> u64 {
            self.0
                .iter()
                .map(|(tid, ns)| ns.saturating_sub(earlier.0.get(tid).copied().unwrap_or(0)))
                .sum()
        }
    }
}

struct Run {
    per_s: f64,
    p99_ms: f64,
}

/// `total` creates from `clients` threads, each on one keep-alive connection as a busy web
/// front end would hold; every answer must be 201.
fn drive(url: &str, total: usize, clients: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (next, url) = (next.clone(), url.to_string());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().max_idle_connections(1).build();
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break lat;
                    }
                    let body = format!(
                        r#"{{"number":"+1212555{:04}","remark":"bench {i}","data":{{"order":"{i}"}}}}"#,
                        i % 10_000
                    );
                    let t = Instant::now();
                    let r = agent
                        .post(&url)
                        .set("Authorization", &format!("Bearer {KEY}"))
                        .set("Content-Type", "application/json")
                        .send_string(&body);
                    match r {
                        Ok(resp) if resp.status() == 201 => {
                            let _ = resp.into_string();
                        }
                        Ok(resp) => panic!("create {i}: status {}", resp.status()),
                        Err(e) => panic!("create {i}: {e}"),
                    }
                    lat.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut lat: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("client thread"))
        .collect();
    let elapsed = started.elapsed();
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    Run {
        per_s: total as f64 / elapsed.as_secs_f64(),
        p99_ms: p99.as_secs_f64() * 1000.0,
    }
}

/// The bare stack: axum on a tokio runtime as the server's, one rusqlite connection behind a
/// mutex (as the store's), the store's pragmas (WAL, synchronous NORMAL), the bearer key
/// compared, the body parsed as JSON, one row inserted, 201 with the new id.
mod bare {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use axum::{Json, Router};
    use rusqlite::Connection;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    type Db = Arc<Mutex<Connection>>;

    /// The name of the bare server's threads (its CPU time is summed by it).
    pub const THREADS: &str = "bare-http";

    async fn create(
        State(db): State<Db>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> (StatusCode, String) {
        let authorised = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {}", super::KEY));
        if !authorised {
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        let number = body["number"].as_str().unwrap_or_default().to_string();
        let remark = body["remark"].as_str().unwrap_or_default().to_string();
        let data = body["data"].to_string();
        let db = db.clone();
        let id = tokio::task::spawn_blocking(move || {
            let conn = db.lock().expect("bare db");
            conn.execute(
                "INSERT INTO callbacks (number, remark, data, created_at) VALUES (?1, ?2, ?3, strftime('%s','now'))",
                (&number, &remark, &data),
            )
            .expect("insert");
            conn.last_insert_rowid()
        })
        .await
        .expect("insert task");
        (StatusCode::CREATED, format!(r#"{{"id":{id}}}"#))
    }

    /// Starts the bare server; returns its URL and a function that stops it.
    pub fn start(path: &Path) -> (String, impl FnOnce()) {
        let conn = Connection::open(path).expect("bare db");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "NORMAL")
            .expect("sync");
        conn.execute_batch(
            "CREATE TABLE callbacks (id INTEGER PRIMARY KEY, number TEXT NOT NULL, \
             remark TEXT, data TEXT, created_at INTEGER NOT NULL)",
        )
        .expect("schema");
        let db: Db = Arc::new(Mutex::new(conn));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name(THREADS)
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!(
            "http://{}/v1/callbacks",
            listener.local_addr().expect("addr")
        );
        let app = Router::new()
            .route("/v1/callbacks", post(create))
            .with_state(db);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let stop = move || {
            let _ = tx.send(());
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        };
        (url, stop)
    }
}
