//! The planner's branches, each with a fixed configuration and a manual clock.
//! About 800 lines: one test per branch of [`turn`], over one shared configuration and
//! its helpers; split by branch, each file would repeat those.

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::model::DispatchCounts;
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
  <param name="transcript-wait" value="0"/>
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
        queue: queue.into(),
        state: State::Due,
        lease_owner: Some("node-a".into()),
        lease_expires: Some(now + Duration::seconds(30)),
        counts: DispatchCounts {
            first_claimed_at: Some(now),
            ..Default::default()
        },
        ..CallbackRequest::example(now)
    }
}

fn claimed(request: CallbackRequest) -> Claimed {
    Claimed {
        request,
        running_here: false,
        do_not_call: false,
        transcript_pending: false,
        ahead: 0,
        held_agent: None,
        keeps_place: false,
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
        reserved: Default::default(),
        centre: Default::default(),
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
fn a_callback_at_the_front_of_its_line_takes_the_agent_held_for_its_place() {
    // 1002 has been idle longest, but 1001 is the contact-centre agent held for this
    // callback's place: the callback takes 1001 (1002, not held, is the centre's to give
    // a live caller, and racing the centre for it would leave 1001 idle and held). A
    // held agent not ready, or not serving the queue, leaves the usual pick.
    let cfg = config();
    let now = clock().now();
    let mut agents = pool(&cfg, now - Duration::minutes(10));
    agents.set_state("1001", false, now).unwrap();
    agents.set_state("1001", true, now).unwrap();
    let front = |held: &str| Claimed {
        held_agent: Some(held.to_string()),
        ..claimed(due(1, "support", now))
    };
    let plan = turn(&snapshot(&cfg, now, vec![front("1001")]), &mut agents);
    assert_eq!(offered(only(&plan)), "1001");
    assert_eq!(agents.ready_for("support"), 1, "1002 is still ready");

    let mut agents = pool(&cfg, now - Duration::minutes(10));
    agents.set_state("1001", false, now).unwrap();
    let plan = turn(&snapshot(&cfg, now, vec![front("1001")]), &mut agents);
    assert_eq!(offered(only(&plan)), "1002", "1001 is away");
    let mut agents = pool(&cfg, now - Duration::minutes(10));
    let plan = turn(&snapshot(&cfg, now, vec![front("2001")]), &mut agents);
    assert_ne!(offered(only(&plan)), "2001", "2001 serves overflow only");
}

#[test]
fn an_agent_held_for_another_callbacks_place_is_not_taken_by_this_one() {
    // 1001 is held for the place of another callback (not claimable this turn): a callback
    // whose own held agent is not ready takes 1002, never 1001; with 1002 away it waits.
    let cfg = config();
    let now = clock().now();
    let mut agents = pool(&cfg, now - Duration::minutes(10));
    agents.set_state("1002", false, now).unwrap();
    agents.set_state("1002", true, now).unwrap();
    let mut s = snapshot(&cfg, now, vec![claimed(due(1, "support", now))]);
    s.reserved = ["1001".to_string()].into();
    assert_eq!(offered(only(&turn(&s, &mut agents))), "1002");

    let mut agents = pool(&cfg, now - Duration::minutes(10));
    agents.set_state("1002", false, now).unwrap();
    assert_eq!(moved(only(&turn(&s, &mut agents))).action, "wait");
    assert_eq!(agents.ready_for("support"), 1, "1001 is still ready, held");
}

#[test]
fn a_callback_keeping_its_place_takes_no_centre_agent_but_the_one_held_for_it() {
    // 1001 and 1002 are contact-centre agents, both ready, neither held for this callback
    // (1002 is free for the centre to give the live caller ahead): the callback keeping
    // its place in the centre's line waits rather than race the centre for 1002; once
    // 1002 is held for it, it takes 1002. A callback from no centre line takes 1002.
    let cfg = config();
    let now = clock().now();
    let centre: std::collections::BTreeSet<String> =
        ["1001".to_string(), "1002".to_string()].into();
    let keeping = |held: Option<&str>| Claimed {
        keeps_place: true,
        held_agent: held.map(str::to_string),
        ..claimed(due(1, "support", now))
    };
    let mut s = snapshot(&cfg, now, vec![keeping(None)]);
    s.centre = centre.clone();
    s.reserved = ["1001".to_string()].into();
    let mut agents = pool(&cfg, now - Duration::minutes(10));
    // It waits for an agent (an agent freed pulls it forward), but looks again within the
    // place poll however often it has waited before: no back-off of minutes while an
    // agent freed for it would idle held.
    let mut waited = keeping(None);
    waited.request.counts.waits = 5;
    s.claimed = vec![waited];
    let plan = turn(&s, &mut agents);
    let t = moved(only(&plan));
    assert_eq!(
        (t.action.as_str(), t.due_at, t.wait),
        ("wait", Some(now + PLACE_POLL), true)
    );
    assert_eq!(agents.ready_for("support"), 2, "both still ready");

    s.claimed = vec![keeping(Some("1002"))];
    assert_eq!(offered(only(&turn(&s, &mut agents))), "1002");

    let mut agents = pool(&cfg, now - Duration::minutes(10));
    s.claimed = vec![claimed(due(1, "support", now))];
    assert_eq!(offered(only(&turn(&s, &mut agents))), "1002");
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
        let t = after_leg(&r, queue, &cfg.legal, Leg::Agent, result, now);
        assert_eq!((t.to, t.action.as_str()), (State::Rescheduled, "reoffer"));
        assert_eq!(t.due_at, Some(now + Duration::seconds(10)));
        assert!(!t.reset_attempts && !t.failover && !t.wait);
    }
    r.expires_at = Some(now + Duration::seconds(5));
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Agent,
        AttemptResult::Rejected,
        now,
    );
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
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::Busy,
        now,
    );
    assert_eq!(
        (t.action.as_str(), t.due_at),
        ("retry", Some(now + Duration::minutes(5)))
    );
    r.customer_attempts = 2;
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::NoAnswer,
        now,
    );
    assert_eq!((t.to, t.action.as_str()), (State::Rescheduled, "failover"));
    assert_eq!(t.queue.as_deref(), Some("overflow"));
    assert!(t.reset_attempts && t.failover);
    r.counts.failovers = 1;
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::NoAnswer,
        now,
    );
    assert_eq!((t.to, t.action.as_str()), (State::Failed, "fail"));
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::Answered,
        now,
    );
    assert_eq!((t.to, t.action.as_str()), (State::Completed, "complete"));
}

#[test]
fn a_due_callback_waits_for_its_transcript_up_to_the_queues_limit() {
    // Its recording still being transcribed: moved to the first claim plus the queue's
    // transcript-wait (default 8 s), no agent taken; at that instant it is offered anyway.
    let cfg = config();
    let clock = clock();
    let now = clock.now();
    let mut agents = pool(&cfg, now);
    let ready = agents.ready();
    let mut c = claimed(due(1, "support", now));
    c.transcript_pending = true;
    let plan = turn(&snapshot(&cfg, now, vec![c.clone()]), &mut agents);
    let t = moved(only(&plan));
    assert_eq!(
        (t.to, t.action.as_str(), t.wait, t.due_at),
        (
            State::Rescheduled,
            TRANSCRIPT_WAIT,
            false,
            Some(now + Duration::seconds(8))
        )
    );
    assert_eq!(plan.wake_at, Some(now + Duration::seconds(8)));
    assert_eq!(agents.ready(), ready, "no agent is taken while it waits");
    // Moved as planned, it waits for its transcript (and may be pulled forward).
    let mut waiting = c.request.clone();
    waiting.state = State::Rescheduled;
    waiting.due_at = t.due_at;
    assert!(waits_for_transcript(
        &waiting,
        cfg.queue(Some("support")).unwrap().dial.transcript_wait,
        now
    ));
    // The limit reached with the transcript still pending: rung with what there is.
    clock.advance(Duration::seconds(8));
    let later = clock.now();
    let plan = turn(&snapshot(&cfg, later, vec![c]), &mut agents);
    assert_eq!(offered(only(&plan)), "1001");
}

#[test]
fn no_transcript_wait_without_a_pending_job_or_with_a_zero_limit() {
    // Transcript stored (or no recording): offered at once; a queue with
    // transcript-wait 0 never waits, pending or not.
    let cfg = config();
    let now = clock().now();
    let mut agents = pool(&cfg, now);
    let plan = turn(
        &snapshot(&cfg, now, vec![claimed(due(1, "support", now))]),
        &mut agents,
    );
    assert_eq!(offered(only(&plan)), "1001");
    let mut c = claimed(due(2, "overflow", now));
    c.transcript_pending = true;
    let plan = turn(&snapshot(&cfg, now, vec![c]), &mut agents);
    assert_eq!(offered(only(&plan)), "2001");
}

#[test]
fn only_a_callback_moved_for_its_transcript_counts_as_waiting_for_it() {
    // A wait for an agent minutes ahead, a scheduled callback never claimed, and one
    // already due are not pulled forward by a transcript; one within the limit is.
    let now = clock().now();
    let limit = Duration::seconds(5);
    let mut r = due(1, "support", now);
    r.state = State::Rescheduled;
    r.due_at = Some(now + Duration::seconds(3));
    assert!(waits_for_transcript(&r, limit, now));
    r.due_at = Some(now + Duration::minutes(2));
    assert!(!waits_for_transcript(&r, limit, now));
    r.due_at = Some(now + Duration::seconds(3));
    r.counts.first_claimed_at = None;
    assert!(!waits_for_transcript(&r, limit, now));
    r.counts.first_claimed_at = Some(now);
    r.due_at = Some(now);
    assert!(!waits_for_transcript(&r, limit, now));
    r.due_at = Some(now + Duration::seconds(3));
    r.state = State::Scheduled;
    assert!(!waits_for_transcript(&r, limit, now));
}

#[test]
fn a_queues_legal_hours_bind_in_the_customers_zone_and_move_a_retry() {
    // Legal hours: a queue's `legal-hours` 09:00-20:00 read in the customer's zone (Los
    // Angeles here, the queue in New York): at 22:00 New York (19:00 in LA) it is offered;
    // at 23:30 New York (20:30 in LA) it waits until 09:00 in LA; a retry whose delay ends
    // past 20:00 in LA is due at 09:00 LA the next morning; one that cannot happen before
    // the window ends expires.
    let cfg = Config::from_xml(&CONF.replace(
        r#"<param name="retry-delays" value="5m"/>"#,
        r#"<param name="retry-delays" value="45m"/><param name="legal-hours" value="mon-sun 09:00-20:00"/>"#,
    ))
    .unwrap();
    let queue = cfg.queue(Some("support")).unwrap();
    let at = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
    let mut r = due(1, "support", at(24, 3, 0));
    r.time_zone = "America/Los_Angeles".into();
    assert!(hold(&r, queue, &cfg.legal, false, at(24, 3, 0)).is_none());
    let t = hold(&r, queue, &cfg.legal, false, at(24, 4, 30)).unwrap();
    assert_eq!((t.to, t.wait), (State::Rescheduled, true));
    // 09:00 in Los Angeles (PST) is 17:00 UTC.
    assert_eq!(t.due_at, Some(at(24, 17, 0)));
    assert!(t.detail.unwrap().contains("legal calling hours"));
    r.state = State::Dialing;
    r.customer_attempts = 1;
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::NoAnswer,
        at(24, 3, 30),
    );
    assert_eq!(
        (t.action.as_str(), t.due_at),
        ("retry", Some(at(24, 17, 0)))
    );
    assert!(t.detail.unwrap().contains("moved from"));
    r.window.until = Some(at(24, 12, 0));
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::NoAnswer,
        at(24, 3, 30),
    );
    assert_eq!(t.to, State::Expired);
}

/// The test configuration with `keys` added to the support queue.
fn config_with_support(keys: &str) -> Config {
    let text = CONF.replacen(
        "<param name=\"reoffer-delay\" value=\"10s\"/>\n</queue>",
        &format!("<param name=\"reoffer-delay\" value=\"10s\"/>\n{keys}</queue>"),
        1,
    );
    assert_ne!(text, CONF, "the support queue's end moved");
    Config::from_xml(&text).expect("the test configuration")
}

#[test]
fn a_machine_that_does_not_count_is_retried_with_its_attempt_given_back() {
    // machine-counts-attempt=false: the last customer attempt reached a machine, yet the
    // callback is retried (not failed over) and the attempt is given back; a busy line
    // still counts, and a machine counts when the queue says nothing.
    let cfg = config_with_support(
        "<param name=\"on-machine\" value=\"retry\"/><param name=\"machine-counts-attempt\" value=\"false\"/>\n",
    );
    let now = clock().now();
    let queue = cfg.queue(Some("support")).unwrap();
    let mut r = due(1, "support", now);
    r.state = State::Dialing;
    r.customer_attempts = 2;
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::Machine,
        now,
    );
    assert_eq!((t.to, t.action.as_str()), (State::Rescheduled, "retry"));
    assert!(t.refund_attempt);
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::Busy,
        now,
    );
    assert_eq!(t.action, "failover");
    assert!(!t.refund_attempt);
    let plain = config();
    let t = after_leg(
        &r,
        plain.queue(Some("support")).unwrap(),
        &plain.legal,
        Leg::Customer,
        AttemptResult::Machine,
        now,
    );
    assert_eq!(t.action, "failover");
    assert!(!t.refund_attempt);
}

#[test]
fn a_message_left_completes_or_retries_as_the_queue_says() {
    // after-message=complete (the default) completes the callback; retry calls again.
    let now = clock().now();
    let mut r = due(1, "support", now);
    r.state = State::Dialing;
    r.customer_attempts = 1;
    let message = "<param name=\"on-machine\" value=\"message\"/><param name=\"machine-message\" value=\"m.wav\"/>\n";
    let cfg = config_with_support(message);
    let queue = cfg.queue(Some("support")).unwrap();
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::MessageLeft,
        now,
    );
    assert_eq!((t.to, t.action.as_str()), (State::Completed, "complete"));
    let cfg = config_with_support(&format!(
        "{message}<param name=\"after-message\" value=\"retry\"/>\n"
    ));
    let queue = cfg.queue(Some("support")).unwrap();
    let t = after_leg(
        &r,
        queue,
        &cfg.legal,
        Leg::Customer,
        AttemptResult::MessageLeft,
        now,
    );
    assert_eq!(
        (t.to, t.action.as_str(), t.due_at),
        (
            State::Rescheduled,
            "retry",
            Some(now + Duration::minutes(5))
        )
    );
}
