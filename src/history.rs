//! The recent history of callbacks, as supervisors' figures and reports read it: callbacks
//! changed since an instant (and every one still waiting, whenever it changed), each with its
//! attempts, plus the promise each one was made.
//!
//! Read through the store's existing calls (`list` by change time and by state, then
//! `attempts` per callback): a contact centre's week is some thousands of callbacks, which
//! this reads in tens of milliseconds (`cargo bench --bench insight`); the cost grows with
//! the callbacks read, so a store-side query can replace it without changing its users.

use crate::model::{Attempt, CallbackRequest, Leg, State};
use crate::store::{ListFilter, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// One callback and its legs, oldest leg first.
#[derive(Debug, Clone)]
pub struct Entry {
    pub request: CallbackRequest,
    pub attempts: Vec<Attempt>,
}

/// Reads the callbacks changed at or after `since`, with their legs, and, when
/// `waiting_due_before` is given, every waiting callback due before it (or not timed yet)
/// whenever it last changed.
pub fn read(
    store: &dyn Store,
    since: DateTime<Utc>,
    waiting_due_before: Option<DateTime<Utc>>,
) -> Result<Vec<Entry>, StoreError> {
    let mut by_id: BTreeMap<i64, CallbackRequest> = BTreeMap::new();
    for r in store.list(&ListFilter {
        updated_since: Some(since),
        ..ListFilter::default()
    })? {
        by_id.insert(r.id, r);
    }
    // A callback booked last week for tomorrow has not changed since: read the waiting
    // ones by state (each through the state index), and keep those due before the bound.
    if let Some(bound) = waiting_due_before {
        for state in State::ALL.iter().filter(|s| s.is_pending()) {
            for r in store.list(&ListFilter {
                state: Some(*state),
                ..ListFilter::default()
            })? {
                if r.due_at.is_none_or(|d| d < bound) {
                    by_id.entry(r.id).or_insert(r);
                }
            }
        }
    }
    by_id
        .into_values()
        .map(|request| {
            let attempts = store.attempts(request.id)?;
            Ok(Entry { request, attempts })
        })
        .collect()
}

impl Entry {
    /// The time the customer was promised: the date and time they chose (a scheduled
    /// callback), else the time it first fell due (immediate and delayed callbacks are
    /// promised "as soon as it is due"), else its current due time (not due yet).
    pub fn promised_at(&self) -> Option<DateTime<Utc>> {
        let r = &self.request;
        r.desired_at.or(r.counts.first_claimed_at).or(r.due_at)
    }

    /// The first leg to the customer, if any was dialled.
    pub fn first_dial(&self) -> Option<&Attempt> {
        self.attempts
            .iter()
            .filter(|a| a.leg == Leg::Customer)
            .min_by_key(|a| (a.started_at, a.id))
    }

    /// The first leg to an agent (the agent rung for it), if any.
    pub fn first_ring(&self) -> Option<&Attempt> {
        self.attempts
            .iter()
            .filter(|a| a.leg == Leg::Agent)
            .min_by_key(|a| (a.started_at, a.id))
    }

    /// The last customer leg with a result: how the callback went, as a report filters it.
    pub fn outcome(&self) -> Option<crate::model::AttemptResult> {
        self.attempts
            .iter()
            .filter(|a| a.leg == Leg::Customer && a.result.is_some())
            .max_by_key(|a| (a.started_at, a.id))
            .and_then(|a| a.result)
    }

    /// Whether the promise was kept: `Some(true)` when the first customer dial came no later
    /// than `grace` after the promised time, `Some(false)` when it came later or the
    /// callback ended undialled (failed, expired) or is still undialled past the grace,
    /// `None` when it cannot be told yet (not due yet, within the grace) or the customer
    /// withdrew it before any dial (cancelled).
    pub fn promise_kept(&self, grace: Duration, now: DateTime<Utc>) -> Option<bool> {
        let promised = self.promised_at()?;
        let deadline = promised + grace;
        match self.first_dial() {
            Some(a) => Some(a.started_at <= deadline),
            // Withdrawn, or settled without a call (done): nothing was owed any more.
            None if matches!(self.request.state, State::Cancelled | State::Done) => None,
            None if now > deadline => Some(false),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttemptResult, CallbackType};
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    fn entry(desired: Option<DateTime<Utc>>, state: State, dials: &[u32]) -> Entry {
        let request = CallbackRequest {
            id: 1,
            kind: CallbackType::Scheduled,
            time_zone: "UTC".into(),
            desired_at: desired,
            state,
            due_at: Some(at(10, 0)),
            ..CallbackRequest::example(at(8, 0))
        };
        let attempts = dials
            .iter()
            .enumerate()
            .map(|(i, m)| Attempt {
                id: i as i64 + 1,
                callback_id: 1,
                leg: Leg::Customer,
                attempt_no: i as u32 + 1,
                agent: Some("1001".into()),
                call_uuid: None,
                started_at: at(10, *m),
                answered_at: None,
                ended_at: Some(at(10, *m + 1)),
                hangup_cause: Some("NO_ANSWER".into()),
                result: Some(AttemptResult::NoAnswer),
                disposition: None,
                note: None,
            })
            .collect();
        Entry { request, attempts }
    }

    #[test]
    fn a_promise_is_kept_when_the_first_dial_comes_within_the_grace() {
        // Promised 10:00 with 15 minutes' grace: a first dial at 10:14 keeps it, at 10:16
        // breaks it (a later on-time retry does not mend it); none yet at 10:10 is
        // undecided, none at 10:30 is broken, and a cancelled or done one is not counted.
        let grace = Duration::minutes(15);
        let kept = entry(Some(at(10, 0)), State::Completed, &[14, 40]);
        assert_eq!(kept.promise_kept(grace, at(12, 0)), Some(true));
        let late = entry(Some(at(10, 0)), State::Completed, &[16]);
        assert_eq!(late.promise_kept(grace, at(12, 0)), Some(false));
        let waiting = entry(Some(at(10, 0)), State::Due, &[]);
        assert_eq!(waiting.promise_kept(grace, at(10, 10)), None);
        assert_eq!(waiting.promise_kept(grace, at(10, 30)), Some(false));
        let withdrawn = entry(Some(at(10, 0)), State::Cancelled, &[]);
        assert_eq!(withdrawn.promise_kept(grace, at(12, 0)), None);
        let settled = entry(Some(at(10, 0)), State::Done, &[]);
        assert_eq!(settled.promise_kept(grace, at(12, 0)), None);
        // Without a chosen time, the promise is the current due time until first claimed.
        let asap = entry(None, State::Completed, &[5]);
        assert_eq!(asap.promised_at(), Some(at(10, 0)));
        assert_eq!(asap.outcome(), Some(AttemptResult::NoAnswer));
    }
}
