//! Dispatch settings: agents (`<agents><agent name="1001">`), how agents are rung and the
//! preview runs (`<settings>`), and each queue's customer leg (`<queues><queue>`).

use super::{check_token, list, ConfigError, Params};
use crate::dispatch::Strategy;
use chrono::Duration;

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    pub id: String,
    /// The dial string of the agent's phone, as the admin wrote it (`user/1001`,
    /// `sofia/internal/1001@10.0.0.5:5060`): see [`endpoint_problem`].
    pub dial: String,
    /// The queues (teams) the agent takes callbacks of.
    pub queues: Vec<String>,
    /// Ready when the module loads (else away until set ready).
    pub start_ready: bool,
}

impl AgentConfig {
    pub fn serves(&self, queue: &str) -> bool {
        self.queues.iter().any(|q| q == queue)
    }
}

/// What happens when the agent lets the preview time out without a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewTimeout {
    /// Dial the customer (the seeds: "after the callback recording time has expired ...
    /// the state becomes Dialing"). Risky: an answered agent leg is not a person — a
    /// voicemail or an auto-answer phone left alone answers too, and the customer is then
    /// bridged to nobody.
    Dial,
    /// Give the callback back to the queue for another agent (the default): no customer
    /// attempt used; counts as a decline towards `agent-declines-to-away`.
    Requeue,
}

/// Where a callback an agent reschedules goes (seed 000: an administrator may make every
/// rescheduled callback personal, or campaign).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// To the agent who rescheduled it.
    Personal,
    /// To any agent of the queue.
    Campaign,
}

impl Routing {
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Personal => "personal",
            Routing::Campaign => "campaign",
        }
    }
}

/// Module-wide dispatch settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// How long an agent's phone rings.
    pub agent_ring_secs: u32,
    /// Caller ID name on the agent's phone; `{number}` becomes the customer's digits.
    pub agent_caller_id_name: String,
    /// How long the preview waits for a key after the recording.
    pub preview_secs: u32,
    pub preview_timeout: PreviewTimeout,
    /// Key 3 in the preview moves the callback by this much.
    pub reschedule_delay: Duration,
    /// Declines (reject or no answer) in a row that set an agent away; 0 never.
    pub declines_to_away: u32,
    /// A personal callback this long overdue goes to the whole queue; `None` never.
    pub personal_fallback: Option<Duration>,
    /// After the customer hangs up, the agent keys a disposition (1..n of `dispositions`).
    pub after_call_menu: bool,
    pub dispositions: Vec<String>,
    /// How many agent legs may be ringing at once (originate threads).
    pub max_ringing: usize,
}

/// A queue's customer leg.
#[derive(Debug, Clone)]
pub struct QueueDial {
    /// `sofia/gateway/pstn/{e164}` (or `{digits}`); checked again when a leg is built.
    pub gateway: String,
    pub caller_id_number: String,
    pub caller_id_name: String,
    /// The no-answer timeout of the customer leg.
    pub customer_timeout_secs: u32,
    pub strategy: Strategy,
    /// What the agent hears while the customer's phone rings: a tone (`%(2000,4000,440,480)`),
    /// a sound file, or `${name}` of a global variable such as FreeSWITCH's `us-ring`
    /// (looked up by the host, since a channel variable's value is never expanded).
    pub ringback: String,
    /// How long a callback that falls due while its recording is still being transcribed
    /// waits for the transcript before an agent is rung (so its tags can route it);
    /// zero: never waits.
    pub transcript_wait: Duration,
    /// `rescheduled-callbacks`: every callback an agent reschedules becomes personal or
    /// campaign; `None` (`agent-choice`, the default) lets the agent choose.
    pub reschedule_routing: Option<Routing>,
    /// `agents-from="callcenter:<queue>"`: the contact centre's queue whose agents (by
    /// their tiers) also take this queue's callbacks, besides the `<agents>` that list it.
    pub agents_from: Option<String>,
    /// `offer-after-wait`: with `agents-from` (or `line-from`), a caller waiting in the
    /// centre's queue (or the holding line) whose estimated wait passes this is offered a
    /// callback once (`callback_queue_offer`, broadcast on the call); `None` (the
    /// default) offers none.
    pub offer_after_wait: Option<Duration>,
    /// `line-from="fifo:<fifo>"`: the holding line (a mod_fifo fifo) whose waiting callers
    /// this queue's in-queue offer watches; its callbacks keep their place there.
    pub line_from: Option<String>,
}

/// The one source of agents besides `<agents>`: the PBX's contact centre, by queue.
const AGENTS_FROM_PREFIX: &str = "callcenter:";

/// The holding lines a queue's in-queue offer may watch: the PBX's fifos, by name.
const LINE_FROM_PREFIX: &str = "fifo:";

/// The fifo named by `line-from`, or why the value is not one: a name of up to 64 letters,
/// digits and `_ - . @` (what the fifo hand-over and `fifo list` accept).
fn line_from(v: &str) -> Result<String, String> {
    let Some(fifo) = v.trim().strip_prefix(LINE_FROM_PREFIX) else {
        return Err(format!(
            "'{v}' must be {LINE_FROM_PREFIX}<fifo>, e.g. {LINE_FROM_PREFIX}support"
        ));
    };
    let ok = !fifo.is_empty()
        && fifo.len() <= 64
        && fifo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(fifo.to_string())
    } else {
        Err(format!(
            "'{fifo}' must be a fifo name of 1-64 letters, digits, '-', '_', '.' or '@'"
        ))
    }
}

/// The centre's queue named by `agents-from`, or why the value is not one.
fn agents_from(v: &str) -> Result<String, String> {
    let Some(queue) = v.trim().strip_prefix(AGENTS_FROM_PREFIX) else {
        return Err(format!(
            "'{v}' must be {AGENTS_FROM_PREFIX}<queue>, e.g. {AGENTS_FROM_PREFIX}sales@default"
        ));
    };
    let ok = !queue.is_empty()
        && queue.len() <= 128
        && queue
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(queue.to_string())
    } else {
        Err(format!(
            "'{queue}' must be a contact-centre queue name of 1-128 letters, digits, '-', '_', '.' or '@'"
        ))
    }
}

/// The agent's ringback when a queue names none: the North American ring cadence, the
/// same tone as FreeSWITCH's stock `us-ring` variable.
pub const DEFAULT_RINGBACK: &str = "%(2000,4000,440,480)";

/// How long a due callback waits for its transcript when a queue says nothing: tiny.en
/// took 4 to 7 s for a 5-second recording on 2 busy cores (README, Transcription).
pub const DEFAULT_TRANSCRIPT_WAIT: &str = "8s";

/// A `${name}` reference to a global variable: its name.
pub fn ringback_variable(value: &str) -> Option<&str> {
    let name = value
        .strip_prefix("$${")
        .or_else(|| value.strip_prefix("${"))?
        .strip_suffix('}')?;
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
    .then_some(name)
}

/// A ringback travels in a channel variable, never a dial string, so it may hold a tone's
/// punctuation; it may not hold an expansion other than one whole `${name}`, a quote or a
/// control character.
fn check_ringback(q: &Params<'_>, value: &str) -> Result<(), ConfigError> {
    let plain = !value.contains("${")
        && !value.contains('\'')
        && !value.contains('"')
        && !value.chars().any(char::is_control);
    if value.is_empty() || value.len() > 256 || !(plain || ringback_variable(value).is_some()) {
        return Err(q.err(
            "ringback",
            "must be a tone such as %(2000,4000,440,480), a sound file, or ${us-ring}",
        ));
    }
    Ok(())
}

pub(super) const DISPATCH_SETTINGS: &[&str] = &[
    "agent-ring-seconds",
    "agent-caller-id-name",
    "preview-seconds",
    "preview-timeout",
    "reschedule-delay",
    "agent-declines-to-away",
    "personal-fallback-minutes",
    "after-call-menu",
    "dispositions",
    "max-ringing",
];

pub(super) const QUEUE_DIAL_KEYS: &[&str] = &[
    "gateway",
    "caller-id-number",
    "caller-id-name",
    "customer-timeout-seconds",
    "strategy",
    "ringback",
    "transcript-wait",
    "rescheduled-callbacks",
    "agents-from",
    "offer-after-wait",
    "line-from",
];

pub(super) const AGENT_KEYS: &[&str] = &["dial", "queues", "state"];

fn dial_safe(v: &str) -> bool {
    v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.' | b'+' | b'@'))
}

/// The characters an admin's endpoint may hold, said in refusals.
const ENDPOINT_ALPHABET: &str = "letters, digits and / _ - . + @ : ; = %";

/// Why `v` cannot be an endpoint the admin wrote (an agent's `dial`, a queue's `gateway`
/// with its placeholders taken out), or `None`.
///
/// An admin writes what the telephony server accepts for one leg: `user/1001@domain`,
/// `sofia/internal/1001@10.0.0.5:5060;transport=tcp`, `sofia/internal/1001%domain`,
/// `verto.rtc/u:3f2a...`, `loopback/9000/default`, a gateway on another port. So `:` `;`
/// `=` `%` are allowed here. What stays out is whatever would turn one leg into something
/// else: `,` and `|` (several legs), `{}` `[]` `<>` (variables), `$` (expansion), quotes,
/// spaces and control characters (argument splitting), and the enterprise separator `:_:`
/// (several originates). Caller-, client- and transcript-supplied text never comes here:
/// the customer's number is E.164 digits, substituted for `{e164}` / `{digits}`.
pub fn endpoint_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        return Some("is empty");
    }
    if v.len() > 256 {
        return Some("is longer than 256 characters");
    }
    if !v.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'_' | b'-' | b'.' | b'+' | b'@' | b':' | b';' | b'=' | b'%'
            )
    }) {
        return Some("may only hold letters, digits and / _ - . + @ : ; = %");
    }
    if v.contains(":_:") {
        return Some("holds ':_:', which would ring several legs at once");
    }
    match v.split_once('/') {
        Some((tech, rest)) if !tech.is_empty() && !rest.is_empty() => None,
        _ => Some("must name an endpoint (technology/destination, e.g. user/1001)"),
    }
}

pub(super) fn build_dispatch(s: &Params<'_>) -> Result<DispatchConfig, ConfigError> {
    let cid = s.text("agent-caller-id-name", "Callback_{number}");
    if cid
        .replace("{number}", "")
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'@')))
    {
        return Err(s.err(
            "agent-caller-id-name",
            "may hold letters, digits, _ - . + @ and {number} (it goes into a dial string)",
        ));
    }
    if cid.replace("{number}", "").len() + if cid.contains("{number}") { 15 } else { 0 } > 64 {
        return Err(s.err(
            "agent-caller-id-name",
            "too long: with the number filled in it must fit 64 characters",
        ));
    }
    // Requeue by default: a customer is never dialled because a leg answered and nobody
    // pressed anything (issue #16); auto-dial is a centre's explicit choice.
    let preview_timeout = match s.text("preview-timeout", "requeue").as_str() {
        "dial" => PreviewTimeout::Dial,
        "requeue" => PreviewTimeout::Requeue,
        other => {
            return Err(s.err(
                "preview-timeout",
                format!("'{other}' must be dial or requeue"),
            ))
        }
    };
    let fallback = s.number("personal-fallback-minutes", 0u32, 0..=10_080)?;
    let dispositions: Vec<String> = list(
        s.get("dispositions")
            .unwrap_or("resolved, follow-up, no-interest"),
    )
    .into_iter()
    .map(str::to_string)
    .collect();
    if dispositions.len() > 9 {
        return Err(s.err("dispositions", "at most 9 (one key each)"));
    }
    for d in &dispositions {
        check_token(s, "dispositions", d)?;
    }
    Ok(DispatchConfig {
        agent_ring_secs: s.number("agent-ring-seconds", 20u32, 5..=300)?,
        agent_caller_id_name: cid,
        preview_secs: s.number("preview-seconds", 20u32, 1..=600)?,
        preview_timeout,
        reschedule_delay: s.duration("reschedule-delay", "15m")?,
        declines_to_away: s.number("agent-declines-to-away", 3u32, 0..=100)?,
        personal_fallback: (fallback > 0).then(|| Duration::minutes(i64::from(fallback))),
        after_call_menu: s.flag("after-call-menu", false)?,
        dispositions,
        max_ringing: s.number("max-ringing", 64usize, 1..=4096)?,
    })
}

pub(super) fn build_queue_dial(q: &Params<'_>) -> Result<QueueDial, ConfigError> {
    let gateway = q.text("gateway", "sofia/gateway/default/{e164}");
    // The placeholders stand for digits, so the template is checked with a digit in their
    // place (a template that is only `{e164}` names no endpoint).
    let bare = if gateway.contains("{e164}") || gateway.contains("{digits}") {
        gateway.replace("{e164}", "1").replace("{digits}", "1")
    } else {
        // Without a placeholder the number is appended.
        format!("{gateway}1")
    };
    if let Some(why) = endpoint_problem(&bare) {
        return Err(q.err(
            "gateway",
            format!(
                "'{gateway}' {why}: write an endpoint such as sofia/gateway/pstn/{{e164}} or \
                 sofia/external/{{digits}}@203.0.113.7:5080 ({ENDPOINT_ALPHABET}, and {{e164}} \
                 or {{digits}} for the customer's number)"
            ),
        ));
    }
    let cid_number = q.text("caller-id-number", "0000000000");
    let digits = cid_number.strip_prefix('+').unwrap_or(&cid_number);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(q.err("caller-id-number", "must be digits, optionally after +"));
    }
    let cid_name = q.text("caller-id-name", "Callback");
    if cid_name.is_empty() || cid_name.len() > 64 || !dial_safe(&cid_name) || cid_name.contains('/')
    {
        return Err(q.err("caller-id-name", "must be letters, digits and _ - . + @"));
    }
    let strategy = q
        .text("strategy", "longest-idle")
        .parse::<Strategy>()
        .map_err(|e| q.err("strategy", e.to_string()))?;
    let ringback = q.text("ringback", DEFAULT_RINGBACK).trim().to_string();
    check_ringback(q, &ringback)?;
    let transcript_wait = match q.get("transcript-wait").map(str::trim) {
        Some("0" | "off" | "no") => Duration::zero(),
        _ => q.duration("transcript-wait", DEFAULT_TRANSCRIPT_WAIT)?,
    };
    if transcript_wait > Duration::minutes(10) {
        return Err(q.err(
            "transcript-wait",
            "must be at most 10m, such as 5s (0 never waits for a transcript)",
        ));
    }
    let reschedule_routing = match q.text("rescheduled-callbacks", "agent-choice").as_str() {
        "personal" => Some(Routing::Personal),
        "campaign" => Some(Routing::Campaign),
        "agent-choice" => None,
        other => {
            return Err(q.err(
                "rescheduled-callbacks",
                format!("'{other}' must be personal, campaign or agent-choice"),
            ))
        }
    };
    let agents_from = match q.get("agents-from").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => Some(agents_from(v).map_err(|why| q.err("agents-from", why))?),
    };
    let line_from = match q.get("line-from").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => Some(line_from(v).map_err(|why| q.err("line-from", why))?),
    };
    if agents_from.is_some() && line_from.is_some() {
        return Err(q.err(
            "line-from",
            "a queue watches either the contact centre's queue (agents-from) or a fifo, not both",
        ));
    }
    let offer_after_wait = match q.get("offer-after-wait").map(str::trim) {
        None | Some("" | "0" | "off" | "no") => None,
        Some(_) => {
            let d = q.duration("offer-after-wait", "0s")?;
            if agents_from.is_none() && line_from.is_none() {
                return Err(q.err(
                    "offer-after-wait",
                    "needs agents-from or line-from: the offer is made to callers waiting in the contact centre's queue or the fifo",
                ));
            }
            if d < Duration::seconds(30) || d > Duration::hours(4) {
                return Err(q.err(
                    "offer-after-wait",
                    "must be from 30s to 4h, such as 5m (off: no offer)",
                ));
            }
            Some(d)
        }
    };
    Ok(QueueDial {
        gateway,
        caller_id_number: cid_number,
        caller_id_name: cid_name,
        customer_timeout_secs: q.number("customer-timeout-seconds", 60u32, 5..=600)?,
        strategy,
        ringback,
        transcript_wait,
        reschedule_routing,
        agents_from,
        offer_after_wait,
        line_from,
    })
}

pub(super) fn build_agent(a: &Params<'_>, id: &str) -> Result<AgentConfig, ConfigError> {
    check_token(a, "name", id)?;
    let dial = a.text("dial", &format!("user/{id}"));
    if let Some(why) = endpoint_problem(&dial) {
        return Err(a.err(
            "dial",
            format!(
                "'{dial}' {why}: write an endpoint such as user/1001@example.com or \
                 sofia/internal/1001@10.0.0.5:5060 ({ENDPOINT_ALPHABET})"
            ),
        ));
    }
    let queues: Vec<String> = list(a.get("queues").unwrap_or(""))
        .into_iter()
        .map(str::to_string)
        .collect();
    let start_ready = match a.text("state", "ready").as_str() {
        "ready" => true,
        "away" => false,
        other => return Err(a.err("state", format!("'{other}' must be ready or away"))),
    };
    Ok(AgentConfig {
        id: id.to_string(),
        dial,
        queues,
        start_ready,
    })
}
