//! One row per leg the dispatcher originates: the agent leg and the customer leg, with the
//! raw hangup cause beside its classified result.

use super::kind::named_enum;
use super::request::CallbackId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

named_enum!(
    /// Which side of the callback a leg rang.
    Leg, "leg", {
        Agent => "agent",
        Customer => "customer",
    }
);

named_enum!(
    /// What became of a leg, in the words a contact centre reports with.
    AttemptResult, "attempt result", {
        Answered => "answered",
        NoAnswer => "no-answer",
        Busy => "busy",
        Rejected => "rejected",
        WrongNumber => "wrong-number",
        Machine => "machine",
        // A message was left on the customer's answering machine.
        MessageLeft => "message-left",
        // The customer heard the queue's greeting and pressed no key (or the wrong one).
        NoKey => "no-key",
        Error => "error",
    }
);

/// Classifies a hangup cause (FreeSWITCH / Q.850 names) and an optional answering-machine
/// detection verdict into an [`AttemptResult`].
///
/// `amd` is the value of an AMD variable (e.g. `amd_result`); `MACHINE` (any case) wins
/// over the cause, since a machine answers like a person at the signalling level.
pub fn classify_hangup(cause: &str, amd: Option<&str>) -> AttemptResult {
    if amd.is_some_and(|v| v.trim().eq_ignore_ascii_case("machine")) {
        return AttemptResult::Machine;
    }
    match cause.trim().to_ascii_uppercase().as_str() {
        "NORMAL_CLEARING" | "SUCCESS" => AttemptResult::Answered,
        "NO_ANSWER"
        | "NO_USER_RESPONSE"
        | "ALLOTTED_TIMEOUT"
        | "RECOVERY_ON_TIMER_EXPIRE"
        | "PROGRESS_TIMEOUT"
        | "ORIGINATOR_CANCEL" => AttemptResult::NoAnswer,
        "USER_BUSY" | "NORMAL_CIRCUIT_CONGESTION" | "SWITCH_CONGESTION" => AttemptResult::Busy,
        "CALL_REJECTED" | "USER_NOT_REGISTERED" | "SUBSCRIBER_ABSENT" => AttemptResult::Rejected,
        "UNALLOCATED_NUMBER"
        | "INVALID_NUMBER_FORMAT"
        | "NO_ROUTE_DESTINATION"
        | "NUMBER_CHANGED"
        | "INCOMPATIBLE_DESTINATION" => AttemptResult::WrongNumber,
        _ => AttemptResult::Error,
    }
}

/// One leg of one try at a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: i64,
    pub callback_id: CallbackId,
    pub leg: Leg,
    /// The customer-attempt number this leg belongs to (agent legs carry the number of the
    /// customer attempt they were offering, so rejections do not use one up).
    pub attempt_no: u32,
    pub agent: Option<String>,
    /// The host's call uuid of this leg, once known.
    pub call_uuid: Option<String>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hangup_cause: Option<String>,
    pub result: Option<AttemptResult>,
    /// Set by the agent after the call: a disposition code from the configured list.
    pub disposition: Option<String>,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangup_causes_map_to_contact_centre_results() {
        // The causes FreeSWITCH reports classify as an agent would report them.
        assert_eq!(
            classify_hangup("NORMAL_CLEARING", None),
            AttemptResult::Answered
        );
        assert_eq!(classify_hangup("NO_ANSWER", None), AttemptResult::NoAnswer);
        assert_eq!(
            classify_hangup("no_user_response", None),
            AttemptResult::NoAnswer
        );
        assert_eq!(classify_hangup("USER_BUSY", None), AttemptResult::Busy);
        assert_eq!(
            classify_hangup("CALL_REJECTED", None),
            AttemptResult::Rejected
        );
        assert_eq!(
            classify_hangup("UNALLOCATED_NUMBER", None),
            AttemptResult::WrongNumber
        );
        assert_eq!(
            classify_hangup("INVALID_NUMBER_FORMAT", None),
            AttemptResult::WrongNumber
        );
        assert_eq!(
            classify_hangup("DESTINATION_OUT_OF_ORDER", None),
            AttemptResult::Error
        );
        assert_eq!(
            classify_hangup("NORMAL_CLEARING", Some("MACHINE")),
            AttemptResult::Machine
        );
        assert_eq!(
            classify_hangup("NORMAL_CLEARING", Some("HUMAN")),
            AttemptResult::Answered
        );
    }
}
