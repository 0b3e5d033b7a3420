//! The estimated wait of a callback that goes out as soon as an agent is free: its place
//! among the waiting callbacks of its queue, and that many times the queue's recent
//! handling time, shared by the agents who serve the queue. One rule for every door that
//! tells a caller or client (the IVR's read-back, the REST API's `estimated_wait_seconds`).

use crate::model::{CallbackRequest, State};
use crate::service::{CallbackService, Error};
use crate::store::ListFilter;
use chrono::Duration;

/// How many of the queue's latest handled callbacks the handling time is taken over.
const RECENT: usize = 50;

/// The handling time assumed for a queue that has handled none yet.
pub const WITHOUT_HISTORY: Duration = Duration::minutes(5);

/// Where a callback stands and about how long until an agent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// 1 + the callbacks of the same queue waiting ahead of it (due before it, then by id).
    pub place: usize,
    /// About how long until an agent calls.
    pub wait: Duration,
    /// Whether the queue's own recent handling times made it (else [`WITHOUT_HISTORY`]
    /// stood in, and a caller is better told no figure).
    pub from_history: bool,
}

impl Estimate {
    /// The estimate for waiting callback `r`.
    pub fn of(svc: &CallbackService, r: &CallbackRequest) -> Result<Self, Error> {
        Self::at_place(svc, &r.queue, place(svc, r)?)
    }

    /// The estimate for a callback of `queue` at `place` in line (a new request: the
    /// waiting ones + 1).
    pub fn at_place(svc: &CallbackService, queue: &str, place: usize) -> Result<Self, Error> {
        let history = svc.store().handling_time(queue, RECENT)?;
        let per = history.unwrap_or(WITHOUT_HISTORY).num_seconds().max(1);
        let agents = svc
            .config()
            .agents
            .iter()
            .filter(|a| a.serves(queue))
            .count()
            .max(1);
        Ok(Self {
            place,
            wait: wait_at(place, Duration::seconds(per), agents),
            from_history: history.is_some(),
        })
    }

    /// The wait in whole seconds (for APIs).
    pub fn seconds(&self) -> u64 {
        u64::try_from(self.wait.num_seconds()).unwrap_or(0)
    }

    /// The wait in whole minutes as a caller hears it: at least one.
    pub fn minutes(&self) -> u32 {
        let m = (self.wait.num_seconds().max(0) as u64).div_ceil(60).max(1);
        u32::try_from(m).unwrap_or(u32::MAX)
    }
}

/// The rule itself: `place` times the handling time `per` call, shared by `agents`
/// (at least one); the queue bench measures its error against the wait that happened.
pub fn wait_at(place: usize, per: Duration, agents: usize) -> Duration {
    let per = per.num_seconds().max(1) as u64;
    let secs = (per * place as u64).div_ceil(agents.max(1) as u64);
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}

/// 1 + the waiting callbacks of `r`'s queue due before it (then by id).
fn place(svc: &CallbackService, r: &CallbackRequest) -> Result<usize, Error> {
    let key = |c: &CallbackRequest| (c.due_at, c.id);
    let mut ahead = 0;
    for state in [State::Requested, State::Scheduled, State::Rescheduled] {
        let waiting = svc.list(&ListFilter {
            queue: Some(r.queue.clone()),
            state: Some(state),
            ..ListFilter::default()
        })?;
        ahead += waiting.iter().filter(|c| key(c) < key(r)).count();
    }
    Ok(ahead + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_hears_whole_minutes_and_never_zero() {
        // 61 s is "about 2 minutes"; 0 s is still "about 1 minute"; 300 s is 5.
        let e = |s| Estimate {
            place: 1,
            wait: Duration::seconds(s),
            from_history: true,
        };
        assert_eq!(e(61).minutes(), 2);
        assert_eq!(e(0).minutes(), 1);
        assert_eq!(e(300).minutes(), 5);
    }
}
