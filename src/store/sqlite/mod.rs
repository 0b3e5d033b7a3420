//! The SQLite backend (rusqlite, bundled): WAL, `PRAGMA user_version` migrations. This
//! folder holds only its connection and SQL: the executor the doors of `store::rules` run
//! on, with the statement texts SQLite writes its own way ([`exec`]), what it does its own
//! way per door ([`lifecycle`]: a batch, a claim, a turn's offers; [`reads`]: the panel's
//! lists, the histogram; [`tx`]: storing a callback, a trace row, a leg; [`webhooks`]: the
//! outbox read; [`dnc`]), the row adapter ([`rows`]) and the migration runner; the rules, the doors
//! and the schema's steps are `store::rules`, the same for PostgreSQL.
//!
//! One writing connection behind a mutex: SQLite has one writer at a time anyway, and every
//! write here is a short `BEGIN IMMEDIATE` transaction (shared writes arriving together share
//! one, [`group`]), so a second writer would only queue. Reads have a connection of their
//! own, which in WAL neither waits for the writer nor holds it up.
//! Several processes (or several stores) may open the same file; `BEGIN IMMEDIATE` plus the
//! busy timeout serialises them, and each check-then-write runs inside one transaction.
//!
//! Times are stored as whole UTC epoch seconds. Instants read back are truncated to the
//! second; lease expiries are rounded *up*, so the store never thinks a lease ended before
//! its holder does.

mod checkpoint;
mod dnc;
mod exec;
mod group;
mod jobs;
mod lifecycle;
mod reads;
mod rows;
mod tx;
mod webhooks;

use super::rules::{ddl::Engine, schema};
use super::{Fault, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) use tx::SqliteTx;

/// How long a connection waits for another writer (another process on the same file)
/// before giving up with "database is locked".
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Page cache per connection, in KiB (negative = KiB for SQLite), for the live path: creates,
/// claims, transitions, reads. Small on purpose. After a transaction in which a b-tree
/// balance swapped two pages' numbers (it parks one at the locking page's number, page
/// 262145 with 4 KiB pages: `balance_nonroot` in sqlite3.c), the commit truncates the page
/// cache by scanning every one of its hash buckets (`pcache1TruncateUnsafe`'s general
/// case), and almost every claim swaps pages as it empties the due-time index. The scan
/// grows with the pages cached: at 1M requests a claim of 100 spent 8.9 ms of CPU with a
/// 128 MiB cache and 5.4 ms with 16 MiB (`cargo bench --bench store`).
const CACHE_KIB: i64 = 16 * 1024;

/// The page cache while a batch is stored ([`SqliteStore::bulk`]): a batch of thousands
/// of rows lands at random places in the number and due-time indexes, dirtying most of
/// their pages, and with the live path's cache those would be spilled and read again (the
/// bench's inserts took 15% more CPU at 16 MiB than at 128 MiB).
const BULK_CACHE_KIB: i64 = 128 * 1024;

/// The states a dispatcher may claim when due, as the WHERE of the partial index
/// `callbacks_claimable`. Queries repeat it word for word, or SQLite will not use the index.
pub(crate) const CLAIMABLE: &str = "state IN ('scheduled', 'rescheduled')";
/// The states held under a lease (the WHERE of `callbacks_leases`). An OR chain, not
/// `IN (...)`: SQLite evaluates an IN list of three or more constants through a temporary
/// b-tree, which for a partial index's WHERE means one built and freed on every insert and
/// update of a callback (a fifth of the insert time in the store bench).
pub(crate) const ACTIVE: &str = "(state = 'due' OR state = 'offering' OR state = 'previewing' \
                      OR state = 'dialing' OR state = 'connected')";
/// The states waiting for their time (a merge looks for one of these); an OR chain like
/// [`ACTIVE`].
pub(crate) const PENDING: &str =
    "(state = 'requested' OR state = 'scheduled' OR state = 'rescheduled')";
/// Every open state, [`PENDING`] then [`ACTIVE`]: the WHERE of `callbacks_open_number`,
/// word for word (schema step 13), so a query that repeats it may use that index.
pub(crate) const OPEN: &str =
    "(state = 'requested' OR state = 'scheduled' OR state = 'rescheduled' \
      OR state = 'due' OR state = 'offering' OR state = 'previewing' \
      OR state = 'dialing' OR state = 'connected')";
/// The WHERE of `callbacks_requested` (waiting for a due time).
pub(crate) const PANEL_REQUESTED: &str = "state = 'requested'";
/// The finished states, for the panel's recent list (through `callbacks_updated`).
pub(crate) const FINISHED: &str =
    "(state = 'completed' OR state = 'failed' OR state = 'cancelled' \
                        OR state = 'expired' OR state = 'done')";
/// The panel's scope: ?1 every callback, or the queues of the JSON array ?2, or personal to
/// the agent ?3.
pub(crate) const PANEL_SCOPE: &str =
    "(?1 OR queue IN (SELECT value FROM json_each(?2)) OR agent = ?3)";
/// The key of `callbacks_open_number` (word for word, or SQLite will not use it): the
/// E.164 number as an integer, half the bytes of the text in an index entry.
pub(crate) const NUMBER_KEY: &str = "CAST(substr(number, 2) AS INTEGER)";
/// The same key computed from parameter 1.
pub(crate) const NUMBER_KEY_OF_1: &str = "CAST(substr(?1, 2) AS INTEGER)";

/// The embedded store.
pub struct SqliteStore {
    /// `None` after a fault that needs a fresh connection ([`Fault::needs_reconnect`]), or
    /// when the database could not be opened at start ([`SqliteStore::open_or_later`]): the
    /// next use opens it again.
    conn: Mutex<Option<Connection>>,
    path: PathBuf,
    /// The page cache ceiling of each connection, KiB.
    cache_kib: i64,
    /// Shared writes committed together ([`SqliteStore::in_tx`]).
    group: group::Group,
    /// The reads' own connection, opened at the first read: in WAL a reader neither waits
    /// for the writer nor stops it, and a read on the writer's connection would commit a
    /// group of writes left open for more members (every create reads the do-not-call
    /// list first, so groups ended after one or two members).
    reader: Mutex<Option<Connection>>,
    /// Folds the WAL back into the file off the writer's path. After `conn`, so it is
    /// dropped (and its connection closed) last.
    checkpointer: checkpoint::Checkpointer,
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
        let checkpointer = checkpoint::Checkpointer::start(path.to_path_buf());
        let conn = connect(path, CACHE_KIB, &checkpointer)?;
        Ok(Self {
            conn: Mutex::new(Some(conn)),
            path: path.to_path_buf(),
            cache_kib: CACHE_KIB,
            group: group::Group::default(),
            reader: Mutex::new(None),
            checkpointer,
        })
    }

    /// Like [`SqliteStore::open`], but a fault of the file or its disk (read-only, full,
    /// locked, cannot be opened) does not refuse the store: it is returned beside it, and
    /// every use tries to open the database again until the fault is gone. Other errors (a
    /// newer schema, no WAL) still refuse. `cache_kib`: the page cache ceiling (`None`: the
    /// default, 16 MiB).
    pub fn open_or_later(
        path: impl AsRef<Path>,
        cache_kib: Option<i64>,
    ) -> Result<(Self, Option<StoreError>), StoreError> {
        let path = path.as_ref();
        let cache_kib = cache_kib.unwrap_or(CACHE_KIB).max(1);
        let checkpointer = checkpoint::Checkpointer::start(path.to_path_buf());
        let (conn, fault) = match connect(path, cache_kib, &checkpointer) {
            Ok(c) => (Some(c), None),
            Err(e @ StoreError::Unavailable { .. }) => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let store = Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            cache_kib,
            group: group::Group::default(),
            reader: Mutex::new(None),
            checkpointer,
        };
        Ok((store, fault))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic while holding the lock rolled its transaction back when the guard's
        // transaction dropped, so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection, opening it first if a fault closed it; after a fault
    /// that leaves the connection unusable, closes it so the next use starts afresh. A
    /// group of shared writes left open for more members ([`group`]) is committed first.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        self.end_group(&mut guard);
        self.on_conn(&mut guard, f)
    }

    /// Runs `f` on the locked connection, as [`Self::with_conn`] says.
    fn on_conn<T>(
        &self,
        guard: &mut MutexGuard<'_, Option<Connection>>,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if guard.is_none() {
            **guard = Some(connect(&self.path, self.cache_kib, &self.checkpointer)?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Backend("no connection".into()));
        };
        let out = f(conn);
        if let Err(StoreError::Unavailable { fault, .. }) = &out {
            if fault.needs_reconnect() {
                **guard = None;
            }
        }
        out
    }

    /// Commits the group of shared writes left open, if any, and tells its members.
    fn end_group(&self, guard: &mut MutexGuard<'_, Option<Connection>>) {
        if self.group.open().is_none() {
            return;
        }
        let outcome = self.commit_group(guard);
        self.group.settle(outcome.as_ref().err(), false);
    }

    /// COMMIT of the open group; after a failed one, a ROLLBACK so the connection is out
    /// of the transaction whatever SQLite left (its answer is not needed: the members are
    /// told the commit's error either way).
    fn commit_group(
        &self,
        guard: &mut MutexGuard<'_, Option<Connection>>,
    ) -> Result<(), StoreError> {
        let doing = "committing a group of writes";
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Backend("no connection".into()));
        };
        let out = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(backend(doing));
        if out.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(StoreError::Unavailable { fault, .. }) = &out {
            if fault.needs_reconnect() {
                **guard = None;
            }
        }
        out
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: committed if it returns `Ok`, rolled
    /// back otherwise. Immediate, so the write lock is taken up front and a read-then-write
    /// never fails halfway on a snapshot another process moved on from.
    pub(crate) fn write<T>(
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

    /// Runs a shared write (`store::rules::writes`) in a transaction it may share with
    /// other shared writes arriving meanwhile ([`group`]), in a savepoint of its own; it
    /// returns once that transaction is committed (or rolled back).
    pub(crate) fn in_tx<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&mut SqliteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.group.coming();
        let mut guard = self.lock();
        self.group.arrived();
        let out = self.on_conn(&mut guard, |conn| {
            if self.group.open().is_none() {
                conn.prepare_cached("BEGIN IMMEDIATE")
                    .and_then(|mut s| s.execute([]))
                    .map_err(backend(doing))?;
                self.group.begun();
            }
            self.group.join();
            Ok(member(conn, doing, f))
        });
        // Not begun: nothing is open, nobody waits for this caller.
        let out = out?;
        // A member that panicked goes on unwinding once its group is settled, as any other
        // member: the members waiting on the transaction it joined are told its outcome.
        let mut panicked = None;
        let committed = match out {
            // The savepoint could not be released or rolled back: the transaction is in
            // an unknown state, so it goes, with every member's write.
            Err(Member::Broken(e, panic)) => return self.abandon_group(guard, e, panic),
            // A fault after which the connection is not to be trusted (I/O, read-only):
            // neither is the group's transaction on it.
            Err(Member::Refused(e)) if needs_reconnect(&e) => {
                return self.abandon_group(guard, e, None)
            }
            Err(Member::Refused(e)) => Err(e),
            Err(Member::Panicked(p)) => {
                panicked = Some(p);
                Err(StoreError::Backend(format!("{doing}: the write panicked")))
            }
            Ok(v) => Ok(v),
        };
        let settled = match self.group.next() {
            group::Next::Commit => {
                let outcome = self.commit_group(&mut guard);
                self.group.settle(outcome.as_ref().err(), true);
                outcome
            }
            group::Next::Wait(n) => {
                drop(guard);
                self.group.wait(n)
            }
        };
        if let Some(p) = panicked {
            std::panic::resume_unwind(p);
        }
        // A write refused by its own checks was rolled back to its savepoint: its error
        // stands whatever the commit did. A stored one stands only if committed.
        let value = committed?;
        settled.map(|()| value)
    }

    /// Rolls the open group's transaction back after its member (the caller) left it in
    /// doubt: every member is told `e`, and a connection that `e` leaves unusable is closed
    /// so the next use opens a fresh one, as [`Self::on_conn`] does after any other write.
    /// The member's panic, if that is how it ended, goes on from here.
    fn abandon_group<T>(
        &self,
        mut guard: MutexGuard<'_, Option<Connection>>,
        e: StoreError,
        panic: Option<Box<dyn std::any::Any + Send>>,
    ) -> Result<T, StoreError> {
        if let Some(conn) = guard.as_mut() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if needs_reconnect(&e) {
            *guard = None;
        }
        self.group.settle(Some(&e), true);
        drop(guard);
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        Err(e)
    }

    /// Runs a batch write with the page cache raised to [`BULK_CACHE_KIB`] (or the
    /// configured ceiling, if larger), and set back once it is committed or refused.
    pub(crate) fn bulk<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let set = |kib: i64| {
            self.with_conn(|c| {
                c.pragma_update(None, "cache_size", -kib)
                    .map_err(backend("sizing the page cache"))
            })
        };
        set(self.cache_kib.max(BULK_CACHE_KIB))?;
        let out = self.write(doing, f);
        // A batch stored is reported stored: a cache left large costs memory, not data.
        if let Err(e) = set(self.cache_kib) {
            tracing::warn!("the page cache was not set back after {doing}: {e}");
        }
        out
    }

    /// Runs the read `f` on the reads' connection (committed data only, as any read
    /// after a write returned sees it: writes return once committed).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        self.on_conn(&mut guard, |conn| f(conn))
    }
}

/// Whether `e` is a fault after which the connection is closed and opened afresh.
fn needs_reconnect(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable { fault, .. } if fault.needs_reconnect())
}

/// How a shared write ended inside a group's transaction, when not stored.
enum Member {
    /// Its own checks or statements refused it; rolled back to its savepoint.
    Refused(StoreError),
    /// Its savepoint could not be taken, released or rolled back (with the panic of `f`,
    /// when that is how it ended).
    Broken(StoreError, Option<Box<dyn std::any::Any + Send>>),
    /// `f` panicked; rolled back to its savepoint.
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Runs one member's write `f` in a savepoint of the group's transaction: released when
/// `f` stored it, rolled back to when `f` refused it or panicked, so the other members'
/// writes stay as they were. A panic is caught here, not left to unwind past the group:
/// the members waiting for this transaction are waiting for whoever holds the connection
/// to settle it, and an unwinding member would leave it open until the next write came.
fn member<T>(
    conn: &Connection,
    doing: &'static str,
    f: impl FnOnce(&mut SqliteTx<'_>) -> Result<T, StoreError>,
) -> Result<T, Member> {
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(backend(doing))
    };
    run("SAVEPOINT member").map_err(|e| Member::Broken(e, None))?;
    let undo = || run("ROLLBACK TO member").and_then(|()| run("RELEASE member"));
    // Caught so the group is settled before the panic goes on: the members before this one
    // wait for their commit, which this member would otherwise never make or hand on.
    // Unwind-safe in effect: the savepoint is rolled back, so the connection holds
    // nothing of `f`, and `f` and what it borrowed are not used again.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut SqliteTx(conn))));
    match out {
        Ok(Ok(v)) => run("RELEASE member")
            .map(|()| v)
            .map_err(|e| Member::Broken(e, None)),
        Ok(Err(e)) => {
            undo().map_err(|e| Member::Broken(e, None))?;
            Err(Member::Refused(e))
        }
        Err(panic) => match undo() {
            Ok(()) => Err(Member::Panicked(panic)),
            Err(e) => Err(Member::Broken(e, Some(panic))),
        },
    }
}

/// Opens the database at `path`, configures the connection, brings the schema up to date
/// and hands its checkpoints to `checkpointer`.
fn connect(
    path: &Path,
    cache_kib: i64,
    checkpointer: &checkpoint::Checkpointer,
) -> Result<Connection, StoreError> {
    let opened = Connection::open(path)
        .map_err(|e| match classify("opening the database", e) {
            StoreError::Backend(m) => StoreError::Backend(format!("{m} ({})", path.display())),
            other => other,
        })
        .and_then(|mut conn| {
            configure(&conn, cache_kib)?;
            migrate(&mut conn)?;
            checkpointer
                .watch(&mut conn)
                .map_err(backend("configuring the connection"))?;
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
    let known = schema::latest();
    match usize::try_from(found) {
        Ok(v) if v <= known => Ok(v),
        _ => Err(StoreError::Backend(format!(
            "the database has schema version {found}, newer than this build knows ({known}); \
             refusing to open it (upgrade mod_callback, or point it at another file)"
        ))),
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Refuse early, before taking the write lock a newer build may be holding.
    let mut applied = refuse_newer(user_version(conn)?)?;
    if applied == schema::latest() {
        return Ok(());
    }
    let err = backend("migrating the schema");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    // Another process may have migrated while we waited for the lock.
    applied = refuse_newer(user_version(&tx)?)?;
    for step in &schema::steps(Engine::Sqlite)[applied..] {
        tx.execute_batch(step).map_err(&err)?;
    }
    let latest = i64::try_from(schema::latest()).unwrap_or(i64::MAX);
    tx.pragma_update(None, "user_version", latest)
        .map_err(&err)?;
    tx.commit().map_err(&err)
}

// ---- errors ---------------------------------------------------------------------------------

/// Wraps a database error with what the store was doing.
pub(crate) fn backend(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| classify(doing, e)
}

/// A fault of the file or its disk becomes [`StoreError::Unavailable`] naming it; any
/// other error stays a backend error with the database's words.
pub(crate) fn classify(doing: &'static str, e: rusqlite::Error) -> StoreError {
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

// The doors written once over `rules::exec` (this backend's statements are in `exec`).
crate::store::rules::sessions::session_store!(SqliteStore);
crate::store::rules::agents::agent_store!(SqliteStore);
crate::store::rules::queue::job_queue!(SqliteStore);

#[cfg(test)]
mod tests;
