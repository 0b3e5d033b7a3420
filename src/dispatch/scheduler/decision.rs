//! The agent's Accept or Reject given in the panel while an offer rings or plays.
//!
//! The phone's keys reach the preview as DTMF on the agent's call; the panel's decision
//! takes the same way in: while the preview plays, the dispatcher has the host queue the
//! matching key (`1` accept, `9` reject) on that call, which the preview reads like a key
//! the agent pressed. While the phone still rings there is no call to press keys on: a
//! Reject hangs the ringing leg up (`CALL_REJECTED`, the phone's own decline), an Accept
//! is kept and the preview acts on it as soon as the agent answers (the customer is
//! dialled without the menu). Only the agent
//! the callback is offered to may decide, and only for that offer; nothing from the
//! browser travels beyond a yes or no.

use super::Dispatcher;
use crate::model::CallbackId;
use std::sync::PoisonError;

/// What the agent decided in the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Dial the customer now (the phone's key 1).
    Accept,
    /// Give it back to the queue, no customer attempt used (the phone's key 9).
    Reject,
}

impl Decision {
    /// The preview menu's key for it.
    pub fn key(self) -> &'static str {
        match self {
            Decision::Accept => "1",
            Decision::Reject => "9",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Reject => "reject",
        }
    }
}

/// How the decision reached the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Pressed on the agent's call, where the preview plays.
    Pressed,
    /// Kept until the ringing phone is answered.
    WhenAnswered,
    /// The ringing phone was hung up (a Reject before the agent answered).
    RingingStopped,
}

impl Delivered {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivered::Pressed => "pressed",
            Delivered::WhenAnswered => "when-answered",
            Delivered::RingingStopped => "ringing-stopped",
        }
    }
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("callback {id} is not being offered to agent {agent} on this node now")]
    NotOffered { id: CallbackId, agent: String },
    #[error("callback {id}: the agent's call did not take the key: {why}")]
    Host { id: CallbackId, why: String },
}

impl Dispatcher {
    /// The agent's decision for the offer of callback `id` (see the module doc).
    pub fn decide(
        &self,
        id: CallbackId,
        agent: &str,
        decision: Decision,
    ) -> Result<Delivered, DecisionError> {
        let not_offered = || DecisionError::NotOffered {
            id,
            agent: agent.to_string(),
        };
        let playing = self
            .previews
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some((to, uuid)) = playing {
            if to != agent {
                return Err(not_offered());
            }
            // Kept as well: should the key arrive between two prompts, the preview still
            // finds it after the one that is playing.
            self.keep_decision(id, agent, decision);
            self.svc
                .host()
                .press(&uuid, decision.key())
                .map_err(|e| DecisionError::Host { id, why: e.0 })?;
            return Ok(Delivered::Pressed);
        }
        let ringing = self
            .offers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .filter(|o| o.agent.id == agent)
            .map(|o| o.uuid.clone());
        let Some(uuid) = ringing else {
            return Err(not_offered());
        };
        self.keep_decision(id, agent, decision);
        match (decision, uuid) {
            // The ring thread sees the originate fail with this cause and gives the
            // callback back as for any agent who declines (no customer attempt used).
            (Decision::Reject, Some(uuid)) => {
                self.svc
                    .host()
                    .hangup(&uuid, "CALL_REJECTED")
                    .map_err(|e| DecisionError::Host { id, why: e.0 })?;
                Ok(Delivered::RingingStopped)
            }
            _ => Ok(Delivered::WhenAnswered),
        }
    }

    fn keep_decision(&self, id: CallbackId, agent: &str, decision: Decision) {
        self.decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (agent.to_string(), decision));
    }

    /// The preview of callback `id` started on `agent`'s call `uuid`.
    pub(crate) fn preview_started(&self, id: CallbackId, agent: &str, uuid: Option<String>) {
        if let Some(uuid) = uuid {
            self.previews
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, (agent.to_string(), uuid));
        }
    }

    /// The offer of callback `id` ended (its preview, or a phone that was never
    /// answered): no decision for it is kept.
    pub(crate) fn offer_ended(&self, id: CallbackId) {
        self.previews
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        self.decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// The panel's decision for callback `id` by `agent`, once.
    pub(crate) fn take_decision(&self, id: CallbackId, agent: &str) -> Option<Decision> {
        let mut kept = self
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match kept.get(&id) {
            Some((a, _)) if a == agent => kept.remove(&id).map(|(_, d)| d),
            _ => None,
        }
    }
}
