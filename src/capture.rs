//! A callback request captured on a call from a few `key=value` arguments: the rules a
//! dialplan's custom IVR relies on (the type a time implies, the queue's zone when none is
//! given, only configured agents, the caller's number when none is given, a recording
//! adopted under a server-made name). The host reads the call's arguments and variables,
//! and writes back what [`capture`] returns.
//!
//! ```text
//! type=delayed number=+4930123456 delay=15m queue=support
//! when='tomorrow 09:30' tz=Europe/Berlin remark='about my invoice'
//! ```
//! Keys: `type` (immediate, delayed, scheduled, agent-preview; default from the time given),
//! `number` (default: the caller's number), `queue`, `delay` (a duration) or `when` (a time
//! expression), `tz` (IANA zone), `remark`, `recording` (a WAV file inside the configured
//! `recordings-dir`), `agent` (a personal callback), `from` and `until` (the customer's
//! window: time expressions as `when` takes them, e.g. `from='today 09:00'
//! until='today 17:00'`; the callback is never dialled outside it), `ivr-vars` (names of
//! the call's channel variables a custom IVR set, `ivr-vars=account_id,reason_code`) and
//! `data.KEY=VALUE` pairs (both stored as the request's IVR data, keys of `a-z`, `0-9`
//! and `_` (at most [`MAX_DATA_KEY`] long), values at most [`MAX_DATA_VALUE`] characters),
//! and `number-type` (mobile, home, work, other).

use crate::access::{Disclosure, Principal, Reach};
use crate::ivr::Stored;
use crate::model::{CallbackType, Source, Window};
use crate::recording::RecordingDir;
use crate::service::{CallbackService, NewRequest, Requested};
use crate::store::CreateOutcome;
use nom::branch::alt;
use nom::bytes::complete::{is_not, take_till1, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, cut};
use nom::multi::separated_list0;
use nom::sequence::{delimited, separated_pair};
use nom::{IResult, Parser};

/// Why a capture was refused.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Args(String),
    #[error("delay: {0}")]
    Delay(crate::when::WhenError),
    #[error("when: {0}")]
    When(crate::when::WhenError),
    /// IVR data (`ivr-vars`, `data.KEY`) the rules refuse.
    #[error("{0}")]
    Data(String),
    /// A window end (`from` or `until`) that is not a time.
    #[error("{0}: {1}")]
    Window(&'static str, crate::when::WhenError),
    #[error("tz: {0}")]
    Zone(#[from] crate::schedule::ZoneError),
    #[error("unknown queue '{0}'")]
    UnknownQueue(String),
    #[error("no number given and the call has no caller_id_number")]
    NoNumber,
    #[error("agent: no such agent in callback.conf.xml")]
    UnknownAgent,
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error(transparent)]
    Service(#[from] crate::service::Error),
}

impl CaptureError {
    /// The text the call may be told: what was wrong, without repeating a queue or agent
    /// name that is not configured (the dialplan may have passed it through from a caller)
    /// or the server's paths (the log has them).
    pub fn public_text(&self) -> String {
        match self {
            Self::UnknownQueue(_) | Self::Service(crate::service::Error::UnknownQueue(_)) => {
                "unknown queue (not in callback.conf.xml)".into()
            }
            Self::Recording(r) => format!("recording: {}", r.reason()),
            other => other.to_string(),
        }
    }

    /// Whether the store failed rather than the request (said as an error, not a refusal).
    pub fn is_store_unavailable(&self) -> bool {
        matches!(self, Self::Service(e) if e.is_store_unavailable())
    }
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
    /// The customer's window: when the callback may be dialled, either end open.
    pub from: Option<String>,
    pub until: Option<String>,
    /// Channel variables to read into the IVR data (`ivr-vars=a,b`), in order.
    pub ivr_vars: Vec<String>,
    /// `data.KEY=VALUE` pairs.
    pub data: std::collections::BTreeMap<String, String>,
    /// The number's type (mobile, home, work, other).
    pub number_type: Option<crate::model::NumberType>,
}

/// The call a request is captured on, as the host reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    /// The caller's number (FreeSWITCH: `caller_id_number`), used when no `number` is given.
    pub caller_number: Option<String>,
    /// The call's id, stored as the request's origin.
    pub uuid: Option<String>,
    /// The values of the variables `ivr-vars` named, as the host read them (unset ones
    /// absent).
    pub ivr_vars: std::collections::BTreeMap<String, String>,
}

/// The longest IVR data key: it becomes part of a channel variable name on the agent's leg
/// (`callback_data_<key>`).
pub const MAX_DATA_KEY: usize = 32;
/// The longest IVR data value (the service's limit for data values).
pub const MAX_DATA_VALUE: usize = 256;
/// At most this many variables in `ivr-vars`.
pub const MAX_IVR_VARS: usize = 16;

/// Whether `key` may name IVR data: `a-z`, `0-9`, `_`, 1 to [`MAX_DATA_KEY`] long.
pub fn is_data_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_DATA_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_data_key(what: &str, key: &str) -> Result<(), String> {
    if is_data_key(key) {
        Ok(())
    } else {
        Err(format!(
            "{what} '{key}' must be 1-{MAX_DATA_KEY} characters of a-z, 0-9 and _"
        ))
    }
}

/// The IVR data a capture stores: the `data.KEY` pairs, then the variables read (a pair
/// and a variable of one name is refused rather than one silently winning).
fn ivr_data(
    a: &CaptureArgs,
    call: &Call,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut data = a.data.clone();
    for name in &a.ivr_vars {
        let Some(v) = call.ivr_vars.get(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        if data.insert(name.clone(), v.clone()).is_some() {
            return Err(format!(
                "'{name}' is given both as data.{name} and in ivr-vars"
            ));
        }
    }
    for (k, v) in &data {
        let n = v.chars().count();
        if n > MAX_DATA_VALUE {
            return Err(format!(
                "IVR data '{k}' is {n} characters long; at most {MAX_DATA_VALUE}"
            ));
        }
    }
    Ok(data)
}

const KEYS: &str =
    "type, number, queue, delay, when, tz, remark, recording, agent, from, until, ivr-vars, data.KEY, number-type";

fn key(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).parse(i)
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

/// Parses the argument string.
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
            "number-type" => {
                if a.number_type.is_some() {
                    return Err("number-type is given twice".into());
                }
                a.number_type = Some(
                    v.parse()
                        .map_err(|e: crate::model::ParseEnumError| format!("number-type: {e}"))?,
                );
                continue;
            }
            "ivr-vars" => {
                if !a.ivr_vars.is_empty() {
                    return Err("ivr-vars is given twice".into());
                }
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    check_data_key("ivr-vars: variable", name)?;
                    if a.ivr_vars.iter().any(|x| x == name) {
                        return Err(format!("ivr-vars names '{name}' twice"));
                    }
                    a.ivr_vars.push(name.to_string());
                }
                if a.ivr_vars.is_empty() {
                    return Err(
                        "ivr-vars: give variable names, e.g. ivr-vars=account_id,reason_code"
                            .into(),
                    );
                }
                if a.ivr_vars.len() > MAX_IVR_VARS {
                    return Err(format!("ivr-vars names more than {MAX_IVR_VARS} variables"));
                }
                continue;
            }
            k if k.starts_with("data.") => {
                let name = &k["data.".len()..];
                check_data_key("data key", name)?;
                if a.data.insert(name.to_string(), v.to_string()).is_some() {
                    return Err(format!("{k} is given twice"));
                }
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
            "from" => &mut a.from,
            "until" => &mut a.until,
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

/// The request the arguments describe, on `call`.
fn request(svc: &CallbackService, call: &Call, a: CaptureArgs) -> Result<NewRequest, CaptureError> {
    // Times without a zone are read in the one given, else the queue's, so `tomorrow 09:30`
    // means the queue's morning.
    let zone = || match &a.tz {
        Some(z) => Ok(crate::schedule::parse_zone(z)?),
        None => svc
            .config()
            .queue(a.queue.as_deref())
            .map(|q| q.zone())
            .ok_or_else(|| {
                CaptureError::UnknownQueue(a.queue.clone().unwrap_or_else(|| "(default)".into()))
            }),
    };
    let requested = if let Some(d) = &a.delay {
        Requested::After(crate::when::parse_duration(d).map_err(CaptureError::Delay)?)
    } else if let Some(w) = &a.when {
        crate::when::parse_when(w, zone()?, svc.now()).map_err(CaptureError::When)?
    } else {
        Requested::Now
    };
    let end = |text: &Option<String>, key: &'static str| -> Result<_, CaptureError> {
        match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => {
                let (zone, now) = (zone()?, svc.now());
                let r = crate::when::parse_when(t, zone, now)
                    .map_err(|e| CaptureError::Window(key, e))?;
                Ok(Some(r.instant(zone, now)))
            }
        }
    };
    let window = Window {
        from: end(&a.from, "from")?,
        until: end(&a.until, "until")?,
    };
    let data = ivr_data(&a, call).map_err(CaptureError::Data)?;
    let kind = a.kind.unwrap_or_else(|| requested.implied_type());
    let number = a
        .number
        .or_else(|| call.caller_number.clone())
        .ok_or(CaptureError::NoNumber)?;
    let mut req = NewRequest::new(kind, number, requested, Source::Ivr);
    req.window = window;
    req.ivr_data = data;
    req.number_type = a.number_type;
    req.queue = a.queue;
    req.time_zone = a.tz;
    req.remark = a.remark;
    if let Some(agent) = &a.agent {
        if !svc.config().agents.iter().any(|x| x.id == *agent) {
            // Not repeated: the name may have come from the caller.
            return Err(CaptureError::UnknownAgent);
        }
    }
    req.agent = a.agent;
    req.origin_uuid = call.uuid.clone();
    req.actor = Some("dialplan".into());
    Ok(req)
}

/// Stores the request; a recording is adopted first and given back if the store refuses.
fn store(
    svc: &CallbackService,
    mut req: NewRequest,
    recording: Option<&str>,
) -> Result<(crate::model::CallbackRequest, CreateOutcome), CaptureError> {
    let Some(given) = recording.filter(|r| !r.is_empty()) else {
        return Ok(svc.request(req)?);
    };
    let dir = RecordingDir::new(&svc.config().settings.recordings_dir);
    let rec = dir.adopt(given, svc.now())?;
    let adopted = rec.path.clone();
    // The same length limit as an upload over HTTP (transcribe-max-seconds).
    if let Err(e) = svc.check_recording_length(&rec) {
        if let Err(back) = std::fs::rename(&adopted, given) {
            tracing::warn!("capture: the recording stays at {adopted}: {back}");
        }
        return Err(e.into());
    }
    req.recording = Some(rec);
    svc.request(req).map_err(|e| {
        if let Err(back) = std::fs::rename(&adopted, given) {
            tracing::warn!("capture: the recording stays at {adopted}: {back}");
        }
        CaptureError::from(e)
    })
}

/// Captures a request on `call`: the rules, then the store. What it became is told as far
/// as the caller may know it: a request that joined a callback someone else made gets no id
/// or time of it ([`Stored::Joined`]), as over HTTP.
pub fn capture(
    svc: &CallbackService,
    call: &Call,
    args: CaptureArgs,
) -> Result<Stored, CaptureError> {
    let recording = args.recording.clone();
    let req = request(svc, call, args)?;
    let (r, outcome) = store(svc, req, recording.as_deref())?;
    tracing::info!(callback_id = r.id, "capture: stored");
    // The caller reaches no callback but the one they make (crate::access).
    let caller = Principal::new("dialplan", Reach::Own);
    Ok(match caller.disclosure(&r, outcome) {
        Disclosure::Full => Stored::Own(Box::new(r)),
        Disclosure::Withheld => Stored::Joined,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn window_ivr_data_and_number_type_arguments_parse() {
        // from/until, ivr-vars (in order), data.KEY pairs and number-type are read; bad
        // names, repeats and unknown types are refused naming them.
        let a = parse_args(
            "from='today 09:00' until='today 17:00' ivr-vars=account_id,reason_code data.tier=gold number-type=Work",
        )
        .unwrap();
        assert_eq!(a.from.as_deref(), Some("today 09:00"));
        assert_eq!(a.until.as_deref(), Some("today 17:00"));
        assert_eq!(a.ivr_vars, ["account_id", "reason_code"]);
        assert_eq!(a.data.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(a.number_type, Some(crate::model::NumberType::Work));
        for (args, says) in [
            ("ivr-vars=ok,Bad", "'Bad'"),
            ("ivr-vars=,", "give variable names"),
            ("data.=1", "data key ''"),
            ("data.a=1 data.a=2", "data.a is given twice"),
            ("number-type=fax", "unknown number type 'fax'"),
            ("from=a from=b", "from is given twice"),
        ] {
            let e = parse_args(args).unwrap_err();
            assert!(e.contains(says), "{args}: {e}");
        }
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
}
