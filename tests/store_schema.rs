//! The migrations keep their effect: on both backends, each step builds the schema the
//! released step built (`fixtures/schema/*.txt`, dumped by the code that released it, see
//! support/schema_dump.rs for what is compared), and a database left at any earlier version
//! migrates to the latest schema. (Step 13 was captured by the code that added it, in
//! issue 18; on PostgreSQL it changes nothing, so its section is step 12's schema.)
//!
//! The fixtures are data, frozen per step: `capture_the_schema_of_new_steps` (ignored; run it
//! with `--ignored` when a step is added) appends the section of a step that has none, and
//! never rewrites one.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/schema_dump.rs"]
mod dump;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::{pg_available, PgSchema};
use callback_core::model::{DispatchCounts, Source, State};
use callback_core::store::{
    migration_steps, CreateOptions, CreateOutcome, Engine, PgStore, SqliteStore, Store, StoreError,
};
use std::path::{Path, PathBuf};

fn fixture(engine: Engine) -> PathBuf {
    let name = match engine {
        Engine::Sqlite => "sqlite.txt",
        Engine::Postgres => "postgres.txt",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema")
        .join(name)
}

fn released(engine: Engine) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixture(engine)).unwrap_or_default();
    dump::parse_sections(&text)
}

/// A database of one engine, built step by step by hand (not by the store's runner).
enum Db {
    Sqlite(tempfile::TempDir, rusqlite::Connection),
    Pg(PgSchema, Box<postgres::Client>),
}

impl Db {
    fn new(engine: Engine) -> Db {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let conn = rusqlite::Connection::open(dir.path().join("callbacks.db")).unwrap();
                Db::Sqlite(dir, conn)
            }
            Engine::Postgres => {
                let schema = PgSchema::new();
                let client = Box::new(schema.client());
                Db::Pg(schema, client)
            }
        }
    }

    fn path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("callbacks.db")
    }

    /// Runs one step in one transaction, as the store's runner does.
    fn apply(&mut self, step: &str) {
        match self {
            Db::Sqlite(_, c) => c.execute_batch(&format!("BEGIN; {step}; COMMIT;")).unwrap(),
            Db::Pg(_, c) => {
                let mut tx = c.transaction().unwrap();
                tx.batch_execute(step).unwrap();
                tx.commit().unwrap();
            }
        }
    }

    /// Says the database is at `version`, where the store's runner reads it.
    fn set_version(&mut self, version: usize) {
        match self {
            Db::Sqlite(_, c) => c
                .execute_batch(&format!("PRAGMA user_version = {version}"))
                .unwrap(),
            Db::Pg(_, c) => c
                .batch_execute(&format!(
                    "CREATE TABLE callback_schema (version BIGINT NOT NULL);
                     INSERT INTO callback_schema VALUES ({version});"
                ))
                .unwrap(),
        }
    }

    fn schema(&mut self) -> Vec<String> {
        match self {
            Db::Sqlite(dir, _) => dump::sqlite(&Db::path(dir)),
            Db::Pg(s, c) => dump::postgres(c, &s.name),
        }
    }

    /// The version the database says it has.
    fn version(&mut self) -> usize {
        let v: i64 = match self {
            Db::Sqlite(_, c) => c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap(),
            Db::Pg(_, c) => c
                .query_one("SELECT version FROM callback_schema", &[])
                .unwrap()
                .get(0),
        };
        usize::try_from(v).unwrap()
    }

    /// Opens the store on it (which migrates it to the latest version).
    fn open_store(&mut self) {
        drop(self.store());
    }

    /// The store on it (migrated to the latest version).
    fn store(&mut self) -> Box<dyn Store> {
        match self {
            Db::Sqlite(dir, _) => Box::new(SqliteStore::open(Db::path(dir)).unwrap()),
            Db::Pg(s, _) => Box::new(PgStore::open(&s.url).unwrap()),
        }
    }

    /// A database built by the released steps up to `version`, and saying so.
    fn at(engine: Engine, version: usize) -> Db {
        let mut db = Db::new(engine);
        for step in &migration_steps(engine)[..version] {
            db.apply(step);
        }
        db.set_version(version);
        db
    }

    /// Runs SQL that both engines read alike (rows stored by an older build).
    fn execute(&mut self, sql: &str) {
        match self {
            Db::Sqlite(_, c) => c.execute_batch(sql).unwrap(),
            Db::Pg(_, c) => c.batch_execute(sql).unwrap(),
        }
    }

    /// The rows of a query whose columns are all cast to text.
    fn texts(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Db::Sqlite(_, c) => {
                let mut q = c.prepare(sql).unwrap();
                let n = q.column_count();
                q.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Db::Pg(_, c) => c
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                .collect(),
        }
    }
}

/// The engines to test: SQLite, and PostgreSQL when its test server answers.
fn engines() -> Vec<Engine> {
    let mut out = vec![Engine::Sqlite];
    if pg_available() {
        out.push(Engine::Postgres);
    }
    out
}

/// Where two schemas differ, line by line, for the failure message.
fn diff(want: &[String], got: &[String]) -> String {
    let gone: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    let new: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    format!("missing: {gone:#?}\nunexpected: {new:#?}")
}

#[test]
fn every_step_builds_the_schema_its_released_step_built() {
    // A fresh database migrated one step at a time has, after each step, the schema the
    // released step built (and every step this build runs has its released schema).
    for engine in engines() {
        let released = released(engine);
        let steps = migration_steps(engine);
        assert_eq!(
            released.len(),
            steps.len(),
            "{engine:?}: {} steps but {} released schemas in {} (capture the new step's)",
            steps.len(),
            released.len(),
            fixture(engine).display()
        );
        let mut db = Db::new(engine);
        for (i, (step, want)) in steps.iter().zip(&released).enumerate() {
            db.apply(step);
            let got = db.schema();
            assert!(
                &got == want,
                "{engine:?}: after step {} the schema differs from the released one:\n{}",
                i + 1,
                diff(want, &got)
            );
        }
    }
}

#[test]
fn a_database_left_at_any_step_migrates_to_the_latest_schema() {
    // A database built up to version k (0 to the last) and then opened by the store ends
    // with the schema a fresh database has after the last released step, at the last version.
    for engine in engines() {
        let released = released(engine);
        let steps = migration_steps(engine);
        let latest = released.last().expect("the fixture has sections");
        for k in 0..steps.len() {
            let mut db = Db::new(engine);
            for step in &steps[..k] {
                db.apply(step);
            }
            db.set_version(k);
            db.open_store();
            let got = db.schema();
            assert!(
                &got == latest,
                "{engine:?}: a database at version {k} migrated to another schema:\n{}",
                diff(latest, &got)
            );
            assert_eq!(db.version(), steps.len(), "{engine:?} from version {k}");
        }
    }
}

/// A callback row as the builds of steps 6 to 8 stored it (the columns of step 1).
fn old_callback(id: i64, state: &str, number: &str, key: Option<&str>) -> String {
    let key = key.map_or("NULL".to_string(), |k| format!("'{k}'"));
    format!(
        "INSERT INTO callbacks (id, kind, number, time_zone, queue, source, state, due_at, \
             customer_attempts, created_at, updated_at, idempotency_key, ivr_data, tags) \
         VALUES ({id}, 'immediate', '{number}', 'Europe/Berlin', 'sales', 'ivr', '{state}', \
             1700000000, 0, 1700000000, 1700000000, {key}, '{{}}', '{{}}');"
    )
}

#[test]
fn open_agent_legs_stored_before_step_7_are_closed_by_it_and_the_rest_kept() {
    // A database at step 6 holds what a crash or a cancel in the preview could leave: an
    // agent with two legs open (an older one of a dispatch that ended), and an open leg of
    // a callback no longer in a dispatch. Step 7 closes those as interrupted (its unique
    // index of open agent legs could not be built over them) and keeps the open leg of
    // each running dispatch; the store then reads every callback.
    for engine in engines() {
        let mut db = Db::at(engine, 6);
        db.execute(&old_callback(101, "offering", "+493012345601", None));
        db.execute(&old_callback(102, "scheduled", "+493012345602", None));
        db.execute(&old_callback(103, "offering", "+493012345603", None));
        db.execute(
            "INSERT INTO attempts (id, callback_id, leg, attempt_no, agent, started_at) VALUES \
               (1, 101, 'agent', 1, '1001', 1700000010), \
               (2, 102, 'agent', 1, '1002', 1700000020), \
               (3, 101, 'agent', 2, '1001', 1700000030), \
               (4, 103, 'agent', 1, '1003', 1700000040);",
        );
        let store = db.store();
        let legs = db.texts(
            "SELECT CAST(id AS TEXT), CAST(ended_at AS TEXT), hangup_cause, result \
             FROM attempts ORDER BY id",
        );
        let leg = |id: &str, ended: Option<&str>, cause: Option<&str>, result: Option<&str>| {
            vec![
                Some(id.to_string()),
                ended.map(str::to_string),
                cause.map(str::to_string),
                result.map(str::to_string),
            ]
        };
        assert_eq!(
            legs,
            [
                leg("1", Some("1700000010"), Some("INTERRUPTED"), Some("error")),
                leg("2", Some("1700000020"), Some("INTERRUPTED"), Some("error")),
                leg("3", None, None, None),
                leg("4", None, None, None),
            ],
            "{engine:?}"
        );
        for (id, state) in [(101, State::Offering), (102, State::Scheduled)] {
            let r = store.get(id).unwrap();
            assert_eq!((r.state, r.counts), (state, DispatchCounts::default()));
            assert_eq!(
                r.number_type, None,
                "{engine:?}: no type stored before step 13"
            );
        }
        assert_eq!(store.attempts(101).unwrap().len(), 2, "{engine:?}");
    }
}

#[test]
fn callbacks_stored_before_steps_8_and_9_keep_their_key_and_get_their_counters() {
    // A database at step 8 holds a callback whose trace has claims, waits and a failover,
    // and one created with an idempotency key before step 8 (no request digest). Step 9
    // counts the dispatcher's columns from the trace; the old key is still honoured, for
    // any request (nothing to compare it with), and the new create under it is no second
    // callback.
    for engine in engines() {
        let mut db = Db::at(engine, 8);
        db.execute(&old_callback(201, "rescheduled", "+493012345611", None));
        db.execute(&old_callback(
            202,
            "scheduled",
            "+493012345612",
            Some("web-1"),
        ));
        db.execute(
            "INSERT INTO events (callback_id, at, action, from_state, to_state) VALUES \
               (201, 1700000000, 'created', NULL, 'scheduled'), \
               (201, 1700000100, 'claim', 'scheduled', 'due'), \
               (201, 1700000100, 'wait', 'due', 'rescheduled'), \
               (201, 1700000200, 'claim', 'rescheduled', 'due'), \
               (201, 1700000200, 'failover', 'due', 'rescheduled'), \
               (201, 1700000300, 'claim', 'rescheduled', 'due'), \
               (201, 1700000300, 'wait', 'due', 'rescheduled'), \
               (201, 1700000400, 'claim', 'rescheduled', 'due'), \
               (201, 1700000400, 'wait', 'due', 'rescheduled'), \
               (202, 1700000000, 'created', NULL, 'scheduled');",
        );
        let store = db.store();
        let r = store.get(201).unwrap();
        let first = chrono::DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        assert_eq!(
            r.counts,
            DispatchCounts {
                waits: 2,
                failovers: 1,
                first_claimed_at: Some(first),
            },
            "{engine:?}"
        );
        assert_eq!(store.get(202).unwrap().counts, DispatchCounts::default());
        let mut again = fixtures::draft("+493012345699", "sales", 0);
        again.source = Source::Web;
        again.idempotency_key = Some("web-1".into());
        let options = CreateOptions {
            request_hash: Some("a digest the old row never had".into()),
            ..Default::default()
        };
        let (got, outcome) = store.create(&again, &options, first).unwrap();
        assert_eq!(
            (got.id, outcome),
            (202, CreateOutcome::Existing),
            "{engine:?}"
        );
        // A new key after the migration is compared: the same key with another request
        // is refused, the stored rows left as they were.
        again.idempotency_key = Some("web-2".into());
        let (new, outcome) = store.create(&again, &options, first).unwrap();
        assert_eq!(outcome, CreateOutcome::Created, "{engine:?}");
        again.number = "+493012345698".into();
        let other = CreateOptions {
            request_hash: Some("another request".into()),
            ..Default::default()
        };
        assert!(
            matches!(
                store.create(&again, &other, first),
                Err(StoreError::IdempotencyMismatch)
            ),
            "{engine:?}"
        );
        assert_eq!(store.get(new.id).unwrap().number, "+493012345699");
    }
}

#[test]
#[ignore = "a tool: writes the schema of steps the fixtures do not have yet"]
fn capture_the_schema_of_new_steps() {
    // Appends, for each step without a section in the fixture, the schema it builds; a
    // released section is never rewritten.
    for engine in engines() {
        let path = fixture(engine);
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            format!(
                "# The schema each migration step builds on {engine:?}, as released (see\n\
                 # tests/store_schema.rs). Data, not source: a section is captured once, by the\n\
                 # code that released its step, and never edited.\n\n"
            )
        });
        let have = dump::parse_sections(&text).len();
        let mut db = Db::new(engine);
        for (i, step) in migration_steps(engine).iter().enumerate() {
            db.apply(step);
            if i >= have {
                text.push_str(&dump::section(i + 1, &db.schema()));
            }
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
}
