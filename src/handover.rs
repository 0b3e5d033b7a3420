//! A caller leaving a contact-centre queue (or a holding line, [`crate::line`]) for a
//! callback: what the queue knew becomes the request. The caller waited in the queue,
//! pressed its exit key, and the dialplan hands the call over; the callback is immediate,
//! for the caller's number, in the queue of this module linked to the centre's
//! (`agents-from`; for a holding line the queue of the same name), or the one named, and it
//! keeps the queue left, the instant the caller joined it, the caller's name and the
//! channel variables the admin lists, in the request's IVR data:
//!
//! ```text
//! queue_joined_epoch=1795442400  centre_queue=sales@default  caller_name=Ann Lee
//! var.account_id=77812
//! ```
//!
//! From a holding line `line_queue=<line>` and `line_slot=<slot>` (its priority slot)
//! stand for `centre_queue`, so the dispatcher keeps the place against that line's callers.

use crate::access::{Disclosure, Principal, Reach};
use crate::estimate::Left;
use crate::ivr::Stored;
use crate::model::{CallbackType, Source};
use crate::service::{CallbackService, NewRequest, Requested};

/// The IVR-data key of the instant (epoch seconds) the caller joined the centre's queue.
pub const JOINED_KEY: &str = "queue_joined_epoch";
/// The IVR-data key of the centre's queue the caller left.
pub const CENTRE_QUEUE_KEY: &str = "centre_queue";

/// The IVR-data key of the holding line the caller left.
pub const LINE_KEY: &str = "line_queue";
/// The IVR-data key of the caller's priority slot in that line.
pub const LINE_SLOT_KEY: &str = "line_slot";

/// How many channel variables an admin may list.
const MAX_VARS: usize = 10;

/// Why a hand-over was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error("{0}")]
    Args(String),
    #[error("the caller did not leave the queue with its exit key: no callback")]
    NotLeft,
    #[error("the call has no contact-centre queue (it never waited in one)")]
    NoCentreQueue,
    #[error("no queue takes its agents from the contact-centre queue '{0}': name one with queue=")]
    NoLinkedQueue(String),
    #[error("no queue is named like the holding line '{0}': name one with queue=")]
    NoQueueNamedLike(String),
    #[error("unknown queue (not in callback.conf.xml)")]
    UnknownQueue,
    #[error("the time the caller joined the queue is not an epoch time: '{0}'")]
    JoinTime(String),
    #[error("no caller number on the call")]
    NoNumber,
    #[error(transparent)]
    Service(#[from] crate::service::Error),
}

/// The application's arguments: `queue=<queue>` (else the queue linked by `agents-from`)
/// and `vars=<a,b,...>` (channel variables to keep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoverArgs {
    pub queue: Option<String>,
    pub vars: Vec<String>,
}

fn var_name_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 48
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Parses `queue=sales vars=account_id,language`.
pub fn parse_args(data: &str) -> Result<HandoverArgs, HandoverError> {
    let mut a = HandoverArgs::default();
    let mut seen = Vec::new();
    for word in data.split_whitespace() {
        let (k, v) = word.split_once('=').ok_or_else(|| {
            HandoverArgs::err(format!("'{word}' is not key=value (keys: queue, vars)"))
        })?;
        if seen.contains(&k) {
            return Err(HandoverArgs::err(format!("{k} is given twice")));
        }
        seen.push(k);
        match k {
            "queue" => a.queue = Some(v.to_string()),
            "vars" => {
                for name in v.split(',').filter(|n| !n.is_empty()) {
                    if !var_name_ok(name) {
                        return Err(HandoverArgs::err(format!(
                            "vars: '{name}' is not a channel variable name"
                        )));
                    }
                    a.vars.push(name.to_string());
                }
                if a.vars.len() > MAX_VARS {
                    return Err(HandoverArgs::err(format!(
                        "vars: at most {MAX_VARS} variables"
                    )));
                }
            }
            other => {
                return Err(HandoverArgs::err(format!(
                    "unknown key '{other}' (keys: queue, vars)"
                )))
            }
        }
    }
    Ok(a)
}

impl HandoverArgs {
    fn err(m: String) -> HandoverError {
        HandoverError::Args(m)
    }
}

/// Which kind of queue the caller left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueKind {
    /// A contact-centre queue (agents, tiers, scores), linked to a queue by `agents-from`.
    #[default]
    Centre,
    /// A holding line ([`crate::line`]); the caller waited in this priority slot.
    Line { slot: u32 },
}

/// What the call says of the queue the caller left, as the host reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueLeave {
    pub kind: QueueKind,
    /// The queue left: the centre's (`sales@default`) or the holding line's name.
    pub centre_queue: Option<String>,
    /// The instant the caller joined it, epoch seconds as the centre wrote it.
    pub joined_epoch: Option<String>,
    /// The caller pressed the queue's exit key.
    pub by_exit_key: bool,
    pub caller_number: Option<String>,
    pub caller_name: Option<String>,
    pub uuid: Option<String>,
    /// The listed channel variables that are set, by name.
    pub vars: Vec<(String, String)>,
}

/// The callback request for a caller who left `leave`'s queue.
pub fn request(
    svc: &CallbackService,
    leave: &QueueLeave,
    args: &HandoverArgs,
) -> Result<NewRequest, HandoverError> {
    if !leave.by_exit_key {
        return Err(HandoverError::NotLeft);
    }
    let centre = leave
        .centre_queue
        .as_deref()
        .filter(|q| !q.is_empty())
        .ok_or(HandoverError::NoCentreQueue)?;
    let cfg = svc.config();
    let queue = match &args.queue {
        Some(q) => {
            if !cfg.queues.contains_key(q) {
                return Err(HandoverError::UnknownQueue);
            }
            q.clone()
        }
        None => match leave.kind {
            QueueKind::Centre => cfg
                .queues
                .values()
                .find(|q| q.dial.agents_from.as_deref() == Some(centre))
                .map(|q| q.name().to_string())
                .ok_or_else(|| HandoverError::NoLinkedQueue(centre.to_string()))?,
            QueueKind::Line { .. } => {
                if !cfg.queues.contains_key(centre) {
                    return Err(HandoverError::NoQueueNamedLike(centre.to_string()));
                }
                centre.to_string()
            }
        },
    };
    let joined = leave.joined_epoch.as_deref().unwrap_or_default().trim();
    let joined_at = joined
        .parse::<i64>()
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .ok_or_else(|| HandoverError::JoinTime(joined.to_string()))?;
    let number = leave
        .caller_number
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(HandoverError::NoNumber)?;
    let mut req = NewRequest::new(CallbackType::Immediate, number, Requested::Now, Source::Ivr);
    req.queue = Some(queue);
    req.origin_uuid = leave.uuid.clone();
    req.actor = Some("dialplan".into());
    req.ivr_data
        .insert(JOINED_KEY.into(), joined_at.timestamp().to_string());
    match leave.kind {
        QueueKind::Centre => {
            req.ivr_data
                .insert(CENTRE_QUEUE_KEY.into(), centre.to_string());
        }
        QueueKind::Line { slot } => {
            req.ivr_data.insert(LINE_KEY.into(), centre.to_string());
            req.ivr_data.insert(LINE_SLOT_KEY.into(), slot.to_string());
        }
    }
    if let Some(name) = leave.caller_name.as_ref().filter(|n| !n.is_empty()) {
        req.ivr_data.insert("caller_name".into(), name.clone());
    }
    for (k, v) in &leave.vars {
        if args.vars.contains(k) {
            req.ivr_data.insert(format!("var.{k}"), v.clone());
        }
    }
    let left = match leave.kind {
        QueueKind::Centre => Left::Centre,
        QueueKind::Line { slot } => Left::Line { line: centre, slot },
    };
    crate::estimate::Estimate::keep(svc, &mut req, left, joined_at.timestamp());
    Ok(req)
}

/// Stores the callback of a caller who left a queue; what it became is told as far as the
/// caller may know it (as `callback_capture` does).
pub fn hand_over(
    svc: &CallbackService,
    leave: &QueueLeave,
    args: &HandoverArgs,
) -> Result<Stored, HandoverError> {
    let req = request(svc, leave, args)?;
    let (r, outcome) = svc.request(req)?;
    tracing::info!(callback_id = r.id, "queue hand-over: stored");
    let caller = Principal::new("dialplan", Reach::Own);
    Ok(match caller.disclosure(&r, outcome) {
        Disclosure::Full => Stored::Own(Box::new(r)),
        Disclosure::Withheld => Stored::Joined,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_a_queue_and_the_variables_to_keep() {
        // queue= and vars= are read; an unknown key, a repeat or a bad name is refused.
        let a = parse_args("queue=sales vars=account_id,lang").unwrap();
        assert_eq!(a.queue.as_deref(), Some("sales"));
        assert_eq!(a.vars, ["account_id", "lang"]);
        assert_eq!(parse_args("").unwrap(), HandoverArgs::default());
        for bad in ["queue", "tone=1", "queue=a queue=b", "vars=a,${x}"] {
            assert!(parse_args(bad).is_err(), "{bad}");
        }
    }
}
