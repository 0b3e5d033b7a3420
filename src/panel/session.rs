//! Logins: a password checked in constant time, then a random session token in an
//! `HttpOnly; SameSite=Strict` cookie, kept in memory with an idle expiry (a restart logs
//! everyone out). Sessions live on the real clock: the service's clock may be a test's.

use crate::api::ApiError;
use crate::config::StaffConfig;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "callback_panel";

/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(12 * 3600);

/// Sessions at most (the oldest is dropped beyond it): a bound on memory.
const MAX_SESSIONS: usize = 10_000;

/// Live-update streams one session may hold open (a few tabs).
pub const MAX_STREAMS: usize = 4;

struct Entry {
    user: String,
    seen: Instant,
    /// Open live-update streams.
    streams: usize,
}

/// The live sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
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
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, e| now.duration_since(e.seen) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            token.clone(),
            Entry {
                user: user.to_string(),
                seen: now,
                streams: 0,
            },
        );
        Ok(token)
    }

    /// The user of the session the request's cookie names (and the session is renewed).
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie(headers)?;
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let e = map.get_mut(&token)?;
        if now.duration_since(e.seen) >= IDLE {
            map.remove(&token);
            return None;
        }
        e.seen = now;
        Some(e.user.clone())
    }

    /// The user of the session the request's cookie names, without renewing it: the live
    /// stream's own polls must not keep an idle session alive.
    pub fn alive(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie(headers)?;
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let e = map.get(&token)?;
        (Instant::now().duration_since(e.seen) < IDLE).then(|| e.user.clone())
    }

    /// Counts one more live stream of the request's session: its token, or `None` when
    /// the session has [`MAX_STREAMS`] open (or is gone). [`Sessions::stream_ended`] undoes it.
    pub fn stream_started(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie(headers)?;
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let e = map.get_mut(&token)?;
        if e.streams >= MAX_STREAMS {
            return None;
        }
        e.streams += 1;
        Some(token)
    }

    /// One live stream of the session `token` ended.
    pub fn stream_ended(&self, token: &str) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = map.get_mut(token) {
            e.streams = e.streams.saturating_sub(1);
        }
    }

    /// Ends the session the request's cookie names.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers) {
            self.map
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&token);
        }
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

    fn with_cookie(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("{COOKIE}={token}").parse().unwrap());
        h
    }

    #[test]
    fn the_stream_neither_renews_a_session_nor_opens_more_than_four() {
        let s = Sessions::default();
        let token = s.open("alice").unwrap();
        let h = with_cookie(&token);
        let old = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap();
        s.map.lock().unwrap().get_mut(&token).unwrap().seen = old;
        assert_eq!(s.alive(&h).as_deref(), Some("alice"));
        assert_eq!(s.map.lock().unwrap()[&token].seen, old, "alive() renewed");
        // Idle past expiry: gone for the stream too.
        let expired = Instant::now().checked_sub(IDLE).unwrap();
        s.map.lock().unwrap().get_mut(&token).unwrap().seen = expired;
        assert_eq!(s.alive(&h), None);
        s.map.lock().unwrap().get_mut(&token).unwrap().seen = Instant::now();
        for _ in 0..MAX_STREAMS {
            assert!(s.stream_started(&h).is_some());
        }
        assert!(s.stream_started(&h).is_none());
        s.stream_ended(&token);
        assert!(s.stream_started(&h).is_some());
    }
}
