//! The panel's sessions on SQLite ([`SessionStore`]); the rules are `rules::sessions`'.

use super::{backend, SqliteStore};
use crate::store::rules::sessions::{
    check_session_digest, renewed, session, session_expiry, session_use, SessionUse,
    SESSION_COLUMNS,
};
use crate::store::rules::{secs, sql};
use crate::store::{PanelSession, SessionStore, StoreError};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

impl SessionStore for SqliteStore {
    fn session_open(
        &self,
        digest: &str,
        user: &str,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<(), StoreError> {
        check_session_digest(digest)?;
        let expires = session_expiry(now, idle)?;
        self.write("opening a panel session", |tx| {
            tx.execute(sql::SESSIONS_PURGE, [secs(now)])
                .map_err(backend("removing expired panel sessions"))?;
            tx.execute(
                sql::SESSION_INSERT,
                params![digest, user, secs(now), expires],
            )
            .map(drop)
            .map_err(backend("opening a panel session"))
        })
    }

    fn session_get(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        renew: Option<Duration>,
    ) -> Result<Option<PanelSession>, StoreError> {
        check_session_digest(digest)?;
        // Read first: most uses write nothing, and a read takes no write lock.
        let found = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM panel_sessions WHERE token_sha256 = ?1"
            ))
            .and_then(|mut s| s.query_row([digest], |r| session(r)).optional())
            .map_err(backend("reading a panel session"))
        })?;
        let Some(s) = found else {
            return Ok(None);
        };
        match session_use(&s, now, renew)? {
            SessionUse::Live => Ok(Some(s)),
            SessionUse::Expired => {
                self.write("removing an expired panel session", |tx| {
                    tx.execute(sql::SESSION_EXPIRE, params![digest, secs(now)])
                        .map_err(backend("removing an expired panel session"))
                })?;
                Ok(None)
            }
            SessionUse::Renew { expires_at } => {
                let changed = self.write("renewing a panel session", |tx| {
                    tx.execute(sql::SESSION_RENEW, params![secs(now), expires_at, digest])
                        .map_err(backend("renewing a panel session"))
                })?;
                // A logout meanwhile (on any node) left nothing to renew: it is over.
                Ok((changed > 0).then(|| renewed(s, now, expires_at)))
            }
        }
    }

    fn session_close(&self, digest: &str) -> Result<bool, StoreError> {
        check_session_digest(digest)?;
        self.write("closing a panel session", |tx| {
            tx.execute(sql::SESSION_CLOSE, [digest])
                .map(|n| n > 0)
                .map_err(backend("closing a panel session"))
        })
    }
}
