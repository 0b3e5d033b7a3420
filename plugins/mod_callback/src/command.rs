//! The fs_cli `callback` command's words: the line is parsed and run by the core
//! (`callback_core::command`, through the running node); this file turns its typed reply
//! into `+OK …` / `-ERR …` text, or with the leading `json` word one JSON object,
//! `{"ok":true,...}` or `{"ok":false,"error":{"code":...,"message":...}}`.

use callback_core::command::{self, CommandError, Invocation, Reply, HELP};
use callback_core::model::CallbackRequest;
use callback_core::service::{CallbackService, Trace};
use callback_core::store::JobState;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::fmt::Write as _;

pub use callback_core::command::{parse, Command, Usage, USAGE};

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
    // Whether the agent had the transcript (and its tags' routing) when first rung.
    match t.transcript_before_offer_s {
        Some(s) if s >= 0 => {
            let _ = writeln!(out, "transcript ready: {s} s before the first offer");
        }
        Some(s) => {
            let _ = writeln!(
                out,
                "transcript ready: {} s after the first offer (the agent was rung without it)",
                -s
            );
        }
        None => {}
    }
}

fn ok_json(mut body: serde_json::Value) -> String {
    body["ok"] = json!(true);
    format!("{body}\n")
}

/// Runs one `callback` line on the running node (`None`: the module is not running).
pub fn execute_module(m: Option<&crate::module::Module>, line: &str) -> String {
    respond(line, m.map(|m| m.node()), |node, c| node.command(c))
}

/// Runs one `callback` line against a bare service (no dispatcher, no reload): the fuzz
/// targets' and unit tests' way in (`None`: the module is not running).
pub fn execute(service: Option<&CallbackService>, line: &str) -> String {
    respond(line, service, |svc, c| command::run(c, svc, None))
}

/// Parses `line`, answers `help` and "not running" itself, runs the rest on `target`, and
/// words the outcome.
fn respond<T: ?Sized>(
    line: &str,
    target: Option<&T>,
    run: impl FnOnce(&T, Command) -> Result<Reply, CommandError>,
) -> String {
    let Invocation { json, command } = match parse(line) {
        Ok(inv) => inv,
        Err(u) => return err_reply(u.json, "usage", &u.message, Some(u.usage)),
    };
    if command == Command::Help {
        return words(json, &Reply::Help);
    }
    let Some(target) = target else {
        return err_reply(json, "not-running", "mod_callback is not running", None);
    };
    match run(target, command) {
        Ok(reply) => words(json, &reply),
        Err(e) => {
            if matches!(&e, CommandError::Service(s) if s.is_store_unavailable()) {
                tracing::error!("callback command: {e}");
            }
            err_reply(json, e.code(), &e.to_string(), e.usage())
        }
    }
}

/// The reply's words: one JSON object, or `+OK` and lines.
/// A report: CSV after a `+OK` line, or one JSON object (`json` first, or `format=json`).
fn report_words(json: bool, r: &callback_core::report::Report) -> String {
    use callback_core::report::Format;
    if json || r.filter.format == Some(Format::Json) {
        return ok_json(json!({ "report": r.to_json() }));
    }
    match r.to_csv() {
        Ok(csv) => format!(
            "+OK {} callback(s), {} row(s)\n{csv}",
            r.callbacks,
            r.rows.len()
        ),
        Err(e) => err_reply(json, "internal", &e.to_string(), None),
    }
}

fn words(json: bool, reply: &Reply) -> String {
    if json {
        return match reply {
            Reply::Help => ok_json(json!({ "usage": USAGE, "help": HELP })),
            Reply::List(list) => ok_json(json!({ "callbacks": list })),
            Reply::Show(t) => ok_json(json!({ "trace": t })),
            Reply::Cancelled(r) | Reply::Moved(r) | Reply::Window(r) | Reply::Done(r) => {
                ok_json(json!({ "callback": r }))
            }
            Reply::Stats(s) => ok_json(json!({ "stats": s })),
            Reply::Agents(list) => ok_json(json!({ "agents": list })),
            Reply::DncAdded(n) => ok_json(json!({ "number": n })),
            Reply::DncRemoved { number, removed } => {
                ok_json(json!({ "number": number, "removed": removed }))
            }
            Reply::DncList(list) => ok_json(json!({ "numbers": list })),
            Reply::Disposed { attempt, .. } | Reply::Corrected { attempt, .. } => {
                ok_json(json!({ "attempt": attempt }))
            }
            Reply::Purged { files, .. } => ok_json(json!({ "files_deleted": files })),
            Reply::Reloaded(r) => ok_json(json!({
                "source": r.source,
                "queues": r.queues,
                "agents": r.agents,
                "staff": r.staff,
                "tag_rules": r.tag_rules,
                "agents_added": r.agents_added,
                "agents_removed": r.agents_removed,
                "not_applied": r.not_applied,
            })),
            Reply::Report(r) => report_words(true, r),
        };
    }
    match reply {
        Reply::Help => format!("+OK\n{HELP}\n"),
        Reply::List(list) => {
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
        Reply::Show(t) => show(t),
        Reply::Cancelled(r) => format!("+OK callback {} {}\n", r.id, r.state),
        Reply::Done(r) => format!("+OK callback {} {} (without a call)\n", r.id, r.state),
        Reply::Moved(r) => format!(
            "+OK callback {} {}, due {}, type {}\n",
            r.id,
            r.state,
            when(r.due_at),
            r.kind
        ),
        Reply::Window(r) => format!(
            "+OK callback {} {}, window {} .. {}, due {}\n",
            r.id,
            r.state,
            when(r.window.from),
            when(r.window.until),
            when(r.due_at)
        ),
        Reply::Stats(s) => {
            let total: u64 = s.by_queue_state.iter().map(|(_, _, n)| n).sum();
            let mut out = format!("+OK {total} callback(s)\n");
            for (q, st, n) in &s.by_queue_state {
                let _ = writeln!(out, "{q:<12}  {:<11}  {n}", st.as_str());
            }
            out
        }
        Reply::Agents(list) => {
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
        Reply::DncAdded(n) => format!("+OK {n} is on the do-not-call list\n"),
        Reply::DncRemoved {
            number,
            removed: true,
        } => format!("+OK {number} removed from the do-not-call list\n"),
        Reply::DncRemoved {
            number,
            removed: false,
        } => err_reply(
            false,
            "not-found",
            &format!("{number} is not on the list"),
            None,
        ),
        Reply::DncList(list) => {
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
        Reply::Disposed { attempt: a, code } => format!(
            "+OK attempt {} of callback {}: {code}\n",
            a.id, a.callback_id
        ),
        Reply::Corrected { attempt: a, result } => format!(
            "+OK attempt {} of callback {}: {}\n",
            a.id,
            a.callback_id,
            result.as_str()
        ),
        Reply::Purged {
            only: Some(id),
            files,
        } => format!("+OK callback {id}: recording and transcript deleted ({files} file(s))\n"),
        Reply::Purged { only: None, files } => {
            format!("+OK {files} recording file(s) past retention deleted\n")
        }
        Reply::Report(r) => report_words(false, r),
        Reply::Reloaded(r) => {
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
    }
}

/// `callback show`: the callback, its transcription, its trace and its legs.
fn show(t: &Trace) -> String {
    let r = &t.request;
    let mut out = format!("+OK callback {}\n", r.id);
    let _ = writeln!(out, "state:     {}", r.state);
    let _ = writeln!(out, "type:      {}", r.kind);
    let mut kinds: Vec<String> = r.number_type.iter().map(|t| t.to_string()).collect();
    if let Some(line) = callback_core::number::line_type(&r.number) {
        kinds.push(format!("line {line}"));
    }
    if kinds.is_empty() {
        let _ = writeln!(out, "number:    {}", r.number);
    } else {
        let _ = writeln!(out, "number:    {} ({})", r.number, kinds.join(", "));
    }
    let _ = writeln!(out, "queue:     {}", r.queue);
    let _ = writeln!(out, "agent:     {}", r.agent.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "zone:      {}", r.time_zone);
    let _ = writeln!(out, "due:       {}", when(r.due_at));
    let _ = writeln!(
        out,
        "window:    {} .. {}",
        when(r.window.from),
        when(r.window.until)
    );
    let _ = writeln!(out, "expires:   {}", when(r.expires_at));
    let _ = writeln!(out, "source:    {}", r.source);
    let _ = writeln!(out, "attempts:  {}", r.customer_attempts);
    let _ = writeln!(out, "remark:    {}", r.remark.as_deref().unwrap_or("-"));
    if !r.ivr_data.is_empty() {
        let pairs: Vec<String> = r.ivr_data.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "data:      {}", pairs.join(", "));
    }
    let _ = writeln!(out, "created:   {}", when(Some(r.created_at)));
    let _ = writeln!(out, "priority:  {}", r.priority);
    transcription_lines(&mut out, t);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_get_the_usage_in_either_form() {
        // A line the grammar refuses is answered -ERR with its usage, or a JSON usage error.
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
