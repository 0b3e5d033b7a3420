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

struct Entry {
    user: String,
    seen: Instant,
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
