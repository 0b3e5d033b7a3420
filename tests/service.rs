//! The service end to end on a real SQLite file: each request type gets the due time the
//! rules promise, bad input is refused with nothing written, and every change is traced
//! and notified.

use callback_core::clock::{Clock, ManualClock};
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::model::{AttemptResult, CallbackType, Leg, Source, State, Window};
use callback_core::service::{CallbackService, NewRequest, Requested, WrapUp};
use callback_core::store::prelude::*;
use callback_core::store::{
    AttemptEnd, CreateOutcome, ListFilter, NewAttempt, SqliteStore, Transition, FIRST_BOOST,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::sync::Arc;

const CONF: &str = r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="DE"/>
    <param name="deny-prefixes" value="+49900"/>
    <param name="default-queue" value="sales"/>
  </settings>
  <queues>
    <queue name="sales">
      <param name="time-zone" value="Europe/Berlin"/>
      <param name="hours" value="mon-fri 09:00-17:00"/>
      <param name="closed-dates" value="2026-12-04"/>
      <param name="slot-minutes" value="30"/>
      <param name="slot-capacity" value="2"/>
    </queue>
    <queue name="nyc">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
    </queue>
  </queues>
</configuration>"#;

struct World {
    service: CallbackService,
    store: Arc<SqliteStore>,
    clock: ManualClock,
    host: Arc<Detached>,
    _dir: tempfile::TempDir,
}

/// Monday 2026-11-23 10:00 Berlin (09:00 UTC): the sales queue is open.
fn monday_10am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

fn world(now: DateTime<Utc>) -> World {
    world_with(now, CONF)
}

fn world_with(now: DateTime<Utc>, conf: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
    let clock = ManualClock::new(now);
    let host = Arc::new(Detached::default());
    let config = Arc::new(Config::from_xml(conf).unwrap());
    let service =
        CallbackService::new(store.clone(), config, Arc::new(clock.clone()), host.clone());
    World {
        service,
        store,
        clock,
        host,
        _dir: dir,
    }
}

fn req(kind: CallbackType, when: Requested) -> NewRequest {
    NewRequest::new(kind, "030 1234567", when, Source::Api)
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

#[test]
fn each_type_gets_its_due_time() {
    // Immediate is now, delayed is now + delay, scheduled is the customer's wall-clock time.
    let w = world(monday_10am());
    let (imm, outcome) = w
        .service
        .request(req(CallbackType::Immediate, Requested::Now))
        .unwrap();
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(imm.due_at, Some(monday_10am()));
    assert_eq!(imm.number, "+49301234567");
    assert_eq!(imm.state, State::Scheduled);
    assert_eq!(imm.queue, "sales");

    let mut delayed = req(
        CallbackType::Delayed,
        Requested::After(Duration::minutes(15)),
    );
    delayed.number = "+49 30 7654321".into();
    let (d, _) = w.service.request(delayed).unwrap();
    assert_eq!(d.due_at, Some(monday_10am() + Duration::minutes(15)));

    let mut sched = req(
        CallbackType::Scheduled,
        Requested::Local(local("2026-11-24 14:15")),
    );
    sched.number = "+49 89 1234567".into();
    sched.time_zone = Some("America/New_York".into());
    sched.queue = Some("nyc".into());
    let (s, _) = w.service.request(sched).unwrap();
    // 14:15 in New York on 24 Nov (EST, UTC-5) is 19:15 UTC.
    assert_eq!(
        s.due_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 19, 15, 0).unwrap())
    );
    assert_eq!(s.desired_at, s.due_at);
    assert_eq!(s.time_zone, "America/New_York");

    let mut preview = req(CallbackType::AgentPreview, Requested::Now);
    preview.number = "+49 40 1234567".into();
    let (p, _) = w.service.request(preview).unwrap();
    assert_eq!(p.kind, CallbackType::AgentPreview);
    assert_eq!(p.due_at, Some(monday_10am()));
    assert_eq!(w.store.list(&ListFilter::default()).unwrap().len(), 4);
    assert_eq!(w.host.notifications().len(), 4);
}

#[test]
fn immediate_outside_hours_waits_for_the_opening() {
    // A request on Saturday is due when the queue opens on Monday, not before.
    let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let w = world(saturday);
    let (r, _) = w
        .service
        .request(req(CallbackType::Immediate, Requested::Now))
        .unwrap();
    assert_eq!(
        r.due_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap())
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    // Every kind of bad input gets its own code and leaves the database empty.
    let w = world(monday_10am());
    let mut cases: Vec<(NewRequest, &str)> = Vec::new();
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.number = "+49 30 12,34".into();
    cases.push((r, "invalid-number"));
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.number = "+49 900 1234567".into();
    cases.push((r, "number-denied"));
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.time_zone = Some("Mars/Olympus".into());
    cases.push((r, "unknown-time-zone"));
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.queue = Some("nope".into());
    cases.push((r, "unknown-queue"));
    cases.push((
        req(
            CallbackType::Scheduled,
            Requested::Local(local("2026-11-23 09:30")),
        ),
        "in-past",
    ));
    cases.push((
        req(
            CallbackType::Scheduled,
            Requested::Local(local("2027-02-01 10:00")),
        ),
        "beyond-horizon",
    ));
    cases.push((
        req(
            CallbackType::Scheduled,
            Requested::Local(local("2026-11-23 20:00")),
        ),
        "outside-hours",
    ));
    cases.push((
        req(
            CallbackType::Scheduled,
            Requested::Local(local("2026-12-04 10:00")),
        ),
        "closed-date",
    ));
    cases.push((
        req(
            CallbackType::Immediate,
            Requested::After(Duration::minutes(5)),
        ),
        "invalid",
    ));
    cases.push((
        req(
            CallbackType::Delayed,
            Requested::After(Duration::minutes(-5)),
        ),
        "invalid",
    ));
    for key in [
        "",
        "has space",
        "x".repeat(161).as_str(),
        "semi;colon",
        "tab\tkey",
    ] {
        let mut r = req(CallbackType::Immediate, Requested::Now);
        r.idempotency_key = Some(key.to_string());
        cases.push((r, "invalid"));
    }
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.remark = Some("bell\u{7}".into());
    cases.push((r, "invalid"));
    let mut r = req(CallbackType::Immediate, Requested::Now);
    r.window = Window {
        from: Some(monday_10am()),
        until: Some(monday_10am()),
    };
    cases.push((r, "invalid"));
    for (r, code) in cases {
        let what = format!("{r:?}");
        let err = w.service.request(r).unwrap_err();
        assert_eq!(err.code(), code, "{what}: {err}");
        assert!(!err.to_string().is_empty());
    }
    assert!(w.store.list(&ListFilter::default()).unwrap().is_empty());
    assert!(w.host.notifications().is_empty());
}

#[test]
fn schedule_errors_name_the_nearest_slot() {
    // A time outside hours is refused with the nearest bookable slot in the customer's zone.
    let w = world(monday_10am());
    let err = w
        .service
        .request(req(
            CallbackType::Scheduled,
            Requested::Local(local("2026-11-23 20:00")),
        ))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2026-11-23 16:30") || text.contains("2026-11-24 09:00"),
        "{text}"
    );
    assert!(text.contains("Europe/Berlin"), "{text}");
}

#[test]
fn idempotency_key_and_pending_merge_return_the_same_callback() {
    // A retried create returns the first callback; a second request from the same number merges.
    let w = world(monday_10am());
    let mut a = req(CallbackType::Immediate, Requested::Now);
    a.idempotency_key = Some("web-42".into());
    a.remark = Some("first".into());
    let (first, o1) = w.service.request(a.clone()).unwrap();
    let (again, o2) = w.service.request(a).unwrap();
    assert_eq!((o1, o2), (CreateOutcome::Created, CreateOutcome::Existing));
    assert_eq!(first.id, again.id);
    let mut b = req(CallbackType::Immediate, Requested::Now);
    b.remark = Some("second".into());
    let (merged, o3) = w.service.request(b).unwrap();
    assert_eq!(o3, CreateOutcome::Merged);
    assert_eq!(merged.id, first.id);
    assert_eq!(merged.remark.as_deref(), Some("first\nsecond"));
    assert_eq!(w.store.list(&ListFilter::default()).unwrap().len(), 1);
}

#[test]
fn a_full_slot_is_refused_and_shown_full() {
    // Two bookings fill a 2-capacity slot; the third is refused; the grid marks it full.
    let w = world(monday_10am());
    for (i, n) in ["+49 30 1111111", "+49 30 2222222", "+49 30 3333333"]
        .iter()
        .enumerate()
    {
        let mut r = req(
            CallbackType::Scheduled,
            Requested::Local(local("2026-11-24 11:10")),
        );
        r.number = n.to_string();
        let result = w.service.request(r);
        if i < 2 {
            result.unwrap();
        } else {
            let err = result.unwrap_err();
            assert!(matches!(err.code(), "slot-full"), "{err}");
        }
    }
    assert_eq!(w.store.list(&ListFilter::default()).unwrap().len(), 2);
    let grid = w
        .service
        .availability(None, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(), None)
        .unwrap();
    let slot = grid
        .slots
        .iter()
        .find(|s| s.start == Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap())
        .unwrap();
    assert_eq!(slot.used, 2);
    assert_eq!(slot.state, callback_core::schedule::SlotState::Full);
    assert_eq!(grid.slots.len(), 16);
}

#[test]
fn cancel_reschedule_and_now_are_traced_and_notified() {
    // Each admin action moves the state, writes an event and emits a notification.
    let w = world(monday_10am());
    let (r, _) = w
        .service
        .request(req(
            CallbackType::Delayed,
            Requested::After(Duration::hours(2)),
        ))
        .unwrap();
    let moved = w
        .service
        .reschedule(r.id, Requested::Local(local("2026-11-25 15:00")), "fs_cli")
        .unwrap();
    assert_eq!(moved.state, State::Rescheduled);
    assert_eq!(
        moved.due_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap())
    );
    w.clock.advance(Duration::minutes(1));
    let now = w.service.call_now(r.id, "fs_cli").unwrap();
    assert_eq!(now.due_at, Some(monday_10am() + Duration::minutes(1)));
    let gone = w.service.cancel(r.id, "fs_cli").unwrap();
    assert_eq!(gone.state, State::Cancelled);
    let err = w.service.call_now(r.id, "fs_cli").unwrap_err();
    assert_eq!(err.code(), "invalid-state", "{err}");
    let trace = w.service.trace(r.id).unwrap();
    let actions: Vec<&str> = trace.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "reschedule", "now", "cancel"]);
    let notes: Vec<String> = w
        .host
        .notifications()
        .iter()
        .map(|n| n.action.clone())
        .collect();
    assert_eq!(notes, ["created", "reschedule", "now", "cancel"]);
    assert_eq!(w.service.get(999).unwrap_err().code(), "not-found");
}

/// [`CONF`] with agent 1001 of the sales queue.
fn with_agents() -> String {
    CONF.replace(
        "</configuration>",
        r#"<agents><agent name="1001"><param name="queues" value="sales"/></agent></agents>
</configuration>"#,
    )
}

fn numbered(n: u32) -> NewRequest {
    NewRequest::new(
        CallbackType::Immediate,
        format!("030 123456{n}"),
        Requested::Now,
        Source::Api,
    )
}

#[test]
fn a_callback_on_a_call_is_not_routed_again_even_when_its_lease_lapsed() {
    // A lease can lapse while the call still runs; Call Now and assign must then refuse
    // (409) rather than move the callback back to waiting, which would dial it twice.
    let w = world_with(monday_10am(), &with_agents());
    let (r, _) = w.service.request(numbered(1)).unwrap();
    let now = w.clock.now();
    let claimed = w
        .store
        .claim_due("node-a", now, Duration::seconds(30), 10)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut t = Transition::new(State::Offering, "offer");
    t.owner = Some("node-a".into());
    w.store.transition(r.id, &t, now).unwrap();
    w.clock.advance(Duration::minutes(5));
    let before = w.store.events(r.id).unwrap().len();
    for e in [
        w.service
            .assign(r.id, Some("1001"), None, "panel:sam")
            .unwrap_err(),
        w.service.assign(r.id, None, None, "panel:sam").unwrap_err(),
        w.service
            .call_now_for(r.id, "1001", "panel:alice")
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), "invalid-state", "{e}");
        assert!(e.to_string().contains("offering, not waiting"), "{e}");
    }
    let after = w.store.get(r.id).unwrap();
    assert_eq!((after.state, after.agent), (State::Offering, None));
    assert_eq!(w.store.events(r.id).unwrap().len(), before);
}

#[test]
fn call_now_is_claimed_before_the_backlog_and_a_tag_priority_survives() {
    // Three overdue callbacks; Call Now on the newest: the next claim of one takes it, and
    // the claim takes the boost off again.
    let w = world_with(monday_10am(), &with_agents());
    let ids: Vec<_> = (1..=3)
        .map(|n| w.service.request(numbered(n)).unwrap().0.id)
        .collect();
    w.clock.advance(Duration::minutes(10));
    let r = w
        .service
        .call_now_for(ids[2], "1001", "panel:alice")
        .unwrap();
    assert_eq!(r.priority, FIRST_BOOST);
    let claimed = w
        .store
        .claim_due("node-a", w.clock.now(), Duration::seconds(30), 1)
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    assert_eq!(claimed[0].priority, 0);
    assert_eq!(w.store.get(ids[2]).unwrap().priority, 0);
    // Otherwise the oldest first, as before.
    let next = w
        .store
        .claim_due("node-a", w.clock.now(), Duration::seconds(30), 1)
        .unwrap();
    assert_eq!(next[0].id, ids[0]);
}

#[test]
fn after_call_work_waits_for_the_call_to_end() {
    // While the customer leg is open, its own result would overwrite the agent's: 409,
    // nothing written; once it ended, the agent's result and disposition are stored.
    let w = world_with(monday_10am(), &with_agents());
    let (r, _) = w.service.request(numbered(1)).unwrap();
    let now = w.clock.now();
    w.store
        .claim_due("node-a", now, Duration::seconds(60), 1)
        .unwrap();
    let a = w
        .store
        .start_attempt(
            &NewAttempt {
                callback_id: r.id,
                leg: Leg::Customer,
                agent: Some("1001".into()),
                call_uuid: None,
            },
            "node-a",
            now,
        )
        .unwrap();
    let wrap = WrapUp {
        result: Some(AttemptResult::NoAnswer),
        disposition: None,
        note: Some("left a message".into()),
        do_not_call: false,
    };
    let e = w.service.wrap_up(r.id, &wrap, "panel:alice").unwrap_err();
    assert_eq!(e.code(), "call-in-progress", "{e}");
    let open = w.store.attempts(r.id).unwrap();
    assert_eq!((open[0].result, open[0].note.as_deref()), (None, None));
    w.store
        .finish_attempt(
            a.id,
            &AttemptEnd {
                answered_at: Some(now),
                hangup_cause: "NORMAL_CLEARING".into(),
                result: AttemptResult::Answered,
            },
            now,
        )
        .unwrap();
    let done = w.service.wrap_up(r.id, &wrap, "panel:alice").unwrap();
    assert_eq!(done.result, Some(AttemptResult::NoAnswer));
    assert_eq!(done.note.as_deref(), Some("left a message"));
}

#[test]
fn a_machine_keyed_in_the_after_call_work_retries_the_completed_callback() {
    // The panel's wrap-up with result machine on the call that completed the callback:
    // the retry policy acts (rescheduled after the queue's first delay), not only a label.
    let w = world_with(monday_10am(), &with_agents());
    let (r, _) = w.service.request(numbered(1)).unwrap();
    let now = w.clock.now();
    w.store
        .claim_due("node-a", now, Duration::seconds(60), 1)
        .unwrap();
    let step = |from: State, to: State| {
        let mut t = Transition::new(to, to.as_str());
        t.expect = Some(from);
        t.owner = Some("node-a".into());
        w.store.transition(r.id, &t, now).unwrap();
    };
    step(State::Due, State::Offering);
    step(State::Offering, State::Previewing);
    step(State::Previewing, State::Dialing);
    let a = w
        .store
        .start_attempt(
            &NewAttempt {
                callback_id: r.id,
                leg: Leg::Customer,
                agent: Some("1001".into()),
                call_uuid: None,
            },
            "node-a",
            now,
        )
        .unwrap();
    w.store
        .finish_attempt(
            a.id,
            &AttemptEnd {
                answered_at: Some(now),
                hangup_cause: "NORMAL_CLEARING".into(),
                result: AttemptResult::Answered,
            },
            now,
        )
        .unwrap();
    step(State::Dialing, State::Connected);
    step(State::Connected, State::Completed);
    let wrap = WrapUp {
        result: Some(AttemptResult::Machine),
        disposition: None,
        note: None,
        do_not_call: false,
    };
    w.service.wrap_up(r.id, &wrap, "panel:alice").unwrap();
    let moved = w.store.get(r.id).unwrap();
    assert_eq!(moved.state, State::Rescheduled);
    assert!(
        moved.due_at.unwrap() >= now + Duration::minutes(5),
        "{moved:?}"
    );
}

#[test]
fn a_number_on_the_do_not_call_list_is_refused_at_booking_and_on_amend() {
    // Booking a listed number fails with do-not-call on the number field and stores
    // nothing; moving a callback to a listed number fails and leaves it as it was.
    let w = world(monday_10am());
    let now = w.clock.now();
    w.store
        .dnc_add("+49301234562", Some("asked by phone"), now)
        .unwrap();
    let e = w.service.request(numbered(2)).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("do-not-call", Some("number")),
        "{e}"
    );
    assert!(e.to_string().contains("+49301234562"), "{e}");
    assert!(w.store.list(&ListFilter::default()).unwrap().is_empty());
    let (r, _) = w.service.request(numbered(1)).unwrap();
    let e = w
        .service
        .amend(r.id, None, Some("030 1234562"), "panel:alice")
        .unwrap_err();
    assert_eq!(e.code(), "do-not-call", "{e}");
    assert_eq!(w.store.get(r.id).unwrap().number, "+49301234561");
}

#[test]
fn the_estimated_wait_comes_from_the_queues_own_handling_times() {
    // Without history the 5-minute stand-in is marked as such; after one agent leg
    // answered for 4 minutes, the next immediate callback (first in line, one agent)
    // waits about 4 minutes, from history.
    let w = world_with(monday_10am(), &with_agents());
    let (first, _) = w.service.request(numbered(1)).unwrap();
    let e = callback_core::estimate::Estimate::of(&w.service, &first).unwrap();
    assert_eq!(
        (e.place, e.wait, e.from_history),
        (1, Duration::minutes(5), false)
    );
    let now = w.clock.now();
    w.store
        .claim_due("node-a", now, Duration::seconds(600), 1)
        .unwrap();
    let a = w
        .store
        .start_attempt(
            &NewAttempt {
                callback_id: first.id,
                leg: Leg::Agent,
                agent: Some("1001".into()),
                call_uuid: None,
            },
            "node-a",
            now,
        )
        .unwrap();
    w.store
        .finish_attempt(
            a.id,
            &AttemptEnd {
                answered_at: Some(now),
                hangup_cause: "NORMAL_CLEARING".into(),
                result: AttemptResult::Answered,
            },
            now + Duration::minutes(4),
        )
        .unwrap();
    let (next, _) = w.service.request(numbered(3)).unwrap();
    let e = callback_core::estimate::Estimate::of(&w.service, &next).unwrap();
    assert_eq!((e.place, e.from_history), (1, true));
    assert_eq!(e.wait, Duration::minutes(4));
    assert_eq!(e.minutes(), 4);
}
