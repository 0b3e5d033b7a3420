//! The agent panel's logins, kept by the store so every node sharing it knows them and a
//! restart keeps them: a login on one node is valid on the others, a logout or an expiry
//! ends it on all. The store keeps the SHA-256 of the session token (hex), never the token
//! itself: whoever reads the database cannot log in with what they read. The SQL is the
//! backend's (`sqlite/sessions.rs`, `pg/sessions.rs`), the expiry rules
//! `rules::sessions`.

use super::StoreError;
use chrono::{DateTime, Duration, Utc};

/// A live session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelSession {
    pub user: String,
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute).
    pub last_used: DateTime<Utc>,
    /// It ends at this instant unless used before.
    pub expires_at: DateTime<Utc>,
}

/// The panel sessions door. `digest` is the hex SHA-256 of a token (64 hex digits; anything
/// else is refused with [`StoreError::Invalid`]).
pub trait SessionStore {
    /// Stores a new session of `user` that ends after `idle` without use; sessions
    /// already expired are removed in the same transaction.
    fn session_open(
        &self,
        digest: &str,
        user: &str,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<(), StoreError>;

    /// The live session `digest` names (an expired one is removed: `None`). With `renew`,
    /// the use at `now` pushes its expiry to `now + renew` (written when the last write is
    /// a minute old); without, the session is only looked at.
    fn session_get(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        renew: Option<Duration>,
    ) -> Result<Option<PanelSession>, StoreError>;

    /// Ends the session: `true` when there was one.
    fn session_close(&self, digest: &str) -> Result<bool, StoreError>;
}
