//! What the dispatcher's loop and those who wake it share: the nudges made and taken, the
//! instant the loop sleeps until, and whether this node has any agent to ring.

use chrono::{DateTime, Utc};

#[derive(Default)]
pub(super) struct Signal {
    pub(super) stop: bool,
    pub(super) nudges: u64,
    /// The nudges the loop has taken: it runs a turn after taking them, so a nudge made
    /// while `nudges != taken` is already covered by a turn that has not begun (and needs no
    /// wake of its own).
    pub(super) taken: u64,
    /// The host-clock instant the sleeping loop waits for (`None`: awake, or waiting for a
    /// nudge only).
    pub(super) wake_at: Option<DateTime<Utc>>,
    /// The last turn found no agent this node could ever ring: none configured, none from
    /// the contact centre, no holding line watched. Such a node claims nothing, so a
    /// changed callback gives its loop nothing to do (a reload that adds agents nudges).
    pub(super) agentless: bool,
    /// A reload came since the loop last read whether it is agentless: what it read may
    /// be of the old configuration, so it counts as having agents until its next turn.
    pub(super) reloaded: bool,
    /// Condvar signals sent to the loop, and turns it ran (tests read them).
    pub(super) wakes: u64,
    pub(super) turns: u64,
}

impl Signal {
    /// Records a nudge; true when the loop must be signalled for it (no earlier nudge is
    /// waiting for its turn).
    pub(super) fn nudge(&mut self) -> bool {
        let first = self.nudges == self.taken;
        self.nudges += 1;
        if first {
            self.wakes += 1;
        }
        first
    }
}
