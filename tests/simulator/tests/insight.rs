//! Supervisors' insight from the loaded mod_callback.so (fixtures/config/insight.conf.xml):
//! the Grafana dashboard and the Prometheus alert rules of `monitoring/` name only metrics
//! the module's `/metrics` exports, and the supervisors' figures there (overdue, promises)
//! follow what happened; reports over HTTP and fs_cli with their filters; and, in a real
//! browser, the operator view's charts over a simulated day of a few hundred callbacks.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{load_with_config, repo_root};
use callback_simulator::{Act, Endpoint, Sim};
use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

const CONF: &str = "fixtures/config/insight.conf.xml";
const METRICS_KEY: &str = "insight-metrics-0123456789";
const STAFF_KEY: &str = "insight-staff-0123456789";

fn sim() -> Sim {
    // Monday 2026-11-23 13:00 UTC: 08:00 in New York.
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 13, 0, 0).unwrap())
}

fn load() -> Loaded {
    load_with_config(&repo_root().join(CONF)).unwrap_or_else(|e| panic!("load failed: {e}"))
}

/// The address the module's HTTP server bound (it logs it).
fn base(sim: &Sim) -> String {
    let line = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .unwrap_or_else(|| panic!("no listening line: {:#?}", sim.logs()));
    format!("http://{}", line.text.rsplit(' ').next().unwrap().trim())
}

/// `callback_capture` from `number` with `args`; the new callback's id.
fn capture(sim: &Sim, number: &str, args: &str) -> i64 {
    let call = sim.new_call(number);
    sim.execute(&call, "callback_capture", args);
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{args}: {:?}",
        sim.var(&call, "callback_error")
    );
    sim.var(&call, "callback_id").unwrap().parse().unwrap()
}

fn state(sim: &Sim, id: i64) -> String {
    let t: Value = serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
    t["trace"]["request"]["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Waits (up to 20 s of real time) until `done` holds; says `what` when it never does.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One GET with a bearer key: status and body.
fn get(url: &str, key: &str) -> (u16, String) {
    match ureq::get(url)
        .set("Authorization", &format!("Bearer {key}"))
        .call()
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The metric names of a Prometheus text exposition (each series' name).
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split(|c| c == '{' || c == ' ')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The metric names a PromQL expression selects (ours all start with `callback_`).
fn named(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\bcallback_[a-z0-9_]+").unwrap();
    re.find_iter(expr).map(|m| m.as_str().to_string()).collect()
}

/// A series' value in an exposition.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn agent_accepts(sim: &Sim, agent: &str, calls: usize) {
    sim.endpoint(&format!("user/{agent}"), Endpoint::Answer(3));
    for _ in 0..calls {
        sim.script(&format!("user/{agent}"), vec![Act::Press("1".into())]);
    }
}

#[test]
fn the_dashboard_and_alert_rules_name_only_exported_metrics() {
    // Every `expr` of monitoring/grafana-dashboard.json and monitoring/callback-alerts.yml
    // names metrics the loaded module's /metrics serves, after a day's start with a
    // completed support callback and a sales callback left waiting (no sales agent ready):
    // that one is overdue, and support kept its promise today.
    let sim = sim();
    let _m = load();
    let base = base(&sim);
    agent_accepts(&sim, "1001", 1);
    sim.endpoint("sofia/gateway/pstn/+12125550142", Endpoint::Answer(4));
    let done = capture(&sim, "+12125550142", "type=immediate queue=support");
    wait_until("the support callback completes", || {
        state(&sim, done) == "completed"
    });
    let waiting = capture(&sim, "+12125550143", "type=delayed delay=10m queue=sales");
    // It falls due at 13:10 (its promise) and waits for an agent; 20 minutes on, the
    // promise (15 minutes' grace) is broken.
    sim.advance(Duration::minutes(10));
    wait_until("the sales callback waits for an agent", || {
        state(&sim, waiting) == "rescheduled"
    });
    sim.advance(Duration::minutes(20));

    let (status, body) = get(&format!("{base}/metrics"), METRICS_KEY);
    assert_eq!(status, 200, "{body}");
    let names = exported(&body);
    assert_eq!(
        value(&body, r#"callback_overdue{queue="sales"}"#),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(&body, r#"callback_overdue{queue="support"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(
            &body,
            r#"callback_promise_kept_ratio{queue="support",period="today"}"#
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            r#"callback_promises{queue="sales",period="today",kept="no"}"#
        ),
        Some(1.0),
        "{body}"
    );

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("monitoring/grafana-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is valid JSON");
    let mut exprs: Vec<String> = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        assert!(p["title"].is_string() && p["gridPos"].is_object(), "{p}");
        for t in p["targets"].as_array().expect("targets") {
            exprs.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("monitoring/callback-alerts.yml")).unwrap(),
    )
    .expect("the alert rules are valid YAML");
    let mut alerts = Vec::new();
    for g in rules["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            alerts.push(r["alert"].as_str().expect("alert").to_string());
            exprs.push(r["expr"].as_str().expect("expr").to_string());
        }
    }
    assert_eq!(
        alerts,
        [
            "CallbackOverdue",
            "CallbackPromiseKeptLow",
            "CallbackTranscriptionBacklog",
            "CallbackNoReadyAgent"
        ]
    );
    let mut checked = BTreeSet::new();
    for e in &exprs {
        let found = named(e);
        assert!(!found.is_empty(), "no metric in {e}");
        for n in found {
            assert!(
                names.contains(&n),
                "{n} (in {e}) is not in /metrics:\n{body}"
            );
            checked.insert(n);
        }
    }
    assert!(checked.len() >= 10, "{checked:?}");
}

/// The uuid of the call `callback_capture` ran on for `number` (the callback's origin).
fn capture_with_uuid(sim: &Sim, number: &str, args: &str) -> (i64, String) {
    let call = sim.new_call(number);
    sim.execute(&call, "callback_capture", args);
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    (
        sim.var(&call, "callback_id").unwrap().parse().unwrap(),
        call,
    )
}

#[test]
fn reports_filter_callbacks_and_attempts_over_http_and_fs_cli() {
    // Three callbacks (answered, busy twice then failed, a sales one still waiting): the
    // CSV report has one row per callback and per leg, with the origin call's uuid, and
    // each leg row carries the keys of that leg's CDR (callback_id, leg, attempt); filters by outcome,
    // type, queue, agent and dates pick the right callbacks; a bad filter is refused naming
    // it (400 over HTTP, -ERR at fs_cli); a metrics key may not read reports.
    let sim = sim();
    let _m = load();
    let base = base(&sim);
    for a in ["1001", "1002", "1003"] {
        agent_accepts(&sim, a, 3);
    }
    sim.endpoint("sofia/gateway/pstn/+12125550142", Endpoint::Answer(4));
    sim.endpoint("sofia/gateway/pstn/+12125550144", Endpoint::Busy);
    let (answered, origin) = capture_with_uuid(&sim, "+12125550142", "type=immediate");
    wait_until("answered", || state(&sim, answered) == "completed");
    let (busy, _) = capture_with_uuid(&sim, "+12125550144", "type=immediate");
    wait_until("first busy", || state(&sim, busy) == "rescheduled");
    sim.advance(Duration::minutes(21));
    wait_until("failed after two", || state(&sim, busy) == "failed");
    let (waiting, _) = capture_with_uuid(&sim, "+12125550145", "type=delayed delay=2h queue=sales");

    let url = |q: &str| format!("{base}/v1/reports?{q}");
    let (status, csv) = get(&url("format=csv"), STAFF_KEY);
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[..4],
        ["record", "callback_id", "attempt_id", "queue"]
    );
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let of = |id: i64, record: &str| -> Vec<Vec<String>> {
        rows.iter()
            .filter(|r| r[col("callback_id")] == id.to_string() && r[col("record")] == record)
            .cloned()
            .collect()
    };
    assert_eq!(
        rows.iter().filter(|r| r[0] == "callback").count(),
        3,
        "{csv}"
    );
    let a = &of(answered, "callback")[0];
    assert_eq!(a[col("callback_origin_uuid")], origin);
    assert_eq!(a[col("outcome")], "answered");
    assert_eq!(a[col("promise_kept")], "true");
    let legs = of(answered, "attempt");
    assert_eq!(
        legs.iter()
            .map(|r| r[col("leg")].as_str())
            .collect::<Vec<_>>(),
        ["agent", "customer"]
    );
    // Each leg row joins the CDR of the leg the module dialled: the callback_id,
    // callback_leg and callback_attempt variables of its originate (agent) or bridge
    // (customer) are the row's callback_id, leg and attempt_no.
    let dialled: Vec<String> = sim
        .commands()
        .into_iter()
        .chain(sim.sessions().iter().flat_map(|s| {
            s.apps
                .lock()
                .unwrap()
                .iter()
                .map(|(_, a)| a.clone())
                .collect::<Vec<_>>()
        }))
        .collect();
    for leg in &legs {
        let vars = [
            format!("callback_id={answered}"),
            format!("callback_leg={}", leg[col("leg")]),
            format!("callback_attempt={}", leg[col("attempt_no")]),
            format!("callback_origin_uuid={origin}"),
        ];
        assert!(
            dialled
                .iter()
                .any(|d| vars.iter().all(|v| d.contains(v.as_str()))),
            "no leg dialled with {vars:?}: {dialled:#?}"
        );
    }
    let b = &of(busy, "callback")[0];
    assert_eq!(
        (b[col("state")].as_str(), b[col("outcome")].as_str()),
        ("failed", "busy")
    );
    assert_eq!(
        of(busy, "attempt")
            .iter()
            .filter(|r| r[col("leg")] == "customer")
            .count(),
        2
    );
    assert_eq!(of(waiting, "attempt").len(), 0);

    let ids = |q: &str| -> Vec<i64> {
        let (status, body) = get(&url(q), STAFF_KEY);
        assert_eq!(status, 200, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let mut ids: Vec<i64> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["record"] == "callback")
            .map(|r| r["callback_id"].as_i64().unwrap())
            .collect();
        ids.sort();
        assert_eq!(v["callbacks"], ids.len(), "{q}");
        ids
    };
    assert_eq!(ids("outcome=busy"), [busy]);
    assert_eq!(ids("type=delayed"), [waiting]);
    assert_eq!(ids("queue=support"), [answered, busy]);
    assert_eq!(ids("source=web"), Vec::<i64>::new());
    assert_eq!(ids("from=2026-11-23&to=2026-11-23").len(), 3);
    assert_eq!(ids("from=2026-11-24&to=2026-11-25"), Vec::<i64>::new());
    let rung: Vec<String> =
        serde_json::from_str::<Value>(&sim.api(&format!("callback json show {answered}"))).unwrap()
            ["trace"]["attempts"][0]["agent"]
            .as_str()
            .map(|a| vec![a.to_string()])
            .unwrap();
    assert!(ids(&format!("agent={}", rung[0])).contains(&answered));

    for (q, field) in [
        ("outcome=happy", "outcome"),
        ("from=yesterday", "from"),
        ("colour=red", "filter"),
        ("from=2026-11-23&to=2026-11-22", "from"),
    ] {
        let (status, body) = get(&url(q), STAFF_KEY);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{q}: {body}"
        );
    }
    assert_eq!(get(&url(""), METRICS_KEY).0, 403);

    // fs_cli: CSV by default, JSON with the json word; a bad filter is -ERR naming it.
    let reply = sim.api("callback report queue=support outcome=answered");
    assert!(
        reply.starts_with("+OK 1 callback(s), 3 row(s)\n"),
        "{reply}"
    );
    assert!(reply.contains(&origin), "{reply}");
    let json: Value = serde_json::from_str(&sim.api("callback json report type=delayed")).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["report"]["rows"][0]["callback_id"], waiting);
    let bad = sim.api("callback report type=urgent");
    assert!(
        bad.starts_with("-ERR invalid: invalid type: unknown callback type 'urgent'"),
        "{bad}"
    );
    let bad = sim.api("callback report support");
    assert!(
        bad.starts_with("-ERR invalid: invalid filter: 'support' is not key=value"),
        "{bad}"
    );
}
