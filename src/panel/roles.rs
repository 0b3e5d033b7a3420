//! Who is asking and what they may do: the logged-in user with their role, the
//! callbacks they see (their own, their teams' queues, or all) and the actions allowed.

use crate::access::{Principal, Reach};
use crate::api::ApiError;
use crate::config::{Role, StaffUser, Visibility};
use crate::model::CallbackRequest;

/// An action a role may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Schedule,
    Reschedule,
    Cancel,
    Reassign,
    Operator,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Schedule => "schedule",
            Action::Reschedule => "reschedule",
            Action::Cancel => "cancel",
            Action::Reassign => "reassign",
            Action::Operator => "operator",
        }
    }
}

/// The logged-in user.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: StaffUser,
    pub role: Role,
}

impl Viewer {
    pub fn may(&self, action: Action) -> bool {
        match action {
            Action::Schedule => self.role.schedule,
            Action::Reschedule => self.role.reschedule,
            Action::Cancel => self.role.cancel,
            Action::Reassign => self.role.reassign,
            Action::Operator => self.role.operator,
        }
    }

    /// Refuses (403) an action the role is not granted.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.may(action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role '{}' may not {} callbacks (see <roles> in callback.conf.xml)",
                self.role.name,
                action.as_str()
            )))
        }
    }

    /// Whether the queue is one the user works for (or they see every queue).
    pub fn sees_queue(&self, queue: &str) -> bool {
        self.role.see == Visibility::All || self.user.teams.iter().any(|t| t == queue)
    }

    /// Refuses (403, on `queue`) a queue that is not one of the user's teams.
    pub fn require_queue(&self, queue: &str) -> Result<(), ApiError> {
        if self.sees_queue(queue) {
            Ok(())
        } else {
            Err(
                ApiError::forbidden(format!("queue '{queue}' is not one of your teams"))
                    .on("queue"),
            )
        }
    }

    /// The user's own agent, for the actions only an agent takes (ready/away, Call Now,
    /// accept or reject an offer); a login with no agent is refused on `agent`.
    pub fn own_agent(&self) -> Result<String, ApiError> {
        self.user.agent.clone().ok_or_else(|| {
            ApiError::bad(
                "invalid",
                "agent",
                "your login is not an agent (no agent in <staff>)",
            )
        })
    }

    /// The user as the one access rule sees them ([`crate::access`]): every callback, or
    /// the personal callbacks of their agent and those of their teams' queues.
    pub fn principal(&self) -> Principal {
        let reach = if self.role.see == Visibility::All {
            Reach::All
        } else {
            Reach::Teams {
                queues: self.user.teams.clone(),
                agent: self.user.agent.clone(),
            }
        };
        Principal::new(self.actor(), reach)
    }

    /// Personal callbacks of the user's agent, and those of their teams' queues.
    pub fn sees(&self, r: &CallbackRequest) -> bool {
        self.principal().sees(r)
    }

    /// The callback when the user may see it; otherwise "no such callback" (404), so
    /// the ids of others' callbacks are not confirmed.
    pub fn check(&self, r: CallbackRequest) -> Result<CallbackRequest, ApiError> {
        if self.sees(&r) {
            Ok(r)
        } else {
            Err(ApiError::not_found())
        }
    }

    /// The name written into the callback's trace.
    pub fn actor(&self) -> String {
        format!("panel:{}", self.user.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn viewer(role: &str, agent: Option<&str>, teams: &[&str]) -> Viewer {
        Viewer {
            user: StaffUser {
                name: "sam".into(),
                password: "x".into(),
                role: role.into(),
                agent: agent.map(str::to_string),
                teams: teams.iter().map(|t| t.to_string()).collect(),
            },
            role: Role::builtin(role),
        }
    }

    #[test]
    // A team member may act on their team's queue only; an admin on every queue; the refusal names the field.
    fn a_queue_outside_the_users_teams_is_refused_on_queue() {
        let sam = viewer("supervisor", None, &["support"]);
        assert!(sam.require_queue("support").is_ok());
        let e = sam.require_queue("sales").unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.field.as_deref(), Some("queue"));
        assert!(e.message.contains("'sales'"), "{}", e.message);
        assert!(viewer("admin", None, &[]).require_queue("sales").is_ok());
    }

    #[test]
    // Ready/away, Call Now and offer decisions need the login's own agent; a login without one gets a 400 on agent.
    fn a_login_without_an_agent_has_no_own_agent() {
        assert_eq!(
            viewer("agent", Some("1001"), &[]).own_agent().unwrap(),
            "1001"
        );
        let e = viewer("supervisor", None, &[]).own_agent().unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.field.as_deref(), Some("agent"));
    }
}
