//! The lifecycle door ([`crate::store::Lifecycle`]), written once: its shared writes
//! (`writes::lifecycle_writes`), the reads and the lease renewal over a backend's
//! statements (below), and the checks before the three writes each backend does its own
//! way ([`lifecycle_door`]): storing a batch (`store_batch`), claiming due callbacks
//! (`claim`: SQLite's reads through its partial indexes, PostgreSQL's `SKIP LOCKED`) and a
//! turn's offers (`offer`: savepoints, and PostgreSQL's lock order).

use super::exec::{params, Backend, Query};
use super::rows;
use super::tx::{count_slot, CALLBACK_BY_ID};
use super::{ceil_secs, check_claim, lease_until, secs};
use crate::model::{CallbackId, CallbackRequest};
use crate::store::StoreError;
use chrono::{DateTime, Duration, Utc};

/// What a claim of due callbacks looks for, in epoch seconds: checked, and `None` when
/// there is nothing to claim (`limit` 0).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimBounds {
    /// The claim's instant: its events and the new lease are stamped at it.
    pub now_s: i64,
    /// Due times and lease expiries up to this one are taken.
    pub horizon_s: i64,
    /// The new lease's expiry.
    pub until: i64,
    pub limit: i64,
}

impl ClaimBounds {
    /// `(now_s, horizon_s, until, limit)`.
    pub(crate) fn parts(self) -> (i64, i64, i64, i64) {
        (self.now_s, self.horizon_s, self.until, self.limit)
    }
}

/// See [`ClaimBounds`].
pub(crate) fn claim_bounds(
    owner: &str,
    now: DateTime<Utc>,
    ahead: Duration,
    lease: Duration,
    limit: usize,
) -> Result<Option<ClaimBounds>, StoreError> {
    if !check_claim(owner, ahead, limit)? {
        return Ok(None);
    }
    Ok(Some(ClaimBounds {
        now_s: secs(now),
        horizon_s: secs(now + ahead),
        until: lease_until(now, lease)?,
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
    }))
}

/// [`crate::store::Lifecycle::get`].
pub(crate) fn get(b: &impl Backend, id: CallbackId) -> Result<CallbackRequest, StoreError> {
    b.reading(|x| {
        x.row("reading a callback", CALLBACK_BY_ID, &params![id], |r| {
            rows::callback(r)
        })?
        .ok_or(StoreError::NotFound(id))
    })
}

/// [`crate::store::Lifecycle::renew_lease`]: refused unless `owner` holds a live lease.
pub(crate) fn renew_lease(
    b: &impl Backend,
    id: CallbackId,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<(), StoreError> {
    let now_s = secs(now);
    let until = lease_until(now, lease)?;
    let doing = "renewing a lease";
    b.writing(doing, |x| {
        let sql = &x.dialect().renew_lease;
        if x.execute(doing, sql, &params![id, owner, until, now_s])? == 1 {
            return Ok(());
        }
        super::exists(x, id)?;
        Err(StoreError::LeaseLost {
            id,
            owner: owner.to_string(),
        })
    })
}

/// [`crate::store::Lifecycle::next_wakeup`].
pub(crate) fn next_wakeup(b: &impl Backend) -> Result<Option<DateTime<Utc>>, StoreError> {
    let (due, lease) = b.reading(|x| {
        let sql = &x.dialect().next_wakeup;
        x.one("finding the next wake-up", sql, &[], |r| {
            Ok((r.int(0, "due_at")?, r.int(1, "lease_expires")?))
        })
    })?;
    super::next_wakeup(due, lease)
}

/// [`crate::store::Lifecycle::count_due_between`].
pub(crate) fn count_due_between(
    b: &impl Backend,
    queue: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<u32, StoreError> {
    b.reading(|x| count_slot(x, queue, ceil_secs(start), ceil_secs(end)))
}

/// The [`crate::store::Lifecycle`] of a backend: the functions above, the shared writes,
/// and the checks before the backend's own `store_batch`, `claim` and `offer`.
macro_rules! lifecycle_door {
    ($store:ty) => {
        impl $crate::store::Lifecycle for $store {
            $crate::store::rules::writes::lifecycle_writes!();

            fn create_batch(
                &self,
                drafts: &[$crate::model::Draft],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::model::CallbackId>, $crate::store::StoreError> {
                drafts.iter().try_for_each($crate::store::rules::validate)?;
                self.store_batch(drafts, $crate::store::rules::secs(now))
            }

            fn get(
                &self,
                id: $crate::model::CallbackId,
            ) -> Result<$crate::model::CallbackRequest, $crate::store::StoreError> {
                $crate::store::rules::lifecycle::get(self, id)
            }

            fn claim_due_ahead(
                &self,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                ahead: chrono::Duration,
                lease: chrono::Duration,
                limit: usize,
            ) -> Result<Vec<$crate::model::CallbackRequest>, $crate::store::StoreError> {
                match $crate::store::rules::lifecycle::claim_bounds(
                    owner, now, ahead, lease, limit,
                )? {
                    Some(bounds) => self.claim(owner, bounds),
                    None => Ok(Vec::new()),
                }
            }

            fn renew_lease(
                &self,
                id: $crate::model::CallbackId,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
            ) -> Result<(), $crate::store::StoreError> {
                $crate::store::rules::lifecycle::renew_lease(self, id, owner, now, lease)
            }

            fn next_wakeup(
                &self,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::store::StoreError> {
                $crate::store::rules::lifecycle::next_wakeup(self)
            }

            fn count_due_between(
                &self,
                queue: &str,
                start: chrono::DateTime<chrono::Utc>,
                end: chrono::DateTime<chrono::Utc>,
            ) -> Result<u32, $crate::store::StoreError> {
                $crate::store::rules::lifecycle::count_due_between(self, queue, start, end)
            }

            fn start_offers(
                &self,
                offers: &[(
                    $crate::model::CallbackId,
                    $crate::store::Transition,
                    $crate::store::NewAttempt,
                )],
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::Offered>, $crate::store::StoreError> {
                for (_, t, _) in offers {
                    $crate::store::rules::validate_transition(t)?;
                }
                self.offer(offers, owner, $crate::store::rules::secs(now))
            }
        }
    };
}
pub(crate) use lifecycle_door;
