//! mod_fifo, FreeSWITCH's holding line, as the module uses it (facts from
//! src/mod/applications/mod_fifo/mod_fifo.c at v1.10.12, cited by line):
//!
//! - `callback_fifo_exit <fifo> [queue=<queue>] [vars=<a,b>]`: run in the dialplan after
//!   `fifo <fifo> in` returns, it turns a caller who left the fifo by a key of
//!   `fifo_caller_exit_key` into an immediate callback that keeps the fifo, the time the
//!   caller joined it, its priority slot, the caller's name and the listed variables (the
//!   core's `handover`, kind `Line`). mod_fifo leaves on the channel: `fifo_priority` (the
//!   slot, 0-9, :2731-2738 and :2762-2765), `fifo_push_timestamp` (the join time, local
//!   time `%Y-%m-%d %T`, :2768-2774), and when a key of `fifo_caller_exit_key` ends the
//!   wait (:2697, :2825-2828) that key in `fifo_caller_exit_key` itself and
//!   `fifo_status=ABORTED` (:2860-2864; `TIMEOUT` when `fifo_orbit_exten`'s timeout ended
//!   it). The channel does not carry the fifo's name: the dialplan gives it, as it gave it
//!   to `fifo`.
//! - [`callers`]: the callers waiting in a fifo, read from `fifo list <fifo>`
//!   (`fifo_api_function`, :4222-4247; each `<caller>` of `xml_caller`, :3986-4068, with
//!   its `timestamp` (its `fifo_timestamp`, the join time while it waits) and `slot`).

use crate::queue::report;
use crate::vars::ChannelVars;
use callback_core::handover::{hand_over, parse_args, HandoverError, QueueKind, QueueLeave};
use callback_core::host::LineCaller;
use callback_core::service::CallbackService;
use chrono::{NaiveDateTime, TimeZone};
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// mod_fifo's `MAX_PRI` (:118): slots 0 to 9; a higher `fifo_priority` is slot 9 (:2735-2737).
const MAX_SLOT: u32 = 9;

/// How mod_fifo writes times on the channel and in `fifo list`: `switch_time_exp_lt` and
/// `"%Y-%m-%d %T"` (:2768-2770), the switch's local time to the second.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A time mod_fifo wrote, as epoch seconds, read in zone `tz` (the process's local zone
/// in the module). In the hour a clock turns back the earlier instant is taken.
pub fn epoch_in<Tz: TimeZone>(text: &str, tz: &Tz) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), TIME_FORMAT).ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp())
}

/// A time mod_fifo wrote, as epoch seconds: mod_fifo runs in this process, so its local
/// time is this process's.
fn epoch(text: &str) -> Option<i64> {
    epoch_in(text, &chrono::Local)
}

/// `fifo_priority` read as mod_fifo reads it: `atoi`, at most slot 9.
fn slot(priority: Option<&str>) -> u32 {
    let Some(p) = priority else {
        return 0;
    };
    let p = p.trim_start();
    let digits: String = p
        .strip_prefix('+')
        .unwrap_or(p)
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    // A negative priority is no slot mod_fifo keeps apart (it indexes below its first
    // list); slot 0 is the nearest it could mean.
    digits
        .parse::<u64>()
        .map_or(0, |n| n.min(u64::from(MAX_SLOT)) as u32)
}

/// The fifo's name as mod_fifo keys it: without a trailing `!<importance>` (:2621-2629).
fn fifo_name(arg: &str) -> &str {
    arg.rsplit_once('!').map_or(arg, |(name, _)| name)
}

/// A fifo's name as the module passes it on (`fifo list <fifo>`): a short token of letters,
/// digits and `_ - . @`, so it stays one word of a command line whatever the dialplan
/// expanded into it.
pub fn check_name(fifo: &str) -> Result<(), String> {
    let ok = !fifo.is_empty()
        && fifo.len() <= 64
        && fifo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "fifo '{fifo}': a fifo name is up to 64 letters, digits and _ - . @"
        ))
    }
}

/// What the call says of fifo `fifo`, which it left.
pub fn leave(chan: &dyn ChannelVars, fifo: &str, vars: &[String]) -> QueueLeave {
    let exit_key = chan.var("fifo_caller_exit_key").filter(|k| !k.is_empty());
    QueueLeave {
        kind: QueueKind::Line {
            slot: slot(chan.var("fifo_priority").as_deref()),
        },
        centre_queue: Some(fifo.to_string()),
        // A time that cannot be read is handed on as written, and refused by the core
        // with the text named.
        joined_epoch: chan
            .var("fifo_push_timestamp")
            .map(|t| epoch(&t).map_or(t, |e| e.to_string())),
        by_exit_key: chan.var("fifo_status").as_deref() == Some("ABORTED") && exit_key.is_some(),
        caller_number: chan.var("caller_id_number"),
        caller_name: chan.var("caller_id_name"),
        uuid: chan.uuid(),
        vars: crate::queue::listed_vars(chan, vars),
    }
}

/// Runs `callback_fifo_exit` on a call.
pub fn run(svc: Option<&CallbackService>, chan: &dyn ChannelVars, data: &str) {
    let Some(svc) = svc else {
        return crate::capture::set_error(chan, "mod_callback is not running");
    };
    let data = data.trim();
    let (first, rest) = data.split_once(char::is_whitespace).unwrap_or((data, ""));
    let outcome = if first.is_empty() || first.contains('=') {
        Err(HandoverError::Args(
            "the fifo's name comes first: callback_fifo_exit <fifo> [queue=<queue>] [vars=<a,b>]"
                .into(),
        ))
    } else {
        let fifo = fifo_name(first);
        check_name(fifo)
            .map_err(HandoverError::Args)
            .and_then(|()| parse_args(rest))
            .and_then(|args| hand_over(svc, &leave(chan, fifo, &args.vars), &args))
    };
    report(chan, "callback_fifo_exit", outcome);
}

/// Why a fifo's callers could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FifoListError {
    #[error("fifo list refused: {0}")]
    Refused(String),
    #[error("fifo list is not the XML mod_fifo prints: {0}")]
    Malformed(String),
    #[error("fifo list: caller {uuid}: {what} '{value}' cannot be read")]
    Field {
        uuid: String,
        what: &'static str,
        value: String,
    },
}

/// The callers waiting in a fifo, from the reply to `fifo list <fifo>`:
/// `<fifo_report><fifo ...><callers><caller uuid=".." timestamp=".." slot=".."/>...`.
/// An unknown fifo lists no `<fifo>` (:4236-4243): no callers.
pub fn callers(reply: &str) -> Result<Vec<LineCaller>, FifoListError> {
    let text = reply.trim();
    if !text.starts_with("<fifo_report") {
        return Err(FifoListError::Refused(
            text.lines().next().unwrap_or_default().to_string(),
        ));
    }
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| FifoListError::Malformed(e.to_string()))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.name().as_ref().to_string();
        if name == "caller" && in_callers_of_fifo(&path) {
            let mut uuid = String::new();
            let mut ts = String::new();
            let mut sl = String::new();
            for a in e.attributes() {
                let a = a.map_err(|err| FifoListError::Malformed(err.to_string()))?;
                let v = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|err| FifoListError::Malformed(err.to_string()))?
                    .into_owned();
                match a.key.as_ref() {
                    "uuid" => uuid = v,
                    "timestamp" => ts = v,
                    "slot" => sl = v,
                    _ => {}
                }
            }
            let joined_epoch = epoch(&ts).ok_or_else(|| FifoListError::Field {
                uuid: uuid.clone(),
                what: "timestamp",
                value: ts.clone(),
            })?;
            let slot = sl.parse::<u32>().map_err(|_| FifoListError::Field {
                uuid: uuid.clone(),
                what: "slot",
                value: sl.clone(),
            })?;
            out.push(LineCaller {
                uuid,
                slot,
                joined_epoch,
            });
        }
        if !empty {
            path.push(name);
        }
    }
    Ok(out)
}

/// Whether `path` is `fifo_report / fifo / callers`.
fn in_callers_of_fifo(path: &[String]) -> bool {
    path == ["fifo_report", "fifo", "callers"]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::testing::MapVars;
    use chrono::FixedOffset;

    #[test]
    fn the_variables_mod_fifo_leaves_after_an_exit_key_are_read() {
        // The key pressed, ABORTED, the push time, the slot and only the listed variables.
        let v = MapVars::with(&[
            ("fifo_caller_exit_key", "*"),
            ("fifo_status", "ABORTED"),
            ("fifo_push_timestamp", "2026-11-23 14:00:00"),
            ("fifo_priority", "3"),
            ("caller_id_number", "+12125550142"),
            ("account_id", "77"),
            ("secret", "x"),
        ]);
        let l = leave(&v, "support", &["account_id".to_string()]);
        assert!(l.by_exit_key);
        assert_eq!(l.kind, QueueKind::Line { slot: 3 });
        assert_eq!(l.centre_queue.as_deref(), Some("support"));
        let local = epoch("2026-11-23 14:00:00").unwrap().to_string();
        assert_eq!(l.joined_epoch.as_deref(), Some(local.as_str()));
        assert_eq!(l.vars, [("account_id".to_string(), "77".to_string())]);
        // The orbit's timeout, or no exit key configured: not left by the key.
        let timeout = MapVars::with(&[("fifo_caller_exit_key", "*"), ("fifo_status", "TIMEOUT")]);
        assert!(!leave(&timeout, "support", &[]).by_exit_key);
        let no_key = MapVars::with(&[("fifo_status", "ABORTED")]);
        assert!(!leave(&no_key, "support", &[]).by_exit_key);
    }

    #[test]
    fn fifo_times_are_the_switch_local_time_and_priorities_are_read_like_atoi() {
        // 14:00 in a zone five hours behind UTC is 19:00 UTC; fifo_priority clamps to 9.
        let ny = FixedOffset::west_opt(5 * 3600).unwrap();
        let utc_19h = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 19, 0, 0)
            .unwrap()
            .timestamp();
        assert_eq!(epoch_in("2026-11-23 14:00:00", &ny), Some(utc_19h));
        assert_eq!(epoch_in("1795442400", &ny), None);
        assert_eq!(slot(Some("12")), 9);
        assert_eq!(slot(Some("2x")), 2);
        assert_eq!(slot(Some("x")), 0);
        assert_eq!(slot(None), 0);
        assert_eq!(fifo_name("sales!5"), "sales");
        assert!(check_name("sales@default").is_ok());
        for bad in ["", "a b", "${x}", "a,b", "a'b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fifo_list_callers_are_read_with_their_slot_and_join_time() {
        // Callers of the one fifo listed, in order; the consumers' and outbound lists are
        // not callers; an unknown fifo lists none; a refusal is an error.
        let reply = "<fifo_report>\n  <fifo name=\"support\" consumer_count=\"0\" caller_count=\"2\" waiting_count=\"2\" importance=\"0\" outbound_per_cycle=\"0\" outbound_per_cycle_min=\"0\" ring_timeout=\"0\" default_lag=\"0\" outbound_priority=\"0\" outbound_strategy=\"ringall\">\n    <outbound></outbound>\n    <callers>\n      <caller uuid=\"a\" status=\"WAITING\" caller_id_name=\"Ann%20Lee\" caller_id_number=\"%2B12125550161\" timestamp=\"2026-11-23 14:00:00\" position=\"1\" slot=\"0\"></caller>\n      <caller uuid=\"b\" status=\"WAITING\" timestamp=\"2026-11-23 14:00:07\" position=\"1\" slot=\"4\"></caller>\n    </callers>\n    <consumers></consumers>\n    <bridges></bridges>\n  </fifo>\n</fifo_report>\n\n";
        let c = callers(reply).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].uuid.as_str(), c[0].slot), ("a", 0));
        assert_eq!(c[1].joined_epoch - c[0].joined_epoch, 7);
        assert_eq!(c[1].slot, 4);
        assert_eq!(callers("<fifo_report></fifo_report>\n\n").unwrap(), []);
        assert!(callers("-ERR fifo Command not found!\n").is_err());
        let bad = reply.replace("2026-11-23 14:00:07", "soon");
        assert!(callers(&bad).is_err());
    }
}
