//! The panel sessions, the same on both backends: what a session is kept as, when it
//! expires, when a use is worth writing down, and the [`crate::store::SessionStore`] door
//! itself over a backend's statements ([`session_store`]).

use super::exec::{params, Backend, Query};
use super::rows::{self, time, Columns};
use super::{secs, sql};
use crate::store::{PanelSession, StoreError};
use chrono::{DateTime, Duration, Utc};

/// A session's last use is written again only this long after the previous write: every
/// panel request reads its session, and a write for each would be a database write per
/// click on every node. The idle expiry is thus exact to within this.
pub(crate) const SESSION_RENEW_AFTER: i64 = 60;

/// A session digest is the hex SHA-256 of the token: what the store keeps, never the token.
pub(crate) fn check_session_digest(digest: &str) -> Result<(), StoreError> {
    if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(super::invalid(
            "session",
            "a session is kept as the 64 hex digits of its token's SHA-256",
        ))
    }
}

/// When a session used at `now` expires after `idle` without use.
pub(crate) fn session_expiry(now: DateTime<Utc>, idle: Duration) -> Result<i64, StoreError> {
    super::lease_until(now, idle)
}

/// Whether a session last written at `last_used` is renewed by a use at `now_s`.
pub(crate) fn session_renewal_due(last_used: i64, now_s: i64) -> bool {
    now_s - last_used >= SESSION_RENEW_AFTER
}

/// The columns of `panel_sessions` [`session`] decodes, in its order.
pub(crate) const SESSION_COLUMNS: &str = "user_name, created_at, last_used, expires_at";

pub(crate) fn session<C: Columns + ?Sized>(r: &C) -> Result<PanelSession, C::Error> {
    Ok(PanelSession {
        user: rows::text(r, 0, "user_name")?,
        created_at: time(r, 1, "created_at")?,
        last_used: time(r, 2, "last_used")?,
        expires_at: time(r, 3, "expires_at")?,
    })
}

/// What a use of a stored session at `now` does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionUse {
    /// It has expired: removed, and the request is not logged in.
    Expired,
    /// Live; nothing to write.
    Live,
    /// Live, and its last use and expiry are written (`expires_at`, epoch seconds).
    Renew { expires_at: i64 },
}

pub(crate) fn session_use(
    s: &PanelSession,
    now: DateTime<Utc>,
    renew: Option<Duration>,
) -> Result<SessionUse, StoreError> {
    let now_s = secs(now);
    if secs(s.expires_at) <= now_s {
        return Ok(SessionUse::Expired);
    }
    match renew {
        Some(idle) if session_renewal_due(secs(s.last_used), now_s) => Ok(SessionUse::Renew {
            expires_at: session_expiry(now, idle)?,
        }),
        _ => Ok(SessionUse::Live),
    }
}

/// The session as a renewal at `now` left it.
pub(crate) fn renewed(mut s: PanelSession, now: DateTime<Utc>, expires_at: i64) -> PanelSession {
    let whole = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or(now);
    s.last_used = whole(secs(now));
    s.expires_at = whole(expires_at);
    s
}

/// [`crate::store::SessionStore::session_open`]: expired sessions go as a new one comes.
pub(crate) fn open(
    b: &impl Backend,
    digest: &str,
    user: &str,
    now: DateTime<Utc>,
    idle: Duration,
) -> Result<(), StoreError> {
    check_session_digest(digest)?;
    let expires = session_expiry(now, idle)?;
    b.writing("opening a panel session", |x| {
        x.execute(
            "removing expired panel sessions",
            sql::SESSIONS_PURGE,
            &params![secs(now)],
        )?;
        x.execute(
            "opening a panel session",
            sql::SESSION_INSERT,
            &params![digest, user, secs(now), expires],
        )
        .map(drop)
    })
}

/// [`crate::store::SessionStore::session_get`].
pub(crate) fn get(
    b: &impl Backend,
    digest: &str,
    now: DateTime<Utc>,
    renew: Option<Duration>,
) -> Result<Option<PanelSession>, StoreError> {
    check_session_digest(digest)?;
    // Read first: most uses write nothing, and a read takes no write lock.
    let found = b.reading(|x| {
        x.row(
            "reading a panel session",
            &format!("SELECT {SESSION_COLUMNS} FROM panel_sessions WHERE token_sha256 = $1"),
            &params![digest],
            |r| session(r),
        )
    })?;
    let Some(s) = found else {
        return Ok(None);
    };
    match session_use(&s, now, renew)? {
        SessionUse::Live => Ok(Some(s)),
        SessionUse::Expired => {
            let doing = "removing an expired panel session";
            b.writing(doing, |x| {
                x.execute(doing, sql::SESSION_EXPIRE, &params![digest, secs(now)])
            })?;
            Ok(None)
        }
        SessionUse::Renew { expires_at } => {
            let doing = "renewing a panel session";
            let changed = b.writing(doing, |x| {
                x.execute(
                    doing,
                    sql::SESSION_RENEW,
                    &params![secs(now), expires_at, digest],
                )
            })?;
            // A logout meanwhile (on any node) left nothing to renew: it is over.
            Ok((changed > 0).then(|| renewed(s, now, expires_at)))
        }
    }
}

/// [`crate::store::SessionStore::session_close`]: whether there was such a session.
pub(crate) fn close(b: &impl Backend, digest: &str) -> Result<bool, StoreError> {
    check_session_digest(digest)?;
    let doing = "closing a panel session";
    b.writing(doing, |x| {
        x.execute(doing, sql::SESSION_CLOSE, &params![digest])
            .map(|n| n > 0)
    })
}

/// The [`crate::store::SessionStore`] of a backend: the functions above.
macro_rules! session_store {
    ($store:ty) => {
        impl $crate::store::SessionStore for $store {
            fn session_open(
                &self,
                digest: &str,
                user: &str,
                now: chrono::DateTime<chrono::Utc>,
                idle: chrono::Duration,
            ) -> Result<(), $crate::store::StoreError> {
                $crate::store::rules::sessions::open(self, digest, user, now, idle)
            }

            fn session_get(
                &self,
                digest: &str,
                now: chrono::DateTime<chrono::Utc>,
                renew: Option<chrono::Duration>,
            ) -> Result<Option<$crate::store::PanelSession>, $crate::store::StoreError> {
                $crate::store::rules::sessions::get(self, digest, now, renew)
            }

            fn session_close(&self, digest: &str) -> Result<bool, $crate::store::StoreError> {
                $crate::store::rules::sessions::close(self, digest)
            }
        }
    };
}
pub(crate) use session_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_a_digest_renewed_at_most_once_a_minute_and_ends_at_its_expiry() {
        // The store takes 64 hex digits only; a use writes once the last write is a
        // minute old; at its expiry it is over.
        assert!(check_session_digest(&"ab".repeat(32)).is_ok());
        assert!(check_session_digest("token").is_err());
        assert!(session_renewal_due(0, 60) && !session_renewal_due(0, 59));
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let s = PanelSession {
            user: "alice".into(),
            created_at: at(0),
            last_used: at(0),
            expires_at: at(100),
        };
        let idle = Duration::seconds(100);
        assert_eq!(
            session_use(&s, at(30), Some(idle)).unwrap(),
            SessionUse::Live
        );
        assert_eq!(
            session_use(&s, at(60), Some(idle)).unwrap(),
            SessionUse::Renew { expires_at: 160 }
        );
        assert_eq!(session_use(&s, at(60), None).unwrap(), SessionUse::Live);
        assert_eq!(
            session_use(&s, at(100), Some(idle)).unwrap(),
            SessionUse::Expired
        );
    }
}
