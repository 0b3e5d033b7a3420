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
use crate::config::{Config, QueueConfig};
use crate::model::{AttemptResult, CallbackId, CallbackRequest, Leg, State};
use crate::retry::Next;
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
}

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
        // Claimed up to LOOKAHEAD early: judged (hours, window) at its due instant.
        let at = r.due_at.map_or(now, |d| d.clamp(now, now + LOOKAHEAD));
        let action = match r.state {
            State::Due => offer(s.config, c, agents, at),
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
fn offer(cfg: &Config, c: &Claimed, agents: &mut Pool, at: DateTime<Utc>) -> Action {
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
    if let Some(change) = hold(r, queue, c.do_not_call, at) {
        return Action::Move {
            request: r.clone(),
            change,
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
    match agents.take(r.id, &r.queue, personal, queue.dial.strategy) {
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
            // callbacks forward.
            let base = queue.retry.reoffer_delay.max(Duration::seconds(1));
            let delay = (base * (1i32 << r.counts.waits.min(10))).min(MAX_WAIT.max(base));
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

/// Why callback `r` may not be offered or dialled at `now`, as the transition that moves it
/// on (the caller adds `expect` and `owner`): its time to live or the customer's window ran
/// out, the number is on the do-not-call list (`do_not_call`), the window has not begun,
/// or the queue is closed. `None`: go ahead. Asked before ringing an agent and again by the
/// preview just before dialling the customer.
pub fn hold(
    r: &CallbackRequest,
    queue: &QueueConfig,
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
    let open = queue.rules.hours.is_open(now);
    if not_before.is_none() && open {
        return None;
    }
    let from = not_before.unwrap_or(now);
    let at = queue
        .rules
        .hours
        .next_open(from, from + queue.rules.horizon)
        .unwrap_or(from + NO_OPENING_WAIT);
    let mut t = Transition::new(State::Rescheduled, "wait");
    t.wait = true;
    t.due_at = Some(at.max(now + Duration::seconds(1)));
    t.detail = Some(if open {
        "the customer's availability window has not begun".into()
    } else {
        format!("queue {} is closed now", r.queue)
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
    leg: Leg,
    result: AttemptResult,
    now: DateTime<Utc>,
) -> Transition {
    let next = queue.retry.next(
        leg,
        result,
        r.customer_attempts,
        r.expires_at,
        r.counts.failovers > 0,
        now,
    );
    match next {
        Next::Done => Transition::new(State::Completed, "complete"),
        Next::Reoffer { at } => {
            let mut t = Transition::new(State::Rescheduled, "reoffer");
            t.due_at = Some(at);
            t.detail = Some(format!("the agent leg ended {result}; offered again"));
            t
        }
        Next::Retry { at } => {
            let mut t = Transition::new(State::Rescheduled, "retry");
            t.due_at = Some(at);
            t.detail = Some(format!(
                "customer attempt {} {result}; next at {}",
                r.customer_attempts,
                at.to_rfc3339()
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
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::model::{CallbackType, DispatchCounts, Source, Window};
    use chrono::TimeZone;

    /// Agents 1001 and 1002 take support, 2001 overflow; `office` opens weekdays 09-17 in
    /// New York; personal callbacks fall back to the queue after 10 minutes.
    const CONF: &str = r#"
<configuration name="callback.conf">
  <settings>
    <param name="http-listen" value=""/>
    <param name="default-queue" value="support"/>
    <param name="default-time-zone" value="America/New_York"/>
    <param name="lease-seconds" value="30"/>
    <param name="personal-fallback-minutes" value="10"/>
  </settings>
  <queues>
    <queue name="support">
      <param name="hours" value="always"/>
      <param name="max-attempts" value="2"/>
      <param name="retry-delays" value="5m"/>
      <param name="failover-queue" value="overflow"/>
      <param name="reoffer-delay" value="10s"/>
    </queue>
    <queue name="overflow">
      <param name="hours" value="always"/>
      <param name="max-attempts" value="1"/>
      <param name="reoffer-delay" value="10s"/>
    </queue>
    <queue name="office">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="mon-fri 09:00-17:00"/>
      <param name="reoffer-delay" value="10s"/>
    </queue>
  </queues>
  <agents>
    <agent name="1001"><param name="queues" value="support, office"/></agent>
    <agent name="1002"><param name="queues" value="support"/></agent>
    <agent name="2001"><param name="queues" value="overflow"/></agent>
  </agents>
</configuration>"#;

    fn config() -> Config {
        Config::from_xml(CONF).expect("the test configuration")
    }

    /// Monday 2026-11-23 14:00 UTC (09:00 in New York).
    fn clock() -> ManualClock {
        ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
    }

    fn pool(cfg: &Config, now: DateTime<Utc>) -> Pool {
        Pool::new(&cfg.agents, cfg.dispatch.declines_to_away, now)
    }

    /// A callback of `queue` claimed at `now` (state `due`), due then.
    fn due(id: CallbackId, queue: &str, now: DateTime<Utc>) -> CallbackRequest {
        CallbackRequest {
            id,
            kind: CallbackType::Immediate,
            number: "+12125550142".into(),
            time_zone: "America/New_York".into(),
            desired_at: None,
            window: Window::default(),
            queue: queue.into(),
            agent: None,
            remark: None,
            ivr_data: Default::default(),
            source: Source::Ivr,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            transcript: None,
            tags: Default::default(),
            state: State::Due,
            due_at: Some(now),
            expires_at: None,
            customer_attempts: 0,
            created_at: now,
            updated_at: now,
            lease_owner: Some("node-a".into()),
            lease_expires: Some(now + Duration::seconds(30)),
            priority: 0,
            counts: DispatchCounts {
                first_claimed_at: Some(now),
                ..Default::default()
            },
        }
    }

    fn claimed(request: CallbackRequest) -> Claimed {
        Claimed {
            request,
            running_here: false,
            do_not_call: false,
        }
    }

    fn snapshot(cfg: &Config, now: DateTime<Utc>, claimed: Vec<Claimed>) -> Snapshot<'_> {
        Snapshot {
            now,
            config: cfg,
            claimed,
            upcoming: None,
            holding: false,
            claiming: true,
        }
    }

    /// The one action of a plan.
    fn only(plan: &Plan) -> &Action {
        assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
        &plan.actions[0]
    }

    /// The transition of a `Move`, or a failure naming what came instead.
    fn moved(a: &Action) -> &Transition {
        match a {
            Action::Move { change, .. } => change,
            other => panic!("not a move: {other:?}"),
        }
    }

    fn offered(a: &Action) -> &str {
        match a {
            Action::Offer { agent, change, .. } => {
                assert_eq!(
                    (change.to, change.action.as_str()),
                    (State::Offering, "offer")
                );
                &agent.id
            }
            other => panic!("not an offer: {other:?}"),
        }
    }

    #[test]
    fn a_due_callback_is_offered_to_the_agent_idle_longest_and_the_lease_is_renewed() {
        // Offer: a due callback goes to a ready agent of its queue, which is then busy; the
        // loop wakes to renew the lease a third of a lease later.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now - Duration::minutes(10));
        agents.set_state("1001", false, now).unwrap();
        agents.set_state("1001", true, now).unwrap();
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(due(1, "support", now))]),
            &mut agents,
        );
        assert_eq!(offered(only(&plan)), "1002");
        assert_eq!(agents.ready_for("support"), 1);
        assert_eq!(plan.wake_at, Some(now + Duration::seconds(10)));
    }

    #[test]
    fn with_no_agent_ready_it_waits_longer_each_time() {
        // No agent: the callback waits the reoffer delay, doubled per wait in a row, at
        // most five minutes; the loop wakes at the earliest of its due time and the store's.
        let cfg = config();
        let clock = clock();
        let now = clock.now();
        let mut agents = pool(&cfg, now);
        for a in ["1001", "1002"] {
            agents.set_state(a, false, now).unwrap();
        }
        let mut s = snapshot(&cfg, now, vec![claimed(due(1, "support", now))]);
        s.upcoming = Some(now + Duration::hours(1));
        let plan = turn(&s, &mut agents);
        let t = moved(only(&plan));
        assert_eq!(
            (t.to, t.action.as_str(), t.wait),
            (State::Rescheduled, "wait", true)
        );
        assert_eq!(t.due_at, Some(now + Duration::seconds(10)));
        assert_eq!(
            t.detail.as_deref(),
            Some("no agent of queue support is ready")
        );
        assert_eq!(plan.wake_at, Some(now + Duration::seconds(10)));
        for (waits, delay) in [(1, 20), (3, 80), (5, 300), (40, 300)] {
            clock.advance(Duration::seconds(delay));
            let now = clock.now();
            let mut r = due(1, "support", now);
            r.counts.waits = waits;
            let plan = turn(&snapshot(&cfg, now, vec![claimed(r)]), &mut agents);
            assert_eq!(
                moved(only(&plan)).due_at,
                Some(now + Duration::seconds(delay)),
                "after {waits} waits"
            );
        }
    }

    #[test]
    fn a_personal_callback_waits_for_its_agent_then_falls_back_to_the_queue() {
        // Personal: only its agent takes it; away, it waits for that agent until the
        // fallback (10 minutes from its first claim) has passed, then any agent of the queue.
        let cfg = config();
        let clock = clock();
        let first = clock.now();
        let mut agents = pool(&cfg, first);
        agents.set_state("1001", false, first).unwrap();
        let mut r = due(1, "support", first);
        r.agent = Some("1001".into());
        let plan = turn(
            &snapshot(&cfg, first, vec![claimed(r.clone())]),
            &mut agents,
        );
        let t = moved(only(&plan));
        assert_eq!(t.detail.as_deref(), Some("agent 1001 is not ready"));
        clock.advance(Duration::minutes(9));
        let now = clock.now();
        r.due_at = Some(now);
        let plan = turn(&snapshot(&cfg, now, vec![claimed(r.clone())]), &mut agents);
        assert_eq!(
            moved(only(&plan)).detail.as_deref(),
            Some("agent 1001 is not ready")
        );
        clock.advance(Duration::minutes(1));
        let now = clock.now();
        r.due_at = Some(now);
        let plan = turn(&snapshot(&cfg, now, vec![claimed(r.clone())]), &mut agents);
        assert_eq!(offered(only(&plan)), "1002");
        // Its own agent ready: it gets it, even with another agent idle longer.
        let mut agents = pool(&cfg, first);
        agents.set_state("1001", false, now).unwrap();
        agents.set_state("1001", true, now).unwrap();
        r.counts.first_claimed_at = Some(now);
        let plan = turn(&snapshot(&cfg, now, vec![claimed(r)]), &mut agents);
        assert_eq!(offered(only(&plan)), "1001");
    }

    #[test]
    fn an_expired_callback_or_a_passed_window_expires_instead_of_being_offered() {
        // Expiry and window: past its time to live, or past the customer's window, it
        // expires and no agent is taken.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut ttl = due(1, "support", now);
        ttl.expires_at = Some(now);
        let mut window = due(2, "support", now);
        window.window.until = Some(now - Duration::minutes(1));
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(ttl), claimed(window)]),
            &mut agents,
        );
        let details: Vec<_> = plan
            .actions
            .iter()
            .map(|a| {
                let t = moved(a);
                assert_eq!((t.to, t.action.as_str()), (State::Expired, "expire"));
                t.detail.clone().unwrap()
            })
            .collect();
        assert_eq!(
            details,
            [
                "its time to live ran out before anyone was reached",
                "the customer's availability window has passed"
            ]
        );
        assert_eq!(agents.ready(), 3);
        assert_eq!(plan.wake_at, None);
    }

    #[test]
    fn a_window_not_yet_begun_waits_for_it() {
        // Window: a customer available only from later waits until then (not counted as an
        // agent wait's back-off, but as a wait in a row).
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut r = due(1, "support", now);
        r.window.from = Some(now + Duration::minutes(30));
        let plan = turn(&snapshot(&cfg, now, vec![claimed(r)]), &mut agents);
        let t = moved(only(&plan));
        assert_eq!((t.to, t.wait), (State::Rescheduled, true));
        assert_eq!(t.due_at, Some(now + Duration::minutes(30)));
        assert_eq!(
            t.detail.as_deref(),
            Some("the customer's availability window has not begun")
        );
        assert_eq!(agents.ready(), 3);
    }

    #[test]
    fn outside_business_hours_it_waits_for_the_queue_to_open() {
        // Hours: due on Saturday, a weekday queue's callback waits for Monday 09:00 in the
        // queue's zone; open on a weekday, it is offered.
        let cfg = config();
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap());
        let now = clock.now();
        let mut agents = pool(&cfg, now);
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(due(1, "office", now))]),
            &mut agents,
        );
        let t = moved(only(&plan));
        assert_eq!(t.detail.as_deref(), Some("queue office is closed now"));
        let monday_nine = Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap();
        assert_eq!(t.due_at, Some(monday_nine));
        clock.set(monday_nine);
        let now = clock.now();
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(due(1, "office", now))]),
            &mut agents,
        );
        assert_eq!(offered(only(&plan)), "1001");
    }

    #[test]
    fn a_number_on_the_do_not_call_list_fails_without_ringing_anyone() {
        // Do-not-call: the callback fails at dispatch time; no agent is taken.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut c = claimed(due(1, "support", now));
        c.do_not_call = true;
        let plan = turn(&snapshot(&cfg, now, vec![c]), &mut agents);
        let t = moved(only(&plan));
        assert_eq!((t.to, t.action.as_str()), (State::Failed, "do-not-call"));
        assert_eq!(
            t.detail.as_deref(),
            Some("+12125550142 is on the do-not-call list")
        );
        assert_eq!(agents.ready(), 3);
    }

    #[test]
    fn a_callback_of_a_queue_no_longer_configured_fails() {
        // Unknown queue: failed with the reason, never reclaimed.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(due(1, "gone", now))]),
            &mut agents,
        );
        match only(&plan) {
            Action::Fail { change, .. } => {
                assert_eq!(change.to, State::Failed);
                assert_eq!(
                    change.detail.as_deref(),
                    Some("queue 'gone' is no longer configured")
                );
            }
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn lapsed_dispatches_are_recovered_unless_still_running_here() {
        // Recovery: a callback claimed in an active state is recovered; one this node still
        // runs is left alone (and its lease renewed); a claim no longer waiting is let go.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut dialing = due(1, "support", now);
        dialing.state = State::Dialing;
        let mut mine = claimed(dialing.clone());
        mine.running_here = true;
        mine.request.id = 2;
        let mut done = due(3, "support", now);
        done.state = State::Completed;
        let plan = turn(
            &snapshot(&cfg, now, vec![claimed(dialing), mine, claimed(done)]),
            &mut agents,
        );
        assert_eq!(plan.actions.len(), 2, "{:?}", plan.actions);
        assert!(matches!(&plan.actions[0], Action::Recover { request, .. } if request.id == 1));
        assert!(matches!(plan.actions[1], Action::LetGo(3)));
        assert_eq!(plan.wake_at, Some(now + Duration::seconds(10)));
    }

    #[test]
    fn a_claim_a_little_early_is_judged_at_its_due_instant() {
        // Lookahead: claimed 20 ms before it is due, a callback expiring at its due instant
        // is judged then (expired), not at the claim.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut r = due(1, "support", now + Duration::milliseconds(20));
        r.expires_at = r.due_at;
        let plan = turn(&snapshot(&cfg, now, vec![claimed(r)]), &mut agents);
        assert_eq!(moved(only(&plan)).to, State::Expired);
    }

    #[test]
    fn with_no_agent_free_the_loop_waits_for_a_nudge() {
        // Nothing claimable: no wake-up from the store's due times (an agent released or set
        // ready nudges); with leases held, only their renewal; claims limited by free
        // agents and room to ring.
        let cfg = config();
        let now = clock().now();
        let mut agents = pool(&cfg, now);
        let mut s = snapshot(&cfg, now, vec![]);
        s.claiming = false;
        s.upcoming = Some(now);
        assert_eq!(turn(&s, &mut agents).wake_at, None);
        s.holding = true;
        assert_eq!(
            turn(&s, &mut agents).wake_at,
            Some(now + Duration::seconds(10))
        );
        s.claiming = true;
        assert_eq!(turn(&s, &mut agents).wake_at, Some(now));
        assert_eq!(claim_limit(3, 64, 0), 3);
        assert_eq!(claim_limit(3, 64, 62), 2);
        assert_eq!(claim_limit(0, 64, 0), 0);
    }

    #[test]
    fn the_loop_sleeps_until_its_deadline_not_for_a_fixed_period() {
        // No poll: the loop sleeps until just before the next deadline (however far, up to
        // the idle bound), at once when it has passed, and without one until a nudge or the
        // idle bound.
        let now = clock().now();
        let in_ten = now + Duration::minutes(10);
        assert_eq!(
            sleep(Some(in_ten), now),
            (
                std::time::Duration::from_millis(60_000),
                Some(in_ten - LOOKAHEAD)
            )
        );
        let soon = now + Duration::seconds(30);
        assert_eq!(
            sleep(Some(soon), now),
            (
                std::time::Duration::from_millis(29_975),
                Some(soon - LOOKAHEAD)
            )
        );
        let past = now - Duration::seconds(1);
        assert_eq!(sleep(Some(past), now).0, std::time::Duration::ZERO);
        assert_eq!(sleep(None, now), (IDLE_LOOK, None));
    }

    #[test]
    fn after_a_rejected_or_unanswered_agent_leg_it_is_offered_again() {
        // Reoffer after reject: an agent leg's end re-offers the callback after the queue's
        // reoffer delay and uses no customer attempt; past its expiry it expires instead.
        let cfg = config();
        let now = clock().now();
        let queue = cfg.queue(Some("support")).unwrap();
        let mut r = due(1, "support", now);
        r.state = State::Previewing;
        for result in [AttemptResult::Rejected, AttemptResult::NoAnswer] {
            let t = after_leg(&r, queue, Leg::Agent, result, now);
            assert_eq!((t.to, t.action.as_str()), (State::Rescheduled, "reoffer"));
            assert_eq!(t.due_at, Some(now + Duration::seconds(10)));
            assert!(!t.reset_attempts && !t.failover && !t.wait);
        }
        r.expires_at = Some(now + Duration::seconds(5));
        let t = after_leg(&r, queue, Leg::Agent, AttemptResult::Rejected, now);
        assert_eq!(t.to, State::Expired);
    }

    #[test]
    fn used_up_attempts_fail_over_once_then_fail() {
        // Failover: the queue's attempts used up, the callback moves to the failover queue
        // with its attempts counted anew; having failed over once, it fails.
        let cfg = config();
        let now = clock().now();
        let queue = cfg.queue(Some("support")).unwrap();
        let mut r = due(1, "support", now);
        r.state = State::Dialing;
        r.customer_attempts = 1;
        let t = after_leg(&r, queue, Leg::Customer, AttemptResult::Busy, now);
        assert_eq!(
            (t.action.as_str(), t.due_at),
            ("retry", Some(now + Duration::minutes(5)))
        );
        r.customer_attempts = 2;
        let t = after_leg(&r, queue, Leg::Customer, AttemptResult::NoAnswer, now);
        assert_eq!((t.to, t.action.as_str()), (State::Rescheduled, "failover"));
        assert_eq!(t.queue.as_deref(), Some("overflow"));
        assert!(t.reset_attempts && t.failover);
        r.counts.failovers = 1;
        let t = after_leg(&r, queue, Leg::Customer, AttemptResult::NoAnswer, now);
        assert_eq!((t.to, t.action.as_str()), (State::Failed, "fail"));
        let t = after_leg(&r, queue, Leg::Customer, AttemptResult::Answered, now);
        assert_eq!((t.to, t.action.as_str()), (State::Completed, "complete"));
    }
}
