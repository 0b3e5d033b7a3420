//! The telephony server as the engine sees it. The module shell implements [`Host`] over
//! FreeSWITCH's string commands; tests and the simulator implement it too.
//!
//! Everything in a [`LegRequest`] is already validated: the customer number is E.164, the
//! agent is a configured id, variables are short tokens. Free text (names, remarks,
//! transcripts) never travels in a leg: the agent-leg application reads it from the store by
//! callback id. The one exception is data, not a command: the `transcribed` notification
//! carries the transcript for event consumers.

use crate::model::{CallbackId, CallbackType, Leg, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Who a leg rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A configured agent, dialled through its configured dial-string template.
    Agent { id: String, dial: String },
    /// The customer, E.164, dialled through the queue's gateway template.
    Customer { e164: String, gateway: String },
}

/// A leg to originate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRequest {
    pub callback_id: CallbackId,
    pub leg: Leg,
    pub target: Target,
    /// Seconds to ring before giving up (the no-answer timeout).
    pub timeout_secs: u32,
    /// Caller ID shown on the phone that rings: configured templates filled with digits only.
    pub caller_id_name: String,
    pub caller_id_number: String,
    /// Channel variables for the leg (`callback_id`, `callback_type`, ...): token values only.
    pub variables: Vec<(String, String)>,
    /// The application the answered leg runs, with an argument made of digits only
    /// (the callback id), e.g. the agent-preview application.
    pub application: Option<(String, String)>,
    /// What the calling side (an answered agent bridging to this leg) hears while it rings:
    /// the queue's configured ringback. `None` for legs originated from no call.
    pub ringback: Option<String>,
    /// The leg's call uuid, chosen by the engine so it can hang the leg up while it still
    /// rings (an agent's Reject in the panel); `None`: the host picks one.
    pub uuid: Option<String>,
}

/// The longest value a leg variable may carry.
pub const MAX_VARIABLE_VALUE: usize = 128;

/// Whether `v` may travel as a leg variable's value: a short token of letters, digits and
/// `_ - . + @` (the alphabet the module's dial-string builder accepts; nothing that
/// separates or expands there).
pub fn is_variable_token(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_VARIABLE_VALUE
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'@'))
}

/// The agent-leg variables of a callback's IVR data: `callback_data_<key>` for each key of
/// `a-z`, `0-9`, `_` whose value is a [`is_variable_token`] (free text is set on the
/// answered agent call by the agent-leg application instead, never in a dial string).
pub fn data_variables(data: &BTreeMap<String, String>) -> Vec<(String, String)> {
    data.iter()
        .filter(|(k, v)| crate::capture::is_data_key(k) && is_variable_token(v))
        .map(|(k, v)| (format!("callback_data_{k}"), v.clone()))
        .collect()
}

/// How an originate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegOutcome {
    /// The leg's call uuid, when one was created.
    pub uuid: Option<String>,
    pub answered: bool,
    /// The hangup cause (`NORMAL_CLEARING`, `NO_ANSWER`, ...) when not answered.
    pub cause: Option<String>,
}

/// The host refused or failed a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// A notification of a transition (FreeSWITCH: a CUSTOM `callback::info` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// What happened: `created`, `cancel`, `reschedule`, `claim`, `offer`, ...
    pub action: String,
    pub callback_id: CallbackId,
    pub state: State,
    pub queue: String,
    pub kind: CallbackType,
    pub due: Option<DateTime<Utc>>,
    /// `transcribed` only: the callback's transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// `transcribed` only: the callback's tags, the transcript's among them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A table of the PBX's contact centre ([`crate::centre`] reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CentreTable {
    /// Every agent with its contact, status and state.
    Agents,
    /// Every agent's place (tier) in each of the centre's queues.
    Tiers,
    /// The callers of one of the centre's queues (a name checked by the configuration).
    Members(String),
}

/// A caller waiting in one of the PBX's holding lines (a plain line that parks callers and
/// hands them out by priority slot, then in the order they came; [`crate::line`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCaller {
    /// The caller's call.
    pub uuid: String,
    /// Its priority slot: the line serves slot 0 first, then 1, ...
    pub slot: u32,
    /// The instant it joined the line, epoch seconds.
    pub joined_epoch: i64,
}

/// What the dispatcher tells the contact centre about one of its agents, so the centre's
/// own queues do not ring an agent a callback holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CentreMark {
    /// Ringing for a callback: only if the agent is still waiting for a call there (the
    /// centre takes it in one step, against its own queues); refused otherwise.
    Claim,
    /// On a callback (the agent answered).
    OnCall,
    /// Done: waiting for calls again.
    Free,
    /// Not to be offered the centre's own calls before this epoch second (its ready time):
    /// held for a callback at the front of the line; a hold ends by setting the centre's
    /// own ready time back.
    ReadyAt(i64),
}

/// What the engine asks of the telephony server.
pub trait Host: Send + Sync {
    /// Originates a leg; blocks until it is answered or fails. Never call it on a call's
    /// own thread.
    fn originate(&self, leg: &LegRequest) -> Result<LegOutcome, HostError>;

    /// Hangs up a call by uuid.
    fn hangup(&self, uuid: &str, cause: &str) -> Result<(), HostError>;

    /// Queues `keys` (digits) on a call as keys its caller pressed: the agent's Accept or
    /// Reject given in the panel reaches the preview on the agent's call the way the
    /// phone's own keys do.
    fn press(&self, uuid: &str, keys: &str) -> Result<(), HostError>;

    /// Publishes a notification of a transition.
    fn emit(&self, note: &Notification);

    /// One of the contact centre's tables, as the centre prints it. A host without a
    /// contact centre refuses.
    fn centre_table(&self, table: CentreTable) -> Result<String, HostError> {
        Err(HostError(format!(
            "no contact centre on this host (asked for its {table:?} table)"
        )))
    }

    /// The callers waiting in holding line `line` now, as the host lists them. A host
    /// without holding lines refuses.
    fn line_callers(&self, line: &str) -> Result<Vec<LineCaller>, HostError> {
        Err(HostError(format!(
            "no holding lines on this host (asked for the callers of {line})"
        )))
    }

    /// Offers a caller waiting in a contact-centre queue (its call `uuid`) a callback, once,
    /// telling the estimated wait in whole minutes; a key the caller presses to take it
    /// ends the wait as the queue's exit key does. `Err` when the call is gone.
    fn offer_callback(&self, uuid: &str, wait_minutes: u32) -> Result<(), HostError> {
        Err(HostError(format!(
            "no contact centre on this host (to offer call {uuid} a callback at {wait_minutes} min)"
        )))
    }

    /// Marks a contact-centre agent; `Err` when the centre refused (for [`CentreMark::Claim`]:
    /// the agent is no longer waiting there).
    fn centre_mark(&self, agent: &str, mark: CentreMark) -> Result<(), HostError> {
        Err(HostError(format!(
            "no contact centre on this host (to mark {agent} {mark:?})"
        )))
    }
}

/// A host with no telephony attached (tools, demos, tests of capture): originates fail,
/// notifications are kept in memory so they can be read back.
#[derive(Debug, Default)]
pub struct Detached {
    notes: std::sync::Mutex<Vec<Notification>>,
}

impl Detached {
    /// The notifications emitted so far, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

impl Host for Detached {
    fn originate(&self, leg: &LegRequest) -> Result<LegOutcome, HostError> {
        Err(HostError(format!(
            "no telephony host attached: cannot originate the {} leg of callback {}",
            leg.leg, leg.callback_id
        )))
    }

    fn hangup(&self, uuid: &str, _cause: &str) -> Result<(), HostError> {
        Err(HostError(format!(
            "no telephony host attached: cannot hang up {uuid}"
        )))
    }

    fn press(&self, uuid: &str, _keys: &str) -> Result<(), HostError> {
        Err(HostError(format!(
            "no telephony host attached: cannot press keys on {uuid}"
        )))
    }

    fn emit(&self, note: &Notification) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note.clone());
        }
    }
}
