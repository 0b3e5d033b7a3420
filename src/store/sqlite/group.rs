//! Group commit for the shared writes ([`super::SqliteStore::in_tx`]): writes that arrive
//! while another holds the connection share its transaction, each in its own savepoint, and
//! the last of them commits for all.
//!
//! Why: a create's commit appends the pages it touched to the WAL (the row, its trace row,
//! the claim and trace indexes: most of its cost in the HTTP bench's profile), and
//! concurrent creates touch the same last pages of those tables and indexes. One commit for
//! several writes appends each such page once.
//!
//! Durability is unchanged: no member returns before the commit that holds its write (or
//! the rollback that dropped it), and a member whose own write failed is rolled back to its
//! savepoint, leaving the others' writes as they were. A commit that fails fails every
//! member of its group, which then stored nothing; so does a member's fault after which
//! the connection is closed (I/O, read-only): the group is rolled back with it.
//! A member whose write panics is rolled back to its savepoint the same way and commits
//! (or hands on) the group before its panic goes on, so the members before it are answered.
//!
//! Members wait for their commit without a time bound, on purpose. Until the COMMIT
//! returns its outcome is unknown, so an answer given earlier could call a write failed
//! that is then stored (a client retries, a caller is told sorry and is called back
//! anyway), or stored before it is. And a commit does end: SQLite's busy timeout bounds
//! its lock waits, a disk fault ends it with an error every member gets. What could leave a
//! group open with nobody to commit it was a member that panicked inside its write and
//! unwound past the group; it now settles the group like a refused member first
//! (`super::member`), and its panic goes on after.
//!
//! How a group forms, with no thread of its own: a writer counts itself in [`Group::waiting`]
//! before it takes the connection's lock. The member holding the lock leaves the
//! transaction open when someone is counted (they will take the lock next) and waits for
//! the commit; else it commits. Whoever takes the lock next finds the transaction open: a
//! shared write joins it, anything else (a claim, a read, a batch) commits it first.

use crate::store::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// The most writes one commit holds, so a steady stream of writers still commits often.
const MAX_MEMBERS: usize = 64;

/// The group commit's bookkeeping, one per store.
#[derive(Default)]
pub(super) struct Group {
    /// Shared writes between counting themselves and holding the connection's lock.
    waiting: AtomicUsize,
    state: Mutex<State>,
    settled: Condvar,
}

#[derive(Default)]
struct State {
    /// The transaction left open for the next member: its number and members so far.
    /// Changed only by the holder of the connection's lock.
    open: Option<(u64, usize)>,
    /// The last transaction number handed out.
    last: u64,
    /// Every transaction up to this number is committed or rolled back.
    settled: u64,
    /// Transactions whose commit failed: the error, and how many members still have to
    /// read it.
    failed: Vec<(u64, StoreError, usize)>,
}

/// What a member does after its write.
pub(super) enum Next {
    /// Nobody is waiting (or the group is full): commit now.
    Commit,
    /// Others are about to join: leave the transaction open and wait for transaction
    /// number `.0` to be settled.
    Wait(u64),
}

impl Group {
    /// Counts a shared write on its way to the connection's lock; [`Group::arrived`] once
    /// it holds it.
    pub(super) fn coming(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn arrived(&self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many transactions shared writes have begun.
    #[cfg(test)]
    pub(super) fn begun_so_far(&self) -> u64 {
        self.state().last
    }

    /// How many shared writes are on their way to the connection's lock.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The open transaction's number, if one was left open (connection lock held).
    pub(super) fn open(&self) -> Option<u64> {
        self.state().open.map(|(n, _)| n)
    }

    /// Records a transaction just begun (connection lock held).
    pub(super) fn begun(&self) -> u64 {
        let mut s = self.state();
        s.last += 1;
        s.open = Some((s.last, 0));
        s.last
    }

    /// Counts a member in the open transaction (connection lock held).
    pub(super) fn join(&self) {
        let mut s = self.state();
        if let Some((_, members)) = s.open.as_mut() {
            *members += 1;
        }
    }

    /// After a member's write: commit now, or leave the transaction open for those about
    /// to join (connection lock held).
    pub(super) fn next(&self) -> Next {
        let s = self.state();
        match s.open {
            Some((n, members))
                if members < MAX_MEMBERS && self.waiting.load(Ordering::SeqCst) > 0 =>
            {
                Next::Wait(n)
            }
            _ => Next::Commit,
        }
    }

    /// The open transaction was committed (`None`) or rolled back with an error
    /// (connection lock held): its waiting members are told. `by_member`: the caller is
    /// one of them (and has the outcome itself).
    pub(super) fn settle(&self, failure: Option<&StoreError>, by_member: bool) {
        let mut s = self.state();
        let Some((n, members)) = s.open.take() else {
            return;
        };
        s.settled = n;
        if let Some(e) = failure {
            let waiting = members.saturating_sub(usize::from(by_member));
            // Every waiting member reads its group's error once (one that panics settles
            // its group first, `super::member`); old entries are forgotten all the same, a
            // bound should a member ever not come back for its own.
            s.failed.retain(|(m, _, _)| m + 1024 > n);
            if waiting > 0 {
                s.failed.push((n, copy(e), waiting));
            }
        }
        drop(s);
        self.settled.notify_all();
    }

    /// Waits until transaction `n` is settled; its commit's outcome.
    pub(super) fn wait(&self, n: u64) -> Result<(), StoreError> {
        let mut s = self
            .settled
            .wait_while(self.state(), |s| s.settled < n)
            .unwrap_or_else(PoisonError::into_inner);
        let Some(i) = s.failed.iter().position(|(m, _, _)| *m == n) else {
            return Ok(());
        };
        let e = copy(&s.failed[i].1);
        s.failed[i].2 -= 1;
        if s.failed[i].2 == 0 {
            s.failed.remove(i);
        }
        Err(e)
    }
}

/// A commit's error for each member of its group (commits fail only with these kinds).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable {
            fault,
            doing,
            detail,
        } => StoreError::Unavailable {
            fault: *fault,
            doing,
            detail: detail.clone(),
        },
        other => StoreError::Backend(other.to_string()),
    }
}
