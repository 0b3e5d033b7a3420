//! Scenarios: plain-text scripts run against the real module on the virtual clock, so a
//! scenario spanning days runs in milliseconds. One step per line, `#` starts a comment:
//!
//! ```text
//! config fixtures/config/demo.conf.xml   # first; @TMP@ in it becomes a fresh temp dir
//! clock 2026-11-23 14:00                 # set the virtual clock (UTC)
//! advance 2h                             # move it (90s, 15m, 2h, 1d)
//! endpoint user/1001 answer 5            # answer <secs> | busy | no-answer | reject | wrong-number
//! call alice +12125550142                # an inbound call, named alice, from that number
//! press alice 1                          # digits alice presses at the next prompt
//! speak alice fixtures/speech/john.wav   # what alice says at the next recording
//! silent alice                           # alice presses nothing at the next prompt
//! hangup alice                           # alice hangs up at the next prompt (or after speaking)
//! agent user/1001 1 1                    # the next call user/1001 answers: keys 1, then 1
//! wait 1 completed                       # until callback 1 is completed (the dispatcher runs on its own)
//! wait-transcript 1                      # until callback 1's recording is transcribed
//! app alice callback_capture delay=15m   # run an application on the call
//! expect-var alice callback_result OK    # a channel variable's value
//! api callback list                      # an fs_cli command
//! expect-reply +OK 1 callback(s)         # the last reply contains this text
//! expect-event created scheduled         # a callback::info event with this action [state]
//! ```

use crate::core::{Act, Endpoint, Sim};
use crate::loader::{self, Loaded};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use nom::bytes::complete::take_till1;
use nom::character::complete::{digit1, space0, space1};
use nom::combinator::{all_consuming, map_res, opt, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One parsed line: the verb and its arguments.
fn step(line: &str) -> IResult<&str, (&str, &str)> {
    all_consuming((
        preceded(space0, take_till1(char::is_whitespace)),
        opt(preceded(space1, rest)).map(|r: Option<&str>| r.unwrap_or("").trim()),
    ))
    .parse(line)
}

/// `90s`, `15m`, `2h`, `1d`.
fn duration(i: &str) -> Option<Duration> {
    let (unit, n): (&str, i64) =
        map_res(digit1::<&str, nom::error::Error<&str>>, str::parse::<i64>)
            .parse(i.trim())
            .ok()?;
    match unit {
        "s" => Some(Duration::seconds(n)),
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
}

fn instant(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M")
        .ok()
        .map(|n| n.and_utc())
}

/// Writes `config` with `@TMP@` replaced by a fresh directory, returns the new path.
fn install_config(config: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("callback-sim-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("callback.conf.xml");
    let model = std::env::var_os("CALLBACK_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/models/ggml-tiny.en.bin"));
    let text = text
        .replace("@TMP@", &dir.to_string_lossy())
        .replace("@MODEL@", &model.to_string_lossy());
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Loads the module with `config` (after `@TMP@` substitution) on a started simulator.
pub fn load_with_config(config: &Path) -> Result<Loaded, String> {
    let path = install_config(config)?;
    // The module reads MOD_CALLBACK_CONF at load; the simulator is the only user of it.
    std::env::set_var("MOD_CALLBACK_CONF", &path);
    let dir = path.parent().map(Path::to_path_buf);
    match loader::load(&loader::find_module()?) {
        Ok(mut m) => {
            m.scratch = dir;
            Ok(m)
        }
        Err(e) => {
            if let Some(d) = dir {
                let _ = std::fs::remove_dir_all(d);
            }
            Err(e)
        }
    }
}

/// Runs a scenario; returns its timeline, or the failing line and the timeline so far.
pub fn run(text: &str, base: &Path) -> Result<String, String> {
    let sim = Sim::new(instant("2026-11-23 14:00").unwrap_or_default());
    let mut out = String::new();
    let mut module: Option<Loaded> = None;
    let mut calls: BTreeMap<String, String> = BTreeMap::new();
    let mut last_reply = String::new();
    let mut seen_events = 0usize;
    let mut seen_commands = 0usize;
    for (no, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |msg: String, out: &str| Err(format!("{out}\nline {}: {line}\n  {msg}", no + 1));
        let Ok((_, (verb, args))) = step(line) else {
            return fail("cannot read the line".into(), &out);
        };
        let stamp = sim.now().format("%Y-%m-%d %H:%M:%S");
        let words: Vec<&str> = args.split_whitespace().collect();
        let call = |name: &str| calls.get(name).cloned();
        match verb {
            "config" => {
                let path = base.join(args);
                match load_with_config(&path) {
                    Ok(m) => {
                        let _ = writeln!(
                            out,
                            "[{stamp}] load mod_callback.so: apps {:?}, api {:?}",
                            m.applications, m.api_commands
                        );
                        module = Some(m);
                    }
                    Err(e) => {
                        let why = sim
                            .logs()
                            .last()
                            .map(|l| l.text.clone())
                            .unwrap_or_default();
                        return fail(format!("load failed: {e} ({why})"), &out);
                    }
                }
            }
            "clock" => match instant(args) {
                Some(t) => {
                    sim.set_clock(t);
                    let _ = writeln!(out, "[{}] clock set", t.format("%Y-%m-%d %H:%M:%S"));
                }
                None => return fail("expected YYYY-MM-DD HH:MM".into(), &out),
            },
            "advance" => match duration(args) {
                Some(d) => {
                    sim.advance(d);
                    let _ = writeln!(
                        out,
                        "[{}] ... {args} later",
                        sim.now().format("%Y-%m-%d %H:%M:%S")
                    );
                }
                None => return fail("expected a duration like 90s, 15m, 2h, 1d".into(), &out),
            },
            "endpoint" => {
                let b = match words.get(1..) {
                    Some(["answer", secs]) => secs.parse().ok().map(Endpoint::Answer),
                    Some(["busy"]) => Some(Endpoint::Busy),
                    Some(["no-answer"]) => Some(Endpoint::NoAnswer),
                    Some(["reject"]) => Some(Endpoint::Reject),
                    Some(["wrong-number"]) => Some(Endpoint::WrongNumber),
                    _ => None,
                };
                match (words.first(), b) {
                    (Some(t), Some(b)) => sim.endpoint(t, b),
                    _ => return fail("expected: endpoint <target> answer <secs>|busy|no-answer|reject|wrong-number".into(), &out),
                }
            }
            "call" => match words.as_slice() {
                [name, number] => {
                    let uuid = sim.new_call(number);
                    let _ = writeln!(out, "[{stamp}] call {name} from {number} ({uuid})");
                    calls.insert(name.to_string(), uuid);
                }
                _ => return fail("expected: call <name> <number>".into(), &out),
            },
            "press" => match (words.as_slice(), words.first().and_then(|n| call(n))) {
                ([_, digits], Some(uuid)) => sim.press(&uuid, digits),
                _ => return fail("expected: press <call> <digits>".into(), &out),
            },
            "speak" => match (words.as_slice(), words.first().and_then(|n| call(n))) {
                ([_, wav], Some(uuid)) => {
                    let path = base.join(wav);
                    if !path.is_file() {
                        return fail(format!("no such WAV file {wav}"), &out);
                    }
                    sim.act(&uuid, Act::Speak(path));
                }
                _ => return fail("expected: speak <call> <wav file>".into(), &out),
            },
            "silent" | "hangup" => match (words.as_slice(), words.first().and_then(|n| call(n))) {
                ([_], Some(uuid)) => sim.act(
                    &uuid,
                    if verb == "silent" {
                        Act::Silent
                    } else {
                        Act::Hangup
                    },
                ),
                _ => return fail(format!("expected: {verb} <call>"), &out),
            },
            "app" => {
                let Some((name, rest)) = args.split_once(' ') else {
                    return fail("expected: app <call> <application> [args]".into(), &out);
                };
                let Some(uuid) = call(name) else {
                    return fail(format!("no call named {name}"), &out);
                };
                let rest = rest.trim();
                let (app, a) = rest.split_once(' ').unwrap_or((rest, ""));
                sim.execute(&uuid, app, a.trim());
                let result = sim.var(&uuid, "callback_result").unwrap_or_default();
                let _ = write!(
                    out,
                    "[{}] {name}: {app} {a} -> callback_result={result}",
                    sim.now().format("%Y-%m-%d %H:%M:%S")
                );
                if let Some(id) = sim.var(&uuid, "callback_id") {
                    let _ = write!(out, " callback_id={id}");
                }
                if let Some(e) = sim.var(&uuid, "callback_error") {
                    let _ = write!(out, " callback_error=\"{e}\"");
                }
                out.push('\n');
            }
            "expect-var" => {
                let (Some(name), Some(var)) = (words.first(), words.get(1)) else {
                    return fail("expected: expect-var <call> <var> <value>".into(), &out);
                };
                let want = words.get(2..).map(|w| w.join(" ")).unwrap_or_default();
                let got = call(name)
                    .and_then(|u| sim.var(&u, var))
                    .unwrap_or_default();
                if got != want {
                    return fail(format!("{var} is '{got}', expected '{want}'"), &out);
                }
            }
            "api" => {
                last_reply = sim.api(args);
                let _ = writeln!(out, "[{stamp}] fs_cli> {args}");
                for l in last_reply.lines() {
                    let _ = writeln!(out, "    {l}");
                }
            }
            "expect-reply" => {
                if !last_reply.contains(args) {
                    return fail(format!("the last reply does not contain '{args}'"), &out);
                }
            }
            "agent" => match words.as_slice() {
                [target, keys @ ..] if !keys.is_empty() => {
                    let acts = keys
                        .iter()
                        .map(|k| match *k {
                            "-" => Act::Silent,
                            "hangup" => Act::Hangup,
                            k => Act::Press(k.to_string()),
                        })
                        .collect();
                    sim.script(target, acts);
                }
                _ => {
                    return fail(
                        "expected: agent <target> <keys...> (- = no key)".into(),
                        &out,
                    )
                }
            },
            "wait" | "wait-transcript" => {
                let (Some(id), want) = (words.first(), words.get(1)) else {
                    return fail(format!("expected: {verb} <callback id> [<state>]"), &out);
                };
                let show = format!("callback json show {id}");
                let (limit, what) = if verb == "wait" {
                    let Some(w) = want else {
                        return fail("expected: wait <callback id> <state>".into(), &out);
                    };
                    (15, format!("state {w}"))
                } else {
                    (300, "its transcript".to_string())
                };
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit);
                let reached = loop {
                    let reply = sim.api(&show);
                    let done = if verb == "wait" {
                        reply.contains(&format!("\"state\":\"{}\"", want.copied().unwrap_or("")))
                            && reply.contains("\"request\"")
                    } else {
                        reply.contains("\"transcript\":{")
                    };
                    if done {
                        break true;
                    }
                    if reply.contains("\"state\":\"failed\"") && verb != "wait" {
                        break false;
                    }
                    if std::time::Instant::now() >= deadline {
                        break false;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                };
                Sim::settle();
                if !reached {
                    return fail(
                        format!("callback {id} did not reach {what} in {limit} s"),
                        &out,
                    );
                }
                let _ = writeln!(
                    out,
                    "[{}] callback {id} reached {what}",
                    sim.now().format("%Y-%m-%d %H:%M:%S")
                );
            }
            "expect-event" => {
                let events = sim.events();
                let found = events.iter().any(|e| {
                    e.header("Callback-Action") == words.first().copied()
                        && words
                            .get(1)
                            .is_none_or(|s| e.header("Callback-State") == Some(*s))
                });
                if !found {
                    return fail(format!("no callback::info event {args}"), &out);
                }
            }
            other => return fail(format!("unknown step '{other}'"), &out),
        }
        // What the module asked of the host (originates of agent legs, kills).
        let commands = sim.commands();
        for c in commands.iter().skip(seen_commands) {
            let _ = writeln!(out, "    host: {c}");
        }
        seen_commands = commands.len();
        let events = sim.events();
        for e in events.iter().skip(seen_events) {
            let _ = writeln!(
                out,
                "    event {} {} callback {} -> {} (queue {}, {}{})",
                e.subclass.as_deref().unwrap_or("-"),
                e.header("Callback-Action").unwrap_or("-"),
                e.header("Callback-ID").unwrap_or("-"),
                e.header("Callback-State").unwrap_or("-"),
                e.header("Callback-Queue").unwrap_or("-"),
                e.header("Callback-Type").unwrap_or("-"),
                e.header("Callback-Due")
                    .and_then(|d| d.parse::<i64>().ok())
                    .and_then(|d| DateTime::from_timestamp(d, 0))
                    .map(|d| format!(", due {}", d.format("%Y-%m-%d %H:%M")))
                    .unwrap_or_default()
            );
        }
        seen_events = events.len();
    }
    if let Some(m) = module {
        let status = m.unload();
        let _ = writeln!(
            out,
            "[{}] unload mod_callback.so (shutdown status {status})",
            sim.now().format("%Y-%m-%d %H:%M:%S")
        );
    }
    let bad = sim.format_violations();
    if !bad.is_empty() {
        return Err(format!("{out}\nformat violations: {bad:?}"));
    }
    Ok(out)
}

/// Runs a scenario file (paths in it are relative to the repository root).
pub fn run_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    run(&text, &repo_root())
}

/// The repository root (where `fixtures/` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where a test writes what a person looks at afterwards (screenshots): `target/artifacts`.
pub fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("artifacts")
}

/// Whether a tool a browser test needs is here (`ok`); without it the test skips, saying
/// so, except under `CI=true`, where a missing tool fails it.
pub fn need(test: &str, what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {what} is missing (run .ci/setup)");
    }
    println!("{test}: skipped, {what} not found (run .ci/setup)");
    false
}

/// The base URL of the loaded module's REST API, from the address its start logged.
pub fn http_base(sim: &crate::Sim) -> String {
    let line = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .unwrap_or_else(|| panic!("no listening line: {:#?}", sim.logs()));
    format!(
        "http://{}",
        line.text.rsplit(' ').next().unwrap_or("").trim()
    )
}

/// `callback_capture` with `args` on a new call from `caller`; the new callback's id (the
/// capture must succeed).
pub fn capture(sim: &Sim, caller: &str, args: &str) -> i64 {
    let call = sim.new_call(caller);
    sim.execute(&call, "callback_capture", args);
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    sim.var(&call, "callback_id").unwrap().parse().unwrap()
}

/// `callback json show <id>`: the callback's request, trace and attempts.
pub fn show(sim: &Sim, id: i64) -> serde_json::Value {
    let reply: serde_json::Value =
        serde_json::from_str(&sim.api(&format!("callback json show {id}"))).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    reply["trace"].clone()
}

/// The actions of callback trace `t` (as [`show`] reads it), in order.
pub fn actions(t: &serde_json::Value) -> Vec<String> {
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// Waits (up to 10 s of real time) until callback `id` is in `want`, lets the module's
/// threads settle, and reads it again.
pub fn wait_state(sim: &Sim, id: i64, want: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = show(sim, id);
        if t["request"]["state"] == want {
            Sim::settle();
            return show(sim, id);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "callback {id} never reached {want}: {}",
            serde_json::to_string_pretty(&t).unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
