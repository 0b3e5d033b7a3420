//! REST API settings (`http-*` and `max-pending-per-number` in `<settings>`) and its keys
//! (`<api-keys><key name="web"><param name="secret" .../><param name="scope" .../></key>`).

use super::{check_token, ConfigError, Params};
use std::net::SocketAddr;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Create callbacks only (public web forms, mobile apps): what a customer does.
    Create,
    /// Everything: list, view, cancel and reschedule any callback.
    Staff,
    /// Read `/metrics` only (a Prometheus server's key).
    Metrics,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Create => "create",
            Scope::Staff => "staff",
            Scope::Metrics => "metrics",
        }
    }
}

/// One API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub secret: String,
    pub scope: Scope,
}

// The secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The REST API's configuration.
#[derive(Clone)]
pub struct ApiConfig {
    /// Where the server listens; `None` (`http-listen` empty) switches it off.
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest recording upload (`POST /v1/callbacks/{id}/recording`), in bytes.
    pub max_recording_bytes: usize,
    /// The key customer tokens are derived from; `None`: a random one per start (tokens
    /// then stop working after a restart).
    pub token_secret: Option<String>,
    /// Callbacks a number may have waiting or in progress at once (0: no limit).
    pub max_pending_per_number: u32,
    /// Requests per minute per API key (or per customer token), and per client address
    /// (0: no limit).
    pub rate_per_key: u32,
    pub rate_per_ip: u32,
    pub keys: Vec<ApiKey>,
    /// `<webhooks>`: where state changes are POSTed.
    pub webhooks: Vec<WebhookTarget>,
    /// First pause after a failed delivery (doubling), and the longest pause.
    pub webhook_retry_delay: chrono::Duration,
    pub webhook_max_delay: chrono::Duration,
    /// Origins (`https://www.example.com`) whose pages may call the `/v1` API from a
    /// browser (the callback widget embedded in another site); empty: none (same origin
    /// only).
    pub cors_origins: Vec<String>,
    /// What the embeddable widget offers (`widget-*` settings).
    pub widget: WidgetConfig,
}

/// The callback widget's settings: the consent text shown before a visitor asks, and the
/// countries offered for the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WidgetConfig {
    /// Shown above the button with a box the visitor must tick; empty: no consent asked.
    pub consent: String,
    /// ISO 3166 regions offered in the country list (the first is preselected); empty:
    /// the visitor types the number with its +country code.
    pub countries: Vec<String>,
}

/// One outbound webhook (`<webhooks><webhook name="crm">` with `url` and `secret`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub name: String,
    /// `http://host:port/path` (TLS through a local relay or proxy).
    pub url: String,
    /// Signs each body: HMAC-SHA256 over `<timestamp>.<body>`.
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_recording_bytes", &self.max_recording_bytes)
            .field("token_secret", &self.token_secret.as_ref().map(|_| "***"))
            .field("max_pending_per_number", &self.max_pending_per_number)
            .field("rate_per_key", &self.rate_per_key)
            .field("rate_per_ip", &self.rate_per_ip)
            .field("keys", &self.keys)
            .field("webhooks", &self.webhooks)
            .field("cors_origins", &self.cors_origins)
            .field("widget", &self.widget)
            .finish_non_exhaustive()
    }
}

pub(super) const API_SETTINGS: &[&str] = &[
    "http-listen",
    "http-max-body-bytes",
    "http-max-recording-bytes",
    "http-token-secret",
    "http-rate-per-key",
    "http-rate-per-ip",
    "max-pending-per-number",
    "webhook-retry-delay",
    "webhook-max-delay",
    "http-cors-origins",
    "widget-consent",
    "widget-countries",
];

pub(super) const WEBHOOK_KEYS: &[&str] = &["url", "secret"];

pub(super) const KEY_KEYS: &[&str] = &["secret", "scope"];

/// The shortest secret accepted (for keys and the token secret).
const MIN_SECRET: usize = 16;

/// A value left as the sample's placeholder (`change-me...`): refused wherever a secret or
/// password goes, since a secret everybody who read the sample knows guards nothing.
pub(super) fn is_placeholder(secret: &str) -> bool {
    secret.to_ascii_lowercase().contains("change-me")
}

/// The refusal of a placeholder secret.
pub(super) const PLACEHOLDER: &str =
    "is the sample's placeholder (change-me...): set a random secret of your own, or remove it";

pub(super) fn build_api(
    s: &Params<'_>,
    keys: Vec<ApiKey>,
    webhooks: Vec<WebhookTarget>,
) -> Result<ApiConfig, ConfigError> {
    let listen = match s.get("http-listen").map(str::trim) {
        None => Some(SocketAddr::from(([127, 0, 0, 1], 8089))),
        Some("") => None,
        Some(v) => Some(v.parse().map_err(|_| {
            s.err(
                "http-listen",
                format!("'{v}' is not an address:port such as 127.0.0.1:8089 (empty: off)"),
            )
        })?),
    };
    let token_secret = s
        .get("http-token-secret")
        .map(str::trim)
        .filter(|v| !v.is_empty());
    if token_secret.is_some_and(|v| v.len() < MIN_SECRET) {
        return Err(s.err(
            "http-token-secret",
            format!("must be at least {MIN_SECRET} characters"),
        ));
    }
    if token_secret.is_some_and(is_placeholder) {
        return Err(s.err("http-token-secret", PLACEHOLDER));
    }
    Ok(ApiConfig {
        listen,
        max_body_bytes: s.number("http-max-body-bytes", 16_384usize, 256..=1_048_576)?,
        max_recording_bytes: s.number(
            "http-max-recording-bytes",
            4_194_304usize,
            65_536..=67_108_864,
        )?,
        token_secret: token_secret.map(str::to_string),
        max_pending_per_number: s.number("max-pending-per-number", 2u32, 0..=1000)?,
        rate_per_key: s.number("http-rate-per-key", 600u32, 0..=1_000_000)?,
        rate_per_ip: s.number("http-rate-per-ip", 120u32, 0..=1_000_000)?,
        keys,
        webhooks,
        webhook_retry_delay: positive(s, "webhook-retry-delay", "5s")?,
        webhook_max_delay: positive(s, "webhook-max-delay", "10m")?,
        cors_origins: cors_origins(s)?,
        widget: WidgetConfig {
            consent: s.get("widget-consent").unwrap_or("").trim().to_string(),
            countries: countries(s)?,
        },
    })
}

/// `http-cors-origins`: a comma-separated list of `scheme://host[:port]`, exactly as a
/// browser sends its `Origin` header (no path, no trailing slash), so the match is exact.
fn cors_origins(s: &Params<'_>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for o in s
        .get("http-cors-origins")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"));
        let ok = rest.is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !ok {
            return Err(s.err(
                "http-cors-origins",
                format!(
                    "'{o}' is not an origin such as https://www.example.com (scheme and host, \
                     optional port, no path)"
                ),
            ));
        }
        out.push(o.to_ascii_lowercase());
    }
    Ok(out)
}

/// `widget-countries`: ISO 3166 codes the phone number library knows.
fn countries(s: &Params<'_>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for c in s
        .get("widget-countries")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let code = c.to_ascii_uppercase();
        if calling_code(&code).is_none() {
            return Err(s.err(
                "widget-countries",
                format!("'{c}' is not a two-letter country code such as US or DE"),
            ));
        }
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

/// The international calling code of an ISO 3166 region (`DE` -> 49).
pub fn calling_code(region: &str) -> Option<u16> {
    if region.len() != 2 {
        return None;
    }
    phonenumber::metadata::DATABASE
        .by_id(region)
        .map(|m| m.country_code())
}

fn positive(s: &Params<'_>, key: &str, default: &str) -> Result<chrono::Duration, ConfigError> {
    let d = s.duration(key, default)?;
    if d < chrono::Duration::seconds(1) {
        return Err(s.err(key, "must be at least 1s"));
    }
    Ok(d)
}

/// `<webhook name="crm">` with `url` (http://) and `secret`.
pub(super) fn build_webhook(w: &Params<'_>, name: &str) -> Result<WebhookTarget, ConfigError> {
    check_token(w, "name", name)?;
    let url = w.get("url").unwrap_or("").trim().to_string();
    let ok = url
        .strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(w.err(
            "url",
            format!("'{url}' is not an http:// URL (for https, post to a local TLS relay)"),
        ));
    }
    let secret = w.get("secret").unwrap_or("").trim().to_string();
    if secret.len() < MIN_SECRET {
        return Err(w.err(
            "secret",
            format!("give a secret of at least {MIN_SECRET} characters"),
        ));
    }
    if is_placeholder(&secret) {
        return Err(w.err("secret", PLACEHOLDER));
    }
    Ok(WebhookTarget {
        name: name.to_string(),
        url,
        secret,
    })
}

/// `<key name="web">` with `secret` and `scope` (`create`, `staff` or `metrics`).
pub(super) fn build_key(k: &Params<'_>, name: &str) -> Result<ApiKey, ConfigError> {
    check_token(k, "name", name)?;
    let secret = k.get("secret").unwrap_or("").trim().to_string();
    if secret.len() < MIN_SECRET || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(k.err(
            "secret",
            format!("give a secret of at least {MIN_SECRET} characters without spaces"),
        ));
    }
    if is_placeholder(&secret) {
        return Err(k.err("secret", PLACEHOLDER));
    }
    let scope = match k.get("scope").map(str::trim) {
        Some("create") => Scope::Create,
        Some("staff") => Scope::Staff,
        Some("metrics") => Scope::Metrics,
        other => {
            return Err(k.err(
                "scope",
                format!("'{}' is not create, staff or metrics", other.unwrap_or("")),
            ))
        }
    };
    Ok(ApiKey {
        name: name.to_string(),
        secret,
        scope,
    })
}
