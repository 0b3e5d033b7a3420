//! What can go wrong in the store, in words for the caller and for an admin, and how a
//! background loop reports an outage once.

use crate::model::{CallbackId, State, TransitionError};
use chrono::{DateTime, Utc};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("callback {0} not found")]
    NotFound(CallbackId),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("callback {id} is being dispatched by {owner} (lease until {until}); try again later")]
    Leased {
        id: CallbackId,
        owner: String,
        until: DateTime<Utc>,
    },
    #[error("callback {id} is no longer held by {owner}")]
    LeaseLost { id: CallbackId, owner: String },
    #[error("callback {id} is '{actual}', not '{expected}'")]
    StateChanged {
        id: CallbackId,
        expected: State,
        actual: State,
    },
    /// The agent already has a callback offered or in progress, on this node or another.
    #[error("agent {agent} already has a callback offered or in progress (on some node)")]
    AgentBusy { agent: String },
    #[error("the slot starting {start} is full ({capacity} callbacks)")]
    SlotFull { start: DateTime<Utc>, capacity: u32 },
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// An idempotency key seen before came with another request: a new request needs a
    /// new key (the first request's callback is not shown).
    #[error("this Idempotency-Key was first used with a different request body; send a new key for a new request")]
    IdempotencyMismatch,
    /// The database file or its disk failed (full, read-only, locked, I/O): nothing of
    /// the operation was stored; the same call may succeed once the fault is gone.
    #[error("{fault} ({doing}: {detail})")]
    Unavailable {
        fault: Fault,
        doing: &'static str,
        detail: String,
    },
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// The fault of the file or disk behind this error, if that is what it is.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            StoreError::Unavailable { fault, .. } => Some(*fault),
            _ => None,
        }
    }

    /// Whether the store (not the request) is at fault: an admin must act, the caller
    /// should try again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Backend(_)
        )
    }
}

/// A background loop's store outage (dispatcher, webhooks): said once when it starts or
/// its fault changes, and once when the loop works again, not on every retry.
#[derive(Debug, Default)]
pub struct Outage {
    current: Option<String>,
}

impl Outage {
    /// A failed turn of `who`'s loop. Returns whether it is a fault of the database or its
    /// disk (the loop should back off rather than spin).
    pub fn failed(&mut self, who: &str, e: &dyn std::fmt::Display, fault: Option<Fault>) -> bool {
        let key = fault.map_or_else(|| e.to_string(), |f| f.code().to_string());
        if self.current.as_deref() != Some(key.as_str()) {
            match fault {
                Some(_) => tracing::error!("{who}: {e}; retrying until it is fixed"),
                None => tracing::error!("{who}: {e}"),
            }
            self.current = Some(key);
        }
        fault.is_some()
    }

    /// A turn that worked.
    pub fn ok(&mut self, who: &str) {
        if self.current.take().is_some() {
            tracing::info!("{who}: working again");
        }
    }
}

/// What is wrong with the database or its disk, in words an admin acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SQLITE_FULL: the disk (or the file system holding the database) is full.
    Full,
    /// SQLITE_READONLY, or the file system is mounted read-only.
    ReadOnly,
    /// SQLITE_BUSY / SQLITE_LOCKED: another connection held the lock past the busy timeout.
    Busy,
    /// SQLITE_IOERR: the disk failed a read or write.
    Io,
    /// SQLITE_CANTOPEN: the file (or its -wal/-shm) cannot be opened or created.
    CannotOpen,
    /// SQLITE_CORRUPT / SQLITE_NOTADB.
    Corrupt,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Full => "the database is full (no space left on its disk)",
            Fault::ReadOnly => "the database is read-only",
            Fault::Busy => "the database is busy (locked by another connection)",
            Fault::Io => "disk I/O error on the database",
            Fault::CannotOpen => "the database file cannot be opened",
            Fault::Corrupt => "the database file is corrupt",
        }
    }

    /// A short kebab-case name for APIs and scripts.
    pub fn code(self) -> &'static str {
        match self {
            Fault::Full => "database-full",
            Fault::ReadOnly => "database-read-only",
            Fault::Busy => "database-busy",
            Fault::Io => "database-io-error",
            Fault::CannotOpen => "database-cannot-open",
            Fault::Corrupt => "database-corrupt",
        }
    }

    /// Faults after which the connection is reopened before the next use: a file opened
    /// read-only (the disk was read-only when it was opened) stays read-only, and a
    /// connection that saw I/O errors may hold stale locks or a stale -shm mapping.
    pub fn needs_reconnect(self) -> bool {
        matches!(self, Fault::ReadOnly | Fault::Io | Fault::CannotOpen)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
