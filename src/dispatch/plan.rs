//! The dispatcher's decisions, without I/O (sans-IO, as ezk's SIP stack does it): what a
//! turn knows goes in as a [`Snapshot`] (the callbacks it claimed, what the store said of
//! them, the configuration, `now`), the agents' [`Pool`] gives the picks, and out come the
//! [`Action`]s to carry out and the instant to look again. The loop
//! ([`super::scheduler`]) reads the store, asks [`turn`], and only executes the answer.
//!
//! The rules a leg's end and the preview need are here too: [`hold`] (may a callback be
//! offered or dialled now) and [`after_leg`] (the retry policy's next step). Every branch
//! is unit-tested below with a fixed `now` instead of a clock.

use super::agents::Pool;
use crate::config::AgentConfig;
use crate::config::{AfterMessage, Config, QueueConfig};
use crate::model::{AttemptResult, CallbackId, CallbackRequest, Leg, State};
use crate::retry::Next;
use crate::schedule::{next_open_in_all, BusinessHours, LegalHours};
use crate::store::Transition;
use chrono::{DateTime, Duration, Utc};

/// How early the loop wakes and claims before a due instant, so the database work is done
/// when the instant comes and the agent is rung at it.
pub const LOOKAHEAD: Duration = Duration::milliseconds(25);

/// The longest a callback waits for a ready agent before it is looked at again.
pub const MAX_WAIT: Duration = Duration::minutes(5);

/// The longest the loop sleeps with nothing to wait for. It is not how due work is found
/// (every change on this node nudges the loop, the PostgreSQL listener nudges it for the
/// other nodes' changes, and the host's clock is watched, see
/// [`super::Dispatcher::check_clock`]): it bounds what a lost nudge costs (a notification
/// missed while the listener reconnects, another program writing the database).
pub const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest a callback waits for its queue to open when no opening is found within the
/// horizon (it is looked at again then).
const NO_OPENING_WAIT: Duration = Duration::minutes(5);

/// A callback this turn claimed, with what the planner cannot read itself.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub request: CallbackRequest,
    /// This node still runs a dispatch of it (its lease lapsed under a slow turn).
    pub running_here: bool,
    /// Its number is on the do-not-call list (read for due callbacks of a known queue).
    pub do_not_call: bool,
    /// Its recording is still being transcribed (read for due callbacks whose queue waits
    /// for transcripts, while transcription runs).
    pub transcript_pending: bool,
    /// Live callers of the contact-centre queue (or holding line) it was taken from who
    /// are ahead of its caller's place there (0 when it came from no such queue).
    pub ahead: usize,
    /// The contact-centre agent held for its caller's place (the one that place gets in
    /// line): taken before any other ready agent, so the agent freed for the callback
    /// does not idle held while another one, which the centre is about to give a live
    /// caller, is raced for.
    pub held_agent: Option<String>,
    /// It keeps its caller's place in a contact centre's line read this turn: it takes no
    /// centre agent but [`Claimed::held_agent`] (the others are the centre's to give the
    /// live callers ahead, or held for other places).
    pub keeps_place: bool,
}

/// How often a callback behind live callers looks again (the centre itself looks for
/// agents for its callers every 100 ms).
pub const PLACE_POLL: Duration = Duration::seconds(2);

/// The trace action of a callback waiting for the live callers ahead of it.
pub const PLACE_WAIT: &str = "place-wait";

/// What one turn knows.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a Config,
    pub claimed: Vec<Claimed>,
    /// The store's earliest due time or lease expiry, read after the claim.
    pub upcoming: Option<DateTime<Utc>>,
    /// Whether this node held leases before this turn's claims (renewed every third of a
    /// lease).
    pub holding: bool,
    /// Whether this turn could claim (an agent free, room to ring). When it could not,
    /// what is due waits for a nudge (an agent released or set ready), not for a timer.
    pub claiming: bool,
    /// Contact-centre agents held for callbacks' places this turn: each goes to the
    /// callback it is held for ([`Claimed::held_agent`]), never to another one's pick.
    pub reserved: std::collections::BTreeSet<String>,
    /// Every contact-centre agent this turn read.
    pub centre: std::collections::BTreeSet<String>,
}

/// One step for the loop to carry out.
#[derive(Debug, Clone)]
pub enum Action {
    /// Write `change` (expired, do-not-call, waiting for an opening or an agent) as of
    /// `at`, and let go of the callback.
    Move {
        request: CallbackRequest,
        change: Transition,
        at: DateTime<Utc>,
    },
    /// Its queue is no longer configured: write `change` (failed) instead of reclaiming it
    /// for ever.
    Fail {
        request: CallbackRequest,
        change: Transition,
    },
    /// Write `change` (to `offering`) with its agent leg, and ring `agent` (picked and
    /// marked busy in the pool).
    Offer {
        request: CallbackRequest,
        agent: AgentConfig,
        change: Transition,
    },
    /// A dispatch died in the middle (its lease lapsed): close what it left open and move
    /// the callback on as of `at`.
    Recover {
        request: CallbackRequest,
        at: DateTime<Utc>,
    },
    /// Nothing to do with it (no longer waiting): let go of it.
    LetGo(CallbackId),
}

/// A turn's answer.
#[derive(Debug, Clone)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// When to look again without a nudge (`None`: only a nudge).
    pub wake_at: Option<DateTime<Utc>>,
}

/// How long the loop sleeps after a turn that asked to be woken at `wake_at` (host clock),
/// and the host-clock instant it sleeps until: a little early ([`LOOKAHEAD`]), so the
/// claim and the offers' commit are done when the due instant comes; at most
/// [`IDLE_LOOK`]. No fixed-period look: without a deadline, only a nudge wakes it sooner.
pub fn sleep(
    wake_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (std::time::Duration, Option<DateTime<Utc>>) {
    let at = wake_at.map(|at| at - LOOKAHEAD);
    let wait = at
        .map(|at| (at - now).to_std().unwrap_or_default())
        .unwrap_or(IDLE_LOOK)
        .min(IDLE_LOOK);
    (wait, at)
}

/// The instant a claimed callback is judged at (hours, window, expiry): its due instant,
/// as it may be claimed up to [`LOOKAHEAD`] early.
pub fn judged_at(r: &CallbackRequest, now: DateTime<Utc>) -> DateTime<Utc> {
    r.due_at.map_or(now, |d| d.clamp(now, now + LOOKAHEAD))
}

/// Whether callback `r` is past its time at `now`: its time to live or the customer's
/// window ran out (then nothing else about it matters, not even do-not-call).
pub fn past_its_time(r: &CallbackRequest, now: DateTime<Utc>) -> bool {
    r.expires_at.is_some_and(|e| e <= now) || r.window.until.is_some_and(|u| u <= now)
}

/// How many callbacks a turn may claim: one per free agent, within the room left to ring.
pub fn claim_limit(free_agents: usize, max_ringing: usize, ringing: usize) -> usize {
    free_agents.min(max_ringing.saturating_sub(ringing))
}

/// Decides a turn: for each claimed callback what to do, picking agents from `agents`.
pub fn turn(s: &Snapshot<'_>, agents: &mut Pool) -> Plan {
    let now = s.now;
    let mut actions = Vec::with_capacity(s.claimed.len());
    let mut wake_at = if s.claiming { s.upcoming } else { None };
    let mut holds = s.holding;
    for c in &s.claimed {
        let r = &c.request;
        // Still running here (the lease lapsed under us): keep going and keep renewing;
        // recovering it would dial a second time. (A fresh claim of a due callback is never
        // that: its last dispatch ended, even if that thread has not let go of it yet.)
        if c.running_here && r.state != State::Due {
            holds = true;
            continue;
        }
        let at = judged_at(r, now);
        let action = match r.state {
            State::Due => offer(s, c, agents, at),
            State::Offering | State::Previewing | State::Dialing | State::Connected => {
                Action::Recover {
                    request: r.clone(),
                    at,
                }
            }
            _ => Action::LetGo(r.id),
        };
        match &action {
            Action::Move { change, .. } => {
                if let Some(due) = change.due_at {
                    wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
                }
            }
            Action::Offer { .. } => holds = true,
            _ => {}
        }
        actions.push(action);
    }
    if holds {
        let renew_at = now + s.config.settings.lease / 3;
        wake_at = Some(wake_at.map_or(renew_at, |w| w.min(renew_at)));
    }
    Plan { actions, wake_at }
}

/// A due callback: moved on (expired, do-not-call, waiting), failed (no such queue), or
/// offered to an agent picked from `agents`.
fn offer(s: &Snapshot<'_>, c: &Claimed, agents: &mut Pool, at: DateTime<Utc>) -> Action {
    let cfg = s.config;
    let r = &c.request;
    let Some(queue) = cfg.queue(Some(&r.queue)) else {
        let mut t = Transition::new(State::Failed, "fail");
        t.detail = Some(format!("queue '{}' is no longer configured", r.queue));
        return Action::Fail {
            request: r.clone(),
            change: t,
        };
    };
    // Expiry, the customer's window, do-not-call, business hours: for this attempt too.
    if let Some(change) = hold(r, queue, &cfg.legal, c.do_not_call, at) {
        return Action::Move {
            request: r.clone(),
            change,
            at,
        };
    }
    // Its transcript first, so its tags route it (another queue, a higher priority):
    // up to the queue's limit from when it first fell due, then with what there is. The
    // transcript's arrival pulls it forward (`Dispatcher::transcribed`).
    if let Some(change) = transcript_wait(r, queue, c.transcript_pending, at) {
        return Action::Move {
            request: r.clone(),
            change,
            at,
        };
    }
    // Its caller's place in the contact centre's queue: after the live callers who were
    // ahead of it there, before those who joined later.
    if c.ahead > 0 {
        let mut t = Transition::new(State::Rescheduled, PLACE_WAIT);
        t.due_at = Some(at + PLACE_POLL);
        t.detail = Some(format!(
            "{} caller(s) who joined the queue before this caller still wait there",
            c.ahead
        ));
        return Action::Move {
            request: r.clone(),
            change: t,
            at,
        };
    }
    // A personal callback goes to its agent until the fallback has passed since it first
    // fell due (its first claim): each wait for the agent moves `due_at` on.
    let personal = match (r.agent.as_deref(), cfg.dispatch.personal_fallback) {
        (Some(a), Some(f)) => {
            let first_due = r.counts.first_claimed_at.unwrap_or(at);
            (at - first_due < f).then_some(a)
        }
        (a, _) => a,
    };
    let held = match (personal, c.held_agent.as_deref()) {
        (None, Some(h)) => agents.take_held(r.id, &r.queue, h),
        _ => None,
    };
    // A callback keeping its place takes the centre agent held for it or none: any other
    // free one is the centre's to give a live caller ahead (racing the centre for it
    // would lose, and leave the held one idle), or held for another callback's place.
    let keep_out = if c.keeps_place && personal.is_none() {
        &s.centre
    } else {
        &s.reserved
    };
    let picked = held
        .or_else(|| agents.take_except(r.id, &r.queue, personal, queue.dial.strategy, keep_out));
    match picked {
        Some(agent) => {
            let mut t = Transition::new(State::Offering, "offer");
            t.actor = Some(agent.id.clone());
            t.detail = Some(format!("ringing agent {} ({})", agent.id, agent.dial));
            Action::Offer {
                request: r.clone(),
                agent,
                change: t,
            }
        }
        None => {
            // Waiting again and again backs off (doubling, at most 5 minutes), so a queue
            // nobody staffs does not fill the trace; an agent getting ready pulls waiting
            // callbacks forward. Not a callback keeping its place: it holds its agents
            // (the free one falling to it, the busy ones the callers behind would get) and
            // looks again as often as one behind live callers, not backing off while an
            // agent held for it idles.
            let base = queue.retry.reoffer_delay.max(Duration::seconds(1));
            let delay = if c.keeps_place && personal.is_none() {
                PLACE_POLL
            } else {
                (base * (1i32 << r.counts.waits.min(10))).min(MAX_WAIT.max(base))
            };
            let mut t = Transition::new(State::Rescheduled, "wait");
            t.wait = true;
            t.due_at = Some(at + delay);
            t.detail = Some(match personal {
                Some(a) => format!("agent {a} is not ready"),
                None => format!("no agent of queue {} is ready", r.queue),
            });
            Action::Move {
                request: r.clone(),
                change: t,
                at,
            }
        }
    }
}

/// The wait of due callback `r` for its transcript (`pending`): until the queue's
/// `transcript-wait` has passed since it first fell due. `None`: ring an agent now.
pub fn transcript_wait(
    r: &CallbackRequest,
    queue: &QueueConfig,
    pending: bool,
    at: DateTime<Utc>,
) -> Option<Transition> {
    let limit = queue.dial.transcript_wait;
    if !pending || limit <= Duration::zero() {
        return None;
    }
    let until = r.counts.first_claimed_at.unwrap_or(at) + limit;
    if at >= until {
        return None;
    }
    let mut t = Transition::new(State::Rescheduled, TRANSCRIPT_WAIT);
    t.due_at = Some(until);
    t.detail = Some(format!(
        "its recording is being transcribed; the agent is rung when the transcript is \
         stored or at {} at the latest",
        until.to_rfc3339()
    ));
    Some(t)
}

/// The trace action of a callback waiting for its transcript.
pub const TRANSCRIPT_WAIT: &str = "transcript-wait";

/// Whether callback `r` waits for its transcript at `now` (moved by [`transcript_wait`],
/// its due instant within `limit` of its first claim): the transcript's arrival may pull
/// it forward.
pub fn waits_for_transcript(r: &CallbackRequest, limit: Duration, now: DateTime<Utc>) -> bool {
    match (r.state, r.due_at, r.counts.first_claimed_at) {
        (State::Rescheduled, Some(due), Some(first)) => due > now && due <= first + limit,
        _ => false,
    }
}

/// The legal calling hours that bound when callback `r` may be dialled: its number's
/// country's and its queue's, read in the customer's own zone.
fn legal_weeks(r: &CallbackRequest, queue: &QueueConfig, legal: &LegalHours) -> Vec<BusinessHours> {
    let zone = crate::schedule::parse_zone(&r.time_zone).unwrap_or_else(|_| queue.zone());
    legal.weeks_for(&r.number, queue.legal_hours.as_ref(), zone)
}

/// The queue's business hours and `legal`, as one list of weeks that must all be open.
fn all_weeks<'a>(queue: &'a QueueConfig, legal: &'a [BusinessHours]) -> Vec<&'a BusinessHours> {
    std::iter::once(&queue.rules.hours).chain(legal).collect()
}

/// The first instant at or after `t` when callback `r` may be dialled: its window begun,
/// its queue open, inside the legal calling hours in the customer's zone. `None`: none
/// within the queue's horizon of `t`.
pub fn next_callable(
    r: &CallbackRequest,
    queue: &QueueConfig,
    legal: &LegalHours,
    t: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let from = r.window.from.map_or(t, |f| f.max(t));
    let weeks = legal_weeks(r, queue, legal);
    next_open_in_all(&all_weeks(queue, &weeks), from, from + queue.rules.horizon)
}

/// Why callback `r` may not be offered or dialled at `now`, as the transition that moves it
/// on (the caller adds `expect` and `owner`): its time to live or the customer's window ran
/// out, the number is on the do-not-call list (`do_not_call`), the window has not begun,
/// the queue is closed, or it is outside legal calling hours in the customer's zone (then it
/// waits for the first instant all allow, or expires when the window ends before that).
/// `None`: go ahead. Asked before ringing an agent and again by the preview just before
/// dialling the customer.
pub fn hold(
    r: &CallbackRequest,
    queue: &QueueConfig,
    legal: &LegalHours,
    do_not_call: bool,
    now: DateTime<Utc>,
) -> Option<Transition> {
    let end = |to: State, action: &str, why: String| {
        let mut t = Transition::new(to, action);
        t.detail = Some(why);
        Some(t)
    };
    if r.expires_at.is_some_and(|e| e <= now) {
        return end(
            State::Expired,
            "expire",
            "its time to live ran out before anyone was reached".into(),
        );
    }
    if r.window.until.is_some_and(|u| u <= now) {
        return end(
            State::Expired,
            "expire",
            "the customer's availability window has passed".into(),
        );
    }
    if do_not_call {
        return end(
            State::Failed,
            "do-not-call",
            format!("{} is on the do-not-call list", r.number),
        );
    }
    let not_before = r.window.from.filter(|f| *f > now);
    let weeks = legal_weeks(r, queue, legal);
    let open = queue.rules.hours.is_open(now);
    let lawful = weeks.iter().all(|w| w.is_open(now));
    if not_before.is_none() && open && lawful {
        return None;
    }
    let from = not_before.unwrap_or(now);
    let at = next_open_in_all(&all_weeks(queue, &weeks), from, from + queue.rules.horizon);
    if let (Some(at), Some(until)) = (at, r.window.until) {
        if at >= until {
            return end(
                State::Expired,
                "expire",
                "the customer's availability window ends before the queue's hours and the \
                 legal calling hours allow a call"
                    .into(),
            );
        }
    }
    let at = at.unwrap_or(from + NO_OPENING_WAIT);
    let mut t = Transition::new(State::Rescheduled, "wait");
    t.wait = true;
    t.due_at = Some(at.max(now + Duration::seconds(1)));
    t.detail = Some(if !open {
        format!("queue {} is closed now", r.queue)
    } else if not_before.is_some() {
        "the customer's availability window has not begun".into()
    } else {
        format!(
            "outside the legal calling hours in the customer's time zone ({})",
            r.time_zone
        )
    });
    Some(t)
}

/// The retry policy's next step after `leg` of callback `r` ended with `result`, as the
/// transition to write (the caller adds `expect`, `owner` and `actor`): done, offered
/// again (an agent leg: no customer attempt used), retried, failed over to the queue's
/// failover queue (once: `r`'s failover count), failed or expired.
pub fn after_leg(
    r: &CallbackRequest,
    queue: &QueueConfig,
    legal: &LegalHours,
    leg: Leg,
    result: AttemptResult,
    now: DateTime<Utc>,
) -> Transition {
    // The queue's answer policy first: a message left completes the callback when the
    // queue says so, and a machine that does not count gives its attempt back.
    let machine = leg == Leg::Customer
        && matches!(result, AttemptResult::Machine | AttemptResult::MessageLeft);
    if machine
        && result == AttemptResult::MessageLeft
        && queue.answer.after_message == AfterMessage::Complete
    {
        let mut t = Transition::new(State::Completed, "complete");
        t.detail = Some("a message was left on the customer's answering machine".into());
        return t;
    }
    let refund = machine && !queue.answer.machine_counts;
    let attempts = if refund {
        r.customer_attempts.saturating_sub(1)
    } else {
        r.customer_attempts
    };
    let next = queue.retry.next(
        leg,
        result,
        attempts,
        r.expires_at,
        r.counts.failovers > 0,
        now,
    );
    let mut t = after_leg_next(r, queue, legal, result, next);
    t.refund_attempt = refund && t.to == State::Rescheduled && t.queue.is_none();
    t
}

/// The transition for the retry policy's decision `next`.
fn after_leg_next(
    r: &CallbackRequest,
    queue: &QueueConfig,
    legal: &LegalHours,
    result: AttemptResult,
    next: Next,
) -> Transition {
    match next {
        Next::Done => Transition::new(State::Completed, "complete"),
        Next::Reoffer { at } => {
            let mut t = Transition::new(State::Rescheduled, "reoffer");
            t.due_at = Some(at);
            t.detail = Some(format!("the agent leg ended {result}; offered again"));
            t
        }
        Next::Retry { at } => {
            // Never outside the customer's window, the queue's hours or the legal calling
            // hours in the customer's zone: the first instant after the pause they all allow.
            let callable = next_callable(r, queue, legal, at).filter(|c| {
                r.window.until.is_none_or(|u| *c < u) && r.expires_at.is_none_or(|e| *c < e)
            });
            let Some(next) = callable else {
                let mut t = Transition::new(State::Expired, "expire");
                t.detail = Some(format!(
                    "customer attempt {} {result}; no time to call again within the \
                     customer's window, the queue's hours and the legal calling hours",
                    r.customer_attempts
                ));
                return t;
            };
            let mut t = Transition::new(State::Rescheduled, "retry");
            t.due_at = Some(next);
            let moved = if next > at {
                format!(
                    " (moved from {}: outside the hours it may be called)",
                    at.to_rfc3339()
                )
            } else {
                String::new()
            };
            t.detail = Some(format!(
                "customer attempt {} {result}; next at {}{moved}",
                r.customer_attempts,
                next.to_rfc3339()
            ));
            t
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
            t.failover = true;
            t
        }
        Next::Fail { reason } => {
            let mut t = Transition::new(State::Failed, "fail");
            t.detail = Some(reason);
            t
        }
        Next::Expire => {
            let mut t = Transition::new(State::Expired, "expire");
            t.detail = Some("its time to live ran out before anyone was reached".into());
            t
        }
    }
}

#[cfg(test)]
mod tests;
