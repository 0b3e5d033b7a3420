//! The service's errors, each with a stable code and, where one field is to blame, its
//! name: the one translation every door (fs_cli, dialplan, HTTP) words in its own way.

use super::*;

/// Errors of the service, each with a stable [`Error::code`] and, where one field is to
/// blame, its name ([`Error::field`]) for the API boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid number: {0}")]
    Number(#[from] NumberError),
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown queue '{0}'")]
    UnknownQueue(String),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The callback is not in a state that allows this now (HTTP 409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The number is on the do-not-call list: refused at booking, not at the due time.
    #[error("{0} is on the do-not-call list")]
    DoNotCall(String),
}

impl Error {
    pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Whether the store (its database or disk) failed rather than the request: say it
    /// as an error, and try again later.
    pub fn is_store_unavailable(&self) -> bool {
        matches!(self, Error::Store(s) if s.is_unavailable())
    }

    /// A stable, kebab-case code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Number(NumberError::Denied { .. }) => "number-denied",
            Error::Number(_) => "invalid-number",
            Error::Zone(_) => "unknown-time-zone",
            Error::Schedule(e) => e.code(),
            Error::Store(StoreError::NotFound(_)) => "not-found",
            Error::Store(StoreError::Transition(_) | StoreError::StateChanged { .. }) => {
                "invalid-state"
            }
            Error::Store(
                StoreError::Leased { .. }
                | StoreError::LeaseLost { .. }
                | StoreError::AgentBusy { .. },
            ) => "busy",
            Error::Store(StoreError::SlotFull { .. }) => "slot-full",
            Error::Store(StoreError::IdempotencyMismatch) => "idempotency-mismatch",
            Error::Store(StoreError::Invalid { .. }) | Error::Invalid { .. } => "invalid",
            Error::Store(StoreError::Unavailable { fault, .. }) => fault.code(),
            Error::Store(StoreError::Backend(_)) => "storage",
            Error::UnknownQueue(_) => "unknown-queue",
            Error::Conflict { code, .. } => code,
            Error::DoNotCall(_) => "do-not-call",
        }
    }

    /// The input field to blame, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Number(_) | Error::DoNotCall(_) => Some("number"),
            Error::Zone(_) => Some("time_zone"),
            Error::Schedule(_) | Error::Store(StoreError::SlotFull { .. }) => Some("when"),
            Error::UnknownQueue(_) => Some("queue"),
            Error::Store(StoreError::IdempotencyMismatch) => Some("idempotency_key"),
            Error::Conflict {
                code: TOO_MANY_PENDING,
                ..
            } => Some("number"),
            Error::Invalid { field, .. } | Error::Store(StoreError::Invalid { field, .. }) => {
                Some(field)
            }
            _ => None,
        }
    }
}
