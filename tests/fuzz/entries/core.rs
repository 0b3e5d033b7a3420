//! The bodies of the core's fuzz targets, shared by the cargo-fuzz targets (tests/fuzz) and
//! the corpus replay test of the suite (tests/fuzz_corpus.rs). Each takes the raw bytes,
//! drives the real code, and panics when a property breaks: a panic in the code itself, a
//! refusal without a message naming what is wrong, a 5xx, a due time in the past.

use callback_core::config::Config;
use callback_core::model::Window;
use callback_core::schedule::{plan_due, NoUsage};
use callback_core::when::{parse_duration, parse_when};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The fuzz API keys (staff scope: every route is open to it).
pub const STAFF: &str = "staff-secret-0123456789";
/// A public (`create`) key, as a web site's form has.
pub const WEB: &str = "web-secret-0123456789";

/// A realistic configuration: one queue with office hours and slots, one open round the
/// clock, a staff key, no rate limits (the fuzzer is one client sending thousands).
pub fn base_config(extra: &str) -> String {
    format!(
        r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="DE"/>
    <param name="deny-prefixes" value="+49900"/>
    <param name="default-queue" value="sales"/>
    <param name="http-token-secret" value="token-secret-0123456789"/>
    <param name="http-rate-per-key" value="0"/>
    <param name="http-rate-per-ip" value="0"/>
    {extra}
  </settings>
  <queues>
    <queue name="sales">
      <param name="time-zone" value="Europe/Berlin"/>
      <param name="hours" value="mon-fri 09:00-17:00"/>
      <param name="slot-minutes" value="30"/>
      <param name="slot-capacity" value="2"/>
    </queue>
    <queue name="nyc">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
    </queue>
  </queues>
  <api-keys>
    <key name="staff"><param name="secret" value="{STAFF}"/><param name="scope" value="staff"/></key>
    <key name="web"><param name="secret" value="{WEB}"/><param name="scope" value="create"/></key>
  </api-keys>
</configuration>"#
    )
}

/// A directory of this process for the targets' files (the fuzzer runs one process per
/// target; the replay test one per test binary).
pub fn scratch(name: &str) -> PathBuf {
    let dir = tmp().join(format!("callback-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Zones with daylight saving of every shape: northern, southern, half an hour.
const ZONES: [Tz; 3] = [
    chrono_tz::Europe::Berlin,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Australia::Lord_Howe,
];

fn nows() -> [DateTime<Utc>; 3] {
    [
        Utc.with_ymd_and_hms(2026, 11, 21, 23, 30, 0).unwrap(),
        // A minute before Berlin springs forward, and inside its repeated autumn hour.
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(),
    ]
}

fn sales() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| Config::from_xml(&base_config("")).expect("the base configuration"))
}

/// Time expressions: `parse_when` in several zones and moments, then the schedule rules of
/// a queue with office hours; and `parse_duration`.
pub fn when(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let rules = &sales().queue(None).expect("the default queue").rules;
    for zone in ZONES {
        for now in nows() {
            let requested = match parse_when(&text, zone, now) {
                Ok(r) => r,
                Err(e) => {
                    assert!(
                        e.to_string().contains(text.as_ref()),
                        "the error quotes the input: {e}"
                    );
                    continue;
                }
            };
            // The zone the time was read in is the customer's (plan_due's zone below).
            let kind = requested.implied_type();
            match plan_due(
                kind,
                &requested,
                &Window::default(),
                rules,
                zone,
                now,
                &NoUsage,
            ) {
                Ok(plan) => assert!(
                    plan.due_at >= now,
                    "{text:?} in {zone} at {now}: due {} is in the past",
                    plan.due_at
                ),
                Err(e) => assert!(!e.to_string().trim().is_empty(), "a refusal says why"),
            }
        }
    }
    match parse_duration(&text) {
        Ok(d) => assert!(
            d >= chrono::Duration::zero() && d <= chrono::Duration::days(10 * 366),
            "{text:?}: {d} is outside 0..10 years"
        ),
        Err(e) => assert!(e.to_string().contains(text.as_ref()), "{e}"),
    }
}

/// `callback.conf.xml`: loads, or refuses naming where and why.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = Config::from_xml(&text) {
        assert!(!e.at.trim().is_empty(), "the error names where: {e:?}");
        assert!(!e.message.trim().is_empty(), "the error says why: {e:?}");
    }
}

/// WAV input: the recording checks of the IVR and the transcriber's loader, which read
/// files a caller's voice (or a mobile app's upload) was written to.
pub fn wav(data: &[u8]) {
    use callback_core::recording::{inspect, voiced_ms};
    use callback_core::transcribe::audio::load_wav;
    use callback_core::transcribe::AudioLimits;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR.get_or_init(|| scratch("wav")).join("input.wav");
    std::fs::write(&path, data).expect("write the input");
    let shown = path.display().to_string();
    match inspect(&path) {
        Ok(r) => assert!(r.sample_rate > 0, "a recording with a rate: {r:?}"),
        Err(e) => assert!(e.to_string().contains(&shown), "{e}"),
    }
    match voiced_ms(&path, 200) {
        Ok(_) => {}
        Err(e) => assert!(e.to_string().contains(&shown), "{e}"),
    }
    let strict = AudioLimits::default();
    let lenient = AudioLimits {
        max_seconds: 2,
        truncate_long: true,
        min_speech_ms: 0,
        normalize_peak: 0.9,
        ..AudioLimits::default()
    };
    for limits in [strict, lenient] {
        match load_wav(&path, &limits) {
            Ok(audio) => {
                assert!(
                    audio.samples.iter().all(|s| s.is_finite()),
                    "samples are numbers"
                );
                assert!(
                    audio.samples.len() as u64 <= (u64::from(limits.max_seconds) + 1) * 16_000,
                    "at most the limit is kept: {} samples",
                    audio.samples.len()
                );
            }
            Err(e) => assert!(e.to_string().contains(&shown), "{e}"),
        }
    }
}

/// The HTTP API in-process: the real router over a real SQLite store, the input as the
/// JSON body of `POST /v1/callbacks` (staff key and the public `create` key) and of
/// `PATCH /v1/callbacks/1` (staff key and the callback's customer token), then replayed
/// under an `Idempotency-Key` of its own. No body may make it answer 5xx, and every 4xx has
/// the error shape with a code and a message; the public key is never shown a callback it
/// merged into; a replay answers as the first request did (the same callback); the key
/// with another request is refused (422) once it stands for a callback.
pub fn http(data: &[u8]) {
    let api = Http::get();
    let body = data.to_vec();
    api.rt.block_on(async {
        for (method, uri, auth) in [
            ("POST", "/v1/callbacks", STAFF),
            ("POST", "/v1/callbacks", WEB),
            ("PATCH", "/v1/callbacks/1", STAFF),
            ("PATCH", "/v1/callbacks/1", api.token.as_str()),
        ] {
            let (status, reply) = api.send(method, uri, auth, None, body.clone()).await;
            check_reply(method, uri, &body, status, &reply);
            if auth == WEB && reply["outcome"] == "merged" {
                assert_eq!(status, 202, "a merge shown to the public key: {reply}");
                assert!(
                    reply.get("callback").is_none() && reply.get("token").is_none(),
                    "a merge disclosed to the public key: {reply}"
                );
            }
        }
        // Replays: the same body under a key of its own, twice, then another request.
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            data.hash(&mut h);
            format!("fuzz-{:016x}", h.finish())
        };
        let post = |b: Vec<u8>| api.send("POST", "/v1/callbacks", STAFF, Some(&key), b);
        let (s1, r1) = post(body.clone()).await;
        check_reply("POST (keyed)", "/v1/callbacks", &body, s1, &r1);
        let (s2, r2) = post(body.clone()).await;
        check_reply("POST (replay)", "/v1/callbacks", &body, s2, &r2);
        if r1["callback"]["id"].is_i64() {
            assert!(s2 < 300, "a replay of {s1} answered {s2}: {r2}");
            assert_eq!(r2["callback"]["id"], r1["callback"]["id"], "{r1} then {r2}");
        } else if s1 >= 400 {
            assert_eq!(s2, s1, "a replay of a refusal: {r1} then {r2}");
        }
        let other = br#"{"number":"+4930555000","queue":"nyc"}"#;
        let same = serde_json::from_slice::<serde_json::Value>(data).ok()
            == serde_json::from_slice::<serde_json::Value>(other).ok();
        let (s3, r3) = post(other.to_vec()).await;
        check_reply("POST (other body)", "/v1/callbacks", other, s3, &r3);
        if !same && matches!(r1["outcome"].as_str(), Some("created" | "existing")) {
            assert_eq!(s3, 422, "the key with another body: {r3}");
            assert_eq!(r3["error"]["code"], "idempotency-mismatch", "{r3}");
        }
    });
}

/// No 5xx; a 4xx has the error shape.
fn check_reply(method: &str, uri: &str, body: &[u8], status: u16, reply: &serde_json::Value) {
    assert!(
        status < 500,
        "{method} {uri} {:?}: {status} {reply}",
        String::from_utf8_lossy(body)
    );
    if status >= 400 {
        let err = &reply["error"];
        for key in ["code", "message"] {
            assert!(
                err[key].as_str().is_some_and(|s| !s.trim().is_empty()),
                "{method} {uri}: {status} without error.{key}: {reply}"
            );
        }
    }
}

struct Http {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    /// The customer token of callback 1.
    token: String,
}

impl Http {
    fn get() -> &'static Http {
        static HTTP: OnceLock<Http> = OnceLock::new();
        HTTP.get_or_init(|| {
            use callback_core::clock::ManualClock;
            use callback_core::host::Detached;
            use callback_core::service::CallbackService;
            use callback_core::store::SqliteStore;
            use std::sync::Arc;
            let dir = scratch("http");
            let _ = std::fs::remove_file(dir.join("callback.db"));
            let store = Arc::new(SqliteStore::open(dir.join("callback.db")).expect("the store"));
            let extra = format!(
                r#"<param name="recordings-dir" value="{}"/>"#,
                dir.join("rec").display()
            );
            let config = Config::from_xml(&base_config(&extra)).expect("the configuration");
            // Monday 2026-11-23 10:00 in Berlin: the sales queue is open.
            let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
            let service = CallbackService::new(
                store,
                Arc::new(config),
                Arc::new(clock),
                Arc::new(Detached::default()),
            );
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime");
            let mut api = Http {
                router: callback_core::api::router(Arc::new(service), None),
                rt,
                token: String::new(),
            };
            // Callback 1, for the PATCH.
            let first = br#"{"number":"+4930123456","desired_time":"2026-11-24T10:00"}"#;
            let (status, reply) =
                api.rt
                    .block_on(api.send("POST", "/v1/callbacks", STAFF, None, first.to_vec()));
            assert_eq!(status, 201, "callback 1 is created: {reply}");
            api.token = reply["token"].as_str().expect("a token").to_string();
            api
        })
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        auth: &str,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        use axum::extract::ConnectInfo;
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {auth}"))
            .header("content-type", "application/json");
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let mut req = req.body(axum::body::Body::from(body)).expect("a request");
        let peer: std::net::SocketAddr = "127.0.0.1:4000".parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("the reply body");
        let reply = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {uri}: {status} with a body that is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, reply)
    }
}

/// tmpfs when there is one: SQLite's fsyncs on a disk would hold the fuzzer to a few runs
/// a second.
fn tmp() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
