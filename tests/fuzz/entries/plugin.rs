//! The bodies of the module's fuzz targets (`callback_capture` arguments, the `callback`
//! fs_cli grammar), shared by the cargo-fuzz targets (tests/fuzz) and the corpus replay
//! test of the plugin crate (plugins/mod_callback/tests/fuzz_corpus.rs). Each drives the
//! real code over a real SQLite store and panics when a property breaks: a panic in the
//! code itself, a refusal without a reason, a reply that is neither `+OK` nor `-ERR`.

use callback_core::clock::ManualClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::service::CallbackService;
use callback_core::store::SqliteStore;
use chrono::{TimeZone, Utc};
use mod_callback::vars::ChannelVars;
use mod_callback::{capture, command};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The service the module would run: a queue with office hours, one open round the clock.
fn service() -> &'static CallbackService {
    static SERVICE: OnceLock<CallbackService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let dir = scratch();
        let _ = std::fs::remove_file(dir.join("callback.db"));
        let store = Arc::new(SqliteStore::open(dir.join("callback.db")).expect("the store"));
        let xml = format!(
            r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="DE"/>
    <param name="deny-prefixes" value="+49900"/>
    <param name="default-queue" value="sales"/>
    <param name="recordings-dir" value="{}"/>
  </settings>
  <queues>
    <queue name="sales">
      <param name="time-zone" value="Europe/Berlin"/>
      <param name="hours" value="mon-fri 09:00-17:00"/>
      <param name="slot-minutes" value="30"/>
      <param name="slot-capacity" value="2"/>
    </queue>
    <queue name="nyc">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
    </queue>
  </queues>
</configuration>"#,
            dir.join("rec").display()
        );
        let config = Config::from_xml(&xml).expect("the configuration");
        // Monday 2026-11-23 10:00 in Berlin: the sales queue is open.
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
        CallbackService::new(
            store,
            Arc::new(config),
            Arc::new(clock),
            Arc::new(Detached::default()),
        )
    })
}

fn scratch() -> PathBuf {
    let dir = tmp().join(format!("callback-fuzz-module-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rec")).expect("create the scratch directory");
    dir
}

/// A call's channel variables, as the checked setter of FreeSWITCH treats them.
struct Vars(RefCell<BTreeMap<String, String>>);

impl ChannelVars for Vars {
    fn uuid(&self) -> Option<String> {
        Some("0b6c7c1e-1111-4222-8333-444455556666".into())
    }
    fn var(&self, name: &str) -> Option<String> {
        self.0.borrow().get(name).cloned()
    }
    fn set_var(&self, name: &str, value: Option<&str>) -> bool {
        if value.is_some_and(|v| v.contains("${")) {
            return false;
        }
        let mut m = self.0.borrow_mut();
        match value {
            Some(v) => m.insert(name.to_string(), v.to_string()),
            None => m.remove(name),
        };
        true
    }
}

/// `callback_capture <args>`: parsed, then run on a call against the service; the call
/// always ends with `callback_result` OK and an id (or, having joined a waiting callback,
/// `callback_outcome=merged` and no id), or ERR and a reason.
pub fn capture(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(message) = capture::parse_args(&text) {
        assert!(!message.trim().is_empty(), "a refusal says why: {text:?}");
    }
    // Debug builds (the fuzzer's) panic on this one argument on purpose.
    if text.trim() == "_panic" {
        return;
    }
    let vars = Vars(RefCell::new(BTreeMap::from([(
        "caller_id_number".to_string(),
        "+4930123456".to_string(),
    )])));
    capture::run(Some(service()), &vars, &text);
    let get = |k: &str| vars.var(k);
    match get("callback_result").as_deref() {
        // A request that joined a waiting callback gets no id of it (callback_core::access).
        Some("OK") if get("callback_outcome").as_deref() == Some("merged") => assert!(
            get("callback_id").is_none() && get("callback_due_epoch").is_none(),
            "{text:?}: merged without the callback's id or time"
        ),
        Some("OK") => assert!(
            get("callback_id").is_some_and(|id| id.parse::<i64>().is_ok_and(|n| n > 0)),
            "{text:?}: OK with an id"
        ),
        Some("ERR") => assert!(
            get("callback_error").is_some_and(|e| !e.trim().is_empty()),
            "{text:?}: ERR with a reason"
        ),
        other => panic!("{text:?}: callback_result is {other:?}"),
    }
}

/// One `callback` line: parsed, then executed without the module running and against the
/// service. Every reply is `+OK`/`-ERR` text, or with `json` one JSON object with `ok`.
pub fn command(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    let parsed = command::parse(&line);
    if let Err(u) = &parsed {
        assert!(!u.message.trim().is_empty(), "a refusal says why: {line:?}");
    }
    check_reply(&line, &command::execute(None, &line));
    // Debug builds (the fuzzer's) panic on this one sub-command on purpose.
    if matches!(&parsed, Ok(inv) if format!("{:?}", inv.command) == "Panic") {
        return;
    }
    check_reply(&line, &command::execute(Some(service()), &line));
}

fn check_reply(line: &str, reply: &str) {
    let json = line
        .trim_start()
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("json"))
        && serde_json::from_str::<serde_json::Value>(reply).is_ok();
    if json {
        let v: serde_json::Value = serde_json::from_str(reply).unwrap();
        assert!(
            v["ok"].is_boolean(),
            "{line:?}: a JSON reply with ok: {reply}"
        );
        if v["ok"] == false {
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.trim().is_empty()),
                "{line:?}: an error with a message: {reply}"
            );
        }
    } else {
        assert!(
            reply.starts_with("+OK") || reply.starts_with("-ERR "),
            "{line:?}: the reply is +OK or -ERR: {reply:?}"
        );
    }
}

/// tmpfs when there is one: SQLite's fsyncs on a disk would hold the fuzzer to a few runs
/// a second.
fn tmp() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
