//! WAL checkpoints off the writer's path.
//!
//! SQLite's default moves the WAL back into the database file from inside the commit that
//! pushed the WAL past 1000 pages: that commit copies every page and fsyncs the file. In the
//! 1M-row store bench that was 40% of a claim's time, paid by whichever claim or create
//! happened to cross the line (every second or third claim of 100 took 40-60 ms instead of
//! 8). Here the writer's commit only nudges a thread of the store's own, which checkpoints
//! on its own connection (`PASSIVE`: it never blocks a writer or a reader), while the
//! dispatcher and the API go on.
//!
//! Durability does not change: a commit is durable once it is in the WAL (see
//! `SqliteStore::open`), and a checkpoint only copies committed pages. Should the thread
//! fall behind (the disk is slower than the writes) or be gone, the writer checkpoints
//! inline once the WAL is [`BACKSTOP_PAGES`] long, so the WAL stays bounded as before.

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Pages written to the WAL since the last checkpoint from which a commit nudges the
/// checkpointer: SQLite's own default, so checkpoints (each an fsync of the database file)
/// are as rare as they were.
pub(crate) const NUDGE_PAGES: i32 = 1000;
/// WAL length (pages) at which the writer stops waiting for the thread and checkpoints
/// itself (40 MiB of 4 KiB pages). Under steady writes it is also what restarts the WAL:
/// SQLite starts it over only when a writer finds every page of it folded back, which a
/// checkpoint running beside the writes rarely leaves.
pub(crate) const BACKSTOP_PAGES: i32 = 10_000;

/// The store's checkpoint thread: started with the store, stopped and joined with it, so
/// the last connection to close (its own) folds the WAL back and removes it.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Checkpoints run (read by the tests, to see the thread at work).
    #[cfg_attr(not(test), allow(dead_code))]
    runs: Arc<AtomicU64>,
    /// The WAL's length (pages) when the thread last checkpointed it: a commit nudges
    /// only once [`NUDGE_PAGES`] more were written. Under steady writes the WAL is not
    /// restarted behind a checkpoint that ran beside them, so its length alone would
    /// nudge on every commit.
    folded: Arc<AtomicI32>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`; its connection is opened at the first
    /// nudge (and again after an error), so a database that cannot be opened yet costs
    /// nothing until it can.
    pub(crate) fn start(path: PathBuf) -> Self {
        let (nudge, nudged) = sync_channel(1);
        let runs = Arc::new(AtomicU64::new(0));
        let folded = Arc::new(AtomicI32::new(0));
        let (counted, marked) = (Arc::clone(&runs), Arc::clone(&folded));
        let thread = std::thread::Builder::new()
            .name("callback-sqlite-checkpoint".into())
            .spawn(move || run(&path, &nudged, &counted, &marked))
            .map_err(|e| tracing::warn!("store: no checkpoint thread ({e}); commits checkpoint"))
            .ok();
        Self {
            nudge: thread.as_ref().map(|_| nudge),
            thread,
            runs,
            folded,
        }
    }

    /// Installs the commit hook on a writer connection: past [`NUDGE_PAGES`] it nudges the
    /// thread, past [`BACKSTOP_PAGES`] (or without a thread) it checkpoints inline. Replaces
    /// SQLite's automatic checkpoint (one hook per connection).
    pub(crate) fn watch(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        let nudge = self.nudge.clone();
        let folded = Arc::clone(&self.folded);
        conn.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            // A WAL shorter than at the last checkpoint was restarted: all of it is new.
            let done = folded.load(Ordering::Relaxed);
            let fresh = if pages >= done { pages - done } else { pages };
            if fresh < NUDGE_PAGES {
                return Ok(());
            }
            let nudged = pages < BACKSTOP_PAGES
                && nudge.as_ref().is_some_and(|n| {
                    !matches!(n.try_send(()), Err(TrySendError::Disconnected(())))
                });
            if !nudged {
                // As SQLite's own automatic checkpoint: its failure (another checkpoint
                // running, a reader in the way) is not the commit's, which already happened.
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            }
            Ok(())
        }))
    }

    /// Checkpoints the thread has run that moved pages (for tests).
    #[cfg(test)]
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's wait; joining makes its connection close
        // before the store's drop returns.
        self.nudge = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(path: &std::path::Path, nudged: &Receiver<()>, runs: &AtomicU64, folded: &AtomicI32) {
    let mut conn: Option<Connection> = None;
    while nudged.recv().is_ok() {
        if conn.is_none() {
            conn = open(path)
                .map_err(|e| tracing::debug!("store: checkpoint connection: {e}"))
                .ok();
        }
        let Some(c) = &conn else { continue };
        match c.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok((length, moved)) if moved > 0 => {
                folded.store(length, Ordering::Relaxed);
                runs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("store: checkpoint: {e}");
                conn = None;
            }
        }
    }
}

/// The thread's own connection: read-write (a checkpoint writes the database file), never
/// creating the file (the store made it) and never migrating.
fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    // A small cache: a checkpoint streams pages from the WAL to the file once.
    conn.pragma_update(None, "cache_size", -1024)?;
    Ok(conn)
}
