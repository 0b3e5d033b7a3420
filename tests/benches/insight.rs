//! Supervisors' figures benchmark: a week of a busy centre in a SQLite store on disk
//! (`INSIGHT_BENCH_PER_DAY` callbacks a day, default 2000, each with an agent leg and a
//! customer leg, completed), then the reads the operator view, `/metrics` and a report make
//! over it: the 7-day history, the charts, a whole `/metrics` render and a day's CSV report.
//! Prints `history_read_ms`, `charts_ms`, `metrics_render_ms`, `report_day_csv_ms` (medians of
//! 5 runs) and `history_callbacks` as `name: value unit`; progress on stderr.

use callback_core::clock::ManualClock;
use callback_core::config::Config;
use callback_core::history;
use callback_core::host::Detached;
use callback_core::model::{AttemptResult, CallbackType, Draft, Leg, Source, State, Window};
use callback_core::report::{self, Filter};
use callback_core::service::CallbackService;
use callback_core::store::{AttemptEnd, NewAttempt, SqliteStore, Store, Transition};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const OWNER: &str = "bench";

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn draft(i: usize, due: DateTime<Utc>) -> Draft {
    Draft {
        kind: CallbackType::Delayed,
        number: format!("+1212{:07}", i),
        time_zone: "America/New_York".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: if i % 3 == 0 { "sales" } else { "support" }.into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Ivr,
        origin_uuid: Some(format!("00000000-0000-4000-8000-{i:012}")),
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(due),
        expires_at: None,
    }
}

/// One callback's round: offered to an agent, previewed, customer dialled and answered (or
/// not), completed; each step as the dispatcher writes it.
fn deliver(store: &dyn Store, id: i64, i: usize, at: DateTime<Utc>) {
    let step = |to: State, action: &str, t: DateTime<Utc>| {
        let mut change = Transition::new(to, action);
        change.owner = Some(OWNER.into());
        store.transition(id, &change, t).expect("transition");
    };
    let agent = format!("10{:02}", i % 12);
    step(State::Offering, "offer", at);
    let leg = |leg: Leg, t: DateTime<Utc>, result: AttemptResult, secs: i64| {
        let a = store
            .start_attempt(
                &NewAttempt {
                    callback_id: id,
                    leg,
                    agent: Some(agent.clone()),
                    call_uuid: None,
                },
                OWNER,
                t,
            )
            .expect("start");
        store
            .finish_attempt(
                a.id,
                &AttemptEnd {
                    answered_at: (result == AttemptResult::Answered)
                        .then_some(t + Duration::seconds(3)),
                    hangup_cause: "NORMAL_CLEARING".into(),
                    result,
                },
                t + Duration::seconds(secs),
            )
            .expect("finish");
    };
    leg(Leg::Agent, at, AttemptResult::Answered, 20);
    step(State::Previewing, "preview", at + Duration::seconds(5));
    step(State::Dialing, "dial", at + Duration::seconds(15));
    let result = match i % 10 {
        6 | 7 => AttemptResult::NoAnswer,
        8 => AttemptResult::Busy,
        _ => AttemptResult::Answered,
    };
    leg(Leg::Customer, at + Duration::seconds(15), result, 180);
    if result == AttemptResult::Answered {
        step(State::Connected, "connected", at + Duration::seconds(20));
        step(State::Completed, "complete", at + Duration::seconds(200));
    } else {
        step(State::Failed, "fail", at + Duration::seconds(200));
    }
}

fn main() {
    let per_day: usize = std::env::var("INSIGHT_BENCH_PER_DAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("callback.db")).expect("store"));
    let monday = Utc.with_ymd_and_hms(2026, 11, 16, 13, 0, 0).unwrap();
    let mut i = 0;
    for day in 0..7 {
        eprintln!("insight bench: filling day {}", day + 1);
        for hour in 0..10 {
            let at = monday + Duration::days(day) + Duration::hours(hour);
            let drafts: Vec<Draft> = (0..per_day / 10)
                .map(|k| draft(i + k, at + Duration::minutes(k as i64 % 60)))
                .collect();
            let ids = store
                .create_batch(&drafts, at - Duration::hours(1))
                .expect("create");
            let end = at + Duration::hours(1);
            let claimed = store
                .claim_due(OWNER, end, Duration::hours(2), ids.len())
                .expect("claim");
            for (n, r) in claimed.iter().enumerate() {
                deliver(store.as_ref(), r.id, i + n, r.due_at.unwrap_or(end));
            }
            i += ids.len();
        }
    }
    let now = monday + Duration::days(6) + Duration::hours(11);
    let conf = r#"<configuration name="callback.conf"><settings>
      <param name="default-region" value="US"/><param name="default-queue" value="support"/>
      <param name="default-time-zone" value="America/New_York"/>
    </settings><queues>
      <queue name="support"><param name="hours" value="always"/></queue>
      <queue name="sales"><param name="hours" value="always"/></queue>
    </queues></configuration>"#;
    let config = Arc::new(Config::from_xml(conf).expect("config"));
    let zone = config.settings.default_time_zone;
    let service = CallbackService::new(
        store.clone(),
        config.clone(),
        Arc::new(ManualClock::new(now)),
        Arc::new(Detached::default()),
    );
    let queues: Vec<String> = config.queues.keys().cloned().collect();

    let mut entries = Vec::new();
    let read = median_ms(|| {
        entries = history::read(
            store.as_ref(),
            now - Duration::days(7),
            Some(now + Duration::days(2)),
        )
        .expect("history");
    });
    let charts = median_ms(|| {
        let c = callback_core::insight::charts(
            &entries,
            &queues,
            zone,
            config.settings.promise,
            (12, 12),
            now,
        );
        assert!(!c.agents.is_empty());
    });
    let metrics = median_ms(|| {
        let text = callback_core::metrics::render(&service, None).expect("metrics");
        assert!(text.contains("callback_promise_kept_ratio"));
    });
    let day = median_ms(|| {
        let f = Filter::parse([("from", "2026-11-22"), ("to", "2026-11-22")], zone, now)
            .expect("filter");
        let r = report::build(store.as_ref(), &f, config.settings.promise, now, |_| true)
            .expect("report");
        assert_eq!(r.callbacks, per_day / 10 * 10);
        r.to_csv().expect("csv");
    });
    println!("history_callbacks: {} callbacks", entries.len());
    println!("history_read_ms: {read:.1} ms");
    println!("charts_ms: {charts:.1} ms");
    println!("metrics_render_ms: {metrics:.1} ms");
    println!("report_day_csv_ms: {day:.1} ms");
}
