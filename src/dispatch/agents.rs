//! Agents: who can take a callback, their state (ready / away / busy), and which one gets
//! the next offer. An agent is offered one callback at a time, whichever node offers it:
//! this node's picks are made here, in memory; before each dispatch turn the dispatcher
//! brings in what the store says of every node ([`Agents::sync`]): the ready/away last set
//! anywhere, and the agents another node has an agent leg open for (busy there). The
//! store's unique open agent leg per agent settles two nodes picking the same agent at the
//! same instant.
//!
//! Agents come from `<agents>` and, for queues with `agents-from`, from the PBX's contact
//! centre ([`Pool::sync_centre`], each turn): a centre agent is offered a callback only
//! when the centre would ring it a queue call, and while it rings and talks the centre
//! shows it busy (the dispatcher marks it; `claimed` here says to mark it free again).

use crate::config::AgentConfig;
use crate::store::AgentBoard;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::{Mutex, PoisonError};

crate::model::kind::named_enum!(
    /// An agent's availability.
    AgentState, "agent state", {
        Ready => "ready",
        Away => "away",
        Busy => "busy",
    }
);

crate::model::kind::named_enum!(
    /// How a queue picks among its ready agents.
    Strategy, "strategy", {
        LongestIdle => "longest-idle",
        RoundRobin => "round-robin",
    }
);

/// How an offer ended for the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The agent took the callback (whatever the customer did).
    Handled,
    /// Rejected (key 9) or did not answer: counts toward going away.
    Declined,
    /// Nothing the agent did (the preview was withdrawn, the module stopped).
    Withdrawn,
}

/// One agent as shown by `callback agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub id: String,
    pub state: AgentState,
    pub queues: Vec<String>,
    /// The callback offered to or handled by the agent now.
    pub callback: Option<i64>,
    pub idle_since: DateTime<Utc>,
    pub declined_in_row: u32,
    /// Why the contact centre keeps this agent from callbacks now (on a queue call, on
    /// break, ...), for a centre agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centre_busy: Option<String>,
}

#[derive(Debug)]
struct Slot {
    cfg: AgentConfig,
    state: AgentState,
    /// The state to go back to after a busy spell (away stays away).
    callback: Option<i64>,
    idle_since: DateTime<Utc>,
    declined_in_row: u32,
    /// Order of the last offer, for round robin.
    last_offer: u64,
    /// The callback another node has this agent on (an open agent leg), if any.
    elsewhere: Option<i64>,
    /// Made from the contact centre's agents (not in `<agents>`).
    from_centre: bool,
    /// The contact centre listed this agent at the last sync.
    in_centre: bool,
    /// Why the contact centre keeps the agent from callbacks now.
    outside: Option<String>,
    /// The centre was told this agent is on a callback (to be told it is free again).
    claimed: bool,
    /// The pool's [`Pool::stores`] count when this node last stored the agent's ready or
    /// away (0: never; [`PENDING`]: set here, not stored yet): a board read begun before
    /// that is older than this state.
    stored: u64,
}

impl Slot {
    /// A configured agent as it starts: ready or away as configured, idle since `now`.
    fn new(a: &AgentConfig, now: DateTime<Utc>) -> Self {
        Self {
            cfg: a.clone(),
            state: if a.start_ready {
                AgentState::Ready
            } else {
                AgentState::Away
            },
            callback: None,
            idle_since: now,
            declined_in_row: 0,
            last_offer: 0,
            elsewhere: None,
            from_centre: false,
            in_centre: false,
            outside: None,
            claimed: false,
            stored: 0,
        }
    }

    /// Ready, not busy on any node, and not kept by the contact centre.
    fn free(&self) -> bool {
        self.state == AgentState::Ready && self.elsewhere.is_none() && self.outside.is_none()
    }
}

/// [`Slot::stored`] of an agent whose ready or away was set here and is not stored yet:
/// every board read is older than it until [`Pool::stored`].
const PENDING: u64 = u64::MAX;

/// The agents of this node, shared by the dispatcher's threads: a [`Pool`] behind a lock.
#[derive(Debug)]
pub struct Agents {
    pool: Mutex<Pool>,
}

/// The agents' states and picks, plain data: the dispatcher's planning reads and changes
/// it under the [`Agents`] lock ([`Agents::with`]), and tests build one directly.
#[derive(Debug)]
pub struct Pool {
    slots: Vec<Slot>,
    /// Offers made so far, for round robin.
    seq: u64,
    /// Ready/away states this node has stored so far (see [`Pool::sync`]).
    stores: u64,
    /// Declines in a row that set an agent away (0: never).
    away_after: u32,
}

/// Why an agent's state could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("no agent '{0}' in callback.conf.xml")]
    Unknown(String),
    #[error("agent '{0}' is busy with callback {1}; the state changes when it ends")]
    Busy(String, i64),
    #[error("agent '{0}': the state was not stored: {1}")]
    NotStored(String, String),
}

impl Agents {
    pub fn new(agents: &[AgentConfig], away_after: u32, now: DateTime<Utc>) -> Self {
        Self {
            pool: Mutex::new(Pool::new(agents, away_after, now)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the pool under the lock: a dispatch turn's picks are made at once.
    pub fn with<R>(&self, f: impl FnOnce(&mut Pool) -> R) -> R {
        f(&mut self.lock())
    }

    /// Applies a reloaded `<agents>` list: see [`Pool::reconfigure`].
    pub fn reconfigure(
        &self,
        agents: &[AgentConfig],
        away_after: u32,
        now: DateTime<Utc>,
    ) -> (Vec<String>, Vec<String>) {
        self.lock().reconfigure(agents, away_after, now)
    }

    /// Sets an agent ready or away (busy is the dispatcher's to set).
    pub fn set_state(
        &self,
        id: &str,
        ready: bool,
        now: DateTime<Utc>,
    ) -> Result<AgentState, AgentError> {
        self.lock().set_state(id, ready, now)
    }

    /// Ready agents that could take a callback of `queue`.
    pub fn ready_for(&self, queue: &str) -> usize {
        self.lock().ready_for(queue)
    }

    /// Whether this node has no agents configured (it only captures; nothing to offer).
    pub fn is_empty(&self) -> bool {
        self.lock().slots.is_empty()
    }

    /// Ready agents in all.
    pub fn ready(&self) -> usize {
        self.lock().ready()
    }

    /// Picks a ready agent for a callback and marks it busy with it: `personal` only that
    /// agent; else one serving `queue`, by `strategy`.
    pub fn take(
        &self,
        callback: i64,
        queue: &str,
        personal: Option<&str>,
        strategy: Strategy,
    ) -> Option<AgentConfig> {
        self.lock().take(callback, queue, personal, strategy)
    }

    /// Ends an agent's busy spell. Returns true when this decline set the agent away.
    pub fn release(&self, id: &str, how: Released, now: DateTime<Utc>) -> bool {
        self.lock().release(id, how, now)
    }

    /// Whether a set of agents (`id` the one to check) may change state: not busy here or
    /// on another node. The dispatcher stores the change only then.
    pub fn check(&self, id: &str) -> Result<(), AgentError> {
        self.lock().check(id)
    }

    /// Brings in what the store says of every node, as `read` reads it (see
    /// [`Pool::sync`]): a state this node stores while the board is read is kept.
    pub fn sync<E>(
        &self,
        read: impl FnOnce() -> Result<AgentBoard, E>,
        now: DateTime<Utc>,
    ) -> Result<(), E> {
        let before = self.lock().stores();
        let board = read()?;
        self.lock().sync(&board, before, now);
        Ok(())
    }

    /// Says this node has stored agent `id`'s away or ready, set here before (see
    /// [`Pool::stored`]).
    pub fn stored(&self, id: &str) {
        self.lock().stored(id)
    }

    pub fn config(&self, id: &str) -> Option<AgentConfig> {
        self.lock().config(id)
    }

    /// Brings in the contact centre's agents (see [`Pool::sync_centre`]).
    pub fn sync_centre(
        &self,
        members: Option<&[crate::centre::Member]>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        self.lock().sync_centre(members, now)
    }

    /// Whether the contact centre knows this agent (its state is to be marked there).
    pub fn in_centre(&self, id: &str) -> bool {
        self.lock().slot(id).is_some_and(|s| s.in_centre)
    }

    /// Records that the centre was told this agent is on a callback.
    pub fn set_claimed(&self, id: &str) {
        if let Some(s) = self.lock().slot_mut(id) {
            s.claimed = true;
        }
    }

    /// The contact centre's agents offered a callback here whose claim the centre has not
    /// taken yet (the ring thread is about to send it): still waiting there, so a hold
    /// on one must last until the claim, or the centre could give it a caller first.
    pub fn claiming(&self) -> std::collections::BTreeSet<String> {
        self.lock()
            .slots
            .iter()
            .filter(|s| s.in_centre && s.callback.is_some() && !s.claimed)
            .map(|s| s.cfg.id.clone())
            .collect()
    }

    /// Whether the centre was told this agent is on a callback; clears it (the caller
    /// tells the centre the agent is free).
    pub fn unclaim(&self, id: &str) -> bool {
        self.lock()
            .slot_mut(id)
            .is_some_and(|s| std::mem::take(&mut s.claimed))
    }

    pub fn list(&self) -> Vec<AgentView> {
        self.lock().list()
    }

    /// The contact centre's agents a callback may go to: listed by the centre with an
    /// entry this node can dial, and not set away here. Only these are held for a
    /// callback's place: one held that no callback can take would idle held while the
    /// callback it was held for waits for it.
    pub fn centre_takeable(&self) -> std::collections::BTreeSet<String> {
        self.lock()
            .slots
            .iter()
            .filter(|s| s.in_centre && s.state != AgentState::Away)
            .map(|s| s.cfg.id.clone())
            .collect()
    }

    /// The agents offered or handling a callback now, on this node or another: the
    /// contact centre's table may still show one waiting while its claim is under way.
    pub fn on_callback(&self) -> std::collections::BTreeSet<String> {
        self.lock()
            .slots
            .iter()
            .filter(|s| s.callback.is_some() || s.elsewhere.is_some())
            .map(|s| s.cfg.id.clone())
            .collect()
    }
}

impl Pool {
    pub fn new(agents: &[AgentConfig], away_after: u32, now: DateTime<Utc>) -> Self {
        let slots = agents.iter().map(|a| Slot::new(a, now)).collect();
        Self {
            slots,
            seq: 0,
            stores: 0,
            away_after,
        }
    }

    /// Applies a reloaded `<agents>` list. An agent still configured keeps its state, its
    /// callback and its counters, with its new dial string and queues; a new agent starts
    /// as configured; one no longer configured is dropped, unless it is on a callback:
    /// then it keeps that call, is offered nothing more (no queues) and goes at the first
    /// reload after that call. Returns the ids added and removed.
    pub fn reconfigure(
        &mut self,
        agents: &[AgentConfig],
        away_after: u32,
        now: DateTime<Utc>,
    ) -> (Vec<String>, Vec<String>) {
        self.away_after = away_after;
        let mut removed = Vec::new();
        self.slots
            .retain_mut(|slot| match agents.iter().find(|a| a.id == slot.cfg.id) {
                Some(a) => {
                    slot.cfg = a.clone();
                    slot.from_centre = false;
                    true
                }
                // The contact centre's agents come and go with its tables, not this list.
                None if slot.from_centre => true,
                None => {
                    removed.push(slot.cfg.id.clone());
                    slot.cfg.queues.clear();
                    slot.callback.is_some()
                }
            });
        let mut added = Vec::new();
        for a in agents {
            if !self.slots.iter().any(|s| s.cfg.id == a.id) {
                added.push(a.id.clone());
                self.slots.push(Slot::new(a, now));
            }
        }
        (added, removed)
    }

    /// Sets an agent ready or away (busy is the dispatcher's to set), pending until the
    /// dispatcher says it is stored ([`Pool::stored`]).
    pub fn set_state(
        &mut self,
        id: &str,
        ready: bool,
        now: DateTime<Utc>,
    ) -> Result<AgentState, AgentError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.cfg.id == id)
            .ok_or_else(|| AgentError::Unknown(id.to_string()))?;
        if let (AgentState::Busy, Some(cb)) = (slot.state, slot.callback) {
            return Err(AgentError::Busy(id.to_string(), cb));
        }
        if let Some(cb) = slot.elsewhere {
            return Err(AgentError::Busy(id.to_string(), cb));
        }
        let to = if ready {
            AgentState::Ready
        } else {
            AgentState::Away
        };
        if to == AgentState::Ready && slot.state != AgentState::Ready {
            slot.idle_since = now;
            slot.declined_in_row = 0;
        }
        slot.state = to;
        slot.stored = PENDING;
        Ok(to)
    }

    /// Ready agents that could take a callback of `queue`.
    pub fn ready_for(&self, queue: &str) -> usize {
        self.slots
            .iter()
            .filter(|s| s.free() && s.cfg.serves(queue))
            .count()
    }

    /// Ready agents in all.
    pub fn ready(&self) -> usize {
        self.slots.iter().filter(|s| s.free()).count()
    }

    /// Picks a ready agent for a callback and marks it busy with it: `personal` only that
    /// agent; else one serving `queue`, by `strategy`.
    pub fn take(
        &mut self,
        callback: i64,
        queue: &str,
        personal: Option<&str>,
        strategy: Strategy,
    ) -> Option<AgentConfig> {
        self.take_except(
            callback,
            queue,
            personal,
            strategy,
            &std::collections::BTreeSet::new(),
        )
    }

    /// [`Pool::take`], leaving out of a queue's pick the agents in `reserved` (contact-
    /// centre agents held for other callbacks' places).
    pub fn take_except(
        &mut self,
        callback: i64,
        queue: &str,
        personal: Option<&str>,
        strategy: Strategy,
        reserved: &std::collections::BTreeSet<String>,
    ) -> Option<AgentConfig> {
        let candidates = self.slots.iter_mut().filter(|s| {
            s.free()
                && match personal {
                    Some(p) => s.cfg.id == p,
                    None => s.cfg.serves(queue) && !reserved.contains(&s.cfg.id),
                }
        });
        let chosen = match strategy {
            Strategy::LongestIdle => candidates.min_by_key(|s| (s.idle_since, s.last_offer)),
            Strategy::RoundRobin => candidates.min_by_key(|s| s.last_offer),
        }?;
        self.seq += 1;
        chosen.last_offer = self.seq;
        chosen.state = AgentState::Busy;
        chosen.callback = Some(callback);
        Some(chosen.cfg.clone())
    }

    /// Takes agent `id` for a callback of `queue` if it is ready and serves the queue (the
    /// contact-centre agent held for the callback's place), marking it busy as [`take`]
    /// does; `None` leaves the pool as it was.
    ///
    /// [`take`]: Pool::take
    pub fn take_held(&mut self, callback: i64, queue: &str, id: &str) -> Option<AgentConfig> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.cfg.id == id && s.free() && s.cfg.serves(queue))?;
        self.seq += 1;
        slot.last_offer = self.seq;
        slot.state = AgentState::Busy;
        slot.callback = Some(callback);
        Some(slot.cfg.clone())
    }

    /// Ends an agent's busy spell. Returns true when this decline set the agent away
    /// (pending until stored, as [`Pool::set_state`]).
    pub fn release(&mut self, id: &str, how: Released, now: DateTime<Utc>) -> bool {
        let away_after = self.away_after;
        let Some(slot) = self.slots.iter_mut().find(|s| s.cfg.id == id) else {
            return false;
        };
        slot.callback = None;
        slot.idle_since = now;
        match how {
            Released::Handled => slot.declined_in_row = 0,
            Released::Declined => slot.declined_in_row += 1,
            Released::Withdrawn => {}
        }
        let away =
            how == Released::Declined && away_after > 0 && slot.declined_in_row >= away_after;
        if slot.state == AgentState::Busy {
            slot.state = if away {
                AgentState::Away
            } else {
                AgentState::Ready
            };
        }
        if away {
            slot.stored = PENDING;
        }
        away
    }

    /// Whether a set of agents (`id` the one to check) may change state: not busy here or
    /// on another node.
    pub fn check(&self, id: &str) -> Result<(), AgentError> {
        let slot = self
            .slots
            .iter()
            .find(|s| s.cfg.id == id)
            .ok_or_else(|| AgentError::Unknown(id.to_string()))?;
        match (slot.state, slot.callback, slot.elsewhere) {
            (AgentState::Busy, Some(cb), _) | (_, _, Some(cb)) => {
                Err(AgentError::Busy(id.to_string(), cb))
            }
            _ => Ok(()),
        }
    }

    /// How many ready/away states this node has stored: read before a board is read, it
    /// tells [`Pool::sync`] which states are newer than the board.
    pub fn stores(&self) -> u64 {
        self.stores
    }

    /// Says this node has stored agent `id`'s ready or away as the pool has it: the
    /// dispatcher calls it after the store's write of a state [`Pool::set_state`] set, or
    /// [`Pool::release`] set away (until then the agent's state is pending, and no board
    /// read undoes it).
    pub fn stored(&mut self, id: &str) {
        self.stores += 1;
        let n = self.stores;
        if let Some(slot) = self.slot_mut(id) {
            slot.stored = n;
        }
    }

    /// Brings in what the store says of every node, as read after this node had stored
    /// `before` states ([`Pool::stores`]): each agent's ready/away as last set (agents busy
    /// here keep their state until released, and an agent whose state this node stored
    /// since keeps that: the board may have been read before it was written, and would
    /// ring an agent just set away), and which agents are busy on another node. An agent
    /// freed elsewhere counts as idle from `now`.
    pub fn sync(&mut self, board: &AgentBoard, before: u64, now: DateTime<Utc>) {
        for slot in self.slots.iter_mut() {
            let here = slot.state == AgentState::Busy;
            if !here && slot.stored <= before {
                if let Some(rec) = board.states.iter().find(|r| r.id == slot.cfg.id) {
                    let to = if rec.ready {
                        AgentState::Ready
                    } else {
                        AgentState::Away
                    };
                    if to == AgentState::Ready && slot.state != AgentState::Ready {
                        slot.idle_since = rec.since;
                        slot.declined_in_row = 0;
                    }
                    slot.state = to;
                }
            }
            let elsewhere = if here {
                None
            } else {
                board
                    .busy
                    .iter()
                    .find(|(a, _)| *a == slot.cfg.id)
                    .map(|(_, cb)| *cb)
            };
            if slot.elsewhere.is_some() && elsewhere.is_none() {
                slot.idle_since = now;
            }
            slot.elsewhere = elsewhere;
        }
    }

    fn slot(&self, id: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.cfg.id == id)
    }

    fn slot_mut(&mut self, id: &str) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.cfg.id == id)
    }

    /// Brings in the contact centre's agents of the linked queues: `None` when the centre
    /// could not be read (then none of its agents is offered anything: better a callback
    /// waits than rings someone on a queue call). An agent of `<agents>` the centre also
    /// lists keeps its configuration and takes the centre's busy; one only the centre
    /// lists is added with the centre's contact and queues, and dropped when the centre
    /// no longer lists it (kept while on a callback, offered nothing more). An agent the
    /// centre frees counts as idle from `now`. Returns the agents the centre freed (and
    /// new ones free from the start), whose waiting callbacks may be pulled forward.
    pub fn sync_centre(
        &mut self,
        members: Option<&[crate::centre::Member]>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut freed = Vec::new();
        for slot in self.slots.iter_mut() {
            let was = slot.outside.is_some();
            match members {
                None => {
                    if slot.in_centre {
                        slot.outside = Some("the contact centre could not be read".into());
                    }
                }
                Some(ms) => match ms.iter().find(|m| m.config.id == slot.cfg.id) {
                    Some(m) => {
                        slot.in_centre = true;
                        slot.outside = m.busy.clone();
                        if slot.from_centre {
                            slot.cfg = m.config.clone();
                        }
                    }
                    None => {
                        slot.in_centre = false;
                        slot.outside = None;
                        if slot.from_centre {
                            slot.cfg.queues.clear();
                        }
                    }
                },
            }
            if was && slot.outside.is_none() {
                slot.idle_since = now;
                freed.push(slot.cfg.id.clone());
            }
        }
        let Some(ms) = members else {
            return freed;
        };
        self.slots
            .retain(|s| !(s.from_centre && !s.in_centre && s.callback.is_none()));
        for m in ms {
            if self.slot(&m.config.id).is_none() {
                let mut slot = Slot::new(&m.config, now);
                slot.from_centre = true;
                slot.in_centre = true;
                slot.outside = m.busy.clone();
                if slot.outside.is_none() {
                    freed.push(slot.cfg.id.clone());
                }
                self.slots.push(slot);
            }
        }
        freed
    }

    pub fn config(&self, id: &str) -> Option<AgentConfig> {
        self.slots
            .iter()
            .find(|s| s.cfg.id == id)
            .map(|s| s.cfg.clone())
    }

    pub fn list(&self) -> Vec<AgentView> {
        self.slots
            .iter()
            .map(|s| AgentView {
                id: s.cfg.id.clone(),
                state: if s.elsewhere.is_some() || s.outside.is_some() {
                    AgentState::Busy
                } else {
                    s.state
                },
                queues: s.cfg.queues.clone(),
                callback: s.callback.or(s.elsewhere),
                idle_since: s.idle_since,
                declined_in_row: s.declined_in_row,
                centre_busy: s.outside.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
