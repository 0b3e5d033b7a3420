//! HTTP benchmark: concurrent `POST /v1/callbacks` over loopback against the real server
//! (axum, SQLite on disk, system clock), driven by a load generator in the same process.
//! Prints `create_per_s` and `create_p99_ms` as `name: value unit`; progress on stderr.
//! `HTTP_BENCH_N` (default 20000) and `HTTP_BENCH_CLIENTS` (default 32) tune the run.

use callback_core::api::HttpServer;
use callback_core::clock::SystemClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::service::CallbackService;
use callback_core::store::SqliteStore;
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
    </settings>
    <queues><queue name="web"><param name="hours" value="always"/></queue></queues>
    <api-keys><key name="bench"><param name="secret" value="{KEY}"/><param name="scope" value="create"/></key></api-keys>
    </configuration>"#
    );
    let config = Arc::new(Config::from_xml(&conf).expect("bench config"));
    let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).expect("store"));
    let service = CallbackService::new(
        store,
        config,
        Arc::new(SystemClock),
        Arc::new(Detached::default()),
    );
    let server = HttpServer::start(
        Arc::new(service),
        None,
        "127.0.0.1:0".parse().expect("addr"),
    )
    .expect("bind");
    let url = format!("http://{}/v1/callbacks", server.local_addr());
    eprintln!("http bench: {total} creates, {clients} clients, {url}");

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (next, url) = (next.clone(), url.clone());
            std::thread::spawn(move || {
                // One keep-alive connection per client, as a busy web front end would hold.
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
    server.stop();
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    println!(
        "create_per_s: {:.0} req/s",
        total as f64 / elapsed.as_secs_f64()
    );
    println!("create_p99_ms: {:.2} ms", p99.as_secs_f64() * 1000.0);
}
