//! Keeping a callback's place among the live callers of the queue it was taken from: how
//! many wait ahead of it in the contact centre (mod_callcenter's members by score) or the
//! holding line (mod_fifo's callers by slot and join time), the centre's agents kept in
//! step with the module's (claimed, on a call, free), and the agents held for a callback at
//! the front of the line. The loop in `scheduler.rs` asks; the rules are
//! [`crate::centre`] and [`crate::line`].

use super::{Dispatcher, HOLD_SECS};
use crate::host::{CentreMark, CentreTable};
use crate::model::{CallbackRequest, State};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::PoisonError;

/// The contact-centre agents held this turn: by the centre's queue, each free one with the
/// join time of the callback its place is kept for, in line order, and those held in
/// reserve; and the centre's queues whose line was read this turn.
#[derive(Debug, Default)]
pub(super) struct HeldPlaces {
    pub(super) holding: bool,
    by_queue: BTreeMap<String, Vec<(i64, String)>>,
    reserve: std::collections::BTreeSet<String>,
    read: std::collections::BTreeSet<String>,
}

impl HeldPlaces {
    /// Every agent held for a callback's place or in reserve.
    pub(super) fn agents(&self) -> std::collections::BTreeSet<String> {
        self.by_queue
            .values()
            .flatten()
            .map(|(_, agent)| agent.clone())
            .chain(self.reserve.iter().cloned())
            .collect()
    }

    /// Whether due callback `r` keeps a place in a centre's line read this turn: it takes
    /// no centre agent but the one held for it (any other is the centre's to give a live
    /// caller, or held for another place).
    pub(super) fn keeps_place(&self, r: &CallbackRequest) -> bool {
        r.ivr_data
            .get(crate::handover::CENTRE_QUEUE_KEY)
            .is_some_and(|q| self.read.contains(q) && place_in(r, q).is_some())
    }

    /// The agent held for due callback `r`'s place (once: a second callback whose caller
    /// joined in the same second gets the next one).
    pub(super) fn agent_for(&mut self, r: &CallbackRequest) -> Option<String> {
        use crate::handover::{CENTRE_QUEUE_KEY, JOINED_KEY};
        let queue = r.ivr_data.get(CENTRE_QUEUE_KEY)?;
        let joined: i64 = r.ivr_data.get(JOINED_KEY)?.parse().ok()?;
        let held = self.by_queue.get_mut(queue)?;
        let at = held.iter().position(|(j, _)| *j == joined)?;
        Some(held.remove(at).1)
    }
}

/// The join time of callback `r`'s caller if it keeps a place in the centre's queue
/// `centre_q`: taken from it, and immediate (as a hand-over makes them; one moved to a
/// later time by a reschedule is scheduled and keeps none).
fn place_in(r: &CallbackRequest, centre_q: &str) -> Option<i64> {
    use crate::handover::{CENTRE_QUEUE_KEY, JOINED_KEY};
    if r.ivr_data.get(CENTRE_QUEUE_KEY).map(String::as_str) != Some(centre_q)
        || r.kind != crate::model::CallbackType::Immediate
    {
        return None;
    }
    r.ivr_data.get(JOINED_KEY)?.parse().ok()
}

/// The join time of waiting callback `r`'s caller if agents are to be held for its place
/// in the centre's queue `centre_q` at `now`: it keeps a place ([`place_in`]) and is due
/// within a hold. One the dispatcher moved on for longer (to the customer's window or the
/// legal hours, the queue's opening, its transcript, a re-offer delay longer than a hold)
/// holds no agent meanwhile: it could not take one, and the centre's callers behind it
/// would wait on it. It is back in its place in line once due again.
fn held_for(r: &CallbackRequest, centre_q: &str, now: DateTime<Utc>) -> Option<i64> {
    if r.due_at
        .is_some_and(|due| due > now + chrono::Duration::seconds(HOLD_SECS))
    {
        return None;
    }
    place_in(r, centre_q)
}

impl Dispatcher {
    /// How many live callers of the contact-centre queue callback `r` was taken from are
    /// ahead of its caller's place (`crate::centre::ahead`); 0 for a callback from no such
    /// queue, or when the centre's member list cannot be read (logged: the callback is
    /// then served as any other rather than held without end).
    pub(super) fn ahead_in_centre(
        &self,
        r: &CallbackRequest,
        cache: &mut BTreeMap<String, Option<Vec<crate::centre::CentreMember>>>,
    ) -> usize {
        use crate::handover::{CENTRE_QUEUE_KEY, JOINED_KEY};
        let (Some(queue), Some(joined)) = (
            r.ivr_data.get(CENTRE_QUEUE_KEY),
            r.ivr_data
                .get(JOINED_KEY)
                .and_then(|j| j.parse::<i64>().ok()),
        ) else {
            return 0;
        };
        if r.state != State::Due {
            return 0;
        }
        let members = cache.entry(queue.clone()).or_insert_with(|| {
            let read = self
                .svc
                .host()
                .centre_table(CentreTable::Members(queue.clone()))
                .map_err(|e| e.to_string())
                .and_then(|t| crate::centre::queue_members(&t).map_err(|e| e.to_string()));
            match read {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(
                        callback_id = r.id,
                        "the callers of {queue} not read ({e}): the callback does not wait for them"
                    );
                    None
                }
            }
        });
        members
            .as_deref()
            .map_or(0, |m| crate::centre::ahead(m, joined))
    }

    /// How many live callers of the holding line callback `r` was taken from would be
    /// served before its caller (`crate::line::ahead`); 0 for a callback from no line, or
    /// when the line's callers cannot be read (logged: the callback is then served as any
    /// other rather than held without end).
    pub(super) fn ahead_in_line(
        &self,
        r: &CallbackRequest,
        cache: &mut BTreeMap<String, Option<Vec<crate::host::LineCaller>>>,
    ) -> usize {
        use crate::handover::{JOINED_KEY, LINE_KEY, LINE_SLOT_KEY};
        let number = |k: &str| r.ivr_data.get(k).and_then(|v| v.parse::<i64>().ok());
        let (Some(line), Some(joined), Some(slot)) = (
            r.ivr_data.get(LINE_KEY),
            number(JOINED_KEY),
            number(LINE_SLOT_KEY),
        ) else {
            return 0;
        };
        if r.state != State::Due {
            return 0;
        }
        let callers = cache.entry(line.clone()).or_insert_with(|| {
            match self.svc.host().line_callers(line) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(
                        callback_id = r.id,
                        "the callers of line {line} not read ({e}): the callback does not wait for them"
                    );
                    None
                }
            }
        });
        callers.as_deref().map_or(0, |c| {
            crate::line::ahead(c, u32::try_from(slot).unwrap_or(u32::MAX), joined)
        })
    }

    /// Reads the contact centre's agents and tiers and brings them into the pool. A centre
    /// that cannot be read keeps its agents from callbacks this turn (logged when that
    /// starts and when it ends, not every turn).
    pub(super) fn sync_centre(
        &self,
        links: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Option<(
        Vec<crate::centre::CentreAgent>,
        Vec<crate::centre::CentreTier>,
    )> {
        let host = self.svc.host();
        let read = host
            .centre_table(CentreTable::Agents)
            .map_err(|e| e.to_string())
            .and_then(|a| crate::centre::agents(&a).map_err(|e| e.to_string()))
            .and_then(|a| {
                host.centre_table(CentreTable::Tiers)
                    .map_err(|e| e.to_string())
                    .and_then(|t| crate::centre::tiers(&t).map_err(|e| e.to_string()))
                    .map(|t| (a, t))
            });
        let mut failing = self
            .centre_failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match read {
            Ok((agents, tiers)) => {
                if failing.take().is_some() {
                    tracing::info!("the contact centre's agents are read again");
                }
                let holds = self
                    .holds
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let (members, problems) =
                    crate::centre::members(&agents, &tiers, links, &holds, now.timestamp());
                for p in problems {
                    tracing::debug!("{p}: not offered callbacks");
                }
                // An agent the centre freed pulls its waiting callbacks forward, as one set
                // ready does.
                for id in self.agents.sync_centre(Some(&members), now) {
                    if let Err(e) = self.pull_forward(&id, now) {
                        tracing::warn!(
                            "agent {id} free: waiting callbacks not pulled forward: {e}"
                        );
                    }
                }
                Some((agents, tiers))
            }
            Err(e) => {
                if failing.as_deref() != Some(e.as_str()) {
                    tracing::warn!(
                        "contact-centre agents not read ({e}): none of them is offered a callback until they are"
                    );
                    *failing = Some(e);
                }
                self.agents.sync_centre(None, now);
                None
            }
        }
    }

    /// Keeps the place of callbacks taken from a contact-centre queue: the queue's agents
    /// are held ([`crate::centre::agents_to_hold`]: their ready time set a few seconds
    /// ahead, renewed each turn) so the centre gives the agents it frees only to the live
    /// callers ahead of a waiting callback; a free agent held for a callback is taken by
    /// it once nobody is ahead (not any other free one, which the centre may be giving a
    /// live caller at that moment), a held agent freed while a live caller is still ahead
    /// is let go to the centre at once, and a hold ends when no callback needs it.
    /// Returns the agents held, each free one with the callback it is held for.
    pub(super) fn keep_places(
        &self,
        links: &[(String, String)],
        agents: &[crate::centre::CentreAgent],
        tiers: &[crate::centre::CentreTier],
        now: DateTime<Utc>,
    ) -> HeldPlaces {
        let mut wanted = std::collections::BTreeSet::new();
        let mut places = HeldPlaces::default();
        // The holds this turn judges: one an agent freed from a callback gets meanwhile
        // ([`Self::hold_on_release`]) is judged at the next turn, not ended unseen.
        let judged: std::collections::BTreeSet<String> = self
            .holds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        // Only agents a callback can take are walked with the line (one whose entry cannot
        // be dialled, or set away here, is the centre's alone).
        let takeable = self.agents.centre_takeable();
        let walked: Vec<crate::centre::CentreAgent> = agents
            .iter()
            .filter(|a| takeable.contains(&a.name))
            .cloned()
            .collect();
        let table_ready = |name: &str| agents.iter().find(|a| a.name == name).map(|a| a.ready_time);
        for (ours, centre_q) in links {
            let joins = self.waiting_joins(ours, centre_q, now);
            if joins.is_empty() {
                continue;
            }
            let members = self
                .svc
                .host()
                .centre_table(CentreTable::Members(centre_q.clone()))
                .map_err(|e| e.to_string())
                .and_then(|t| crate::centre::queue_members(&t).map_err(|e| e.to_string()));
            match members {
                Ok(m) => {
                    // The free agents go down the line in the order they were freed, and
                    // enough busy ones are held that the centre cannot give a caller
                    // behind a waiting callback an agent before the next look.
                    let holds = self
                        .holds
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    let freed = self
                        .centre_freed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    let on_callback = self.agents.on_callback();
                    let held = crate::centre::agents_to_hold(
                        &walked,
                        tiers,
                        centre_q,
                        &m,
                        &joins,
                        crate::centre::Ours {
                            holds: &holds,
                            freed: &freed,
                            on_callback: &on_callback,
                        },
                        now.timestamp(),
                    );
                    wanted.extend(held.for_callbacks.iter().map(|(_, agent)| agent.clone()));
                    wanted.extend(held.reserve.iter().cloned());
                    places.read.insert(centre_q.clone());
                    places.reserve.extend(held.reserve);
                    places
                        .by_queue
                        .entry(centre_q.clone())
                        .or_default()
                        .extend(held.for_callbacks);
                }
                Err(e) => tracing::debug!("the callers of {centre_q} not read: {e}"),
            }
        }
        let host = self.svc.host();
        // An agent offered its callback and not yet claimed in the centre stays held: its
        // callback no longer waits in line, but until the claim the centre sees the agent
        // waiting and could give it a caller behind that callback.
        let claiming = self.agents.claiming();
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        holds.retain(|agent, h| {
            if wanted.contains(agent) || !judged.contains(agent) || claiming.contains(agent) {
                return true;
            }
            if !h.shown(table_ready(agent)) {
                return false;
            }
            if let Err(e) = host.centre_mark(agent, CentreMark::ReadyAt(h.before)) {
                tracing::warn!("contact-centre agent {agent}: hold not ended: {e}");
            }
            false
        });
        let until = now.timestamp() + HOLD_SECS;
        let mut not_held = std::collections::BTreeSet::new();
        for agent in wanted {
            let hold = crate::centre::Hold::renewed(
                holds.get(&agent),
                table_ready(&agent).unwrap_or(0),
                until,
            );
            match host.centre_mark(&agent, CentreMark::ReadyAt(hold.until)) {
                Ok(()) => {
                    holds.insert(agent, hold);
                }
                Err(e) => {
                    tracing::warn!("contact-centre agent {agent} not held: {e}");
                    not_held.insert(agent);
                }
            }
        }
        // An agent the centre was not told to hold may be given a live caller: no
        // callback counts on it.
        for held in places.by_queue.values_mut() {
            held.retain(|(_, agent)| !not_held.contains(agent));
        }
        places.reserve.retain(|agent| !not_held.contains(agent));
        places.holding = !holds.is_empty();
        places
    }

    /// The join times of the immediate callbacks of `queue` taken from the centre's
    /// `centre_q` that wait for an agent (not yet offered) and are due within a hold
    /// ([`held_for`]).
    pub(super) fn waiting_joins(
        &self,
        queue: &str,
        centre_q: &str,
        now: DateTime<Utc>,
    ) -> Vec<i64> {
        let mut joins = Vec::new();
        for state in [State::Scheduled, State::Rescheduled, State::Due] {
            let list = self.svc.store().list(&crate::store::ListFilter {
                queue: Some(queue.to_string()),
                state: Some(state),
                limit: Some(500),
                ..Default::default()
            });
            let Ok(list) = list else {
                continue;
            };
            joins.extend(list.iter().filter_map(|r| held_for(r, centre_q, now)));
        }
        joins
    }

    /// Holds contact-centre agent `id`, freed from a callback, when this node holds any
    /// agent for a callback's place (a callback waits in a centre's line): the next turn
    /// matches it with the line (and lets it go if a live caller is ahead). It was ready
    /// when it was offered the callback, so its own ready time is now.
    pub(super) fn hold_on_release(&self, id: &str, now: DateTime<Utc>) {
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        if holds.is_empty() || holds.contains_key(id) {
            return;
        }
        let until = now.timestamp() + HOLD_SECS;
        match self.svc.host().centre_mark(id, CentreMark::ReadyAt(until)) {
            Ok(()) => {
                holds.insert(
                    id.to_string(),
                    crate::centre::Hold {
                        until,
                        before: now.timestamp(),
                    },
                );
            }
            Err(e) => tracing::warn!("contact-centre agent {id} not held: {e}"),
        }
    }

    /// Ends every hold (the module stops): the agents' own ready times back.
    pub(super) fn end_holds(&self) {
        let host = self.svc.host();
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        for (agent, h) in std::mem::take(&mut *holds) {
            if let Err(e) = host.centre_mark(&agent, CentreMark::ReadyAt(h.before)) {
                tracing::warn!("contact-centre agent {agent}: hold not ended: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallbackType;
    use chrono::TimeZone;

    fn taken_from(centre_q: &str, kind: CallbackType) -> CallbackRequest {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap();
        CallbackRequest {
            id: 1,
            kind,
            queue: "sales".into(),
            ivr_data: [
                (
                    crate::handover::CENTRE_QUEUE_KEY.to_string(),
                    centre_q.to_string(),
                ),
                (crate::handover::JOINED_KEY.to_string(), "1000".to_string()),
            ]
            .into(),
            state: State::Due,
            ..CallbackRequest::example(now)
        }
    }

    #[test]
    fn only_an_immediate_callback_from_a_line_read_this_turn_keeps_its_place() {
        // An immediate callback from sales@default keeps its place when that line was read
        // (it then takes only the agent held for it); one moved to a later time (scheduled)
        // is in no line and is held for by no agent, so it must not wait for one; neither
        // does one whose centre's line could not be read.
        let mut places = HeldPlaces::default();
        places.read.insert("sales@default".into());
        let immediate = taken_from("sales@default", CallbackType::Immediate);
        assert!(places.keeps_place(&immediate));
        assert_eq!(place_in(&immediate, "sales@default"), Some(1000));
        let scheduled = taken_from("sales@default", CallbackType::Scheduled);
        assert!(!places.keeps_place(&scheduled));
        assert!(!places.keeps_place(&taken_from("support@default", CallbackType::Immediate)));
    }

    #[test]
    fn agents_are_held_only_for_a_place_due_within_a_hold() {
        // A callback waiting in its place (due now, or looking again in 2 s) has agents
        // held for it; one moved past a hold's length (to the customer's legal hours, a
        // queue's opening) holds none until it is due again, nor does a scheduled one.
        let mut r = taken_from("sales@default", CallbackType::Immediate);
        let now = r.due_at.unwrap();
        assert_eq!(held_for(&r, "sales@default", now), Some(1000));
        r.due_at = Some(now + chrono::Duration::seconds(2));
        assert_eq!(held_for(&r, "sales@default", now), Some(1000));
        r.due_at = Some(now + chrono::Duration::seconds(HOLD_SECS));
        assert_eq!(held_for(&r, "sales@default", now), Some(1000));
        r.due_at = Some(now + chrono::Duration::hours(11));
        assert_eq!(held_for(&r, "sales@default", now), None);
        assert_eq!(
            held_for(&r, "sales@default", now + chrono::Duration::hours(11)),
            Some(1000),
            "due again: back in its place"
        );
        let scheduled = taken_from("sales@default", CallbackType::Scheduled);
        assert_eq!(held_for(&scheduled, "sales@default", now), None);
    }
}
