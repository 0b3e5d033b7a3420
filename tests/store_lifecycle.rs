//! The store's lifecycle and claims against real databases, every test on both backends:
//! every transition and lease rule, claims (order, limit, early wake-ups, takeover of an
//! expired lease, two connections at once) and the dispatch counters.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::{on_each, Raw};
use callback_core::model::{DispatchCounts, Draft, State};
use callback_core::store::prelude::*;
use callback_core::store::{CreateOptions, StoreError, Transition};
use chrono::{DateTime, Duration, Utc};
use fixtures::*;
use std::collections::HashSet;
use std::sync::Arc;

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
    // trace, gets the same values when it migrates (step 10's objects are undone too).
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
             ALTER TABLE callbacks DROP COLUMN first_claimed_at; \
             ALTER TABLE events DROP COLUMN tx; \
             ALTER TABLE webhook_cursors DROP COLUMN last_tx; \
             ALTER TABLE webhook_cursors DROP COLUMN lease_owner; \
             ALTER TABLE webhook_cursors DROP COLUMN lease_expires; \
             DROP TABLE panel_sessions; \
             ALTER TABLE callbacks DROP COLUMN number_type;",
        );
        if let Raw::Sqlite(_) = &b.raw {
            // SQLite's step 13 (one number index), undone as a file at step 8 had it.
            b.raw.execute(
                "DROP INDEX callbacks_open_number; \
                 CREATE INDEX callbacks_pending_number ON callbacks \
                     (CAST(substr(number, 2) AS INTEGER)) \
                     WHERE (state = 'requested' OR state = 'scheduled' OR state = 'rescheduled'); \
                 CREATE INDEX callbacks_active_number ON callbacks (number) \
                     WHERE (state = 'due' OR state = 'offering' OR state = 'previewing' \
                            OR state = 'dialing' OR state = 'connected');",
            );
        }
        b.raw.execute(match &b.raw {
            Raw::Sqlite(_) => "PRAGMA user_version = 8",
            Raw::Pg(_) => "UPDATE callback_schema SET version = 8",
        });
        let migrated = b.open_again().unwrap();
        assert_eq!(migrated.get(a.id).unwrap().counts, want);
        assert_eq!(schema_version(&b.raw), latest_schema(&b.raw));
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
fn a_reschedule_writes_the_new_type_and_done_and_a_completed_callbacks_move_are_kept() {
    // A transition with a type stores it (read back from the row); a waiting callback can
    // end `done` and stays there; a completed one can be moved to `rescheduled` (the
    // agent's after the call), a cancelled one cannot.
    on_each(|b| {
        let store = &*b.store;
        let (r, _) = store
            .create(
                &draft("+493012345601", "sales", 60),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        assert_eq!(r.kind, callback_core::model::CallbackType::Immediate);
        let mut m = move_to(State::Rescheduled, None);
        m.due_at = Some(t(3600));
        m.kind = Some(callback_core::model::CallbackType::Scheduled);
        let r = store.transition(r.id, &m, t(1)).unwrap();
        assert_eq!(r.kind, callback_core::model::CallbackType::Scheduled);
        assert_eq!(
            store.get(r.id).unwrap().kind,
            callback_core::model::CallbackType::Scheduled
        );
        let done = store
            .transition(r.id, &move_to(State::Done, None), t(2))
            .unwrap();
        assert_eq!(store.get(done.id).unwrap().state, State::Done);
        let err = store
            .transition(r.id, &move_to(State::Cancelled, None), t(3))
            .unwrap_err();
        assert!(matches!(err, StoreError::Transition(_)), "{err}");

        let (c, _) = store
            .create(
                &draft("+493012345602", "sales", 60),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        // Straight to completed through the lifecycle.
        for s in [
            State::Due,
            State::Offering,
            State::Previewing,
            State::Dialing,
            State::Connected,
            State::Completed,
        ] {
            store.transition(c.id, &move_to(s, None), t(4)).unwrap();
        }
        let mut again = move_to(State::Rescheduled, None);
        again.due_at = Some(t(7200));
        let c = store.transition(c.id, &again, t(5)).unwrap();
        assert_eq!((c.state, c.due_at), (State::Rescheduled, Some(t(7200))));
        let (x, _) = store
            .create(
                &draft("+493012345603", "sales", 60),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        store
            .transition(x.id, &move_to(State::Cancelled, None), t(6))
            .unwrap();
        let mut back = move_to(State::Rescheduled, None);
        back.due_at = Some(t(7200));
        assert!(store.transition(x.id, &back, t(7)).is_err());
    });
}
