//! The lifecycle of a callback as an explicit state machine. Every transition is written to
//! the store (with an event row) before the action it allows.
//!
//! ```text
//! requested → scheduled → due → offering → previewing → dialing → connected → completed
//!                 ↑  ↘ rescheduled ↗ (retry, agent "later", person moved it)
//! side exits from any live state: cancelled, expired, failed
//! a waiting callback an agent settles without a call: done
//! a completed one the agent moves again after the call: completed → rescheduled
//! ```

use super::kind::named_enum;

named_enum!(
    /// Where a callback is in its life.
    State, "state", {
        /// Stored, but without a due time yet (e.g. the caller hung up before confirming).
        Requested => "requested",
        /// Waiting for its due time.
        Scheduled => "scheduled",
        /// Waiting again, with a new due time (a retry, or moved by a person).
        Rescheduled => "rescheduled",
        /// Claimed by a dispatcher: its time has come, an agent is being sought.
        Due => "due",
        /// An agent's phone is ringing.
        Offering => "offering",
        /// The agent answered and hears the caller's recording.
        Previewing => "previewing",
        /// The customer's phone is ringing.
        Dialing => "dialing",
        /// Agent and customer are talking.
        Connected => "connected",
        /// Done: the customer was reached.
        Completed => "completed",
        /// Withdrawn by the customer, an agent or an admin.
        Cancelled => "cancelled",
        /// Its time-to-live or availability window ran out before it was reached.
        Expired => "expired",
        /// Given up: attempts used up, do-not-call, or a number that cannot be dialled.
        Failed => "failed",
        /// Marked done by an agent without a call (the matter was settled otherwise): the
        /// seeds' "Done", an outcome of its own, not a withdrawal (cancelled).
        Done => "done",
    }
);

/// A transition the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a callback cannot go from '{from}' to '{to}'")]
pub struct TransitionError {
    pub from: State,
    pub to: State,
}

impl State {
    /// Waiting for its due time: what the scheduler may claim.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            State::Requested | State::Scheduled | State::Rescheduled
        )
    }

    /// Held by a dispatcher under a lease.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Due | State::Offering | State::Previewing | State::Dialing | State::Connected
        )
    }

    /// Nothing more will happen to it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Completed | State::Cancelled | State::Expired | State::Failed | State::Done
        )
    }

    /// Whether the lifecycle allows going from `self` to `to`.
    pub fn can_go_to(self, to: State) -> bool {
        use State::*;
        match (self, to) {
            // The agent's correction after the call (a machine, a wrong number): the
            // policy may retry, fail or expire a completed callback.
            (Completed, Failed | Expired) => true,
            // Side exits: any live callback can be cancelled, expire or fail.
            (from, Cancelled | Expired | Failed) => !from.is_terminal(),
            (Requested, Scheduled) => true,
            (Scheduled | Rescheduled, Due | Rescheduled) => true,
            // Once claimed: offer it, or put it back (no agent, outside hours, a retry).
            (Due, Offering | Rescheduled) => true,
            // The agent answers, or does not (back to due for another agent), or asks for later.
            (Offering, Previewing | Due | Rescheduled) => true,
            // Agent-preview callbacks may dial straight from the offer when so configured.
            (Offering, Dialing) => true,
            (Previewing, Dialing | Due | Rescheduled) => true,
            (Dialing, Connected | Rescheduled | Due) => true,
            // A message left on the customer's machine completes it when the queue says so.
            (Dialing, Completed) => true,
            (Connected, Completed | Rescheduled) => true,
            // Settled by an agent while it waits: done without a call.
            (Requested | Scheduled | Rescheduled, Done) => true,
            // The agent talked to the customer and agreed another call (after the call,
            // from the panel or fs_cli): the finished attempt is moved, not a new request.
            (Completed, Rescheduled) => true,
            _ => false,
        }
    }

    /// Checks a transition, naming both ends when it is not allowed.
    pub fn check(self, to: State) -> Result<State, TransitionError> {
        if self.can_go_to(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_allowed_and_shortcuts_are_not() {
        // The documented path is allowed step by step; skipping the agent is not.
        use State::*;
        let path = [
            Requested, Scheduled, Due, Offering, Previewing, Dialing, Connected, Completed,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_go_to(pair[1]), "{} -> {}", pair[0], pair[1]);
        }
        assert!(!Scheduled.can_go_to(Dialing));
        assert!(!Due.can_go_to(Connected));
        assert!(!Requested.can_go_to(Due));
        let err = Completed.check(Scheduled).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a callback cannot go from 'completed' to 'scheduled'"
        );
    }

    #[test]
    fn terminal_states_are_final() {
        // No state leaves cancelled, expired, failed or done; completed only to rescheduled
        // (the agent's reschedule after the call), failed or expired (the agent's
        // correction: a machine or a wrong number, as the retry policy decides).
        for from in State::ALL.iter().filter(|s| s.is_terminal()) {
            for to in State::ALL {
                let after_call = *from == State::Completed
                    && matches!(to, State::Rescheduled | State::Failed | State::Expired);
                assert_eq!(from.can_go_to(*to), after_call, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn done_is_reached_only_from_waiting() {
        // Done is an agent settling a waiting callback: not from a call in progress.
        for from in State::ALL {
            assert_eq!(from.can_go_to(State::Done), from.is_pending(), "{from}");
        }
    }

    #[test]
    fn every_live_state_has_the_side_exits() {
        // Cancel, expire and fail are reachable from every live state.
        for from in State::ALL.iter().filter(|s| !s.is_terminal()) {
            for to in [State::Cancelled, State::Expired, State::Failed] {
                assert!(from.can_go_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn pending_active_terminal_partition_the_states() {
        // Each state is exactly one of pending, active, terminal.
        for s in State::ALL {
            let n = [s.is_pending(), s.is_active(), s.is_terminal()]
                .iter()
                .filter(|b| **b)
                .count();
            assert_eq!(n, 1, "{s}");
        }
    }
}
