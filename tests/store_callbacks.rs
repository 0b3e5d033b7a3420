//! The store's creates against real databases, every test on both backends (a SQLite
//! file, and a private schema on the PostgreSQL test server; see support/backends.rs):
//! round trips of every field, idempotency keys, a number's open callbacks, merging a
//! repeated request, slot capacity, and malformed input refused with nothing written.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::on_each;
use callback_core::model::{CallbackType, Recording, Source, State, Window};
use callback_core::store::{CreateOptions, CreateOutcome, ListFilter, StoreError};
use chrono::Duration;
use fixtures::*;
use std::collections::BTreeMap;

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
        d.number_type = Some(callback_core::model::NumberType::Work);

        let (r, outcome) = store.create(&d, &CreateOptions::default(), t(0)).unwrap();
        assert_eq!(outcome, CreateOutcome::Created);
        assert_eq!(r.kind, d.kind);
        assert_eq!(r.number, d.number);
        assert_eq!(r.number_type, d.number_type);
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
