//! Customer notices (`<notices><notice name="mail">`): a confirmation when a callback is
//! booked and a reminder before it is due, each a template, sent through one channel: SMTP
//! e-mail, an SMS provider's webhook, or a signed webhook to the admin's own system. The
//! SMTP relay (`smtp-server`, `smtp-from`) and the manage links' address (`public-url`)
//! are settings.

use super::api::{is_placeholder, PLACEHOLDER};
use super::{check_token, ConfigError, Params};
use chrono::Duration;

/// How a notice reaches the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// E-mail to the address the customer gave (the callback's data `email`).
    Email { subject: String },
    /// A text message: POSTed as `{"to", "text", ...}` to the SMS provider's webhook,
    /// signed as the event webhooks are.
    Sms { url: String, secret: String },
    /// The notice as JSON to the admin's system, signed (it sends it on its own way).
    Webhook { url: String, secret: String },
}

impl Channel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Email { .. } => "email",
            Channel::Sms { .. } => "sms",
            Channel::Webhook { .. } => "webhook",
        }
    }
}

/// One configured notice.
#[derive(Clone, PartialEq, Eq)]
pub struct Notice {
    pub name: String,
    pub channel: Channel,
    /// The queues whose callbacks get it; empty: every queue.
    pub queues: Vec<String>,
    /// The confirmation's text when a callback is booked (`None`: no confirmation).
    pub confirmation: Option<String>,
    /// The reminder's text (`None`: no reminder), sent `reminder_before` the due time.
    pub reminder: Option<String>,
    pub reminder_before: Duration,
}

// Secrets and templates stay out of `{:?}` (a template may quote a phone number).
impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notice")
            .field("name", &self.name)
            .field("channel", &self.channel.as_str())
            .field("queues", &self.queues)
            .field("reminder_before", &self.reminder_before)
            .finish_non_exhaustive()
    }
}

impl Notice {
    pub fn serves(&self, queue: &str) -> bool {
        self.queues.is_empty() || self.queues.iter().any(|q| q == queue)
    }
}

/// The SMTP relay of e-mail notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    /// The sender, `callbacks@example.com` or `Example <callbacks@example.com>`.
    pub from: String,
}

/// Everything about notices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeConfig {
    pub notices: Vec<Notice>,
    pub smtp: Option<Smtp>,
    /// Where customers reach this server (`https://callback.example.com`), for the manage
    /// link in notices; `None`: `http://<http-listen>`.
    pub public_url: Option<String>,
}

pub(super) const NOTICE_SETTINGS: &[&str] = &["public-url", "smtp-server", "smtp-from"];

pub(super) const NOTICE_KEYS: &[&str] = &[
    "channel",
    "url",
    "secret",
    "queues",
    "subject",
    "confirmation",
    "reminder",
    "reminder-before",
];

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["{when}", "{link}", "{id}", "{queue}"];

/// Checks that every `{...}` in `text` is a known placeholder.
fn check_template(p: &Params<'_>, key: &str, text: &str) -> Result<(), ConfigError> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            return Err(p.err(key, "a '{' without its '}'"));
        };
        let name = &rest[open..open + len + 1];
        if !PLACEHOLDERS.contains(&name) {
            return Err(p.err(
                key,
                format!(
                    "unknown placeholder {name} (known: {})",
                    PLACEHOLDERS.join(" ")
                ),
            ));
        }
        rest = &rest[open + len + 1..];
    }
    Ok(())
}

fn http_url(p: &Params<'_>, key: &str) -> Result<String, ConfigError> {
    let url = p.get(key).unwrap_or("").trim().to_string();
    let ok = url
        .strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(url)
    } else {
        Err(p.err(
            key,
            format!("'{url}' is not an http:// URL (for https, post to a local TLS relay)"),
        ))
    }
}

fn secret(p: &Params<'_>) -> Result<String, ConfigError> {
    let s = p.get("secret").unwrap_or("").trim().to_string();
    if s.len() < 16 {
        return Err(p.err("secret", "give a secret of at least 16 characters"));
    }
    if is_placeholder(&s) {
        return Err(p.err("secret", PLACEHOLDER));
    }
    Ok(s)
}

/// `<notice name="...">`.
pub(super) fn build_notice(
    p: &Params<'_>,
    name: &str,
    queues: &[&String],
) -> Result<Notice, ConfigError> {
    check_token(p, "name", name)?;
    let channel = match p.get("channel").map(str::trim) {
        Some("email") => Channel::Email {
            subject: p.text("subject", "Your callback"),
        },
        Some("sms") => Channel::Sms {
            url: http_url(p, "url")?,
            secret: secret(p)?,
        },
        Some("webhook") => Channel::Webhook {
            url: http_url(p, "url")?,
            secret: secret(p)?,
        },
        other => {
            return Err(p.err(
                "channel",
                format!("'{}' is not email, sms or webhook", other.unwrap_or("")),
            ))
        }
    };
    let mut serves = Vec::new();
    for q in p
        .get("queues")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        if !queues.iter().any(|known| known.as_str() == q) {
            return Err(p.err("queues", format!("queue '{q}' is not defined in <queues>")));
        }
        serves.push(q.to_string());
    }
    let template = |key: &str| -> Result<Option<String>, ConfigError> {
        match p.get(key).map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => {
                check_template(p, key, t)?;
                Ok(Some(t.to_string()))
            }
        }
    };
    let confirmation = template("confirmation")?;
    let reminder = template("reminder")?;
    if confirmation.is_none() && reminder.is_none() {
        return Err(p.err(
            "confirmation",
            "give a confirmation or a reminder text (or both)",
        ));
    }
    let reminder_before = p.duration("reminder-before", "1h")?;
    if reminder_before < Duration::minutes(1) {
        return Err(p.err("reminder-before", "must be at least 1m"));
    }
    Ok(Notice {
        name: name.to_string(),
        channel,
        queues: serves,
        confirmation,
        reminder,
        reminder_before,
    })
}

/// The settings, with the notices read from their sections.
pub(super) fn build_notices(
    s: &Params<'_>,
    notices: Vec<Notice>,
    token_secret: Option<&str>,
) -> Result<NoticeConfig, ConfigError> {
    let public_url = match s.get("public-url").map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => {
            let host = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            if !host.is_some_and(|h| {
                !h.is_empty() && !h.starts_with('/') && !h.chars().any(char::is_whitespace)
            }) {
                return Err(s.err(
                    "public-url",
                    format!("'{u}' is not an http:// or https:// address"),
                ));
            }
            Some(u.trim_end_matches('/').to_string())
        }
    };
    let smtp = match s
        .get("smtp-server")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(v) => {
            let (host, port) = match v.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>().map_err(|_| {
                        s.err("smtp-server", format!("'{p}' is not a port (host:port)"))
                    })?,
                ),
                None => (v, 25),
            };
            if host.is_empty() {
                return Err(s.err("smtp-server", "give host:port, e.g. 127.0.0.1:25"));
            }
            let from = s.get("smtp-from").unwrap_or("").trim().to_string();
            if from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(s.err(
                    "smtp-from",
                    format!("'{from}' is not a sender address such as callbacks@example.com"),
                ));
            }
            Some(Smtp {
                host: host.to_string(),
                port,
                from,
            })
        }
    };
    if let Some(n) = notices.first() {
        // The link in a notice is a customer token: it must outlive a restart.
        if token_secret.is_none() {
            return Err(s.err(
                "http-token-secret",
                format!(
                    "notice '{}' needs it: the manage links it sends must work after a restart",
                    n.name
                ),
            ));
        }
    }
    if let Some(n) = notices
        .iter()
        .find(|n| matches!(n.channel, Channel::Email { .. }))
    {
        if smtp.is_none() {
            return Err(s.err(
                "smtp-server",
                format!(
                    "notice '{}' sends e-mail: set the SMTP relay (host:port)",
                    n.name
                ),
            ));
        }
    }
    Ok(NoticeConfig {
        notices,
        smtp,
        public_url,
    })
}
