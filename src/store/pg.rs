//! The PostgreSQL backend: one database shared by several nodes (issue 10).
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

use super::pg_schema;
use super::sqlite::{
    ceil_secs, holds, invalid, lease_until, map_json, merged_remark, parse_state, same_request,
    secs, validate, validate_agent, validate_queue,
};
use super::{
    AgentBoard, AgentRecord, AttemptEnd, CreateOptions, CreateOutcome, DoNotCall, Event, Figures,
    Histogram, ListFilter, NewAttempt, Offered, Stats, Store, StoreError, Transition,
};
use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, DispatchCounts, Draft, Leg, Recording,
    State, Transcript, Window,
};
use chrono::{DateTime, Duration, Utc};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Transaction};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The columns of `callbacks`, in the order [`read_callback`] decodes them (the SQLite
/// list, word for word).
const CALLBACK_COLUMNS: &str = "id, kind, number, time_zone, queue, source, state, due_at, \
     customer_attempts, created_at, updated_at, desired_at, window_from, window_until, \
     expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, recording_path, \
     recording_ms, recording_rate, transcript_text, transcript_language, tags, lease_owner, \
     lease_expires, priority, waits, failovers, first_claimed_at";

/// How many columns [`CALLBACK_COLUMNS`] names: a query returning more reads them after.
const CALLBACK_COLUMN_COUNT: usize = 32;

const ATTEMPT_COLUMNS: &str = "id, callback_id, leg, attempt_no, agent, call_uuid, started_at, \
     answered_at, ended_at, hangup_cause, result, disposition, note";

const CLAIMABLE: &str = "state IN ('scheduled', 'rescheduled')";
const ACTIVE: &str = "state IN ('due', 'offering', 'previewing', 'dialing', 'connected')";
const PENDING: &str = "state IN ('requested', 'scheduled', 'rescheduled')";

/// Classes of the two-key advisory locks create takes (the one-key space holds the
/// migration lock; PostgreSQL keeps the two spaces apart).
const LOCK_KEY: i32 = 1;
const LOCK_NUMBER: i32 = 2;
const LOCK_QUEUE: i32 = 3;

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

pub(super) fn pg_err(doing: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
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
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "db-url",
                format!(
                    "'{}' must start with postgres:// or postgresql://",
                    redact_url(url)
                ),
            ));
        }
        let mut client = connect(url)?;
        migrate(&mut client)?;
        let schema: Option<String> = client
            .query_one("SELECT current_schema()::text", &[])
            .map_err(pg_err("reading the schema's name"))?
            .get(0);
        Ok(Self {
            url: url.to_string(),
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
    fn notify(&self, tx: &mut Transaction<'_>) -> Result<(), StoreError> {
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
        let channel = self.channel.clone();
        let thread = std::thread::Builder::new()
            .name("callback-listen".into())
            .spawn(move || listen_loop(&url, &channel, &node, &flag, &*wake))?;
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
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(connect(&self.url)?);
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
    pub(super) fn write<T>(
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
}

/// The thread of [`PgStore::listen`]; stopped (and joined) by [`Listener::stop`] or drop.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the PostgreSQL listener thread panicked");
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long the listener waits for a notification before it looks at its stop flag.
const LISTEN_POLL: std::time::Duration = std::time::Duration::from_millis(200);

fn listen_loop(
    url: &str,
    channel: &str,
    node: &str,
    stop: &AtomicBool,
    wake: &(dyn Fn() + Send + Sync),
) {
    let mut lost = false;
    // A quoted identifier: the schema's name may hold any character.
    let listen = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
    while !stop.load(Ordering::SeqCst) {
        let listening = connect_within(url, LISTEN_CONNECT_TIMEOUT).and_then(|mut c| {
            c.batch_execute(&listen)
                .map_err(pg_err("listening for other nodes"))?;
            Ok(c)
        });
        let mut client = match listening {
            Ok(c) => {
                if std::mem::take(&mut lost) {
                    tracing::info!("listening for other nodes' changes again");
                }
                // Whatever was said while not listening is looked at now.
                wake();
                c
            }
            Err(e) => {
                if !std::mem::replace(&mut lost, true) {
                    tracing::warn!(
                        "not listening for other nodes' changes: {e}; trying every second \
                         (due callbacks are still found by the dispatcher's timers)"
                    );
                }
                // A second, in steps, so an unload does not wait for it.
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                continue;
            }
        };
        while !stop.load(Ordering::SeqCst) {
            let mut failed = None;
            {
                let mut n = client.notifications();
                let mut it = n.timeout_iter(LISTEN_POLL);
                // The iterator waits for a quiet spell: under a steady stream it does not
                // end, so each notification wakes and the stop flag is looked at each time.
                loop {
                    match it.next() {
                        Ok(Some(note)) => {
                            if note.payload() != node {
                                wake();
                            }
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if failed.is_none() && client.is_closed() {
                tracing::warn!(
                    "listening for other nodes' changes: the connection closed; reconnecting"
                );
                lost = true;
                break;
            }
            if let Some(e) = failed {
                tracing::warn!(
                    "listening for other nodes' changes: {e}; reconnecting (due callbacks \
                     are still found by the dispatcher's timers)"
                );
                lost = true;
                break;
            }
        }
    }
}

/// How long the listener waits for the server when it (re)connects: an unload joins it.
const LISTEN_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

fn connect_within(url: &str, timeout: std::time::Duration) -> Result<Client, StoreError> {
    let failed = |e: &dyn std::fmt::Display| {
        StoreError::Backend(format!(
            "connecting to PostgreSQL at {}: {e}",
            redact_url(url)
        ))
    };
    let mut config = postgres::Config::from_str(url).map_err(|e| failed(&e))?;
    // A timeout in the URL wins if it is shorter.
    if config.get_connect_timeout().is_none_or(|t| *t > timeout) {
        config.connect_timeout(timeout);
    }
    config.connect(NoTls).map_err(|e| failed(&e))
}

fn connect(url: &str) -> Result<Client, StoreError> {
    Client::connect(url, NoTls).map_err(|e| {
        StoreError::Backend(format!(
            "connecting to PostgreSQL at {}: {e}",
            redact_url(url)
        ))
    })
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let err = pg_err("migrating the schema");
    let mut tx = client.transaction().map_err(&err)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&pg_schema::MIGRATION_LOCK],
    )
    .map_err(&err)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (version BIGINT NOT NULL)",
        pg_schema::VERSION_TABLE
    ))
    .map_err(&err)?;
    let found: Option<i64> = tx
        .query_opt(
            &format!("SELECT max(version) FROM {}", pg_schema::VERSION_TABLE),
            &[],
        )
        .map_err(&err)?
        .and_then(|r| r.get(0));
    let known = pg_schema::MIGRATIONS.len();
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
    for step in &pg_schema::MIGRATIONS[applied..] {
        tx.batch_execute(step).map_err(&err)?;
    }
    tx.execute(&format!("DELETE FROM {}", pg_schema::VERSION_TABLE), &[])
        .map_err(&err)?;
    let v = i64::try_from(known).unwrap_or(i64::MAX);
    tx.execute(
        &format!(
            "INSERT INTO {} (version) VALUES ($1)",
            pg_schema::VERSION_TABLE
        ),
        &[&v],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)
}

// ---- conversions ---------------------------------------------------------------------------

pub(super) fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
    column: &'static str,
) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
}

fn bad(column: &'static str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("column {column}: {message}"))
}

fn enum_col<T>(row: &Row, idx: usize, column: &'static str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = col(row, idx, column)?;
    text.parse().map_err(|e: T::Err| bad(column, e))
}

fn to_time(column: &'static str, s: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(s, 0)
        .ok_or_else(|| bad(column, format!("{s} is not a representable time")))
}

fn time_col(row: &Row, idx: usize, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    to_time(column, col(row, idx, column)?)
}

fn opt_time_col(
    row: &Row,
    idx: usize,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    col::<Option<i64>>(row, idx, column)?
        .map(|s| to_time(column, s))
        .transpose()
}

fn u32_col(row: &Row, idx: usize, column: &'static str) -> Result<u32, StoreError> {
    let v: i64 = col(row, idx, column)?;
    u32::try_from(v).map_err(|_| bad(column, format!("{v} is out of range")))
}

fn opt_u32(row: &Row, idx: usize, column: &'static str) -> Result<u32, StoreError> {
    match col::<Option<i64>>(row, idx, column)? {
        None => Ok(0),
        Some(v) => u32::try_from(v).map_err(|_| bad(column, format!("{v} is out of range"))),
    }
}

fn map_col(
    row: &Row,
    idx: usize,
    column: &'static str,
) -> Result<BTreeMap<String, String>, StoreError> {
    match col::<Option<String>>(row, idx, column)? {
        None => Ok(BTreeMap::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| bad(column, format!("not a JSON object of strings: {e}"))),
    }
}

fn read_callback(row: &Row) -> Result<CallbackRequest, StoreError> {
    let recording = match col::<Option<String>>(row, 20, "recording_path")? {
        None => None,
        Some(path) => Some(Recording {
            path,
            duration_ms: opt_u32(row, 21, "recording_ms")?,
            sample_rate: opt_u32(row, 22, "recording_rate")?,
        }),
    };
    let transcript = match col::<Option<String>>(row, 23, "transcript_text")? {
        None => None,
        Some(text) => Some(Transcript {
            text,
            language: col(row, 24, "transcript_language")?,
        }),
    };
    let priority: i64 = col(row, 28, "priority")?;
    Ok(CallbackRequest {
        id: col(row, 0, "id")?,
        kind: enum_col(row, 1, "kind")?,
        number: col(row, 2, "number")?,
        time_zone: col(row, 3, "time_zone")?,
        queue: col(row, 4, "queue")?,
        source: enum_col(row, 5, "source")?,
        state: enum_col(row, 6, "state")?,
        due_at: opt_time_col(row, 7, "due_at")?,
        customer_attempts: u32_col(row, 8, "customer_attempts")?,
        created_at: time_col(row, 9, "created_at")?,
        updated_at: time_col(row, 10, "updated_at")?,
        desired_at: opt_time_col(row, 11, "desired_at")?,
        window: Window {
            from: opt_time_col(row, 12, "window_from")?,
            until: opt_time_col(row, 13, "window_until")?,
        },
        expires_at: opt_time_col(row, 14, "expires_at")?,
        agent: col(row, 15, "agent")?,
        remark: col(row, 16, "remark")?,
        ivr_data: map_col(row, 17, "ivr_data")?,
        origin_uuid: col(row, 18, "origin_uuid")?,
        idempotency_key: col(row, 19, "idempotency_key")?,
        recording,
        transcript,
        tags: map_col(row, 25, "tags")?,
        lease_owner: col(row, 26, "lease_owner")?,
        lease_expires: opt_time_col(row, 27, "lease_expires")?,
        priority: i32::try_from(priority)
            .map_err(|_| bad("priority", format!("{priority} is out of range")))?,
        counts: DispatchCounts {
            waits: u32_col(row, 29, "waits")?,
            failovers: u32_col(row, 30, "failovers")?,
            first_claimed_at: opt_time_col(row, 31, "first_claimed_at")?,
        },
    })
}

fn read_attempt(row: &Row) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        id: col(row, 0, "id")?,
        callback_id: col(row, 1, "callback_id")?,
        leg: enum_col(row, 2, "leg")?,
        attempt_no: u32_col(row, 3, "attempt_no")?,
        agent: col(row, 4, "agent")?,
        call_uuid: col(row, 5, "call_uuid")?,
        started_at: time_col(row, 6, "started_at")?,
        answered_at: opt_time_col(row, 7, "answered_at")?,
        ended_at: opt_time_col(row, 8, "ended_at")?,
        hangup_cause: col(row, 9, "hangup_cause")?,
        result: match col::<Option<String>>(row, 10, "result")? {
            None => None,
            Some(t) => Some(t.parse::<AttemptResult>().map_err(|e| bad("result", e))?),
        },
        disposition: col(row, 11, "disposition")?,
        note: col(row, 12, "note")?,
    })
}

fn read_event(row: &Row) -> Result<Event, StoreError> {
    Ok(Event {
        id: col(row, 0, "id")?,
        callback_id: col(row, 1, "callback_id")?,
        at: time_col(row, 2, "at")?,
        action: col(row, 3, "action")?,
        from: match col::<Option<String>>(row, 4, "from_state")? {
            None => None,
            Some(t) => Some(t.parse::<State>().map_err(|e| bad("from_state", e))?),
        },
        to: enum_col(row, 5, "to_state")?,
        actor: col(row, 6, "actor")?,
        detail: col(row, 7, "detail")?,
    })
}

fn i64_of(n: u32) -> i64 {
    i64::from(n)
}

// ---- statements shared by several operations -------------------------------------------------

/// A callback, locked for the rest of the transaction when `lock` (a change follows).
pub(super) fn load_with(
    c: &mut impl GenericClient,
    id: CallbackId,
    lock: bool,
) -> Result<CallbackRequest, StoreError> {
    let sql = format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = c
        .query_opt(&sql, &[&id])
        .map_err(pg_err("reading a callback"))?
        .ok_or(StoreError::NotFound(id))?;
    read_callback(&row)
}

pub(super) fn load(
    c: &mut impl GenericClient,
    id: CallbackId,
) -> Result<CallbackRequest, StoreError> {
    load_with(c, id, false)
}

fn exists(c: &mut impl GenericClient, id: CallbackId) -> Result<(), StoreError> {
    let found = c
        .query_opt("SELECT 1 FROM callbacks WHERE id = $1", &[&id])
        .map_err(pg_err("looking up a callback"))?;
    found.map(drop).ok_or(StoreError::NotFound(id))
}

/// One row of a callback's trace.
pub(super) struct NewEvent<'a> {
    pub(super) callback_id: CallbackId,
    pub(super) at: i64,
    pub(super) action: &'a str,
    pub(super) from: Option<State>,
    pub(super) to: State,
    pub(super) actor: Option<&'a str>,
    pub(super) detail: Option<&'a str>,
}

pub(super) fn insert_event(c: &mut impl GenericClient, e: &NewEvent<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO events (callback_id, at, action, from_state, to_state, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &e.callback_id,
            &e.at,
            &e.action,
            &e.from.map(State::as_str),
            &e.to.as_str(),
            &e.actor,
            &e.detail,
        ],
    )
    .map(drop)
    .map_err(pg_err("writing the trace"))
}

/// Many trace rows in one statement, ids in the order given.
fn insert_events(c: &mut impl GenericClient, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = events.iter().map(|e| e.callback_id).collect();
    let at: Vec<i64> = events.iter().map(|e| e.at).collect();
    let action: Vec<&str> = events.iter().map(|e| e.action).collect();
    let from: Vec<Option<&str>> = events.iter().map(|e| e.from.map(State::as_str)).collect();
    let to: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
    let actor: Vec<Option<&str>> = events.iter().map(|e| e.actor).collect();
    let detail: Vec<Option<&str>> = events.iter().map(|e| e.detail).collect();
    c.execute(
        "INSERT INTO events (callback_id, at, action, from_state, to_state, actor, detail) \
         SELECT a, b, c, d, f, g, h FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[]) WITH ORDINALITY AS e(a, b, c, d, f, g, h, n) ORDER BY n",
        &[&ids, &at, &action, &from, &to, &actor, &detail],
    )
    .map(drop)
    .map_err(pg_err("writing the trace"))
}

pub(super) fn insert_job(
    c: &mut impl GenericClient,
    callback_id: CallbackId,
    wav_path: &str,
    now: i64,
) -> Result<i64, StoreError> {
    c.query_one(
        "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
         created_at, updated_at) VALUES ($1, $2, 'queued', $3, $3, $3) RETURNING id",
        &[&callback_id, &wav_path, &now],
    )
    .map(|r| r.get(0))
    .map_err(pg_err("queueing a transcription"))
}

const INSERT_CALLBACK: &str = "INSERT INTO callbacks (kind, number, time_zone, queue, source, \
     state, due_at, customer_attempts, created_at, updated_at, desired_at, window_from, \
     window_until, expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, \
     recording_path, recording_ms, recording_rate, tags) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21) RETURNING id";

fn insert_callback(
    c: &mut impl GenericClient,
    stmt: &postgres::Statement,
    d: &Draft,
    now: i64,
) -> Result<CallbackId, StoreError> {
    let ivr = map_json(&d.ivr_data, "ivr_data")?;
    let tags = map_json(&d.tags, "tags")?;
    let rec = d.recording.as_ref();
    let params: [&(dyn ToSql + Sync); 21] = [
        &d.kind.as_str(),
        &d.number,
        &d.time_zone,
        &d.queue,
        &d.source.as_str(),
        &d.state.as_str(),
        &d.due_at.map(secs),
        &now,
        &d.desired_at.map(secs),
        &d.window.from.map(secs),
        &d.window.until.map(secs),
        &d.expires_at.map(secs),
        &d.agent,
        &d.remark,
        &ivr,
        &d.origin_uuid,
        &d.idempotency_key,
        &rec.map(|r| r.path.as_str()),
        &rec.map(|r| i64_of(r.duration_ms)),
        &rec.map(|r| i64_of(r.sample_rate)),
        &tags,
    ];
    c.query_one(stmt, &params)
        .map(|r| r.get(0))
        .map_err(|e| match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION && d.idempotency_key.is_some() => {
                invalid(
                    "idempotency_key",
                    format!(
                        "'{}' is already used by another callback",
                        d.idempotency_key.as_deref().unwrap_or_default()
                    ),
                )
            }
            _ => pg_err("storing a callback")(e),
        })
}

fn count_slot(
    c: &mut impl GenericClient,
    queue: &str,
    start: i64,
    end: i64,
) -> Result<u32, StoreError> {
    let n: i64 = c
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                         AND due_at >= $2 AND due_at < $3 AND queue = $1) \
                      + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                         AND due_at >= $2 AND due_at < $3 AND queue = $1)"
            ),
            &[&queue, &start, &end],
        )
        .map(|r| r.get(0))
        .map_err(pg_err("counting a slot"))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn load_attempt(
    c: &mut impl GenericClient,
    attempt_id: i64,
    lock: bool,
) -> Result<Attempt, StoreError> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = c
        .query_opt(&sql, &[&attempt_id])
        .map_err(pg_err("reading an attempt"))?
        .ok_or_else(|| invalid("attempt_id", format!("there is no attempt {attempt_id}")))?;
    read_attempt(&row)
}

/// Serialises creators on one value (a key, a number, a queue) until the transaction ends.
fn advisory_lock(c: &mut impl GenericClient, class: i32, value: &str) -> Result<(), StoreError> {
    c.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&class, &value],
    )
    .map(drop)
    .map_err(pg_err("serialising a create"))
}

fn queue_recording(
    c: &mut impl GenericClient,
    id: CallbackId,
    d: &Draft,
    now: i64,
) -> Result<(), StoreError> {
    match d.recording.as_ref().filter(|r| !r.path.trim().is_empty()) {
        Some(rec) => insert_job(c, id, &rec.path, now).map(drop),
        None => Ok(()),
    }
}

/// The SQLite backend's `merge_recording`, rule for rule.
fn merge_recording(
    c: &mut impl GenericClient,
    row: &CallbackRequest,
    rec: &Recording,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let known = row.recording.as_ref().is_some_and(|r| r.path == rec.path)
        || c.query_opt(
            "SELECT 1 FROM transcriptions WHERE callback_id = $1 AND wav_path = $2",
            &[&row.id, &rec.path],
        )
        .map_err(pg_err("merging a recording"))?
        .is_some();
    if known {
        return Ok(None);
    }
    if row.recording.is_none() {
        c.execute(
            "UPDATE callbacks SET recording_path = $2, recording_ms = $3, recording_rate = $4, \
             updated_at = $5 WHERE id = $1",
            &[
                &row.id,
                &rec.path,
                &i64_of(rec.duration_ms),
                &i64_of(rec.sample_rate),
                &now,
            ],
        )
        .map_err(pg_err("merging a recording"))?;
        insert_job(c, row.id, &rec.path, now)?;
        Ok(Some(format!("its recording {}", rec.path)))
    } else {
        insert_job(c, row.id, &rec.path, now)?;
        Ok(Some(format!(
            "a second recording {} (transcribed too, its text appended)",
            rec.path
        )))
    }
}

/// A checked transition and its event, inside the caller's transaction.
fn apply_transition(
    tx: &mut impl GenericClient,
    id: CallbackId,
    change: &Transition,
    now_s: i64,
) -> Result<CallbackRequest, StoreError> {
    let row = load_with(tx, id, true)?;
    let super::sqlite::Planned {
        to,
        due_at,
        lease_owner,
        lease_expires,
        queue,
        number,
        agent,
        attempts,
        waits,
        failovers,
    } = super::sqlite::plan(&row, change, now_s)?;
    let attempts = i64_of(attempts);
    let (waits, failovers) = (i64_of(waits), i64_of(failovers));
    let updated = tx
        .query_one(
            &format!(
                "UPDATE callbacks SET state = $2, due_at = $3, queue = $4, \
                 customer_attempts = $5, lease_owner = $6, lease_expires = $7, \
                 updated_at = $8, number = $9, agent = $10, waits = $12, failovers = $13, \
                 priority = CASE WHEN $11 AND priority < {boost} \
                            THEN priority + {boost} ELSE priority END \
                 WHERE id = $1 RETURNING {CALLBACK_COLUMNS}",
                boost = super::FIRST_BOOST
            ),
            &[
                &id,
                &to.as_str(),
                &due_at,
                &queue,
                &attempts,
                &lease_owner,
                &lease_expires,
                &now_s,
                &number,
                &agent,
                &change.first,
                &waits,
                &failovers,
            ],
        )
        .map_err(pg_err("applying a transition"))?;
    let updated = read_callback(&updated)?;
    insert_event(
        tx,
        &NewEvent {
            callback_id: id,
            at: now_s,
            action: &change.action,
            from: Some(row.state),
            to,
            actor: change.actor.as_deref().or(change.owner.as_deref()),
            detail: change.detail.as_deref(),
        },
    )?;
    if !to.is_active() {
        // As in SQLite: an agent leg left open out of a dispatch would hold its agent.
        tx.execute(
            "UPDATE attempts SET ended_at = $2, hangup_cause = 'CALLBACK_ENDED', \
             result = 'error' WHERE callback_id = $1 AND leg = 'agent' AND ended_at IS NULL",
            &[&id, &now_s],
        )
        .map_err(pg_err("closing the agent leg"))?;
    }
    Ok(updated)
}

/// A number onto the do-not-call list, inside the caller's transaction: adding twice keeps
/// the first date (when the customer first asked); a new reason replaces the old one.
fn write_dnc(
    tx: &mut impl GenericClient,
    number: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO do_not_call (number, reason, added_at) VALUES ($1, $2, $3) \
         ON CONFLICT (number) DO UPDATE \
         SET reason = coalesce(excluded.reason, do_not_call.reason)",
        &[&number, &reason, &secs(now)],
    )
    .map(drop)
    .map_err(pg_err("adding to the do-not-call list"))
}

/// An attempt's disposition, inside the caller's transaction. `None` keeps what is there:
/// an agent correcting the note does not erase the code.
fn write_disposition(
    tx: &mut impl GenericClient,
    attempt_id: i64,
    result: Option<AttemptResult>,
    disposition: Option<&str>,
    note: Option<&str>,
) -> Result<Attempt, StoreError> {
    load_attempt(tx, attempt_id, true)?;
    let r = tx
        .query_one(
            &format!(
                "UPDATE attempts SET result = coalesce($2, result), \
                 disposition = coalesce($3, disposition), note = coalesce($4, note) \
                 WHERE id = $1 RETURNING {ATTEMPT_COLUMNS}"
            ),
            &[
                &attempt_id,
                &result.map(AttemptResult::as_str),
                &disposition,
                &note,
            ],
        )
        .map_err(pg_err("setting a disposition"))?;
    read_attempt(&r)
}

/// A new leg by the lease holder, inside the caller's transaction.
fn insert_attempt(
    tx: &mut impl GenericClient,
    attempt: &NewAttempt,
    owner: &str,
    now_s: i64,
) -> Result<Attempt, StoreError> {
    let row = load_with(tx, attempt.callback_id, true)?;
    holds(&row, owner, now_s)?;
    let attempt_no = match attempt.leg {
        Leg::Customer => {
            let n = row.customer_attempts.saturating_add(1);
            tx.execute(
                "UPDATE callbacks SET customer_attempts = $2, updated_at = $3 WHERE id = $1",
                &[&row.id, &i64_of(n), &now_s],
            )
            .map_err(pg_err("counting a customer attempt"))?;
            n
        }
        Leg::Agent => row.customer_attempts.saturating_add(1),
    };
    let r = tx
        .query_one(
            &format!(
                "INSERT INTO attempts (callback_id, leg, attempt_no, agent, call_uuid, \
                 started_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ATTEMPT_COLUMNS}"
            ),
            &[
                &row.id,
                &attempt.leg.as_str(),
                &i64_of(attempt_no),
                &attempt.agent,
                &attempt.call_uuid,
                &now_s,
            ],
        )
        .map_err(|e| {
            let agent_busy = e.as_db_error().is_some_and(|d| {
                d.code() == &SqlState::UNIQUE_VIOLATION
                    && d.constraint() == Some("attempts_agent_busy")
            });
            match (&attempt.agent, agent_busy) {
                (Some(agent), true) => StoreError::AgentBusy {
                    agent: agent.clone(),
                },
                _ => pg_err("starting an attempt")(e),
            }
        })?;
    read_attempt(&r)
}

/// The callback columns prefixed by a table alias (`c.id, c.kind, ...`).
fn prefixed(alias: &str) -> String {
    CALLBACK_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- the trait ---------------------------------------------------------------------------------

impl Store for PgStore {
    fn attach_recording(
        &self,
        id: CallbackId,
        recording: &Recording,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError> {
        let now_s = secs(now);
        self.write("attaching a recording", |tx| {
            let row = load_with(tx, id, true)?;
            if row.state.is_terminal() {
                return Err(StoreError::Transition(crate::model::TransitionError {
                    from: row.state,
                    to: row.state,
                }));
            }
            if let Some(detail) = merge_recording(tx, &row, recording, now_s)? {
                insert_event(
                    tx,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "recording",
                        from: Some(row.state),
                        to: row.state,
                        actor: Some(actor),
                        detail: Some(&detail),
                    },
                )?;
            }
            load(tx, id)
        })
    }

    fn create(
        &self,
        draft: &Draft,
        options: &CreateOptions,
        now: DateTime<Utc>,
    ) -> Result<(CallbackRequest, CreateOutcome), StoreError> {
        validate(draft)?;
        let now_s = secs(now);
        self.write("creating a callback", |tx| {
            if let Some(key) = &draft.idempotency_key {
                advisory_lock(tx, LOCK_KEY, key)?;
                let existing: Option<(CallbackId, Option<String>)> = tx
                    .query_opt(
                        "SELECT id, request_hash FROM callbacks WHERE idempotency_key = $1",
                        &[key],
                    )
                    .map_err(pg_err("looking up the idempotency key"))?
                    .map(|r| (r.get(0), r.get(1)));
                if let Some((id, hash)) = existing {
                    same_request(hash.as_deref(), options.request_hash.as_deref())?;
                    return Ok((load(tx, id)?, CreateOutcome::Existing));
                }
            }
            if options.merge_pending {
                advisory_lock(tx, LOCK_NUMBER, &draft.number)?;
                let pending: Option<CallbackId> = tx
                    .query_opt(
                        &format!(
                            "SELECT id FROM callbacks WHERE number = $1 AND queue = $2 \
                             AND {PENDING} ORDER BY id LIMIT 1"
                        ),
                        &[&draft.number, &draft.queue],
                    )
                    .map_err(pg_err("looking for a pending callback to merge into"))?
                    .map(|r| r.get(0));
                if let Some(id) = pending {
                    let row = load_with(tx, id, true)?;
                    let remark = merged_remark(row.remark.as_deref(), draft.remark.as_deref());
                    if let Some(remark) = &remark {
                        tx.execute(
                            "UPDATE callbacks SET remark = $2, updated_at = $3 WHERE id = $1",
                            &[&id, remark, &now_s],
                        )
                        .map_err(pg_err("merging a remark"))?;
                    }
                    let mut added = Vec::new();
                    if remark.is_some() {
                        added.push("its remark".to_string());
                    }
                    if let Some(rec) = draft.recording.as_ref().filter(|r| !r.path.is_empty()) {
                        added.extend(merge_recording(tx, &row, rec, now_s)?);
                    }
                    let detail = if added.is_empty() {
                        "a repeated request, nothing new to add".to_string()
                    } else {
                        format!("a repeated request added {}", added.join(" and "))
                    };
                    insert_event(
                        tx,
                        &NewEvent {
                            callback_id: id,
                            at: now_s,
                            action: "merge",
                            from: Some(row.state),
                            to: row.state,
                            actor: options.actor.as_deref(),
                            detail: Some(&detail),
                        },
                    )?;
                    return Ok((load(tx, id)?, CreateOutcome::Merged));
                }
            }
            if let Some((start, end, capacity)) = options.slot {
                advisory_lock(tx, LOCK_QUEUE, &draft.queue)?;
                let used = count_slot(tx, &draft.queue, ceil_secs(start), ceil_secs(end))?;
                if used >= capacity {
                    return Err(StoreError::SlotFull { start, capacity });
                }
            }
            let stmt = tx
                .prepare(INSERT_CALLBACK)
                .map_err(pg_err("storing a callback"))?;
            let id = insert_callback(tx, &stmt, draft, now_s)?;
            insert_event(
                tx,
                &NewEvent {
                    callback_id: id,
                    at: now_s,
                    action: "created",
                    from: None,
                    to: draft.state,
                    actor: options.actor.as_deref(),
                    detail: None,
                },
            )?;
            if let (Some(_), Some(hash)) = (&draft.idempotency_key, &options.request_hash) {
                tx.execute(
                    "UPDATE callbacks SET request_hash = $2 WHERE id = $1",
                    &[&id, hash],
                )
                .map_err(pg_err("storing the request digest"))?;
            }
            queue_recording(tx, id, draft, now_s)?;
            self.notify(tx)?;
            Ok((load(tx, id)?, CreateOutcome::Created))
        })
    }

    fn create_batch(
        &self,
        drafts: &[Draft],
        now: DateTime<Utc>,
    ) -> Result<Vec<CallbackId>, StoreError> {
        drafts.iter().try_for_each(validate)?;
        let now_s = secs(now);
        self.write("storing a batch of callbacks", |tx| {
            let stmt = tx
                .prepare(INSERT_CALLBACK)
                .map_err(pg_err("storing a batch of callbacks"))?;
            let mut ids = Vec::with_capacity(drafts.len());
            for d in drafts {
                ids.push(insert_callback(tx, &stmt, d, now_s)?);
            }
            let events: Vec<NewEvent<'_>> = drafts
                .iter()
                .zip(&ids)
                .map(|(d, id)| NewEvent {
                    callback_id: *id,
                    at: now_s,
                    action: "created",
                    from: None,
                    to: d.state,
                    actor: None,
                    detail: None,
                })
                .collect();
            insert_events(tx, &events)?;
            for (d, id) in drafts.iter().zip(&ids) {
                queue_recording(tx, *id, d, now_s)?;
            }
            self.notify(tx)?;
            Ok(ids)
        })
    }

    fn get(&self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        self.with(|c| load(c, id))
    }

    fn open_for_number(&self, number: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE number = $1 AND {PENDING} \
                     UNION ALL SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE number = $1 AND {ACTIVE} ORDER BY id"
                ),
                &[&number],
            )
            .map_err(pg_err("listing a number's open callbacks"))?
            .iter()
            .map(read_callback)
            .collect()
        })
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError> {
        let limit: Option<i64> = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE ($1::text IS NULL OR queue = $1) \
                     AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR number = $3) \
                     AND ($5::bigint IS NULL OR updated_at >= $5) ORDER BY id LIMIT $4"
                ),
                &[
                    &filter.queue,
                    &filter.state.map(State::as_str),
                    &filter.number,
                    &limit,
                    &filter.updated_since.map(secs),
                ],
            )
            .map_err(pg_err("listing callbacks"))?
            .iter()
            .map(read_callback)
            .collect()
        })
    }

    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError> {
        self.with(|c| {
            exists(c, id)?;
            c.query(
                "SELECT id, callback_id, at, action, from_state, to_state, actor, detail \
                 FROM events WHERE callback_id = $1 ORDER BY id",
                &[&id],
            )
            .map_err(pg_err("reading the trace"))?
            .iter()
            .map(read_event)
            .collect()
        })
    }

    fn transition(
        &self,
        id: CallbackId,
        change: &Transition,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError> {
        if let Some(q) = &change.queue {
            validate_queue(q)?;
        }
        if let Some(n) = &change.number {
            if !crate::number::is_e164(n) {
                return Err(invalid(
                    "number",
                    format!("'{n}' is not an E.164 number (+ and 2 to 15 digits)"),
                ));
            }
        }
        let now_s = secs(now);
        self.write("applying a transition", |tx| {
            let r = apply_transition(tx, id, change, now_s)?;
            if r.state.is_pending() {
                self.notify(tx)?;
            }
            Ok(r)
        })
    }

    fn claim_due_ahead(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ahead: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        if owner.is_empty() {
            return Err(invalid("owner", "must not be empty"));
        }
        if ahead < Duration::zero() {
            return Err(invalid("ahead", "must not be negative"));
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_s = secs(now);
        let horizon_s = secs(now + ahead);
        let until = lease_until(now, lease)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cols = prefixed("c");
        self.write("claiming due callbacks", |tx| {
            let err = pg_err("claiming due callbacks");
            // Expired leases first (they fell due before anything still waiting); rows
            // another node is changing right now are skipped, not waited for.
            let expired = tx
                .query(
                    &format!(
                        "UPDATE callbacks c SET lease_owner = $1, lease_expires = $2, \
                         updated_at = $3 FROM (SELECT id, state, lease_owner, lease_expires \
                         FROM callbacks WHERE {ACTIVE} AND lease_expires <= $5 \
                         ORDER BY lease_expires, id LIMIT $4 FOR UPDATE SKIP LOCKED) old \
                         WHERE c.id = old.id \
                         RETURNING {cols}, old.state, old.lease_owner, old.lease_expires"
                    ),
                    &[&owner, &until, &now_s, &limit, &horizon_s],
                )
                .map_err(&err)?;
            let mut expired = expired
                .iter()
                .map(|r| {
                    Ok((
                        read_callback(r)?,
                        col::<String>(r, CALLBACK_COLUMN_COUNT, "state")?,
                        col::<Option<String>>(r, CALLBACK_COLUMN_COUNT + 1, "lease_owner")?,
                        col::<Option<i64>>(r, CALLBACK_COLUMN_COUNT + 2, "lease_expires")?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            expired.sort_by_key(|(row, _, _, until)| (*until, row.id));

            // Then due rows a transcript raised, highest priority first, and the rest by
            // due time, oldest first (the SQLite order).
            let mut due: Vec<(CallbackRequest, String)> = Vec::new();
            for filter in [
                "priority > 0 ORDER BY priority DESC, due_at, id",
                "priority <= 0 ORDER BY due_at, id",
            ] {
                let left = limit - i64::try_from(expired.len() + due.len()).unwrap_or(limit);
                if left <= 0 {
                    break;
                }
                let rows = tx
                    .query(
                        &format!(
                            "UPDATE callbacks c SET state = 'due', lease_owner = $1, \
                             lease_expires = $2, updated_at = $3, \
                             first_claimed_at = coalesce(c.first_claimed_at, $3), \
                             priority = CASE WHEN c.priority >= {boost} \
                                        THEN c.priority - {boost} ELSE c.priority END \
                             FROM (SELECT id, state \
                             FROM callbacks WHERE {CLAIMABLE} AND due_at <= $5 AND {filter} \
                             LIMIT $4 FOR UPDATE SKIP LOCKED) old WHERE c.id = old.id \
                             RETURNING {cols}, old.state",
                            boost = super::FIRST_BOOST
                        ),
                        &[&owner, &until, &now_s, &left, &horizon_s],
                    )
                    .map_err(&err)?;
                let mut rows = rows
                    .iter()
                    .map(|r| {
                        Ok((
                            read_callback(r)?,
                            col::<String>(r, CALLBACK_COLUMN_COUNT, "state")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                // RETURNING comes in no promised order: put it back in claim order.
                rows.sort_by_key(|(row, _)| (-i64::from(row.priority.max(0)), row.due_at, row.id));
                due.extend(rows);
            }

            let reclaim_details: Vec<String> = expired
                .iter()
                .map(|(_, _, previous, previous_until)| {
                    format!(
                        "lease_until={until} previous={} previous_until={}",
                        previous.as_deref().unwrap_or("-"),
                        previous_until.map_or_else(|| "-".to_string(), |t| t.to_string()),
                    )
                })
                .collect();
            let claim_detail = format!("lease_until={until}");
            let mut events = Vec::with_capacity(expired.len() + due.len());
            for ((row, state, _, _), detail) in expired.iter().zip(&reclaim_details) {
                events.push(NewEvent {
                    callback_id: row.id,
                    at: now_s,
                    action: "reclaim",
                    from: Some(parse_state(state, "claiming due callbacks")?),
                    to: row.state,
                    actor: Some(owner),
                    detail: Some(detail),
                });
            }
            for (row, state) in &due {
                events.push(NewEvent {
                    callback_id: row.id,
                    at: now_s,
                    action: "claim",
                    from: Some(parse_state(state, "claiming due callbacks")?),
                    to: State::Due,
                    actor: Some(owner),
                    detail: Some(&claim_detail),
                });
            }
            insert_events(tx, &events)?;
            Ok(expired
                .into_iter()
                .map(|(row, _, _, _)| row)
                .chain(due.into_iter().map(|(row, _)| row))
                .collect())
        })
    }

    fn renew_lease(
        &self,
        id: CallbackId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let now_s = secs(now);
        let until = lease_until(now, lease)?;
        self.write("renewing a lease", |tx| {
            let n = tx
                .execute(
                    &format!(
                        "UPDATE callbacks SET lease_expires = $3 WHERE id = $1 \
                         AND lease_owner = $2 AND lease_expires > $4 AND {ACTIVE}"
                    ),
                    &[&id, &owner, &until, &now_s],
                )
                .map_err(pg_err("renewing a lease"))?;
            if n == 1 {
                return Ok(());
            }
            exists(tx, id)?;
            Err(StoreError::LeaseLost {
                id,
                owner: owner.to_string(),
            })
        })
    }

    fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with(|c| {
            let r = c
                .query_one(
                    &format!(
                        "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                                (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
                    ),
                    &[],
                )
                .map_err(pg_err("finding the next wake-up"))?;
            let due: Option<i64> = col(&r, 0, "due_at")?;
            let lease: Option<i64> = col(&r, 1, "lease_expires")?;
            let next = match (due, lease) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            next.map(|s| to_time("due_at/lease_expires", s)).transpose()
        })
    }

    fn count_due_between(
        &self,
        queue: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        self.with(|c| count_slot(c, queue, ceil_secs(start), ceil_secs(end)))
    }

    fn start_attempt(
        &self,
        attempt: &NewAttempt,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError> {
        let now_s = secs(now);
        self.write("starting an attempt", |tx| {
            insert_attempt(tx, attempt, owner, now_s)
        })
    }

    fn start_offers(
        &self,
        offers: &[(CallbackId, Transition, NewAttempt)],
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Offered>, StoreError> {
        for (_, t, _) in offers {
            if let Some(q) = &t.queue {
                validate_queue(q)?;
            }
        }
        let now_s = secs(now);
        self.write("starting offers", |tx| {
            let err = pg_err("starting offers");
            // Lock the turn's callbacks up front in id order, so two writers locking several
            // of them (another turn, a purge) cannot deadlock on the order they were given.
            let ids: Vec<CallbackId> = offers.iter().map(|(id, _, _)| *id).collect();
            tx.execute(
                "SELECT 1 FROM (SELECT id FROM callbacks WHERE id = ANY($1) ORDER BY id \
                 FOR UPDATE) locked",
                &[&ids],
            )
            .map_err(&err)?;
            // The agent legs in agent order: a node inserting a leg for an agent another
            // node's uncommitted turn has just taken waits for that turn, so two turns
            // taking the same agents in different orders would deadlock.
            let mut order: Vec<usize> = (0..offers.len()).collect();
            order.sort_by(|a, b| offers[*a].2.agent.cmp(&offers[*b].2.agent));
            let mut out: Vec<Option<Offered>> = (0..offers.len()).map(|_| None).collect();
            for i in order {
                let (id, t, attempt) = &offers[i];
                // Each offer in its own savepoint: a refused one leaves no trace.
                let mut sp = tx.savepoint("offer").map_err(&err)?;
                let one = apply_transition(&mut sp, *id, t, now_s)
                    .and_then(|r| insert_attempt(&mut sp, attempt, owner, now_s).map(|a| (r, a)));
                if one.is_ok() {
                    sp.commit().map_err(&err)?;
                } else {
                    sp.rollback().map_err(&err)?;
                }
                out[i] = Some(one);
            }
            Ok(out.into_iter().flatten().collect())
        })
    }

    fn finish_attempt(
        &self,
        attempt_id: i64,
        end: &AttemptEnd,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError> {
        let now_s = secs(now);
        self.write("finishing an attempt", |tx| {
            let a = load_attempt(tx, attempt_id, true)?;
            if let Some(ended) = a.ended_at {
                return Err(invalid(
                    "attempt_id",
                    format!("attempt {attempt_id} already ended at {ended}"),
                ));
            }
            let r = tx
                .query_one(
                    &format!(
                        "UPDATE attempts SET answered_at = $2, ended_at = $3, hangup_cause = $4, \
                         result = $5 WHERE id = $1 RETURNING {ATTEMPT_COLUMNS}"
                    ),
                    &[
                        &attempt_id,
                        &end.answered_at.map(secs),
                        &now_s,
                        &end.hangup_cause,
                        &end.result.as_str(),
                    ],
                )
                .map_err(pg_err("finishing an attempt"))?;
            if a.leg == Leg::Agent {
                // The agent is free for another node's offer.
                self.notify(tx)?;
            }
            read_attempt(&r)
        })
    }

    fn set_agent_ready(
        &self,
        agent: &str,
        ready: bool,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        validate_agent(agent)?;
        self.write("recording an agent's state", |tx| {
            tx.execute(
                "INSERT INTO agents (id, ready, since, node) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET ready = $2, since = $3, node = $4",
                &[&agent, &i64::from(ready), &secs(now), &node],
            )
            .map_err(pg_err("recording an agent's state"))?;
            if ready {
                self.notify(tx)?;
            }
            Ok(())
        })
    }

    fn agent_board(&self, now: DateTime<Utc>) -> Result<AgentBoard, StoreError> {
        let now_s = secs(now);
        self.with(|c| {
            let err = pg_err("reading the agents");
            let states = c
                .query("SELECT id, ready, since, node FROM agents ORDER BY id", &[])
                .map_err(&err)?
                .iter()
                .map(|r| {
                    Ok(AgentRecord {
                        id: col(r, 0, "id")?,
                        ready: col::<i64>(r, 1, "ready")? != 0,
                        since: time_col(r, 2, "since")?,
                        node: col(r, 3, "node")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let busy = c
                .query(
                    "SELECT a.agent, a.callback_id FROM attempts a \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
                     AND c.lease_expires > $1 ORDER BY a.agent",
                    &[&now_s],
                )
                .map_err(&err)?
                .iter()
                .map(|r| Ok((col(r, 0, "agent")?, col(r, 1, "callback_id")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(AgentBoard { states, busy })
        })
    }

    fn set_disposition(
        &self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
    ) -> Result<Attempt, StoreError> {
        self.write("setting a disposition", |tx| {
            write_disposition(tx, attempt_id, result, disposition, note)
        })
    }

    fn wrap_up(
        &self,
        attempt_id: i64,
        result: Option<AttemptResult>,
        disposition: Option<&str>,
        note: Option<&str>,
        do_not_call: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, StoreError> {
        if let Some((number, _)) = do_not_call {
            super::sqlite::check_dnc_number(number)?;
        }
        self.write("storing after-call work", |tx| {
            if let Some((number, reason)) = do_not_call {
                write_dnc(tx, number, Some(reason), now)?;
            }
            write_disposition(tx, attempt_id, result, disposition, note)
        })
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_one("SELECT COALESCE(MAX(id), 0)::bigint FROM events", &[])
                .map_err(pg_err("reading the last event"))
                .and_then(|r| col(&r, 0, "id"))
        })
    }

    fn panel_lists(
        &self,
        scope: &super::PanelScope,
        finished_since: DateTime<Utc>,
        limit: usize,
    ) -> Result<super::PanelLists, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let since = secs(finished_since);
        // The scope: $1 every callback, or the queues $2, or personal to the agent $3.
        let scope_sql = "($1 OR queue = ANY($2) OR agent = $3)";
        self.with(|c| {
            let err = pg_err("listing the panel's callbacks");
            let mut rows = |sql: String, with_since: bool| -> Result<Vec<CallbackRequest>, StoreError> {
                let found = if with_since {
                    c.query(&sql, &[&scope.all, &scope.queues, &scope.agent, &limit, &since])
                } else {
                    c.query(&sql, &[&scope.all, &scope.queues, &scope.agent, &limit])
                };
                found.map_err(&err)?.iter().map(read_callback).collect()
            };
            let mut pending = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE state = 'requested' AND {scope_sql} ORDER BY created_at, id LIMIT $4"), false)?;
            let mut waiting = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE {CLAIMABLE} AND {scope_sql} ORDER BY due_at, id LIMIT $4"), false)?;
            let leased = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE {ACTIVE} AND {scope_sql} ORDER BY due_at, id LIMIT $4"), false)?;
            let recent = rows(format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE updated_at >= $5 AND state IN ('completed', 'failed', 'cancelled', 'expired') AND {scope_sql} ORDER BY updated_at DESC, id DESC LIMIT $4"), true)?;
            let pending_count: i64 = c
                .query_one(
                    &format!(
                        "SELECT count(*) FROM callbacks WHERE (state = 'requested' OR {CLAIMABLE} \
                         OR state = 'due') AND {scope_sql}"
                    ),
                    &[&scope.all, &scope.queues, &scope.agent],
                )
                .map_err(&err)?
                .get(0);
            let (due, active): (Vec<_>, Vec<_>) =
                leased.into_iter().partition(|r| r.state == State::Due);
            // Due ones are the earliest of the waiting; requested ones have no due time.
            waiting.splice(0..0, due);
            pending.append(&mut waiting);
            pending.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(super::PanelLists {
                pending,
                pending_count: u64::try_from(pending_count).unwrap_or(0),
                active,
                recent,
            })
        })
    }

    fn results_since(
        &self,
        queue: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Option<AttemptResult>, u64)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT a.result, count(*) FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = $1 AND a.leg = 'customer' AND a.ended_at >= $2 \
                 GROUP BY a.result ORDER BY a.result",
                &[&queue, &secs(since)],
            )
            .map_err(pg_err("counting call results"))?
            .iter()
            .map(|r| {
                let result: Option<String> = col(r, 0, "result")?;
                let n: i64 = col(r, 1, "count")?;
                Ok((
                    result.and_then(|x| x.parse().ok()),
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
        })
    }

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError> {
        self.with(|c| {
            exists(c, id)?;
            c.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE callback_id = $1 ORDER BY id"
                ),
                &[&id],
            )
            .map_err(pg_err("reading attempts"))?
            .iter()
            .map(read_attempt)
            .collect()
        })
    }

    fn dnc_add(
        &self,
        number: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        super::sqlite::check_dnc_number(number)?;
        self.write("adding to the do-not-call list", |tx| {
            write_dnc(tx, number, reason, now)
        })
    }

    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError> {
        self.write("removing from the do-not-call list", |tx| {
            tx.execute("DELETE FROM do_not_call WHERE number = $1", &[&number])
                .map(|n| n > 0)
                .map_err(pg_err("removing from the do-not-call list"))
        })
    }

    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_opt("SELECT 1 FROM do_not_call WHERE number = $1", &[&number])
                .map(|r| r.is_some())
                .map_err(pg_err("checking the do-not-call list"))
        })
    }

    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT number, reason, added_at FROM do_not_call ORDER BY number",
                &[],
            )
            .map_err(pg_err("listing the do-not-call list"))?
            .iter()
            .map(|r| {
                Ok(DoNotCall {
                    number: col(r, 0, "number")?,
                    reason: col(r, 1, "reason")?,
                    added_at: time_col(r, 2, "added_at")?,
                })
            })
            .collect()
        })
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        self.with(|c| {
            let mut by_queue_state = c
                .query(
                    "SELECT queue, state, count(*) FROM callbacks GROUP BY queue, state",
                    &[],
                )
                .map_err(pg_err("counting callbacks"))?
                .iter()
                .map(|r| {
                    let n: i64 = col(r, 2, "count")?;
                    Ok((
                        col::<String>(r, 0, "queue")?,
                        enum_col::<State>(r, 1, "state")?,
                        u64::try_from(n).unwrap_or(0),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            by_queue_state.sort();
            Ok(Stats { by_queue_state })
        })
    }

    fn figures(&self, bounds_ms: &[u64]) -> Result<Figures, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        self.with(|c| {
            let attempts = c
                .query(
                    "SELECT c.queue, a.leg, a.result, count(*) FROM attempts a \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.result IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    &[],
                )
                .map_err(pg_err("counting attempt results"))?
                .iter()
                .map(|r| {
                    Ok((
                        col(r, 0, "queue")?,
                        col(r, 1, "leg")?,
                        col(r, 2, "result")?,
                        count(col(r, 3, "count")?),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let transcription_jobs = c
                .query(
                    "SELECT state, count(*) FROM transcriptions GROUP BY state ORDER BY state",
                    &[],
                )
                .map_err(pg_err("counting transcription jobs"))?
                .iter()
                .map(|r| Ok((col(r, 0, "state")?, count(col(r, 1, "count")?))))
                .collect::<Result<Vec<_>, StoreError>>()?;
            // One pass over the finished jobs: a filtered count per bound.
            let bounds: Vec<i64> = bounds_ms
                .iter()
                .map(|b| i64::try_from(*b).unwrap_or(i64::MAX))
                .collect();
            let r = c
                .query_one(
                    "SELECT count(*), coalesce(sum(processing_ms), 0)::float8, \
                     coalesce((SELECT array_agg((SELECT count(*) FROM transcriptions t \
                         WHERE t.state = 'done' AND t.processing_ms IS NOT NULL \
                         AND t.processing_ms <= b) ORDER BY n) \
                      FROM unnest($1::bigint[]) WITH ORDINALITY AS x(b, n)), '{}') \
                     FROM transcriptions WHERE state = 'done' AND processing_ms IS NOT NULL",
                    &[&bounds],
                )
                .map_err(pg_err("measuring transcription times"))?;
            let cumulative: Vec<i64> = col(&r, 2, "processing_ms")?;
            let transcription_ms = Histogram {
                count: count(col(&r, 0, "count")?),
                sum: col(&r, 1, "processing_ms")?,
                cumulative: cumulative.into_iter().map(count).collect(),
            };
            Ok(Figures {
                attempts,
                transcription_jobs,
                transcription_ms,
            })
        })
    }

    fn purge(
        &self,
        finished_before: Option<DateTime<Utc>>,
        only: Option<CallbackId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let now_s = secs(now);
        let before = finished_before.map(secs);
        self.write("purging recordings and transcripts", |tx| {
            let err = pg_err("purging recordings and transcripts");
            let rows = tx
                .query(
                    "SELECT id, state, recording_path FROM callbacks \
                     WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                            OR EXISTS (SELECT 1 FROM transcriptions t \
                                       WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
                       AND (id = $1 OR ($2::bigint IS NOT NULL AND updated_at < $2 AND \
                            state IN ('completed', 'cancelled', 'expired', 'failed'))) \
                     ORDER BY id FOR UPDATE",
                    &[&only, &before],
                )
                .map_err(&err)?;
            let mut files = Vec::new();
            for r in &rows {
                let id: CallbackId = col(r, 0, "id")?;
                let state: String = col(r, 1, "state")?;
                let path: Option<String> = col(r, 2, "recording_path")?;
                tx.execute(
                    // `updated_at` stays (see the SQLite store: the panel's recent list).
                    "UPDATE callbacks SET recording_path = NULL, recording_ms = NULL, \
                     recording_rate = NULL, transcript_text = NULL, transcript_language = NULL \
                     WHERE id = $1",
                    &[&id],
                )
                .map_err(&err)?;
                // Jobs keep their timing (see the SQLite store); a waiting one is failed.
                let jobs: Vec<String> = tx
                    .query(
                        "SELECT wav_path FROM transcriptions \
                         WHERE callback_id = $1 AND wav_path <> '' ORDER BY id",
                        &[&id],
                    )
                    .map_err(&err)?
                    .iter()
                    .map(|r| col(r, 0, "wav_path"))
                    .collect::<Result<_, StoreError>>()?;
                tx.execute(
                    "UPDATE transcriptions SET wav_path = '', text = NULL, segments = NULL, \
                     language = NULL, lease_until = NULL, updated_at = $2, \
                     error = CASE WHEN state IN ('queued', 'running') THEN 'purged' ELSE error END, \
                     state = CASE WHEN state IN ('queued', 'running') THEN 'failed' ELSE state END \
                     WHERE callback_id = $1",
                    &[&id, &now_s],
                )
                .map_err(&err)?;
                let state = parse_state(&state, "purging")?;
                insert_event(
                    tx,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "purge",
                        from: Some(state),
                        to: state,
                        actor: None,
                        detail: Some(if only.is_some() {
                            "recording and transcript deleted on request"
                        } else {
                            "recording and transcript deleted (retention)"
                        }),
                    },
                )?;
                files.extend(path);
                files.extend(jobs);
            }
            files.sort();
            files.dedup();
            Ok(files)
        })
    }

    fn handling_time(&self, queue: &str, last: usize) -> Result<Option<Duration>, StoreError> {
        let last = i64::try_from(last).unwrap_or(i64::MAX);
        self.with(|c| {
            let r = c
                .query_one(
                    "SELECT avg(ended_at - started_at)::float8 FROM (SELECT a.ended_at, \
                     a.started_at FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                     WHERE c.queue = $1 AND a.leg = 'agent' AND a.result = 'answered' \
                     AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT $2) last",
                    &[&queue, &last],
                )
                .map_err(pg_err("reading handling times"))?;
            let avg: Option<f64> = col(&r, 0, "avg")?;
            Ok(avg.map(|s| Duration::milliseconds((s.max(0.0) * 1000.0) as i64)))
        })
    }

    fn transcription(&self, id: CallbackId) -> Result<Option<super::TranscriptionJob>, StoreError> {
        self.with(|c| {
            let Some(r) = c
                .query_opt(
                    "SELECT id, callback_id, wav_path, state, attempts, next_try_at, error, \
                     text, segments, language, processing_ms FROM transcriptions \
                     WHERE callback_id = $1 ORDER BY id DESC LIMIT 1",
                    &[&id],
                )
                .map_err(pg_err("reading a transcription"))?
            else {
                return Ok(None);
            };
            super::transcriptions::job_from_columns(
                col(&r, 0, "id")?,
                col(&r, 1, "callback_id")?,
                col(&r, 2, "wav_path")?,
                col(&r, 3, "state")?,
                col(&r, 4, "attempts")?,
                col(&r, 5, "next_try_at")?,
                col(&r, 6, "error")?,
                col(&r, 7, "text")?,
                col(&r, 8, "segments")?,
                col(&r, 9, "language")?,
                col(&r, 10, "processing_ms")?,
            )
            .map(Some)
        })
    }
}

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
