//! Who may log in to the agent panel (`<staff><user name="alice">` with `password`, `role`,
//! `agent`, `teams`) and what each role may do (`<roles><role name="agent">` with
//! `schedule`, `reschedule`, `cancel`, `reassign`, `operator`, `see`).
//!
//! Three roles exist without any `<roles>`: `agent` (schedules and reschedules for its
//! teams), `supervisor` (also cancels, reassigns and opens the operator view) and `admin`
//! (all of that, for every queue). A configured role of one of those names starts from
//! its defaults; any other name starts from nothing allowed.

use super::{check_token, list, AgentConfig, ConfigError, Params};
use std::collections::BTreeMap;

/// Which callbacks a role sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The user's own (personal) callbacks and those of their teams' queues.
    Teams,
    /// Every callback.
    All,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Teams => "teams",
            Visibility::All => "all",
        }
    }
}

/// What a role may do in the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub schedule: bool,
    pub reschedule: bool,
    pub cancel: bool,
    /// Route a callback to another agent or back to its queue.
    pub reassign: bool,
    /// Open the operator view (queues, outcomes, overdue, agents).
    pub operator: bool,
    pub see: Visibility,
}

impl Role {
    /// The built-in role of this name, or one that may do nothing.
    pub fn builtin(name: &str) -> Role {
        let (schedule, reschedule, cancel, reassign, operator, see) = match name {
            "agent" => (true, true, false, false, false, Visibility::Teams),
            "supervisor" => (true, true, true, true, true, Visibility::Teams),
            "admin" => (true, true, true, true, true, Visibility::All),
            _ => (false, false, false, false, false, Visibility::Teams),
        };
        Role {
            name: name.to_string(),
            schedule,
            reschedule,
            cancel,
            reassign,
            operator,
            see,
        }
    }
}

/// One person who may log in.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub name: String,
    pub password: String,
    pub role: String,
    /// The `<agents>` id this person takes calls as (their own state, Call Now).
    pub agent: Option<String>,
    /// The queues whose callbacks they see: their agent's queues and `teams`.
    pub teams: Vec<String>,
}

// The password never reaches a log line through `{:?}`.
impl std::fmt::Debug for StaffUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("agent", &self.agent)
            .field("teams", &self.teams)
            .finish_non_exhaustive()
    }
}

/// The panel's users and roles.
#[derive(Debug, Clone, Default)]
pub struct StaffConfig {
    pub users: Vec<StaffUser>,
    /// Every role by name: the three built-in ones and those configured.
    pub roles: BTreeMap<String, Role>,
}

impl StaffConfig {
    pub fn user(&self, name: &str) -> Option<&StaffUser> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn role(&self, name: &str) -> Role {
        self.roles
            .get(name)
            .cloned()
            .unwrap_or_else(|| Role::builtin(name))
    }
}

pub(super) const USER_KEYS: &[&str] = &["password", "role", "agent", "teams"];
pub(super) const ROLE_KEYS: &[&str] = &[
    "schedule",
    "reschedule",
    "cancel",
    "reassign",
    "operator",
    "see",
];

/// The shortest password accepted.
const MIN_PASSWORD: usize = 8;

/// `<role name="...">`: the built-in defaults of that name, changed by its params.
pub(super) fn build_role(r: &Params<'_>, name: &str) -> Result<Role, ConfigError> {
    check_token(r, "name", name)?;
    let d = Role::builtin(name);
    let see = match r.get("see") {
        None => d.see,
        Some("teams") => Visibility::Teams,
        Some("all") => Visibility::All,
        Some(v) => return Err(r.err("see", format!("'{v}' is not teams or all"))),
    };
    Ok(Role {
        name: name.to_string(),
        schedule: r.flag("schedule", d.schedule)?,
        reschedule: r.flag("reschedule", d.reschedule)?,
        cancel: r.flag("cancel", d.cancel)?,
        reassign: r.flag("reassign", d.reassign)?,
        operator: r.flag("operator", d.operator)?,
        see,
    })
}

/// `<user name="...">`, checked against the roles, agents and queues defined.
pub(super) fn build_user(
    u: &Params<'_>,
    name: &str,
    roles: &BTreeMap<String, Role>,
    agents: &[AgentConfig],
    queues: &[&String],
) -> Result<StaffUser, ConfigError> {
    check_token(u, "name", name)?;
    let password = u.get("password").unwrap_or("").to_string();
    if password.chars().count() < MIN_PASSWORD || password.chars().any(char::is_control) {
        return Err(u.err(
            "password",
            format!("give a password of at least {MIN_PASSWORD} characters"),
        ));
    }
    if super::api::is_placeholder(&password) {
        return Err(u.err("password", super::api::PLACEHOLDER));
    }
    let role = u.get("role").unwrap_or("").to_string();
    if !roles.contains_key(&role) {
        return Err(u.err(
            "role",
            format!(
                "'{role}' is not a role (known: {})",
                roles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let agent = match u.get("agent").filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            agents
                .iter()
                .find(|x| x.id == a)
                .ok_or_else(|| u.err("agent", format!("'{a}' is not an agent in <agents>")))?,
        ),
    };
    if role == "agent" && agent.is_none() {
        return Err(u.err(
            "agent",
            "a user with role agent needs the <agents> id they take calls as",
        ));
    }
    let mut teams: Vec<String> = agent.map(|a| a.queues.clone()).unwrap_or_default();
    for q in list(u.get("teams").unwrap_or("")) {
        if !queues.iter().any(|x| x.as_str() == q) {
            return Err(u.err("teams", format!("queue '{q}' is not defined in <queues>")));
        }
        if !teams.iter().any(|t| t == q) {
            teams.push(q.to_string());
        }
    }
    Ok(StaffUser {
        name: name.to_string(),
        password,
        role,
        agent: agent.map(|a| a.id.clone()),
        teams,
    })
}
