//! The SQLite backend's own checks: its queries use their indexes, migrations match a
//! fresh schema.

use super::reads::{open_for_number_sql, panel_sql};
use super::*;
use crate::model::{Draft, State, Window};
use crate::store::{CreateOptions, CreateOutcome, Lifecycle, Reads};
use chrono::{Duration, TimeZone, Utc};
use rusqlite::OptionalExtension;
use std::collections::BTreeMap;

fn plan(store: &SqliteStore, sql: &str) -> String {
    let guard = store.lock();
    let conn = guard.as_ref().unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows.join(" | ")
}

#[test]
fn hot_queries_use_their_partial_indexes() {
    // Claiming, reclaiming, waking and slot counting never scan the whole table.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("cb.db")).unwrap();
    let claim = plan(
        &store,
        &format!(
            "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND due_at <= 1 \
             ORDER BY due_at, id LIMIT 100"
        ),
    );
    assert!(claim.contains("callbacks_claimable"), "{claim}");
    assert!(!claim.contains("TEMP B-TREE"), "{claim}");
    let first = plan(
        &store,
        &format!(
            "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND priority > 0 \
             AND due_at <= 1 ORDER BY priority DESC, due_at, id LIMIT 100"
        ),
    );
    assert!(first.contains("callbacks_claimable_priority"), "{first}");
    let reclaim = plan(
        &store,
        &format!(
            "SELECT id FROM callbacks WHERE {ACTIVE} AND lease_expires <= 1 \
             ORDER BY lease_expires, id LIMIT 100"
        ),
    );
    assert!(reclaim.contains("callbacks_leases"), "{reclaim}");
    let wake = plan(
        &store,
        &format!(
            "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                    (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
        ),
    );
    assert!(
        wake.contains("callbacks_claimable") && wake.contains("callbacks_leases"),
        "{wake}"
    );
    let slot = plan(
        &store,
        &format!(
            "SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
             AND due_at >= 1 AND due_at < 2 AND queue = 'q'"
        ),
    );
    assert!(slot.contains("callbacks_claimable"), "{slot}");
    let merge = plan(
        &store,
        &format!(
            "SELECT id FROM callbacks WHERE {NUMBER_KEY} = CAST(substr('+1', 2) AS INTEGER) \
             AND number = '+1' AND queue = 'q' AND {OPEN} AND {PENDING} ORDER BY id LIMIT 1"
        ),
    );
    assert!(merge.contains("callbacks_open_number"), "{merge}");
    assert!(!merge.contains("TEMP B-TREE"), "{merge}");
    // The per-number cap reads a number's open callbacks without a scan.
    let open = plan(&store, &open_for_number_sql().replace("?1", "'+1'"));
    assert!(open.contains("callbacks_open_number"), "{open}");
    assert!(!open.contains("SCAN callbacks"), "{open}");
}

#[test]
fn a_claim_keeps_its_rows_in_the_one_number_index() {
    // A callback's number is in one index whether it waits or is being dispatched, so a
    // claim (waiting to due) writes no entry of a number index elsewhere (schema step 13).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cb.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let by_number: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'callbacks' \
             AND name LIKE '%number%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(by_number, ["callbacks_open_number"]);
    // Every state a claim moves a row between is in its WHERE.
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'callbacks_open_number'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for state in [
        State::Requested,
        State::Scheduled,
        State::Rescheduled,
        State::Due,
        State::Offering,
        State::Previewing,
        State::Dialing,
        State::Connected,
    ] {
        assert!(
            sql.contains(&format!("'{}'", state.as_str())),
            "{state:?}: {sql}"
        );
    }
}

#[test]
fn panel_reads_use_their_indexes() {
    // The panel's statements, the very texts the store runs, each use their index and
    // never scan the callbacks; the recent list comes newest first without a sort.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("cb.db")).unwrap();
    let bind = |sql: &str| {
        sql.replace("?1", "0")
            .replace("?2", "'[\"q\"]'")
            .replace("?3", "'a'")
            .replace("?4", "5")
            .replace("?5", "1")
    };
    let sql = panel_sql();
    let [requested, claimable, due] = &sql.counts;
    for (sql, index) in [
        (bind(&sql.waiting), "callbacks_claimable"),
        (bind(claimable), "callbacks_claimable"),
        (bind(&sql.pending), "callbacks_requested"),
        (bind(requested), "callbacks_requested"),
        (bind(&sql.leased), "callbacks_leases"),
        (bind(due), "callbacks_leases"),
        (bind(&sql.recent), "callbacks_updated"),
        (
            "SELECT a.result, COUNT(*) FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
             WHERE c.queue = 'q' AND a.leg = 'customer' AND a.ended_at >= 1 \
             GROUP BY a.result ORDER BY a.result"
                .to_string(),
            "attempts_ended",
        ),
    ] {
        let p = plan(&store, &sql);
        assert!(p.contains(index), "{sql}: {p}");
        assert!(
            !p.contains("SCAN callbacks |") && !p.ends_with("SCAN callbacks"),
            "{sql}: {p}"
        );
        assert!(!p.contains("SCAN a"), "{sql}: {p}");
    }
    // Newest first straight from the index, without sorting the day's rows.
    let recent = plan(&store, &bind(&sql.recent));
    assert!(!recent.contains("TEMP B-TREE"), "{recent}");
}

fn schema_of(path: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

#[test]
fn a_migrated_database_matches_a_new_one_and_keeps_its_pending_rows() {
    // A file left at schema 2 migrates to the same tables and indexes as a new file, and
    // its waiting callbacks are found again through the rebuilt merge and lease indexes.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    {
        let conn = Connection::open(&old).unwrap();
        for step in &schema::steps(Engine::Sqlite)[..2] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO callbacks (kind, number, time_zone, queue, source, state, due_at,
                 created_at, updated_at, lease_owner, lease_expires)
             VALUES ('immediate', '+493012345678', 'Europe/Berlin', 'sales', 'ivr',
                 'scheduled', 100, 0, 0, NULL, NULL),
                    ('immediate', '+493099999999', 'Europe/Berlin', 'sales', 'ivr',
                 'dialing', 100, 0, 0, 'gone', 50);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&old).unwrap();
    let fresh = dir.path().join("new.db");
    drop(SqliteStore::open(&fresh).unwrap());
    assert_eq!(schema_of(&old), schema_of(&fresh));

    let now = Utc.timestamp_opt(200, 0).unwrap();
    let draft = Draft {
        kind: crate::model::CallbackType::Immediate,
        number: "+493012345678".into(),
        time_zone: "Europe/Berlin".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: "sales".into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: crate::model::Source::Web,
        origin_uuid: None,
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(now),
        expires_at: None,
    };
    let options = CreateOptions {
        merge_pending: true,
        ..CreateOptions::default()
    };
    let (merged, outcome) = store.create(&draft, &options, now).unwrap();
    assert_eq!((merged.id, outcome), (1, CreateOutcome::Merged));
    let claimed = store
        .claim_due("me", now, Duration::seconds(30), 10)
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![2, 1], "the expired lease first, then the due one");
}

#[test]
fn the_wal_is_folded_back_by_the_stores_own_thread_and_removed_on_drop() {
    // Commits that grow the WAL past the nudge line are checkpointed by the checkpoint
    // thread (not by the committing writer), and dropping the store leaves no WAL behind.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cb.db");
    let store = SqliteStore::open(&path).unwrap();
    // Each row carries a 3 KiB remark, so each commit adds at least one page to the WAL.
    let pages = usize::try_from(checkpoint::NUDGE_PAGES).unwrap() + 50;
    let remark = "x".repeat(3000);
    for i in 0..pages {
        store
            .write("test", |tx| {
                tx.execute(
                    "INSERT INTO do_not_call (number, added_at, reason) VALUES (?1, 0, ?2)",
                    rusqlite::params![format!("+4930{i:08}"), remark],
                )
                .map(|_| ())
                .map_err(backend("test"))
            })
            .unwrap();
    }
    let mut waited = 0;
    while store.checkpointer.runs() == 0 && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert!(
        store.checkpointer.runs() > 0,
        "the checkpoint thread never ran"
    );
    drop(store);
    assert!(!dir.path().join("cb.db-wal").exists(), "WAL left behind");
}

fn web_draft(number: &str, at: i64) -> Draft {
    let due = Utc.timestamp_opt(at, 0).unwrap();
    Draft {
        kind: crate::model::CallbackType::Immediate,
        number: number.into(),
        time_zone: "Europe/Berlin".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: "sales".into(),
        agent: None,
        remark: Some(format!("from {number}")),
        ivr_data: BTreeMap::new(),
        source: crate::model::Source::Web,
        origin_uuid: None,
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(due),
        expires_at: None,
    }
}

/// Starts `n` creates on their own threads while the test holds the connection, and lets
/// them go once all of them wait for it: they arrive together, as concurrent requests do.
fn creates_at_once(
    store: &std::sync::Arc<SqliteStore>,
    options: Vec<CreateOptions>,
) -> Vec<Result<(crate::model::CallbackRequest, CreateOutcome), StoreError>> {
    let held = store.lock();
    let n = options.len();
    let threads: Vec<_> = options
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let store = store.clone();
            std::thread::spawn(move || {
                let now = Utc.timestamp_opt(100, 0).unwrap();
                store.create(&web_draft(&format!("+4930123456{i:02}"), 100), &o, now)
            })
        })
        .collect();
    while store.group.waiting() < n {
        std::thread::yield_now();
    }
    drop(held);
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn creates_arriving_together_share_one_commit() {
    // Twelve creates waiting for the connection at once are stored by one transaction,
    // each answered with its own callback, and all are there after a reopen.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cb.db");
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let out = creates_at_once(&store, vec![CreateOptions::default(); 12]);
    assert_eq!(store.group.begun_so_far(), 1);
    let mut ids = Vec::new();
    for r in out {
        let (row, outcome) = r.unwrap();
        assert_eq!(outcome, CreateOutcome::Created);
        assert_eq!(row.remark, Some(format!("from {}", row.number)));
        ids.push(row.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=12).collect::<Vec<_>>());
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    for id in ids {
        assert_eq!(again.get(id).unwrap().id, id);
    }
}

#[test]
fn a_refused_create_in_a_group_leaves_the_others_stored() {
    // One create of a group is refused (its slot is full): it gets its error and stored
    // nothing, the others of the same transaction are stored, trace and all.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("cb.db")).unwrap());
    let mut options = vec![CreateOptions::default(); 6];
    let start = Utc.timestamp_opt(0, 0).unwrap();
    options[3].slot = Some((start, start + Duration::hours(1), 0));
    let out = creates_at_once(&store, options);
    assert_eq!(store.group.begun_so_far(), 1);
    for (i, r) in out.iter().enumerate() {
        match (i, r) {
            (3, Err(StoreError::SlotFull { capacity: 0, .. })) => {}
            (3, other) => panic!("the full slot's create: {other:?}"),
            (_, Ok((row, CreateOutcome::Created))) => {
                assert_eq!(row.number, format!("+4930123456{i:02}"));
                let trace = store.events(row.id).unwrap();
                assert_eq!(trace.len(), 1, "{trace:?}");
            }
            (_, other) => panic!("create {i}: {other:?}"),
        }
    }
    let conn = Connection::open(dir.path().join("cb.db")).unwrap();
    let (rows, events): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM callbacks), (SELECT count(*) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, events), (5, 5));
    let refused: Option<i64> = conn
        .query_row(
            "SELECT id FROM callbacks WHERE number = '+493012345603'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    assert_eq!(refused, None);
}

#[test]
fn a_member_that_panics_still_lets_the_group_it_joined_commit() {
    // Write A is done and waits for the commit of its group because B was on its way; B
    // joins and panics in its write: A is still answered (stored, and there after the
    // panic), B's half-write is not, and B's caller sees its panic.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("cb.db")).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let a = {
        let store = store.clone();
        std::thread::spawn(move || {
            let out = store.in_tx("a", |t| {
                // B counts itself while A holds the connection, so A leaves the group
                // open for it.
                let b = {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        store.in_tx("b", |t| -> Result<(), StoreError> {
                            t.0.execute("INSERT INTO do_not_call VALUES ('+2', 'b', 0)", [])
                                .unwrap();
                            panic!("a bug in B's write");
                        })
                    })
                };
                while store.group.waiting() == 0 {
                    std::thread::yield_now();
                }
                t.0.execute("INSERT INTO do_not_call VALUES ('+1', 'a', 0)", [])
                    .map_err(backend("a"))?;
                Ok(b)
            });
            let _ = tx.send(out);
        })
    };
    // A bound so a regression fails instead of hanging the suite; not a timing assertion.
    let answered = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("A was never answered: the group B joined was left open");
    let b = answered.unwrap_or_else(|e| panic!("A: {e:?}"));
    assert!(b.join().is_err(), "B's panic reaches its caller");
    a.join().unwrap();
    let conn = Connection::open(dir.path().join("cb.db")).unwrap();
    let numbers: Vec<String> = conn
        .prepare("SELECT number FROM do_not_call ORDER BY number")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(numbers, ["+1"]);
}

#[test]
fn a_shared_write_refused_for_a_fault_that_needs_a_fresh_connection_gets_one() {
    // A shared write fails with a fault after which its connection is not to be trusted
    // (read-only: the connection set `query_only` stands in for a file system gone
    // read-only under it): it is refused, and the next write runs on a fresh connection
    // and is stored.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("cb.db")).unwrap();
    let insert = |t: &mut SqliteTx<'_>, number: &str| {
        t.0.execute(
            "INSERT INTO do_not_call VALUES (?1, 'test', 0)",
            rusqlite::params![number],
        )
        .map(drop)
        .map_err(backend("adding a number"))
    };
    let refused = store.in_tx("a", |t| {
        t.0.execute_batch("PRAGMA query_only = 1").unwrap();
        insert(t, "+1")
    });
    assert!(
        matches!(
            refused,
            Err(StoreError::Unavailable {
                fault: Fault::ReadOnly,
                ..
            })
        ),
        "{refused:?}"
    );
    store.in_tx("b", |t| insert(t, "+2")).unwrap();
    let conn = Connection::open(dir.path().join("cb.db")).unwrap();
    let numbers: Vec<String> = conn
        .prepare("SELECT number FROM do_not_call")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(numbers, ["+2"]);
}

#[test]
fn a_read_does_not_wait_for_the_writers_connection() {
    // While the writing connection is held (a write, or a group of writes left open),
    // reads go on through their own connection and see what was committed.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("cb.db")).unwrap());
    let now = Utc.timestamp_opt(100, 0).unwrap();
    let (row, _) = store
        .create(
            &web_draft("+493012345678", 100),
            &CreateOptions::default(),
            now,
        )
        .unwrap();
    let held = store.lock();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let _ = tx.send(store.get(row.id).map(|r| r.number));
        })
    };
    // A bound so a regression fails instead of hanging the suite; not a timing assertion.
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the read waited for the writer's connection");
    assert_eq!(got.unwrap(), "+493012345678");
    drop(held);
    reader.join().unwrap();
}
