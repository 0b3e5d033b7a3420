//! Sending a rendered notice through its channel: SMTP (lettre), or a signed POST (the SMS
//! provider's webhook, or the admin's own system). Errors name the channel and what failed,
//! never the customer's address, number or the text.

use super::message::Message;
use crate::config::{Channel, Smtp};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{SmtpTransport, Transport};

/// Why a notice was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The callback has nothing to send to (no e-mail address given): skipped, not retried.
    #[error("no {0} to send to")]
    NoAddress(&'static str),
    /// The address given cannot be written to: skipped, not retried.
    #[error("the {0} given is not valid")]
    BadAddress(&'static str),
    /// The relay or receiver failed: retried with backoff.
    #[error("{0}")]
    Failed(String),
}

impl SendError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Failed(_))
    }
}

/// What sends notices: one SMTP transport, one HTTP agent.
pub struct Sender {
    smtp: Option<(SmtpTransport, Mailbox)>,
    http: ureq::Agent,
}

impl Sender {
    pub fn new(smtp: Option<&Smtp>) -> Self {
        let smtp = smtp.and_then(|s| {
            let from = s.from.parse::<Mailbox>().ok()?;
            // Plain SMTP to the admin's relay (a local MTA does TLS onwards), bounded.
            let t = SmtpTransport::builder_dangerous(&s.host)
                .port(s.port)
                .timeout(Some(std::time::Duration::from_secs(10)))
                .build();
            Some((t, from))
        });
        Self {
            smtp,
            http: ureq::AgentBuilder::new()
                .timeout_connect(std::time::Duration::from_secs(3))
                .timeout(std::time::Duration::from_secs(5))
                .redirects(0)
                .build(),
        }
    }

    pub fn send(&self, channel: &Channel, m: &Message, now: i64) -> Result<(), SendError> {
        match channel {
            Channel::Email { subject } => self.mail(subject, m),
            Channel::Sms { url, secret } => {
                let body = serde_json::json!({
                    "to": m.number,
                    "text": m.text,
                    "kind": m.kind.as_str(),
                    "callback_id": m.callback_id,
                });
                self.post(url, secret, &body.to_string(), now)
            }
            Channel::Webhook { url, secret } => {
                let body = serde_json::json!({
                    "kind": m.kind.as_str(),
                    "callback_id": m.callback_id,
                    "queue": m.queue,
                    "number": m.number,
                    "email": m.email,
                    "due_at": m.due_at,
                    "link": m.link,
                    "text": m.text,
                });
                self.post(url, secret, &body.to_string(), now)
            }
        }
    }

    fn mail(&self, subject: &str, m: &Message) -> Result<(), SendError> {
        let (transport, from) = self
            .smtp
            .as_ref()
            .ok_or_else(|| SendError::Failed("no SMTP relay configured".into()))?;
        let to = m
            .email
            .as_deref()
            .ok_or(SendError::NoAddress("e-mail address"))?
            .parse::<Mailbox>()
            .map_err(|_| SendError::BadAddress("e-mail address"))?;
        let message = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(m.text.clone())
            .map_err(|e| SendError::Failed(format!("cannot build the message: {e}")))?;
        transport
            .send(&message)
            .map(|_| ())
            // lettre's error names the relay's reply, not the recipient.
            .map_err(|e| SendError::Failed(format!("SMTP: {e}")))
    }

    fn post(&self, url: &str, secret: &str, body: &str, now: i64) -> Result<(), SendError> {
        let r = self
            .http
            .post(url)
            .set("Content-Type", "application/json")
            .set("X-Callback-Timestamp", &now.to_string())
            .set(
                "X-Callback-Signature",
                &crate::webhook::signature(secret, now, body),
            )
            .send_string(body);
        match r {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(SendError::Failed(format!("status {}", resp.status()))),
            Err(ureq::Error::Status(code, _)) => Err(SendError::Failed(format!("status {code}"))),
            Err(ureq::Error::Transport(t)) => Err(SendError::Failed(t.kind().to_string())),
        }
    }
}
