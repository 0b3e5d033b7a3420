//! Before and after a leg: whether a callback may be offered or dialled now ([`hold`]),
//! and the retry policy's decision after a leg ([`apply`]), each one transition.

use crate::model::{AttemptResult, CallbackRequest, Leg, State};
use crate::retry::Next;
use crate::service::{CallbackService, Error};
use crate::store::Transition;
use chrono::{DateTime, Duration, Utc};

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

/// The longest a callback waits for its queue to open when no opening is found within the
/// horizon (it is looked at again then).
const NO_OPENING_WAIT: Duration = Duration::minutes(5);

/// Why callback `r` may not be offered or dialled at `now`, as the transition that moves it
/// on (the caller adds `expect` and `owner`): its time to live or the customer's window ran
/// out, the number is on the do-not-call list, the window has not begun, or the queue is
/// closed. `None`: go ahead. The dispatcher asks before ringing an agent and the preview
/// again just before dialling the customer.
pub fn hold(
    svc: &CallbackService,
    r: &CallbackRequest,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, Error> {
    let cfg = svc.config();
    let queue = cfg
        .queue(Some(&r.queue))
        .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
    let end = |to: State, action: &str, why: String| {
        let mut t = Transition::new(to, action);
        t.detail = Some(why);
        Some(t)
    };
    if r.expires_at.is_some_and(|e| e <= now) {
        return Ok(end(
            State::Expired,
            "expire",
            "its time to live ran out before anyone was reached".into(),
        ));
    }
    if r.window.until.is_some_and(|u| u <= now) {
        return Ok(end(
            State::Expired,
            "expire",
            "the customer's availability window has passed".into(),
        ));
    }
    if svc.store().dnc_contains(&r.number)? {
        return Ok(end(
            State::Failed,
            "do-not-call",
            format!("{} is on the do-not-call list", r.number),
        ));
    }
    let not_before = r.window.from.filter(|f| *f > now);
    let open = queue.rules.hours.is_open(now);
    if not_before.is_none() && open {
        return Ok(None);
    }
    let from = not_before.unwrap_or(now);
    let at = queue
        .rules
        .hours
        .next_open(from, from + queue.rules.horizon)
        .unwrap_or(from + NO_OPENING_WAIT);
    let mut t = Transition::new(State::Rescheduled, "wait");
    t.due_at = Some(at.max(now + Duration::seconds(1)));
    t.detail = Some(if open {
        "the customer's availability window has not begun".into()
    } else {
        format!("queue {} is closed now", r.queue)
    });
    Ok(Some(t))
}
