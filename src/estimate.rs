//! The estimated wait of a callback that goes out as soon as an agent is free, or of a
//! caller waiting in the contact centre's queue: its place in line, and that place's share
//! of the agents' handling time. One rule for every door that tells a caller or client (the
//! IVR, the REST API's `estimated_wait_seconds` and availability answer, the in-queue offer).
//!
//! For a queue that takes its agents from the contact centre (`agents-from`) the centre is
//! part of the line: the live callers ahead (by the centre's own score, `centre::ahead`)
//! count with the callbacks ahead, its agents able to take calls (and those free now) serve
//! the place, and its handling so far (talk and wrap-up per call) is the handling time.
//! Otherwise the queue's configured agents and its own callbacks' recent handling count;
//! for a caller of a holding line (a fifo) the line's callers ahead (by slot, then join
//! time, `line::ahead`) count with the callbacks ahead, at that handling time.

use crate::centre::{self, CentreMember, Staffing};
use crate::handover::{CENTRE_QUEUE_KEY, JOINED_KEY, LINE_KEY, LINE_SLOT_KEY};
use crate::host::CentreTable;
use crate::host::LineCaller;
use crate::model::{CallbackRequest, State};
use crate::service::{CallbackService, Error};
use crate::store::ListFilter;
use chrono::Duration;

/// How many of the queue's latest handled callbacks the handling time is taken over.
const RECENT: usize = 50;

/// The handling time assumed for a queue that has handled none yet.
pub const WITHOUT_HISTORY: Duration = Duration::minutes(5);

/// The IVR-data key of the estimated wait (seconds) made when the callback was taken from a
/// queue; the dispatcher compares it with the wait that happened (`/metrics`).
pub const ESTIMATE_KEY: &str = "estimated_wait_seconds";

/// Where a callback (or caller) stands and about how long until an agent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// 1 + the callbacks of the same queue waiting ahead of it (due, or for one taken from
    /// the contact centre joined, before it) + the centre's live callers ahead of it.
    pub place: usize,
    /// Of those ahead, the contact centre's live callers.
    pub live_ahead: usize,
    /// About how long until an agent calls.
    pub wait: Duration,
    /// Whether recent handling times (the queue's own, or the centre's) made it (else
    /// [`WITHOUT_HISTORY`] stood in, and a caller is better told no figure).
    pub from_history: bool,
}

/// The longest wait told in minutes (16 hours and more are told as this).
pub const MAX_MINUTES: u32 = 999;

/// The line a place is in: how many serve it and how many of them are free now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub place: usize,
    pub agents: usize,
    pub free: usize,
}

/// The rule itself: `place` times the handling time `per` call, shared by `agents` (at
/// least one); the queue bench measures its error against the wait that happened.
pub fn wait_at(place: usize, per: Duration, agents: usize) -> Duration {
    // Saturating: `per` comes from the contact centre's figures, and `Duration::seconds`
    // panics past i64::MAX / 1000.
    let per = per.num_seconds().max(1) as u64;
    let secs = per
        .saturating_mul(place as u64)
        .div_ceil(agents.max(1) as u64);
    Duration::seconds(i64::try_from(secs).map_or(i64::MAX / 1000, |s| s.min(i64::MAX / 1000)))
}

/// The rule with the agents free now: the first `free` places go at once, the others wait
/// their share of the handling time behind them ([`wait_at`]).
pub fn wait_in(line: Line, per: Duration) -> Duration {
    wait_at(line.place.saturating_sub(line.free), per, line.agents)
}

/// The handling time per call: the contact centre's (talk plus wrap-up per call, over the
/// calls its agents answered) when it has answered any, else the queue's own callbacks'
/// recent one; `None` with neither.
pub fn handling(own: Option<Duration>, centre: Option<&Staffing>) -> Option<Duration> {
    centre
        .and_then(Staffing::handling_secs)
        .map(Duration::seconds)
        .or(own)
}

/// What the contact centre says of a linked queue's line.
struct CentreLine {
    members: Vec<CentreMember>,
    staffing: Staffing,
}

/// What an estimate of a queue rests on, read once.
struct Context {
    /// The queue's own callbacks' recent handling time.
    own: Option<Duration>,
    /// Agents of `<agents>` serving the queue.
    configured: usize,
    centre: Option<CentreLine>,
}

impl Context {
    fn read(svc: &CallbackService, queue: &str) -> Result<Self, Error> {
        let cfg = svc.config();
        let own = svc.store().handling_time(queue, RECENT)?;
        let configured = cfg.agents.iter().filter(|a| a.serves(queue)).count();
        let centre_q = cfg
            .queue(Some(queue))
            .and_then(|q| q.dial.agents_from.clone());
        let centre = centre_q.and_then(|cq| match read_centre(svc, &cq) {
            Ok(c) => Some(c),
            Err(e) => {
                // The estimate goes on without the centre: its callers and agents unknown.
                tracing::debug!("estimate for {queue}: the contact centre not read ({e})");
                None
            }
        });
        Ok(Self {
            own,
            configured,
            centre,
        })
    }

    /// The estimate at `callbacks_place` among the callbacks with `live_ahead` of the
    /// centre's callers ahead.
    fn estimate(&self, callbacks_place: usize, live_ahead: usize) -> Estimate {
        let staffing = self.centre.as_ref().map(|c| c.staffing);
        let history = handling(self.own, staffing.as_ref());
        let per = history.unwrap_or(WITHOUT_HISTORY);
        let place = callbacks_place + live_ahead;
        let line = Line {
            place,
            agents: (self.configured + staffing.map_or(0, |s| s.able)).max(1),
            free: staffing.map_or(0, |s| s.free),
        };
        Estimate {
            place,
            live_ahead,
            wait: wait_in(line, per),
            from_history: history.is_some(),
        }
    }
}

/// Reads the centre's queue `centre_q`: its callers, agents and tiers.
fn read_centre(svc: &CallbackService, centre_q: &str) -> Result<CentreLine, String> {
    let host = svc.host();
    let table = |t: CentreTable| host.centre_table(t).map_err(|e| e.to_string());
    let members = centre::queue_members(&table(CentreTable::Members(centre_q.to_string()))?)
        .map_err(|e| e.to_string())?;
    let agents = centre::agents(&table(CentreTable::Agents)?).map_err(|e| e.to_string())?;
    let tiers = centre::tiers(&table(CentreTable::Tiers)?).map_err(|e| e.to_string())?;
    Ok(CentreLine {
        members,
        staffing: centre::staffing(&agents, &tiers, centre_q, svc.now().timestamp()),
    })
}

/// Since when a caller or request is in line: now (behind every live caller waiting), or
/// since an epoch second (behind the live callers with a higher score).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Now,
    Epoch(i64),
}

impl Estimate {
    /// The estimate for waiting callback `r`.
    pub fn of(svc: &CallbackService, r: &CallbackRequest) -> Result<Self, Error> {
        let since = joined(r).unwrap_or(r.created_at.timestamp());
        Self::build(svc, &r.queue, place(svc, r)?, Since::Epoch(since))
    }

    /// The estimate for a new callback of `queue` at `place` among its callbacks (the
    /// waiting ones + 1): behind every live caller of a linked contact-centre queue too.
    pub fn at_place(svc: &CallbackService, queue: &str, place: usize) -> Result<Self, Error> {
        Self::build(svc, queue, place, Since::Now)
    }

    /// The estimate for a callback of `queue` asked for now: behind the waiting ones.
    pub fn next(svc: &CallbackService, queue: &str) -> Result<Self, Error> {
        Self::at_place(svc, queue, waiting_callbacks(svc, queue)?.len() + 1)
    }

    /// The estimate for a live caller who joined the centre's queue linked to `queue` at
    /// `joined_epoch` (the in-queue offer): the callbacks taken from the queue before
    /// then and the live callers with a higher score are ahead.
    pub fn for_caller(
        svc: &CallbackService,
        queue: &str,
        joined_epoch: i64,
    ) -> Result<Self, Error> {
        let ahead = waiting_callbacks(svc, queue)?
            .iter()
            .filter(|c| joined(c).unwrap_or(c.created_at.timestamp()) < joined_epoch)
            .count();
        Self::build(svc, queue, ahead + 1, Since::Epoch(joined_epoch))
    }

    /// The estimates of the live callers waiting in the contact centre's queue linked to
    /// `queue` (none without `agents-from`), with each caller's call: the centre read once.
    pub fn for_callers(
        svc: &CallbackService,
        queue: &str,
    ) -> Result<Vec<(CentreMember, Estimate)>, Error> {
        let ctx = Context::read(svc, queue)?;
        let Some(centre) = &ctx.centre else {
            return Ok(Vec::new());
        };
        let callbacks: Vec<i64> = waiting_callbacks(svc, queue)?
            .iter()
            .map(|c| joined(c).unwrap_or(c.created_at.timestamp()))
            .collect();
        let waiting: Vec<&CentreMember> = centre.members.iter().filter(|m| m.waiting()).collect();
        Ok(waiting
            .iter()
            .zip(places_in_line(&centre.members, &callbacks))
            .map(|(m, (live, cbs))| ((*m).clone(), ctx.estimate(cbs + 1, live)))
            .collect())
    }

    /// The estimates of the live callers waiting in the holding line `callers` (a fifo's,
    /// read by the host) that feeds `queue`, with each caller: the callers of a lower
    /// slot or earlier in the same slot, and the queue's callbacks whose callers would
    /// have been served before it there ([`callbacks_ahead_in_line`]), are ahead; the
    /// queue's agents and its own recent handling time make the wait (a fifo tells
    /// neither).
    pub fn for_line_callers(
        svc: &CallbackService,
        queue: &str,
        callers: &[LineCaller],
    ) -> Result<Vec<(LineCaller, Estimate)>, Error> {
        let ctx = Context::read(svc, queue)?;
        let callbacks = line_callbacks(svc, queue)?;
        Ok(callers
            .iter()
            .map(|c| {
                let live = crate::line::ahead(callers, c.slot, c.joined_epoch);
                let cbs = callbacks_ahead_in_line(&callbacks, c.slot, c.joined_epoch);
                (c.clone(), ctx.estimate(cbs + 1, live))
            })
            .collect())
    }

    /// The estimate for a caller who waited in priority slot `slot` of a holding line since
    /// `joined_epoch` and has just left it for a callback of `queue`: by the rule of
    /// [`Estimate::for_line_callers`], `callers` being the line's callers still waiting
    /// (the one leaving is no longer among them).
    pub fn for_line_place(
        svc: &CallbackService,
        queue: &str,
        callers: &[LineCaller],
        slot: u32,
        joined_epoch: i64,
    ) -> Result<Self, Error> {
        let ctx = Context::read(svc, queue)?;
        let cbs = callbacks_ahead_in_line(&line_callbacks(svc, queue)?, slot, joined_epoch);
        Ok(ctx.estimate(cbs + 1, crate::line::ahead(callers, slot, joined_epoch)))
    }

    /// Keeps in a callback taken from a queue (`req`, of a queue, its caller joined the
    /// queue it `left` at `joined_epoch`) the wait estimated for it now, when handling
    /// history made one: the dispatcher measures it against the wait that happens. For a
    /// contact centre's queue its live callers ahead come from the centre; for a holding
    /// line from the line's callers still waiting, read from the host now (no figure when
    /// they cannot be read: a place without them would be a guess). No figure is no
    /// refusal: the callback is stored all the same.
    pub fn keep(
        svc: &CallbackService,
        req: &mut crate::service::NewRequest,
        left: Left<'_>,
        joined_epoch: i64,
    ) {
        let Some(queue) = req.queue.clone() else {
            return;
        };
        let estimate = match left {
            Left::Centre => Self::for_caller(svc, &queue, joined_epoch).map_err(|e| e.to_string()),
            Left::Line { line, slot } => svc
                .host()
                .line_callers(line)
                .map_err(|e| format!("the holding line {line} not read: {e}"))
                .and_then(|callers| {
                    Self::for_line_place(svc, &queue, &callers, slot, joined_epoch)
                        .map_err(|e| e.to_string())
                }),
        };
        match estimate {
            Ok(e) if e.from_history => {
                req.ivr_data
                    .insert(ESTIMATE_KEY.into(), e.seconds().to_string());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("no wait estimate for a caller leaving {queue}: {e}"),
        }
    }

    fn build(
        svc: &CallbackService,
        queue: &str,
        callbacks_place: usize,
        since: Since,
    ) -> Result<Self, Error> {
        let ctx = Context::read(svc, queue)?;
        let live_ahead = ctx.centre.as_ref().map_or(0, |c| match since {
            Since::Now => c.members.iter().filter(|m| m.waiting()).count(),
            Since::Epoch(j) => centre::ahead(&c.members, j),
        });
        Ok(ctx.estimate(callbacks_place, live_ahead))
    }

    /// The wait in whole seconds (for APIs).
    pub fn seconds(&self) -> u64 {
        u64::try_from(self.wait.num_seconds()).unwrap_or(0)
    }

    /// The wait in whole minutes as a caller hears it: at least one.
    /// The wait in whole minutes, at least 1 and at most [`MAX_MINUTES`] (what a prompt
    /// says and the in-queue offer's application takes).
    pub fn minutes(&self) -> u32 {
        let m = (self.wait.num_seconds().max(0) as u64).div_ceil(60).max(1);
        u32::try_from(m).map_or(MAX_MINUTES, |m| m.min(MAX_MINUTES))
    }
}

/// For each waiting member of the centre's queue, in the list's order: how many other
/// callers are ahead of it by the centre's score (`centre::ahead` over the list without
/// its own call's rows) and how many of the callbacks (their callers' join times,
/// `callback_joins`) joined before it. The lists are sorted once and each caller looks its
/// place up, so a dispatcher turn over a long line costs n log n, not n² (with a copy of
/// the list per caller).
fn places_in_line(members: &[CentreMember], callback_joins: &[i64]) -> Vec<(usize, usize)> {
    let waiting = || members.iter().filter(|m| m.waiting());
    let mut keys: Vec<i64> = waiting().map(CentreMember::line_key).collect();
    keys.sort_unstable();
    // A call's own rows are not ahead of it (a call is in a queue's list once, but the
    // centre's list is the host's text).
    let mut by_call: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for m in waiting() {
        by_call
            .entry(m.session_uuid.as_str())
            .or_default()
            .push(m.line_key());
    }
    for v in by_call.values_mut() {
        v.sort_unstable();
    }
    let mut joins = callback_joins.to_vec();
    joins.sort_unstable();
    waiting()
        .map(|m| {
            let key = m.line_key();
            let below = |v: &[i64]| v.partition_point(|k| *k < key);
            let own = by_call.get(m.session_uuid.as_str()).map_or(0, |v| below(v));
            (
                below(&keys) - own,
                joins.partition_point(|j| *j < m.joined_epoch),
            )
        })
        .collect()
}

/// The queue a caller left for a callback, for its estimate ([`Estimate::keep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left<'a> {
    /// The contact centre's queue linked to the callback's queue (`agents-from`).
    Centre,
    /// The holding line `line` (a fifo), where the caller waited in priority slot `slot`.
    Line { line: &'a str, slot: u32 },
}

/// The waiting callbacks of `queue` as a holding line places them: a callback taken from
/// a line by its slot and its caller's join time there, any other by when it was made
/// (no slot).
fn line_callbacks(svc: &CallbackService, queue: &str) -> Result<Vec<(Option<u32>, i64)>, Error> {
    Ok(waiting_callbacks(svc, queue)?
        .iter()
        .map(|c| match (c.ivr_data.get(LINE_KEY), line_place(c)) {
            (Some(_), Some((slot, joined))) => (Some(slot), joined),
            _ => (None, c.created_at.timestamp()),
        })
        .collect())
}

/// How many of `callbacks` ([`line_callbacks`]) would be served before a caller of the
/// line in `slot` since `joined_epoch`: those of a lower slot, or of the same slot whose
/// callers joined no later (a tie in slot and second goes to the callback, as the
/// dispatcher keeps it); one made otherwise if it was made before the caller joined.
fn callbacks_ahead_in_line(
    callbacks: &[(Option<u32>, i64)],
    slot: u32,
    joined_epoch: i64,
) -> usize {
    callbacks
        .iter()
        .filter(|(s, joined)| match s {
            Some(s) => *s < slot || (*s == slot && *joined <= joined_epoch),
            None => *joined < joined_epoch,
        })
        .count()
}

/// The slot and join time of a callback taken from a holding line.
fn line_place(r: &CallbackRequest) -> Option<(u32, i64)> {
    let slot = r.ivr_data.get(LINE_SLOT_KEY)?.parse().ok()?;
    Some((slot, r.ivr_data.get(JOINED_KEY)?.parse().ok()?))
}

/// When a callback taken from the centre's queue joined it.
fn joined(r: &CallbackRequest) -> Option<i64> {
    r.ivr_data.get(CENTRE_QUEUE_KEY)?;
    r.ivr_data.get(JOINED_KEY)?.parse().ok()
}

/// The callbacks of `queue` waiting for an agent.
fn waiting_callbacks(svc: &CallbackService, queue: &str) -> Result<Vec<CallbackRequest>, Error> {
    let mut out = Vec::new();
    for state in [State::Requested, State::Scheduled, State::Rescheduled] {
        out.extend(svc.list(&ListFilter {
            queue: Some(queue.to_string()),
            state: Some(state),
            ..ListFilter::default()
        })?);
    }
    Ok(out)
}

/// 1 + the waiting callbacks of `r`'s queue ahead of it: by the time their callers joined
/// the centre's queue when both were taken from it, else by due time (then by id).
fn place(svc: &CallbackService, r: &CallbackRequest) -> Result<usize, Error> {
    let key = |c: &CallbackRequest| match (joined(c), joined(r)) {
        (Some(a), Some(_)) => (Some(a), None, c.id),
        _ => (None, c.due_at, c.id),
    };
    let mine = key(r);
    let ahead = waiting_callbacks(svc, &r.queue)?
        .iter()
        .filter(|c| key(c) < mine)
        .count();
    Ok(ahead + 1)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_wait_from_huge_centre_figures_saturates_and_is_told_in_at_most_999_minutes() {
        // Handling times read from the contact centre can be anything: the rule neither
        // panics nor overflows, and the minutes stay what the offer's application takes.
        let w = wait_at(usize::MAX, Duration::seconds(i64::MAX / 1000), 1);
        assert_eq!(w, Duration::seconds(i64::MAX / 1000));
        let e = Estimate {
            place: 3,
            live_ahead: 0,
            wait: Duration::hours(40),
            from_history: true,
        };
        assert_eq!(e.minutes(), MAX_MINUTES);
        assert!(crate::offer::parse_minutes(&e.minutes().to_string()).is_ok());
    }
    use super::*;

    #[test]
    fn a_caller_hears_whole_minutes_and_never_zero() {
        // 61 s is "about 2 minutes"; 0 s is still "about 1 minute"; 300 s is 5.
        let e = |s| Estimate {
            place: 1,
            live_ahead: 0,
            wait: Duration::seconds(s),
            from_history: true,
        };
        assert_eq!(e(61).minutes(), 2);
        assert_eq!(e(0).minutes(), 1);
        assert_eq!(e(300).minutes(), 5);
    }

    #[test]
    fn a_place_waits_its_share_of_the_handling_behind_the_free_agents() {
        // 20 agents, 30 s a call: place 40 waits 60 s; with 5 free the first 5 go at once
        // and place 25 waits as place 20 does; one agent serves each place in turn.
        let per = Duration::seconds(30);
        let line = |place, free| Line {
            place,
            agents: 20,
            free,
        };
        assert_eq!(wait_in(line(40, 0), per), Duration::seconds(60));
        assert_eq!(wait_in(line(5, 5), per), Duration::zero());
        assert_eq!(wait_in(line(25, 5), per), Duration::seconds(30));
        assert_eq!(wait_at(3, per, 1), Duration::seconds(90));
        assert_eq!(
            wait_at(3, per, 0),
            Duration::seconds(90),
            "no agent counts as one"
        );
    }

    proptest::proptest! {
        #[test]
        fn each_callers_place_is_the_per_caller_rule_computed_once(
            rows in proptest::collection::vec(
                (0u8..6, 0i64..40, -5i64..5, 0i64..3, proptest::bool::weighted(0.8)),
                0..40,
            ),
            joins in proptest::collection::vec(0i64..40, 0..10),
        ) {
            // Any centre list (calls listed twice, base scores, callers no longer
            // waiting) and any callbacks: the places looked up in the sorted lists are
            // what the rule gives each caller against a copy of the others.
            let members: Vec<CentreMember> = rows
                .iter()
                .map(|(call, joined, base, skill, waiting)| CentreMember {
                    queue: "sales@default".into(),
                    session_uuid: format!("call-{call}"),
                    joined_epoch: *joined,
                    base_score: *base,
                    skill_score: *skill,
                    state: if *waiting { "Waiting" } else { "Answered" }.into(),
                })
                .collect();
            let rule: Vec<(usize, usize)> = members
                .iter()
                .filter(|m| m.waiting())
                .map(|m| {
                    let others: Vec<CentreMember> = members
                        .iter()
                        .filter(|o| o.session_uuid != m.session_uuid)
                        .cloned()
                        .collect();
                    (
                        centre::ahead(&others, m.joined_epoch - m.base_score - m.skill_score),
                        joins.iter().filter(|j| **j < m.joined_epoch).count(),
                    )
                })
                .collect();
            proptest::prop_assert_eq!(places_in_line(&members, &joins), rule);
        }
    }

    #[test]
    fn the_centres_handling_comes_before_the_queues_own() {
        // The centre's talk plus wrap-up per call when it answered any; else the queue's
        // own recent handling; else none (the stand-in is the caller's).
        let centre = Staffing {
            able: 2,
            free: 0,
            calls: 10,
            talk_secs: 1200,
            wrap_up_secs: 20,
        };
        let own = Some(Duration::seconds(200));
        assert_eq!(handling(own, Some(&centre)), Some(Duration::seconds(130)));
        let none_yet = Staffing {
            calls: 0,
            talk_secs: 0,
            ..centre
        };
        assert_eq!(handling(own, Some(&none_yet)), own);
        assert_eq!(handling(None, Some(&none_yet)), None);
        assert_eq!(handling(own, None), own);
    }
}
