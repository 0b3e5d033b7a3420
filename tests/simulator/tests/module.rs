//! mod_callback.so in the simulated FreeSWITCH: loaded through its C ABI exactly as the core
//! loads it, driven through its registered applications and API command.
//!
//! Length: over 800 lines on purpose. Each file here is its own test binary, linking the
//! core, the simulator and the module's crate (about 230 MB with debug info); splitting it
//! by subject would add a link and a load to every run of `.ci/test`, which has to stay
//! within its time. Its tests share one configuration and one set of helpers.

use callback_simulator::loader::{self, Loaded};
use callback_simulator::scenario::{self, load_with_config, repo_root};
use callback_simulator::{Endpoint, Sim};
use chrono::{TimeZone, Utc};
use mod_callback::ffi::types::{SWITCH_LOG_CRIT, SWITCH_LOG_ERROR, SWITCH_STATUS_SUCCESS};

const DEMO_CONF: &str = "fixtures/config/demo.conf.xml";

fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

fn start() -> (Sim, Loaded) {
    let sim = sim();
    let m = load_with_config(&repo_root().join(DEMO_CONF)).unwrap_or_else(|e| {
        panic!("load failed: {e}\nlog: {:#?}", sim.logs());
    });
    (sim, m)
}

/// Every log line and stream write used the literal "%s" format.
fn assert_clean(sim: &Sim) {
    assert_eq!(sim.format_violations(), Vec::<String>::new());
}

fn capture(sim: &Sim, number: &str, args: &str) -> String {
    let call = sim.new_call(number);
    sim.execute(&call, "callback_capture", args);
    call
}

#[test]
fn exports_only_the_module_table() {
    // The installed .so has exactly one defined dynamic symbol of its own: the module table.
    let so = loader::find_module().unwrap();
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils) must be installed");
    assert!(out.status.success());
    let toolchain = ["_init", "_fini", "__bss_start", "_edata", "_end"];
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .filter(|n| !toolchain.contains(&n.as_str()))
        .collect();
    assert_eq!(names, vec!["mod_callback_module_interface".to_string()]);
}

#[test]
fn loads_registers_and_unloads() {
    // Load registers the seven applications, the API and the event subclass; unload undoes it.
    let (sim, m) = start();
    assert_eq!(m.name, "mod_callback");
    assert!(!m.permanent);
    let mut apps = m.applications.clone();
    apps.sort();
    assert_eq!(
        apps,
        [
            "callback_agent",
            "callback_answer",
            "callback_capture",
            "callback_fifo_exit",
            "callback_ivr",
            "callback_queue_exit",
            "callback_queue_offer"
        ]
    );
    assert_eq!(m.api_commands, ["callback"]);
    assert_eq!(
        sim.subclasses().get("callback::info").map(String::as_str),
        Some("mod_callback")
    );
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    assert!(sim.subclasses().is_empty());
    assert!(sim.applications().is_empty());
    assert!(sim.api_commands().is_empty());
    assert_clean(&sim);
}

#[test]
fn loads_again_after_unload() {
    // The module can be loaded, unloaded and loaded again in the same process.
    let (sim, m) = start();
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    drop(sim);
    let (sim, m) = start();
    assert!(sim.api("callback list").starts_with("+OK"));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
}

#[test]
fn broken_config_fails_the_load_with_one_line_naming_the_key() {
    // Each broken sample is refused at load with one error line that names the key and why.
    for (file, key, why) in [
        (
            "bad-range.conf.xml",
            "settings/horizon-days",
            "out of range",
        ),
        (
            "bad-unknown-key.conf.xml",
            "queues/support/slot-minuts",
            "unknown key",
        ),
        (
            "bad-zone.conf.xml",
            "queues/default/time-zone",
            "Europe/Atlantis",
        ),
        ("bad-hours.conf.xml", "queues/default/hours", "fry"),
        (
            "bad-failover.conf.xml",
            "queues/default/failover-queue",
            "nowhere",
        ),
        ("bad-xml.conf.xml", "line 4", "malformed XML"),
    ] {
        let sim = sim();
        let err = load_with_config(&repo_root().join("fixtures/config").join(file));
        assert!(err.is_err(), "{file} must not load");
        let logs = sim.logs();
        assert_eq!(logs.len(), 1, "{file}: {logs:#?}");
        assert_eq!(logs[0].level, SWITCH_LOG_ERROR);
        assert!(logs[0].text.contains(key), "{file}: {}", logs[0].text);
        assert!(logs[0].text.contains(why), "{file}: {}", logs[0].text);
        assert!(sim.api_commands().is_empty());
        assert_clean(&sim);
    }
}

#[test]
fn a_missing_config_file_fails_the_load() {
    // A configuration path that does not exist is one error line naming the path.
    let sim = sim();
    std::env::set_var("MOD_CALLBACK_CONF", "/nonexistent/callback.conf.xml");
    let err = loader::load(&loader::find_module().unwrap());
    assert!(err.is_err());
    let logs = sim.logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert!(logs[0].text.contains("/nonexistent/callback.conf.xml"));
}

#[test]
fn capture_stores_a_request_and_sets_the_result_variables() {
    // callback_capture stores a valid request and reports id and due time in channel variables.
    let (sim, _m) = start();
    let call = capture(
        &sim,
        "+12125550142",
        "delay=15m queue=support remark='about my invoice'",
    );
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    assert_eq!(sim.var(&call, "callback_id").as_deref(), Some("1"));
    let due: i64 = sim
        .var(&call, "callback_due_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due, sim.now().timestamp() + 15 * 60);
    assert_eq!(sim.var(&call, "callback_error"), None);
    // The number defaults to the caller's.
    let call = capture(&sim, "+12125550143", "");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let shown = sim.api("callback show 2");
    assert!(shown.contains("+12125550143"), "{shown}");
    assert!(shown.contains("immediate"), "{shown}");
    // The engine's log line of the transition names the call and the callback.
    assert!(
        sim.logs()
            .iter()
            .any(|l| l.uuid.as_deref() == Some(call.as_str())
                && l.text.starts_with("mod_callback: [callback 2] ")),
        "{:#?}",
        sim.logs()
    );
    assert_clean(&sim);
}

#[test]
fn capture_refuses_bad_input_with_an_error_variable() {
    // Bad numbers (including dial-string injection), keys and times give callback_result=ERR.
    let (sim, _m) = start();
    for args in [
        "number='+1212,555${system(id)}' delay=5m",
        "number=+12125550142 colour=red",
        "number=+12125550142 delay=soon",
        "number=+12125550142 queue=nowhere",
        "number=+12125550142 remark='unclosed",
    ] {
        let call = capture(&sim, "+12125550142", args);
        assert_eq!(
            sim.var(&call, "callback_result").as_deref(),
            Some("ERR"),
            "{args}"
        );
        assert!(
            sim.var(&call, "callback_error")
                .is_some_and(|e| !e.is_empty()),
            "{args}"
        );
        assert_eq!(sim.var(&call, "callback_id"), None, "{args}");
    }
    assert!(sim.api("callback list").starts_with("+OK 0 callback(s)"));
    assert_clean(&sim);
}

#[test]
fn every_callback_sub_command_answers() {
    // help, list (all, by queue, by state), show, reschedule, now, cancel, stats, and JSON.
    let (sim, _m) = start();
    capture(&sim, "+12125550142", "delay=15m queue=support");
    capture(
        &sim,
        "+4930901820",
        "type=scheduled when='2026-11-24 10:30' tz=Europe/Berlin queue=sales",
    );
    let help = sim.api("callback help");
    assert!(
        help.starts_with("+OK") && help.contains("reschedule <id> <when>"),
        "{help}"
    );
    assert!(sim.api("callback").starts_with("+OK"));
    let list = sim.api("callback list");
    assert!(list.starts_with("+OK 2 callback(s)"), "{list}");
    assert!(sim
        .api("callback list sales")
        .starts_with("+OK 1 callback(s)"));
    assert!(sim
        .api("callback list scheduled")
        .starts_with("+OK 2 callback(s)"));
    assert!(sim
        .api("callback list support cancelled")
        .starts_with("+OK 0 callback(s)"));
    let show = sim.api("callback show 1");
    assert!(
        show.starts_with("+OK callback 1") && show.contains("trace:") && show.contains("created"),
        "{show}"
    );
    let r = sim.api("callback reschedule 1 +2h");
    assert!(
        r.starts_with("+OK callback 1 rescheduled, due 2026-11-23 16:00:00Z"),
        "{r}"
    );
    let r = sim.api("callback reschedule 1 2026-11-25 09:00");
    assert!(
        r.starts_with("+OK callback 1 rescheduled, due 2026-11-25 14:00:00Z"),
        "{r}"
    );
    let r = sim.api("callback now 2");
    assert!(r.starts_with("+OK callback 2"), "{r}");
    let r = sim.api("callback cancel 2");
    assert_eq!(r, "+OK callback 2 cancelled\n");
    let stats = sim.api("callback stats");
    assert!(
        stats.starts_with("+OK 2 callback(s)") && stats.contains("cancelled"),
        "{stats}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sim.api("callback json list support")).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["callbacks"].as_array().map(Vec::len), Some(1));
    let json: serde_json::Value = serde_json::from_str(&sim.api("callback json show 1")).unwrap();
    assert_eq!(json["trace"]["request"]["id"], 1);
    let json: serde_json::Value = serde_json::from_str(&sim.api("callback json show 77")).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["code"], "not-found");
    assert_clean(&sim);
}

#[test]
fn bad_callback_commands_get_err_and_usage() {
    // Unknown sub-commands, missing or bad arguments and refused changes reply -ERR, never crash.
    let (sim, _m) = start();
    capture(&sim, "+12125550142", "delay=15m");
    for (line, want) in [
        ("callback frobnicate", "USAGE: callback [json] help"),
        ("callback show", "USAGE: callback show <id>"),
        ("callback show abc", "USAGE: callback show <id>"),
        ("callback cancel", "USAGE: callback cancel <id>"),
        ("callback now 1 2", "USAGE: callback now <id>"),
        (
            "callback reschedule 1",
            "USAGE: callback reschedule <id> <when>",
        ),
        (
            "callback reschedule 1 someday",
            "USAGE: callback reschedule <id> <when>",
        ),
        ("callback list a b c", "USAGE: callback list"),
        ("callback list support bogus", "USAGE: callback list"),
        ("callback show 42", "-ERR not-found"),
        ("callback list nowhere", "-ERR unknown-queue"),
    ] {
        let r = sim.api(line);
        assert!(r.starts_with("-ERR"), "{line}: {r}");
        assert!(r.contains(want), "{line}: {r}");
    }
    assert!(sim.api("callback cancel 1").starts_with("+OK"));
    let r = sim.api("callback cancel 1");
    assert!(r.starts_with("-ERR"), "cancelling twice: {r}");
    assert_clean(&sim);
}

#[test]
fn transitions_fire_callback_info_events() {
    // created, reschedule, now and cancel each fire a CUSTOM callback::info with the headers.
    let (sim, _m) = start();
    capture(&sim, "+12125550142", "delay=15m queue=support");
    sim.api("callback reschedule 1 +1h");
    sim.api("callback now 1");
    sim.api("callback cancel 1");
    let events = sim.events();
    let actions: Vec<_> = events
        .iter()
        .filter_map(|e| e.header("Callback-Action"))
        .collect();
    assert_eq!(actions, ["created", "reschedule", "now", "cancel"]);
    for e in &events {
        assert_eq!(e.event_id, 0, "CUSTOM");
        assert_eq!(e.subclass.as_deref(), Some("callback::info"));
        assert_eq!(e.header("Callback-ID"), Some("1"));
        assert_eq!(e.header("Callback-Queue"), Some("support"));
        assert_eq!(e.header("Callback-Type"), Some("delayed"));
    }
    assert_eq!(events[0].header("Callback-State"), Some("scheduled"));
    let due = sim.now().timestamp() + 15 * 60;
    assert_eq!(
        events[0].header("Callback-Due"),
        Some(due.to_string().as_str())
    );
    assert_eq!(events[1].header("Callback-State"), Some("rescheduled"));
    assert_eq!(events[3].header("Callback-State"), Some("cancelled"));
    assert_clean(&sim);
}

#[test]
#[cfg(debug_assertions)] // the triggers exist only in debug builds
fn a_panic_in_the_api_or_an_app_is_contained() {
    // Debug-build panic triggers become -ERR / callback_result=ERR and a CRIT line; the host serves on.
    let (sim, _m) = start();
    assert_eq!(sim.api("callback _panic"), "-ERR internal error\n");
    let call = capture(&sim, "+12125550142", "_panic");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
    assert_eq!(
        sim.var(&call, "callback_error").as_deref(),
        Some("internal error")
    );
    let crit: Vec<_> = sim
        .logs()
        .into_iter()
        .filter(|l| l.level == SWITCH_LOG_CRIT)
        .collect();
    assert_eq!(crit.len(), 2, "{crit:#?}");
    assert!(
        crit[0].text.contains("panic in callback API"),
        "{}",
        crit[0].text
    );
    assert!(
        crit[1].text.contains("panic in callback_capture"),
        "{}",
        crit[1].text
    );
    assert_eq!(crit[1].uuid.as_deref(), Some(call.as_str()));
    // Still serving.
    let call = capture(&sim, "+12125550142", "delay=15m");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    assert!(sim.api("callback list").starts_with("+OK 1 callback(s)"));
    assert_clean(&sim);
}

#[test]
fn agent_application_without_an_offer_touches_nothing() {
    // callback_agent on a call no offer stands behind (dialled by hand, or a bad id) says
    // so and changes no callback.
    let (sim, _m) = start();
    let id = capture(&sim, "+12125550142", "delay=15m");
    let id = sim.var(&id, "callback_id").unwrap();
    for arg in [id.as_str(), "x1"] {
        let call = sim.new_call("1001");
        sim.execute(&call, "callback_agent", arg);
        let result = sim.var(&call, "callback_result").unwrap();
        assert!(result == "NOT_OFFERED" || result == "ERR", "{result}");
    }
    assert!(sim
        .api(&format!("callback show {id}"))
        .contains("state:     scheduled"));
}

#[test]
fn every_scenario_file_runs() {
    // Each fixtures/scenarios/*.scn (the README demo among them) passes all its expectations.
    let dir = repo_root().join("fixtures/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("demo.scn")));
    for f in files {
        let timeline = scenario::run_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(timeline.contains("fs_cli> callback"), "{}", f.display());
    }
}

#[test]
#[cfg(debug_assertions)] // the triggers exist only in debug builds
fn fs_host_originates_and_hangs_up_through_the_switch() {
    // FsHost rings scripted agents and customers with switch_api_execute and reads FreeSWITCH's replies.
    let (sim, _m) = start();
    sim.endpoint("user/1001", Endpoint::Answer(4));
    sim.endpoint("sofia/gateway/pstn/+12125550142", Endpoint::Busy);
    sim.endpoint("sofia/gateway/pstn/+12125550143", Endpoint::NoAnswer);
    let t0 = sim.now();
    let r = sim.api("callback _originate 5 agent user/1001 20");
    assert!(r.starts_with("+OK answered "), "{r}");
    let uuid = r.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!((sim.now() - t0).num_seconds(), 4);
    // The answered leg runs the agent application on its own thread.
    Sim::settle();
    assert_eq!(sim.var(&uuid, "callback_id").as_deref(), Some("5"));
    assert_eq!(sim.var(&uuid, "callback_leg").as_deref(), Some("agent"));
    // No dispatcher offer stands behind this probe leg: the application says so.
    assert_eq!(
        sim.var(&uuid, "callback_result").as_deref(),
        Some("NOT_OFFERED")
    );
    // (The load asked `global_getvar` for the switch's directories first.)
    let cmd = sim
        .commands()
        .into_iter()
        .find(|c| c.starts_with("originate "))
        .unwrap();
    assert!(
        cmd.starts_with(&format!(
            "originate {{origination_uuid={uuid},originate_timeout=20,"
        )),
        "{cmd}"
    );
    assert!(cmd.ends_with("}user/1001 &callback_agent(5)"), "{cmd}");
    let r = sim.api("callback _originate 5 customer +12125550142 sofia/gateway/pstn/ 20");
    assert_eq!(r, "+OK not-answered USER_BUSY\n");
    let before = sim.now();
    let r = sim.api("callback _originate 5 customer +12125550143 sofia/gateway/pstn/ 25");
    assert_eq!(r, "+OK not-answered NO_ANSWER\n");
    assert_eq!((sim.now() - before).num_seconds(), 25);
    assert_eq!(
        sim.api(&format!("callback _kill {uuid} NORMAL_CLEARING")),
        "+OK\n"
    );
    let cause = sim
        .session(&uuid)
        .and_then(|s| s.hangup_cause.lock().unwrap().clone());
    assert_eq!(cause.as_deref(), Some("NORMAL_CLEARING"));
    // Injection attempts are refused before any command reaches the switch.
    let sent = sim.commands().len();
    for line in [
        "callback _originate 5 customer +1212555,0142 sofia/gateway/pstn/ 20",
        "callback _originate 5 customer +12125550142 sofia/gateway/${system(id)}/ 20",
        "callback _originate 5 agent user/1001|user/666 20",
        "callback _originate 5 agent {x=y}user/1001 20",
        "callback _kill abc^def NORMAL_CLEARING",
    ] {
        assert!(sim.api(line).starts_with("-ERR refused"), "{line}");
    }
    assert_eq!(sim.commands().len(), sent);
    assert_clean(&sim);
}

#[test]
fn the_module_reads_time_from_the_host_clock() {
    // Due times come from switch_micro_time_now (the virtual clock), not the machine's clock.
    let (sim, _m) = start();
    sim.set_clock(Utc.with_ymd_and_hms(2031, 6, 2, 8, 0, 0).unwrap());
    let call = capture(&sim, "+12125550142", "delay=2h");
    let due: i64 = sim
        .var(&call, "callback_due_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        due,
        Utc.with_ymd_and_hms(2031, 6, 2, 10, 0, 0)
            .unwrap()
            .timestamp()
    );
    // Three virtual days later, "tomorrow" is relative to the virtual date.
    sim.advance(chrono::Duration::days(3));
    let call = capture(&sim, "+12125550143", "when='tomorrow 09:30' tz=UTC");
    let due: i64 = sim
        .var(&call, "callback_due_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        due,
        Utc.with_ymd_and_hms(2031, 6, 6, 9, 30, 0)
            .unwrap()
            .timestamp()
    );
    let event = sim.events().pop().unwrap();
    assert_eq!(event.at, Utc.with_ymd_and_hms(2031, 6, 5, 8, 0, 0).unwrap());
}

#[test]
fn the_table_symbol_is_found_by_the_file_name_as_freeswitch_does() {
    // Installed under another name, the library is refused: the core looks up <name>_module_interface.
    let sim = sim();
    let so = loader::find_module().unwrap();
    let other = so.with_file_name("mod_other.so");
    std::fs::copy(&so, &other).unwrap();
    let err = loader::load(&other).err().expect("must be refused");
    assert!(err.contains("no mod_other_module_interface"), "{err}");
    assert!(sim.api_commands().is_empty());
    let _ = std::fs::remove_file(&other);
}

/// The demo configuration with the REST API on `listen` and one staff key.
fn http_config(listen: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join(DEMO_CONF))
        .unwrap()
        .replace(
            r#"<param name="http-listen" value=""/>"#,
            &format!(r#"<param name="http-listen" value="{listen}"/>"#),
        )
        .replace(
            "</configuration>",
            r#"<api-keys><key name="crm"><param name="secret" value="staff-secret-0123456789"/>
               <param name="scope" value="staff"/></key></api-keys></configuration>"#,
        );
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!("http-{}-{n}.conf.xml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_rest_api_runs_with_the_module_and_stops_at_unload() {
    // http-listen starts the API with the module: a callback created over HTTP is in
    // `callback list`; unload stops the server (the port closes) before returning.
    let sim = sim();
    let conf = http_config("127.0.0.1:0");
    let m = load_with_config(&conf).unwrap();
    let _ = std::fs::remove_file(&conf);
    let line = sim
        .logs()
        .into_iter()
        .find(|l| l.text.contains("REST API listening on"))
        .unwrap_or_else(|| panic!("{:#?}", sim.logs()));
    let addr = line.text.rsplit(' ').next().unwrap().trim().to_string();
    let base = format!("http://{addr}");
    let created = ureq::post(&format!("{base}/v1/callbacks"))
        .set("Authorization", "Bearer staff-secret-0123456789")
        .send_string(r#"{"number": "+12125550123", "remark": "from the web"}"#)
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.into_json().unwrap();
    let id = body["callback"]["id"].as_i64().unwrap();
    assert!(sim.api("callback list").contains(&format!("{id}")));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    assert!(matches!(
        ureq::get(&format!("{base}/v1/openapi.json")).call(),
        Err(ureq::Error::Transport(_))
    ));
    assert_clean(&sim);
}

#[test]
fn a_port_in_use_is_one_error_line_not_a_failed_load() {
    // The API cannot bind: the module still loads and takes calls; the log says why once.
    let sim = sim();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let conf = http_config(&taken.local_addr().unwrap().to_string());
    let m = load_with_config(&conf).unwrap();
    let _ = std::fs::remove_file(&conf);
    let errors: Vec<_> = sim
        .logs()
        .into_iter()
        .filter(|l| l.level == SWITCH_LOG_ERROR)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].text.contains("http-listen"), "{}", errors[0].text);
    assert!(sim.api("callback list").starts_with("+OK"));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
}

/// A configuration for the door tests: the demo's queues, merging off (so every request
/// is a callback of its own), two waiting per number, US premium numbers denied,
/// recordings up to 3 seconds; `@TMP@` is the module's scratch directory.
fn caps_conf(name: &str, merge: bool) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join(DEMO_CONF))
        .unwrap()
        .replace(
            r#"<param name="default-queue" value="support"/>"#,
            &format!(
                r#"<param name="default-queue" value="support"/>
    <param name="merge-pending" value="{merge}"/>
    <param name="max-pending-per-number" value="2"/>
    <param name="deny-prefixes" value="+1900"/>
    <param name="recordings-dir" value="@TMP@/rec"/>
    <param name="transcribe-max-seconds" value="3"/>"#
            ),
        );
    let conf = std::env::temp_dir().join(format!("{name}-{}.conf.xml", std::process::id()));
    std::fs::write(&conf, text).unwrap();
    conf
}

/// `seconds` of a tone as an 8 kHz WAV file at `path`.
fn write_wav(path: &std::path::Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..8000 * seconds {
        w.write_sample(((i % 40) as i16 - 20) * 300).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn capture_holds_the_per_number_cap_and_the_recording_limit() {
    // callback_capture: a third waiting callback for one number, and a recording over
    // transcribe-max-seconds, are refused and store nothing; errors echo no queue name or path.
    let sim = sim();
    let conf = caps_conf("caps-capture", false);
    let m = load_with_config(&conf).unwrap();
    let scratch = m.scratch.clone().unwrap();
    for _ in 0..2 {
        let call = capture(&sim, "+12125550142", "delay=15m");
        assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    }
    let third = capture(&sim, "+12125550142", "queue=sales");
    assert_eq!(sim.var(&third, "callback_result").as_deref(), Some("ERR"));
    let why = sim.var(&third, "callback_error").unwrap();
    assert!(why.contains("at most 2"), "{why}");
    assert!(sim.api("callback list").starts_with("+OK 2 callback(s)"));
    // The recording limit of an upload holds for a file the dialplan recorded.
    let rec = scratch.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let long = rec.join("long.wav");
    write_wav(&long, 5);
    let call = capture(
        &sim,
        "+12125550150",
        &format!("recording={}", long.display()),
    );
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
    let why = sim.var(&call, "callback_error").unwrap();
    assert!(why.contains("longer than 3 seconds"), "{why}");
    assert!(long.exists(), "the refused recording is given back");
    let short = rec.join("short.wav");
    write_wav(&short, 2);
    let call = capture(
        &sim,
        "+12125550150",
        &format!("recording={}", short.display()),
    );
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    // Neither a queue name nor the server's paths come back into the channel.
    for args in [
        "queue=evil-queue-7f3a".to_string(),
        "recording=/etc/passwd".to_string(),
        format!("recording={}", rec.join("missing.wav").display()),
    ] {
        let call = capture(&sim, "+12125550160", &args);
        assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));
        let why = sim.var(&call, "callback_error").unwrap();
        for echoed in [
            "evil-queue-7f3a",
            "/etc/passwd",
            &*scratch.to_string_lossy(),
        ] {
            assert!(!why.contains(echoed), "{args}: {why}");
        }
    }
    assert!(sim.api("callback list").starts_with("+OK 3 callback(s)"));
    drop(m);
    let _ = std::fs::remove_file(conf);
    assert_clean(&sim);
}

#[test]
fn capture_that_joins_another_callback_gets_no_id_of_it() {
    // A second caller naming someone's number joins their callback: OK, merged, no id or time.
    let sim = sim();
    let conf = caps_conf("caps-join", true);
    let _m = load_with_config(&conf).unwrap();
    let first = capture(&sim, "+12125550142", "delay=15m remark='account 4711'");
    assert_eq!(sim.var(&first, "callback_id").as_deref(), Some("1"));
    assert_eq!(
        sim.var(&first, "callback_outcome").as_deref(),
        Some("created")
    );
    let other = capture(&sim, "+12125550199", "number=+12125550142 delay=15m");
    assert_eq!(sim.var(&other, "callback_result").as_deref(), Some("OK"));
    assert_eq!(
        sim.var(&other, "callback_outcome").as_deref(),
        Some("merged")
    );
    assert_eq!(sim.var(&other, "callback_id"), None);
    assert_eq!(sim.var(&other, "callback_due_epoch"), None);
    let shown = sim.api("callback show 1");
    assert!(
        shown.contains("merge") && shown.contains("dialplan"),
        "{shown}"
    );
    let _ = std::fs::remove_file(conf);
}

#[test]
fn fs_cli_reschedule_and_now_hold_the_horizon_and_the_deny_list() {
    // fs_cli: a time past the horizon names it; `now` on a number now denied is refused.
    let sim = sim();
    let conf = caps_conf("caps-cli", false);
    let m = load_with_config(&conf).unwrap();
    let call = capture(&sim, "+12125550142", "delay=15m");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let r = sim.api("callback reschedule 1 +40d");
    assert!(
        r.starts_with("-ERR") && r.contains("beyond the booking horizon"),
        "{r}"
    );
    // A number the deny-list covers (stored before the prefix was denied).
    let db = m.scratch.clone().unwrap().join("callback.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "UPDATE callbacks SET number = '+19005550142' WHERE id = 1",
        [],
    )
    .unwrap();
    let r = sim.api("callback now 1");
    assert!(r.starts_with("-ERR") && r.contains("+1900"), "{r}");
    let shown = sim.api("callback json show 1");
    assert!(shown.contains("\"state\":\"scheduled\""), "{shown}");
    let _ = std::fs::remove_file(conf);
}

/// A FreeSWITCH conf directory in a scratch folder, with these files (relative paths), made
/// the switch's `conf_dir`; `MOD_CALLBACK_CONF` unset so the module asks the switch.
fn fs_conf_dir(sim: &Sim, files: &[(&str, &str)]) -> std::path::PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("callback-fsconf-{}-{n}", std::process::id()));
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    sim.set_global("conf_dir", Some(&dir.display().to_string()));
    std::env::remove_var("MOD_CALLBACK_CONF");
    dir
}

fn load_from_switch() -> Result<Loaded, String> {
    loader::load(&loader::find_module()?)
}

#[test]
fn the_configuration_comes_from_freeswitchs_xml_with_its_includes_and_vars() {
    // Without MOD_CALLBACK_CONF the module asks the switch for callback.conf: the file in
    // autoload_configs/ of the conf directory, with vars.xml's X-PRE-PROCESS set, $${vars}
    // and an include resolved; the database defaults to the switch's db_dir.
    let sim = sim();
    let dir = fs_conf_dir(
        &sim,
        &[
            (
                "vars.xml",
                "<include>\n  <X-PRE-PROCESS cmd=\"set\" data=\"cb_queue=sales\"/>\n</include>\n",
            ),
            (
                "autoload_configs/callback.conf.xml",
                "<configuration name=\"callback.conf\" description=\"Customer callbacks\">\n\
                 <settings>\n\
                 <param name=\"default-queue\" value=\"$${cb_queue}\"/>\n\
                 <param name=\"http-listen\" value=\"\"/>\n\
                 </settings>\n<queues>\n\
                 <X-PRE-PROCESS cmd=\"include\" data=\"callback/queues.xml\"/>\n\
                 </queues>\n</configuration>\n",
            ),
            (
                "callback/queues.xml",
                "<include>\n<queue name=\"sales\"><param name=\"hours\" value=\"always\"/></queue>\n</include>\n",
            ),
        ],
    );
    let m = load_from_switch().unwrap_or_else(|e| panic!("{e}\n{:#?}", sim.logs()));
    assert_eq!(sim.xml_lookups(), ["callback.conf"]);
    let call = capture(&sim, "+12125550142", "type=immediate");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let list = sim.api("callback list");
    assert!(list.contains("sales"), "{list}");
    let db_dir = sim.api("global_getvar db_dir");
    let db = std::path::Path::new(db_dir.trim()).join("callback.db");
    assert!(db.is_file(), "{} was not made", db.display());
    assert!(sim.logs().iter().any(|l| l
        .text
        .contains("callback.conf from FreeSWITCH's configuration")));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_binding_such_as_mod_xml_curl_answers_before_the_files() {
    // A configuration binding (mod_xml_curl) is asked first; a switch without the
    // configuration fails the load with one line saying where to put it.
    let sim = sim();
    let dir = fs_conf_dir(&sim, &[]);
    let e = load_from_switch()
        .err()
        .expect("no configuration must fail the load");
    assert!(e.contains("load"), "{e}");
    let errors: Vec<String> = sim
        .logs()
        .iter()
        .filter(|l| l.level <= SWITCH_LOG_ERROR)
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("autoload_configs"), "{errors:?}");
    sim.xml_binding(Some(
        "<document type=\"freeswitch/xml\"><section name=\"configuration\">\
         <configuration name=\"callback.conf\"><settings>\
         <param name=\"http-listen\" value=\"\"/></settings></configuration>\
         </section></document>",
    ));
    let m = load_from_switch().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_sample_configuration_works_unedited() {
    // The shipped callback.conf.xml, dropped into autoload_configs/ unchanged, loads; a
    // callback is captured and listed; transcription is off with one line saying how to
    // turn it on; the API without keys says so; nothing is an error.
    let sim = sim();
    let sample = std::fs::read_to_string(
        scenario::repo_root().join("plugins/mod_callback/conf/callback.conf.xml"),
    )
    .unwrap();
    // Only the listen port is moved off 8089, which another process may hold.
    let sample = sample.replace("127.0.0.1:8089", "127.0.0.1:0");
    let dir = fs_conf_dir(&sim, &[("autoload_configs/callback.conf.xml", &sample)]);
    let m = load_from_switch().unwrap_or_else(|e| panic!("{e}\n{:#?}", sim.logs()));
    let call = capture(&sim, "+12125550142", "type=delayed delay=15m");
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    let id = sim.var(&call, "callback_id").unwrap();
    let list = sim.api("callback list");
    assert!(
        list.contains(&format!("{id} ")) || list.contains(&format!("{id}\t")),
        "{list}"
    );
    let logs = sim.logs();
    let errors: Vec<&str> = logs
        .iter()
        .filter(|l| l.level <= SWITCH_LOG_ERROR)
        .map(|l| l.text.as_str())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let said = |what: &str| logs.iter().filter(|l| l.text.contains(what)).count();
    assert_eq!(said("transcription is off"), 1, "{logs:#?}");
    assert!(logs
        .iter()
        .any(|l| l.text.contains("transcription is off") && l.text.contains("to turn it on")));
    assert_eq!(said("no <api-keys> configured"), 1);
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let db_dir = sim.api("global_getvar db_dir");
    let _ = std::fs::remove_file(std::path::Path::new(db_dir.trim()).join("callback.db"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn placeholder_secrets_and_a_missing_database_directory_fail_the_load_with_one_line() {
    // A `change-me` secret left from the sample, and a db-path whose directory does not
    // exist, each fail the load with one error line naming the key or the path.
    for (settings, names) in [
        (
            "<param name=\"http-token-secret\" value=\"change-me-to-a-long-random-string\"/>",
            "http-token-secret",
        ),
        (
            "<param name=\"db-path\" value=\"/nonexistent-dir-for-callback/x/callback.db\"/>",
            "/nonexistent-dir-for-callback/x",
        ),
    ] {
        let sim = sim();
        let dir = fs_conf_dir(
            &sim,
            &[(
                "autoload_configs/callback.conf.xml",
                &format!(
                    "<configuration name=\"callback.conf\"><settings>{settings}\
                     <param name=\"http-listen\" value=\"\"/></settings></configuration>"
                ),
            )],
        );
        assert!(load_from_switch().is_err(), "{settings} loaded");
        let errors: Vec<String> = sim
            .logs()
            .iter()
            .filter(|l| l.level <= SWITCH_LOG_ERROR)
            .map(|l| l.text.clone())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains(names), "{errors:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn missing_stock_sounds_are_said_once_at_load() {
    // Without FreeSWITCH's digits/ and time/ sounds under sound_prefix the load says once
    // which directory and package; with them, nothing.
    let sim = sim();
    let empty = std::env::temp_dir().join(format!("callback-nosounds-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    sim.set_global("sound_prefix", Some(&empty.display().to_string()));
    let (_, m) = (
        0,
        load_with_config(&scenario::repo_root().join(DEMO_CONF)).unwrap(),
    );
    let said: Vec<String> = sim
        .logs()
        .iter()
        .filter(|l| l.text.contains("read-back needs FreeSWITCH's sounds"))
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains(&empty.display().to_string())
            && said[0].contains("freeswitch-sounds-en-us-callie")
    );
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    drop(sim);
    let (sim, m) = start();
    assert!(!sim
        .logs()
        .iter()
        .any(|l| l.text.contains("read-back needs")));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
}

#[test]
fn every_log_line_ends_with_a_newline_and_names_its_source() {
    // Each line the module logs reaches switch_log_printf ending in "\n" with a real source
    // file and line (the simulator checks every line and fails a test on drop otherwise).
    let (sim, m) = start();
    capture(&sim, "+12125550142", "type=immediate");
    capture(&sim, "+1212", "type=nonsense");
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let logs = sim.logs();
    let module_lines: Vec<_> = logs.iter().filter(|l| l.origin.is_some()).collect();
    assert!(module_lines.len() >= 3, "{logs:#?}");
    for l in &module_lines {
        let (file, line) = l.origin.clone().unwrap();
        assert!(
            file.ends_with(".rs") && file != "mod_callback.rs" && line > 0,
            "{l:?}"
        );
    }
    assert_eq!(sim.log_violations(), Vec::<String>::new());
}

#[test]
fn callback_reload_applies_a_new_configuration_and_keeps_the_old_one_when_it_is_bad() {
    // `callback reload` re-reads callback.conf without unloading: a new queue and agent are
    // in force at once, a changed listen address is named as needing a module reload; a
    // broken file changes nothing and is said in one line.
    let sim = sim();
    let conf = |queues: &str, agents: &str, listen: &str| {
        format!(
            "<configuration name=\"callback.conf\"><settings>\
             <param name=\"default-queue\" value=\"sales\"/>\
             <param name=\"http-listen\" value=\"{listen}\"/></settings>\
             <queues>{queues}</queues><agents>{agents}</agents></configuration>"
        )
    };
    let sales = "<queue name=\"sales\"><param name=\"hours\" value=\"always\"/></queue>";
    let support = "<queue name=\"support\"><param name=\"hours\" value=\"always\"/></queue>";
    let a1001 = "<agent name=\"1001\"><param name=\"queues\" value=\"sales\"/><param name=\"state\" value=\"away\"/></agent>";
    let a1002 = "<agent name=\"1002\"><param name=\"queues\" value=\"support\"/><param name=\"state\" value=\"away\"/></agent>";
    let dir = fs_conf_dir(
        &sim,
        &[(
            "autoload_configs/callback.conf.xml",
            &conf(sales, a1001, ""),
        )],
    );
    let file = dir.join("autoload_configs/callback.conf.xml");
    let m = load_from_switch().unwrap_or_else(|e| panic!("{e}"));
    let call = capture(&sim, "+12125550142", "type=delayed delay=15m queue=support");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("ERR"));

    std::fs::write(
        &file,
        conf(
            &format!("{sales}{support}"),
            &format!("{a1001}{a1002}"),
            "127.0.0.1:0",
        ),
    )
    .unwrap();
    let reply = sim.api("callback reload");
    assert!(reply.starts_with("+OK reloaded"), "{reply}");
    assert!(reply.contains("2 queue(s), 2 agent(s)"), "{reply}");
    assert!(reply.contains("agents added: 1002"), "{reply}");
    assert!(
        reply.contains("not applied until `reload mod_callback`: http-listen"),
        "{reply}"
    );
    let call = capture(&sim, "+12125550143", "type=delayed delay=15m queue=support");
    assert_eq!(
        sim.var(&call, "callback_result").as_deref(),
        Some("OK"),
        "{:?}",
        sim.var(&call, "callback_error")
    );
    assert!(sim.api("callback agents").contains("1002"));

    std::fs::write(&file, "<configuration name=\"callback.conf\"><settings><param name=\"horizon-days\" value=\"0\"/></settings></configuration>").unwrap();
    let errors_before = sim.errors_logged();
    let reply = sim.api("callback reload");
    assert!(
        reply.starts_with("-ERR") && reply.contains("horizon-days"),
        "{reply}"
    );
    assert_eq!(sim.errors_logged(), errors_before + 1);
    let call = capture(&sim, "+12125550144", "type=delayed delay=15m queue=support");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    assert!(sim.api("callback agents").contains("1002"));
    let json: serde_json::Value = serde_json::from_str(&{
        std::fs::write(&file, conf(sales, a1001, "127.0.0.1:0")).unwrap();
        sim.api("callback json reload")
    })
    .unwrap();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["agents_removed"], serde_json::json!(["1002"]));
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_dir_all(dir);
}
