//! Who is calling: an API key from the configuration (`Authorization: Bearer <secret>`,
//! compared in constant time), or a customer holding the token given when their callback
//! was created (`Bearer cbt_<id>_<mac>`), which opens that one callback and nothing else.
//!
//! Customer tokens are not stored: they are HMAC-SHA256 of the callback's id and creation
//! time under the server's `http-token-secret`, so they survive restarts (when the secret
//! is configured) and a reused id (a fresh database) never matches an old token.

use super::error::ApiError;
use crate::access::{Principal, Reach};
use crate::config::{ApiKey, Scope};
use crate::model::{CallbackId, CallbackRequest};
use axum::http::{header, HeaderMap};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const TOKEN_PREFIX: &str = "cbt_";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Key { name: String, scope: Scope },
    Customer { id: CallbackId },
}

impl Caller {
    /// The name written into the callback's trace.
    pub fn actor(&self) -> String {
        match self {
            Caller::Key { name, .. } => format!("api:{name}"),
            Caller::Customer { .. } => "customer".to_string(),
        }
    }

    /// The caller as the one access rule sees it ([`crate::access`]): a staff key reaches
    /// every callback, a customer token its own, a create key (shared by every visitor of
    /// a web site) none but what it creates.
    pub fn principal(&self) -> Principal {
        let reach = match self {
            Caller::Key {
                scope: Scope::Staff,
                ..
            } => Reach::All,
            Caller::Key { .. } => Reach::Own,
            Caller::Customer { id } => Reach::One(*id),
        };
        Principal::new(self.actor(), reach)
    }

    /// The rate-limit bucket.
    pub fn bucket(&self) -> String {
        match self {
            Caller::Key { name, .. } => format!("key:{name}"),
            Caller::Customer { id } => format!("customer:{id}"),
        }
    }
}

/// A configured key with its secret's digest (what is compared).
struct Known {
    name: String,
    scope: Scope,
    digest: [u8; 32],
}

pub struct Auth {
    keys: Vec<Known>,
    token_key: Vec<u8>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Lower-case hex, two digits a byte (every create's reply carries a token: the
/// formatting machinery per byte showed in the HTTP bench's profile).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

impl Auth {
    /// `token_secret` `None`: a random key for this process (tokens die with it).
    pub fn new(keys: &[ApiKey], token_secret: Option<&str>) -> Self {
        let token_key = match token_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                if let Err(e) = getrandom::fill(&mut k) {
                    // Without randomness no token could be trusted: none will match.
                    tracing::error!("http: no random source for customer tokens: {e}");
                }
                k
            }
        };
        Self {
            keys: keys
                .iter()
                .map(|k| Known {
                    name: k.name.clone(),
                    scope: k.scope,
                    digest: digest(&k.secret),
                })
                .collect(),
            token_key,
        }
    }

    fn mac(&self, r: &CallbackRequest) -> [u8; 32] {
        // HMAC takes keys of any length; the error arm cannot happen.
        let mut m = match HmacSha256::new_from_slice(&self.token_key) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        m.update(format!("callback-token:v1:{}:{}", r.id, r.created_at.timestamp()).as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The customer token of a callback.
    pub fn token(&self, r: &CallbackRequest) -> String {
        format!("{TOKEN_PREFIX}{}_{}", r.id, hex(&self.mac(r)))
    }

    /// Checks a customer token against the callback it names (`load` reads it).
    pub fn check_token(
        &self,
        token: &str,
        load: impl FnOnce(CallbackId) -> Option<CallbackRequest>,
    ) -> Option<CallbackId> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let (id, mac) = rest.split_once('_')?;
        let id: CallbackId = id.parse().ok().filter(|i| *i > 0)?;
        let r = load(id)?;
        let expected = hex(&self.mac(&r));
        bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then_some(id)
    }

    /// The caller named by the `Authorization` header.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        load: impl FnOnce(CallbackId) -> Option<CallbackRequest>,
    ) -> Result<Caller, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <api key or token>"))?
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let secret = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("send Authorization: Bearer <api key or token>")
            })?;
        if secret.starts_with(TOKEN_PREFIX) {
            return self
                .check_token(secret, load)
                .map(|id| Caller::Customer { id })
                .ok_or_else(|| ApiError::unauthorized("unknown key or token"));
        }
        // Every key is compared (no early exit) on fixed-length digests: neither the
        // position of a match nor a secret's length shows in the time taken.
        let given = digest(secret);
        let mut found: Option<&Known> = None;
        for k in &self.keys {
            if bool::from(k.digest.ct_eq(&given)) {
                found = Some(k);
            }
        }
        found
            .map(|k| Caller::Key {
                name: k.name.clone(),
                scope: k.scope,
            })
            .ok_or_else(|| ApiError::unauthorized("unknown key or token"))
    }
}
