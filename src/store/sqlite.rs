//! The SQLite backend (rusqlite, bundled): WAL, `PRAGMA user_version` migrations.
//!
//! One connection behind a mutex: SQLite has one writer at a time anyway, and every write
//! here is a short `BEGIN IMMEDIATE` transaction, so a second connection would only queue.
//! Several processes (or several stores) may open the same file; `BEGIN IMMEDIATE` plus the
//! busy timeout serialises them, and each check-then-write runs inside one transaction.
//!
//! Times are stored as whole UTC epoch seconds. Instants read back are truncated to the
//! second; lease expiries are rounded *up*, so the store never thinks a lease ended before
//! its holder does.

use super::schema;
use super::transcriptions::insert_job;
use super::{
    AgentBoard, AgentRecord, AttemptEnd, CreateOptions, CreateOutcome, DoNotCall, Event, Fault,
    ListFilter, NewAttempt, Offered, Stats, Store, StoreError, Transition,
};
use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, DispatchCounts, Draft, Leg, Recording,
    State, Transcript, Window,
};
use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Type;
use rusqlite::{
    params, Connection, OptionalExtension, Row, Statement, Transaction, TransactionBehavior,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How long a connection waits for another writer (another process on the same file)
/// before giving up with "database is locked".
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Page cache per connection, in KiB (negative = KiB for SQLite). The default 2 MiB makes
/// inserts into the 1M-row indexes (due time, number, key) thrash: the bench went from 26k
/// to 34k inserts/s going from 32 to 128 MiB. It is a ceiling, filled only as the file grows.
const CACHE_KIB: i64 = 128 * 1024;

/// The states a dispatcher may claim when due, as the WHERE of the partial index
/// `callbacks_claimable`. Queries repeat it word for word, or SQLite will not use the index.
const CLAIMABLE: &str = "state IN ('scheduled', 'rescheduled')";
/// The states held under a lease (the WHERE of `callbacks_leases`). An OR chain, not
/// `IN (...)`: SQLite evaluates an IN list of three or more constants through a temporary
/// b-tree, which for a partial index's WHERE means one built and freed on every insert and
/// update of a callback (a fifth of the insert time in the store bench).
const ACTIVE: &str = "(state = 'due' OR state = 'offering' OR state = 'previewing' \
                      OR state = 'dialing' OR state = 'connected')";
/// The states waiting for their time (the WHERE of `callbacks_pending_number`); an OR chain
/// like [`ACTIVE`].
const PENDING: &str = "(state = 'requested' OR state = 'scheduled' OR state = 'rescheduled')";
/// The WHERE of `callbacks_requested` (waiting for a due time).
const PANEL_REQUESTED: &str = "state = 'requested'";
/// The finished states, for the panel's recent list (through `callbacks_updated`).
const FINISHED: &str = "(state = 'completed' OR state = 'failed' OR state = 'cancelled' \
                        OR state = 'expired')";
/// The panel's scope: ?1 every callback, or the queues of the JSON array ?2, or personal to
/// the agent ?3.
const PANEL_SCOPE: &str = "(?1 OR queue IN (SELECT value FROM json_each(?2)) OR agent = ?3)";
/// The key of `callbacks_pending_number` (word for word, or SQLite will not use it): the
/// E.164 number as an integer, half the bytes of the text in an index entry.
const PENDING_KEY: &str = "CAST(substr(number, 2) AS INTEGER)";
/// The same key computed from parameter 1.
const PENDING_KEY_OF_1: &str = "CAST(substr(?1, 2) AS INTEGER)";

/// The columns of `callbacks`, in the order [`read_callback`] decodes them.
macro_rules! callback_columns {
    () => {
        "id, kind, number, time_zone, queue, source, state, due_at, customer_attempts, \
         created_at, updated_at, desired_at, window_from, window_until, expires_at, agent, \
         remark, ivr_data, origin_uuid, idempotency_key, recording_path, recording_ms, \
         recording_rate, transcript_text, transcript_language, tags, lease_owner, lease_expires, \
         priority, waits, failovers, first_claimed_at"
    };
}

/// A number's open callbacks: the waiting ones through `callbacks_pending_number`, those
/// being dispatched through `callbacks_active_number` (each WHERE word for word its index's).
fn open_for_number_sql() -> String {
    let cols = callback_columns!();
    format!(
        "SELECT {cols} FROM callbacks WHERE {PENDING_KEY} = {PENDING_KEY_OF_1} \
         AND number = ?1 AND {PENDING} \
         UNION ALL SELECT {cols} FROM callbacks WHERE number = ?1 AND {ACTIVE}"
    )
}

macro_rules! attempt_columns {
    () => {
        "id, callback_id, leg, attempt_no, agent, call_uuid, started_at, answered_at, ended_at, \
         hangup_cause, result, disposition, note"
    };
}

/// The embedded store.
pub struct SqliteStore {
    /// `None` after a fault that needs a fresh connection ([`Fault::needs_reconnect`]), or
    /// when the database could not be opened at start ([`SqliteStore::open_or_later`]): the
    /// next use opens it again.
    conn: Mutex<Option<Connection>>,
    path: PathBuf,
    /// The page cache ceiling of each connection, KiB.
    cache_kib: i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Refuses a database written by a newer build (its `user_version` is beyond ours).
    ///
    /// Durability: WAL with `synchronous = NORMAL`. A commit is durable as soon as it is in
    /// the WAL, so a crash of the process (or of FreeSWITCH) loses nothing; a power cut or
    /// kernel crash may roll back the last few commits, never corrupt the file. `FULL` would
    /// fsync on every commit, which bounds claims and single creates by disk latency; the
    /// PBX that loses power also loses every call in flight, so we accept that window.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = connect(path, CACHE_KIB)?;
        Ok(Self {
            conn: Mutex::new(Some(conn)),
            path: path.to_path_buf(),
            cache_kib: CACHE_KIB,
        })
    }

    /// Like [`SqliteStore::open`], but a fault of the file or its disk (read-only, full,
    /// locked, cannot be opened) does not refuse the store: it is returned beside it, and
    /// every use tries to open the database again until the fault is gone. Other errors (a
    /// newer schema, no WAL) still refuse. `cache_kib`: the page cache ceiling (`None`: the
    /// default, 128 MiB).
    pub fn open_or_later(
        path: impl AsRef<Path>,
        cache_kib: Option<i64>,
    ) -> Result<(Self, Option<StoreError>), StoreError> {
        let path = path.as_ref();
        let cache_kib = cache_kib.unwrap_or(CACHE_KIB).max(1);
        let (conn, fault) = match connect(path, cache_kib) {
            Ok(c) => (Some(c), None),
            Err(e @ StoreError::Unavailable { .. }) => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let store = Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            cache_kib,
        };
        Ok((store, fault))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic while holding the lock rolled its transaction back when the guard's
        // transaction dropped, so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection, opening it first if a fault closed it; after a fault
    /// that leaves the connection unusable, closes it so the next use starts afresh.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        if guard.is_none() {
            *guard = Some(connect(&self.path, self.cache_kib)?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Backend("no connection".into()));
        };
        let out = f(conn);
        if let Err(StoreError::Unavailable { fault, .. }) = &out {
            if fault.needs_reconnect() {
                *guard = None;
            }
        }
        out
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: committed if it returns `Ok`, rolled
    /// back otherwise. Immediate, so the write lock is taken up front and a read-then-write
    /// never fails halfway on a snapshot another process moved on from.
    pub(super) fn write<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend(doing))?;
            let out = f(&tx)?;
            tx.commit().map_err(backend(doing))?;
            Ok(out)
        })
    }

    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_conn(|conn| f(conn))
    }
}

/// Opens the database at `path`, configures the connection and brings the schema up to
/// date.
fn connect(path: &Path, cache_kib: i64) -> Result<Connection, StoreError> {
    let opened = Connection::open(path)
        .map_err(|e| match classify("opening the database", e) {
            StoreError::Backend(m) => StoreError::Backend(format!("{m} ({})", path.display())),
            other => other,
        })
        .and_then(|mut conn| {
            configure(&conn, cache_kib)?;
            migrate(&mut conn)?;
            Ok(conn)
        });
    match opened {
        // SQLite opens a file it may not write read-only and, in WAL mode, says "unable to
        // open database file" (it cannot make the -shm): name the read-only disk instead.
        Err(StoreError::Unavailable {
            fault: Fault::CannotOpen | Fault::ReadOnly | Fault::Io,
            doing,
            ..
        }) if read_only_fs(path) => Err(StoreError::Unavailable {
            fault: Fault::ReadOnly,
            doing,
            detail: format!("{} is on a read-only file system", path.display()),
        }),
        other => other,
    }
}

/// Whether the database's directory is on a file system mounted read-only: a probe file
/// next to it cannot be created with EROFS. (Not by opening the database file itself:
/// closing a descriptor of it would drop the POSIX locks SQLite holds on it in this
/// process.)
fn read_only_fs(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".callback-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(e) => e.kind() == std::io::ErrorKind::ReadOnlyFilesystem,
    }
}

fn configure(conn: &Connection, cache_kib: i64) -> Result<(), StoreError> {
    let err = backend("configuring the connection");
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "configuring the connection: journal_mode is '{mode}', WAL is required"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(&err)?;
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(&err)?;
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend("reading the schema version"))
}

fn refuse_newer(found: i64) -> Result<usize, StoreError> {
    let known = schema::latest_version();
    match usize::try_from(found) {
        Ok(v) if v <= schema::MIGRATIONS.len() => Ok(v),
        _ => Err(StoreError::Backend(format!(
            "the database has schema version {found}, newer than this build knows ({known}); \
             refusing to open it (upgrade mod_callback, or point it at another file)"
        ))),
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Refuse early, before taking the write lock a newer build may be holding.
    let mut applied = refuse_newer(user_version(conn)?)?;
    if applied == schema::MIGRATIONS.len() {
        return Ok(());
    }
    let err = backend("migrating the schema");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    // Another process may have migrated while we waited for the lock.
    applied = refuse_newer(user_version(&tx)?)?;
    for step in &schema::MIGRATIONS[applied..] {
        tx.execute_batch(step).map_err(&err)?;
    }
    tx.pragma_update(None, "user_version", i64::from(schema::latest_version()))
        .map_err(&err)?;
    tx.commit().map_err(&err)
}

// ---- conversions ---------------------------------------------------------------------------

/// Wraps a database error with what the store was doing.
pub(super) fn backend(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| classify(doing, e)
}

/// A fault of the file or its disk becomes [`StoreError::Unavailable`] naming it; any
/// other error stays a backend error with the database's words.
pub(super) fn classify(doing: &'static str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let fault = match e.sqlite_error_code() {
        Some(C::DiskFull) => Some(Fault::Full),
        Some(C::ReadOnly) => Some(Fault::ReadOnly),
        Some(C::DatabaseBusy | C::DatabaseLocked) => Some(Fault::Busy),
        Some(C::SystemIoFailure) => Some(Fault::Io),
        Some(C::CannotOpen) => Some(Fault::CannotOpen),
        Some(C::DatabaseCorrupt | C::NotADatabase) => Some(Fault::Corrupt),
        _ => None,
    };
    match fault {
        Some(fault) => StoreError::Unavailable {
            fault,
            doing,
            detail: e.to_string(),
        },
        None => StoreError::Backend(format!("{doing}: {e}")),
    }
}

/// Epoch seconds, truncated: what is stored for event and request times.
pub(super) fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Epoch seconds rounded up: lease expiries and exclusive bounds, so the stored value is
/// never earlier than the instant it stands for.
pub(super) fn ceil_secs(t: DateTime<Utc>) -> i64 {
    if t.timestamp_subsec_nanos() > 0 {
        t.timestamp() + 1
    } else {
        t.timestamp()
    }
}

pub(super) fn lease_until(now: DateTime<Utc>, lease: Duration) -> Result<i64, StoreError> {
    now.checked_add_signed(lease)
        .map(ceil_secs)
        .ok_or_else(|| StoreError::Invalid {
            field: "lease",
            message: format!("{lease} from {now} is out of range"),
        })
}

/// A value in the database that the model cannot represent, named by its column.
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {message}")]
struct BadColumn {
    column: &'static str,
    message: String,
}

fn bad_column(idx: usize, ty: Type, column: &'static str, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, Box::new(BadColumn { column, message }))
}

fn enum_col<T>(row: &Row<'_>, idx: usize, column: &'static str) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.get(idx)?;
    text.parse()
        .map_err(|e: T::Err| bad_column(idx, Type::Text, column, e.to_string()))
}

fn opt_enum_col<T>(row: &Row<'_>, idx: usize, column: &'static str) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e: T::Err| bad_column(idx, Type::Text, column, e.to_string())),
    }
}

fn to_time(idx: usize, column: &'static str, s: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0).ok_or_else(|| {
        bad_column(
            idx,
            Type::Integer,
            column,
            format!("{s} is not a representable time"),
        )
    })
}

fn time_col(row: &Row<'_>, idx: usize, column: &'static str) -> rusqlite::Result<DateTime<Utc>> {
    to_time(idx, column, row.get(idx)?)
}

fn opt_time_col(
    row: &Row<'_>,
    idx: usize,
    column: &'static str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<i64>>(idx)?
        .map(|s| to_time(idx, column, s))
        .transpose()
}

fn u32_col(row: &Row<'_>, idx: usize, column: &'static str) -> rusqlite::Result<u32> {
    let v: i64 = row.get(idx)?;
    u32::try_from(v)
        .map_err(|_| bad_column(idx, Type::Integer, column, format!("{v} is out of range")))
}

fn map_col(
    row: &Row<'_>,
    idx: usize,
    column: &'static str,
) -> rusqlite::Result<BTreeMap<String, String>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(BTreeMap::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            bad_column(
                idx,
                Type::Text,
                column,
                format!("not a JSON object of strings: {e}"),
            )
        }),
    }
}

/// A map as JSON, or NULL when empty (most requests carry none).
pub(super) fn map_json(
    map: &BTreeMap<String, String>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    if map.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(map)
        .map(Some)
        .map_err(|e| StoreError::Invalid {
            field,
            message: e.to_string(),
        })
}

fn read_callback(row: &Row<'_>) -> rusqlite::Result<CallbackRequest> {
    let recording = match row.get::<_, Option<String>>(20)? {
        None => None,
        Some(path) => Some(Recording {
            path,
            duration_ms: opt_u32(row, 21, "recording_ms")?,
            sample_rate: opt_u32(row, 22, "recording_rate")?,
        }),
    };
    let transcript = match row.get::<_, Option<String>>(23)? {
        None => None,
        Some(text) => Some(Transcript {
            text,
            language: row.get(24)?,
        }),
    };
    Ok(CallbackRequest {
        id: row.get(0)?,
        kind: enum_col(row, 1, "kind")?,
        number: row.get(2)?,
        time_zone: row.get(3)?,
        queue: row.get(4)?,
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
        agent: row.get(15)?,
        remark: row.get(16)?,
        ivr_data: map_col(row, 17, "ivr_data")?,
        origin_uuid: row.get(18)?,
        idempotency_key: row.get(19)?,
        recording,
        transcript,
        tags: map_col(row, 25, "tags")?,
        lease_owner: row.get(26)?,
        lease_expires: opt_time_col(row, 27, "lease_expires")?,
        priority: row.get(28)?,
        counts: DispatchCounts {
            waits: u32_col(row, 29, "waits")?,
            failovers: u32_col(row, 30, "failovers")?,
            first_claimed_at: opt_time_col(row, 31, "first_claimed_at")?,
        },
    })
}

fn opt_u32(row: &Row<'_>, idx: usize, column: &'static str) -> rusqlite::Result<u32> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(0),
        Some(_) => u32_col(row, idx, column),
    }
}

fn read_attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get(0)?,
        callback_id: row.get(1)?,
        leg: enum_col(row, 2, "leg")?,
        attempt_no: u32_col(row, 3, "attempt_no")?,
        agent: row.get(4)?,
        call_uuid: row.get(5)?,
        started_at: time_col(row, 6, "started_at")?,
        answered_at: opt_time_col(row, 7, "answered_at")?,
        ended_at: opt_time_col(row, 8, "ended_at")?,
        hangup_cause: row.get(9)?,
        result: opt_enum_col::<AttemptResult>(row, 10, "result")?,
        disposition: row.get(11)?,
        note: row.get(12)?,
    })
}

fn read_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: row.get(0)?,
        callback_id: row.get(1)?,
        at: time_col(row, 2, "at")?,
        action: row.get(3)?,
        from: opt_enum_col(row, 4, "from_state")?,
        to: enum_col(row, 5, "to_state")?,
        actor: row.get(6)?,
        detail: row.get(7)?,
    })
}

// ---- validation ----------------------------------------------------------------------------

/// A state read outside [`read_callback`], e.g. the state a row had before an update.
pub(super) fn parse_state(text: &str, doing: &str) -> Result<State, StoreError> {
    State::from_str(text).map_err(|e| StoreError::Backend(format!("{doing}: column state: {e}")))
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field,
        message: message.into(),
    }
}

/// Checks what the store relies on, whoever built the draft: a key that is safe to log and
/// index, a dialable number, a queue, and a state/due time the claim index can see.
pub(super) fn validate(draft: &Draft) -> Result<(), StoreError> {
    if let Some(key) = &draft.idempotency_key {
        if key.is_empty() || key.len() > 160 {
            return Err(invalid(
                "idempotency_key",
                format!("must be 1 to 160 characters, not {}", key.chars().count()),
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(invalid(
                "idempotency_key",
                format!("{c:?} is not allowed (use letters, digits and . _ : -)"),
            ));
        }
    }
    if !crate::number::is_e164(&draft.number) {
        return Err(invalid(
            "number",
            format!(
                "'{}' is not an E.164 number (+ and 2 to 15 digits)",
                draft.number
            ),
        ));
    }
    validate_queue(&draft.queue)?;
    if draft.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(invalid(
            "time_zone",
            format!("'{}' is not an IANA time zone", draft.time_zone),
        ));
    }
    match (draft.state, draft.due_at) {
        (State::Scheduled, Some(_)) | (State::Requested, None) => Ok(()),
        (State::Scheduled, None) => Err(invalid("due_at", "a scheduled callback needs a due time")),
        (State::Requested, Some(_)) => Err(invalid(
            "due_at",
            "a requested callback has no due time yet (store it as scheduled)",
        )),
        (other, _) => Err(invalid(
            "state",
            format!("a new callback is requested or scheduled, not '{other}'"),
        )),
    }
}

pub(super) fn validate_agent(agent: &str) -> Result<(), StoreError> {
    if agent.trim().is_empty() {
        return Err(invalid("agent", "must not be empty"));
    }
    Ok(())
}

pub(super) fn validate_queue(queue: &str) -> Result<(), StoreError> {
    if queue.trim().is_empty() {
        return Err(invalid("queue", "must not be empty"));
    }
    Ok(())
}

// ---- statements shared by several operations -------------------------------------------------

pub(super) fn load(tx: &Connection, id: CallbackId) -> Result<CallbackRequest, StoreError> {
    tx.prepare_cached(concat!(
        "SELECT ",
        callback_columns!(),
        " FROM callbacks WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], read_callback).optional())
    .map_err(backend("reading a callback"))?
    .ok_or(StoreError::NotFound(id))
}

fn exists(conn: &Connection, id: CallbackId) -> Result<(), StoreError> {
    let found = conn
        .prepare_cached("SELECT 1 FROM callbacks WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .map_err(backend("looking up a callback"))?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound(id))
    }
}

const INSERT_CALLBACK: &str = "INSERT INTO callbacks (kind, number, time_zone, queue, source, \
     state, due_at, customer_attempts, created_at, updated_at, desired_at, window_from, \
     window_until, expires_at, agent, remark, ivr_data, origin_uuid, idempotency_key, \
     recording_path, recording_ms, recording_rate, tags) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21)";

const INSERT_EVENT: &str = "INSERT INTO events (callback_id, at, action, from_state, to_state, \
     actor, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Inserts one callback through `stmt`, a prepared [`INSERT_CALLBACK`]: a batch prepares it
/// once instead of looking the SQL up in the statement cache for every row.
fn insert_callback(
    stmt: &mut Statement<'_>,
    d: &Draft,
    now: i64,
) -> Result<CallbackId, StoreError> {
    let ivr = map_json(&d.ivr_data, "ivr_data")?;
    let tags = map_json(&d.tags, "tags")?;
    stmt.insert(params![
        d.kind.as_str(),
        d.number,
        d.time_zone,
        d.queue,
        d.source.as_str(),
        d.state.as_str(),
        d.due_at.map(secs),
        now,
        d.desired_at.map(secs),
        d.window.from.map(secs),
        d.window.until.map(secs),
        d.expires_at.map(secs),
        d.agent,
        d.remark,
        ivr,
        d.origin_uuid,
        d.idempotency_key,
        d.recording.as_ref().map(|r| r.path.as_str()),
        d.recording.as_ref().map(|r| r.duration_ms),
        d.recording.as_ref().map(|r| r.sample_rate),
        tags,
    ])
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if d.idempotency_key.is_some() => invalid(
            "idempotency_key",
            format!(
                "'{}' is already used by another callback",
                d.idempotency_key.as_deref().unwrap_or_default()
            ),
        ),
        _ => classify("storing a callback", e),
    })
}

/// One row of a callback's trace.
pub(super) struct NewEvent<'a> {
    pub callback_id: CallbackId,
    pub at: i64,
    pub action: &'a str,
    pub from: Option<State>,
    pub to: State,
    pub actor: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub(super) fn insert_event(tx: &Connection, e: &NewEvent<'_>) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(INSERT_EVENT)
        .map_err(backend("writing the trace"))?;
    insert_event_with(&mut stmt, e)
}

/// [`insert_event`] through `stmt`, a prepared [`INSERT_EVENT`].
fn insert_event_with(stmt: &mut Statement<'_>, e: &NewEvent<'_>) -> Result<(), StoreError> {
    stmt.execute(params![
        e.callback_id,
        e.at,
        e.action,
        e.from.map(State::as_str),
        e.to.as_str(),
        e.actor,
        e.detail,
    ])
    .map(drop)
    .map_err(backend("writing the trace"))
}

/// Live callbacks of a queue due in `[start, end)`: waiting ones through the claim index,
/// plus the few held under a lease (requested ones have no due time, so never count).
fn count_slot(conn: &Connection, queue: &str, start: i64, end: i64) -> Result<u32, StoreError> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT (SELECT count(*) FROM callbacks WHERE {CLAIMABLE} \
                     AND due_at >= ?2 AND due_at < ?3 AND queue = ?1) \
                  + (SELECT count(*) FROM callbacks WHERE {ACTIVE} \
                     AND due_at >= ?2 AND due_at < ?3 AND queue = ?1)"
        ))
        .and_then(|mut s| s.query_row(params![queue, start, end], |r| r.get(0)))
        .map_err(backend("counting a slot"))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Whether `row` is held by someone at `now` (seconds): who, and until when.
pub(super) fn live_lease(row: &CallbackRequest, now: i64) -> Option<(&str, DateTime<Utc>)> {
    match (&row.lease_owner, row.lease_expires) {
        (Some(owner), Some(until)) if secs(until) > now => Some((owner.as_str(), until)),
        _ => None,
    }
}

pub(super) fn holds(row: &CallbackRequest, owner: &str, now: i64) -> Result<(), StoreError> {
    match live_lease(row, now) {
        Some((holder, _)) if holder == owner => Ok(()),
        _ => Err(StoreError::LeaseLost {
            id: row.id,
            owner: owner.to_string(),
        }),
    }
}

fn load_attempt(conn: &Connection, attempt_id: i64) -> Result<Attempt, StoreError> {
    conn.prepare_cached(concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM attempts WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([attempt_id], read_attempt).optional())
    .map_err(backend("reading an attempt"))?
    .ok_or_else(|| invalid("attempt_id", format!("there is no attempt {attempt_id}")))
}

/// Queues the transcription of a new callback's recording, in the transaction that stores
/// the callback: a stored recording never lacks its job, whatever crashes when.
fn queue_recording(tx: &Connection, id: CallbackId, d: &Draft, now: i64) -> Result<(), StoreError> {
    match d.recording.as_ref().filter(|r| !r.path.trim().is_empty()) {
        Some(rec) => insert_job(tx, id, &rec.path, now).map(drop),
        None => Ok(()),
    }
}

/// A repeated request brought a recording. The pending callback without one takes it as
/// its recording; one that has a recording keeps it, and the new one is transcribed too (its
/// transcript is appended to the callback's, see `store::transcriptions`). Either way it is
/// queued, and the returned words (for the merge event) name the file, so no path is lost.
/// The same file again (a client retrying without an idempotency key) adds nothing.
fn merge_recording(
    tx: &Connection,
    row: &CallbackRequest,
    rec: &Recording,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let known = row.recording.as_ref().is_some_and(|r| r.path == rec.path)
        || tx
            .prepare_cached("SELECT 1 FROM transcriptions WHERE callback_id = ?1 AND wav_path = ?2")
            .and_then(|mut s| s.exists(params![row.id, rec.path]))
            .map_err(backend("merging a recording"))?;
    if known {
        return Ok(None);
    }
    if row.recording.is_none() {
        tx.prepare_cached(
            "UPDATE callbacks SET recording_path = ?2, recording_ms = ?3, recording_rate = ?4, \
             updated_at = ?5 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                row.id,
                rec.path,
                rec.duration_ms,
                rec.sample_rate,
                now
            ])
        })
        .map_err(backend("merging a recording"))?;
        insert_job(tx, row.id, &rec.path, now)?;
        Ok(Some(format!("its recording {}", rec.path)))
    } else {
        insert_job(tx, row.id, &rec.path, now)?;
        Ok(Some(format!(
            "a second recording {} (transcribed too, its text appended)",
            rec.path
        )))
    }
}

/// Appends a repeated request's remark to the pending one's, once.
/// Refuses an idempotency key replayed with another request than the one it first came
/// with. A row stored without a digest (before migration 8, or by a door that sends none)
/// and a replay without one are not compared: there is nothing to compare.
pub(super) fn same_request(stored: Option<&str>, given: Option<&str>) -> Result<(), StoreError> {
    match (stored, given) {
        (Some(a), Some(b)) if a != b => Err(StoreError::IdempotencyMismatch),
        _ => Ok(()),
    }
}

pub(super) fn merged_remark(existing: Option<&str>, new: Option<&str>) -> Option<String> {
    let new = new.map(str::trim).filter(|r| !r.is_empty())?;
    match existing.filter(|e| !e.is_empty()) {
        None => Some(new.to_string()),
        Some(e) if e == new || e.split('\n').any(|line| line == new) => None,
        Some(e) => Some(format!("{e}\n{new}")),
    }
}

// ---- the trait ---------------------------------------------------------------------------------

/// A checked transition and its event, inside the caller's transaction.
/// What a transition writes, decided from the current row by the lifecycle and lease
/// rules both backends share; each backend only writes it in its own SQL.
pub(super) struct Planned<'a> {
    pub to: State,
    pub due_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<i64>,
    pub queue: &'a str,
    pub number: &'a str,
    pub agent: Option<&'a str>,
    pub attempts: u32,
    /// The dispatcher's counters after this transition.
    pub waits: u32,
    pub failovers: u32,
}

/// Checks `change` against `row` (expected state, lifecycle, lease, due time) and says
/// what to write.
pub(super) fn plan<'a>(
    row: &'a CallbackRequest,
    change: &'a Transition,
    now_s: i64,
) -> Result<Planned<'a>, StoreError> {
    let id = row.id;
    if let Some(expected) = change.expect {
        if expected != row.state {
            return Err(StoreError::StateChanged {
                id,
                expected,
                actual: row.state,
            });
        }
    }
    let to = row.state.check(change.to)?;
    match &change.owner {
        Some(owner) => holds(row, owner, now_s)?,
        None => {
            let side_exit = matches!(to, State::Cancelled | State::Expired | State::Failed);
            if let (Some((holder, until)), false) = (live_lease(row, now_s), side_exit) {
                return Err(StoreError::Leased {
                    id,
                    owner: holder.to_string(),
                    until,
                });
            }
        }
    }
    let due_at = change.due_at.or(row.due_at).map(secs);
    if matches!(to, State::Scheduled | State::Rescheduled) && due_at.is_none() {
        return Err(invalid(
            "due_at",
            format!("a '{to}' callback needs a due time"),
        ));
    }
    let (lease_owner, lease_expires) = if !to.is_active() {
        // Waiting or finished: nobody holds it any more.
        (None, None)
    } else if change.owner.is_some() {
        (row.lease_owner.clone(), row.lease_expires.map(secs))
    } else {
        // A person moved it into an active state (e.g. "call now" on a due one):
        // leave it unowned with an expired lease so the next claim takes it over.
        (None, Some(now_s))
    };
    Ok(Planned {
        to,
        due_at,
        lease_owner,
        lease_expires,
        queue: change.queue.as_deref().unwrap_or(&row.queue),
        number: change.number.as_deref().unwrap_or(&row.number),
        agent: match &change.agent {
            Some(a) => a.as_deref(),
            None => row.agent.as_deref(),
        },
        attempts: if change.reset_attempts {
            0
        } else {
            row.customer_attempts
        },
        waits: if change.wait {
            row.counts.waits.saturating_add(1)
        } else {
            0
        },
        failovers: row
            .counts
            .failovers
            .saturating_add(u32::from(change.failover)),
    })
}

fn apply_transition(
    tx: &Transaction<'_>,
    id: CallbackId,
    change: &Transition,
    now_s: i64,
) -> Result<CallbackRequest, StoreError> {
    let row = load(tx, id)?;
    let Planned {
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
    } = plan(&row, change, now_s)?;
    let updated = tx
        .prepare_cached(concat!(
            "UPDATE callbacks SET state = ?2, due_at = ?3, queue = ?4, \
                 customer_attempts = ?5, lease_owner = ?6, lease_expires = ?7, \
                 updated_at = ?8, number = ?9, agent = ?10, waits = ?12, failovers = ?13, \
                 priority = CASE WHEN ?11 AND priority < 1073741824 \
                            THEN priority + 1073741824 ELSE priority END \
                 WHERE id = ?1 RETURNING ",
            callback_columns!()
        ))
        .and_then(|mut s| {
            s.query_row(
                params![
                    id,
                    to.as_str(),
                    due_at,
                    queue,
                    attempts,
                    lease_owner,
                    lease_expires,
                    now_s,
                    number,
                    agent,
                    change.first,
                    waits,
                    failovers
                ],
                read_callback,
            )
        })
        .map_err(backend("applying a transition"))?;
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
        // Out of a dispatch (cancelled during the preview, say): an agent leg still open
        // would hold its agent on every node forever (one open leg per agent).
        tx.prepare_cached(
            "UPDATE attempts SET ended_at = ?2, hangup_cause = 'CALLBACK_ENDED', \
             result = 'error' WHERE callback_id = ?1 AND leg = 'agent' AND ended_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![id, now_s]))
        .map_err(backend("closing the agent leg"))?;
    }
    Ok(updated)
}

pub(super) fn check_dnc_number(number: &str) -> Result<(), StoreError> {
    if crate::number::is_e164(number) {
        Ok(())
    } else {
        Err(invalid(
            "number",
            format!("'{number}' is not an E.164 number (+ and 2 to 15 digits)"),
        ))
    }
}

/// A number onto the do-not-call list, inside the caller's transaction.
fn write_dnc(
    tx: &Transaction<'_>,
    number: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Adding twice keeps the first date (when the customer first asked); a new reason
    // replaces the old one.
    tx.prepare_cached(
        "INSERT INTO do_not_call (number, reason, added_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (number) DO UPDATE SET reason = coalesce(excluded.reason, reason)",
    )
    .and_then(|mut s| s.execute(params![number, reason, secs(now)]))
    .map(drop)
    .map_err(backend("adding to the do-not-call list"))
}

/// An attempt's disposition, inside the caller's transaction.
fn write_disposition(
    tx: &Transaction<'_>,
    attempt_id: i64,
    result: Option<AttemptResult>,
    disposition: Option<&str>,
    note: Option<&str>,
) -> Result<Attempt, StoreError> {
    load_attempt(tx, attempt_id)?;
    // `None` keeps what is there: an agent correcting the note does not erase the code.
    tx.prepare_cached(concat!(
        "UPDATE attempts SET result = coalesce(?2, result), \
         disposition = coalesce(?3, disposition), note = coalesce(?4, note) \
         WHERE id = ?1 RETURNING ",
        attempt_columns!()
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                attempt_id,
                result.map(AttemptResult::as_str),
                disposition,
                note
            ],
            read_attempt,
        )
    })
    .map_err(backend("setting a disposition"))
}

/// A new leg by the lease holder, inside the caller's transaction.
fn insert_attempt(
    tx: &Transaction<'_>,
    attempt: &NewAttempt,
    owner: &str,
    now_s: i64,
) -> Result<Attempt, StoreError> {
    let row = load(tx, attempt.callback_id)?;
    holds(&row, owner, now_s)?;
    let attempt_no = match attempt.leg {
        Leg::Customer => {
            let n = row.customer_attempts.saturating_add(1);
            tx.prepare_cached(
                "UPDATE callbacks SET customer_attempts = ?2, updated_at = ?3 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![row.id, n, now_s]))
            .map_err(backend("counting a customer attempt"))?;
            n
        }
        // An agent leg offers the next customer attempt without using it up.
        Leg::Agent => row.customer_attempts.saturating_add(1),
    };
    tx.prepare_cached(concat!(
        "INSERT INTO attempts (callback_id, leg, attempt_no, agent, call_uuid, started_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING ",
        attempt_columns!()
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                row.id,
                attempt.leg.as_str(),
                attempt_no,
                attempt.agent,
                attempt.call_uuid,
                now_s
            ],
            read_attempt,
        )
    })
    .map_err(|e| match &attempt.agent {
        // attempts_agent_busy: the agent has an open leg already (some node's offer).
        Some(agent)
            if attempt.leg == Leg::Agent
                && e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                && e.to_string().contains("attempts.agent") =>
        {
            StoreError::AgentBusy {
                agent: agent.clone(),
            }
        }
        _ => classify("starting an attempt", e),
    })
}

impl Store for SqliteStore {
    fn attach_recording(
        &self,
        id: CallbackId,
        recording: &Recording,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, StoreError> {
        let now_s = secs(now);
        self.write("attaching a recording", |tx| {
            let row = load(tx, id)?;
            if row.state.is_terminal() {
                return Err(StoreError::Transition(crate::model::TransitionError {
                    from: row.state,
                    to: row.state,
                }));
            }
            let detail = merge_recording(tx, &row, recording, now_s)?;
            if let Some(detail) = detail {
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
                let existing: Option<(CallbackId, Option<String>)> = tx
                    .prepare_cached(
                        "SELECT id, request_hash FROM callbacks WHERE idempotency_key = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                    })
                    .map_err(backend("looking up the idempotency key"))?;
                if let Some((id, hash)) = existing {
                    same_request(hash.as_deref(), options.request_hash.as_deref())?;
                    return Ok((load(tx, id)?, CreateOutcome::Existing));
                }
            }
            if options.merge_pending {
                let pending: Option<CallbackId> = tx
                    .prepare_cached(&format!(
                        "SELECT id FROM callbacks WHERE {PENDING_KEY} = {PENDING_KEY_OF_1} \
                         AND number = ?1 AND queue = ?2 AND {PENDING} \
                         ORDER BY id LIMIT 1"
                    ))
                    .and_then(|mut s| {
                        s.query_row([&draft.number, &draft.queue], |r| r.get(0))
                            .optional()
                    })
                    .map_err(backend("looking for a pending callback to merge into"))?;
                if let Some(id) = pending {
                    let row = load(tx, id)?;
                    let remark = merged_remark(row.remark.as_deref(), draft.remark.as_deref());
                    if let Some(remark) = &remark {
                        tx.prepare_cached(
                            "UPDATE callbacks SET remark = ?2, updated_at = ?3 WHERE id = ?1",
                        )
                        .and_then(|mut s| s.execute(params![id, remark, now_s]))
                        .map_err(backend("merging a remark"))?;
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
                let used = count_slot(tx, &draft.queue, ceil_secs(start), ceil_secs(end))?;
                if used >= capacity {
                    return Err(StoreError::SlotFull { start, capacity });
                }
            }
            let mut insert = tx
                .prepare_cached(INSERT_CALLBACK)
                .map_err(backend("storing a callback"))?;
            let id = insert_callback(&mut insert, draft, now_s)?;
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
                tx.prepare_cached("UPDATE callbacks SET request_hash = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, hash]))
                    .map_err(backend("storing the request digest"))?;
            }
            queue_recording(tx, id, draft, now_s)?;
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
            let mut ids = Vec::with_capacity(drafts.len());
            let mut insert = tx
                .prepare_cached(INSERT_CALLBACK)
                .map_err(backend("storing a batch of callbacks"))?;
            let mut trace = tx
                .prepare_cached(INSERT_EVENT)
                .map_err(backend("storing a batch of callbacks"))?;
            for d in drafts {
                let id = insert_callback(&mut insert, d, now_s)?;
                insert_event_with(
                    &mut trace,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "created",
                        from: None,
                        to: d.state,
                        actor: None,
                        detail: None,
                    },
                )?;
                queue_recording(tx, id, d, now_s)?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    fn get(&self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        self.read(|c| load(c, id))
    }

    fn open_for_number(&self, number: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&open_for_number_sql())
                .map_err(backend("listing a number's open callbacks"))?;
            let mut rows = stmt
                .query_map([number], read_callback)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("listing a number's open callbacks"))?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, StoreError> {
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(concat!(
                    "SELECT ",
                    callback_columns!(),
                    " FROM callbacks WHERE (?1 IS NULL OR queue = ?1) \
                     AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR number = ?3) \
                     AND (?5 IS NULL OR updated_at >= ?5) ORDER BY id LIMIT ?4"
                ))
                .map_err(backend("listing callbacks"))?;
            let rows = stmt
                .query_map(
                    params![
                        filter.queue,
                        filter.state.map(State::as_str),
                        filter.number,
                        limit,
                        filter.updated_since.map(secs)
                    ],
                    read_callback,
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("listing callbacks"))?;
            Ok(rows)
        })
    }

    fn events(&self, id: CallbackId) -> Result<Vec<Event>, StoreError> {
        self.read(|c| {
            exists(c, id)?;
            c.prepare_cached(
                "SELECT id, callback_id, at, action, from_state, to_state, actor, detail \
                 FROM events WHERE callback_id = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([id], read_event)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend("reading the trace"))
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
            apply_transition(tx, id, change, now_s)
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
        self.write("claiming due callbacks", |tx| {
            let err = backend("claiming due callbacks");
            // Expired leases first: those callbacks fell due before anything still waiting.
            let expired: Vec<(CallbackId, String, Option<String>, Option<i64>)> = tx
                .prepare_cached(&format!(
                    "SELECT id, state, lease_owner, lease_expires FROM callbacks \
                     WHERE {ACTIVE} AND lease_expires <= ?1 \
                     ORDER BY lease_expires, id LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![horizon_s, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(&err)?;
            let remaining = limit - i64::try_from(expired.len()).unwrap_or(limit);
            // Then due rows a transcript raised (few, their own partial index), highest
            // priority first, and the rest by due time, oldest first.
            let mut due: Vec<(CallbackId, String)> = Vec::new();
            for sql in [
                format!(
                    "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND priority > 0 \
                     AND due_at <= ?1 ORDER BY priority DESC, due_at, id LIMIT ?2"
                ),
                format!(
                    "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND due_at <= ?1 \
                     AND priority <= 0 ORDER BY due_at, id LIMIT ?2"
                ),
            ] {
                let left = remaining - i64::try_from(due.len()).unwrap_or(remaining);
                if left <= 0 {
                    break;
                }
                let rows: Vec<(CallbackId, String)> = tx
                    .prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.query_map(params![horizon_s, left], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect()
                    })
                    .map_err(&err)?;
                due.extend(rows);
            }

            let mut claimed = Vec::with_capacity(expired.len() + due.len());
            // A claim of a waiting row (a state given) sets its first claim once; a
            // reclaim (no state) does not.
            let mut take = tx
                .prepare_cached(concat!(
                    "UPDATE callbacks SET state = coalesce(?2, state), lease_owner = ?3, \
                     lease_expires = ?4, updated_at = ?5, \
                     first_claimed_at = CASE WHEN ?2 IS NULL THEN first_claimed_at \
                                        ELSE coalesce(first_claimed_at, ?5) END, \
                     priority = CASE WHEN priority >= 1073741824 \
                                THEN priority - 1073741824 ELSE priority END \
                     WHERE id = ?1 RETURNING ",
                    callback_columns!()
                ))
                .map_err(&err)?;
            for (id, state, previous, previous_until) in expired {
                let row = take
                    .query_row(
                        params![id, None::<&str>, owner, until, now_s],
                        read_callback,
                    )
                    .map_err(&err)?;
                // Key=value, so the trace reads for people and checks for tests.
                let detail = format!(
                    "lease_until={until} previous={} previous_until={}",
                    previous.as_deref().unwrap_or("-"),
                    previous_until.map_or_else(|| "-".to_string(), |t| t.to_string()),
                );
                let from = parse_state(&state, "claiming due callbacks")?;
                insert_event(
                    tx,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "reclaim",
                        from: Some(from),
                        to: row.state,
                        actor: Some(owner),
                        detail: Some(&detail),
                    },
                )?;
                claimed.push(row);
            }
            let detail = format!("lease_until={until}");
            for (id, state) in due {
                let row = take
                    .query_row(
                        params![id, State::Due.as_str(), owner, until, now_s],
                        read_callback,
                    )
                    .map_err(&err)?;
                insert_event(
                    tx,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "claim",
                        from: Some(parse_state(&state, "claiming due callbacks")?),
                        to: State::Due,
                        actor: Some(owner),
                        detail: Some(&detail),
                    },
                )?;
                claimed.push(row);
            }
            Ok(claimed)
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
                .prepare_cached(&format!(
                    "UPDATE callbacks SET lease_expires = ?3 WHERE id = ?1 AND lease_owner = ?2 \
                     AND lease_expires > ?4 AND {ACTIVE}"
                ))
                .and_then(|mut s| s.execute(params![id, owner, until, now_s]))
                .map_err(backend("renewing a lease"))?;
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
        self.read(|c| {
            let (due, lease): (Option<i64>, Option<i64>) = c
                .prepare_cached(&format!(
                    "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                            (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
                ))
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(backend("finding the next wake-up"))?;
            let next = match (due, lease) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            next.map(|s| {
                DateTime::from_timestamp(s, 0).ok_or_else(|| {
                    StoreError::Backend(format!(
                        "finding the next wake-up: column due_at/lease_expires: {s} is not a representable time"
                    ))
                })
            })
            .transpose()
        })
    }

    fn count_due_between(
        &self,
        queue: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        self.read(|c| count_slot(c, queue, ceil_secs(start), ceil_secs(end)))
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
            let err = backend("starting offers");
            // Cached statements: a burst runs these three times per offer.
            let run = |sql: &str| {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map_err(&err)
            };
            let mut out = Vec::with_capacity(offers.len());
            for (id, t, attempt) in offers {
                run("SAVEPOINT offer")?;
                let one = apply_transition(tx, *id, t, now_s)
                    .and_then(|r| insert_attempt(tx, attempt, owner, now_s).map(|a| (r, a)));
                if one.is_err() {
                    run("ROLLBACK TO offer")?;
                }
                run("RELEASE offer")?;
                out.push(one);
            }
            Ok(out)
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
            let a = load_attempt(tx, attempt_id)?;
            if let Some(ended) = a.ended_at {
                // The first report of a leg's end is the true one; a late duplicate is refused.
                return Err(invalid(
                    "attempt_id",
                    format!("attempt {attempt_id} already ended at {ended}"),
                ));
            }
            tx.prepare_cached(concat!(
                "UPDATE attempts SET answered_at = ?2, ended_at = ?3, hangup_cause = ?4, \
                 result = ?5 WHERE id = ?1 RETURNING ",
                attempt_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        attempt_id,
                        end.answered_at.map(secs),
                        now_s,
                        end.hangup_cause,
                        end.result.as_str()
                    ],
                    read_attempt,
                )
            })
            .map_err(backend("finishing an attempt"))
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
            tx.prepare_cached(
                "INSERT INTO agents (id, ready, since, node) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET ready = ?2, since = ?3, node = ?4",
            )
            .and_then(|mut s| s.execute(params![agent, i64::from(ready), secs(now), node]))
            .map_err(backend("recording an agent's state"))?;
            Ok(())
        })
    }

    fn agent_board(&self, now: DateTime<Utc>) -> Result<AgentBoard, StoreError> {
        let now_s = secs(now);
        self.read(|c| {
            let err = backend("reading the agents");
            let states = c
                .prepare_cached("SELECT id, ready, since, node FROM agents ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(AgentRecord {
                            id: r.get(0)?,
                            ready: r.get::<_, i64>(1)? != 0,
                            since: time_col(r, 2, "since")?,
                            node: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(&err)?;
            let busy = c
                .prepare_cached(
                    "SELECT a.agent, a.callback_id \
                     FROM attempts a INDEXED BY attempts_agent_busy \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
                     AND c.lease_expires > ?1 ORDER BY a.agent",
                )
                .and_then(|mut s| {
                    s.query_map([now_s], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(&err)?;
            Ok(AgentBoard { states, busy })
        })
    }

    fn purge(
        &self,
        finished_before: Option<DateTime<Utc>>,
        only: Option<CallbackId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let now_s = secs(now);
        self.write("purging recordings and transcripts", |tx| {
            let err = backend("purging recordings and transcripts");
            let rows: Vec<(CallbackId, String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT id, state, recording_path FROM callbacks \
                     WHERE (recording_path IS NOT NULL OR transcript_text IS NOT NULL \
                            OR EXISTS (SELECT 1 FROM transcriptions t \
                                       WHERE t.callback_id = callbacks.id AND t.wav_path <> '')) \
                       AND (id = ?1 OR (?2 IS NOT NULL AND updated_at < ?2 AND \
                            state IN ('completed', 'cancelled', 'expired', 'failed')))",
                )
                .and_then(|mut s| {
                    s.query_map(params![only, finished_before.map(secs)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(&err)?;
            let mut files = Vec::new();
            for (id, state, path) in rows {
                tx.execute(
                    "UPDATE callbacks SET recording_path = NULL, recording_ms = NULL, \
                     recording_rate = NULL, transcript_text = NULL, transcript_language = NULL \
                     WHERE id = ?1",
                    // `updated_at` stays: the panel's "recently finished" list reads it, and
                    // months-old callbacks must not come back there after a purge (the
                    // purge event in the trace records it).
                    params![id],
                )
                .map_err(&err)?;
                // The jobs keep their row without what was said (text, segments, file), so
                // the processing times /metrics counts never go down; one still queued or
                // running is failed, so no worker transcribes a deleted file.
                let jobs: Vec<String> = tx
                    .prepare_cached(
                        "SELECT wav_path FROM transcriptions WHERE callback_id = ?1 AND wav_path <> ''",
                    )
                    .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
                    .map_err(&err)?;
                tx.execute(
                    "UPDATE transcriptions SET wav_path = '', text = NULL, segments = NULL, \
                     language = NULL, lease_until = NULL, updated_at = ?2, \
                     error = CASE WHEN state IN ('queued', 'running') THEN 'purged' ELSE error END, \
                     state = CASE WHEN state IN ('queued', 'running') THEN 'failed' ELSE state END \
                     WHERE callback_id = ?1",
                    params![id, now_s],
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
        self.read(|conn| {
            conn.query_row(
                "SELECT avg(ended_at - started_at) FROM (SELECT a.ended_at, a.started_at \
                 FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = ?1 AND a.leg = 'agent' AND a.result = 'answered' \
                 AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT ?2)",
                params![queue, last],
                |r| r.get::<_, Option<f64>>(0),
            )
            .map(|avg| avg.map(|s| Duration::milliseconds((s.max(0.0) * 1000.0) as i64)))
            .map_err(backend("reading handling times"))
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
            check_dnc_number(number)?;
        }
        self.write("storing after-call work", |tx| {
            if let Some((number, reason)) = do_not_call {
                write_dnc(tx, number, Some(reason), now)?;
            }
            write_disposition(tx, attempt_id, result, disposition, note)
        })
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
                .map_err(backend("reading the last event"))
        })
    }

    fn panel_lists(
        &self,
        scope: &super::PanelScope,
        finished_since: DateTime<Utc>,
        limit: usize,
    ) -> Result<super::PanelLists, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let queues =
            serde_json::to_string(&scope.queues).map_err(|e| invalid("queues", e.to_string()))?;
        let since = secs(finished_since);
        self.read(|c| {
            let err = backend("listing the panel's callbacks");
            let rows = |sql: &str, with_since: bool| -> Result<Vec<CallbackRequest>, StoreError> {
                let mut stmt = c.prepare_cached(sql).map_err(&err)?;
                let found = if with_since {
                    stmt.query_map(
                        params![scope.all, queues, scope.agent, limit, since],
                        read_callback,
                    )
                } else {
                    stmt.query_map(params![scope.all, queues, scope.agent, limit], read_callback)
                };
                found
                    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
                    .map_err(&err)
            };
            let count = |sql: &str| -> Result<u64, StoreError> {
                c.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_row(params![scope.all, queues, scope.agent], |r| r.get::<_, i64>(0))
                    })
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(&err)
            };
            let mut pending = rows(&format!("SELECT {} FROM callbacks WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE} ORDER BY created_at, id LIMIT ?4", callback_columns!()), false)?;
            let mut waiting = rows(&format!("SELECT {} FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4", callback_columns!()), false)?;
            let leased = rows(&format!("SELECT {} FROM callbacks WHERE {ACTIVE} AND {PANEL_SCOPE} ORDER BY due_at, id LIMIT ?4", callback_columns!()), false)?;
            let recent = rows(&format!("SELECT {} FROM callbacks WHERE updated_at >= ?5 AND {FINISHED} AND {PANEL_SCOPE} ORDER BY updated_at DESC, id DESC LIMIT ?4", callback_columns!()), true)?;
            let (due, active): (Vec<_>, Vec<_>) =
                leased.into_iter().partition(|r| r.state == State::Due);
            let pending_count = count(&format!("SELECT count(*) FROM callbacks WHERE {PANEL_REQUESTED} AND {PANEL_SCOPE}"))?
                + count(&format!("SELECT count(*) FROM callbacks WHERE {CLAIMABLE} AND {PANEL_SCOPE}"))?
                + count(&format!("SELECT count(*) FROM callbacks WHERE {ACTIVE} AND state = 'due' AND {PANEL_SCOPE}"))?;
            // Due ones are the earliest of the waiting; requested ones have no due time.
            waiting.splice(0..0, due);
            pending.append(&mut waiting);
            pending.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(super::PanelLists {
                pending,
                pending_count,
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
        let rows: Vec<(Option<String>, i64)> = self.read(|c| {
            c.prepare_cached(
                "SELECT a.result, COUNT(*) FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = ?1 AND a.leg = 'customer' AND a.ended_at >= ?2 \
                 GROUP BY a.result ORDER BY a.result",
            )
            .and_then(|mut s| {
                s.query_map(params![queue, secs(since)], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(backend("counting call results"))
        })?;
        Ok(rows
            .into_iter()
            .map(|(res, n)| {
                (
                    res.and_then(|r| r.parse().ok()),
                    u64::try_from(n).unwrap_or(0),
                )
            })
            .collect())
    }

    fn attempts(&self, id: CallbackId) -> Result<Vec<Attempt>, StoreError> {
        self.read(|c| {
            exists(c, id)?;
            c.prepare_cached(concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM attempts WHERE callback_id = ?1 ORDER BY id"
            ))
            .and_then(|mut s| s.query_map([id], read_attempt)?.collect())
            .map_err(backend("reading attempts"))
        })
    }

    fn dnc_add(
        &self,
        number: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_dnc_number(number)?;
        self.write("adding to the do-not-call list", |tx| {
            write_dnc(tx, number, reason, now)
        })
    }

    fn dnc_remove(&self, number: &str) -> Result<bool, StoreError> {
        self.write("removing from the do-not-call list", |tx| {
            tx.prepare_cached("DELETE FROM do_not_call WHERE number = ?1")
                .and_then(|mut s| s.execute([number]))
                .map(|n| n > 0)
                .map_err(backend("removing from the do-not-call list"))
        })
    }

    fn dnc_contains(&self, number: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM do_not_call WHERE number = ?1")
                .and_then(|mut s| s.exists([number]))
                .map_err(backend("checking the do-not-call list"))
        })
    }

    fn dnc_list(&self) -> Result<Vec<DoNotCall>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT number, reason, added_at FROM do_not_call ORDER BY number")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(DoNotCall {
                            number: r.get(0)?,
                            reason: r.get(1)?,
                            added_at: time_col(r, 2, "added_at")?,
                        })
                    })?
                    .collect()
                })
                .map_err(backend("listing the do-not-call list"))
        })
    }

    fn figures(&self, bounds_ms: &[u64]) -> Result<super::Figures, StoreError> {
        self.read_figures(bounds_ms)
    }

    fn transcription(&self, id: CallbackId) -> Result<Option<super::TranscriptionJob>, StoreError> {
        // The inherent reader (store::transcriptions), not this trait method.
        SqliteStore::transcription(self, id)
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        self.read(|c| {
            let mut by_queue_state: Vec<(String, State, u64)> = c
                .prepare_cached(
                    "SELECT queue, state, count(*) FROM callbacks GROUP BY queue, state",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        let n: i64 = r.get(2)?;
                        Ok((
                            r.get(0)?,
                            enum_col(r, 1, "state")?,
                            u64::try_from(n).unwrap_or(0),
                        ))
                    })?
                    .collect()
                })
                .map_err(backend("counting callbacks"))?;
            // Lifecycle order within a queue reads better than alphabetical.
            by_queue_state.sort();
            Ok(Stats { by_queue_state })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
                "SELECT id FROM callbacks WHERE {PENDING_KEY} = CAST(substr('+1', 2) AS INTEGER) \
                 AND number = '+1' AND queue = 'q' AND {PENDING} ORDER BY id LIMIT 1"
            ),
        );
        assert!(merge.contains("callbacks_pending_number"), "{merge}");
        assert!(!merge.contains("TEMP B-TREE"), "{merge}");
        // The per-number cap reads a number's open callbacks without a scan.
        let open = plan(&store, &open_for_number_sql().replace("?1", "'+1'"));
        assert!(
            open.contains("callbacks_pending_number") && open.contains("callbacks_active_number"),
            "{open}"
        );
        assert!(!open.contains("SCAN callbacks"), "{open}");
    }

    #[test]
    fn panel_reads_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("cb.db")).unwrap();
        let scope = PANEL_SCOPE
            .replace("?1", "0")
            .replace("?2", "'[\"q\"]'")
            .replace("?3", "'a'");
        let cols = callback_columns!();
        for (sql, index) in [
            (
                format!("SELECT {cols} FROM callbacks WHERE {CLAIMABLE} AND {scope} ORDER BY due_at, id LIMIT 5"),
                "callbacks_claimable",
            ),
            (
                format!("SELECT count(*) FROM callbacks WHERE {CLAIMABLE} AND {scope}"),
                "callbacks_claimable",
            ),
            (
                format!("SELECT {cols} FROM callbacks WHERE {PANEL_REQUESTED} AND {scope} ORDER BY created_at, id LIMIT 5"),
                "callbacks_requested",
            ),
            (
                format!("SELECT count(*) FROM callbacks WHERE {PANEL_REQUESTED} AND {scope}"),
                "callbacks_requested",
            ),
            (
                format!("SELECT {cols} FROM callbacks WHERE {ACTIVE} AND {scope} ORDER BY due_at, id LIMIT 5"),
                "callbacks_leases",
            ),
            (
                format!("SELECT {cols} FROM callbacks WHERE updated_at >= 1 AND {FINISHED} AND {scope} ORDER BY updated_at DESC, id DESC LIMIT 5"),
                "callbacks_updated",
            ),
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
            assert!(!p.contains("SCAN callbacks |") && !p.ends_with("SCAN callbacks"), "{sql}: {p}");
            assert!(!p.contains("SCAN a"), "{sql}: {p}");
        }
        // Newest first straight from the index, without sorting the day's rows.
        let recent = plan(
            &store,
            &format!("SELECT id FROM callbacks WHERE updated_at >= 1 AND {FINISHED} AND {scope} ORDER BY updated_at DESC, id DESC LIMIT 5"),
        );
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
            for step in &schema::MIGRATIONS[..2] {
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
    fn lease_expiries_round_up_and_stored_times_truncate() {
        // A lease never ends earlier in the store than for its holder.
        let t = Utc.timestamp_opt(100, 1).unwrap();
        assert_eq!(secs(t), 100);
        assert_eq!(ceil_secs(t), 101);
        assert_eq!(ceil_secs(Utc.timestamp_opt(100, 0).unwrap()), 100);
        assert_eq!(lease_until(t, Duration::seconds(2)).unwrap(), 103);
    }

    #[test]
    fn a_repeated_remark_is_appended_once() {
        // Merging appends a new remark on its own line, and skips empty or known ones.
        assert_eq!(merged_remark(None, Some(" late ")), Some("late".into()));
        assert_eq!(merged_remark(Some("a"), Some("b")), Some("a\nb".into()));
        assert_eq!(merged_remark(Some("a\nb"), Some("b")), None);
        assert_eq!(merged_remark(Some("a"), Some("  ")), None);
        assert_eq!(merged_remark(Some("a"), None), None);
    }
}
