//! A node started from a configuration, a host and a clock, over a real SQLite file (and
//! PostgreSQL for what nodes share) and real HTTP on 127.0.0.1: it starts what the
//! configuration asks for, keeps panel logins in the store, refuses a bad one
//! with an error naming the key, reloads, runs console commands and captures, and stops
//! everything it started.

#[path = "support/backends.rs"]
mod backends;

use callback_core::capture::{capture, parse_args, Call, CaptureError};
use callback_core::clock::ManualClock;
use callback_core::command::{parse, CommandError, Reply};
use callback_core::config::Config;
use callback_core::dispatch::Dispatcher;
use callback_core::host::Detached;
use callback_core::ivr::Stored;
use callback_core::model::CallbackType;
use callback_core::model::Source;
use callback_core::node::{Node, NodeError, Reader};
use callback_core::service::{CallbackService, NewRequest, Requested};
use callback_core::store::{ListFilter, SqliteStore};
use chrono::{TimeZone, Utc};
use std::path::Path;
use std::sync::Arc;

/// The settings of a test node in `dir`; `queues` inside `<queues>`, `extra` settings.
fn conf(dir: &Path, extra: &str, queues: &str) -> String {
    format!(
        r#"<configuration name="callback.conf">
  <settings>
    <param name="default-region" value="DE"/>
    <param name="default-queue" value="sales"/>
    <param name="db-path" value="{db}"/>
    <param name="recordings-dir" value="{rec}"/>
    {extra}
  </settings>
  <queues>
    <queue name="sales">
      <param name="time-zone" value="Europe/Berlin"/>
      <param name="hours" value="always"/>
    </queue>
    <queue name="nyc">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
    </queue>
    {queues}
  </queues>
  <agents>
    <agent name="1001"><param name="dial" value="user/1001"/><param name="queues" value="sales"/></agent>
  </agents>
</configuration>"#,
        db = dir.join("callback.db").display(),
        rec = dir.join("rec").display(),
    )
}

const NO_HTTP: &str = r#"<param name="http-listen" value=""/>"#;

/// Monday 2026-11-23 09:00 UTC.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ))
}

fn start(dir: &Path, extra: &str, reader: Option<Reader>) -> Node {
    let config = Config::from_xml(&conf(dir, extra, "")).unwrap();
    Node::start(config, Arc::new(Detached::default()), clock(), reader).unwrap()
}

#[test]
fn a_node_serves_its_api_and_stop_closes_the_port_and_the_store() {
    // What http-listen names is served once started; stopped, the port refuses and the
    // SQLite file is closed (its WAL file checkpointed away), so nothing of the node runs on.
    let dir = tempfile::tempdir().unwrap();
    let node = start(
        dir.path(),
        r#"<param name="http-listen" value="127.0.0.1:0"/>"#,
        None,
    );
    let addr = node.http_addr().expect("the API listens");
    assert!(dir.path().join("rec").is_dir(), "the recordings directory");
    let url = format!("http://{addr}/v1/openapi.json");
    assert_eq!(ureq::get(&url).call().unwrap().status(), 200);
    assert!(dir.path().join("callback.db-wal").exists());
    node.stop();
    assert!(matches!(
        ureq::get(&url).call(),
        Err(ureq::Error::Transport(_))
    ));
    // Stopping twice is harmless; the last handle of the store goes with the node.
    node.stop();
    drop(node);
    assert!(!dir.path().join("callback.db-wal").exists());
}

#[test]
fn a_database_directory_that_does_not_exist_fails_the_start_naming_db_path() {
    // A db-path in a missing directory is a configuration mistake named at start, and
    // nothing is created on the way.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let config = Config::from_xml(&conf(&missing, NO_HTTP, "")).unwrap();
    let err = match Node::start(config, Arc::new(Detached::default()), clock(), None) {
        Ok(_) => panic!("started without its database directory"),
        Err(e) => e,
    };
    assert!(matches!(err, NodeError::NoDbDir { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("db-path"), "{text}");
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(!missing.exists());
}

#[test]
fn reload_puts_a_new_configuration_in_force_and_a_bad_one_changes_nothing() {
    // The reader's new queue is in force after reload; a configuration that does not
    // validate is refused naming the key and the running one stays.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("callback.conf.xml");
    std::fs::write(&file, conf(dir.path(), NO_HTTP, "")).unwrap();
    let reader: Reader = {
        let file = file.clone();
        Box::new(move || {
            Config::load_file(&file)
                .map(|c| (c, file.display().to_string()))
                .map_err(|e| e.to_string())
        })
    };
    let node = start(dir.path(), NO_HTTP, Some(reader));
    assert_eq!(node.service().config().queues.len(), 2);
    let more = r#"<queue name="support"><param name="time-zone" value="Europe/Paris"/></queue>"#;
    std::fs::write(&file, conf(dir.path(), NO_HTTP, more)).unwrap();
    let done = node.reload().unwrap();
    assert_eq!(done.queues, 3);
    assert!(node.service().config().queue(Some("support")).is_some());
    std::fs::write(
        &file,
        conf(
            dir.path(),
            r#"<param name="http-listen" value="nowhere"/>"#,
            "",
        ),
    )
    .unwrap();
    let err = node.reload().unwrap_err();
    assert!(matches!(err, NodeError::Reload(_)), "{err:?}");
    assert!(err.to_string().contains("http-listen"), "{err}");
    assert!(node.service().config().queue(Some("support")).is_some());
    // Through the console too: the refusal is a `config` error.
    let e = node.command(parse("reload").unwrap().command).unwrap_err();
    assert_eq!(e.code(), "config");
}

#[test]
fn console_commands_run_on_the_node_and_return_typed_replies() {
    // `dnc add` stores the E.164 form and says it; agents come from the node's dispatcher;
    // a node without a reader refuses reload; a bad time for reschedule is a usage error.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), NO_HTTP, None);
    let run = |line: &str| node.command(parse(line).unwrap().command);
    match run("dnc add 0301234567").unwrap() {
        Reply::DncAdded(n) => assert_eq!(n, "+49301234567"),
        other => panic!("{other:?}"),
    }
    let listed = node.service().store().dnc_list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].number, "+49301234567");
    match run("agents").unwrap() {
        Reply::Agents(list) => assert_eq!(list.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run("reload"),
        Err(CommandError::Config(m)) if m.contains("without a configuration")
    ));
    assert!(matches!(run("show 99"), Err(e) if e.code() == "not-found"));
    match run("dnc remove +4930999") {
        Ok(Reply::DncRemoved { removed, .. }) => assert!(!removed),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_capture_infers_the_type_reads_clock_times_in_the_queue_zone_and_checks_agents() {
    // No type: a clock time is scheduled, read in the queue's zone when no tz is given;
    // no number: the caller's; an unknown agent or no number at all is refused and stores
    // nothing.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), NO_HTTP, None);
    let svc = node.service();
    let call = Call {
        caller_number: Some("+12125550142".into()),
        uuid: Some("0b6c7c1e-1111-4222-8333-444455556666".into()),
        ivr_vars: Default::default(),
    };
    let args = parse_args("queue=nyc when='2026-11-24 10:00'").unwrap();
    let Stored::Own(r) = capture(svc, &call, args).unwrap() else {
        panic!("a new request is the caller's own");
    };
    assert_eq!(r.kind, CallbackType::Scheduled);
    assert_eq!(r.number, "+12125550142");
    // 10:00 in New York (EST, UTC-5).
    assert_eq!(
        r.due_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap())
    );
    assert_eq!(r.origin_uuid.as_deref(), call.uuid.as_deref());
    let delayed = capture(
        svc,
        &call,
        parse_args("delay=15m number=+4930123456").unwrap(),
    );
    assert!(matches!(delayed, Ok(Stored::Own(r)) if r.kind == CallbackType::Delayed));
    let before = svc.list(&ListFilter::default()).unwrap().len();
    let e = capture(svc, &call, parse_args("agent=9999").unwrap()).unwrap_err();
    assert!(matches!(e, CaptureError::UnknownAgent), "{e:?}");
    assert!(!e.public_text().contains("9999"));
    let e = capture(svc, &Call::default(), parse_args("").unwrap()).unwrap_err();
    assert!(matches!(e, CaptureError::NoNumber), "{e:?}");
    let e = capture(
        svc,
        &call,
        parse_args("queue=nowhere when='tomorrow 09:00'").unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, CaptureError::UnknownQueue(_)), "{e:?}");
    assert!(!e.public_text().contains("nowhere"));
    assert_eq!(svc.list(&ListFilter::default()).unwrap().len(), before);
}

/// A node of the store `settings` names, with the REST API and the panel on a free port
/// and one panel user.
fn panel_node(dir: &Path, settings: &str) -> Node {
    let xml = conf(
        dir,
        &format!(r#"<param name="http-listen" value="127.0.0.1:0"/>{settings}"#),
        "",
    )
    .replace(
        "</configuration>",
        r#"<staff><user name="alice"><param name="password" value="a-long-secret-pw"/>
           <param name="role" value="agent"/><param name="agent" value="1001"/></user></staff>
           </configuration>"#,
    );
    let config = Config::from_xml(&xml).unwrap();
    Node::start(config, Arc::new(Detached::default()), clock(), None).unwrap()
}

/// Logs in to the panel of `node`: the `Cookie` header value of the session.
fn panel_login(node: &Node) -> String {
    let url = format!("http://{}/panel/api/login", node.http_addr().unwrap());
    let r = ureq::post(&url)
        .set("X-Callback-Panel", "1")
        .set("Content-Type", "application/json")
        .send_string(r#"{"user":"alice","password":"a-long-secret-pw"}"#)
        .unwrap();
    let set = r
        .header("set-cookie")
        .expect("a session cookie")
        .to_string();
    set.split(';').next().unwrap().to_string()
}

/// The status of the panel's `me` on `node` with the session `cookie`.
fn panel_me(node: &Node, cookie: &str) -> u16 {
    let url = format!("http://{}/panel/api/me", node.http_addr().unwrap());
    match ureq::get(&url).set("Cookie", cookie).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    }
}

fn panel_logout(node: &Node, cookie: &str) {
    let url = format!("http://{}/panel/api/logout", node.http_addr().unwrap());
    let r = ureq::post(&url)
        .set("Cookie", cookie)
        .set("X-Callback-Panel", "1")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_panel_login_survives_a_restart_and_a_logout_ends_it() {
    // SQLite: a session made before the node restarts is still valid after it (the store
    // keeps it); a logout ends it, and the cookie is refused from then on.
    let dir = tempfile::tempdir().unwrap();
    let first = panel_node(dir.path(), "");
    let cookie = panel_login(&first);
    assert_eq!(panel_me(&first, &cookie), 200);
    first.stop();
    drop(first);
    let again = panel_node(dir.path(), "");
    assert_eq!(panel_me(&again, &cookie), 200, "the restart lost the login");
    panel_logout(&again, &cookie);
    assert_eq!(panel_me(&again, &cookie), 401);
}

#[test]
fn a_panel_login_on_one_node_is_valid_on_another_until_a_logout_on_either() {
    // Two nodes on one PostgreSQL (db-url): the session made through A is accepted by B;
    // logged out through B, A refuses it.
    if !backends::pg_available() {
        return;
    }
    let schema = backends::PgSchema::new();
    let settings = format!(
        r#"<param name="db-url" value="{}"/>"#,
        schema.url.replace('&', "&amp;")
    );
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = panel_node(da.path(), &settings);
    let b = panel_node(db.path(), &settings);
    let cookie = panel_login(&a);
    assert_eq!(panel_me(&b, &cookie), 200, "node B does not know A's login");
    panel_logout(&b, &cookie);
    assert_eq!(
        panel_me(&a, &cookie),
        401,
        "node A still accepts a logged-out session"
    );
    a.stop();
    b.stop();
}

#[test]
fn a_node_on_postgresql_delivers_webhooks() {
    // With db-url the webhook worker runs (it was refused before the outbox had a
    // PostgreSQL side): a callback created on the node reaches a real receiver.
    use callback_core::model::Source;
    use callback_core::service::{NewRequest, Requested};
    use std::io::{BufRead, BufReader, Write};
    if !backends::pg_available() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut event = String::new();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("x-callback-event:") {
                    event = v.trim().to_string();
                }
                line.clear();
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    let schema = backends::PgSchema::new();
    let dir = tempfile::tempdir().unwrap();
    let xml = conf(
        dir.path(),
        &format!(
            r#"{NO_HTTP}<param name="db-url" value="{}"/>"#,
            schema.url.replace('&', "&amp;")
        ),
        "",
    )
    .replace(
        "</configuration>",
        &format!(
            r#"<webhooks><webhook name="crm"><param name="url" value="http://{addr}/hook"/>
               <param name="secret" value="hook-secret-0123456789"/></webhook></webhooks>
               </configuration>"#
        ),
    );
    let node = Node::start(
        Config::from_xml(&xml).unwrap(),
        Arc::new(Detached::default()),
        clock(),
        None,
    )
    .unwrap();
    let req = NewRequest::new(
        CallbackType::Immediate,
        "+493012345678",
        Requested::Now,
        Source::Web,
    );
    let (r, _) = node.service().request(req).unwrap();
    let created = node.service().store().events(r.id).unwrap()[0].id;
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("no webhook arrived");
    assert_eq!(got, created.to_string());
    node.stop();
}

/// A test node's configuration with `agents` inside `<agents>` (none: a capture-only node).
fn conf_with_agents(dir: &Path, agents: &str) -> String {
    conf(dir, NO_HTTP, "").replace(
        r#"<agent name="1001"><param name="dial" value="user/1001"/><param name="queues" value="sales"/></agent>"#,
        agents,
    )
}

/// Waits (up to 10 s) until `done` holds; false if it never did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    done()
}

fn immediate(number: &str) -> NewRequest {
    NewRequest::new(CallbackType::Immediate, number, Requested::Now, Source::Api)
}

fn offered(service: &CallbackService, id: i64) -> bool {
    service
        .trace(id)
        .unwrap()
        .events
        .iter()
        .any(|e| e.action == "offer")
}

#[test]
fn creates_on_a_node_without_agents_do_not_wake_its_dispatcher() {
    // A capture-only node (no agent to ring) claims nothing: the callbacks it stores are
    // all kept, and its dispatcher's loop is not signalled for any of them.
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_xml(&conf_with_agents(dir.path(), "")).unwrap();
    let node = Node::start(config, Arc::new(Detached::default()), clock(), None).unwrap();
    let d = node.dispatcher().clone();
    assert!(eventually(|| d.wakes_and_turns().1 >= 1), "no first turn");
    let (wakes, _) = d.wakes_and_turns();
    for i in 0..20 {
        node.service()
            .request(immediate(&format!("030 12345{i:02}")))
            .unwrap();
    }
    assert_eq!(d.wakes_and_turns().0, wakes, "the loop was signalled");
    let stored = node.service().list(&ListFilter::default()).unwrap();
    assert_eq!(stored.len(), 20);
    node.stop();
}

#[test]
fn a_burst_of_creates_before_the_dispatcher_looks_wakes_it_once_and_each_is_offered() {
    // Three callbacks due now and three agents set ready before the loop has taken its
    // first nudge: one signal for all of them, and each callback is still offered.
    let dir = tempfile::tempdir().unwrap();
    let agents: String = (1..=3)
        .map(|i| {
            format!(
                r#"<agent name="100{i}"><param name="dial" value="user/100{i}"/><param name="queues" value="sales"/></agent>"#
            )
        })
        .collect();
    let config = Arc::new(Config::from_xml(&conf_with_agents(dir.path(), &agents)).unwrap());
    let store = Arc::new(SqliteStore::open(dir.path().join("callback.db")).unwrap());
    let service = Arc::new(CallbackService::new(
        store,
        config,
        clock(),
        Arc::new(Detached::default()),
    ));
    let d = Dispatcher::new(service.clone());
    let weak = Arc::downgrade(&d);
    service.set_waker(Box::new(move |r| {
        if let Some(d) = weak.upgrade() {
            d.changed(r);
        }
    }));
    let ids: Vec<i64> = (1..=3)
        .map(|i| {
            service
                .request(immediate(&format!("030 123456{i}")))
                .unwrap()
                .0
                .id
        })
        .collect();
    for i in 1..=3 {
        d.set_agent(&format!("100{i}"), true).unwrap();
    }
    assert_eq!(d.wakes_and_turns(), (1, 0));
    d.start().unwrap();
    for id in &ids {
        assert!(
            eventually(|| offered(&service, *id)),
            "callback {id} not offered"
        );
    }
    d.stop();
}

#[test]
fn a_callback_due_after_the_dispatchers_next_wake_does_not_wake_it_and_one_due_now_does() {
    // The loop sleeps until a callback due in 30 minutes: one due in an hour leaves it
    // asleep (its turn then reads it), one due now wakes it and is offered.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), NO_HTTP, None);
    let (svc, d) = (node.service().clone(), node.dispatcher().clone());
    d.set_agent("1001", true).unwrap();
    let later = |minutes: i64, number: &str| {
        let when = Requested::After(chrono::Duration::minutes(minutes));
        svc.request(NewRequest::new(
            CallbackType::Delayed,
            number,
            when,
            Source::Api,
        ))
        .unwrap()
        .0
    };
    let first = later(30, "030 1234561");
    let due = first.due_at.unwrap();
    assert!(
        eventually(|| d.sleeping_until().is_some_and(|at| at < due)),
        "the loop never slept until the first callback"
    );
    let (wakes, _) = d.wakes_and_turns();
    later(60, "030 1234562");
    assert_eq!(d.wakes_and_turns().0, wakes, "woken for a later callback");
    let now = svc.request(immediate("030 1234563")).unwrap().0;
    // At least one wake: the loop, woken, may run its turn and nudge itself again (an
    // offer that ends lets its lease go) before this line reads the count.
    assert!(
        d.wakes_and_turns().0 > wakes,
        "not woken for a callback due now"
    );
    assert!(eventually(|| offered(&svc, now.id)), "not offered");
    node.stop();
}

#[test]
fn a_callback_due_now_wakes_a_loop_still_asleep_past_its_instant() {
    // The host's clock steps past the instant the loop sleeps until (it sleeps on the
    // machine's clock for what was left, 30 minutes): a callback due now wakes it and is
    // offered, rather than waiting for the loop's own wake-up or the runtime's next look.
    let dir = tempfile::tempdir().unwrap();
    let clk = clock();
    let config = Config::from_xml(&conf(dir.path(), NO_HTTP, "")).unwrap();
    let node = Node::start(config, Arc::new(Detached::default()), clk.clone(), None).unwrap();
    let (svc, d) = (node.service().clone(), node.dispatcher().clone());
    d.set_agent("1001", true).unwrap();
    let when = Requested::After(chrono::Duration::minutes(30));
    let first = svc
        .request(NewRequest::new(
            CallbackType::Delayed,
            "030 1234561",
            when,
            Source::Api,
        ))
        .unwrap()
        .0;
    let due = first.due_at.unwrap();
    assert!(
        eventually(|| d.sleeping_until().is_some_and(|at| at < due)),
        "the loop never slept until the first callback"
    );
    // Past the loop's instant, with nobody calling `check_clock`.
    clk.advance(chrono::Duration::minutes(31));
    let now = svc.request(immediate("030 1234563")).unwrap().0;
    assert!(eventually(|| offered(&svc, now.id)), "not offered");
    node.stop();
}
