//! The customer leg on answer, before the agent is connected: is it a person or an
//! answering machine, and does the customer confirm with a key after the queue's greeting.
//!
//! Map (one concept per file):
//! - [`detector`]: the cadence of the first seconds, a pure function over 8 kHz PCM.
//! - [`phrase`]: what a machine says ("leave a message", "after the tone"), read in a
//!   transcript of those seconds when a whisper model is loaded.
//! - [`check`]: the whole check on the answered line, with the queue's policy: the
//!   telephony server's own detection first, then the cadence, then the phrases; a
//!   machine is hung up on or left a message; the greeting and its key.
//! - [`Verdict`]: what the check found, handed to the agent's side, which classifies the
//!   attempt and lets the retry policy act.

pub mod check;
pub mod detector;
pub mod phrase;

pub use check::{run, CustomerLine, HostDetection};
pub use detector::{judge, Cadence, Decision, Judgement};

use crate::model::AttemptResult;

/// What the check on answer found. `Human`: the agent is connected (the bridge completes);
/// anything else ends the customer leg before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Human,
    /// A machine, hung up on (`on-machine=retry`).
    Machine,
    /// A machine, left the queue's message.
    MessageLeft,
    /// The customer pressed no key (or the wrong one) after the greeting.
    NoKey,
}

impl Verdict {
    pub const ALL: &'static [Verdict] = &[
        Verdict::Human,
        Verdict::Machine,
        Verdict::MessageLeft,
        Verdict::NoKey,
    ];

    /// The one spelling, used in channel variables and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Human => "human",
            Verdict::Machine => "machine",
            Verdict::MessageLeft => "message-left",
            Verdict::NoKey => "no-key",
        }
    }

    /// Reads [`Verdict::as_str`]'s spelling back; anything else is `None`.
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s.trim())
    }

    /// The customer attempt's result when the leg ended before the agent was connected.
    pub fn result(self) -> Option<AttemptResult> {
        match self {
            Verdict::Human => None,
            Verdict::Machine => Some(AttemptResult::Machine),
            Verdict::MessageLeft => Some(AttemptResult::MessageLeft),
            Verdict::NoKey => Some(AttemptResult::NoKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_back_and_map_to_results() {
        // Each verdict's spelling reads back; a person has no result of its own, the rest do.
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(*v));
        }
        assert_eq!(Verdict::parse("MACHINE"), None);
        assert_eq!(Verdict::Human.result(), None);
        assert_eq!(Verdict::NoKey.result(), Some(AttemptResult::NoKey));
        assert_eq!(Verdict::Machine.result(), Some(AttemptResult::Machine));
    }
}
