//! The customer's side on the web (issue #22): the widget's API routes, CORS limited to the
//! configured origins, the customer token that expires with its callback, over real HTTP on
//! 127.0.0.1 with a real SQLite file; and the widget itself in Debian's headless Chromium,
//! embedded in a page of another origin (tests/browser/widget.mjs): an ASAP and a scheduled
//! request, a full slot not offered, a refused number shown next to its field, the manage
//! link, reschedule and cancel, the expired link. Screenshots go to target/artifacts.
//!
//! Without node, Chromium or playwright-core (tests/browser, `npm ci`) the browser test
//! skips, except under `CI=true`, where it fails.

use callback_core::api::HttpServer;
use callback_core::clock::{Clock, ManualClock, SystemClock};
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::model::{CallbackType, State};
use callback_core::service::CallbackService;
use callback_core::store::prelude::*;
use callback_core::store::{ListFilter, SqliteStore};
use chrono::{Days, TimeZone, Utc};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const WEB: &str = "web-secret-0123456789";
const STAFF: &str = "staff-secret-0123456789";
const CONSENT: &str = "I agree that Example Ltd may call me about this request.";

fn conf(origins: &str) -> String {
    format!(
        r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="US"/>
    <param name="deny-prefixes" value="+1900"/>
    <param name="default-queue" value="support"/>
    <param name="http-token-secret" value="token-secret-0123456789"/>
    <param name="http-cors-origins" value="{origins}"/>
    <param name="widget-consent" value="{CONSENT}"/>
    <param name="widget-countries" value="US, GB, de"/>
    <param name="merge-pending" value="false"/>
  </settings>
  <queues>
    <queue name="support">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
      <param name="slot-minutes" value="60"/>
      <param name="slot-capacity" value="1"/>
    </queue>
    <queue name="sales">
      <param name="time-zone" value="Europe/Berlin"/>
      <param name="hours" value="always"/>
      <param name="slot-minutes" value="30"/>
      <param name="slot-capacity" value="5"/>
    </queue>
  </queues>
  <api-keys>
    <key name="web"><param name="secret" value="{WEB}"/><param name="scope" value="create"/></key>
    <key name="staff"><param name="secret" value="{STAFF}"/><param name="scope" value="staff"/></key>
  </api-keys>
</configuration>"#
    )
}

/// A reply's headers, names in lower case.
struct Headers(Vec<(String, String)>);

impl Headers {
    fn header(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct World {
    _server: HttpServer,
    base: String,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl World {
    fn start(origins: &str, clock: Arc<dyn Clock>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
        let config = Arc::new(Config::from_xml(&conf(origins)).unwrap());
        let service =
            CallbackService::new(store.clone(), config, clock, Arc::new(Detached::default()));
        let server =
            HttpServer::start(Arc::new(service), None, "127.0.0.1:0".parse().unwrap()).unwrap();
        World {
            base: format!("http://{}", server.local_addr()),
            _server: server,
            store,
            _dir: dir,
        }
    }

    /// Status, JSON body (Null when none) and the reply's headers.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value, Headers) {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let resp = match resp {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let kept = Headers(
            resp.headers_names()
                .iter()
                .map(|n| {
                    (
                        n.to_ascii_lowercase(),
                        resp.header(n).unwrap_or("").to_string(),
                    )
                })
                .collect(),
        );
        let body = resp.into_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::Null),
            kept,
        )
    }

    fn get(&self, path: &str, auth: &str) -> (u16, Value) {
        let bearer = format!("Bearer {auth}");
        let (s, v, _) = self.call("GET", path, &[("Authorization", &bearer)], None);
        (s, v)
    }

    fn send(&self, method: &str, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
        let bearer = format!("Bearer {auth}");
        let (s, v, _) = self.call(method, path, &[("Authorization", &bearer)], body);
        (s, v)
    }
}

#[test]
fn cors_answers_the_configured_origins_only() {
    // A preflight and a request from the site's origin get its Allow-Origin; another
    // origin's get none (its page cannot read the reply), and no origin configured is none.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap(),
    ));
    let w = World::start(
        "https://shop.example.com, http://127.0.0.1:9",
        clock.clone(),
    );
    let preflight = |origin: &str| {
        w.call(
            "OPTIONS",
            "/v1/callbacks",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type,idempotency-key",
                ),
            ],
            None,
        )
        .2
    };
    let ok = preflight("https://shop.example.com");
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
    let methods = ok
        .header("access-control-allow-methods")
        .unwrap_or("")
        .to_ascii_uppercase();
    assert!(methods.contains("POST") && methods.contains("PATCH") && methods.contains("DELETE"));
    let allowed = ok
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("idempotency-key"));
    assert_eq!(ok.header("access-control-allow-credentials"), None);
    let evil = preflight("https://evil.example.net");
    assert_eq!(evil.header("access-control-allow-origin"), None);
    // An actual request: the header for the site, none for another origin.
    let bearer = format!("Bearer {WEB}");
    let (s, _, r) = w.call(
        "GET",
        "/v1/widget",
        &[("Authorization", &bearer), ("Origin", "http://127.0.0.1:9")],
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:9")
    );
    let (_, _, r) = w.call(
        "GET",
        "/v1/widget",
        &[
            ("Authorization", &bearer),
            ("Origin", "https://evil.example.net"),
        ],
        None,
    );
    assert_eq!(r.header("access-control-allow-origin"), None);

    // Without http-cors-origins no origin is answered.
    let closed = World::start("", clock);
    let (_, _, r) = closed.call(
        "OPTIONS",
        "/v1/callbacks",
        &[
            ("Origin", "https://shop.example.com"),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn a_bad_cors_origin_or_country_is_refused_at_load_naming_the_key() {
    // An origin with a path, or an unknown country code, fails the configuration.
    let bad = conf("https://shop.example.com/form");
    let e = Config::from_xml(&bad).unwrap_err().to_string();
    assert!(e.contains("http-cors-origins"), "{e}");
    let bad = conf("").replace("US, GB, de", "US, XX");
    let e = Config::from_xml(&bad).unwrap_err().to_string();
    assert!(e.contains("widget-countries") && e.contains("XX"), "{e}");
}

#[test]
fn the_widget_settings_and_the_number_check_follow_the_server() {
    // /v1/widget gives consent, countries with calling codes and the wait; /v1/number reads
    // a national number in the visitor's country and refuses what a create refuses.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap(),
    ));
    let w = World::start("", clock);
    let (s, cfg) = w.get("/v1/widget", WEB);
    assert_eq!(s, 200, "{cfg}");
    assert_eq!(cfg["consent"], CONSENT);
    assert_eq!(cfg["queue"], "support");
    assert_eq!(cfg["time_zone"], "America/New_York");
    assert_eq!(cfg["horizon_days"], 30);
    assert_eq!(
        cfg["countries"],
        json!([{"region":"US","code":1},{"region":"GB","code":44},{"region":"DE","code":49}])
    );
    assert_eq!(cfg["waiting"], 0);
    let empty_wait = cfg["estimated_wait_seconds"].as_u64().unwrap();
    // Two immediate callbacks waiting: the wait grows and says how many.
    for n in ["+12125550101", "+12125550102"] {
        assert_eq!(
            w.send("POST", "/v1/callbacks", WEB, Some(json!({ "number": n })))
                .0,
            201
        );
    }
    let (_, cfg) = w.get("/v1/widget", WEB);
    assert_eq!(cfg["waiting"], 2);
    assert!(cfg["estimated_wait_seconds"].as_u64().unwrap() > empty_wait);
    let (s, e) = w.get("/v1/widget?queue=nope", WEB);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("unknown-queue"))
    );

    // The number, as the server reads it.
    let (s, n) = w.get("/v1/number?number=020%207946%200018&country=GB", WEB);
    assert_eq!(
        (s, n["number"].as_str()),
        (200, Some("+442079460018")),
        "{n}"
    );
    let (s, n) = w.get("/v1/number?number=(212)%20555-0142", WEB);
    assert_eq!((s, n["number"].as_str()), (200, Some("+12125550142")));
    let (s, e) = w.get("/v1/number?number=900%20555%200199&country=US", WEB);
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "number-denied");
    assert_eq!(e["error"]["field"], "number");
    let (s, e) = w.get("/v1/number?number=12", WEB);
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("number")));
    let (s, e) = w.get("/v1/number?number=2125550142&country=ZZ", WEB);
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("country")));
    // A customer token is not a website key.
    let (_, made) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(json!({"number": "+12125550103"})),
    );
    let token = made["token"].as_str().unwrap();
    assert_eq!(w.get("/v1/number?number=2125550142", token).0, 403);
    assert_eq!(w.get("/v1/widget", token).0, 403);
}

#[test]
fn the_window_is_stored_and_a_reversed_one_is_refused() {
    // window_from/window_until are kept as the callback's window; until before from, or an
    // e-mail that is no address, is a 400 naming the field, and nothing is stored.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap(),
    ));
    let w = World::start("", clock);
    let (s, made) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(
            json!({"number": "+12125550142", "time_zone": "America/New_York",
                    "window_from": "today 11:00", "window_until": "today 13:30"}),
        ),
    );
    assert_eq!(s, 201, "{made}");
    let id = made["callback"]["id"].as_i64().unwrap();
    assert_eq!(made["callback"]["window_from"], "2026-11-23T16:00:00Z");
    assert_eq!(made["callback"]["window_until"], "2026-11-23T18:30:00Z");
    let r = w.store.get(id).unwrap();
    assert_eq!(r.kind, CallbackType::Immediate);
    // 11:00 and 13:30 New York time on 2026-11-23 (EST, UTC-5).
    assert_eq!(
        r.window.from,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap())
    );
    assert_eq!(
        r.window.until,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 18, 30, 0).unwrap())
    );
    let before = w.store.list(&ListFilter::default()).unwrap().len();
    let (s, e) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(
            json!({"number": "+12125550143", "window_from": "today 14:00",
                    "window_until": "today 12:00"}),
        ),
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["field"], "window");
    let (s, e) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(json!({"number": "+12125550143", "window_until": "teatime"})),
    );
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("window_until"))
    );
    // The address e-mail notices go to is an address, or the create is refused.
    let (s, e) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(json!({"number": "+12125550143", "data": {"email": "ann at example"}})),
    );
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("data.email")));
    assert_eq!(w.store.list(&ListFilter::default()).unwrap().len(), before);
}

#[test]
fn a_customer_token_expires_with_its_callback_and_reads_only_its_queues_slots() {
    // While waiting, the token reads its callback and its queue's slot grid (whatever queue
    // it names); once the callback is cancelled every use is 410 link-expired.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap(),
    ));
    let w = World::start("", clock);
    let (_, made) = w.send(
        "POST",
        "/v1/callbacks",
        WEB,
        Some(
            json!({"number": "+12125550142", "desired_time": "2026-11-24 10:00",
                    "time_zone": "America/New_York"}),
        ),
    );
    let id = made["callback"]["id"].as_i64().unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    let (s, grid) = w.get(
        "/v1/availability?date=2026-11-24&queue=sales&time_zone=America/New_York",
        &token,
    );
    assert_eq!(s, 200, "{grid}");
    // The support queue's hour slots (capacity 1), not sales' half hours: 10:00 is taken.
    let slots = grid["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 24, "{grid}");
    let ten = slots
        .iter()
        .find(|s| s["start"] == "2026-11-24T15:00:00Z")
        .unwrap();
    assert_eq!(ten["state"], "full");

    let (s, _) = w.send("DELETE", &format!("/v1/callbacks/{id}"), &token, None);
    assert_eq!(s, 200);
    for (method, path) in [
        ("GET", format!("/v1/callbacks/{id}")),
        ("DELETE", format!("/v1/callbacks/{id}")),
        ("PATCH", format!("/v1/callbacks/{id}")),
        ("GET", "/v1/availability?date=2026-11-24".to_string()),
    ] {
        let body = (method == "PATCH").then(|| json!({"delay_minutes": 30}));
        let (s, e) = w.send(method, &path, &token, body);
        assert_eq!(s, 410, "{method} {path}: {e}");
        assert_eq!(e["error"]["code"], "link-expired");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cancelled"),
            "{e}"
        );
    }
    // Staff still sees it; the store was not changed by the refused calls.
    let (s, v) = w.get(&format!("/v1/callbacks/{id}"), STAFF);
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelled")));
    assert_eq!(w.store.events(id).unwrap().len(), 2, "created, cancel");
}

// ---- the widget in a real browser -------------------------------------------------------

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn need(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {what} is missing (run .ci/setup)");
    }
    println!("widget browser test: skipped, {what} not found (run .ci/setup)");
    false
}

fn node_works() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("artifacts")
}

/// A web site of another origin: one page embedding the widget with one script tag.
struct Site {
    url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Site {
    fn serve(listener: std::net::TcpListener, page: String) -> Site {
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).ok();
                        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                            .ok();
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n",
                            page.len()
                        );
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(page.as_bytes());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        Site { url, stop }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_visitor_books_and_manages_a_callback_through_the_widget_in_a_real_browser() {
    // Chromium, in New York, on a shop's page of another origin with the widget's one
    // script tag: a denied number is shown next to its field; an ASAP request is confirmed
    // with its wait and a manage link; the day's full 10:00 slot is not offered and 11:00
    // is booked and confirmed in the visitor's time; the manage page shows it, moves it to
    // 12:00 and cancels it; the link then says plainly that it has expired.
    let script = repo_root().join("tests/browser/widget.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !need("node", node_works())
        || !need(
            &format!("Chromium ({chromium})"),
            Path::new(&chromium).is_file(),
        )
        || !need(
            "playwright-core (npm ci in tests/browser)",
            repo_root()
                .join("tests/browser/node_modules/playwright-core/package.json")
                .is_file(),
        )
    {
        return;
    }
    let site_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let site_origin = format!("http://{}", site_listener.local_addr().unwrap());
    let w = World::start(&site_origin, Arc::new(SystemClock));
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><h1>Example shop</h1><p>Questions? We call you back.</p>
<div id="callback"></div>
<script src="{}/widget/widget.js" data-key="{WEB}" data-queue="support" data-target="callback" async></script>
</body></html>"#,
        w.base
    );
    let site = Site::serve(site_listener, page);

    // Tomorrow in New York; its 10:00 slot (capacity 1) is taken by someone else.
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let day = (Utc::now().with_timezone(&ny).date_naive())
        .checked_add_days(Days::new(1))
        .unwrap();
    let (s, taken) = w.send(
        "POST",
        "/v1/callbacks",
        STAFF,
        Some(
            json!({"number": "+12125550100", "desired_time": format!("{day} 10:00"),
                    "time_zone": "America/New_York"}),
        ),
    );
    assert_eq!(s, 201, "{taken}");

    let dir = artifacts();
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(&site.url)
        .arg(&w.base)
        .arg(&dir)
        .arg(day.to_string())
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON from widget.mjs\nstdout: {stdout}\nstderr: {stderr}"));
    assert!(
        out.status.success() && seen.get("error").is_none(),
        "widget.mjs failed: {}\nstderr: {stderr}",
        serde_json::to_string_pretty(&seen).unwrap()
    );
    println!("{}", serde_json::to_string_pretty(&seen).unwrap());

    // Embedded on another origin, usable on a phone-sized screen, every field labelled.
    assert_ne!(seen["page_origin"], seen["api_origin"]);
    assert_eq!(seen["unlabelled"], json!([]));
    assert_eq!(seen["live_region"], "polite");
    assert_eq!(seen["horizontal_overflow"], false);
    assert_eq!(seen["console_errors"], json!([]));
    // The replies the page expected to be refused: the denied number, the expired link.
    let refused = seen["refused_loads"].to_string();
    assert!(
        refused.contains("400") && refused.contains("410"),
        "{refused}"
    );
    assert_eq!(seen["consent"], CONSENT);
    // The refused number, next to its field, as the server words it.
    assert!(
        seen["denied_error"].as_str().unwrap().contains("+1900"),
        "{seen}"
    );
    assert_eq!(seen["denied_invalid"], "true");
    assert_eq!(
        seen["denied_described"], true,
        "the error is tied to the field"
    );
    assert_eq!(seen["valid_error"], "");

    // What was stored: the ASAP request and the scheduled one, as the browser asked.
    let all = w.store.list(&ListFilter::default()).unwrap();
    let asap = all
        .iter()
        .find(|r| r.number == "+12125550142")
        .expect("the ASAP request is stored");
    assert_eq!(asap.kind, CallbackType::Immediate);
    assert_eq!(asap.time_zone, "America/New_York");
    assert_eq!(asap.remark.as_deref(), Some("A question about my bill"));
    assert_eq!(
        asap.ivr_data.get("consent").map(String::as_str),
        Some("given")
    );
    assert!(seen["asap_confirmation"]
        .as_str()
        .unwrap()
        .contains("as soon as possible, in about"));
    assert!(
        seen["asap_announced"]
            .as_str()
            .unwrap()
            .starts_with("Your callback is booked"),
        "the live region says it: {seen}"
    );
    assert!(seen["asap_focus"]
        .as_str()
        .unwrap()
        .contains("Your callback is booked"));
    assert!(seen["asap_link"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/widget/manage#cbt_{}_", w.base, asap.id)));

    // The full 10:00 slot was not offered; 11:00 was, and was booked.
    let offered: Vec<String> = serde_json::from_value(seen["offered"].clone()).unwrap();
    assert!(
        !offered.iter().any(|s| s.starts_with("10:00")),
        "{offered:?}"
    );
    assert!(
        offered.iter().any(|s| s.starts_with("11:00")),
        "{offered:?}"
    );
    let booked = all
        .iter()
        .find(|r| r.number == "+442079460018")
        .expect("the scheduled request is stored (GB number typed nationally)");
    assert_eq!(booked.kind, CallbackType::Scheduled);
    let eleven = ny
        .from_local_datetime(&day.and_hms_opt(11, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(booked.desired_at, Some(eleven));
    assert!(seen["scheduled_confirmation"]
        .as_str()
        .unwrap()
        .contains("11:00"));

    // The manage page: shown, moved to 12:00, cancelled, then plainly expired.
    assert!(seen["manage_when"].as_str().unwrap().contains("11:00"));
    assert!(seen["moved"].as_str().unwrap().contains("12:00"), "{seen}");
    assert!(seen["cancelled"]
        .as_str()
        .unwrap()
        .contains("Your callback is cancelled"));
    assert!(seen["expired"]
        .as_str()
        .unwrap()
        .contains("This link has expired"));
    let after = w.store.get(booked.id).unwrap();
    assert_eq!(after.state, State::Cancelled);
    let actions: Vec<String> = w
        .store
        .events(booked.id)
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.actor.unwrap_or_default()))
        .collect();
    assert_eq!(
        actions,
        ["created:api:web", "reschedule:customer", "cancel:customer"],
        "{actions:?}"
    );
    let events = w.store.events(booked.id).unwrap();
    assert!(
        events[1].detail.as_deref().unwrap_or("").contains("12:00"),
        "{events:?}"
    );
    for shot in [
        "widget-asap.png",
        "widget-scheduled.png",
        "widget-manage.png",
        "widget-expired.png",
    ] {
        assert!(dir.join(shot).is_file(), "{shot} written");
    }
}
