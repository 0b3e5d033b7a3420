//! The admin's console command (`callback …` at fs_cli): its grammar (nom) here, its
//! execution in [`run`], returning typed values the host words as it likes (the module:
//! `+OK`/`-ERR` text, or one JSON object).
//!
//! ```text
//! callback [json] help | list [<queue>] [<state>] | show <id> | cancel <id>
//!          | reschedule <id> <when> | window <id> <from> to <until> | number <id> <number>|- [mobile|home|work|other] | now <id> | stats | agents | ...
//! ```

pub mod run;

pub use run::{run, CommandError, Reloaded, Reply};

use crate::model::{AttemptResult, CallbackId, State};
use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_till1};
use nom::character::complete::{digit1, multispace0, multispace1};
use nom::combinator::{all_consuming, map_res, opt, rest, verify};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// The usage line of every sub-command.
pub const USAGE: &str = "callback [json] help | list [<queue>] [<state>] | show <id> | cancel <id> | done <id> [<note>] | reschedule <id> <when> | now <id> | stats | agents | agent <id> ready|away | dnc add|remove <number> | dnc list | disposition <attempt id> <code> [<note>] | result <attempt id> <result> | purge [<id>] | report [format=csv|json] [from=… to=… queue=… type=… source=… agent=… outcome=…] | reload";

pub const HELP: &str = "\
callback help                      this text
callback list [<queue>] [<state>]  callbacks, optionally of one queue and/or state
callback show <id>                 one callback with its whole trace and attempts
callback cancel <id>               withdraw a callback
callback done <id> [<note>]        close a waiting callback without a call (settled otherwise; not a cancel)
callback reschedule <id> <when>    move it (also a completed one, after the call): now (immediate), +15m
                                   (delayed), tomorrow 09:30, 2026-11-22 14:00 (scheduled, the callback's
                                   zone); the time sets the type
callback window <id> <from> to <until>
                                   the customer's window (the callback's zone): never dialled
                                   outside it; `-` leaves an end open, `window <id> clear` both
callback number <id> <number>|- [mobile|home|work|other]
                                   a new number for a waiting callback, with its type
                                   (- keeps the number and sets the type)
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
                                   attempt (callback_origin_uuid, the leg's CDR keys); keys:
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
    /// Done without a call, with an optional note.
    Done(CallbackId, Option<String>),
    Reschedule(CallbackId, String),
    /// The customer's window: the words after the id (`<from> to <until>`, or `clear`).
    Window(CallbackId, String),
    /// A new number (`None`: keep it) and/or its type.
    Number(CallbackId, Option<String>, Option<crate::model::NumberType>),
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
    /// A report: the `key=value` words, read by [`crate::report`].
    Report(String),
    /// Re-read the configuration (a node runs it: [`crate::node::Node::command`]).
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
        "done" => simple("callback done <id> [<note>]", &mut |i| {
            (
                arg(id),
                opt(arg(verify(rest, |s: &str| !s.trim().is_empty()))),
            )
                .map(|(n, note): (CallbackId, Option<&str>)| {
                    Command::Done(n, note.map(|t| t.trim().to_string()))
                })
                .parse(i)
        })?,
        "now" => simple("callback now <id>", &mut |i| {
            (arg(id), end).map(|(n, _)| Command::Now(n)).parse(i)
        })?,
        "reschedule" => simple("callback reschedule <id> <when>", &mut |i| {
            (arg(id), arg(verify(rest, |s: &str| !s.trim().is_empty())))
                .map(|(n, w): (CallbackId, &str)| Command::Reschedule(n, w.trim().to_string()))
                .parse(i)
        })?,
        "window" => simple("callback window <id> <from> to <until>", &mut |i| {
            (arg(id), arg(verify(rest, |s: &str| !s.trim().is_empty())))
                .map(|(n, w): (CallbackId, &str)| Command::Window(n, w.trim().to_string()))
                .parse(i)
        })?,
        "number" => simple(
            "callback number <id> <number>|- [mobile|home|work|other]",
            &mut |i| {
                (arg(id), arg(word), opt(arg(word)), end)
                    .map_opt(|(n, number, ty, _): (CallbackId, &str, Option<&str>, ())| {
                        let ty = match ty {
                            None => None,
                            Some(t) => Some(t.parse().ok()?),
                        };
                        let number = (number != "-").then(|| number.to_string());
                        (number.is_some() || ty.is_some()).then_some(Command::Number(n, number, ty))
                    })
                    .parse(i)
            },
        )?,
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
        assert_eq!(cmd("done 3"), Command::Done(3, None));
        assert_eq!(
            cmd("done 3 paid online"),
            Command::Done(3, Some("paid online".into()))
        );
        assert_eq!(
            cmd("reschedule 3 +15m"),
            Command::Reschedule(3, "+15m".into())
        );
        assert_eq!(
            cmd("reschedule 3 2026-11-22 14:00"),
            Command::Reschedule(3, "2026-11-22 14:00".into())
        );
        assert_eq!(
            cmd("window 3 tomorrow 09:00 to tomorrow 17:00"),
            Command::Window(3, "tomorrow 09:00 to tomorrow 17:00".into())
        );
        assert_eq!(
            cmd("number 3 +4930123456 work"),
            Command::Number(
                3,
                Some("+4930123456".into()),
                Some(crate::model::NumberType::Work)
            )
        );
        assert_eq!(
            cmd("number 3 - mobile"),
            Command::Number(3, None, Some(crate::model::NumberType::Mobile))
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
            ("done", "callback done <id> [<note>]"),
            ("done x", "callback done <id> [<note>]"),
            ("reschedule 4", "callback reschedule <id> <when>"),
            ("reschedule x +1h", "callback reschedule <id> <when>"),
            ("window 4", "callback window <id> <from> to <until>"),
            (
                "number 4",
                "callback number <id> <number>|- [mobile|home|work|other]",
            ),
            (
                "number 4 - pager",
                "callback number <id> <number>|- [mobile|home|work|other]",
            ),
            (
                "number 4 -",
                "callback number <id> <number>|- [mobile|home|work|other]",
            ),
            ("list a b c", "callback list [<queue>] [<state>]"),
            ("list sales nonsense", "callback list [<queue>] [<state>]"),
            ("stats now", "callback stats"),
            ("frobnicate", USAGE),
        ] {
            let u = parse(line).expect_err(line);
            assert_eq!(u.usage, usage, "{line}");
        }
    }
}
