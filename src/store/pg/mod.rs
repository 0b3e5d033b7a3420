//! The PostgreSQL backend: one database shared by several nodes (issue 10). This folder
//! holds only its connection and SQL, as for SQLite: the executor and dialect texts
//! ([`exec`]), what it does its own way per door ([`lifecycle`], [`reads`], [`tx`],
//! [`webhooks`], [`dnc`]), the row adapter ([`rows`]), the migration runner (the steps are
//! `store::rules::schema`) and the other nodes' notifications ([`listen`]).
//!
//! Driver: the `postgres` crate, the synchronous client of the rust-postgres project (it
//! drives tokio-postgres on a private runtime). [`Store`] is synchronous, like SQLite's
//! calls, so a blocking client fits it without an async bridge in every method; sqlx would
//! bring its own runtime and macros for nothing the store needs.
//!
//! One connection behind a mutex, like [`super::SqliteStore`]: every operation is one short
//! transaction, and a node's dispatcher is one loop. A pool would let the HTTP API read
//! while a claim runs; that is for when it shows in a profile. A connection found broken
//! (server restart, network) is dropped and opened again by the next call; the call that
//! met the break fails with [`StoreError::Backend`], as any database error does.
//!
//! Semantics are the SQLite backend's, rule for rule (the same test suite runs on both).
//! What SQLite gets from its single writer, this gets from row locks and advisory locks:
//! - a change to one callback reads it `FOR UPDATE`, so check-then-write holds;
//! - claims pick rows `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take
//!   different callbacks and never wait on each other;
//! - create takes a transaction-scoped advisory lock on its idempotency key, on the number
//!   when merging, and on the queue when checking a slot's capacity, so two nodes creating
//!   the same request at once still make one.
//!
//! Times are whole UTC epoch seconds in `BIGINT`s, exactly as in SQLite (lease expiries
//! rounded up).

mod dnc;
mod exec;
mod lifecycle;
mod listen;
mod reads;
mod rows;
mod tls;
mod tx;
mod webhooks;

use super::StoreError;
use crate::store::rules::{ddl::Engine, invalid, schema};
use listen::listen_loop;
use postgres::{Client, Transaction};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tls::Tls;

pub use listen::Listener;
pub(crate) use tx::PgTx;

pub(crate) const CLAIMABLE: &str = "state IN ('scheduled', 'rescheduled')";
pub(crate) const ACTIVE: &str =
    "state IN ('due', 'offering', 'previewing', 'dialing', 'connected')";
pub(crate) const PENDING: &str = "state IN ('requested', 'scheduled', 'rescheduled')";

/// Classes of the two-key advisory locks create takes (the one-key space holds the
/// migration lock; PostgreSQL keeps the two spaces apart).
pub(crate) const LOCK_KEY: i32 = 1;
pub(crate) const LOCK_NUMBER: i32 = 2;
pub(crate) const LOCK_QUEUE: i32 = 3;

/// A connection string with its password hidden, for errors and logs.
pub fn redact_url(url: &str) -> String {
    // postgres://user:password@host/db -> postgres://user:***@host/db
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let (auth, tail) = match rest.rfind('@') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => return url.split('?').next().unwrap_or_default().to_string(),
    };
    let user = auth.split(':').next().unwrap_or_default();
    let tail = tail.split('?').next().unwrap_or_default();
    if auth.contains(':') {
        format!("{scheme}://{user}:***{tail}")
    } else {
        format!("{scheme}://{user}{tail}")
    }
}

/// The channel of the notifications a change other nodes should act on at once sends (a
/// callback became claimable, an agent became free or ready): `callback:<schema>`, since
/// channels are per database and two clusters may share one in different schemas. The
/// payload is the node that made the change.
fn channel(schema: &str) -> String {
    let mut c = format!("callback:{schema}");
    // Channel names are identifiers (at most 63 bytes).
    while c.len() > 63 {
        c.pop();
    }
    c
}

/// The shared store.
pub struct PgStore {
    url: String,
    /// Plain TCP, or TLS verified against `db-ca-file`.
    tls: Tls,
    conn: Mutex<Option<Client>>,
    /// This node's name: the payload of its notifications, so its listener skips them.
    node: String,
    /// The notification channel of this schema.
    channel: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

pub(crate) fn pg_err(doing: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| {
        // The server's own message (and detail) says more than the driver's summary.
        let text = match e.as_db_error() {
            Some(db) => match db.detail() {
                Some(d) => format!("{}: {d}", db.message()),
                None => db.message().to_string(),
            },
            None => e.to_string(),
        };
        StoreError::Backend(format!("{doing}: {text}"))
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, as libpq reads
    /// it; `?options=-csearch_path%3Dname` picks a schema) and brings the schema up to date,
    /// under an advisory lock so nodes starting together migrate one after the other.
    /// Refuses a database written by a newer build.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_tls(url, None)
    }

    /// [`PgStore::open`] over TLS when `ca_file` names the certificate authority (PEM) the
    /// server's certificate must chain to (`db-ca-file`); plain TCP without one.
    pub fn open_tls(url: &str, ca_file: Option<&Path>) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "db-url",
                format!(
                    "'{}' must start with postgres:// or postgresql://",
                    redact_url(url)
                ),
            ));
        }
        let tls = Tls::from_ca_file(ca_file)?;
        let mut client = tls.connect(url, None)?;
        migrate(&mut client)?;
        let schema: Option<String> = client
            .query_one("SELECT current_schema()::text", &[])
            .map_err(pg_err("reading the schema's name"))?
            .get(0);
        Ok(Self {
            url: url.to_string(),
            tls,
            conn: Mutex::new(Some(client)),
            node: String::new(),
            channel: channel(schema.as_deref().unwrap_or("public")),
        })
    }

    /// Names this node in its notifications (the module's `node-id`).
    pub fn for_node(mut self, node: &str) -> Self {
        self.node = node.to_string();
        self
    }

    /// Tells the other nodes' listeners, when `tx` commits, that there is work to look at.
    /// PostgreSQL folds identical notifications of one transaction into one.
    pub(crate) fn notify(&self, tx: &mut Transaction<'_>) -> Result<(), StoreError> {
        tx.execute("SELECT pg_notify($1, $2)", &[&self.channel, &self.node])
            .map_err(pg_err("notifying the other nodes"))?;
        Ok(())
    }

    /// Listens for the other nodes' notifications on a connection of its own and calls
    /// `wake` for each burst of them (the dispatcher's nudge). A lost connection is said
    /// once and opened again every second; the dispatcher's own timers go on meanwhile.
    pub fn listen(&self, wake: Box<dyn Fn() + Send + Sync>) -> std::io::Result<Listener> {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, node, flag) = (self.url.clone(), self.node.clone(), stop.clone());
        let (channel, tls) = (self.channel.clone(), self.tls.clone());
        let thread = std::thread::Builder::new()
            .name("callback-listen".into())
            .spawn(move || listen_loop(&url, &tls, &channel, &node, &flag, &*wake))?;
        Ok(Listener {
            stop,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        // A panic while holding the lock dropped its transaction (rolled back on the server).
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with the connection, opening it again first if it was lost.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.tls.connect(&self.url, None)?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(StoreError::Backend("no connection to PostgreSQL".into()));
        };
        let out = f(client);
        if client.is_closed() {
            *guard = None;
        }
        out
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    pub(crate) fn write<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(pg_err(doing))?;
            let out = f(&mut tx)?;
            tx.commit().map_err(pg_err(doing))?;
            Ok(out)
        })
    }

    /// Runs a shared write (`store::rules::writes`) in one transaction, as [`Self::write`].
    pub(crate) fn in_tx<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut PgTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(doing, |tx| f(&mut PgTx { c: tx, store: self }))
    }
}

/// The table holding the schema version (one row): SQLite's `user_version`.
const VERSION_TABLE: &str = "callback_schema";

/// The advisory lock key taken (per transaction) while migrating, so nodes starting at the
/// same moment migrate one after the other: "mod_callback schema" as a number.
const MIGRATION_LOCK: i64 = 0x6d63_6273_6368_656d;

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let err = pg_err("migrating the schema");
    let mut tx = client.transaction().map_err(&err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(&err)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (version BIGINT NOT NULL)",
        VERSION_TABLE
    ))
    .map_err(&err)?;
    let found: Option<i64> = tx
        .query_opt(&format!("SELECT max(version) FROM {}", VERSION_TABLE), &[])
        .map_err(&err)?
        .and_then(|r| r.get(0));
    let known = schema::latest();
    let applied = match found {
        None => 0,
        Some(v) => match usize::try_from(v) {
            Ok(v) if v <= known => v,
            _ => {
                return Err(StoreError::Backend(format!(
                    "the database has schema version {v}, newer than this build knows \
                     ({known}); refusing to use it (upgrade mod_callback on every node)"
                )))
            }
        },
    };
    if applied == known {
        return tx.commit().map_err(&err);
    }
    for step in &schema::steps(Engine::Postgres)[applied..] {
        tx.batch_execute(step).map_err(&err)?;
    }
    tx.execute(&format!("DELETE FROM {}", VERSION_TABLE), &[])
        .map_err(&err)?;
    let v = i64::try_from(known).unwrap_or(i64::MAX);
    tx.execute(
        &format!("INSERT INTO {} (version) VALUES ($1)", VERSION_TABLE),
        &[&v],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)
}

// The doors written once over `rules::exec` (this backend's statements are in `exec`).
crate::store::rules::sessions::session_store!(PgStore);
crate::store::rules::agents::agent_store!(PgStore);
crate::store::rules::queue::job_queue!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redact_url("postgres://cb:s3cret@db.example:5432/callbacks?sslmode=disable"),
            "postgres://cb:***@db.example:5432/callbacks"
        );
        assert_eq!(
            redact_url("postgresql://cb@db/callbacks"),
            "postgresql://cb@db/callbacks"
        );
        assert_eq!(redact_url("db/x"), "<not a URL>");
        let err = PgStore::open("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(err.contains("postgres://") && !err.contains("pw"), "{err}");
    }
}
