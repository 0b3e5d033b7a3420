//! What supervisors look at first, computed from the [`history`](crate::history): callbacks
//! due per hour (today and tomorrow) against the agents, promises kept per queue, customer
//! call outcomes per hour, how late agents were rung, and each agent's offers, accepts,
//! rejects and talk time. The operator view draws these; `/metrics` exports the promise
//! and overdue figures for Prometheus alerts.
//!
//! Pure functions of (entries, now, zone): the caller reads the history and picks the
//! callbacks the viewer may see.

use crate::history::Entry;
use crate::model::{AttemptResult, Leg};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// How late a callback may be taken before it counts as overdue: the dispatcher takes a
/// due callback within seconds, so a minute late is a backlog, not scheduling noise.
pub const OVERDUE_AFTER: Duration = Duration::minutes(1);

/// The outcome groups of the outcomes chart, in drawing order.
pub const OUTCOMES: &[&str] = &["answered", "no-answer", "busy", "machine", "failed"];

/// Upper bounds (seconds) of the lateness chart's bars; the last bar is "more".
pub const LATENESS_BOUNDS: &[(i64, &str)] = &[
    (60, "≤1 min"),
    (300, "1–5 min"),
    (900, "5–15 min"),
    (1800, "15–30 min"),
    (3600, "30–60 min"),
];

/// One hour of the due chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueHour {
    pub start: DateTime<Utc>,
    /// The local hour, `HH:00`, and its day (`today` / `tomorrow`).
    pub label: String,
    pub day: &'static str,
    /// Promised in this hour and still waiting.
    pub waiting: u64,
    /// Promised in this hour and already dialled, finished or being dispatched.
    pub handled: u64,
}

/// Kept promises out of those that can be told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub kept: u64,
    pub total: u64,
}

impl Kept {
    fn add(&mut self, kept: bool) {
        self.total += 1;
        if kept {
            self.kept += 1;
        }
    }

    /// The share kept, when any promise can be told.
    pub fn ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.kept as f64 / self.total as f64)
    }
}

/// One queue's promises, today (since local midnight) and over the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promises {
    pub queue: String,
    pub today: Kept,
    pub week: Kept,
}

/// Customer calls that ended in one hour of today, by outcome group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeHour {
    pub start: DateTime<Utc>,
    pub label: String,
    pub counts: BTreeMap<&'static str, u64>,
}

/// One bar of the lateness chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatenessBar {
    pub label: &'static str,
    pub count: u64,
}

/// One agent's callbacks today.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentFigures {
    pub agent: String,
    /// Times rung with a callback.
    pub offers: u64,
    /// Offers that led to the customer being dialled.
    pub accepts: u64,
    /// Offers the agent turned down (key 9, hung up in the preview).
    pub rejects: u64,
    /// Seconds talking to customers (answered customer legs).
    pub talk_seconds: i64,
}

/// The operator view's charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charts {
    pub now: DateTime<Utc>,
    pub time_zone: String,
    pub promise_minutes: i64,
    pub due: Vec<DueHour>,
    /// Agents who serve the queues shown, and of them those ready now: the due chart's
    /// lines (agents have no shift plan here; these are the staffing at hand).
    pub agents_configured: u64,
    pub agents_ready: u64,
    pub promises: Vec<Promises>,
    pub outcomes: Vec<OutcomeHour>,
    pub lateness: Vec<LatenessBar>,
    pub agents: Vec<AgentFigures>,
}

/// The first instant of `date` in `zone` (local midnight, or the first local minute that
/// exists where a DST change skips midnight).
pub fn start_of_day(zone: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..24 * 60).find_map(|m| {
        zone.from_local_datetime(&(midnight + Duration::minutes(m)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Today's first instant in `zone`.
pub fn today(zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    start_of_day(zone, now.with_timezone(&zone).date_naive()).unwrap_or(now)
}

/// The outcome group of a customer leg's result.
pub fn outcome_group(r: AttemptResult) -> &'static str {
    match r {
        AttemptResult::Answered => "answered",
        AttemptResult::NoAnswer => "no-answer",
        AttemptResult::Busy => "busy",
        AttemptResult::Machine | AttemptResult::MessageLeft => "machine",
        // Nobody confirmed being there: as good as unanswered.
        AttemptResult::NoKey => "no-answer",
        AttemptResult::Rejected | AttemptResult::WrongNumber | AttemptResult::Error => "failed",
    }
}

/// Promises kept per queue (sorted): since `today_start` and since `now - 7 days`, by the
/// promised time; `queues` are listed even without callbacks.
pub fn promises(
    entries: &[Entry],
    queues: &[String],
    grace: Duration,
    today_start: impl Fn(&str) -> DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Promises> {
    let mut by: BTreeMap<String, Promises> = queues
        .iter()
        .map(|q| {
            (
                q.clone(),
                Promises {
                    queue: q.clone(),
                    today: Kept::default(),
                    week: Kept::default(),
                },
            )
        })
        .collect();
    let week = now - Duration::days(7);
    for e in entries {
        let (Some(promised), Some(kept)) = (e.promised_at(), e.promise_kept(grace, now)) else {
            continue;
        };
        if promised < week || promised > now {
            continue;
        }
        let q = &e.request.queue;
        let p = by.entry(q.clone()).or_insert_with(|| Promises {
            queue: q.clone(),
            today: Kept::default(),
            week: Kept::default(),
        });
        p.week.add(kept);
        if promised >= today_start(q) {
            p.today.add(kept);
        }
    }
    by.into_values().collect()
}

/// Waiting callbacks of each queue whose due time passed more than [`OVERDUE_AFTER`] ago
/// or that wait for a ready agent, and those due within the next hour (overdue included).
pub fn backlog(entries: &[Entry], now: DateTime<Utc>) -> BTreeMap<String, (u64, u64)> {
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.request.state.is_pending()) {
        let Some(due) = e.request.due_at else {
            continue;
        };
        let slot = by.entry(e.request.queue.clone()).or_default();
        // One that fell due and waits for a ready agent had its due time moved on a little
        // by each wait: its count of waits tells it is late.
        let waiting_for_agent =
            e.request.state == crate::model::State::Rescheduled && e.request.counts.waits > 0;
        if due < now - OVERDUE_AFTER || waiting_for_agent {
            slot.0 += 1;
        }
        if due <= now + Duration::hours(1) {
            slot.1 += 1;
        }
    }
    by
}

/// The charts over `entries` (already limited to what the viewer sees), in `zone`.
pub fn charts(
    entries: &[Entry],
    queues: &[String],
    zone: Tz,
    grace: Duration,
    (agents_configured, agents_ready): (u64, u64),
    now: DateTime<Utc>,
) -> Charts {
    let day0 = today(zone, now);
    let local = |t: DateTime<Utc>| t.with_timezone(&zone);
    let today_date = local(now).date_naive();

    // Hours of today and tomorrow, local, each an instant (a DST day has 23 or 25).
    let mut due: Vec<DueHour> = Vec::new();
    let mut t = day0;
    let end = start_of_day(zone, today_date + Duration::days(2)).unwrap_or(now + Duration::days(2));
    while t < end {
        let l = local(t);
        due.push(DueHour {
            start: t,
            label: format!("{:02}:00", l.hour()),
            day: if l.date_naive() == today_date {
                "today"
            } else {
                "tomorrow"
            },
            waiting: 0,
            handled: 0,
        });
        t += Duration::hours(1);
    }
    let hour_of = |hours: &[DateTime<Utc>], at: DateTime<Utc>| -> Option<usize> {
        let i = hours.partition_point(|s| *s <= at);
        (i > 0 && at < end).then(|| i - 1)
    };
    let starts: Vec<DateTime<Utc>> = due.iter().map(|h| h.start).collect();
    for e in entries {
        // Withdrawn or settled without a call: no work for an agent in any hour.
        if matches!(
            e.request.state,
            crate::model::State::Cancelled | crate::model::State::Done
        ) {
            continue;
        }
        // Waiting ones by their due time (where they stand now), the rest by their promise.
        let (at, waiting) = if e.request.state.is_pending() {
            (e.request.due_at, true)
        } else {
            (e.promised_at(), false)
        };
        if let Some(i) = at.and_then(|at| hour_of(&starts, at)) {
            if waiting {
                due[i].waiting += 1;
            } else {
                due[i].handled += 1;
            }
        }
    }

    // Today's customer calls by the hour they ended.
    let mut outcomes: Vec<OutcomeHour> = due
        .iter()
        .filter(|h| h.day == "today")
        .map(|h| OutcomeHour {
            start: h.start,
            label: h.label.clone(),
            counts: OUTCOMES.iter().map(|o| (*o, 0)).collect(),
        })
        .collect();
    let today_starts: Vec<DateTime<Utc>> = outcomes.iter().map(|h| h.start).collect();
    let mut lateness: Vec<LatenessBar> = LATENESS_BOUNDS
        .iter()
        .map(|(_, label)| LatenessBar { label, count: 0 })
        .chain(std::iter::once(LatenessBar {
            label: "> 1 h",
            count: 0,
        }))
        .collect();
    let mut agents: BTreeMap<String, AgentFigures> = BTreeMap::new();
    for e in entries {
        for a in e.attempts.iter().filter(|a| a.started_at >= day0) {
            if let (Leg::Customer, Some(r), Some(ended)) = (a.leg, a.result, a.ended_at) {
                if let Some(i) = hour_of(&today_starts, ended) {
                    if let Some(h) = outcomes.get_mut(i) {
                        *h.counts.entry(outcome_group(r)).or_default() += 1;
                    }
                }
            }
            let Some(agent) = &a.agent else { continue };
            let f = agents.entry(agent.clone()).or_insert_with(|| AgentFigures {
                agent: agent.clone(),
                ..AgentFigures::default()
            });
            match a.leg {
                Leg::Agent => {
                    f.offers += 1;
                    if a.result == Some(AttemptResult::Rejected) {
                        f.rejects += 1;
                    }
                }
                Leg::Customer => {
                    f.accepts += 1;
                    if let (Some(from), Some(to)) = (a.answered_at, a.ended_at) {
                        f.talk_seconds += (to - from).num_seconds().max(0);
                    }
                }
            }
        }
        // How late the first agent was rung for it, when that was today.
        if let (Some(ring), Some(promised)) = (e.first_ring(), e.promised_at()) {
            if ring.started_at >= day0 {
                let late = (ring.started_at - promised).num_seconds().max(0);
                let i = LATENESS_BOUNDS
                    .iter()
                    .position(|(b, _)| late <= *b)
                    .unwrap_or(LATENESS_BOUNDS.len());
                lateness[i].count += 1;
            }
        }
    }

    Charts {
        now,
        time_zone: zone.name().to_string(),
        promise_minutes: grace.num_minutes(),
        due,
        agents_configured,
        agents_ready,
        promises: promises(entries, queues, grace, |_| day0, now),
        outcomes,
        lateness,
        agents: agents.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, CallbackRequest, CallbackType, State};

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    fn entry(id: i64, state: State, due: DateTime<Utc>, legs: Vec<Attempt>) -> Entry {
        Entry {
            request: CallbackRequest {
                id,
                kind: CallbackType::Scheduled,
                desired_at: Some(due),
                state,
                created_at: due - Duration::hours(1),
                ..CallbackRequest::example(due)
            },
            attempts: legs,
        }
    }

    fn leg(
        id: i64,
        leg: Leg,
        agent: &str,
        start: DateTime<Utc>,
        result: AttemptResult,
        talk: i64,
    ) -> Attempt {
        Attempt {
            id,
            callback_id: 1,
            leg,
            attempt_no: 1,
            agent: Some(agent.into()),
            call_uuid: None,
            started_at: start,
            answered_at: (talk > 0).then(|| start + Duration::seconds(5)),
            ended_at: Some(start + Duration::seconds(5 + talk)),
            hangup_cause: None,
            result: Some(result),
            disposition: None,
            note: None,
        }
    }

    #[test]
    fn the_charts_count_hours_outcomes_lateness_and_agents() {
        // New York falls back on 2026-11-01: that day has 25 hours. A callback rung 10
        // minutes late lands in the 5–15 min band; a wrong number counts as failed; agent
        // 1001's offers, reject, accept and talk time add up; a cancelled callback is not
        // drawn; a waiting one is drawn at its due hour, tomorrow's in tomorrow's hours.
        let zone: Tz = "America/New_York".parse().unwrap();
        let now = at(1, 20, 0); // 15:00 local, after the change
        let late = entry(
            1,
            State::Completed,
            at(1, 14, 0),
            vec![
                leg(
                    1,
                    Leg::Agent,
                    "1001",
                    at(1, 14, 10),
                    AttemptResult::Rejected,
                    0,
                ),
                leg(
                    2,
                    Leg::Agent,
                    "1001",
                    at(1, 14, 11),
                    AttemptResult::Answered,
                    30,
                ),
                leg(
                    3,
                    Leg::Customer,
                    "1001",
                    at(1, 14, 12),
                    AttemptResult::Answered,
                    120,
                ),
            ],
        );
        let wrong = entry(
            2,
            State::Failed,
            at(1, 15, 0),
            vec![
                leg(
                    4,
                    Leg::Agent,
                    "1002",
                    at(1, 15, 0),
                    AttemptResult::Answered,
                    10,
                ),
                leg(
                    5,
                    Leg::Customer,
                    "1002",
                    at(1, 15, 1),
                    AttemptResult::WrongNumber,
                    0,
                ),
            ],
        );
        let gone = entry(3, State::Cancelled, at(1, 16, 0), vec![]);
        let waiting = entry(4, State::Scheduled, at(2, 15, 30), vec![]);
        let c = charts(
            &[late, wrong, gone, waiting],
            &["support".to_string()],
            zone,
            Duration::minutes(15),
            (3, 2),
            now,
        );
        assert_eq!(c.due.len(), 25 + 24);
        assert_eq!(c.due.iter().filter(|h| h.day == "today").count(), 25);
        let handled: Vec<(&str, u64)> = c
            .due
            .iter()
            .filter(|h| h.handled > 0)
            .map(|h| (h.label.as_str(), h.handled))
            .collect();
        assert_eq!(handled, [("09:00", 1), ("10:00", 1)]);
        let waiting: Vec<(&str, &str, u64)> = c
            .due
            .iter()
            .filter(|h| h.waiting > 0)
            .map(|h| (h.day, h.label.as_str(), h.waiting))
            .collect();
        assert_eq!(waiting, [("tomorrow", "10:00", 1)]);
        let outcomes: u64 = c.outcomes.iter().map(|h| h.counts["failed"]).sum();
        assert_eq!(outcomes, 1);
        assert_eq!(
            c.outcomes.iter().map(|h| h.counts["answered"]).sum::<u64>(),
            1
        );
        let bands: Vec<u64> = c.lateness.iter().map(|b| b.count).collect();
        assert_eq!(bands, [1, 0, 1, 0, 0, 0]);
        assert_eq!(
            c.agents[0],
            AgentFigures {
                agent: "1001".into(),
                offers: 2,
                accepts: 1,
                rejects: 1,
                talk_seconds: 120,
            }
        );
        assert_eq!(c.promises[0].today, Kept { kept: 2, total: 2 });
        assert_eq!((c.agents_configured, c.agents_ready), (3, 2));
    }

    #[test]
    fn today_starts_at_the_first_local_time_that_exists() {
        // Chile moved its clocks from 00:00 to 01:00 on 2022-09-11: no local midnight.
        let zone: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = start_of_day(zone, day).unwrap();
        assert_eq!(start, Utc.with_ymd_and_hms(2022, 9, 11, 4, 0, 0).unwrap());
        assert_eq!(
            start.with_timezone(&zone).naive_local(),
            day.and_hms_opt(1, 0, 0).unwrap()
        );
        // An ordinary day: midnight.
        let day = NaiveDate::from_ymd_opt(2022, 9, 12).unwrap();
        assert_eq!(
            start_of_day(zone, day).unwrap(),
            Utc.with_ymd_and_hms(2022, 9, 12, 3, 0, 0).unwrap()
        );
    }
}
