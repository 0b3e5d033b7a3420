//! Both store backends for one test: a fresh SQLite file, and a fresh schema on the
//! PostgreSQL test server (dropped at the end), so tests run in parallel on one database.
//!
//! The server: `CALLBACK_PG_URL`, or `postgres://callback:callback@127.0.0.1:5432/callback_test`
//! (what `.ci/postgres` starts and creates). When it does not answer, the PostgreSQL half
//! FAILS under `CI=true`, and is skipped with a note on stderr otherwise.

#![allow(dead_code)]

use callback_core::store::{PgStore, SqliteStore, Store, TranscriptStore};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use tempfile::TempDir;

pub const DEFAULT_PG_URL: &str = "postgres://callback:callback@127.0.0.1:5432/callback_test";

pub fn pg_url() -> String {
    std::env::var("CALLBACK_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// Whether the PostgreSQL half runs: the server answers, or (CI) the test fails here.
pub fn pg_available() -> bool {
    static UP: OnceLock<Result<(), String>> = OnceLock::new();
    let up = UP.get_or_init(|| {
        postgres::Client::connect(&pg_url(), postgres::NoTls)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    match up {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "PostgreSQL is required under CI=true but {} does not answer: {e} \
             (run .ci/postgres)",
            callback_core::store::redact_url(&pg_url())
        ),
        Err(e) => {
            eprintln!(
                "note: skipping the PostgreSQL half: {} does not answer ({e}); \
                 run .ci/postgres to start it",
                callback_core::store::redact_url(&pg_url())
            );
            false
        }
    }
}

/// Raw SQL on a backend's database, in the words both dialects share.
pub enum Raw {
    Sqlite(PathBuf),
    Pg(PgSchema),
}

impl Raw {
    pub fn execute(&self, sql: &str) {
        match self {
            Raw::Sqlite(path) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Raw::Pg(s) => s.client().batch_execute(sql).unwrap(),
        }
    }

    pub fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self {
            Raw::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(&sql, [], |r| r.get(0))
                .unwrap(),
            Raw::Pg(s) => s.client().query_one(&sql, &[]).unwrap().get(0),
        }
    }

    /// The rows of a query whose columns are all text (cast them: `CAST(x AS TEXT)`).
    pub fn texts(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Raw::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                let mut st = c.prepare(sql).unwrap();
                let n = st.column_count();
                st.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Raw::Pg(s) => s
                .client()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                .collect(),
        }
    }

    /// `(table, [columns in order])` of every table of the store's schema.
    pub fn tables(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Raw::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                let names: Vec<String> = c
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                names
                    .into_iter()
                    .map(|t| {
                        let cols: Vec<String> = c
                            .prepare(&format!(
                                "SELECT name FROM pragma_table_info('{t}') ORDER BY cid"
                            ))
                            .unwrap()
                            .query_map([], |r| r.get(0))
                            .unwrap()
                            .collect::<Result<_, _>>()
                            .unwrap();
                        (t, cols)
                    })
                    .collect()
            }
            Raw::Pg(s) => {
                let mut c = s.client();
                let rows = c
                    .query(
                        "SELECT table_name::text, column_name::text FROM information_schema.columns \
                         WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
                        &[&s.name],
                    )
                    .unwrap();
                let mut out: Vec<(String, Vec<String>)> = Vec::new();
                for r in rows {
                    let (t, col): (String, String) = (r.get(0), r.get(1));
                    match out.last_mut() {
                        Some((last, cols)) if *last == t => cols.push(col),
                        _ => out.push((t, vec![col])),
                    }
                }
                out
            }
        }
    }
}

/// A private schema on the test server, dropped (with everything in it) on drop.
pub struct PgSchema {
    pub name: String,
    /// The server URL with `search_path` set to the schema.
    pub url: String,
}

impl PgSchema {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let base = pg_url();
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        // Named after the schema too, so a test can find its store's connection.
        let url = format!("{base}{sep}options=-csearch_path%3D{name}&application_name={name}");
        Self { name, url }
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// One backend under test. Fields drop in order: the store closes before its database goes.
pub struct Backend {
    pub name: &'static str,
    pub store: Box<dyn Store>,
    pub raw: Raw,
    _dir: Option<TempDir>,
}

impl Backend {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callbacks.db");
        let store = Box::new(SqliteStore::open(&path).unwrap());
        Backend {
            name: "sqlite",
            store,
            raw: Raw::Sqlite(path),
            _dir: Some(dir),
        }
    }

    pub fn postgres() -> Self {
        let schema = PgSchema::new();
        let store = Box::new(PgStore::open(&schema.url).unwrap());
        Backend {
            name: "postgres",
            store,
            raw: Raw::Pg(schema),
            _dir: None,
        }
    }

    /// Another store on the same database (a second process or node).
    pub fn open_again(&self) -> Result<Box<dyn Store>, callback_core::store::StoreError> {
        Ok(match &self.raw {
            Raw::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Raw::Pg(s) => Box::new(PgStore::open(&s.url)?),
        })
    }
}

impl Backend {
    /// The outbox's cursors on the same database (its own connection: another worker).
    pub fn outbox(&self) -> Box<dyn callback_core::store::WebhookLog> {
        match &self.raw {
            Raw::Sqlite(path) => Box::new(SqliteStore::open(path).unwrap()),
            Raw::Pg(s) => Box::new(PgStore::open(&s.url).unwrap()),
        }
    }

    /// The transcription queue of the same database (its own connection).
    pub fn transcripts(&self) -> Box<dyn TranscriptStore> {
        match &self.raw {
            Raw::Sqlite(path) => Box::new(SqliteStore::open(path).unwrap()),
            Raw::Pg(s) => Box::new(PgStore::open(&s.url).unwrap()),
        }
    }
}

/// SQLite, and PostgreSQL when it is there (see [`pg_available`]).
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::sqlite()];
    if pg_available() {
        out.push(Backend::postgres());
    }
    out
}

/// Runs `test` on every backend, saying on stderr which one runs (shown when it fails).
pub fn on_each(test: impl Fn(&Backend)) {
    for b in backends() {
        eprintln!("-- on {}", b.name);
        test(&b);
    }
}
