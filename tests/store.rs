//! The store against real databases, every test on both backends (a SQLite file, and a
//! private schema on the PostgreSQL test server; see support/backends.rs): round trips,
//! the create rules, every transition and lease rule, claims (order, limit, takeover,
//! concurrency), migrations, attempts, do-not-call and stats. The SQLite-only checks
//! (query plans, migrating a file from schema 2) live in src/store/sqlite.rs's unit tests.

#[path = "support/backends.rs"]
mod backends;

use backends::{on_each, Backend, Raw};

use callback_core::model::{
    Attempt, AttemptResult, CallbackRequest, CallbackType, DispatchCounts, Draft, Leg, Recording,
    Source, State, Window,
};
use callback_core::store::prelude::*;
use callback_core::store::{
    AgentRecord, AttemptEnd, CreateOptions, CreateOutcome, JobState, ListFilter, NewAttempt,
    PgStore, StoreError, Transition,
};
use callback_core::transcribe::{Retry, Segment, TagRule, TagRules, TranscriptResult};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

fn t(offset_s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap() + Duration::seconds(offset_s)
}

fn draft(number: &str, queue: &str, due: i64) -> Draft {
    Draft {
        kind: CallbackType::Immediate,
        number: number.into(),
        time_zone: "Europe/Berlin".into(),
        desired_at: None,
        window: Window::default(),
        queue: queue.into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Ivr,
        origin_uuid: None,
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(t(due)),
        expires_at: None,
    }
}

/// `n` callbacks of queue sales due at t(0), numbered `<prefix>0`, `<prefix>1`...; their ids.
fn create_numbered(store: &dyn Store, prefix: &str, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            store
                .create(
                    &draft(&format!("{prefix}{i}"), "sales", 0),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap()
                .0
                .id
        })
        .collect()
}

fn count(store: &dyn Store) -> usize {
    store.list(&ListFilter::default()).unwrap().len()
}

fn move_to(to: State, owner: Option<&str>) -> Transition {
    let mut tr = Transition::new(to, "test");
    tr.owner = owner.map(str::to_string);
    tr
}

#[test]
fn every_field_round_trips_through_create_get_list_and_events() {
    // What a draft carries comes back unchanged from create, get and list, with a `created` event.
    on_each(|b| {
        let store = &*b.store;
        let mut d = draft("+493012345678", "sales", 600);
        d.kind = CallbackType::Scheduled;
        d.time_zone = "America/New_York".into();
        d.desired_at = Some(t(500));
        d.window = Window {
            from: Some(t(100)),
            until: Some(t(9000)),
        };
        d.agent = Some("agent-7".into());
        d.remark = Some("about the invoice".into());
        d.ivr_data = BTreeMap::from([("account".into(), "42".into()), ("menu".into(), "2".into())]);
        d.source = Source::Web;
        d.origin_uuid = Some("0b7c-uuid".into());
        d.idempotency_key = Some("web:order-1.A_b".into());
        d.recording = Some(Recording {
            path: "/var/rec/1.wav".into(),
            duration_ms: 4200,
            sample_rate: 8000,
        });
        d.tags = BTreeMap::from([("vip".into(), "yes".into())]);
        d.expires_at = Some(t(86_400));

        let (r, outcome) = store.create(&d, &CreateOptions::default(), t(0)).unwrap();
        assert_eq!(outcome, CreateOutcome::Created);
        assert_eq!(r.kind, d.kind);
        assert_eq!(r.number, d.number);
        assert_eq!(r.time_zone, d.time_zone);
        assert_eq!(r.desired_at, d.desired_at);
        assert_eq!(r.window, d.window);
        assert_eq!(r.queue, d.queue);
        assert_eq!(r.agent, d.agent);
        assert_eq!(r.remark, d.remark);
        assert_eq!(r.ivr_data, d.ivr_data);
        assert_eq!(r.source, d.source);
        assert_eq!(r.origin_uuid, d.origin_uuid);
        assert_eq!(r.idempotency_key, d.idempotency_key);
        assert_eq!(r.recording, d.recording);
        assert_eq!(r.transcript, None);
        assert_eq!(r.tags, d.tags);
        assert_eq!(r.state, State::Scheduled);
        assert_eq!(r.due_at, d.due_at);
        assert_eq!(r.expires_at, d.expires_at);
        assert_eq!(r.customer_attempts, 0);
        assert_eq!((r.created_at, r.updated_at), (t(0), t(0)));
        assert_eq!((r.lease_owner.clone(), r.lease_expires), (None, None));

        assert_eq!(store.get(r.id).unwrap(), r);
        let by = |f: ListFilter| store.list(&f).unwrap();
        assert_eq!(by(ListFilter::default()), vec![r.clone()]);
        let mut f = ListFilter {
            queue: Some("sales".into()),
            state: Some(State::Scheduled),
            number: Some("+493012345678".into()),
            updated_since: None,
            limit: Some(5),
        };
        assert_eq!(by(f.clone()), vec![r.clone()]);
        f.updated_since = Some(t(0));
        assert_eq!(by(f.clone()), vec![r.clone()]);
        f.updated_since = Some(t(1));
        assert!(by(f.clone()).is_empty(), "changed before the instant");
        f.updated_since = None;
        f.state = Some(State::Due);
        assert!(by(f).is_empty());

        // An empty map is stored as NULL and still reads back as empty.
        let (plain, _) = store
            .create(
                &draft("+493012345679", "sales", 600),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        assert!(plain.ivr_data.is_empty() && plain.tags.is_empty() && plain.recording.is_none());
        assert_eq!(
            by(ListFilter {
                limit: Some(1),
                ..Default::default()
            })
            .len(),
            1
        );

        let events = store.events(r.id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "created");
        assert_eq!((events[0].from, events[0].to), (None, State::Scheduled));
        assert_eq!(events[0].at, t(0));
        assert!(matches!(store.get(9999), Err(StoreError::NotFound(9999))));
        assert!(matches!(
            store.events(9999),
            Err(StoreError::NotFound(9999))
        ));
    });
}

#[test]
fn the_same_idempotency_key_returns_the_first_callback() {
    // A retried request with the same key gets the stored callback back, not a second one.
    on_each(|b| {
        let store = &*b.store;
        let mut d = draft("+493012345678", "sales", 60);
        d.idempotency_key = Some("ivr:call-1".into());
        let (a, first) = store.create(&d, &CreateOptions::default(), t(0)).unwrap();
        d.remark = Some("different body".into());
        let (b, second) = store.create(&d, &CreateOptions::default(), t(5)).unwrap();
        assert_eq!(
            (first, second),
            (CreateOutcome::Created, CreateOutcome::Existing)
        );
        assert_eq!(a, b);
        assert_eq!(count(store), 1);
        // A batch reusing the key is refused whole.
        let mut other = draft("+493012345670", "sales", 60);
        other.idempotency_key = Some("ivr:call-1".into());
        let err = store
            .create_batch(&[draft("+493012345671", "sales", 1), other], t(0))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "idempotency_key",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(count(store), 1);
    });
}

#[test]
fn an_idempotency_key_replayed_with_another_request_is_refused() {
    // The digest kept with the key: same request, the first callback; another, refused, nothing stored.
    on_each(|b| {
        let store = &*b.store;
        let mut d = draft("+493012345678", "sales", 60);
        d.idempotency_key = Some("key:web:form-1".into());
        let with = |hash: &str| CreateOptions {
            request_hash: Some(hash.into()),
            actor: Some("api:web".into()),
            ..CreateOptions::default()
        };
        let (a, first) = store.create(&d, &with("aaaa"), t(0)).unwrap();
        let (again, second) = store.create(&d, &with("aaaa"), t(5)).unwrap();
        assert_eq!(
            (first, second),
            (CreateOutcome::Created, CreateOutcome::Existing)
        );
        assert_eq!(a, again);
        let mut other = draft("+493099999999", "sales", 60);
        other.idempotency_key = d.idempotency_key.clone();
        let err = store.create(&other, &with("bbbb"), t(6)).unwrap_err();
        assert!(matches!(err, StoreError::IdempotencyMismatch), "{err}");
        assert_eq!(count(store), 1);
        // The trace names who created it.
        let events = store.events(a.id).unwrap();
        assert_eq!(events[0].actor.as_deref(), Some("api:web"));
        assert_eq!(events.len(), 1, "a refused replay writes nothing");
    });
}

#[test]
fn a_numbers_open_callbacks_are_those_waiting_or_being_dispatched() {
    // What the per-number cap counts: not another number's, not a finished one.
    on_each(|b| {
        let store = &*b.store;
        let opts = CreateOptions::default();
        let (a, _) = store
            .create(&draft("+493012345678", "sales", 0), &opts, t(0))
            .unwrap();
        let (c, _) = store
            .create(&draft("+493012345678", "sales", 60), &opts, t(0))
            .unwrap();
        let (gone, _) = store
            .create(&draft("+493012345678", "sales", 60), &opts, t(0))
            .unwrap();
        store
            .create(&draft("+493099999999", "sales", 60), &opts, t(0))
            .unwrap();
        store
            .transition(gone.id, &move_to(State::Cancelled, None), t(1))
            .unwrap();
        let claimed = store
            .claim_due("node-a", t(10), Duration::minutes(5), 10)
            .unwrap();
        assert!(claimed.iter().any(|r| r.id == a.id), "{claimed:?}");
        let open: Vec<_> = store
            .open_for_number("+493012345678")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(open, vec![a.id, c.id]);
    });
}

#[test]
fn merge_pending_appends_the_remark_to_the_waiting_callback() {
    // A second request for the same number and queue joins the pending one, its remark appended once.
    on_each(|b| {
        let store = &*b.store;
        let merge = CreateOptions {
            merge_pending: true,
            slot: None,
            ..CreateOptions::default()
        };
        let mut d = draft("+493012345678", "sales", 60);
        d.remark = Some("first".into());
        let (a, _) = store.create(&d, &merge, t(0)).unwrap();
        d.remark = Some("second".into());
        let (b, outcome) = store.create(&d, &merge, t(10)).unwrap();
        assert_eq!(outcome, CreateOutcome::Merged);
        assert_eq!(b.id, a.id);
        assert_eq!(b.remark.as_deref(), Some("first\nsecond"));
        // The same remark again, or none, adds nothing.
        let (c, _) = store.create(&d, &merge, t(20)).unwrap();
        assert_eq!(c.remark.as_deref(), Some("first\nsecond"));
        d.remark = None;
        let (c, outcome) = store.create(&d, &merge, t(30)).unwrap();
        assert_eq!(
            (c.remark.as_deref(), outcome),
            (Some("first\nsecond"), CreateOutcome::Merged)
        );
        assert_eq!(count(store), 1);
        let actions: Vec<String> = store
            .events(a.id)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["created", "merge", "merge", "merge"]);
        // Another queue, or no merging asked for, stores a new callback.
        let (other, o) = store
            .create(&draft("+493012345678", "support", 60), &merge, t(40))
            .unwrap();
        assert_eq!(o, CreateOutcome::Created);
        assert_ne!(other.id, a.id);
        let (_, o) = store.create(&d, &CreateOptions::default(), t(50)).unwrap();
        assert_eq!(o, CreateOutcome::Created);
        // Once the first is no longer pending, a new request is not merged into it.
        store
            .transition(a.id, &move_to(State::Cancelled, None), t(60))
            .unwrap();
        let (_, o) = store
            .create(&draft("+493012345678", "support", 60), &merge, t(70))
            .unwrap();
        assert_eq!(o, CreateOutcome::Merged);
        assert_eq!(count(store), 3);
    });
}

#[test]
fn a_full_slot_refuses_the_request_and_writes_nothing() {
    // Slot capacity counts live callbacks of the queue in [start, end) and refuses atomically.
    on_each(|b| {
        let store = &*b.store;
        let slot = CreateOptions {
            merge_pending: false,
            slot: Some((t(3600), t(7200), 2)),
            ..CreateOptions::default()
        };
        let a = store
            .create(&draft("+493012345671", "sales", 3600), &slot, t(0))
            .unwrap()
            .0;
        store
            .create(&draft("+493012345672", "sales", 7199), &slot, t(0))
            .unwrap();
        // Outside the slot, or another queue: not counted.
        store
            .create(
                &draft("+493012345673", "sales", 7200),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        store
            .create(
                &draft("+493012345674", "other", 4000),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        assert_eq!(
            store.count_due_between("sales", t(3600), t(7200)).unwrap(),
            2
        );
        let before = count(store);
        let err = store
            .create(&draft("+493012345675", "sales", 5000), &slot, t(0))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::SlotFull { capacity: 2, .. }),
            "{err}"
        );
        assert_eq!(count(store), before);
        // A claimed callback still holds its place; a cancelled one frees it.
        store
            .claim_due("w1", t(3600), Duration::seconds(60), 1)
            .unwrap();
        assert_eq!(
            store.count_due_between("sales", t(3600), t(7200)).unwrap(),
            2
        );
        store
            .transition(a.id, &move_to(State::Cancelled, None), t(3601))
            .unwrap();
        assert_eq!(
            store.count_due_between("sales", t(3600), t(7200)).unwrap(),
            1
        );
        store
            .create(&draft("+493012345675", "sales", 5000), &slot, t(3602))
            .unwrap();
    });
}

#[test]
fn malformed_input_is_refused_with_nothing_written() {
    // Bad keys, numbers, queues, zones and states are refused by field and leave no row or event behind.
    on_each(|b| {
        let store = &*b.store;
        store
            .create(
                &draft("+493012345678", "sales", 60),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let events_before = b.raw.count("events");
        let bad_keys = [
            String::new(),
            "k".repeat(161),
            "has space".into(),
            "semi;colon".into(),
            "slash/".into(),
            "ключ".into(),
            "new\nline".into(),
        ];
        for key in bad_keys {
            let mut d = draft("+493012345679", "sales", 60);
            d.idempotency_key = Some(key.clone());
            let err = store
                .create(&d, &CreateOptions::default(), t(0))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::Invalid {
                        field: "idempotency_key",
                        ..
                    }
                ),
                "{key:?}: {err}"
            );
        }
        let mut ok = draft("+493012345679", "sales", 60);
        ok.idempotency_key = Some("k".repeat(128));
        store.create(&ok, &CreateOptions::default(), t(0)).unwrap();
        let events_before = events_before + 1;

        for number in [
            "",
            "12345",
            "+0123456",
            "+49 30 1234",
            "+4930-1234",
            "+1",
            "+1234567890123456",
            "${x}",
        ] {
            let err = store
                .create(&draft(number, "sales", 60), &CreateOptions::default(), t(0))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::Invalid {
                        field: "number",
                        ..
                    }
                ),
                "{number:?}: {err}"
            );
        }
        let err = store
            .create(
                &draft("+493012345670", " ", 60),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "queue", .. }),
            "{err}"
        );
        let mut d = draft("+493012345670", "sales", 60);
        d.time_zone = "Mars/Olympus".into();
        let err = store
            .create(&d, &CreateOptions::default(), t(0))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "time_zone",
                    ..
                }
            ),
            "{err}"
        );
        let mut d = draft("+493012345670", "sales", 60);
        d.state = State::Completed;
        let err = store
            .create(&d, &CreateOptions::default(), t(0))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "state", .. }),
            "{err}"
        );
        d.state = State::Scheduled;
        d.due_at = None;
        let err = store
            .create(&d, &CreateOptions::default(), t(0))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "due_at",
                    ..
                }
            ),
            "{err}"
        );
        // One bad draft in a batch refuses the whole batch.
        let err = store
            .create_batch(
                &[draft("+493012345601", "sales", 1), draft("123", "sales", 1)],
                t(0),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "number",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(count(store), 2);
        assert_eq!(b.raw.count("events"), events_before);
        // Do-not-call takes E.164 only.
        assert!(matches!(
            store.dnc_add("0301234", None, t(0)),
            Err(StoreError::Invalid {
                field: "number",
                ..
            })
        ));
    });
}

#[test]
fn transitions_follow_the_lifecycle_and_the_expected_state() {
    // Only the lifecycle's moves are stored; an outdated expectation is refused; each move is traced.
    on_each(|b| {
        let store = &*b.store;
        let mut req = draft("+493012345678", "sales", 60);
        req.state = State::Requested;
        req.due_at = None;
        let (r, _) = store.create(&req, &CreateOptions::default(), t(0)).unwrap();
        // Not claimable: it has no due time.
        assert!(store
            .claim_due("w", t(1_000_000), Duration::seconds(30), 10)
            .unwrap()
            .is_empty());
        let err = store
            .transition(r.id, &move_to(State::Due, None), t(1))
            .unwrap_err();
        assert!(matches!(err, StoreError::Transition(_)), "{err}");
        // Scheduling needs a due time.
        let err = store
            .transition(r.id, &move_to(State::Scheduled, None), t(1))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "due_at",
                    ..
                }
            ),
            "{err}"
        );
        let mut sched = move_to(State::Scheduled, None);
        sched.due_at = Some(t(100));
        sched.expect = Some(State::Requested);
        sched.actor = Some("fs_cli".into());
        sched.detail = Some("confirmed".into());
        let r = store.transition(r.id, &sched, t(2)).unwrap();
        assert_eq!(
            (r.state, r.due_at, r.updated_at),
            (State::Scheduled, Some(t(100)), t(2))
        );
        let err = store.transition(r.id, &sched, t(3)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::StateChanged {
                    expected: State::Requested,
                    actual: State::Scheduled,
                    ..
                }
            ),
            "{err}"
        );
        let err = store
            .transition(r.id, &move_to(State::Connected, None), t(3))
            .unwrap_err();
        assert!(matches!(err, StoreError::Transition(_)), "{err}");
        // A person moves it to another queue with a new time and resets the attempt count.
        let mut failover = move_to(State::Rescheduled, None);
        failover.queue = Some("overflow".into());
        failover.due_at = Some(t(200));
        failover.reset_attempts = true;
        let r = store.transition(r.id, &failover, t(4)).unwrap();
        assert_eq!(
            (r.state, r.queue.as_str(), r.due_at),
            (State::Rescheduled, "overflow", Some(t(200)))
        );
        let mut empty_queue = move_to(State::Rescheduled, None);
        empty_queue.queue = Some(String::new());
        assert!(matches!(
            store.transition(r.id, &empty_queue, t(5)),
            Err(StoreError::Invalid { field: "queue", .. })
        ));
        let done = store
            .transition(r.id, &move_to(State::Expired, None), t(6))
            .unwrap();
        assert_eq!(done.state, State::Expired);
        let err = store
            .transition(r.id, &move_to(State::Cancelled, None), t(7))
            .unwrap_err();
        assert!(matches!(err, StoreError::Transition(_)), "{err}");
        let trace: Vec<(Option<State>, State, String)> = store
            .events(r.id)
            .unwrap()
            .into_iter()
            .map(|e| (e.from, e.to, e.action))
            .collect();
        assert_eq!(
            trace,
            vec![
                (None, State::Requested, "created".to_string()),
                (Some(State::Requested), State::Scheduled, "test".into()),
                (Some(State::Scheduled), State::Rescheduled, "test".into()),
                (Some(State::Rescheduled), State::Expired, "test".into()),
            ]
        );
        let e = &store.events(r.id).unwrap()[1];
        assert_eq!(
            (e.actor.as_deref(), e.detail.as_deref()),
            (Some("fs_cli"), Some("confirmed"))
        );
        assert!(matches!(
            store.transition(4242, &move_to(State::Cancelled, None), t(8)),
            Err(StoreError::NotFound(4242))
        ));
    });
}

#[test]
fn lease_rules_guard_every_change_to_a_claimed_callback() {
    // Only the live holder may move a claimed callback; people wait, except that side exits win.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 10),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let (b, _) = store
            .create(
                &draft("+493012345679", "sales", 11),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let claimed = store
            .claim_due("w1", t(20), Duration::seconds(30), 10)
            .unwrap();
        assert_eq!(claimed.len(), 2);
        assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
        assert_eq!(claimed[0].lease_expires, Some(t(50)));

        // Another owner, or nobody, cannot move it while the lease lives.
        let err = store
            .transition(a.id, &move_to(State::Offering, Some("w2")), t(21))
            .unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
        let mut later = move_to(State::Rescheduled, None);
        later.due_at = Some(t(900));
        let err = store.transition(a.id, &later, t(21)).unwrap_err();
        match err {
            StoreError::Leased { owner, until, .. } => {
                assert_eq!((owner.as_str(), until), ("w1", t(50)))
            }
            other => panic!("{other}"),
        }
        // The holder can; the lease stays while active and is cleared when it goes back to waiting.
        let r = store
            .transition(a.id, &move_to(State::Offering, Some("w1")), t(22))
            .unwrap();
        assert_eq!(
            (r.state, r.lease_owner.as_deref()),
            (State::Offering, Some("w1"))
        );
        assert_eq!(
            store.events(a.id).unwrap().last().unwrap().actor.as_deref(),
            Some("w1")
        );
        let mut back = move_to(State::Rescheduled, Some("w1"));
        back.due_at = Some(t(40));
        let r = store.transition(a.id, &back, t(23)).unwrap();
        assert_eq!((r.lease_owner, r.lease_expires), (None, None));
        // Nobody holds it now: the old holder cannot act on it.
        let err = store
            .transition(a.id, &move_to(State::Due, Some("w1")), t(24))
            .unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");

        // Cancel wins over a live lease and clears it.
        let r = store
            .transition(b.id, &move_to(State::Cancelled, None), t(25))
            .unwrap();
        assert_eq!((r.state, r.lease_owner), (State::Cancelled, None));

        // After expiry the old holder is refused, and another owner takes it over.
        let (c, _) = store
            .create(
                &draft("+493012345670", "sales", 30),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        store
            .claim_due("w1", t(30), Duration::seconds(10), 1)
            .unwrap();
        let r = store
            .transition(c.id, &move_to(State::Offering, Some("w1")), t(31))
            .unwrap();
        assert_eq!(r.lease_expires, Some(t(40)));
        let err = store
            .transition(c.id, &move_to(State::Previewing, Some("w1")), t(40))
            .unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
        // A person may act on an expired lease (nobody holds it).
        let mut admin = move_to(State::Due, None);
        admin.expect = Some(State::Offering);
        let r = store.transition(c.id, &admin, t(41)).unwrap();
        assert_eq!((r.state, r.lease_owner.as_deref()), (State::Due, None));
        // ... and the next claim takes it over at once.
        let taken = store
            .claim_due("w2", t(41), Duration::seconds(10), 10)
            .unwrap();
        let ids: Vec<_> = taken.iter().map(|r| r.id).collect();
        assert!(ids.contains(&c.id), "{ids:?}");
        let r = store
            .transition(c.id, &move_to(State::Offering, Some("w2")), t(42))
            .unwrap();
        assert_eq!(r.lease_owner.as_deref(), Some("w2"));
    });
}

#[test]
fn claims_take_the_oldest_due_first_up_to_the_limit() {
    // Due rows are claimed by due time then id, never before they are due, at most `limit` at a time.
    on_each(|b| {
        let store = &*b.store;
        let dues = [50, 10, 30, 10, 20, 1000];
        let mut ids = Vec::new();
        for (i, due) in dues.iter().enumerate() {
            let d = draft(&format!("+4930123456{i:02}"), "sales", *due);
            ids.push(
                store
                    .create(&d, &CreateOptions::default(), t(0))
                    .unwrap()
                    .0
                    .id,
            );
        }
        assert_eq!(store.next_wakeup().unwrap(), Some(t(10)));
        let first = store
            .claim_due("w", t(100), Duration::seconds(60), 3)
            .unwrap();
        let got: Vec<_> = first.iter().map(|r| r.id).collect();
        assert_eq!(got, vec![ids[1], ids[3], ids[4]]);
        assert!(first.iter().all(|r| r.state == State::Due));
        let next = store
            .claim_due("w", t(100), Duration::seconds(60), 3)
            .unwrap();
        let got: Vec<_> = next.iter().map(|r| r.id).collect();
        assert_eq!(got, vec![ids[2], ids[0]]);
        assert!(store
            .claim_due("w", t(100), Duration::seconds(60), 3)
            .unwrap()
            .is_empty());
        assert!(store
            .claim_due("w", t(100), Duration::seconds(60), 0)
            .unwrap()
            .is_empty());
        // The next wake-up is now the first lease expiry, sooner than the last due time.
        assert_eq!(store.next_wakeup().unwrap(), Some(t(160)));
        let e = store.events(ids[1]).unwrap();
        assert_eq!(e[1].action, "claim");
        assert_eq!((e[1].from, e[1].to), (Some(State::Scheduled), State::Due));
        assert_eq!(e[1].actor.as_deref(), Some("w"));
        assert_eq!(
            e[1].detail.as_deref(),
            Some(format!("lease_until={}", t(160).timestamp()).as_str())
        );
    });
}

#[test]
fn the_dispatch_counters_are_kept_on_the_row_and_backfilled_from_the_trace() {
    // Waits in a row (reset by any other transition, not by a claim), failovers and the
    // first claim are columns the store keeps; a database of schema 8, which has only the
    // trace, gets the same values when it migrates.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        assert_eq!(a.counts, DispatchCounts::default());
        let claim = |at: i64| {
            let c = store
                .claim_due("w", t(at), Duration::seconds(60), 1)
                .unwrap();
            assert_eq!(c.len(), 1, "nothing claimed at {at}");
            c[0].clone()
        };
        let from_due = |action: &str, due: i64| {
            let mut x = Transition::new(State::Rescheduled, action);
            x.expect = Some(State::Due);
            x.owner = Some("w".into());
            x.due_at = Some(t(due));
            x
        };
        let wait = |at: i64, due: i64| {
            let mut x = from_due("wait", due);
            x.wait = true;
            store.transition(a.id, &x, t(at)).unwrap()
        };
        let first = claim(1);
        assert_eq!(first.counts.first_claimed_at, Some(t(1)));
        assert_eq!(wait(1, 10).counts.waits, 1);
        assert_eq!(claim(10).counts.first_claimed_at, Some(t(1)));
        assert_eq!(wait(10, 20).counts.waits, 2);
        claim(20);
        let mut failover = from_due("failover", 30);
        failover.failover = true;
        failover.queue = Some("support".into());
        failover.reset_attempts = true;
        let r = store.transition(a.id, &failover, t(20)).unwrap();
        assert_eq!((r.counts.waits, r.counts.failovers), (0, 1));
        claim(30);
        let r = wait(30, 40);
        let want = DispatchCounts {
            waits: 1,
            failovers: 1,
            first_claimed_at: Some(t(1)),
        };
        assert_eq!(r.counts, want);
        assert_eq!(store.get(a.id).unwrap().counts, want);

        b.raw.execute(
            "ALTER TABLE callbacks DROP COLUMN waits; \
             ALTER TABLE callbacks DROP COLUMN failovers; \
             ALTER TABLE callbacks DROP COLUMN first_claimed_at;",
        );
        b.raw.execute(match &b.raw {
            Raw::Sqlite(_) => "PRAGMA user_version = 8",
            Raw::Pg(_) => "UPDATE callback_schema SET version = 8",
        });
        let migrated = b.open_again().unwrap();
        assert_eq!(migrated.get(a.id).unwrap().counts, want);
        assert_eq!(schema_version(&b.raw), 9);
    });
}

#[test]
fn a_claim_made_early_is_stamped_when_it_happened_and_listed_before_the_offer() {
    // A dispatcher claiming 25 ms ahead across a second boundary: the callback due at the
    // next second is claimed, the claim and its lease are stamped at the instant it was made
    // (not the instant it looked up to), and the trace lists created, claim, offer in the
    // order they happened with times that never go back.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 1),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let now = t(0) + Duration::milliseconds(990);
        let ahead = Duration::milliseconds(25);
        // Not yet due without the look-ahead...
        assert!(store
            .claim_due("w", now, Duration::seconds(60), 1)
            .unwrap()
            .is_empty());
        // ...due within it.
        let claimed = store
            .claim_due_ahead("w", now, ahead, Duration::seconds(60), 1)
            .unwrap();
        assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
        // The lease runs from the claim (rounded up to the second), not from the look-ahead.
        assert_eq!(claimed[0].lease_expires, Some(t(61)));
        // The offer happens at the due instant, after the claim.
        store
            .transition(a.id, &move_to(State::Offering, Some("w")), t(1))
            .unwrap();
        let e = store.events(a.id).unwrap();
        let got: Vec<(&str, DateTime<Utc>)> = e.iter().map(|e| (e.action.as_str(), e.at)).collect();
        assert_eq!(got, [("created", t(0)), ("claim", t(0)), ("test", t(1))]);
        assert!(e.windows(2).all(|w| w[0].id < w[1].id));
        // A lease that lapses within the look-ahead is taken over (the dispatcher woke for
        // it), and the reclaim too is stamped when it happened.
        let (b2, _) = store
            .create(
                &draft("+493012345679", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let held = store
            .claim_due("dead", t(2), Duration::seconds(8), 1)
            .unwrap();
        assert_eq!(held[0].id, b2.id);
        assert_eq!(held[0].lease_expires, Some(t(10)));
        let now = t(9) + Duration::milliseconds(990);
        let taken = store
            .claim_due_ahead("w2", now, ahead, Duration::seconds(60), 1)
            .unwrap();
        assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), [b2.id]);
        let e = store.events(b2.id).unwrap();
        assert_eq!(
            (e.last().unwrap().action.as_str(), e.last().unwrap().at),
            ("reclaim", t(9))
        );
        // A negative look-ahead is refused and claims nothing.
        let err = store
            .claim_due_ahead(
                "w",
                now,
                Duration::milliseconds(-1),
                Duration::seconds(60),
                1,
            )
            .unwrap_err();
        assert!(err.to_string().contains("ahead"), "{err}");
    });
}

#[test]
fn an_expired_lease_is_reclaimed_with_its_state_kept() {
    // A crashed owner's callback is taken over after its lease runs out, in the state it reached.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        store
            .claim_due("dead", t(1), Duration::seconds(10), 1)
            .unwrap();
        store
            .transition(a.id, &move_to(State::Offering, Some("dead")), t(2))
            .unwrap();
        store
            .renew_lease(a.id, "dead", t(5), Duration::seconds(10))
            .unwrap();
        assert!(matches!(
            store.renew_lease(a.id, "other", t(5), Duration::seconds(10)),
            Err(StoreError::LeaseLost { .. })
        ));
        assert!(matches!(
            store.renew_lease(777, "dead", t(5), Duration::seconds(10)),
            Err(StoreError::NotFound(777))
        ));
        // Still live at 14 (renewed until 15).
        assert!(store
            .claim_due("w2", t(14), Duration::seconds(10), 5)
            .unwrap()
            .is_empty());
        assert_eq!(store.next_wakeup().unwrap(), Some(t(15)));
        let taken = store
            .claim_due("w2", t(15), Duration::seconds(10), 5)
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].state, State::Offering);
        assert_eq!(taken[0].lease_owner.as_deref(), Some("w2"));
        assert_eq!(taken[0].lease_expires, Some(t(25)));
        let e = store.events(a.id).unwrap().pop().unwrap();
        assert_eq!(e.action, "reclaim");
        assert_eq!((e.from, e.to), (Some(State::Offering), State::Offering));
        let until_old = t(15).timestamp();
        let until_new = t(25).timestamp();
        assert_eq!(
            e.detail.as_deref(),
            Some(
                format!("lease_until={until_new} previous=dead previous_until={until_old}")
                    .as_str()
            )
        );
        // The dead owner can no longer renew or move it.
        assert!(matches!(
            store.renew_lease(a.id, "dead", t(16), Duration::seconds(10)),
            Err(StoreError::LeaseLost { .. })
        ));
        assert!(matches!(
            store.transition(a.id, &move_to(State::Previewing, Some("dead")), t(16)),
            Err(StoreError::LeaseLost { .. })
        ));
    });
}

#[test]
fn two_connections_claiming_at_once_never_share_a_callback() {
    // Two stores on one database (two connections: two processes or nodes), claiming
    // concurrently from two threads, never get the same id and together get them all.
    on_each(|b| {
        let store = &*b.store;
        let drafts: Vec<Draft> = (0..400)
            .map(|i| draft(&format!("+4930{:08}", 10_000_000 + i), "sales", i % 50))
            .collect();
        store.create_batch(&drafts, t(0)).unwrap();
        let run = |owner: &'static str| {
            let s: Arc<dyn Store> = Arc::from(b.open_again().unwrap());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let got = s.claim_due(owner, t(100), Duration::hours(1), 7).unwrap();
                    if got.is_empty() {
                        break;
                    }
                    mine.extend(got.into_iter().map(|r| r.id));
                }
                mine
            })
        };
        let (a, b) = (run("a"), run("b"));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let sa: HashSet<_> = a.iter().copied().collect();
        let sb: HashSet<_> = b.iter().copied().collect();
        assert_eq!(sa.len(), a.len());
        assert_eq!(sb.len(), b.len());
        assert!(sa.is_disjoint(&sb));
        assert_eq!(sa.len() + sb.len(), 400);
    });
}

#[test]
fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    // Migrations run once; a database from a newer build is refused with a clear message.
    on_each(|b| {
        let (a, _) = b
            .store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let again = b.open_again().unwrap();
        assert_eq!(again.get(a.id).unwrap(), a);
        // 1: callbacks; 2: the transcription queue; 3: priority; 4: cheaper callback indexes;
        // 5: webhook cursors; 6: the agent panel's indexes; 7: agents shared by nodes.
        assert_eq!(schema_version(&b.raw), 9);
        drop(again);
        match &b.raw {
            Raw::Sqlite(_) => b.raw.execute("PRAGMA user_version = 99"),
            Raw::Pg(_) => b.raw.execute("UPDATE callback_schema SET version = 99"),
        }
        let msg = match b.open_again() {
            Ok(_) => panic!("a newer schema was opened"),
            Err(e) => e.to_string(),
        };
        assert!(
            msg.contains("schema version 99") && msg.contains("newer"),
            "{msg}"
        );
    });
}

fn schema_version(raw: &Raw) -> i64 {
    match raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        Raw::Pg(s) => s
            .client()
            .query_one("SELECT version FROM callback_schema", &[])
            .unwrap()
            .get(0),
    }
}

#[test]
fn both_schemas_have_the_same_tables_and_columns() {
    // The PostgreSQL migrations build the SQLite tables, column for column in order, so one
    // mapping reads both (the version table is PostgreSQL's user_version).
    if !backends::pg_available() {
        return;
    }
    let sqlite = Backend::sqlite();
    let pg = Backend::postgres();
    let mut pg_tables = pg.raw.tables();
    pg_tables.retain(|(t, _)| t != "callback_schema");
    assert_eq!(sqlite.raw.tables(), pg_tables);
    assert_eq!(pg_tables.len(), 7, "{pg_tables:?}");
}

#[test]
fn nodes_starting_together_migrate_once() {
    // Several nodes opening a new database at the same moment: the advisory lock lets one
    // migrate and the others find it done; all of them then work on the same tables.
    if !backends::pg_available() {
        return;
    }
    let schema = backends::PgSchema::new();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = schema.url.clone();
            std::thread::spawn(move || PgStore::open(&url))
        })
        .collect();
    let stores: Vec<PgStore> = opened
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let (a, _) = stores[0]
        .create(
            &draft("+493012345678", "sales", 0),
            &CreateOptions::default(),
            t(0),
        )
        .unwrap();
    assert_eq!(stores[3].get(a.id).unwrap(), a);
    assert_eq!(schema_version(&Raw::Pg(schema)), 9);
}

#[test]
fn nodes_creating_at_once_keep_keys_merges_and_slot_capacity() {
    // The idempotency key, the merge rule and slot capacity hold across connections racing
    // on one database: 8 threads each create the same keyed request, the same number's
    // request, and one of 8 requests for a slot of 3.
    on_each(|b| {
        let go = Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s: Arc<dyn Store> = Arc::from(b.open_again().unwrap());
                let go = go.clone();
                std::thread::spawn(move || {
                    let mut keyed = draft("+493012345600", "sales", 60);
                    keyed.idempotency_key = Some("web:same".into());
                    go.wait();
                    let k = s.create(&keyed, &CreateOptions::default(), t(i)).unwrap();
                    let merge = CreateOptions {
                        merge_pending: true,
                        slot: None,
                        ..CreateOptions::default()
                    };
                    go.wait();
                    let m = s
                        .create(&draft("+493012345601", "sales", 60), &merge, t(i))
                        .unwrap();
                    // A slot of 3 in another queue: 8 different numbers race for it.
                    let slot = CreateOptions {
                        merge_pending: false,
                        slot: Some((t(3600), t(7200), 3)),
                        ..CreateOptions::default()
                    };
                    go.wait();
                    let placed = s.create(
                        &draft(&format!("+49301234570{i}"), "slots", 3600 + i),
                        &slot,
                        t(i),
                    );
                    let placed = match placed {
                        Ok(_) => true,
                        Err(StoreError::SlotFull { capacity: 3, .. }) => false,
                        Err(e) => panic!("{e}"),
                    };
                    (k.0.id, m.0.id, placed)
                })
            })
            .collect();
        let got: Vec<(i64, i64, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ids: Vec<(i64, i64)> = got.iter().map(|g| (g.0, g.1)).collect();
        assert!(ids.iter().all(|x| *x == ids[0]), "{ids:?}");
        assert_eq!(got.iter().filter(|g| g.2).count(), 3, "{got:?}");
        assert_eq!(count(&*b.store), 5);
    });
}

#[test]
fn a_broken_connection_is_opened_again() {
    // The server drops the store's connection (restart, network, an admin): at most the call
    // that meets the break fails, with a backend error, and the next one works again.
    if !backends::pg_available() {
        return;
    }
    let b = Backend::postgres();
    let (a, _) = b
        .store
        .create(
            &draft("+493012345678", "sales", 0),
            &CreateOptions::default(),
            t(0),
        )
        .unwrap();
    let Raw::Pg(schema) = &b.raw else {
        unreachable!()
    };
    let killed: i64 = schema
        .client()
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()) k",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "the store's one connection");
    // pg_terminate_backend only signals the server process: wait until it is gone, so the
    // next call is the one that meets the break.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left: i64 = schema
            .client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&schema.name],
            )
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backend did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    match b.store.get(a.id) {
        Ok(r) => assert_eq!(r, a),
        Err(e) => assert!(matches!(e, StoreError::Backend(_)), "{e}"),
    }
    assert_eq!(b.store.get(a.id).unwrap(), a);
}

#[test]
fn a_corrupt_value_is_an_error_naming_its_column() {
    // An unknown enum text in the file becomes a backend error naming the column, not a panic.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        b.raw.execute(&format!(
            "UPDATE callbacks SET kind = 'urgent' WHERE id = {}",
            a.id
        ));
        let err = store.get(a.id).unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err}");
        assert!(err.to_string().contains("column kind"), "{err}");
        b.raw.execute(&format!(
            "UPDATE callbacks SET kind = 'immediate', ivr_data = '[1]' WHERE id = {}",
            a.id
        ));
        assert!(store
            .get(a.id)
            .unwrap_err()
            .to_string()
            .contains("column ivr_data"));
    });
}

#[test]
fn do_not_call_is_idempotent_and_keeps_the_first_date() {
    // Adding twice keeps one entry with the first date; removal reports whether it was there.
    on_each(|b| {
        let store = &*b.store;
        store.dnc_add("+493012345678", Some("asked"), t(0)).unwrap();
        store.dnc_add("+493012345678", None, t(100)).unwrap();
        store.dnc_add("+12125550142", None, t(5)).unwrap();
        assert!(store.dnc_contains("+493012345678").unwrap());
        assert!(!store.dnc_contains("+493012345679").unwrap());
        let list = store.dnc_list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].number, "+493012345678");
        assert_eq!(
            (list[1].reason.as_deref(), list[1].added_at),
            (Some("asked"), t(0))
        );
        assert!(store.dnc_remove("+493012345678").unwrap());
        assert!(!store.dnc_remove("+493012345678").unwrap());
        assert!(!store.dnc_contains("+493012345678").unwrap());
    });
}

#[test]
fn stats_count_callbacks_by_queue_and_state() {
    // Stats group by queue and state, sorted by queue then lifecycle order.
    on_each(|b| {
        let store = &*b.store;
        for (i, q) in ["sales", "support", "sales", "sales"].iter().enumerate() {
            store
                .create(
                    &draft(&format!("+49301234567{i}"), q, i as i64),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap();
        }
        store
            .claim_due("w", t(0), Duration::seconds(30), 1)
            .unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(
            stats.by_queue_state,
            vec![
                ("sales".to_string(), State::Scheduled, 2),
                ("sales".to_string(), State::Due, 1),
                ("support".to_string(), State::Scheduled, 1),
            ]
        );
    });
}

#[test]
fn figures_count_attempt_results_jobs_and_transcription_times() {
    // What /metrics reads: finished attempts by queue, leg and result (unfinished ones not
    // counted), transcription jobs by state, and the finished jobs' times per bound.
    on_each(|b| {
        let store = &*b.store;
        let mut ids = Vec::new();
        for (i, q) in ["sales", "support"].iter().enumerate() {
            let (r, _) = store
                .create(
                    &draft(&format!("+49301234567{i}"), q, 0),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap();
            ids.push(r.id);
        }
        for (id, leg, result) in [
            (ids[0], "agent", Some("answered")),
            (ids[0], "customer", Some("no-answer")),
            (ids[0], "customer", Some("no-answer")),
            (ids[1], "customer", Some("answered")),
            (ids[1], "customer", None),
        ] {
            let result = result.map_or("NULL".to_string(), |r| format!("'{r}'"));
            b.raw.execute(&format!(
                "INSERT INTO attempts (callback_id, leg, attempt_no, started_at, result) \
                 VALUES ({id}, '{leg}', 1, 0, {result})"
            ));
        }
        for (state, ms) in [
            ("done", Some(300)),
            ("done", Some(1500)),
            ("done", Some(40_000)),
            ("queued", None),
            ("failed", None),
        ] {
            let ms = ms.map_or("NULL".to_string(), |m: i64| m.to_string());
            b.raw.execute(&format!(
                "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
                 processing_ms, created_at, updated_at) VALUES ({}, 'x.wav', '{state}', 0, {ms}, 0, 0)",
                ids[0]
            ));
        }
        let f = store.figures(&[500, 2000, 60_000]).unwrap();
        let s = |x: &str| x.to_string();
        assert_eq!(
            f.attempts,
            vec![
                (s("sales"), s("agent"), s("answered"), 1),
                (s("sales"), s("customer"), s("no-answer"), 2),
                (s("support"), s("customer"), s("answered"), 1),
            ]
        );
        assert_eq!(
            f.transcription_jobs,
            vec![(s("done"), 3), (s("failed"), 1), (s("queued"), 1)]
        );
        assert_eq!(f.transcription_ms.count, 3);
        assert_eq!(f.transcription_ms.sum, 41_800.0);
        assert_eq!(f.transcription_ms.cumulative, vec![1, 2, 3]);
    });
}

#[test]
fn purge_forgets_what_was_said_but_keeps_the_transcription_times() {
    // A purged callback's jobs lose their text, segments and file but keep their timing,
    // so /metrics' histogram never goes down; a job still waiting is failed (no worker
    // transcribes a deleted file); a second purge finds nothing more to do.
    on_each(|b| {
        let store = &*b.store;
        let (r, _) = store
            .create(
                &draft("+493012345670", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        for (state, text, ms) in [("done", "'call me'", "900"), ("queued", "NULL", "NULL")] {
            b.raw.execute(&format!(
                "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, text, \
                 processing_ms, created_at, updated_at) \
                 VALUES ({}, 'a.wav', '{state}', 0, {text}, {ms}, 0, 0)",
                r.id
            ));
        }
        let before = store.figures(&[1000]).unwrap().transcription_ms;
        let files = store.purge(None, Some(r.id), t(10)).unwrap();
        assert_eq!(files, vec!["a.wav".to_string()]);
        let rows = b.raw.texts(
            "SELECT state, wav_path, text, CAST(processing_ms AS TEXT), error \
             FROM transcriptions ORDER BY id",
        );
        let text = |v: &str| Some(v.to_string());
        assert_eq!(
            rows,
            vec![
                vec![text("done"), text(""), None, text("900"), None],
                vec![text("failed"), text(""), None, None, text("purged")],
            ]
        );
        assert_eq!(store.figures(&[1000]).unwrap().transcription_ms, before);
        assert!(store.purge(None, Some(r.id), t(20)).unwrap().is_empty());
        let purges = store
            .events(r.id)
            .unwrap()
            .iter()
            .filter(|e| e.action == "purge")
            .count();
        assert_eq!(purges, 1);
    });
}

#[test]
fn attempts_are_recorded_and_only_customer_legs_use_up_an_attempt() {
    // Agent legs carry the attempt they offer; customer legs count; only the holder starts legs.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let leg = |leg: Leg, agent: Option<&str>| NewAttempt {
            callback_id: a.id,
            leg,
            agent: agent.map(str::to_string),
            call_uuid: Some(format!("uuid-{leg}")),
        };
        // Not claimed: nobody holds it.
        assert!(matches!(
            store.start_attempt(&leg(Leg::Agent, Some("1001")), "w", t(1)),
            Err(StoreError::LeaseLost { .. })
        ));
        store
            .claim_due("w", t(1), Duration::seconds(60), 1)
            .unwrap();
        let rejected = store
            .start_attempt(&leg(Leg::Agent, Some("1001")), "w", t(2))
            .unwrap();
        assert_eq!(
            (rejected.attempt_no, rejected.leg, rejected.started_at),
            (1, Leg::Agent, t(2))
        );
        let end = |result: AttemptResult, answered: Option<i64>| AttemptEnd {
            answered_at: answered.map(t),
            hangup_cause: "CALL_REJECTED".into(),
            result,
        };
        let done = store
            .finish_attempt(rejected.id, &end(AttemptResult::Rejected, None), t(3))
            .unwrap();
        assert_eq!(
            (done.ended_at, done.result),
            (Some(t(3)), Some(AttemptResult::Rejected))
        );
        assert!(matches!(
            store.finish_attempt(rejected.id, &end(AttemptResult::Answered, None), t(4)),
            Err(StoreError::Invalid {
                field: "attempt_id",
                ..
            })
        ));
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 0);
        let agent = store
            .start_attempt(&leg(Leg::Agent, Some("1002")), "w", t(5))
            .unwrap();
        assert_eq!(agent.attempt_no, 1);
        let customer = store
            .start_attempt(&leg(Leg::Customer, None), "w", t(6))
            .unwrap();
        assert_eq!(customer.attempt_no, 1);
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 1);
        let answered = store
            .finish_attempt(customer.id, &end(AttemptResult::Answered, Some(7)), t(9))
            .unwrap();
        assert_eq!(answered.answered_at, Some(t(7)));
        // Handling time: answered agent legs only (the rejected one does not count).
        assert_eq!(store.handling_time("sales", 50).unwrap(), None);
        store
            .finish_attempt(agent.id, &end(AttemptResult::Answered, Some(5)), t(65))
            .unwrap();
        assert_eq!(
            store.handling_time("sales", 50).unwrap(),
            Some(Duration::seconds(60))
        );
        assert_eq!(store.handling_time("support", 50).unwrap(), None);
        let noted = store
            .set_disposition(customer.id, None, Some("sale"), Some("wants a brochure"))
            .unwrap();
        assert_eq!(
            (noted.disposition.as_deref(), noted.note.as_deref()),
            (Some("sale"), Some("wants a brochure"))
        );
        assert_eq!(noted.result, Some(AttemptResult::Answered));
        let fixed = store
            .set_disposition(customer.id, Some(AttemptResult::Machine), None, None)
            .unwrap();
        assert_eq!(
            (fixed.result, fixed.disposition.as_deref()),
            (Some(AttemptResult::Machine), Some("sale"))
        );
        // The next agent leg offers customer attempt 2; the second customer leg is attempt 2.
        assert_eq!(
            store
                .start_attempt(&leg(Leg::Agent, Some("1003")), "w", t(10))
                .unwrap()
                .attempt_no,
            2
        );
        assert_eq!(
            store
                .start_attempt(&leg(Leg::Customer, None), "w", t(11))
                .unwrap()
                .attempt_no,
            2
        );
        assert!(matches!(
            store.start_attempt(&leg(Leg::Customer, None), "intruder", t(12)),
            Err(StoreError::LeaseLost { .. })
        ));
        let all = store.attempts(a.id).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[2], fixed);
        assert_eq!(all[2].call_uuid.as_deref(), Some("uuid-customer"));
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 2);
        assert!(matches!(
            store.attempts(555),
            Err(StoreError::NotFound(555))
        ));
        assert!(matches!(
            store.set_disposition(555, None, None, None),
            Err(StoreError::Invalid {
                field: "attempt_id",
                ..
            })
        ));
        // After-call work is one transaction: an unknown attempt leaves no do-not-call entry;
        // a known one gets its disposition and the number is listed.
        assert!(store
            .wrap_up(
                555,
                None,
                Some("sale"),
                None,
                Some(("+12125550142", "agent")),
                t(20)
            )
            .is_err());
        assert!(!store.dnc_contains("+12125550142").unwrap());
        let done = store
            .wrap_up(
                customer.id,
                None,
                Some("no-interest"),
                Some("asked not to be called"),
                Some(("+12125550142", "agent")),
                t(21),
            )
            .unwrap();
        assert_eq!(done.disposition.as_deref(), Some("no-interest"));
        assert!(store.dnc_contains("+12125550142").unwrap());
    });
}

#[test]
fn offers_of_a_turn_are_written_together_and_a_refused_one_leaves_no_trace() {
    // Two claimed callbacks are offered in one call; a third, not held by the caller, is
    // refused with its own error and neither its transition nor its attempt is kept.
    on_each(|b| {
        let store = &*b.store;
        let ids = create_numbered(store, "+49301234567", 3);
        let claimed = store
            .claim_due("w", t(1), Duration::seconds(60), 2)
            .unwrap();
        assert_eq!(claimed.len(), 2);
        let offer = |id: i64| {
            let mut tr = move_to(State::Offering, Some("w"));
            tr.expect = Some(State::Due);
            let leg = NewAttempt {
                callback_id: id,
                leg: Leg::Agent,
                agent: Some(format!("agent-{id}")),
                call_uuid: None,
            };
            (id, tr, leg)
        };
        let out = store
            .start_offers(
                &ids.iter().map(|id| offer(*id)).collect::<Vec<_>>(),
                "w",
                t(2),
            )
            .unwrap();
        assert_eq!(out.len(), 3);
        for (id, o) in ids.iter().zip(&out).take(2) {
            let (r, a) = o.as_ref().unwrap();
            assert_eq!((r.id, r.state), (*id, State::Offering));
            assert_eq!(
                (a.callback_id, a.leg, a.started_at),
                (*id, Leg::Agent, t(2))
            );
        }
        assert!(out[2].is_err(), "{:?}", out[2]);
        let third = store.get(ids[2]).unwrap();
        assert_eq!(third.state, State::Scheduled);
        assert!(store.attempts(ids[2]).unwrap().is_empty());
        assert_eq!(store.events(ids[2]).unwrap().len(), 1);
    });
}

fn transcript(text: &str) -> TranscriptResult {
    TranscriptResult {
        text: text.into(),
        segments: vec![Segment {
            start_ms: 0,
            end_ms: 1200,
            text: text.into(),
        }],
        language: Some("en".into()),
        processing_ms: 1500,
        no_speech: None,
    }
}

#[test]
fn transcription_jobs_are_claimed_once_retried_and_taken_over() {
    // The job queue on each backend: a job is claimed once while its lease lives; a retry is
    // not claimable before its time; a lapsed claim is taken over and the old worker's late
    // result refused; a permanent failure keeps its reason.
    on_each(|b| {
        let q = b.transcripts();
        let lease = Duration::minutes(10);
        let id = q.enqueue(42, "/rec/42.wav", t(0)).unwrap();
        assert!(q.enqueue(42, " ", t(0)).is_err());
        let job = q.claim_next(t(0), lease).unwrap().unwrap();
        assert_eq!((job.id, job.callback_id, job.attempts), (id, 42, 1));
        assert!(q.claim_next(t(0), lease).unwrap().is_none());
        let at = t(30);
        q.fail(&job, "whisper failed", Retry::At(at), t(1)).unwrap();
        assert!(q.claim_next(t(29), lease).unwrap().is_none());
        let old = q.claim_next(at, lease).unwrap().unwrap();
        assert_eq!(old.attempts, 2);
        let new = q.claim_next(at + lease, lease).unwrap().unwrap();
        assert_eq!(new.attempts, 3);
        assert!(matches!(
            q.complete(&old, &transcript("late"), at + lease),
            Err(StoreError::LeaseLost { .. })
        ));
        q.complete(&new, &transcript("call me back"), at + lease)
            .unwrap();
        let row = b.store.transcription(42).unwrap().unwrap();
        assert_eq!(row.state, JobState::Done);
        assert_eq!(row.result, Some(transcript("call me back")));
        assert_eq!(row.error.as_deref(), Some("whisper failed"));

        q.enqueue(7, "/rec/7.wav", t(0)).unwrap();
        let job = q.claim_next(t(0), lease).unwrap().unwrap();
        q.fail(&job, "corrupt WAV", Retry::Never, t(0)).unwrap();
        assert!(q.claim_next(t(86_400), lease).unwrap().is_none());
        let row = b.store.transcription(7).unwrap().unwrap();
        assert_eq!(
            (row.state, row.error.as_deref()),
            (JobState::Failed, Some("corrupt WAV"))
        );
    });
}

#[test]
fn a_transcript_tags_routes_and_raises_a_waiting_request() {
    // A recorded request's job (queued in the create) stores its transcript with the rules:
    // tags added, the waiting request moved to the rule's queue and its priority raised,
    // which the next claim honours; the `transcribed` event says so.
    on_each(|b| {
        let mut d = draft("+493012345678", "support", 0);
        d.recording = Some(Recording {
            path: "/rec/1.wav".into(),
            duration_ms: 2000,
            sample_rate: 8000,
        });
        let (r, _) = b.store.create(&d, &CreateOptions::default(), t(0)).unwrap();
        let (plain, _) = b
            .store
            .create(
                &draft("+493012345679", "billing", -10),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let q = b.transcripts();
        let job = q.claim_next(t(1), Duration::minutes(10)).unwrap().unwrap();
        assert_eq!(job.callback_id, r.id);
        let rules = TagRules::new(vec![
            TagRule::words("intent=billing", "invoice, bill, refund")
                .unwrap()
                .with_queue("billing"),
            TagRule::regex("urgency=high", r"\b(urgent|asap)\b")
                .unwrap()
                .with_priority(10),
        ]);
        let done = q
            .complete_tagged(&job, &transcript("urgent: my bill is wrong"), &rules, t(2))
            .unwrap();
        let after = done.request.unwrap();
        assert_eq!(
            (after.queue.as_str(), after.priority),
            ("billing", 10),
            "{after:?}"
        );
        assert_eq!(
            done.queue,
            Some(("support".to_string(), "billing".to_string()))
        );
        assert_eq!(done.priority, Some((0, 10)));
        assert_eq!(
            after.tags.get("intent").map(String::as_str),
            Some("billing")
        );
        assert_eq!(
            after.transcript.as_ref().map(|t| t.text.as_str()),
            Some("urgent: my bill is wrong")
        );
        let e = b.store.events(r.id).unwrap().pop().unwrap();
        assert_eq!(e.action, "transcribed");
        assert!(
            e.detail
                .as_deref()
                .unwrap_or("")
                .contains("queue support -> billing"),
            "{e:?}"
        );
        // Raised: claimed before the older plain one.
        let claimed: Vec<i64> = b
            .store
            .claim_due("w", t(10), Duration::seconds(60), 10)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(claimed, vec![r.id, plain.id]);
    });
}

#[test]
fn the_panel_lists_are_scoped_in_sql_ordered_and_counted_exactly() {
    // Pending by due time (not by id), the user's queues plus their agent's personal ones,
    // the badge exact even past the limit; recent newest change first; another team's
    // rows never read into the lists.
    on_each(|b| {
        let store = &*b.store;
        let mk = |n: u32, queue: &str, due: i64, agent: Option<&str>| {
            let mut d = draft(&format!("+4930123456{n:02}"), queue, due);
            d.agent = agent.map(str::to_string);
            store
                .create(&d, &CreateOptions::default(), t(0))
                .unwrap()
                .0
                .id
        };
        let late = mk(1, "sales", 900, None);
        let early = mk(2, "sales", 100, None);
        let mine = mk(3, "support", 500, Some("a"));
        let _other = mk(4, "support", 50, None);
        let done_first = mk(5, "sales", 10, None);
        let done_last = mk(6, "sales", 20, None);
        for (id, at) in [(done_first, 30), (done_last, 40)] {
            store
                .transition(id, &move_to(State::Cancelled, None), t(at))
                .unwrap();
        }
        let scope = callback_core::store::PanelScope {
            all: false,
            queues: vec!["sales".into()],
            agent: Some("a".into()),
        };
        let l = store.panel_lists(&scope, t(0), 10).unwrap();
        let ids = |v: &[callback_core::model::CallbackRequest]| {
            v.iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&l.pending), vec![early, mine, late]);
        assert_eq!(l.pending_count, 3);
        assert_eq!(ids(&l.recent), vec![done_last, done_first]);
        let capped = store.panel_lists(&scope, t(35), 1).unwrap();
        assert_eq!(ids(&capped.pending), vec![early]);
        assert_eq!(
            capped.pending_count, 3,
            "the badge is not capped by the list"
        );
        assert_eq!(ids(&capped.recent), vec![done_last], "since t(35)");
        let all = callback_core::store::PanelScope {
            all: true,
            ..Default::default()
        };
        assert_eq!(store.panel_lists(&all, t(0), 10).unwrap().pending_count, 4);
    });
}

/// An agent leg of `id` for `agent`, offered by `owner` (which must hold the claim).
fn offer_to(
    store: &dyn Store,
    id: i64,
    agent: &str,
    owner: &str,
    at: DateTime<Utc>,
) -> Result<(CallbackRequest, Attempt), StoreError> {
    let mut tr = move_to(State::Offering, Some(owner));
    tr.expect = Some(State::Due);
    let leg = NewAttempt {
        callback_id: id,
        leg: Leg::Agent,
        agent: Some(agent.into()),
        call_uuid: None,
    };
    store
        .start_offers(&[(id, tr, leg)], owner, at)
        .unwrap()
        .pop()
        .unwrap()
}

#[test]
fn an_agent_has_one_open_offer_whichever_node_makes_it() {
    // Two nodes (two connections) each hold a claim; both pick agent 1001 at the same
    // instant. The first offer stands; the second is refused as AgentBusy and leaves its
    // callback due, untouched. Every node reads the agent as busy on the board until the
    // leg ends; then the other node's offer goes through.
    on_each(|b| {
        let a = &*b.store;
        let other = b.open_again().unwrap();
        let ids = create_numbered(a, "+49301234500", 2);
        assert_eq!(
            a.claim_due("node-a", t(1), Duration::seconds(60), 1)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            other
                .claim_due("node-b", t(1), Duration::seconds(60), 1)
                .unwrap()
                .len(),
            1
        );
        let (first, leg) = offer_to(a, ids[0], "1001", "node-a", t(2)).unwrap();
        assert_eq!(first.state, State::Offering);
        match offer_to(&*other, ids[1], "1001", "node-b", t(2)) {
            Err(StoreError::AgentBusy { agent }) => assert_eq!(agent, "1001"),
            other => panic!("a second open offer for agent 1001: {other:?}"),
        }
        let second = a.get(ids[1]).unwrap();
        assert_eq!(
            (second.state, second.lease_owner.as_deref()),
            (State::Due, Some("node-b"))
        );
        assert!(a.attempts(ids[1]).unwrap().is_empty());
        let board = other.agent_board(t(2)).unwrap();
        assert_eq!(board.busy, vec![("1001".to_string(), ids[0])]);
        // Another agent is free for node b meanwhile.
        assert!(offer_to(&*other, ids[1], "1002", "node-b", t(2)).is_ok());
        let end = AttemptEnd {
            answered_at: None,
            hangup_cause: "NO_ANSWER".into(),
            result: AttemptResult::NoAnswer,
        };
        a.finish_attempt(leg.id, &end, t(3)).unwrap();
        let busy: Vec<String> = a
            .agent_board(t(3))
            .unwrap()
            .busy
            .into_iter()
            .map(|(x, _)| x)
            .collect();
        assert_eq!(busy, vec!["1002".to_string()]);
        // A leg of agent 1001 may open again once the first one ended.
        let third = a
            .create(
                &draft("+493012345009", "sales", 0),
                &CreateOptions::default(),
                t(3),
            )
            .unwrap()
            .0
            .id;
        assert_eq!(
            other
                .claim_due("node-b", t(4), Duration::seconds(60), 1)
                .unwrap()[0]
                .id,
            third
        );
        assert!(offer_to(&*other, third, "1001", "node-b", t(4)).is_ok());
        // Once node b's leases lapse (it died), its open legs hold no agent on the board.
        assert_eq!(a.agent_board(t(4)).unwrap().busy.len(), 2);
        assert!(a.agent_board(t(10_000)).unwrap().busy.is_empty());
    });
}

#[test]
fn agent_states_are_shared_by_every_node() {
    // Ready/away set on one node is what the other reads; the latest setting wins and
    // names its node. A blank agent is refused with nothing written.
    on_each(|b| {
        let a = &*b.store;
        let other = b.open_again().unwrap();
        assert!(a.agent_board(t(3)).unwrap().states.is_empty());
        a.set_agent_ready("1001", false, "node-a", t(0)).unwrap();
        other.set_agent_ready("1002", true, "node-b", t(1)).unwrap();
        other.set_agent_ready("1001", true, "node-b", t(2)).unwrap();
        let states = a.agent_board(t(3)).unwrap().states;
        assert_eq!(
            states,
            vec![
                AgentRecord {
                    id: "1001".into(),
                    ready: true,
                    since: t(2),
                    node: "node-b".into()
                },
                AgentRecord {
                    id: "1002".into(),
                    ready: true,
                    since: t(1),
                    node: "node-b".into()
                },
            ]
        );
        assert!(matches!(
            a.set_agent_ready(" ", true, "node-a", t(3)),
            Err(StoreError::Invalid { field: "agent", .. })
        ));
        assert_eq!(a.agent_board(t(3)).unwrap().states.len(), 2);
    });
}

#[test]
fn a_listener_hears_the_other_nodes_changes_but_not_its_own() {
    // Node b listens. Its own new callback wakes nothing; node a's new callback, an agent
    // set ready on node a, and node a's agent leg ending each wake it.
    if !backends::pg_available() {
        return;
    }
    let schema = backends::PgSchema::new();
    let a = PgStore::open(&schema.url).unwrap().for_node("node-a");
    let b = PgStore::open(&schema.url).unwrap().for_node("node-b");
    let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = wakes.clone();
    let mut listener = b
        .listen(Box::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }))
        .unwrap();
    let count = || wakes.load(std::sync::atomic::Ordering::SeqCst);
    // One wake when it starts listening (whatever was said before is looked at).
    let wait_for = |n: usize, what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while count() < n {
            assert!(std::time::Instant::now() < deadline, "no wake for {what}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(1, "listening");
    b.create(
        &draft("+493012340001", "sales", 0),
        &CreateOptions::default(),
        t(0),
    )
    .unwrap();
    // A wake for its own change would come within the listener's poll (200 ms): give it
    // five polls.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(count(), 1, "node b woke for its own new callback");
    let (r, _) = a
        .create(
            &draft("+493012340002", "sales", 0),
            &CreateOptions::default(),
            t(0),
        )
        .unwrap();
    wait_for(2, "node a's new callback");
    a.set_agent_ready("1001", true, "node-a", t(1)).unwrap();
    wait_for(3, "an agent set ready on node a");
    let held: Vec<i64> = a
        .claim_due("node-a", t(2), Duration::seconds(60), 10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(held.contains(&r.id));
    let (_, leg) = offer_to(&a, r.id, "1001", "node-a", t(3)).unwrap();
    let before = count();
    let end = AttemptEnd {
        answered_at: None,
        hangup_cause: "NO_ANSWER".into(),
        result: AttemptResult::NoAnswer,
    };
    a.finish_attempt(leg.id, &end, t(4)).unwrap();
    wait_for(before + 1, "node a's agent leg ending");
    listener.stop();
}

#[test]
fn a_callback_leaving_its_dispatch_frees_its_agent() {
    // A callback failed (or cancelled) while its agent leg is still open, as when an
    // operator cancels during the preview: the transition closes the leg, so the agent is
    // not held on every node forever.
    on_each(|b| {
        let store = &*b.store;
        let ids = create_numbered(store, "+49301234560", 2);
        assert_eq!(
            store
                .claim_due("node-a", t(1), Duration::seconds(60), 2)
                .unwrap()
                .len(),
            2
        );
        offer_to(store, ids[0], "1001", "node-a", t(2)).unwrap();
        let mut fail = move_to(State::Failed, Some("node-a"));
        fail.expect = Some(State::Offering);
        store.transition(ids[0], &fail, t(3)).unwrap();
        let legs = store.attempts(ids[0]).unwrap();
        assert_eq!(legs.len(), 1);
        assert_eq!(
            (
                legs[0].ended_at,
                legs[0].result,
                legs[0].hangup_cause.as_deref()
            ),
            (
                Some(t(3)),
                Some(AttemptResult::Error),
                Some("CALLBACK_ENDED")
            )
        );
        assert!(store.agent_board(t(3)).unwrap().busy.is_empty());
        assert!(offer_to(store, ids[1], "1001", "node-a", t(4)).is_ok());
    });
}
