//! What each console command does, as a typed [`Reply`] or a [`CommandError`] with a
//! stable code; the host words them. The console is the PBX's admin: it reaches every
//! callback ([`crate::access`], `Reach::All`) and acts as `fs_cli` in the trace.

use super::Command;
use crate::access::{Principal, Reach};
use crate::dispatch::{AgentView, Dispatcher};
use crate::model::{Attempt, AttemptResult, CallbackId, CallbackRequest};
use crate::service::{CallbackService, Error as ServiceError, Trace};
use crate::store::{DoNotCall, ListFilter, Stats};

/// What a command did, for the host to word.
#[derive(Debug)]
pub enum Reply {
    Help,
    List(Vec<CallbackRequest>),
    Show(Box<Trace>),
    Cancelled(CallbackRequest),
    /// Closed by `done` without a call.
    Done(CallbackRequest),
    /// Moved by `now` or `reschedule`: its state and due time.
    Moved(CallbackRequest),
    /// Its customer's window set: the window and its due time.
    Window(CallbackRequest),
    Stats(Stats),
    Agents(Vec<AgentView>),
    /// The number (E.164) now on the do-not-call list.
    DncAdded(String),
    /// The number (E.164 when it reads as one), and whether it was on the list.
    DncRemoved {
        number: String,
        removed: bool,
    },
    DncList(Vec<DoNotCall>),
    /// The agent's after-call code stored on a customer attempt.
    Disposed {
        attempt: Attempt,
        code: String,
    },
    /// A customer attempt's result corrected.
    Corrected {
        attempt: Attempt,
        result: AttemptResult,
    },
    /// Recording files deleted: of one callback, or of all past retention.
    Purged {
        only: Option<CallbackId>,
        files: usize,
    },
    Reloaded(Reloaded),
    /// A report's rows, and whether `format=json` asked for JSON.
    Report(Box<crate::report::Report>),
}

/// What a reload did ([`crate::node::Node::reload`], the console's `reload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Where the configuration was read from, for messages.
    pub source: String,
    pub queues: usize,
    pub agents: usize,
    pub staff: usize,
    pub tag_rules: usize,
    pub agents_added: Vec<String>,
    pub agents_removed: Vec<String>,
    /// Changed settings that only a new start applies (still as before).
    pub not_applied: Vec<&'static str>,
}

/// Why a command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The line did not parse (or its time did not): the message and the usage to show.
    #[error("{message}")]
    Usage {
        message: String,
        usage: &'static str,
    },
    #[error("the dispatcher is not running")]
    NoDispatcher,
    #[error("reload needs the running module")]
    NoReload,
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Zone(#[from] crate::schedule::ZoneError),
    #[error(transparent)]
    Number(#[from] crate::number::NumberError),
    #[error(transparent)]
    Agent(#[from] crate::dispatch::agents::AgentError),
    /// A reload refused (the configuration did not validate, or the node cannot read it).
    #[error("{0}")]
    Config(String),
    /// A report refused (a bad filter) or not written; a store failure is a `Service` one.
    #[error(transparent)]
    Report(crate::report::ReportError),
}

impl From<crate::report::ReportError> for CommandError {
    fn from(e: crate::report::ReportError) -> Self {
        match e {
            crate::report::ReportError::Store(s) => Self::Service(s.into()),
            other => Self::Report(other),
        }
    }
}

impl CommandError {
    /// A stable, kebab-case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Usage { .. } => "usage",
            Self::NoDispatcher | Self::NoReload => "not-running",
            Self::Service(e) => e.code(),
            Self::Zone(_) => "unknown-time-zone",
            Self::Number(_) => "invalid-number",
            Self::Agent(_) => "invalid",
            Self::Config(_) => "config",
            Self::Report(crate::report::ReportError::Csv(_)) => "internal",
            Self::Report(_) => "invalid",
        }
    }

    /// The usage line to show with the error, when the line itself was wrong.
    pub fn usage(&self) -> Option<&'static str> {
        match self {
            Self::Usage { usage, .. } => Some(usage),
            _ => None,
        }
    }
}

/// Runs one command against the service (and the dispatcher, for the agents). `reload`
/// needs a node ([`crate::node::Node::command`]).
pub fn run(
    command: Command,
    svc: &CallbackService,
    dispatcher: Option<&Dispatcher>,
) -> Result<Reply, CommandError> {
    let admin = Principal::new("fs_cli", Reach::All);
    let actor = admin.actor.as_str();
    match command {
        Command::Help => Ok(Reply::Help),
        Command::Reload => Err(CommandError::NoReload),
        #[cfg(debug_assertions)]
        Command::Panic => panic!("callback _panic: a test of the panic guard"),
        Command::List { queue, state } => {
            let filter = ListFilter {
                queue,
                state,
                ..Default::default()
            };
            Ok(Reply::List(svc.list(&filter)?))
        }
        Command::Show(id) => Ok(Reply::Show(Box::new(svc.trace(id)?))),
        Command::Cancel(id) => Ok(Reply::Cancelled(svc.cancel(id, actor)?)),
        Command::Now(id) => Ok(Reply::Moved(svc.call_now(id, actor)?)),
        Command::Done(id, note) => Ok(Reply::Done(svc.mark_done(id, note.as_deref(), actor)?)),
        Command::Reschedule(id, text) => {
            // The time is read in the callback's own zone, as its customer would say it.
            let r = svc.get(id)?;
            let zone = crate::schedule::parse_zone(&r.time_zone)?;
            let requested = crate::when::parse_when(&text, zone, svc.now()).map_err(|e| {
                CommandError::Usage {
                    message: e.to_string(),
                    usage: "callback reschedule <id> <when>",
                }
            })?;
            Ok(Reply::Moved(svc.reschedule(id, requested, actor)?))
        }
        Command::Window(id, text) => {
            // Both ends are read in the callback's own zone, as its customer would say them.
            let r = svc.get(id)?;
            let zone = crate::schedule::parse_zone(&r.time_zone)?;
            let window =
                window_words(&text, zone, svc.now()).map_err(|message| CommandError::Usage {
                    message,
                    usage: "callback window <id> <from> to <until>",
                })?;
            Ok(Reply::Window(svc.set_window(id, window, actor)?))
        }
        Command::Number(id, number, ty) => Ok(Reply::Moved(svc.amend_typed(
            id,
            None,
            number.as_deref(),
            ty,
            actor,
        )?)),
        Command::Stats => Ok(Reply::Stats(svc.stats()?)),
        Command::DncAdd(n) => {
            let e164 = svc.config().numbers.normalize(&n)?;
            svc.store()
                .dnc_add(&e164, Some(actor), svc.now())
                .map_err(ServiceError::from)?;
            Ok(Reply::DncAdded(e164))
        }
        Command::DncRemove(n) => {
            // A number that no longer reads as one (the rules changed) is removed as written.
            let e164 = svc.config().numbers.normalize(&n).unwrap_or(n);
            let removed = svc.store().dnc_remove(&e164).map_err(ServiceError::from)?;
            Ok(Reply::DncRemoved {
                number: e164,
                removed,
            })
        }
        Command::DncList => Ok(Reply::DncList(
            svc.store().dnc_list().map_err(ServiceError::from)?,
        )),
        Command::Disposition(attempt, code, note) => {
            svc.check_disposition(&code)?;
            let attempt = svc
                .store()
                .set_disposition(attempt, None, Some(&code), note.as_deref())
                .map_err(ServiceError::from)?;
            Ok(Reply::Disposed { attempt, code })
        }
        Command::Result(attempt, result) => {
            let attempt = svc
                .store()
                .set_disposition(attempt, Some(result), None, None)
                .map_err(ServiceError::from)?;
            // A machine or a wrong number drives the retry policy, not only the label.
            svc.after_result(&attempt, actor)?;
            Ok(Reply::Corrected { attempt, result })
        }
        Command::Report(words) => {
            let pairs = crate::report::words(&words)?;
            Ok(Reply::Report(Box::new(crate::report::run(svc, pairs)?)))
        }
        Command::Purge(only) => Ok(Reply::Purged {
            only,
            files: svc.purge(only)?,
        }),
        Command::Agents | Command::Agent(..) => {
            let d = dispatcher.ok_or(CommandError::NoDispatcher)?;
            if let Command::Agent(id, ready) = &command {
                d.set_agent(id, *ready)?;
            }
            Ok(Reply::Agents(d.agents().list()))
        }
    }
}

/// The window `window` words give: `<from> to <until>` (time expressions; `-` for an open
/// end) or `clear`, read in `zone`.
fn window_words(
    text: &str,
    zone: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::model::Window, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("clear") {
        return Ok(crate::model::Window::default());
    }
    let lower = text.to_ascii_lowercase();
    let Some(at) = lower.find(" to ") else {
        return Err(format!(
            "'{text}': give <from> to <until> (e.g. today 09:00 to today 17:00; - for an open end), or clear"
        ));
    };
    let end = |part: &str, name: &str| -> Result<_, String> {
        let part = part.trim();
        if part == "-" {
            return Ok(None);
        }
        crate::when::parse_when(part, zone, now)
            .map(|r| Some(r.instant(zone, now)))
            .map_err(|e| format!("{name}: {e}"))
    };
    Ok(crate::model::Window {
        from: end(&text[..at], "from")?,
        until: end(&text[at + 4..], "until")?,
    })
}
