//! The fs_cli `callback` command: its grammar (nom) and its replies. Pure: it takes the
//! service and a line and returns the text, so it is tested without FreeSWITCH.
//!
//! ```text
//! callback [json] help | list [<queue>] [<state>] | show <id> | cancel <id>
//!          | reschedule <id> <when> | now <id> | stats
//! ```
//! Replies start with `+OK` or `-ERR`; with the leading `json` word the reply is one JSON
//! object, `{"ok":true,...}` or `{"ok":false,"error":{"code":...,"message":...}}`.

use callback_core::access::{Principal, Reach};
use callback_core::dispatch::Dispatcher;
use callback_core::model::{AttemptResult, CallbackId, CallbackRequest, State};
use callback_core::service::{CallbackService, Error as ServiceError, Trace};
use callback_core::store::{JobState, ListFilter};
use chrono::{DateTime, Utc};
use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_till1};
use nom::character::complete::{digit1, multispace0, multispace1};
use nom::combinator::{all_consuming, map_res, opt, rest, verify};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use serde_json::json;
use std::fmt::Write as _;

/// The usage line of every sub-command.
pub const USAGE: &str = "callback [json] help | list [<queue>] [<state>] | show <id> | cancel <id> | reschedule <id> <when> | now <id> | stats | agents | agent <id> ready|away | dnc add|remove <number> | dnc list | disposition <attempt id> <code> [<note>] | result <attempt id> <result> | purge [<id>] | report [format=csv|json] [from=… to=… queue=… type=… source=… agent=… outcome=…] | reload";

const HELP: &str = "\
callback help                      this text
callback list [<queue>] [<state>]  callbacks, optionally of one queue and/or state
callback show <id>                 one callback with its whole trace and attempts
callback cancel <id>               withdraw a callback
callback reschedule <id> <when>    move it: +15m, +2h, tomorrow 09:30, 2026-11-22 14:00 (the callback's zone)
callback now <id>                  make it due at once (it still waits for an agent)
callback stats                     counts per queue and state
callback agents                    agents, their state and the callback they are on
callback agent <id> ready|away     set an agent ready for callbacks, or away
callback dnc add|remove <number>   the do-not-call list (checked just before every dial)
callback dnc list                  the numbers on it
callback disposition <attempt id> <code> [<note>]
                                   the agent's after-call code and note on a customer attempt
callback purge [<id>]               delete recordings and transcripts: of callbacks finished longer ago
                                   than retention-days, or of one callback now (on request)
callback result <attempt id> answered|machine|busy|no-answer|wrong-number
                                   correct a customer attempt's result (the agent knows best)
callback report [<key>=<value> ...] callbacks created in a range, one CSV row per callback and per
                                   attempt (callback_origin_uuid, call_uuid for the CDRs); keys:
                                   from, to (YYYY-MM-DD or RFC 3339; default the last 7 days),
                                   queue, type, source, agent, outcome, format=csv|json
callback reload                    re-read callback.conf (after reloadxml) without unloading:
                                   queues, hours, agents, staff, IVR profiles, tag rules; the
                                   reply names what only `reload mod_callback` applies
Put `json` first (callback json list sales) for one JSON object per reply, for scripts.";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    List {
        queue: Option<String>,
        state: Option<State>,
    },
    Show(CallbackId),
    Cancel(CallbackId),
    Reschedule(CallbackId, String),
    Now(CallbackId),
    Stats,
    Agents,
    Agent(String, bool),
    DncAdd(String),
    DncRemove(String),
    DncList,
    Disposition(i64, String, Option<String>),
    Result(i64, AttemptResult),
    Purge(Option<CallbackId>),
    /// A report: the `key=value` words, read by the core (callback_core::report).
    Report(String),
    /// Re-read the configuration (the module runs it: [`execute_module`]).
    Reload,
    /// Debug builds only: panics, to prove the guard.
    #[cfg(debug_assertions)]
    Panic,
}

/// A command and the reply form asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub json: bool,
    pub command: Command,
}

/// Why a line was not understood: the message and the usage of the sub-command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub json: bool,
    pub message: String,
    pub usage: &'static str,
}

type Res<'a, T> = IResult<&'a str, T>;

fn word(i: &str) -> Res<'_, &str> {
    take_till1(char::is_whitespace).parse(i)
}

fn id(i: &str) -> Res<'_, CallbackId> {
    verify(map_res(digit1, str::parse::<CallbackId>), |n| *n > 0).parse(i)
}

fn arg<'a, T>(
    p: impl Parser<&'a str, Output = T, Error = nom::error::Error<&'a str>>,
) -> impl Parser<&'a str, Output = T, Error = nom::error::Error<&'a str>> {
    preceded(multispace1, p)
}

fn end(i: &str) -> Res<'_, ()> {
    let (i, _) = multispace0(i)?;
    all_consuming(|i| Ok((i, ()))).parse(i)
}

/// Parses one `callback` line.
pub fn parse(line: &str) -> Result<Invocation, Usage> {
    let line = line.trim();
    if line.eq_ignore_ascii_case("json") {
        return Ok(Invocation {
            json: true,
            command: Command::Help,
        });
    }
    let (rest_line, json) = match opt((
        tag_no_case::<_, _, nom::error::Error<&str>>("json"),
        multispace1,
    ))
    .parse(line)
    {
        Ok((r, j)) => (r, j.is_some()),
        Err(_) => (line, false),
    };
    let bad = |message: String, usage: &'static str| Usage {
        json,
        message,
        usage,
    };
    let (args, verb) = match word(rest_line) {
        Ok((a, v)) => (a, v.to_ascii_lowercase()),
        Err(_) => {
            return Ok(Invocation {
                json,
                command: Command::Help,
            })
        }
    };
    let simple = |u: &'static str, p: &mut dyn FnMut(&str) -> Res<'_, Command>| {
        p(args)
            .map(|(_, c)| c)
            .map_err(|_| bad(format!("bad arguments for '{verb}'"), u))
    };
    let command = match verb.as_str() {
        "help" => simple("callback help", &mut |i| {
            end.map(|_| Command::Help).parse(i)
        })?,
        "stats" => simple("callback stats", &mut |i| {
            end.map(|_| Command::Stats).parse(i)
        })?,
        "show" => simple("callback show <id>", &mut |i| {
            (arg(id), end).map(|(n, _)| Command::Show(n)).parse(i)
        })?,
        "cancel" => simple("callback cancel <id>", &mut |i| {
            (arg(id), end).map(|(n, _)| Command::Cancel(n)).parse(i)
        })?,
        "now" => simple("callback now <id>", &mut |i| {
            (arg(id), end).map(|(n, _)| Command::Now(n)).parse(i)
        })?,
        "reschedule" => simple("callback reschedule <id> <when>", &mut |i| {
            (arg(id), arg(verify(rest, |s: &str| !s.trim().is_empty())))
                .map(|(n, w): (CallbackId, &str)| Command::Reschedule(n, w.trim().to_string()))
                .parse(i)
        })?,
        "list" => {
            let usage = "callback list [<queue>] [<state>]";
            let (_, words) = (opt(arg(word)), opt(arg(word)), end)
                .map(|(a, b, _)| (a, b))
                .parse(args)
                .map_err(|_: nom::Err<nom::error::Error<&str>>| {
                    bad("too many arguments for 'list'".into(), usage)
                })?;
            let (queue, state) = match words {
                (None, _) => (None, None),
                // One word: a state name if it is one, else a queue.
                (Some(a), None) => match a.parse::<State>() {
                    Ok(s) => (None, Some(s)),
                    Err(_) => (Some(a.to_string()), None),
                },
                (Some(q), Some(s)) => (
                    Some(q.to_string()),
                    Some(s.parse::<State>().map_err(|e| bad(e.to_string(), usage))?),
                ),
            };
            Command::List { queue, state }
        }
        "agents" => simple("callback agents", &mut |i| {
            end.map(|_| Command::Agents).parse(i)
        })?,
        "agent" => simple("callback agent <id> ready|away", &mut |i| {
            (arg(word), arg(word), end)
                .map_opt(
                    |(a, s, _): (&str, &str, ())| match s.to_ascii_lowercase().as_str() {
                        "ready" => Some(Command::Agent(a.to_string(), true)),
                        "away" => Some(Command::Agent(a.to_string(), false)),
                        _ => None,
                    },
                )
                .parse(i)
        })?,
        "dnc" => simple(
            "callback dnc add|remove <number> | callback dnc list",
            &mut |i| {
                alt((
                    (arg(tag_no_case("list")), end).map(|_| Command::DncList),
                    (arg(tag_no_case("add")), arg(word), end)
                        .map(|(_, n, _): (&str, &str, ())| Command::DncAdd(n.to_string())),
                    (arg(tag_no_case("remove")), arg(word), end)
                        .map(|(_, n, _): (&str, &str, ())| Command::DncRemove(n.to_string())),
                ))
                .parse(i)
            },
        )?,
        "disposition" => simple(
            "callback disposition <attempt id> <code> [<note>]",
            &mut |i| {
                (
                    arg(id),
                    arg(word),
                    opt(arg(verify(rest, |s: &str| !s.trim().is_empty()))),
                )
                    .map(|(a, c, n): (i64, &str, Option<&str>)| {
                        Command::Disposition(a, c.to_string(), n.map(|n| n.trim().to_string()))
                    })
                    .parse(i)
            },
        )?,
        "reload" => simple("callback reload", &mut |i| {
            end.map(|_| Command::Reload).parse(i)
        })?,
        "report" => Command::Report(args.trim().to_string()),
        "purge" => simple("callback purge [<id>]", &mut |i| {
            (opt(arg(id)), end).map(|(n, _)| Command::Purge(n)).parse(i)
        })?,
        "result" => simple(
            "callback result <attempt id> answered|machine|busy|no-answer|wrong-number",
            &mut |i| {
                (arg(id), arg(word), end)
                    .map_opt(|(a, r, _): (i64, &str, ())| {
                        r.parse::<AttemptResult>()
                            .ok()
                            .map(|r| Command::Result(a, r))
                    })
                    .parse(i)
            },
        )?,
        #[cfg(debug_assertions)]
        "_panic" => Command::Panic,
        other => {
            return Err(bad(format!("unknown sub-command '{other}'"), USAGE));
        }
    };
    Ok(Invocation { json, command })
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

fn err_reply(json: bool, code: &str, message: &str, usage: Option<&str>) -> String {
    if json {
        let mut e = json!({ "code": code, "message": message });
        if let Some(u) = usage {
            e["usage"] = json!(u);
        }
        format!("{}\n", json!({ "ok": false, "error": e }))
    } else {
        match usage {
            Some(u) => format!("-ERR {message}\nUSAGE: {u}\n"),
            None => format!("-ERR {code}: {message}\n"),
        }
    }
}

fn service_err(json: bool, e: &ServiceError) -> String {
    if e.is_store_unavailable() {
        tracing::error!("callback command: {e}");
    }
    err_reply(json, e.code(), &e.to_string(), None)
}

fn row(r: &CallbackRequest) -> String {
    format!(
        "{:>6}  {:<11}  {:<13}  {:<12}  {:<21}  {}\n",
        r.id,
        r.state.as_str(),
        r.kind.as_str(),
        r.queue,
        when(r.due_at),
        r.number
    )
}

/// The recording, tags and transcription part of `show`.
fn transcription_lines(out: &mut String, t: &Trace) {
    let r = &t.request;
    let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "tags:      {}",
        if tags.is_empty() {
            "-".to_string()
        } else {
            tags.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "recording: {}",
        r.recording.as_ref().map_or("-", |rec| rec.path.as_str())
    );
    let Some(job) = &t.transcription else {
        return;
    };
    let why = match (job.state, &t.transcription_off, &job.error) {
        (JobState::Queued | JobState::Running, Some(off), _) => format!(" ({off})"),
        (JobState::Queued, None, Some(e)) => {
            format!(" (retry at {}: {e})", when(Some(job.next_try_at)))
        }
        (JobState::Failed, _, Some(e)) => format!(" ({e})"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "transcription: {} after {} attempt(s){why}",
        job.state.as_str(),
        job.attempts
    );
    // The agent must see that the caller said nothing, not an empty line to guess from.
    if job
        .result
        .as_ref()
        .is_some_and(|res| res.no_speech.is_some())
    {
        let _ = writeln!(out, "speech:    none in the recording (no speech)");
    }
    if let Some(tr) = &r.transcript {
        let _ = writeln!(
            out,
            "transcript: {}",
            tr.text.replace('\n', "\n            ")
        );
        let _ = writeln!(out, "language:  {}", tr.language.as_deref().unwrap_or("-"));
    }
    if let Some(res) = &job.result {
        let _ = writeln!(out, "transcribed in: {} ms", res.processing_ms);
    }
}

fn ok_json(mut body: serde_json::Value) -> String {
    body["ok"] = json!(true);
    format!("{body}\n")
}

/// Runs one `callback` line in the running module (`None`: not running): `reload` by the
/// module, everything else against its service and dispatcher.
pub fn execute_module(m: Option<&crate::module::Module>, line: &str) -> String {
    if let Ok(Invocation {
        json,
        command: Command::Reload,
    }) = parse(line)
    {
        if m.is_none() {
            return err_reply(json, "not-running", "mod_callback is not running", None);
        }
        return match crate::module::reload() {
            Err(e) => err_reply(json, "config", &e, None),
            Ok(r) if json => ok_json(json!({
                "source": r.source,
                "queues": r.queues,
                "agents": r.agents,
                "staff": r.staff,
                "tag_rules": r.tag_rules,
                "agents_added": r.agents_added,
                "agents_removed": r.agents_removed,
                "not_applied": r.not_applied,
            })),
            Ok(r) => {
                let mut out = format!(
                    "+OK reloaded {}: {} queue(s), {} agent(s), {} staff, {} tag rule(s)\n",
                    r.source, r.queues, r.agents, r.staff, r.tag_rules
                );
                if !r.agents_added.is_empty() {
                    out.push_str(&format!("agents added: {}\n", r.agents_added.join(", ")));
                }
                if !r.agents_removed.is_empty() {
                    out.push_str(&format!(
                        "agents removed: {} (one on a callback keeps it)\n",
                        r.agents_removed.join(", ")
                    ));
                }
                if !r.not_applied.is_empty() {
                    out.push_str(&format!(
                        "changed but not applied until `reload mod_callback`: {}\n",
                        r.not_applied.join(", ")
                    ));
                }
                out
            }
        };
    }
    execute_with(m.map(|m| m.service()), m.map(|m| m.dispatcher()), line)
}

/// Runs one `callback` line against the service (`None`: the module is not running).
pub fn execute(service: Option<&CallbackService>, line: &str) -> String {
    execute_with(service, None, line)
}

/// Runs one `callback` line with the dispatcher too (agents, dispositions).
pub fn execute_with(
    service: Option<&CallbackService>,
    dispatcher: Option<&Dispatcher>,
    line: &str,
) -> String {
    let inv = match parse(line) {
        Ok(inv) => inv,
        Err(u) => return err_reply(u.json, "usage", &u.message, Some(u.usage)),
    };
    let json = inv.json;
    if inv.command == Command::Help {
        return if json {
            ok_json(json!({ "usage": USAGE, "help": HELP }))
        } else {
            format!("+OK\n{HELP}\n")
        };
    }
    let Some(svc) = service else {
        return err_reply(json, "not-running", "mod_callback is not running", None);
    };
    // The PBX's admin at its console: every callback (callback_core::access, Reach::All).
    let admin = Principal::new("fs_cli", Reach::All);
    let actor = admin.actor.as_str();
    match inv.command {
        Command::Help => unreachable!("answered above"),
        // Only the module can re-read its configuration (execute_module).
        Command::Reload => err_reply(json, "not-running", "reload needs the running module", None),
        #[cfg(debug_assertions)]
        Command::Panic => panic!("callback _panic: a test of the panic guard"),
        Command::List { queue, state } => {
            let filter = ListFilter {
                queue,
                state,
                ..Default::default()
            };
            match svc.list(&filter) {
                Err(e) => service_err(json, &e),
                Ok(list) if json => ok_json(json!({ "callbacks": list })),
                Ok(list) => {
                    let mut out = format!("+OK {} callback(s)\n", list.len());
                    if !list.is_empty() {
                        out.push_str(&format!(
                            "{:>6}  {:<11}  {:<13}  {:<12}  {:<21}  {}\n",
                            "id", "state", "type", "queue", "due (UTC)", "number"
                        ));
                        list.iter().for_each(|r| out.push_str(&row(r)));
                    }
                    out
                }
            }
        }
        Command::Show(id) => match svc.trace(id) {
            Err(e) => service_err(json, &e),
            Ok(t) if json => ok_json(json!({ "trace": t })),
            Ok(t) => {
                let r = &t.request;
                let mut out = format!("+OK callback {}\n", r.id);
                let _ = writeln!(out, "state:     {}", r.state);
                let _ = writeln!(out, "type:      {}", r.kind);
                let _ = writeln!(out, "number:    {}", r.number);
                let _ = writeln!(out, "queue:     {}", r.queue);
                let _ = writeln!(out, "agent:     {}", r.agent.as_deref().unwrap_or("-"));
                let _ = writeln!(out, "zone:      {}", r.time_zone);
                let _ = writeln!(out, "due:       {}", when(r.due_at));
                let _ = writeln!(out, "expires:   {}", when(r.expires_at));
                let _ = writeln!(out, "source:    {}", r.source);
                let _ = writeln!(out, "attempts:  {}", r.customer_attempts);
                let _ = writeln!(out, "remark:    {}", r.remark.as_deref().unwrap_or("-"));
                let _ = writeln!(out, "created:   {}", when(Some(r.created_at)));
                let _ = writeln!(out, "priority:  {}", r.priority);
                transcription_lines(&mut out, &t);
                let _ = writeln!(out, "trace:");
                for e in &t.events {
                    let from = e.from.map(|s| s.as_str()).unwrap_or("-");
                    let _ = writeln!(
                        out,
                        "  {}  {:<10} {} -> {}{}{}",
                        when(Some(e.at)),
                        e.action,
                        from,
                        e.to,
                        e.actor
                            .as_deref()
                            .map(|a| format!(" by {a}"))
                            .unwrap_or_default(),
                        e.detail
                            .as_deref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    );
                }
                let _ = writeln!(out, "legs:");
                for a in &t.attempts {
                    let _ = write!(
                        out,
                        "  #{} {:<8} agent {:<6} {} .. {}  {:<16} {}",
                        a.attempt_no,
                        a.leg.as_str(),
                        a.agent.as_deref().unwrap_or("-"),
                        when(Some(a.started_at)),
                        when(a.ended_at),
                        a.hangup_cause.as_deref().unwrap_or("-"),
                        a.result.map(|r| r.as_str()).unwrap_or("(open)")
                    );
                    if let Some(d) = &a.disposition {
                        let _ = write!(out, "  disposition {d}");
                    }
                    if let Some(n) = &a.note {
                        let _ = write!(out, "  note: {n}");
                    }
                    out.push('\n');
                }
                out
            }
        },
        Command::Cancel(id) => match svc.cancel(id, actor) {
            Err(e) => service_err(json, &e),
            Ok(r) if json => ok_json(json!({ "callback": r })),
            Ok(r) => format!("+OK callback {} {}\n", r.id, r.state),
        },
        Command::Now(id) => match svc.call_now(id, actor) {
            Err(e) => service_err(json, &e),
            Ok(r) if json => ok_json(json!({ "callback": r })),
            Ok(r) => format!(
                "+OK callback {} {}, due {}\n",
                r.id,
                r.state,
                when(r.due_at)
            ),
        },
        Command::Reschedule(id, text) => {
            let requested = match svc.get(id) {
                Err(e) => return service_err(json, &e),
                Ok(r) => {
                    let zone = match callback_core::schedule::parse_zone(&r.time_zone) {
                        Ok(z) => z,
                        Err(e) => {
                            return err_reply(json, "unknown-time-zone", &e.to_string(), None)
                        }
                    };
                    match callback_core::when::parse_when(&text, zone, svc.now()) {
                        Ok(w) => w,
                        Err(e) => {
                            return err_reply(
                                json,
                                "usage",
                                &e.to_string(),
                                Some("callback reschedule <id> <when>"),
                            )
                        }
                    }
                }
            };
            match svc.reschedule(id, requested, actor) {
                Err(e) => service_err(json, &e),
                Ok(r) if json => ok_json(json!({ "callback": r })),
                Ok(r) => format!(
                    "+OK callback {} {}, due {}\n",
                    r.id,
                    r.state,
                    when(r.due_at)
                ),
            }
        }
        Command::Stats => match svc.stats() {
            Err(e) => service_err(json, &e),
            Ok(s) if json => ok_json(json!({ "stats": s })),
            Ok(s) => {
                let total: u64 = s.by_queue_state.iter().map(|(_, _, n)| n).sum();
                let mut out = format!("+OK {total} callback(s)\n");
                for (q, st, n) in &s.by_queue_state {
                    let _ = writeln!(out, "{q:<12}  {:<11}  {n}", st.as_str());
                }
                out
            }
        },
        Command::DncAdd(n) => match svc.config().numbers.normalize(&n) {
            Err(e) => err_reply(json, "invalid-number", &e.to_string(), None),
            Ok(e164) => match svc.store().dnc_add(&e164, Some(actor), svc.now()) {
                Err(e) => service_err(json, &e.into()),
                Ok(()) if json => ok_json(json!({ "number": e164 })),
                Ok(()) => format!("+OK {e164} is on the do-not-call list\n"),
            },
        },
        Command::DncRemove(n) => {
            let e164 = svc.config().numbers.normalize(&n).unwrap_or(n);
            match svc.store().dnc_remove(&e164) {
                Err(e) => service_err(json, &e.into()),
                Ok(removed) if json => ok_json(json!({ "number": e164, "removed": removed })),
                Ok(true) => format!("+OK {e164} removed from the do-not-call list\n"),
                Ok(false) => err_reply(
                    json,
                    "not-found",
                    &format!("{e164} is not on the list"),
                    None,
                ),
            }
        }
        Command::DncList => match svc.store().dnc_list() {
            Err(e) => service_err(json, &e.into()),
            Ok(list) if json => ok_json(json!({ "numbers": list })),
            Ok(list) => {
                let mut out = format!("+OK {} number(s)\n", list.len());
                for d in list {
                    let _ = writeln!(
                        out,
                        "{:<16}  since {}  {}",
                        d.number,
                        when(Some(d.added_at)),
                        d.reason.as_deref().unwrap_or("")
                    );
                }
                out
            }
        },
        Command::Disposition(attempt, code, note) => {
            if let Err(e) = svc.check_disposition(&code) {
                return service_err(json, &e);
            }
            match svc
                .store()
                .set_disposition(attempt, None, Some(&code), note.as_deref())
            {
                Err(e) => service_err(json, &e.into()),
                Ok(a) if json => ok_json(json!({ "attempt": a })),
                Ok(a) => format!(
                    "+OK attempt {} of callback {}: {code}\n",
                    a.id, a.callback_id
                ),
            }
        }
        Command::Report(words) => {
            use callback_core::report::{self, Format, ReportError};
            match report::words(&words).and_then(|p| report::run(svc, p)) {
                Err(ReportError::Store(e)) => service_err(json, &e.into()),
                Err(e @ ReportError::Invalid { .. }) => {
                    err_reply(json, "invalid", &e.to_string(), None)
                }
                Err(e) => err_reply(json, "internal", &e.to_string(), None),
                Ok(r) if json || r.filter.format == Some(Format::Json) => {
                    ok_json(json!({ "report": r.to_json() }))
                }
                Ok(r) => match r.to_csv() {
                    Ok(csv) => format!(
                        "+OK {} callback(s), {} row(s)\n{csv}",
                        r.callbacks,
                        r.rows.len()
                    ),
                    Err(e) => err_reply(json, "internal", &e.to_string(), None),
                },
            }
        }
        Command::Purge(only) => match svc.purge(only) {
            Err(e) => service_err(json, &e),
            Ok(n) if json => ok_json(json!({ "files_deleted": n })),
            Ok(n) => match only {
                Some(id) => {
                    format!("+OK callback {id}: recording and transcript deleted ({n} file(s))\n")
                }
                None => format!("+OK {n} recording file(s) past retention deleted\n"),
            },
        },
        Command::Result(attempt, result) => {
            match svc
                .store()
                .set_disposition(attempt, Some(result), None, None)
            {
                Err(e) => service_err(json, &e.into()),
                Ok(a) if json => ok_json(json!({ "attempt": a })),
                Ok(a) => format!(
                    "+OK attempt {} of callback {}: {}\n",
                    a.id,
                    a.callback_id,
                    result.as_str()
                ),
            }
        }
        Command::Agents | Command::Agent(..) => {
            let Some(d) = dispatcher else {
                return err_reply(json, "not-running", "the dispatcher is not running", None);
            };
            if let Command::Agent(id, ready) = &inv.command {
                if let Err(e) = d.set_agent(id, *ready) {
                    return err_reply(json, "invalid", &e.to_string(), None);
                }
            }
            let list = d.agents().list();
            if json {
                return ok_json(json!({ "agents": list }));
            }
            let mut out = format!("+OK {} agent(s)\n", list.len());
            for a in list {
                let _ = writeln!(
                    out,
                    "{:<10}  {:<5}  {:<8}  idle since {}  queues {}",
                    a.id,
                    a.state.as_str(),
                    a.callback.map_or("-".to_string(), |c| format!("cb {c}")),
                    when(Some(a.idle_since)),
                    a.queues.join(",")
                );
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        parse(line).unwrap().command
    }

    #[test]
    fn every_sub_command_parses() {
        // Each documented form parses to its command; `json` first selects the JSON reply.
        assert_eq!(cmd(""), Command::Help);
        assert_eq!(cmd("help"), Command::Help);
        assert_eq!(cmd("stats"), Command::Stats);
        assert_eq!(
            cmd("list"),
            Command::List {
                queue: None,
                state: None
            }
        );
        assert_eq!(
            cmd("list sales"),
            Command::List {
                queue: Some("sales".into()),
                state: None
            }
        );
        assert_eq!(
            cmd("list scheduled"),
            Command::List {
                queue: None,
                state: Some(State::Scheduled)
            }
        );
        assert_eq!(
            cmd("  LIST sales  due "),
            Command::List {
                queue: Some("sales".into()),
                state: Some(State::Due)
            }
        );
        assert_eq!(cmd("show 12"), Command::Show(12));
        assert_eq!(cmd("cancel 3"), Command::Cancel(3));
        assert_eq!(cmd("now 3"), Command::Now(3));
        assert_eq!(
            cmd("reschedule 3 +15m"),
            Command::Reschedule(3, "+15m".into())
        );
        assert_eq!(
            cmd("reschedule 3 2026-11-22 14:00"),
            Command::Reschedule(3, "2026-11-22 14:00".into())
        );
        assert_eq!(
            parse("json").unwrap(),
            Invocation {
                json: true,
                command: Command::Help
            }
        );
        let inv = parse("json list sales").unwrap();
        assert!(inv.json);
        assert!(!parse("list").unwrap().json);
    }

    #[test]
    fn bad_lines_name_the_usage() {
        // Wrong or missing arguments are refused with the sub-command's usage, never a panic.
        for (line, usage) in [
            ("show", "callback show <id>"),
            ("show x", "callback show <id>"),
            ("show 0", "callback show <id>"),
            ("show 1 2", "callback show <id>"),
            ("show 99999999999999999999999", "callback show <id>"),
            ("cancel", "callback cancel <id>"),
            ("now -1", "callback now <id>"),
            ("reschedule 4", "callback reschedule <id> <when>"),
            ("reschedule x +1h", "callback reschedule <id> <when>"),
            ("list a b c", "callback list [<queue>] [<state>]"),
            ("list sales nonsense", "callback list [<queue>] [<state>]"),
            ("stats now", "callback stats"),
            ("frobnicate", USAGE),
        ] {
            let u = parse(line).expect_err(line);
            assert_eq!(u.usage, usage, "{line}");
        }
        let reply = execute(None, "show");
        assert_eq!(
            reply,
            "-ERR bad arguments for 'show'\nUSAGE: callback show <id>\n"
        );
        let reply = execute(None, "json bogus");
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "usage");
    }

    #[test]
    fn help_works_without_a_service_and_the_rest_says_not_running() {
        // `help` always answers; other commands say plainly that the module is not running.
        assert!(execute(None, "help").starts_with("+OK\n"));
        assert_eq!(
            execute(None, "list"),
            "-ERR not-running: mod_callback is not running\n"
        );
    }
}
