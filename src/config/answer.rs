//! A queue's customer leg on answer (`<queue>` keys): answering-machine detection and what
//! a machine leads to, and the optional greeting with its confirmation key.

use super::{ConfigError, Params};

/// What a machine on the customer leg leads to (`on-machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMachine {
    /// Bridged to the agent as any answer (the default: as before detection existed).
    Agent,
    /// Hung up; the callback is retried as the retry policy says.
    Retry,
    /// The configured message is left after the beep, then retry or complete.
    Message,
}

/// After a message was left on a machine (`after-message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterMessage {
    Retry,
    Complete,
}

/// The customer leg's checks on answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAnswer {
    /// `machine-detection`: the module's own judgement of the first seconds (cadence, and
    /// the phrases when a whisper model is loaded). The telephony server's own detection
    /// (an AMD module, a beep detector) is read whenever the check runs.
    pub detect: bool,
    /// `machine-listen-seconds`: how long the detector may listen.
    pub listen_secs: u32,
    pub on_machine: OnMachine,
    /// `machine-counts-attempt`: whether a machine uses up one of the customer's attempts.
    pub machine_counts: bool,
    /// `machine-message`: the sound file left on a machine (`on-machine=message`).
    pub message: Option<String>,
    pub after_message: AfterMessage,
    /// `customer-greeting`: a sound file played to the customer on answer.
    pub greeting: Option<String>,
    /// `greeting-key`: the key the customer must press after the greeting before the
    /// agent is connected; none pressed is the `no-key` result.
    pub greeting_key: Option<char>,
    /// `greeting-key-seconds`: how long to wait for it.
    pub greeting_key_secs: u32,
}

impl Default for QueueAnswer {
    fn default() -> Self {
        Self {
            detect: false,
            listen_secs: 4,
            on_machine: OnMachine::Agent,
            machine_counts: true,
            message: None,
            after_message: AfterMessage::Complete,
            greeting: None,
            greeting_key: None,
            greeting_key_secs: 5,
        }
    }
}

impl QueueAnswer {
    /// Whether anything runs on the customer's leg before the agent is connected.
    pub fn checks(&self) -> bool {
        self.on_machine != OnMachine::Agent || self.greeting.is_some()
    }
}

pub(super) const QUEUE_ANSWER_KEYS: &[&str] = &[
    "machine-detection",
    "machine-listen-seconds",
    "on-machine",
    "machine-counts-attempt",
    "machine-message",
    "after-message",
    "customer-greeting",
    "greeting-key",
    "greeting-key-seconds",
];

/// A configured sound file: it becomes an application argument (`playback <file>`), so
/// only a path of letters, digits and `/ _ - .`, without `..`.
fn sound(q: &Params<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    let Some(v) = q.get(key).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.len() <= 256
        && !v.contains("..")
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !ok {
        return Err(q.err(
            key,
            format!(
                "'{v}' must be a sound file path of letters, digits and / _ - . (no '..'), \
                 such as callback/acme-greeting.wav"
            ),
        ));
    }
    Ok(Some(v.to_string()))
}

pub(super) fn build_queue_answer(q: &Params<'_>) -> Result<QueueAnswer, ConfigError> {
    let on_machine = match q.text("on-machine", "agent").as_str() {
        "agent" => OnMachine::Agent,
        "retry" => OnMachine::Retry,
        "message" => OnMachine::Message,
        other => {
            return Err(q.err(
                "on-machine",
                format!("'{other}' must be agent, retry or message"),
            ))
        }
    };
    let after_message = match q.text("after-message", "complete").as_str() {
        "retry" => AfterMessage::Retry,
        "complete" => AfterMessage::Complete,
        other => {
            return Err(q.err(
                "after-message",
                format!("'{other}' must be retry or complete"),
            ))
        }
    };
    let detect = q.flag("machine-detection", false)?;
    if detect && on_machine == OnMachine::Agent {
        return Err(q.err(
            "machine-detection",
            "has no effect with on-machine=agent: set on-machine to retry or message",
        ));
    }
    let message = sound(q, "machine-message")?;
    if on_machine == OnMachine::Message && message.is_none() {
        return Err(q.err(
            "machine-message",
            "is needed with on-machine=message (the sound file left on the machine)",
        ));
    }
    let greeting = sound(q, "customer-greeting")?;
    let greeting_key = match q
        .get("greeting-key")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(k) => {
            let mut chars = k.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                _ => {
                    return Err(q.err(
                        "greeting-key",
                        format!("'{k}' must be one key: 0-9, * or #"),
                    ))
                }
            }
        }
    };
    if greeting_key.is_some() && greeting.is_none() {
        return Err(q.err(
            "greeting-key",
            "needs customer-greeting (the prompt that asks for the key)",
        ));
    }
    Ok(QueueAnswer {
        detect,
        listen_secs: q.number("machine-listen-seconds", 4u32, 2..=10)?,
        on_machine,
        machine_counts: q.flag("machine-counts-attempt", true)?,
        message,
        after_message,
        greeting,
        greeting_key,
        greeting_key_secs: q.number("greeting-key-seconds", 5u32, 1..=30)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn queue(keys: &str) -> Result<QueueAnswer, String> {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{keys}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
        .map(|c| c.queues["q"].answer.clone())
        .map_err(|e| e.to_string())
    }

    fn p(k: &str, v: &str) -> String {
        format!(r#"<param name="{k}" value="{v}"/>"#)
    }

    #[test]
    fn a_queue_without_answer_keys_checks_nothing() {
        // The default is today's behaviour: no check on answer, a machine goes to the agent.
        let a = queue("").unwrap();
        assert_eq!(a, QueueAnswer::default());
        assert!(!a.checks());
    }

    #[test]
    fn the_answer_keys_load() {
        // Detection with a message and retry, a greeting with its key: read as written.
        let keys = [
            p("machine-detection", "on"),
            p("machine-listen-seconds", "5"),
            p("on-machine", "message"),
            p("machine-counts-attempt", "false"),
            p("machine-message", "callback/acme-message.wav"),
            p("after-message", "retry"),
            p("customer-greeting", "callback/acme-greeting.wav"),
            p("greeting-key", "#"),
            p("greeting-key-seconds", "8"),
        ]
        .concat();
        let a = queue(&keys).unwrap();
        assert!(a.detect && a.checks());
        assert_eq!(a.listen_secs, 5);
        assert_eq!(a.on_machine, OnMachine::Message);
        assert!(!a.machine_counts);
        assert_eq!(a.message.as_deref(), Some("callback/acme-message.wav"));
        assert_eq!(a.after_message, AfterMessage::Retry);
        assert_eq!(a.greeting.as_deref(), Some("callback/acme-greeting.wav"));
        assert_eq!(a.greeting_key, Some('#'));
        assert_eq!(a.greeting_key_secs, 8);
        // A greeting alone is a check too.
        assert!(queue(&p("customer-greeting", "hello.wav"))
            .unwrap()
            .checks());
    }

    #[test]
    fn bad_answer_keys_are_refused_naming_the_key() {
        // Each bad value or combination names its key and says why.
        let cases = [
            (
                p("on-machine", "ignore"),
                "on-machine",
                "must be agent, retry or message",
            ),
            (
                p("after-message", "later"),
                "after-message",
                "must be retry or complete",
            ),
            (
                p("machine-detection", "on"),
                "machine-detection",
                "no effect with on-machine=agent",
            ),
            (
                p("on-machine", "message"),
                "machine-message",
                "is needed with on-machine=message",
            ),
            (
                p("customer-greeting", "${system(rm)}.wav"),
                "customer-greeting",
                "must be a sound file path",
            ),
            (
                p("machine-message", "../../etc/passwd"),
                "machine-message",
                "no '..'",
            ),
            (
                [p("customer-greeting", "g.wav"), p("greeting-key", "12")].concat(),
                "greeting-key",
                "must be one key",
            ),
            (
                p("greeting-key", "1"),
                "greeting-key",
                "needs customer-greeting",
            ),
            (
                p("machine-listen-seconds", "30"),
                "machine-listen-seconds",
                "out of range",
            ),
        ];
        for (keys, key, why) in cases {
            let e = queue(&keys).unwrap_err();
            assert!(
                e.contains(&format!("queues/q/{key}")) && e.contains(why),
                "{keys}: {e}"
            );
        }
    }
}
