//! `callback_capture <args>`: a building block for custom IVRs. Arguments are `key=value`
//! pairs (values with spaces in single or double quotes):
//!
//! ```text
//! callback_capture type=delayed number=${caller_id_number} delay=15m queue=support
//! callback_capture when='tomorrow 09:30' tz=Europe/Berlin remark='about my invoice'
//! ```
//! Keys: `type` (immediate, delayed, scheduled, agent-preview; default from the time given),
//! `number` (default: the `caller_id_number` variable), `queue`, `delay` (a duration) or
//! `when` (a time expression), `tz` (IANA zone), `remark`, `recording` (a WAV file the
//! dialplan recorded inside the configured `recordings-dir`; it is checked and renamed to a
//! server-made name before it is stored, and renamed back if the request is refused). The result is in channel
//! variables: `callback_result=OK|ERR`, `callback_id`, `callback_due_epoch`,
//! `callback_outcome` (`created`, or `merged` when the request joined a callback someone
//! else made: then no id or time of it is given), `callback_error`.

use crate::vars::ChannelVars;
use callback_core::access::{Disclosure, Principal, Reach};
use callback_core::ivr::Stored;
use callback_core::model::{CallbackType, Source};
use callback_core::recording::RecordingDir;
use callback_core::service::{CallbackService, NewRequest, Requested};
use callback_core::store::CreateOutcome;
use nom::branch::alt;
use nom::bytes::complete::{is_not, take_till1, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, cut};
use nom::multi::separated_list0;
use nom::sequence::{delimited, separated_pair};
use nom::{IResult, Parser};

/// Why a capture was refused; the text goes to `callback_error`.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Args(String),
    #[error("delay: {0}")]
    Delay(callback_core::when::WhenError),
    #[error("when: {0}")]
    When(callback_core::when::WhenError),
    #[error("tz: {0}")]
    Zone(#[from] callback_core::schedule::ZoneError),
    #[error("unknown queue '{0}'")]
    UnknownQueue(String),
    #[error("no number given and the call has no caller_id_number")]
    NoNumber,
    #[error(transparent)]
    Recording(#[from] callback_core::recording::RecordingError),
    #[error(transparent)]
    Service(#[from] callback_core::service::Error),
}

/// The parsed arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureArgs {
    pub kind: Option<CallbackType>,
    pub number: Option<String>,
    pub queue: Option<String>,
    pub delay: Option<String>,
    pub when: Option<String>,
    pub tz: Option<String>,
    pub remark: Option<String>,
    pub recording: Option<String>,
    /// A personal callback: only this agent gets it.
    pub agent: Option<String>,
}

const KEYS: &str = "type, number, queue, delay, when, tz, remark, recording, agent";

fn key(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-').parse(i)
}

fn value(i: &str) -> IResult<&str, &str> {
    alt((
        delimited(
            char('\''),
            cut(nom::combinator::recognize(nom::combinator::opt(is_not(
                "'",
            )))),
            cut(char('\'')),
        ),
        delimited(
            char('"'),
            cut(nom::combinator::recognize(nom::combinator::opt(is_not(
                "\"",
            )))),
            cut(char('"')),
        ),
        take_till1(char::is_whitespace),
    ))
    .parse(i)
}

fn pairs(i: &str) -> IResult<&str, Vec<(&str, &str)>> {
    all_consuming(delimited(
        multispace0,
        separated_list0(multispace1, separated_pair(key, char('='), value)),
        multispace0,
    ))
    .parse(i)
}

/// Parses the application's argument string.
pub fn parse_args(data: &str) -> Result<CaptureArgs, String> {
    let (_, list) = pairs(data).map_err(|_| {
        format!("arguments must be key=value pairs (quote values with spaces); keys: {KEYS}")
    })?;
    let mut a = CaptureArgs::default();
    for (k, v) in list {
        let slot = match k {
            "type" => {
                if a.kind.is_some() {
                    return Err("type is given twice".into());
                }
                a.kind = Some(v.parse::<CallbackType>().map_err(|e| e.to_string())?);
                continue;
            }
            "number" => &mut a.number,
            "queue" => &mut a.queue,
            "delay" => &mut a.delay,
            "when" => &mut a.when,
            "tz" => &mut a.tz,
            "remark" => &mut a.remark,
            "recording" => &mut a.recording,
            "agent" => &mut a.agent,
            other => return Err(format!("unknown key '{other}' (keys: {KEYS})")),
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(format!("{k} is given twice"));
        }
    }
    if a.delay.is_some() && a.when.is_some() {
        return Err("give delay or when, not both".into());
    }
    Ok(a)
}

/// The request the arguments describe, on the call `chan`.
fn request(
    svc: &CallbackService,
    chan: &dyn ChannelVars,
    a: CaptureArgs,
) -> Result<NewRequest, CaptureError> {
    let requested = if let Some(d) = &a.delay {
        Requested::After(callback_core::when::parse_duration(d).map_err(CaptureError::Delay)?)
    } else if let Some(w) = &a.when {
        let zone = match &a.tz {
            Some(z) => callback_core::schedule::parse_zone(z)?,
            None => svc
                .config()
                .queue(a.queue.as_deref())
                .map(|q| q.zone())
                .ok_or_else(|| {
                    CaptureError::UnknownQueue(
                        a.queue.clone().unwrap_or_else(|| "(default)".into()),
                    )
                })?,
        };
        callback_core::when::parse_when(w, zone, svc.now()).map_err(CaptureError::When)?
    } else {
        Requested::Now
    };
    let kind = a.kind.unwrap_or_else(|| requested.implied_type());
    let number = a
        .number
        .or_else(|| chan.var("caller_id_number"))
        .ok_or(CaptureError::NoNumber)?;
    let mut req = NewRequest::new(kind, number, requested, Source::Ivr);
    req.queue = a.queue;
    req.time_zone = a.tz;
    req.remark = a.remark;
    if let Some(agent) = &a.agent {
        if !svc.config().agents.iter().any(|x| x.id == *agent) {
            // Not repeated: the name may have come from the caller.
            return Err(CaptureError::Args(
                "agent: no such agent in callback.conf.xml".into(),
            ));
        }
    }
    req.agent = a.agent;
    req.origin_uuid = chan.uuid();
    req.actor = Some("dialplan".into());
    Ok(req)
}

/// Stores the request; a recording is adopted first and given back if the store refuses.
fn store(
    svc: &CallbackService,
    mut req: NewRequest,
    recording: Option<&str>,
) -> Result<(callback_core::model::CallbackRequest, CreateOutcome), CaptureError> {
    let Some(given) = recording.filter(|r| !r.is_empty()) else {
        return Ok(svc.request(req)?);
    };
    let dir = RecordingDir::new(&svc.config().settings.recordings_dir);
    let rec = dir.adopt(given, svc.now())?;
    let adopted = rec.path.clone();
    // The same length limit as an upload over HTTP (transcribe-max-seconds).
    if let Err(e) = svc.check_recording_length(&rec) {
        if let Err(back) = std::fs::rename(&adopted, given) {
            tracing::warn!("callback_capture: the recording stays at {adopted}: {back}");
        }
        return Err(e.into());
    }
    req.recording = Some(rec);
    svc.request(req).map_err(|e| {
        if let Err(back) = std::fs::rename(&adopted, given) {
            tracing::warn!("callback_capture: the recording stays at {adopted}: {back}");
        }
        CaptureError::from(e)
    })
}

/// Sets `callback_id`, `callback_due_epoch` and `callback_outcome` for what a request
/// became, as far as the caller may know it: a request that joined a callback someone
/// else made gets no id or time of it (`callback_outcome=merged`), as over HTTP.
pub fn set_stored(chan: &dyn ChannelVars, stored: &Stored) {
    match stored {
        Stored::Own(r) => {
            chan.set_var("callback_id", Some(&r.id.to_string()));
            let due = r.due_at.map(|d| d.timestamp().to_string());
            chan.set_var("callback_due_epoch", due.as_deref());
            chan.set_var("callback_outcome", Some("created"));
        }
        Stored::Joined => {
            chan.set_var("callback_id", None);
            chan.set_var("callback_due_epoch", None);
            chan.set_var("callback_outcome", Some("merged"));
        }
    }
}

/// The text for `callback_error`: what was wrong, without repeating a queue or agent name
/// that is not configured (the dialplan may have passed it through from a caller) or the
/// server's paths (the log has them).
fn channel_text(e: &CaptureError) -> String {
    match e {
        CaptureError::UnknownQueue(_)
        | CaptureError::Service(callback_core::service::Error::UnknownQueue(_)) => {
            "unknown queue (not in callback.conf.xml)".into()
        }
        CaptureError::Recording(r) => format!("recording: {}", r.reason()),
        other => other.to_string(),
    }
}

/// Sets the error result variables; a message the checked setter refuses (it would
/// expand) is replaced by a generic one.
pub fn set_error(chan: &dyn ChannelVars, message: &str) {
    chan.set_var("callback_result", Some("ERR"));
    chan.set_var("callback_id", None);
    chan.set_var("callback_due_epoch", None);
    chan.set_var("callback_outcome", None);
    if !chan.set_var("callback_error", Some(message)) {
        chan.set_var("callback_error", Some("invalid request"));
    }
}

/// Runs `callback_capture` on a call.
pub fn run(svc: Option<&CallbackService>, chan: &dyn ChannelVars, data: &str) {
    #[cfg(debug_assertions)]
    if data.trim() == "_panic" {
        panic!("callback_capture _panic: a test of the panic guard");
    }
    let Some(svc) = svc else {
        return set_error(chan, "mod_callback is not running");
    };
    let outcome = parse_args(data)
        .map_err(CaptureError::Args)
        .and_then(|a| {
            let recording = a.recording.clone();
            Ok((request(svc, chan, a)?, recording))
        })
        .and_then(|(req, recording)| store(svc, req, recording.as_deref()));
    match outcome {
        Ok((r, outcome)) => {
            // The caller reaches no callback but the one they make (callback_core::access).
            let caller = Principal::new("dialplan", Reach::Own);
            let stored = match caller.disclosure(&r, outcome) {
                Disclosure::Full => Stored::Own(Box::new(r.clone())),
                Disclosure::Withheld => Stored::Joined,
            };
            chan.set_var("callback_result", Some("OK"));
            set_stored(chan, &stored);
            chan.set_var("callback_error", None);
            tracing::info!(callback_id = r.id, "callback_capture: stored");
        }
        Err(CaptureError::Service(e)) if e.is_store_unavailable() => {
            tracing::error!("callback_capture: the request was not stored: {e}");
            set_error(chan, &e.to_string());
        }
        Err(e) => {
            tracing::info!("callback_capture refused: {e}");
            set_error(chan, &channel_text(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::testing::MapVars;

    #[test]
    fn key_value_arguments_parse_with_quotes() {
        // Bare and quoted values are read; the type is parsed by its one name.
        let a = parse_args("type=scheduled number=+12125550142 when='2026-11-23 10:00' tz=\"America/New_York\" remark='about my bill, urgent'").unwrap();
        assert_eq!(a.kind, Some(CallbackType::Scheduled));
        assert_eq!(a.number.as_deref(), Some("+12125550142"));
        assert_eq!(a.when.as_deref(), Some("2026-11-23 10:00"));
        assert_eq!(a.tz.as_deref(), Some("America/New_York"));
        assert_eq!(a.remark.as_deref(), Some("about my bill, urgent"));
        assert_eq!(parse_args("").unwrap(), CaptureArgs::default());
        assert_eq!(
            parse_args("  delay=15m  ").unwrap().delay.as_deref(),
            Some("15m")
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        // Unknown or repeated keys, unclosed quotes and conflicting times are errors.
        assert!(parse_args("colour=red")
            .unwrap_err()
            .contains("unknown key 'colour'"));
        assert!(parse_args("queue=a queue=b").unwrap_err().contains("twice"));
        assert!(parse_args("remark='unclosed").is_err());
        assert!(parse_args("justaword").is_err());
        assert!(parse_args("type=urgent").unwrap_err().contains("urgent"));
        assert!(parse_args("delay=5m when=now")
            .unwrap_err()
            .contains("not both"));
    }

    #[test]
    fn without_a_service_the_result_is_an_honest_error() {
        // When the module is not running the call gets callback_result=ERR and a reason.
        let v = MapVars::with(&[("callback_id", "old")]);
        run(None, &v, "delay=15m");
        assert_eq!(v.get("callback_result").as_deref(), Some("ERR"));
        assert_eq!(
            v.get("callback_error").as_deref(),
            Some("mod_callback is not running")
        );
        assert_eq!(v.get("callback_id"), None);
        set_error(&v, "bad '${system(id)}'");
        assert_eq!(v.get("callback_error").as_deref(), Some("invalid request"));
    }
}
