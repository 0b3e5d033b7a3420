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

use backends::{pg_available, PgSchema};
use callback_core::store::{migration_steps, Engine, PgStore, SqliteStore};
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
        match self {
            Db::Sqlite(dir, _) => drop(SqliteStore::open(Db::path(dir)).unwrap()),
            Db::Pg(s, _) => drop(PgStore::open(&s.url).unwrap()),
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
