//! The contact centre's refusals to hand over an agent for a callback: which agent it
//! last refused, by callback, so a refusal is retried at once once, and a second one for
//! the same agent in a row goes the re-offer delay (a claim that can never succeed — the
//! centre does not know the agent's name, its command fails — does not spin the loop).

use crate::model::CallbackId;
use std::collections::BTreeMap;

/// Entries kept at most: those of callbacks that went on elsewhere (a claim by another
/// node, a cancel) are never taken back one by one, so past this they go wholesale.
const BOUND: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct Refusals {
    last: BTreeMap<CallbackId, String>,
}

impl Refusals {
    /// Records the centre's refusal of `agent` for callback `id`. True when it is the first
    /// in a row for that agent (the next turn reads the centre's tables again, so a real
    /// race does not pick the same agent twice); false for a second in a row, which is
    /// then forgotten (the one after it is a first again).
    pub(super) fn first(&mut self, id: CallbackId, agent: &str) -> bool {
        if self.last.get(&id).is_some_and(|a| a == agent) {
            self.last.remove(&id);
            return false;
        }
        if self.last.len() >= BOUND {
            self.last.clear();
        }
        self.last.insert(id, agent.to_string());
        true
    }

    /// The centre handed over an agent for callback `id`: its refusals are forgotten.
    pub(super) fn claimed(&mut self, id: CallbackId) {
        self.last.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_refusal_in_a_row_of_the_same_agent_is_not_a_first() {
        let mut r = Refusals::default();
        assert!(r.first(1, "1001"));
        assert!(!r.first(1, "1001"));
        // Forgotten with it: the next is a first again.
        assert!(r.first(1, "1001"));
        // Another agent, or another callback, is a first.
        assert!(r.first(1, "1002"));
        assert!(r.first(2, "1002"));
        assert!(!r.first(1, "1002"));
        // A claim in between forgets the refusal.
        assert!(r.first(3, "1003"));
        r.claimed(3);
        assert!(r.first(3, "1003"));
    }

    #[test]
    fn refusals_of_callbacks_gone_elsewhere_are_bounded() {
        let mut r = Refusals::default();
        for id in 0..BOUND as CallbackId {
            assert!(r.first(id, "1001"));
        }
        assert_eq!(r.last.len(), BOUND);
        // At the bound they go wholesale: one more is kept alone, the oldest forgotten.
        assert!(r.first(BOUND as CallbackId, "1001"));
        assert_eq!(r.last.len(), 1);
        assert!(r.first(0, "1001"));
        assert!(!r.first(BOUND as CallbackId, "1001"));
    }
}
