//! Before and after a leg, with the store: whether a callback may be offered or dialled now
//! ([`hold`]), and the retry policy's decision after a leg ([`apply`]), each one transition.
//! The rules themselves are [`super::plan::hold`] and [`super::plan::after_leg`]; these
//! read what they need and write what they decide.

use super::plan;
use crate::model::{AttemptResult, CallbackRequest, Leg};
use crate::service::{CallbackService, Error};
use crate::store::Transition;
use chrono::{DateTime, Utc};

/// Applies the policy after `leg` ended with `result`, from the callback's current state,
/// as the lease holder `owner`. Returns the callback as stored.
pub fn apply(
    svc: &CallbackService,
    r: &CallbackRequest,
    leg: Leg,
    result: AttemptResult,
    owner: &str,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CallbackRequest, Error> {
    let cfg = svc.config();
    let queue = cfg
        .queue(Some(&r.queue))
        .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
    let mut t = plan::after_leg(r, queue, &cfg.legal, leg, result, now);
    t.expect = Some(r.state);
    t.owner = Some(owner.to_string());
    t.actor = actor.map(str::to_string);
    let stored = svc.store().transition(r.id, &t, now)?;
    svc.notify(&t.action, &stored);
    Ok(stored)
}

/// Why callback `r` may not be offered or dialled at `now` ([`plan::hold`]), with its
/// number looked up on the do-not-call list. `None`: go ahead.
pub fn hold(
    svc: &CallbackService,
    r: &CallbackRequest,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, Error> {
    let cfg = svc.config();
    let queue = cfg
        .queue(Some(&r.queue))
        .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
    // The list is read only when the answer could matter (as before: an expired callback
    // costs no lookup).
    let do_not_call = !plan::past_its_time(r, now) && svc.store().dnc_contains(&r.number)?;
    Ok(plan::hold(r, queue, &cfg.legal, do_not_call, now))
}
