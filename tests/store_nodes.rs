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
        // 1: callbacks; 2: the transcription queue; 3: priority; 4: cheaper callback indexes;
        // 5: webhook cursors; 6: the agent panel's indexes; 7: agents shared by nodes;
        // 8: request digests; 9: dispatch counters; 10: the number's type.
        assert_eq!(schema_version(&b.raw), 10);
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
    assert_eq!(schema_version(&Raw::Pg(schema)), 10);
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
