//! The REST API over real HTTP on 127.0.0.1:0 with a real SQLite file: the routes do what
//! the contract says, every bad input is a 4xx that stores nothing, keys and customer
//! tokens open only what they should, the abuse limits hold, and no JSON makes it 5xx.
//!
//! Length: over 800 lines on purpose. Each file in `tests/` is its own test binary, linking
//! the whole core with axum, rusqlite, postgres and whisper.cpp; splitting it by subject
//! would add a link to every run of `.ci/test`, which has to stay within its time. Its
//! tests share one configuration and one set of helpers.

use callback_core::api::{HttpServer, OPENAPI};
use callback_core::clock::ManualClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::service::CallbackService;
use callback_core::store::prelude::*;
use callback_core::store::{ListFilter, SqliteStore};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

const WEB: &str = "web-secret-0123456789";
const STAFF: &str = "staff-secret-0123456789";

fn conf(extra: &str) -> String {
    format!(
        r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="DE"/>
    <param name="deny-prefixes" value="+49900"/>
    <param name="default-queue" value="sales"/>
    <param name="http-token-secret" value="token-secret-0123456789"/>
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
    <key name="web"><param name="secret" value="{WEB}"/><param name="scope" value="create"/></key>
    <key name="staff"><param name="secret" value="{STAFF}"/><param name="scope" value="staff"/></key>
  </api-keys>
</configuration>"#
    )
}

struct World {
    server: Option<HttpServer>,
    base: String,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

/// A reply: status, JSON body (Null when none), and the Retry-After header.
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

impl World {
    /// The API on a free loopback port; `extra` settings added to the test configuration.
    fn start(extra: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
        // Monday 2026-11-23 10:00 in Berlin: the sales queue is open.
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
        let rec = dir.path().join("rec");
        let extra = format!(
            r#"{extra}<param name="recordings-dir" value="{}"/>"#,
            rec.display()
        );
        let config = Arc::new(Config::from_xml(&conf(&extra)).unwrap());
        let service = CallbackService::new(
            store.clone(),
            config,
            Arc::new(clock),
            Arc::new(Detached::default()),
        );
        let server =
            HttpServer::start(Arc::new(service), None, "127.0.0.1:0".parse().unwrap()).unwrap();
        World {
            base: format!("http://{}", server.local_addr()),
            server: Some(server),
            store,
            _dir: dir,
        }
    }

    fn call(&self, method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> Reply {
        self.call_with(method, path, auth, body, &[])
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.set("Authorization", &format!("Bearer {a}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let retry_after = resp.header("Retry-After").map(str::to_string);
        let text = resp.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            retry_after,
        }
    }

    fn post(&self, auth: &str, body: Value) -> Reply {
        self.call("POST", "/v1/callbacks", Some(auth), Some(&body.to_string()))
    }

    fn post_bytes(&self, path: &str, auth: &str, bytes: &[u8]) -> Reply {
        let r = ureq::post(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {auth}"))
            .set("Content-Type", "audio/wav")
            .send_bytes(bytes);
        let r = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {path}: {e}"),
        };
        let status = r.status();
        let body =
            serde_json::from_str(&r.into_string().unwrap_or_default()).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            retry_after: None,
        }
    }

    /// Files under the recordings directory.
    fn recordings(&self) -> usize {
        fn count(p: &std::path::Path) -> usize {
            std::fs::read_dir(p).map_or(0, |d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            count(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        count(&self._dir.path().join("rec"))
    }

    fn stored(&self) -> usize {
        self.store.list(&ListFilter::default()).unwrap().len()
    }
}

/// An error reply has the one shape, a 4xx, and the code expected.
fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let e = &r.body["error"];
    assert_eq!(e["code"], code, "{}", r.body);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert!(
        e.get("field").is_some(),
        "field is always present: {}",
        r.body
    );
}

#[test]
fn a_customer_creates_views_reschedules_and_cancels_their_callback() {
    // The whole life over HTTP: create (201 + token), view, reschedule, new number,
    // availability shows the booking, staff list finds it, cancel.
    let w = World::start("");
    let r = w.post(
        WEB,
        json!({"number": "+49 30 1234567", "desired_time": "2026-11-24T10:00",
               "time_zone": "Europe/Berlin", "remark": "about my bill",
               "data": {"account": "42"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["outcome"], "created");
    let cb = &r.body["callback"];
    let id = cb["id"].as_i64().unwrap();
    assert_eq!(cb["type"], "scheduled");
    assert_eq!(cb["state"], "scheduled");
    assert_eq!(cb["number"], "+49301234567");
    assert_eq!(cb["due_at"], "2026-11-24T09:00:00Z");
    assert_eq!(cb["data"]["account"], "42");
    let token = r.body["token"].as_str().unwrap().to_string();

    let got = w.call("GET", &format!("/v1/callbacks/{id}"), Some(&token), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.body["remark"], "about my bill");

    let day = w.call(
        "GET",
        "/v1/availability?queue=sales&date=2026-11-24&time_zone=Europe/Berlin",
        Some(WEB),
        None,
    );
    assert_eq!(day.status, 200, "{}", day.body);
    let slots = day.body["slots"].as_array().unwrap();
    let booked = slots
        .iter()
        .find(|s| s["start"] == "2026-11-24T09:00:00Z")
        .unwrap();
    assert_eq!(booked["used"], 1);

    let moved = w.call(
        "PATCH",
        &format!("/v1/callbacks/{id}"),
        Some(&token),
        Some(r#"{"desired_time": "2026-11-25T11:30"}"#),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["state"], "rescheduled");
    assert_eq!(moved.body["due_at"], "2026-11-25T10:30:00Z");

    let renumbered = w.call(
        "PATCH",
        &format!("/v1/callbacks/{id}"),
        Some(&token),
        Some(r#"{"number": "030 7654321"}"#),
    );
    assert_eq!(renumbered.status, 200, "{}", renumbered.body);
    assert_eq!(renumbered.body["number"], "+49307654321");
    assert_eq!(renumbered.body["due_at"], "2026-11-25T10:30:00Z");

    let listed = w.call(
        "GET",
        "/v1/callbacks?number=%2B49307654321",
        Some(STAFF),
        None,
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    let ids: Vec<i64> = listed.body["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![id]);

    let gone = w.call("DELETE", &format!("/v1/callbacks/{id}"), Some(&token), None);
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(gone.body["state"], "cancelled");
    // The token expires with its callback: a second cancel is told so (issue #22).
    let again = w.call("DELETE", &format!("/v1/callbacks/{id}"), Some(&token), None);
    assert_error(&again, 410, "link-expired");
    // The trace names who did it.
    let events = w.store.events(id).unwrap();
    assert!(events
        .iter()
        .any(|e| e.actor.as_deref() == Some("customer")));
}

#[test]
fn the_customers_window_is_set_at_create_and_changed_by_patch() {
    // window_from/window_until are read in the customer's zone, hold the due time back,
    // and a PATCH changes one end; a window that ends before it starts is a 400 that
    // changes nothing.
    let w = World::start("");
    let r = w.post(
        WEB,
        json!({"number": "+49 30 1234567", "time_zone": "Europe/Berlin",
               "window_from": "2026-11-23T14:00", "window_until": "2026-11-23T16:00"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cb = &r.body["callback"];
    let id = cb["id"].as_i64().unwrap();
    assert_eq!(cb["window_from"], "2026-11-23T13:00:00Z");
    assert_eq!(cb["window_until"], "2026-11-23T15:00:00Z");
    assert_eq!(cb["due_at"], "2026-11-23T13:00:00Z");
    let bad = w.post(
        WEB,
        json!({"number": "+49 30 1234568", "window_from": "2026-11-23T16:00",
               "window_until": "2026-11-23T14:00"}),
    );
    assert_error(&bad, 400, "invalid");
    assert_eq!(bad.body["error"]["field"], "window");
    let path = format!("/v1/callbacks/{id}");
    let moved = w.call(
        "PATCH",
        &path,
        Some(STAFF),
        Some(r#"{"window_until": "2026-11-23T16:30"}"#),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["window_from"], "2026-11-23T13:00:00Z");
    assert_eq!(moved.body["window_until"], "2026-11-23T15:30:00Z");
    let refused = w.call(
        "PATCH",
        &path,
        Some(STAFF),
        Some(r#"{"delay_minutes": 30, "window_until": "2026-11-23T13:30"}"#),
    );
    assert_error(&refused, 400, "invalid");
    let kept = w.call("GET", &path, Some(STAFF), None);
    assert_eq!(kept.body["window_until"], "2026-11-23T15:30:00Z");
    assert_eq!(kept.body["due_at"], "2026-11-23T13:00:00Z");
    assert_eq!(w.store.events(id).unwrap().len(), 2);
}

#[test]
fn a_number_type_is_stored_shown_with_the_line_type_and_changed_by_patch() {
    // number_type on create is stored and shown with the numbering plan's line type; a
    // PATCH retypes the number; an unknown type is a 400 naming the field.
    let w = World::start("");
    let r = w.post(
        WEB,
        json!({"number": "+49 151 23456789", "number_type": "mobile"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cb = &r.body["callback"];
    assert_eq!(
        (cb["number_type"].as_str(), cb["line_type"].as_str()),
        (Some("mobile"), Some("mobile"))
    );
    let path = format!("/v1/callbacks/{}", cb["id"]);
    let typed = w.call(
        "PATCH",
        &path,
        Some(STAFF),
        Some(r#"{"number_type": "work"}"#),
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    assert_eq!(typed.body["number_type"], "work");
    let bad = w.post(
        WEB,
        json!({"number": "+49 30 1234567", "number_type": "pager"}),
    );
    assert_error(&bad, 400, "invalid");
    assert_eq!(bad.body["error"]["field"], "number_type");
    let bad = w.call(
        "PATCH",
        &path,
        Some(STAFF),
        Some(r#"{"number_type": "fax"}"#),
    );
    assert_error(&bad, 400, "invalid");
    assert_eq!(
        w.call("GET", &path, Some(STAFF), None).body["number_type"],
        "work"
    );
}

#[test]
fn immediate_and_delayed_requests_and_the_queue_position() {
    // No time: immediate, with a place in the queue; a delay: delayed.
    let w = World::start("<param name=\"merge-pending\" value=\"false\"/>");
    let first = w.post(WEB, json!({"number": "+4930111111"}));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["callback"]["type"], "immediate");
    let second = w.post(WEB, json!({"number": "+4930222222"}));
    let id = second.body["callback"]["id"].as_i64().unwrap();
    let got = w.call("GET", &format!("/v1/callbacks/{id}"), Some(STAFF), None);
    assert_eq!(got.body["position"], 2, "{}", got.body);
    // No handling history and no agent configured for the queue: 5 minutes a callback.
    assert_eq!(got.body["estimated_wait_seconds"], 600, "{}", got.body);
    let later = w.post(WEB, json!({"number": "+4930333333", "delay_minutes": 30}));
    assert_eq!(later.status, 201, "{}", later.body);
    assert_eq!(later.body["callback"]["type"], "delayed");
    assert_eq!(later.body["callback"]["due_at"], "2026-11-23T09:30:00Z");
}

#[test]
fn a_retry_with_the_same_idempotency_key_returns_the_first_callback() {
    // The header makes retries safe: one row, the same id and token, 201 then 200.
    let w = World::start("");
    let body = json!({"number": "+4930123456", "queue": "nyc"}).to_string();
    let h = [("Idempotency-Key", "order-77")];
    let a = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&body), &h);
    let b = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&body), &h);
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.body["outcome"], "existing");
    assert_eq!(a.body["callback"]["id"], b.body["callback"]["id"]);
    assert_eq!(a.body["token"], b.body["token"]);
    assert_eq!(w.stored(), 1);
    let bad = w.call_with(
        "POST",
        "/v1/callbacks",
        Some(WEB),
        Some(&body),
        &[("Idempotency-Key", "has space")],
    );
    assert_error(&bad, 400, "invalid");
    let uuid = "0b6c7a52-3f0e-4d8e-9a52-6f1c2d3e4f50";
    let long = [("Idempotency-Key", uuid)];
    let other = json!({"number": "+4930654321", "queue": "nyc"}).to_string();
    let ok = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&other), &long);
    assert_eq!(ok.status, 201, "a UUID fits: {}", ok.body);
    let too_long = "k".repeat(65);
    let r = w.call_with(
        "POST",
        "/v1/callbacks",
        Some(WEB),
        Some(&body),
        &[("Idempotency-Key", &too_long)],
    );
    assert_error(&r, 400, "invalid");
    assert_eq!(r.body["error"]["field"], "idempotency_key");
    assert_eq!(w.stored(), 2);
}

#[test]
fn every_bad_input_is_a_4xx_that_stores_nothing() {
    // Wrong types, unknown fields, huge bodies, bad zones, numbers and times, and strings
    // aimed at the dial string: each a clear error, and the store stays empty.
    let w = World::start("");
    let huge = format!(
        r#"{{"number":"+4930123456","remark":"{}"}}"#,
        "x".repeat(20_000)
    );
    let cases: Vec<(String, u16, &str)> = vec![
        (r#"{"number": 4930123456}"#.into(), 400, "invalid-json"),
        (r#"{"number": "+4930123456", "colour": "red"}"#.into(), 400, "invalid-json"),
        (r#"{"number": "+4930123456", "data": {"a": 1}}"#.into(), 400, "invalid-json"),
        (r#"{"number": "+4930123456", "delay_minutes": -5}"#.into(), 400, "invalid-json"),
        (r#"{"number": "+4930123456", "delay_minutes": 0}"#.into(), 400, "invalid"),
        (r#"[1,2,3]"#.into(), 400, "invalid-json"),
        ("not json".into(), 400, "invalid-json"),
        ("".into(), 400, "invalid-json"),
        (r#"{}"#.into(), 400, "invalid-json"),
        (huge, 413, "body-too-large"),
        (r#"{"number": "+4930123456", "time_zone": "Mars/Olympus"}"#.into(), 400, "unknown-time-zone"),
        (r#"{"number": "+4930123456", "desired_time": "2026-11-24T10:00", "time_zone": "Europe/Nowhere"}"#.into(), 400, "unknown-time-zone"),
        (r#"{"number": "12"}"#.into(), 400, "invalid-number"),
        (r#"{"number": "+1212${system(id)}"}"#.into(), 400, "invalid-number"),
        (r#"{"number": "1,2|3"}"#.into(), 400, "invalid-number"),
        (r#"{"number": "+4930123456{x=y}"}"#.into(), 400, "invalid-number"),
        (r#"{"number": "+49 900 1234567"}"#.into(), 400, "number-denied"),
        (r#"{"number": "+4930123456", "desired_time": "2026-11-20T10:00"}"#.into(), 400, "in-past"),
        (r#"{"number": "+4930123456", "desired_time": "yesterday-ish"}"#.into(), 400, "invalid-time"),
        (r#"{"number": "+4930123456", "desired_time": "2026-11-24T10:00", "delay_minutes": 5}"#.into(), 400, "invalid"),
        (r#"{"number": "+4930123456", "type": "whenever"}"#.into(), 400, "invalid"),
        (r#"{"number": "+4930123456", "type": "immediate", "delay_minutes": 5}"#.into(), 400, "invalid"),
        (r#"{"number": "+4930123456", "queue": "nope"}"#.into(), 400, "unknown-queue"),
        (r#"{"number": "+4930123456", "remark": "a\u0000b"}"#.into(), 400, "invalid"),
        (r#"{"number": "+4930123456", "data": {"${system(id)}": "x"}}"#.into(), 400, "invalid"),
        (r#"{"number": "+4930123456", "source": "ivr"}"#.into(), 400, "invalid"),
    ];
    for (body, status, code) in &cases {
        let r = w.call("POST", "/v1/callbacks", Some(WEB), Some(body));
        assert!(
            r.status == *status && r.body["error"]["code"] == *code,
            "{}: got {} {}",
            &body[..body.len().min(80)],
            r.status,
            r.body
        );
        assert_error(&r, *status, code);
    }
    // The field to blame is named where there is one.
    let r = w.call(
        "POST",
        "/v1/callbacks",
        Some(WEB),
        Some(r#"{"number": "+4930123456", "colour": "red"}"#),
    );
    assert_eq!(r.body["error"]["field"], "colour");
    let r = w.post(WEB, json!({"number": "1,2|3"}));
    assert_eq!(r.body["error"]["field"], "number");
    let r = w.post(
        WEB,
        json!({"number": "+4930123456", "desired_time": "2026-11-20T10:00"}),
    );
    assert_eq!(r.body["error"]["field"], "desired_time");
    // Bad queries, ids and routes have the same shape.
    assert_error(
        &w.call("GET", "/v1/availability?date=tomorrow", Some(WEB), None),
        400,
        "invalid",
    );
    assert_error(
        &w.call(
            "GET",
            "/v1/availability?date=2026-11-24&time_zone=Nowhere",
            Some(WEB),
            None,
        ),
        400,
        "unknown-time-zone",
    );
    assert_error(
        &w.call(
            "GET",
            "/v1/availability?date=2026-11-24&x=1",
            Some(WEB),
            None,
        ),
        400,
        "invalid-query",
    );
    assert_error(
        &w.call("GET", "/v1/availability", Some(WEB), None),
        400,
        "invalid-query",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks?state=lost", Some(STAFF), None),
        400,
        "invalid",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks?limit=0", Some(STAFF), None),
        400,
        "invalid",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks/abc", Some(STAFF), None),
        404,
        "not-found",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks/999", Some(STAFF), None),
        404,
        "not-found",
    );
    assert_error(
        &w.call("GET", "/v2/nothing", Some(STAFF), None),
        404,
        "no-route",
    );
    assert_error(
        &w.call("PUT", "/v1/callbacks/1", Some(STAFF), Some("{}")),
        405,
        "method-not-allowed",
    );
    assert_eq!(w.stored(), 0);

    // A stored callback is not changed by a bad PATCH either.
    let ok = w.post(
        WEB,
        json!({"number": "+4930123456", "desired_time": "2026-11-24T10:00"}),
    );
    let id = ok.body["callback"]["id"].as_i64().unwrap();
    let path = format!("/v1/callbacks/{id}");
    for (body, status, code) in [
        (r#"{"number": "+1212${system(id)}"}"#, 400, "invalid-number"),
        (r#"{"desired_time": "2026-11-01T10:00"}"#, 400, "in-past"),
        (
            r#"{"desired_time": "2026-11-28T10:00"}"#,
            400,
            "outside-hours",
        ),
        (r#"{"state": "completed"}"#, 400, "invalid-json"),
        (r#"{}"#, 400, "invalid"),
    ] {
        let r = w.call("PATCH", &path, Some(STAFF), Some(body));
        assert!(
            r.status == status && r.body["error"]["code"] == code,
            "{body}: {} {}",
            r.status,
            r.body
        );
    }
    let after = w.store.get(id).unwrap();
    assert_eq!(after.number, "+4930123456");
    assert_eq!(after.state.as_str(), "scheduled");
    assert_eq!(w.stored(), 1);
}

#[test]
fn keys_and_customer_tokens_open_only_what_they_should() {
    // No key, a wrong key, a create-only key on staff routes, a token on another callback.
    let w = World::start("");
    let a = w.post(WEB, json!({"number": "+4930111111"}));
    let b = w.post(WEB, json!({"number": "+4930222222"}));
    let (id_a, tok_a) = (
        a.body["callback"]["id"].as_i64().unwrap(),
        a.body["token"].as_str().unwrap().to_string(),
    );
    let id_b = b.body["callback"]["id"].as_i64().unwrap();
    let new = json!({"number": "+4930333333"}).to_string();

    assert_error(
        &w.call("POST", "/v1/callbacks", None, Some(&new)),
        401,
        "unauthorized",
    );
    assert_error(
        &w.call(
            "POST",
            "/v1/callbacks",
            Some("wrong-secret-0123456789"),
            Some(&new),
        ),
        401,
        "unauthorized",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks", Some(WEB), None),
        403,
        "forbidden",
    );
    assert_error(
        &w.call("GET", &format!("/v1/callbacks/{id_a}"), Some(WEB), None),
        403,
        "forbidden",
    );
    assert_error(
        &w.call("DELETE", &format!("/v1/callbacks/{id_a}"), Some(WEB), None),
        403,
        "forbidden",
    );
    // A customer's token: their own callback only, and no creating or listing.
    assert_eq!(
        w.call("GET", &format!("/v1/callbacks/{id_a}"), Some(&tok_a), None)
            .status,
        200
    );
    assert_error(
        &w.call("GET", &format!("/v1/callbacks/{id_b}"), Some(&tok_a), None),
        403,
        "forbidden",
    );
    assert_error(
        &w.call(
            "DELETE",
            &format!("/v1/callbacks/{id_b}"),
            Some(&tok_a),
            None,
        ),
        403,
        "forbidden",
    );
    assert_error(
        &w.call(
            "PATCH",
            &format!("/v1/callbacks/{id_b}"),
            Some(&tok_a),
            Some(r#"{"delay_minutes": 30}"#),
        ),
        403,
        "forbidden",
    );
    assert_error(
        &w.call("GET", "/v1/callbacks", Some(&tok_a), None),
        403,
        "forbidden",
    );
    assert_error(
        &w.call("POST", "/v1/callbacks", Some(&tok_a), Some(&new)),
        403,
        "forbidden",
    );
    // A token for B made by changing the id in A's is refused.
    let forged = tok_a.replacen(&format!("cbt_{id_a}_"), &format!("cbt_{id_b}_"), 1);
    assert_error(
        &w.call("GET", &format!("/v1/callbacks/{id_b}"), Some(&forged), None),
        401,
        "unauthorized",
    );
    // Staff may do everything.
    assert_eq!(
        w.call(
            "DELETE",
            &format!("/v1/callbacks/{id_b}"),
            Some(STAFF),
            None
        )
        .status,
        200
    );
    assert_eq!(w.store.get(id_a).unwrap().state.as_str(), "scheduled");
    assert_eq!(w.stored(), 2);
    // The contract is public.
    let doc = w.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.0.3");
}

#[test]
fn a_number_may_have_two_callbacks_waiting() {
    // The third request for one number is refused (409) until one is done; a retry passes.
    let w = World::start("<param name=\"merge-pending\" value=\"false\"/>");
    let body = json!({"number": "+4930123456"}).to_string();
    let h = [("Idempotency-Key", "k1")];
    assert_eq!(
        w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&body), &h)
            .status,
        201
    );
    let second = w.post(WEB, json!({"number": "+49 30 123456"}));
    assert_eq!(second.status, 201);
    let third = w.post(WEB, json!({"number": "+4930123456", "queue": "nyc"}));
    assert_error(&third, 409, "too-many-pending");
    assert_eq!(third.body["error"]["field"], "number");
    assert_eq!(
        w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&body), &h)
            .status,
        200
    );
    assert_eq!(w.stored(), 2);
    let id = second.body["callback"]["id"].as_i64().unwrap();
    w.call("DELETE", &format!("/v1/callbacks/{id}"), Some(STAFF), None);
    assert_eq!(
        w.post(WEB, json!({"number": "+4930123456", "queue": "nyc"}))
            .status,
        201
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    // Three requests a minute per key: the fourth waits; the staff key has its own bucket.
    let w = World::start("<param name=\"http-rate-per-key\" value=\"3\"/>");
    for _ in 0..3 {
        assert_eq!(
            w.call("GET", "/v1/availability?date=2026-11-24", Some(WEB), None)
                .status,
            200
        );
    }
    let r = w.call("GET", "/v1/availability?date=2026-11-24", Some(WEB), None);
    assert_error(&r, 429, "rate-limited");
    let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait >= 1);
    assert_eq!(
        w.call("GET", "/v1/availability?date=2026-11-24", Some(STAFF), None)
            .status,
        200
    );

    // Per address: counted before the key is even looked at.
    let w = World::start("<param name=\"http-rate-per-ip\" value=\"2\"/>");
    w.call("GET", "/v1/callbacks", Some("nope-nope-nope-nope"), None);
    w.call("GET", "/v1/callbacks", Some(STAFF), None);
    let r = w.call("GET", "/v1/callbacks", Some(STAFF), None);
    assert_error(&r, 429, "rate-limited");
    assert!(r.retry_after.is_some());
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    // Every route registered in src/api/mod.rs is in openapi.json with its methods, and
    // the document has nothing the router lacks.
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs")).unwrap();
    let method = regex::Regex::new(r"\b(get|post|put|patch|delete)\(").unwrap();
    let mut in_router = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        let chunk = chunk.split(".fallback(").next().unwrap();
        let path = chunk.split('"').nth(1).unwrap().to_string();
        for m in method.captures_iter(chunk) {
            in_router.insert((path.clone(), m[1].to_string()));
        }
    }
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut in_doc = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                in_doc.insert((path.clone(), m.to_string()));
            }
        }
    }
    assert!(in_router.len() >= 7, "{in_router:?}");
    assert_eq!(in_router, in_doc);
    // And each documented route answers (not the router's no-route or wrong-method).
    let w = World::start("");
    for (path, m) in &in_doc {
        let path = path.replace("{id}", "1");
        let r = w.call(&m.to_uppercase(), &path, Some(STAFF), Some("{}"));
        let code = r.body["error"]["code"].as_str().unwrap_or("");
        assert!(
            code != "no-route" && code != "method-not-allowed",
            "{m} {path}: {}",
            r.body
        );
    }
}

#[test]
fn stopping_the_server_closes_the_port() {
    // stop() joins the server: the port refuses connections afterwards.
    let mut w = World::start("");
    assert_eq!(w.call("GET", "/v1/openapi.json", None, None).status, 200);
    w.server.take().unwrap().stop();
    let err = ureq::get(&format!("{}/v1/openapi.json", w.base)).call();
    assert!(matches!(err, Err(ureq::Error::Transport(_))));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("+4930123456"),
            Just("+1212${system(id)}"),
            Just("1,2|3"),
            Just("now"),
            Just("2026-11-24T10:00"),
            Just("Europe/Berlin"),
            Just("scheduled"),
            Just("sales"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("number".to_string()),
                    Just("type".to_string()),
                    Just("desired_time".to_string()),
                    Just("time_zone".to_string()),
                    Just("delay_minutes".to_string()),
                    Just("queue".to_string()),
                    Just("remark".to_string()),
                    Just("data".to_string()),
                    Just("source".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_json_makes_the_server_fail(v in json_value(), patch in any::<bool>()) {
        // Whatever JSON arrives (create or reschedule), the reply is never a 5xx.
        thread_local!(static W: World = World::start("<param name=\"merge-pending\" value=\"false\"/><param name=\"max-pending-per-number\" value=\"0\"/>"));
        W.with(|w| {
            let r = if patch {
                w.call("PATCH", "/v1/callbacks/1", Some(STAFF), Some(&v.to_string()))
            } else {
                w.post(WEB, v.clone())
            };
            prop_assert!(r.status < 500, "{} -> {} {}", v, r.status, r.body);
            if r.status >= 400 {
                prop_assert!(r.body["error"]["code"].is_string(), "{}", r.body);
            }
            Ok(())
        })?;
    }
}

#[test]
fn odd_text_in_times_is_refused_not_a_crash() {
    // Multi-byte characters right after the date's T are read as text, not sliced.
    let w = World::start("");
    for t in [
        "2026-11-24Tééééééé",
        "2026-11-24T💥",
        "2026-11-24T",
        "T",
        "ééééééééééT10:00",
    ] {
        let r = w.post(WEB, json!({"number": "+4930123456", "desired_time": t}));
        assert_error(&r, 400, "invalid-time");
    }
    assert_eq!(w.stored(), 0);
}

/// `seconds` of a 440 Hz tone, 8 kHz mono 16-bit, as WAV bytes.
fn wav(seconds: u32) -> Vec<u8> {
    let mut cur = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
    for i in 0..8000 * seconds {
        let v = (f64::from(i) * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
    cur.into_inner()
}

#[test]
fn a_customer_uploads_their_recording_and_it_is_queued_for_transcription() {
    // A WAV under the limits is kept under a server-made name with a transcription job;
    // not-WAV, too long, too large, someone else's callback or a finished one: 4xx, no file.
    let w = World::start(
        r#"<param name="transcribe-max-seconds" value="3"/>
           <param name="http-max-recording-bytes" value="65536"/>"#,
    );
    let a = w.post(WEB, json!({"number": "+4930111111"}));
    let b = w.post(WEB, json!({"number": "+4930222222"}));
    let id = a.body["callback"]["id"].as_i64().unwrap();
    let token = a.body["token"].as_str().unwrap().to_string();
    let other = b.body["token"].as_str().unwrap().to_string();
    let path = format!("/v1/callbacks/{id}/recording");

    let ok = w.post_bytes(&path, &token, &wav(2));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["has_recording"], true);
    let job = w
        .store
        .transcription(id)
        .unwrap()
        .expect("a transcription job");
    assert_eq!(job.state.as_str(), "queued");
    assert_eq!(w.recordings(), 1);
    assert!(w
        .store
        .events(id)
        .unwrap()
        .iter()
        .any(|e| e.action == "recording"));

    assert_error(
        &w.post_bytes(&path, &token, b"RIFF but not really a wav"),
        400,
        "invalid",
    );
    assert_error(&w.post_bytes(&path, &token, &wav(4)), 400, "invalid");
    assert_error(
        &w.post_bytes(&path, &token, &vec![0u8; 70_000]),
        413,
        "body-too-large",
    );
    assert_error(&w.post_bytes(&path, &other, &wav(1)), 403, "forbidden");
    assert_error(&w.post_bytes(&path, WEB, &wav(1)), 403, "forbidden");
    assert_error(
        &w.post_bytes("/v1/callbacks/999/recording", STAFF, &wav(1)),
        404,
        "not-found",
    );
    w.call("DELETE", &format!("/v1/callbacks/{id}"), Some(&token), None);
    assert_error(&w.post_bytes(&path, &token, &wav(1)), 410, "link-expired");
    assert_error(&w.post_bytes(&path, STAFF, &wav(1)), 400, "invalid");
    assert_eq!(w.recordings(), 1, "no file kept from a refused upload");
}

#[test]
fn a_client_that_never_finishes_its_request_does_not_hold_the_stop() {
    // Half a request line left open (slowloris): stop() still returns and joins.
    let mut w = World::start("");
    let mut slow = std::net::TcpStream::connect(w.server.as_ref().unwrap().local_addr()).unwrap();
    std::io::Write::write_all(&mut slow, b"POST /v1/callbacks HTTP/1.1\r\nContent-Le").unwrap();
    assert_eq!(w.call("GET", "/v1/openapi.json", None, None).status, 200);
    let server = w.server.take().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        server.stop();
        let _ = done_tx.send(());
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_ok(),
        "stop() never returned"
    );
    drop(slow);
}

/// The whole text of a reply, for checks that nothing of another's callback is in it.
fn text(r: &Reply) -> String {
    r.body.to_string()
}

#[test]
fn a_create_merged_into_someone_elses_callback_discloses_nothing_of_it() {
    // Attack 1: the public key and a victim's number: 202, no remark, no token; the trace records it.
    let w = World::start("");
    let victim = w.post(
        STAFF,
        json!({"number": "+49 30 5550123", "remark": "account 99-4711", "source": "api"}),
    );
    assert_eq!(victim.status, 201, "{}", victim.body);
    let id = victim.body["callback"]["id"].as_i64().unwrap();
    let attack = w.post(
        WEB,
        json!({"number": "030 5550123", "remark": "please merge"}),
    );
    assert_eq!(attack.status, 202, "{}", attack.body);
    assert_eq!(attack.body["outcome"], "merged");
    assert_eq!(
        attack.body["message"],
        "a callback for this number is already pending"
    );
    let all = text(&attack);
    for secret in ["4711", "cbt_", "\"id\"", "due_at", "remark", "source"] {
        assert!(!all.contains(secret), "'{secret}' disclosed: {all}");
    }
    assert_eq!(w.stored(), 1);
    let merge = w
        .store
        .events(id)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "merge")
        .expect("the merge is in the trace");
    assert_eq!(merge.actor.as_deref(), Some("api:web"));
    // A staff key sees every callback, so it is shown the one it merged into.
    let staff = w.post(STAFF, json!({"number": "+49305550123"}));
    assert_eq!(staff.status, 200, "{}", staff.body);
    assert_eq!(staff.body["callback"]["id"], id);
}

#[test]
fn patch_to_a_victims_number_is_held_by_the_pending_cap() {
    // Attack 2: PATCHing other callbacks onto one number stops at max-pending-per-number.
    let w = World::start("<param name=\"merge-pending\" value=\"false\"/>");
    let victim = "+4930555000";
    let mut tokens = Vec::new();
    for n in 0..6 {
        let r = w.post(WEB, json!({"number": format!("+4930111{n:03}")}));
        assert_eq!(r.status, 201, "{}", r.body);
        tokens.push((
            r.body["callback"]["id"].as_i64().unwrap(),
            r.body["token"].as_str().unwrap().to_string(),
        ));
    }
    let mut moved = 0;
    for (id, token) in &tokens {
        let r = w.call(
            "PATCH",
            &format!("/v1/callbacks/{id}"),
            Some(token),
            Some(&json!({"number": victim}).to_string()),
        );
        if r.status == 200 {
            moved += 1;
        } else {
            assert_error(&r, 409, "too-many-pending");
            assert_eq!(r.body["error"]["field"], "number");
            assert_eq!(
                w.store.get(*id).unwrap().number,
                format!("+4930111{:03}", id - 1),
                "a refused PATCH changes nothing"
            );
        }
    }
    assert_eq!(moved, 2, "two waiting callbacks per number at most");
    let open = w
        .store
        .list(&ListFilter {
            number: Some(victim.into()),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(open.len(), 2);
    // The deny-list holds on PATCH too.
    let (id, token) = &tokens[5];
    let r = w.call(
        "PATCH",
        &format!("/v1/callbacks/{id}"),
        Some(token),
        Some(r#"{"number": "+49 900 1234567"}"#),
    );
    assert_error(&r, 400, "number-denied");
}

#[test]
fn an_idempotency_key_replayed_with_another_body_is_refused() {
    // Attack 3: another visitor with A's key and another body: 422, nothing of A's.
    let w = World::start("");
    let h = [("Idempotency-Key", "form-4711")];
    let a_body = json!({"number": "+4930123456", "remark": "A's account 42"}).to_string();
    let a = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&a_body), &h);
    assert_eq!(a.status, 201, "{}", a.body);
    let b_body = json!({"number": "+4930999999"}).to_string();
    let b = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(&b_body), &h);
    assert_error(&b, 422, "idempotency-mismatch");
    assert_eq!(b.body["error"]["field"], "idempotency_key");
    let all = text(&b);
    for secret in ["4930123456", "42", "cbt_"] {
        assert!(!all.contains(secret), "'{secret}' disclosed: {all}");
    }
    assert_eq!(w.stored(), 1);
    // The same request again (keys reordered, other spacing) is A's retry: the first reply.
    let again = r#"{ "remark": "A's account 42",  "number": "+4930123456" }"#;
    let r = w.call_with("POST", "/v1/callbacks", Some(WEB), Some(again), &h);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["outcome"], "existing");
    assert_eq!(r.body["token"], a.body["token"]);
    // Under another credential the key is another key: no reply of A's.
    let s = w.call_with("POST", "/v1/callbacks", Some(STAFF), Some(&b_body), &h);
    assert_eq!(s.status, 201, "{}", s.body);
    assert_ne!(s.body["callback"]["id"], a.body["callback"]["id"]);
}

#[test]
fn smaller_refusals_name_the_problem() {
    // PATCH delay 0, a delay past the horizon, a long key, a non-JSON body, an empty WAV.
    let w = World::start("");
    let a = w.post(WEB, json!({"number": "+4930111111", "queue": "nyc"}));
    let id = a.body["callback"]["id"].as_i64().unwrap();
    let token = a.body["token"].as_str().unwrap().to_string();
    let path = format!("/v1/callbacks/{id}");
    let zero = w.call(
        "PATCH",
        &path,
        Some(&token),
        Some(r#"{"delay_minutes": 0}"#),
    );
    assert_error(&zero, 400, "invalid");
    assert!(
        text(&zero).contains("the delay must be positive"),
        "{}",
        zero.body
    );
    let far = w.call(
        "PATCH",
        &path,
        Some(&token),
        Some(r#"{"delay_minutes": 100000}"#),
    );
    assert_error(&far, 400, "beyond-horizon");
    assert!(
        text(&far).contains("beyond the booking horizon") && !text(&far).contains("no slot"),
        "{}",
        far.body
    );
    let post_far = w.post(
        WEB,
        json!({"number": "+4930222222", "delay_minutes": 100000}),
    );
    assert_error(&post_far, 400, "beyond-horizon");
    assert_eq!(w.store.get(id).unwrap().state.as_str(), "scheduled");
    // One limit, one message for the key, whatever is wrong with it.
    let body = json!({"number": "+4930333333"}).to_string();
    let long = "k".repeat(65);
    let mut messages = BTreeSet::new();
    for key in [long.as_str(), "has space", "a/b"] {
        let r = w.call_with(
            "POST",
            "/v1/callbacks",
            Some(WEB),
            Some(&body),
            &[("Idempotency-Key", key)],
        );
        assert_error(&r, 400, "invalid");
        messages.insert(r.body["error"]["message"].as_str().unwrap().to_string());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages.iter().all(|m| m.contains("1-64")), "{messages:?}");
    let fits = "k".repeat(64);
    let r = w.call_with(
        "POST",
        "/v1/callbacks",
        Some(WEB),
        Some(&body),
        &[("Idempotency-Key", &fits)],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A body declared as a form or text: 415, nothing stored.
    let before = w.stored();
    for ct in ["application/x-www-form-urlencoded", "text/plain"] {
        let r = ureq::post(&format!("{}/v1/callbacks", w.base))
            .set("Authorization", &format!("Bearer {WEB}"))
            .set("Content-Type", ct)
            .send_string(r#"{"number": "+4930444444"}"#);
        let r = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.status(), 415, "{ct}");
        let patch = ureq::request("PATCH", &format!("{}{path}", w.base))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", ct)
            .send_string(r#"{"delay_minutes": 5}"#);
        let patch = match patch {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(patch.status(), 415, "{ct}");
    }
    assert_eq!(w.stored(), before);
    // An empty upload, and a WAV header without audio: 400 naming it, no file kept.
    let rec = format!("{path}/recording");
    let empty = w.post_bytes(&rec, &token, b"");
    assert_error(&empty, 400, "invalid");
    assert!(text(&empty).contains("empty"), "{}", empty.body);
    let header_only = &wav(1)[..44];
    let r = w.post_bytes(&rec, &token, header_only);
    assert_error(&r, 400, "invalid");
    assert!(text(&r).contains("no audio"), "{}", r.body);
    let cut = &wav(1)[..20];
    let r = w.post_bytes(&rec, &token, cut);
    assert_error(&r, 400, "invalid");
    assert!(!text(&r).contains("see the log"), "{}", r.body);
    assert_eq!(w.recordings(), 0);
}

#[test]
fn availability_has_no_wait_estimate_without_handling_history() {
    // A queue that has handled no callback (and has no contact centre) gives no figure to
    // promise: estimate is null, and estimate_reason says why; the slots are there.
    let w = World::start("");
    w.post(WEB, json!({"number": "+4930111111"}));
    let day = w.call(
        "GET",
        "/v1/availability?queue=sales&date=2026-11-24",
        Some(WEB),
        None,
    );
    assert_eq!(day.status, 200, "{}", day.body);
    assert!(day.body["slots"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        day.body["estimate"],
        serde_json::Value::Null,
        "{}",
        day.body
    );
    assert!(
        day.body["estimate_reason"]
            .as_str()
            .is_some_and(|r| r.contains("no handling history")),
        "{}",
        day.body
    );
}
