//! The store as a database several nodes share, every test on both backends where it
//! applies: reopening, schema versions and migrations, both schemas alike, nodes creating
//! at once, a broken connection, a corrupt value, and the other nodes' notifications. The
//! SQLite-only checks (query plans, migrating a file from schema 2) are the unit tests of
//! src/store/sqlite/tests.rs.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::{on_each, Backend, Raw};
use callback_core::model::AttemptResult;
use callback_core::store::prelude::*;
use callback_core::store::{AttemptEnd, CreateOptions, PgStore, StoreError};
use chrono::Duration;
use fixtures::*;
use std::sync::Arc;

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
        assert_eq!(schema_version(&b.raw), latest_schema(&b.raw));
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
    assert_eq!(pg_tables.len(), 8, "{pg_tables:?}");
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
    let raw = Raw::Pg(schema);
    assert_eq!(schema_version(&raw), latest_schema(&raw));
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

/// Two workers sharing one outbox, each taking the cursor's lease in turn as a node's
/// webhook worker does: every event it delivers, in order, stopped when its lease is gone.
/// `read` again until `done` says its answer is complete, 20 s at most. On PostgreSQL the
/// outbox shows an event only once every older transaction on the server ended, and the
/// other tests of this binary share the server: their open transactions hold it back too.
fn settle<T>(mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = read();
        if done(&got) || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn deliver_pass(log: &dyn WebhookLog, owner: &str, now: chrono::DateTime<chrono::Utc>) -> Vec<i64> {
    let Some(cursor) = log
        .claim_webhook("crm", owner, now, Duration::seconds(60))
        .unwrap()
    else {
        return Vec::new();
    };
    let mut sent = Vec::new();
    for e in log.events_after(cursor.last, 7).unwrap() {
        sent.push(e.event.id);
        let held = log
            .webhook_delivered("crm", owner, e.position, now, Duration::seconds(60))
            .unwrap();
        if !held {
            break;
        }
    }
    sent
}

#[test]
fn two_workers_deliver_each_event_once_while_nodes_write() {
    // Four writers on their own connections and two outbox workers (two nodes) on one
    // database: every committed event is delivered exactly once.
    on_each(|b| {
        let first = b.outbox();
        first.webhook_cursor("crm", t(0)).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let s: Arc<dyn Store> = Arc::from(b.open_again().unwrap());
                std::thread::spawn(move || {
                    for i in 0..15 {
                        let n = format!("+4930123{w}{i:04}");
                        s.create(&draft(&n, "sales", 60), &CreateOptions::default(), t(i))
                            .unwrap();
                    }
                })
            })
            .collect();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = [first, b.outbox()]
            .into_iter()
            .enumerate()
            .map(|(i, log)| {
                let done = done.clone();
                std::thread::spawn(move || {
                    let owner = format!("node-{i}");
                    let mut sent = Vec::new();
                    // Both take turns on one instant: a lease lost only by release.
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        sent.extend(deliver_pass(&*log, &owner, t(100)));
                        log.release_webhook("crm", &owner).unwrap();
                        std::thread::yield_now();
                    }
                    sent
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut sent: Vec<i64> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        // What the workers' last passes left, until nothing is.
        let last = b.outbox();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = deliver_pass(&*last, "node-0", t(100));
            let mut distinct = sent.clone();
            distinct.extend(&got);
            distinct.sort();
            distinct.dedup();
            let empty = got.is_empty();
            sent.extend(got);
            if distinct.len() >= 60 || std::time::Instant::now() > deadline {
                break;
            }
            if empty {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let mut stored: Vec<i64> = b
            .raw
            .texts("SELECT CAST(id AS TEXT) FROM events")
            .into_iter()
            .map(|r| r[0].as_deref().unwrap().parse().unwrap())
            .collect();
        stored.sort();
        assert_eq!(stored.len(), 60, "one created event per callback");
        let mut once = sent.clone();
        once.sort();
        once.dedup();
        assert_eq!(
            once.len(),
            sent.len(),
            "an event was delivered twice: {sent:?}"
        );
        assert_eq!(once, stored, "an event was never delivered");
    });
}

#[test]
fn a_dead_workers_claim_is_taken_over_after_its_lease() {
    // Node A claims the cursor and dies after one delivery; node B is refused while A's
    // lease lasts, then takes over where A stopped; A, back, can no longer move it.
    on_each(|b| {
        let (a_log, b_log) = (b.outbox(), b.outbox());
        a_log.webhook_cursor("crm", t(0)).unwrap();
        create_numbered(&*b.store, "+4930555", 3);
        let lease = Duration::seconds(60);
        let a = a_log
            .claim_webhook("crm", "a", t(0), lease)
            .unwrap()
            .unwrap();
        let events = settle(|| a_log.events_after(a.last, 10).unwrap(), |e| e.len() >= 3);
        assert_eq!(events.len(), 3);
        assert!(a_log
            .webhook_delivered("crm", "a", events[0].position, t(10), lease)
            .unwrap());
        // A's lease, renewed at t(10), holds until t(70).
        assert_eq!(b_log.claim_webhook("crm", "b", t(69), lease).unwrap(), None);
        let taken = b_log
            .claim_webhook("crm", "b", t(70), lease)
            .unwrap()
            .expect("the lease ran out");
        assert_eq!(taken.last, events[0].position);
        let rest: Vec<i64> = settle(
            || {
                b_log
                    .events_after(taken.last, 10)
                    .unwrap()
                    .iter()
                    .map(|e| e.event.id)
                    .collect::<Vec<i64>>()
            },
            |r| r.len() >= 2,
        );
        assert_eq!(rest, [events[1].event.id, events[2].event.id]);
        assert!(!a_log
            .webhook_delivered("crm", "a", events[2].position, t(71), lease)
            .unwrap());
        assert!(!a_log.webhook_failed("crm", "a", "x", t(80), t(71)).unwrap());
        assert_eq!(a_log.claim_webhook("crm", "a", t(71), lease).unwrap(), None);
        // Given up on stop: another takes it at once.
        b_log.release_webhook("crm", "b").unwrap();
        assert!(a_log
            .claim_webhook("crm", "a", t(72), lease)
            .unwrap()
            .is_some());
    });
}

#[test]
fn an_event_is_read_only_once_its_transaction_and_every_older_one_ended() {
    // PostgreSQL ids follow inserts, not commits: an event of a transaction still open
    // holds back the later ones (a cursor moved past them would skip it for ever); rolled
    // back, it is never delivered; committed late, it is delivered before them.
    if !backends::pg_available() {
        return;
    }
    for commit in [false, true] {
        let b = Backend::postgres();
        let log = b.outbox();
        let (a, _) = b
            .store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        log.webhook_cursor("crm", t(0)).unwrap();
        let Raw::Pg(schema) = &b.raw else {
            unreachable!()
        };
        let mut raw = schema.client();
        let mut open = raw.transaction().unwrap();
        let late: i64 = open
            .query_one(
                "INSERT INTO events (callback_id, at, action, to_state) \
                 VALUES ($1, 1, 'late', 'requested') RETURNING id",
                &[&a.id],
            )
            .unwrap()
            .get(0);
        let (c, _) = b
            .store
            .create(
                &draft("+493012345679", "sales", 0),
                &CreateOptions::default(),
                t(1),
            )
            .unwrap();
        let committed = b.store.events(c.id).unwrap()[0].id;
        assert!(committed > late);
        let cursor = log
            .claim_webhook("crm", "n", t(2), Duration::seconds(60))
            .unwrap()
            .unwrap();
        let ids = |log: &dyn WebhookLog| -> Vec<i64> {
            log.events_after(cursor.last, 10)
                .unwrap()
                .iter()
                .map(|e| e.event.id)
                .collect()
        };
        assert_eq!(
            ids(&*log),
            Vec::<i64>::new(),
            "read past an open transaction"
        );
        // Other tests share the server: their older transactions hold the outbox back too.
        let settled = |want: usize| settle(|| ids(&*log), |got| got.len() >= want);
        if commit {
            open.commit().unwrap();
            assert_eq!(settled(2), [late, committed]);
        } else {
            open.rollback().unwrap();
            assert_eq!(settled(1), [committed]);
        }
    }
}

#[test]
fn a_panel_login_is_known_to_every_node_and_a_logout_ends_it_everywhere() {
    // Sessions are the store's: a login through one node is valid through another (and
    // after a restart: a store opened again), a logout through one is refused by the
    // other, an idle session expires, and only a token's digest is accepted.
    on_each(|b| {
        let digest = "a1".repeat(32);
        let idle = Duration::hours(12);
        b.store.session_open(&digest, "alice", t(0), idle).unwrap();
        let other = b.open_again().unwrap();
        let s = other.session_get(&digest, t(30), None).unwrap().unwrap();
        assert_eq!((s.user.as_str(), s.created_at), ("alice", t(0)));
        // Renewed on use (a minute after the last write): the expiry moves on.
        let s = other
            .session_get(&digest, t(3600), Some(idle))
            .unwrap()
            .unwrap();
        assert_eq!(s.expires_at, t(3600) + idle);
        assert!(b
            .store
            .session_get(&digest, t(3600) + idle - Duration::seconds(1), None)
            .unwrap()
            .is_some());
        assert!(b.store.session_close(&digest).unwrap());
        assert_eq!(
            other.session_get(&digest, t(3700), Some(idle)).unwrap(),
            None
        );
        // Expiry: gone for every node, and removed.
        let second = "b2".repeat(32);
        other.session_open(&second, "bob", t(0), idle).unwrap();
        assert_eq!(
            b.store.session_get(&second, t(0) + idle, None).unwrap(),
            None
        );
        assert_eq!(b.raw.count("panel_sessions"), 0);
        // The token itself is refused: the store keeps digests only.
        let e = b
            .store
            .session_open("not-a-digest", "eve", t(0), idle)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SHA-256"), "{e}");
        assert_eq!(b.raw.count("panel_sessions"), 0);
    });
}
