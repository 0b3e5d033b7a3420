//! Who may see and control a callback, whichever door they came through: the REST API (a
//! client key, a customer token, a staff key), the agent panel (a user and their role),
//! the dialplan applications (`callback_capture`, `callback_ivr`: the caller) and fs_cli
//! (the PBX's admin). Written once here; each door turns its credential into a
//! [`Principal`] and asks it.
//!
//! The rule: a client sees and controls only what it created itself, unless its
//! credential reaches further (a staff key, fs_cli, a panel role that shows queues).
//! Creating a callback is the one moment a client "creates" something: what it gets back
//! then is decided by [`Principal::disclosure`]. In particular a create that the store
//! merged into a request somebody else made answers without that request's data and
//! without a token for it: a public key or a caller in the IVR knows a phone number, and
//! a phone number must not open the callback of the person who owns it.

use crate::model::{CallbackId, CallbackRequest};
use crate::store::CreateOutcome;

/// How far a credential reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every callback: fs_cli (the PBX's admin), a staff API key, a panel role that sees
    /// all queues.
    All,
    /// A panel user: the personal callbacks of their agent and the callbacks of their
    /// teams' queues.
    Teams {
        queues: Vec<String>,
        agent: Option<String>,
    },
    /// A customer token: the one callback it was issued for.
    One(CallbackId),
    /// A client credential shared by many people (a website's `create` key, a caller in
    /// the IVR or `callback_capture`): no stored callback at all, only what it creates in
    /// the request at hand.
    Own,
}

/// Someone acting on callbacks: the name the trace records, and their reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Written into the callback's trace (`api:website`, `customer`, `panel:anna`, `ivr`).
    pub actor: String,
    pub reach: Reach,
}

/// What a create may hand back to the client that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// The callback and (over HTTP) its customer token: the client made it, or it may see
    /// it anyway.
    Full,
    /// Only that a callback for this number is already pending: no id, no time, no remark,
    /// no token. The trace of that callback records the merge and who asked.
    Withheld,
}

impl Principal {
    pub fn new(actor: impl Into<String>, reach: Reach) -> Self {
        Self {
            actor: actor.into(),
            reach,
        }
    }

    /// Whether this principal may see (and, as far as its role allows, change) `r`.
    pub fn sees(&self, r: &CallbackRequest) -> bool {
        match &self.reach {
            Reach::All => true,
            Reach::Teams { queues, agent } => {
                matches!((&r.agent, agent), (Some(a), Some(mine)) if a == mine)
                    || queues.contains(&r.queue)
            }
            Reach::One(id) => *id == r.id,
            Reach::Own => false,
        }
    }

    /// Whether this principal may open callback `id` before it is read (a customer token
    /// names its callback; the other reaches are decided on the row by [`Self::sees`]).
    pub fn may_open(&self, id: CallbackId) -> bool {
        match &self.reach {
            Reach::All | Reach::Teams { .. } => true,
            Reach::One(own) => *own == id,
            Reach::Own => false,
        }
    }

    /// What a create answers. A new callback is the client's own; a replay of the same
    /// request with the same idempotency key under the same credential is too (the store
    /// refused it if the body differed). A merge into a waiting callback shows that
    /// callback only to someone who may see it anyway.
    pub fn disclosure(&self, r: &CallbackRequest, outcome: CreateOutcome) -> Disclosure {
        match outcome {
            CreateOutcome::Created | CreateOutcome::Existing => Disclosure::Full,
            CreateOutcome::Merged if self.sees(r) => Disclosure::Full,
            CreateOutcome::Merged => Disclosure::Withheld,
        }
    }
}

/// The words every door uses for a withheld merge.
pub const ALREADY_PENDING: &str = "a callback for this number is already pending";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn request(id: CallbackId, queue: &str, agent: Option<&str>) -> CallbackRequest {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        CallbackRequest {
            id,
            number: "+12125550123".into(),
            time_zone: "UTC".into(),
            queue: queue.into(),
            agent: agent.map(str::to_string),
            remark: Some("account 4711".into()),
            ..CallbackRequest::example(t)
        }
    }

    #[test]
    fn a_shared_client_credential_sees_only_what_it_creates() {
        // A public key or an IVR caller gets its new callback, never one it merged into.
        let web = Principal::new("api:web", Reach::Own);
        let r = request(7, "sales", None);
        assert!(!web.sees(&r));
        assert!(!web.may_open(7));
        assert_eq!(web.disclosure(&r, CreateOutcome::Created), Disclosure::Full);
        assert_eq!(
            web.disclosure(&r, CreateOutcome::Existing),
            Disclosure::Full
        );
        assert_eq!(
            web.disclosure(&r, CreateOutcome::Merged),
            Disclosure::Withheld
        );
    }

    #[test]
    fn reaches_beyond_one_callback_are_what_the_credential_grants() {
        // Staff and fs_cli see all; a token its one callback; a panel user teams and agent.
        let r = request(7, "sales", Some("1001"));
        let all = Principal::new("fs_cli", Reach::All);
        assert!(all.sees(&r));
        assert_eq!(all.disclosure(&r, CreateOutcome::Merged), Disclosure::Full);
        let token = Principal::new("customer", Reach::One(7));
        assert!(token.sees(&r) && token.may_open(7));
        assert!(!token.may_open(8) && !token.sees(&request(8, "sales", None)));
        let team = Principal::new(
            "panel:anna",
            Reach::Teams {
                queues: vec!["support".into()],
                agent: Some("1001".into()),
            },
        );
        assert!(team.sees(&r), "personal to her agent");
        assert!(team.sees(&request(9, "support", None)));
        assert!(!team.sees(&request(9, "sales", None)));
        assert_eq!(
            team.disclosure(&request(9, "sales", None), CreateOutcome::Merged),
            Disclosure::Withheld
        );
    }
}
