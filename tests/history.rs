//! The supervisors' reads (callback_core::history, report) on both store backends (a SQLite
//! file and a private schema on the PostgreSQL test server; see support/backends.rs):
//! what the history holds, the promise each callback was kept to, and a report's rows.

#[path = "support/backends.rs"]
mod backends;

use backends::on_each;
use callback_core::history;
use callback_core::model::{AttemptResult, CallbackType, Draft, Leg, Source, State, Window};
use callback_core::report::{self, Filter};
use callback_core::store::{AttemptEnd, CreateOptions, NewAttempt, Store, Transition};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
}

fn draft(number: &str, due: DateTime<Utc>) -> Draft {
    Draft {
        kind: CallbackType::Scheduled,
        number: number.into(),
        time_zone: "UTC".into(),
        desired_at: Some(due),
        window: Window::default(),
        number_type: None,
        queue: "support".into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Web,
        origin_uuid: Some("0b6c7c1e-1111-4222-8333-444455556666".into()),
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(due),
        expires_at: None,
    }
}

/// Dials the customer of `id` (claimed by "w") at `at`, with `result`.
fn dial(store: &dyn Store, id: i64, at: DateTime<Utc>, result: AttemptResult) {
    for (to, action) in [
        (State::Offering, "offer"),
        (State::Previewing, "preview"),
        (State::Dialing, "dial"),
    ] {
        let mut change = Transition::new(to, action);
        change.owner = Some("w".into());
        store.transition(id, &change, at).unwrap();
    }
    let a = store
        .start_attempt(
            &NewAttempt {
                callback_id: id,
                leg: Leg::Customer,
                agent: Some("1001".into()),
                call_uuid: None,
            },
            "w",
            at,
        )
        .unwrap();
    store
        .finish_attempt(
            a.id,
            &AttemptEnd {
                answered_at: (result == AttemptResult::Answered).then_some(at),
                hangup_cause: "NORMAL_CLEARING".into(),
                result,
            },
            at + Duration::minutes(3),
        )
        .unwrap();
}

#[test]
fn history_promises_and_reports_read_the_same_on_both_backends() {
    // Promised 10:00: one dialled at 10:05 (kept), one at 10:40 (broken, busy); a booking
    // for next week is read only when waiting callbacks that far ahead are asked for; a
    // report by outcome picks the busy one with its leg, and its origin call's uuid.
    on_each(|b| {
        let store = &*b.store;
        let none = CreateOptions::default();
        let (kept, _) = store
            .create(&draft("+12125550101", t(10, 0)), &none, t(8, 0))
            .unwrap();
        let (late, _) = store
            .create(&draft("+12125550102", t(10, 0)), &none, t(8, 0))
            .unwrap();
        let (later, _) = store
            .create(
                &draft("+12125550103", t(10, 0) + Duration::days(7)),
                &none,
                t(8, 0),
            )
            .unwrap();
        let claimed = store
            .claim_due("w", t(10, 0), Duration::hours(1), 10)
            .unwrap();
        assert_eq!(claimed.len(), 2);
        dial(store, kept.id, t(10, 5), AttemptResult::Answered);
        dial(store, late.id, t(10, 40), AttemptResult::Busy);

        let now = t(12, 0);
        let near = history::read(store, t(9, 0), Some(now + Duration::days(2))).unwrap();
        let ids: Vec<i64> = near.iter().map(|e| e.request.id).collect();
        assert_eq!(ids, [kept.id, late.id], "{}", b.name);
        let all = history::read(store, t(9, 0), Some(now + Duration::days(8))).unwrap();
        assert_eq!(all.len(), 3, "{}", b.name);
        let grace = Duration::minutes(15);
        let kept_of = |id: i64| {
            all.iter()
                .find(|e| e.request.id == id)
                .unwrap()
                .promise_kept(grace, now)
        };
        assert_eq!(
            (kept_of(kept.id), kept_of(late.id), kept_of(later.id)),
            (Some(true), Some(false), None),
            "{}",
            b.name
        );

        let filter = Filter::parse(
            [("outcome", "busy"), ("to", "2026-11-23")],
            chrono_tz::UTC,
            now,
        )
        .unwrap();
        let r = report::build(store, &filter, grace, now, |_| true).unwrap();
        assert_eq!(r.callbacks, 1, "{}", b.name);
        let records: Vec<(&str, i64)> = r.rows.iter().map(|x| (x.record, x.callback_id)).collect();
        assert_eq!(records, [("callback", late.id), ("attempt", late.id)]);
        assert_eq!(r.rows[0].promise_kept, Some(false));
        assert_eq!(
            r.rows[1].callback_origin_uuid.as_deref(),
            Some("0b6c7c1e-1111-4222-8333-444455556666")
        );
        assert_eq!(r.rows[1].result, Some(AttemptResult::Busy));
    });
}
