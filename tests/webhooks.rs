//! Outbound webhooks against a real local HTTP receiver, on SQLite and on PostgreSQL
//! (`db-url`): events arrive signed and in order; while the receiver is down they wait in
//! the durable outbox (across a worker restart) and all arrive, none lost, once it is
//! back; two nodes' workers on one store deliver each event once.

#[path = "support/backends.rs"]
mod backends;

use callback_core::clock::SystemClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::model::{CallbackType, Source};
use callback_core::service::{CallbackService, NewRequest, Requested};
use callback_core::store::{Store, WebhookLog};
use callback_core::webhook::{signature, WebhookWorker};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "hook-secret-0123456789";

/// One request the receiver took: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Delivery {
    headers: Vec<(String, String)>,
    body: String,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// A tiny HTTP receiver answering 200 to every POST, until dropped.
struct Receiver {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(addr: SocketAddr, got: Arc<Mutex<Vec<Delivery>>>) -> Receiver {
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if let Some(d) = read_request(&conn) {
                    got.lock().unwrap().push(d);
                }
                let mut conn = conn;
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Receiver {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn read_request(conn: &TcpStream) -> Option<Delivery> {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if !line.starts_with("POST ") {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Delivery {
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// Waits (bounded) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < end, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn config(addr: SocketAddr) -> Arc<Config> {
    let conf = format!(
        r#"<configuration name="callback.conf"><settings>
        <param name="default-region" value="US"/>
        <param name="default-queue" value="web"/>
        <param name="http-listen" value=""/>
        <param name="webhook-retry-delay" value="1s"/>
        <param name="webhook-max-delay" value="1s"/>
      </settings>
      <queues><queue name="web"><param name="hours" value="always"/></queue></queues>
      <webhooks><webhook name="crm"><param name="url" value="http://{addr}/hook"/>
        <param name="secret" value="{SECRET}"/></webhook></webhooks>
      </configuration>"#
    );
    Arc::new(Config::from_xml(&conf).unwrap())
}

#[test]
fn events_survive_a_receiver_outage_and_a_restart() {
    // Up: delivered and signed. Down: owed, retried. Worker restarted, receiver back:
    // every event arrives exactly in event order, none missing; on both backends.
    backends::on_each(outage_and_restart);
}

fn outage_and_restart(b: &backends::Backend) {
    let got = Arc::new(Mutex::new(Vec::<Delivery>::new()));
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), got.clone());
    let addr = receiver.addr;
    let config = config(addr);
    let store: Arc<dyn Store> = Arc::from(b.open_again().unwrap());
    let log: Arc<dyn WebhookLog> = Arc::from(b.outbox());
    let service = CallbackService::new(
        store.clone(),
        config.clone(),
        Arc::new(SystemClock),
        Arc::new(Detached::default()),
    );
    let worker = || {
        WebhookWorker::start(
            log.clone(),
            "node",
            config.api.webhooks.clone(),
            config.api.webhook_retry_delay,
            config.api.webhook_max_delay,
            Arc::new(SystemClock),
        )
        .unwrap()
        .unwrap()
    };
    let create = |n: &str| {
        let req = NewRequest::new(CallbackType::Immediate, n, Requested::Now, Source::Web);
        service.request(req).unwrap().0.id
    };

    let w = worker();
    let a = create("+12125550101");
    eventually("the first event arrives", || got.lock().unwrap().len() == 1);
    drop(receiver);

    let b = create("+12125550102");
    service.cancel(a, "test").unwrap();
    eventually("a failed try is recorded", || {
        log.webhook_cursor("crm", chrono::Utc::now())
            .unwrap()
            .attempts
            >= 1
    });
    w.stop();
    service.cancel(b, "test").unwrap();

    let _back = Receiver::start(addr, got.clone());
    let _w = worker();
    let mut expected: Vec<i64> = [a, b]
        .iter()
        .flat_map(|id| store.events(*id).unwrap())
        .map(|e| e.id)
        .collect();
    expected.sort();
    eventually("every event arrives", || {
        got.lock().unwrap().len() >= expected.len()
    });
    let got = got.lock().unwrap().clone();
    let ids: Vec<i64> = got
        .iter()
        .map(|d| d.header("x-callback-event").parse().unwrap())
        .collect();
    assert_eq!(ids, expected, "in order, none lost, none twice");
    for d in &got {
        let ts: i64 = d.header("x-callback-timestamp").parse().unwrap();
        assert_eq!(
            d.header("x-callback-signature"),
            signature(SECRET, ts, &d.body)
        );
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(v["event_id"].to_string(), d.header("x-callback-event"));
        assert_eq!(v["queue"], "web");
    }
    let last: serde_json::Value = serde_json::from_str(&got.last().unwrap().body).unwrap();
    assert_eq!(last["callback_id"], b);
    assert_eq!(last["state"], "cancelled");
}

#[test]
fn two_nodes_on_one_store_deliver_each_event_once() {
    // Two nodes' webhook workers on one database (PostgreSQL with db-url, and SQLite): while
    // callbacks are created and cancelled, the receiver gets every event exactly once.
    backends::on_each(|b| {
        let got = Arc::new(Mutex::new(Vec::<Delivery>::new()));
        let _receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), got.clone());
        let config = config(_receiver.addr);
        let store: Arc<dyn Store> = Arc::from(b.open_again().unwrap());
        let workers: Vec<WebhookWorker> = ["node-a", "node-b"]
            .into_iter()
            .map(|node| {
                WebhookWorker::start(
                    Arc::from(b.outbox()),
                    node,
                    config.api.webhooks.clone(),
                    config.api.webhook_retry_delay,
                    config.api.webhook_max_delay,
                    Arc::new(SystemClock),
                )
                .unwrap()
                .unwrap()
            })
            .collect();
        let service = CallbackService::new(
            store.clone(),
            config.clone(),
            Arc::new(SystemClock),
            Arc::new(Detached::default()),
        );
        let mut ids = Vec::new();
        for i in 0..20 {
            let n = format!("+1212555{i:04}");
            let req = NewRequest::new(CallbackType::Immediate, &n, Requested::Now, Source::Web);
            let id = service.request(req).unwrap().0.id;
            if i % 2 == 0 {
                service.cancel(id, "test").unwrap();
            }
            ids.push(id);
            for w in &workers {
                w.nudge();
            }
        }
        let mut expected: Vec<i64> = ids
            .iter()
            .flat_map(|id| store.events(*id).unwrap())
            .map(|e| e.id)
            .collect();
        expected.sort();
        eventually("every event arrives", || {
            got.lock().unwrap().len() >= expected.len()
        });
        for w in workers {
            w.stop();
        }
        let mut seen: Vec<i64> = got
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.header("x-callback-event").parse().unwrap())
            .collect();
        seen.sort();
        assert_eq!(seen, expected, "each event once");
    });
}
