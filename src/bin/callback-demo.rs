//! A tour of the engine core without a PBX: loads a configuration, starts a node on it (a
//! fresh SQLite file, no telephony attached, the REST API off), stores one request of each
//! type, and prints their due times and a day's slot grid.
//!
//! `cargo run --bin callback-demo -- [--config FILE] [--db FILE] [--now RFC3339]`
//!
//! `cargo run --bin callback-demo -- --prompts` prints the IVR's prompts instead, one
//! `name|what it says` per line (`dialplans/make-prompts.sh` speaks them).

use callback_core::clock::ManualClock;
use callback_core::config::Config;
use callback_core::host::Detached;
use callback_core::model::{CallbackType, Source};
use callback_core::node::Node;
use callback_core::schedule::SlotState;
use callback_core::service::{NewRequest, Requested};
use callback_core::when::parse_when;
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callback-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--prompts") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let agent = callback_core::dispatch::preview::AGENT_PROMPTS
            .iter()
            .map(|(n, t)| (format!("agent-{n}"), *t));
        let ivr = callback_core::ivr::PROMPTS
            .iter()
            .map(|(n, t)| (n.to_string(), *t));
        for (name, text) in ivr.chain(agent) {
            // A closed pipe (`| head`) just ends the listing.
            if writeln!(out, "{name}|{text}").is_err() {
                break;
            }
        }
        return Ok(());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let conf = arg(&args, "--config")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("plugins/mod_callback/conf/callback.conf.xml"));
    let db = arg(&args, "--db").map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("callback-demo-{}.db", std::process::id()))
    });
    let now: DateTime<Utc> = match arg(&args, "--now") {
        Some(t) => DateTime::parse_from_rfc3339(&t)?.with_timezone(&Utc),
        None => Utc::now(),
    };

    let mut config = Config::load_file(&conf)?;
    // The tour's own database and recordings, and no port taken: it shows the rules.
    config.settings.db_path = db.clone();
    config.settings.recordings_dir = db.with_extension("recordings");
    config.api.listen = None;
    let node = Node::start(
        config,
        Arc::new(Detached::default()),
        Arc::new(ManualClock::new(now)),
        None,
    )?;
    let service = node.service();
    let config = service.config();
    let queue = config.queue(None).ok_or("no default queue")?;
    let zone = queue.zone();

    println!("mod_callback core demo");
    println!("  config   {}", conf.display());
    println!("  database {}", db.display());
    println!(
        "  now      {} ({})",
        now.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z"),
        zone
    );
    println!(
        "  queue    {} (hours in {}, slots of {} min x {})",
        queue.name(),
        zone,
        queue.rules.slots.minutes,
        queue.rules.slots.capacity
    );
    println!();

    let tomorrow_2pm = parse_when("tomorrow 14:00", zone, now)?;
    let requests = [
        (
            "immediate",
            CallbackType::Immediate,
            Requested::Now,
            "+1 212 555 0142",
        ),
        (
            "delayed +15m",
            CallbackType::Delayed,
            Requested::After(Duration::minutes(15)),
            "+1 646 555 0199",
        ),
        (
            "scheduled tomorrow 14:00",
            CallbackType::Scheduled,
            tomorrow_2pm.clone(),
            "(718) 555-0123",
        ),
        (
            "agent-preview",
            CallbackType::AgentPreview,
            Requested::Now,
            "+1 917 555 0111",
        ),
        (
            "scheduled at 03:00 (closed)",
            CallbackType::Scheduled,
            parse_when("tomorrow 03:00", zone, now)?,
            "+1 347 555 0177",
        ),
        (
            "bad number",
            CallbackType::Immediate,
            Requested::Now,
            "+1 212 555 01,42",
        ),
    ];
    println!(
        "{:<28} {:<5} {:<14} {:<26} result",
        "request", "id", "number", "due (queue zone)"
    );
    for (label, kind, when, number) in requests {
        let mut r = NewRequest::new(kind, number, when, Source::Api);
        r.remark = Some(format!("demo: {label}"));
        match service.request(r) {
            Ok((cb, outcome)) => println!(
                "{label:<28} {:<5} {:<14} {:<26} {outcome:?}, {}",
                cb.id,
                cb.number,
                cb.due_at
                    .map(|d| d
                        .with_timezone(&zone)
                        .format("%a %Y-%m-%d %H:%M %Z")
                        .to_string())
                    .unwrap_or_default(),
                cb.state
            ),
            Err(e) => println!(
                "{label:<28} {:<5} {:<14} {:<26} refused ({}): {e}",
                "-",
                "-",
                "-",
                e.code()
            ),
        }
    }

    let day = match tomorrow_2pm {
        Requested::Local(t) => t.date(),
        _ => now.date_naive(),
    };
    let grid = service.availability(None, day, Some("Europe/London"))?;
    println!();
    println!(
        "slots on {} shown in {} (queue '{}'):",
        grid.date,
        grid.zone,
        queue.name()
    );
    let london = callback_core::schedule::parse_zone(&grid.zone)?;
    for s in &grid.slots {
        let mark = match s.state {
            SlotState::Available => format!(
                "{} of {} left",
                s.capacity.saturating_sub(s.used),
                s.capacity
            ),
            SlotState::Full => "FULL".into(),
            SlotState::Past => "past".into(),
            SlotState::BeyondHorizon => "beyond horizon".into(),
        };
        println!(
            "  {}-{}  {mark}",
            s.start.with_timezone(&london).format("%H:%M"),
            s.end.with_timezone(&london).format("%H:%M")
        );
    }
    if grid.slots.is_empty() {
        println!("  (closed all day)");
    }
    node.stop();
    drop(node);
    let _ = std::fs::remove_dir(db.with_extension("recordings"));
    if arg(&args, "--db").is_none() {
        let _ = std::fs::remove_file(&db);
        let _ = std::fs::remove_file(db.with_extension("db-wal"));
        let _ = std::fs::remove_file(db.with_extension("db-shm"));
    }
    Ok(())
}
