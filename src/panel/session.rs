//! Logins: a password checked in constant time, then a random session token in an
//! `HttpOnly; SameSite=Strict` cookie. The session is kept by the store
//! ([`SessionStore`]: the token's SHA-256, never the token), so every node sharing the store
//! knows it, a restart keeps it, and a logout or an idle expiry ends it everywhere. The
//! live streams a session holds open are this node's own (connections to it), counted in
//! memory. Sessions live on the real clock: the service's clock may be a test's.
//!
//! Every method reads or writes the store, which blocks: handlers call them on tokio's
//! blocking pool, as they call the service (`super::blocking`).

use crate::api::ApiError;
use crate::config::StaffConfig;
use crate::store::Store;
use axum::http::{header, HeaderMap};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "callback_panel";

/// A session ends after this long without a request.
const IDLE: Duration = Duration::hours(12);

/// Live-update streams one session may hold open (a few tabs).
pub const MAX_STREAMS: usize = 4;

/// The sessions, in the store, and this node's live streams per session.
pub struct Sessions {
    store: Arc<dyn Store>,
    /// Open live-update streams by session digest.
    streams: Mutex<HashMap<String, usize>>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// What the store keeps of a token: its SHA-256 in hex.
fn token_digest(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// A store failure as the panel answers it (503 for an outage, as every other route).
fn store_error(e: crate::store::StoreError) -> ApiError {
    ApiError::from(crate::service::Error::from(e))
}

/// Checks a login: every user's password digest is compared (no early exit), so the
/// time taken says nothing about which user exists or how much of a password matched.
pub fn check_password(staff: &StaffConfig, user: &str, password: &str) -> bool {
    let given = digest(password);
    let mut ok = false;
    for u in &staff.users {
        let same = bool::from(digest(&u.password).ct_eq(&given));
        ok |= same && u.name == user;
    }
    ok
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            streams: Mutex::default(),
        }
    }

    /// A new session for `user`: its token.
    pub fn open(&self, user: &str) -> Result<String, ApiError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| {
            tracing::error!("panel: no random source for a session: {e}");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "no-randomness",
                "the server cannot make a session now",
            )
        })?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        self.store
            .session_open(&token_digest(&token), user, Utc::now(), IDLE)
            .map_err(store_error)?;
        Ok(token)
    }

    /// The user of the session the request's cookie names (and the session is renewed);
    /// `None` without a live session.
    pub fn user(&self, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        self.get(headers, Some(IDLE))
    }

    /// The user of the session the request's cookie names, without renewing it: the live
    /// stream's own polls must not keep an idle session alive.
    pub fn alive(&self, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        self.get(headers, None)
    }

    fn get(
        &self,
        headers: &HeaderMap,
        renew: Option<Duration>,
    ) -> Result<Option<String>, ApiError> {
        let Some(token) = cookie(headers) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session_get(&token_digest(&token), Utc::now(), renew)
            .map_err(store_error)?
            .map(|s| s.user))
    }

    /// Counts one more live stream of the request's session (on this node): its key, or
    /// `None` when the session has [`MAX_STREAMS`] open here. The caller checked that the
    /// session is live. [`Sessions::stream_ended`] undoes it.
    pub fn stream_started(&self, headers: &HeaderMap) -> Option<String> {
        let key = token_digest(&cookie(headers)?);
        let mut map = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let open = map.entry(key.clone()).or_insert(0);
        if *open >= MAX_STREAMS {
            return None;
        }
        *open += 1;
        Some(key)
    }

    /// One live stream of the session `key` ended.
    pub fn stream_ended(&self, key: &str) {
        let mut map = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = map.get_mut(key) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                map.remove(key);
            }
        }
    }

    /// Ends the session the request's cookie names, on every node.
    pub fn close(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(token) = cookie(headers) {
            self.store
                .session_close(&token_digest(&token))
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// The session token from the `Cookie` header(s).
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value of a new session (or, with `None`, of a logout).
pub fn set_cookie(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{COOKIE}={t}; Path=/panel; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE}=; Path=/panel; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SessionStore, SqliteStore};

    fn with_cookie(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("{COOKIE}={token}").parse().unwrap());
        h
    }

    #[test]
    fn the_stream_neither_renews_a_session_nor_opens_more_than_four() {
        // A session in the store: looked at without renewal by the stream, renewed by a
        // request, gone at logout; a node counts at most four streams of it.
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
        let s = Sessions::new(store.clone());
        let token = s.open("alice").unwrap();
        let h = with_cookie(&token);
        let key = token_digest(&token);
        assert_ne!(key, token, "the store keeps the digest");
        // Last used two minutes ago: a look does not write, a request does.
        let old = Utc::now() - Duration::minutes(2);
        store.session_close(&key).unwrap();
        store.session_open(&key, "alice", old, IDLE).unwrap();
        let seen = |st: &SqliteStore| st.session_get(&key, Utc::now(), None).unwrap().unwrap();
        assert_eq!(s.alive(&h).unwrap().as_deref(), Some("alice"));
        assert_eq!(
            seen(&store).last_used.timestamp(),
            old.timestamp(),
            "alive() renewed"
        );
        assert_eq!(s.user(&h).unwrap().as_deref(), Some("alice"));
        assert!(seen(&store).last_used > old, "user() did not renew");
        for _ in 0..MAX_STREAMS {
            assert!(s.stream_started(&h).is_some());
        }
        assert!(s.stream_started(&h).is_none());
        s.stream_ended(&key);
        assert!(s.stream_started(&h).is_some());
        s.close(&h).unwrap();
        assert_eq!(s.user(&h).unwrap(), None);
        assert_eq!(s.alive(&h).unwrap(), None);
    }
}
