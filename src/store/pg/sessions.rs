//! The panel's sessions on PostgreSQL ([`SessionStore`]), shared by every node; the rules
//! are `rules::sessions`'.

use super::{pg_err, PgStore};
use crate::store::rules::sessions::{
    check_session_digest, renewed, session, session_expiry, session_use, SessionUse,
    SESSION_COLUMNS,
};
use crate::store::rules::{secs, sql};
use crate::store::{PanelSession, SessionStore, StoreError};
use chrono::{DateTime, Duration, Utc};

impl SessionStore for PgStore {
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
            tx.execute(sql::SESSIONS_PURGE, &[&secs(now)])
                .map_err(pg_err("removing expired panel sessions"))?;
            tx.execute(sql::SESSION_INSERT, &[&digest, &user, &secs(now), &expires])
                .map(drop)
                .map_err(pg_err("opening a panel session"))
        })
    }

    fn session_get(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        renew: Option<Duration>,
    ) -> Result<Option<PanelSession>, StoreError> {
        check_session_digest(digest)?;
        let now_s = secs(now);
        self.with(|c| {
            // Read first: most uses write nothing.
            let found = c
                .query_opt(
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM panel_sessions WHERE token_sha256 = $1"
                    ),
                    &[&digest],
                )
                .map_err(pg_err("reading a panel session"))?;
            let Some(s) = found.map(|r| session(&r)).transpose()? else {
                return Ok(None);
            };
            match session_use(&s, now, renew)? {
                SessionUse::Live => Ok(Some(s)),
                SessionUse::Expired => {
                    c.execute(sql::SESSION_EXPIRE, &[&digest, &now_s])
                        .map_err(pg_err("removing an expired panel session"))?;
                    Ok(None)
                }
                SessionUse::Renew { expires_at } => {
                    let changed = c
                        .execute(sql::SESSION_RENEW, &[&now_s, &expires_at, &digest])
                        .map_err(pg_err("renewing a panel session"))?;
                    // A logout meanwhile (on any node) left nothing to renew: it is over.
                    Ok((changed > 0).then(|| renewed(s, now, expires_at)))
                }
            }
        })
    }

    fn session_close(&self, digest: &str) -> Result<bool, StoreError> {
        check_session_digest(digest)?;
        self.with(|c| {
            c.execute(sql::SESSION_CLOSE, &[&digest])
                .map(|n| n > 0)
                .map_err(pg_err("closing a panel session"))
        })
    }
}
