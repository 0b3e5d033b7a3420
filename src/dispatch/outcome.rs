//! After a leg: the retry policy's decision, written as one transition.

use crate::model::{AttemptResult, CallbackRequest, Leg, State};
use crate::retry::Next;
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
    let queue = svc
        .config()
        .queue(Some(&r.queue))
        .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
    let failed_over = svc
        .store()
        .events(r.id)?
        .iter()
        .any(|e| e.action == "failover");
    let next = queue.retry.next(
        leg,
        result,
        r.customer_attempts,
        r.expires_at,
        failed_over,
        now,
    );
    let (mut t, action) = match next {
        Next::Done => (Transition::new(State::Completed, "complete"), "complete"),
        Next::Reoffer { at } => {
            let mut t = Transition::new(State::Rescheduled, "reoffer");
            t.due_at = Some(at);
            t.detail = Some(format!("the agent leg ended {result}; offered again"));
            (t, "reoffer")
        }
        Next::Retry { at } => {
            let mut t = Transition::new(State::Rescheduled, "retry");
            t.due_at = Some(at);
            t.detail = Some(format!(
                "customer attempt {} {result}; next at {}",
                r.customer_attempts,
                at.to_rfc3339()
            ));
            (t, "retry")
        }
        Next::Failover { queue, at } => {
            let mut t = Transition::new(State::Rescheduled, "failover");
            t.detail = Some(format!(
                "{} customer attempts {result}; moved to queue {queue}",
                r.customer_attempts
            ));
            t.due_at = Some(at);
            t.queue = Some(queue);
            t.reset_attempts = true;
            (t, "failover")
        }
        Next::Fail { reason } => {
            let mut t = Transition::new(State::Failed, "fail");
            t.detail = Some(reason);
            (t, "fail")
        }
        Next::Expire => {
            let mut t = Transition::new(State::Expired, "expire");
            t.detail = Some("its time to live ran out before anyone was reached".into());
            (t, "expire")
        }
    };
    t.expect = Some(r.state);
    t.owner = Some(owner.to_string());
    t.actor = actor.map(str::to_string);
    let stored = svc.store().transition(r.id, &t, now)?;
    svc.notify(action, &stored);
    Ok(stored)
}
