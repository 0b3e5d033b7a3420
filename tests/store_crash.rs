//! Crash test: worker processes claiming and dispatching callbacks are SIGKILLed over and
//! over; afterwards no request is lost, none is stuck, none was ever held by two owners at
//! once (checked from the trace), and the file passes `PRAGMA integrity_check`.
//!
//! `harness = false`: with `STORE_CRASH_CHILD=<db>` set, `main` is a worker; otherwise it is
//! the parent that seeds, spawns, kills, drains and checks. Real time, 2 s leases.

use callback_core::model::{AttemptResult, CallbackType, Draft, Leg, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::{
    AttemptEnd, ListFilter, NewAttempt, SqliteStore, StoreError, Transition,
};
use chrono::{Duration, Utc};
use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const REQUESTS: usize = 400;
const ROUNDS: usize = 60;
const LEASE_S: i64 = 2;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seed() -> u64 {
    let nanos = Utc::now().timestamp_subsec_nanos() as u64;
    (u64::from(std::process::id()) << 32 | nanos) | 1
}

fn pause(rng: &mut Rng, max_ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(rng.below(max_ms + 1)));
}

/// One dispatcher step from `state`, as the engine would take it; `None` when finished.
fn step(
    store: &SqliteStore,
    rng: &mut Rng,
    owner: &str,
    id: i64,
    state: State,
) -> Result<Option<State>, StoreError> {
    let now = Utc::now();
    let go = |to: State, due: bool| {
        let mut t = Transition::new(to, "work");
        t.owner = Some(owner.to_string());
        t.expect = Some(state);
        if due {
            t.due_at = Some(Utc::now());
        }
        store.transition(id, &t, Utc::now())
    };
    let leg = |leg: Leg| NewAttempt {
        callback_id: id,
        leg,
        // An agent per callback: a killed worker leaves its agent leg open until the
        // callback is recovered, and an agent has one open leg at a time (tests/store_agents.rs).
        agent: (leg == Leg::Agent).then(|| format!("agent-{id}")),
        call_uuid: None,
    };
    let end = |result: AttemptResult| AttemptEnd {
        answered_at: None,
        hangup_cause: "NORMAL_CLEARING".into(),
        result,
    };
    let next = match state {
        State::Due => {
            // A worker killed after opening the agent leg left it open: closed first, as
            // the dispatcher's recovery does (an agent has one open leg at a time).
            for a in store.attempts(id)? {
                if a.leg == Leg::Agent && a.ended_at.is_none() {
                    store.finish_attempt(a.id, &end(AttemptResult::Error), Utc::now())?;
                }
            }
            let a = store.start_attempt(&leg(Leg::Agent), owner, now)?;
            let r = go(State::Offering, false)?;
            store.finish_attempt(a.id, &end(AttemptResult::Answered), Utc::now())?;
            r.state
        }
        State::Offering => match rng.below(5) {
            0 => go(State::Due, false)?.state,
            _ => go(State::Previewing, false)?.state,
        },
        State::Previewing => {
            let r = go(State::Dialing, false)?;
            let a = store.start_attempt(&leg(Leg::Customer), owner, Utc::now())?;
            if rng.below(4) == 0 {
                store.finish_attempt(a.id, &end(AttemptResult::NoAnswer), Utc::now())?;
            }
            r.state
        }
        State::Dialing => {
            let r = store.get(id)?;
            if rng.below(4) == 0 && r.customer_attempts < 3 {
                go(State::Rescheduled, true)?;
                return Ok(None);
            }
            go(State::Connected, false)?.state
        }
        State::Connected => {
            go(State::Completed, false)?;
            return Ok(None);
        }
        _ => return Ok(None),
    };
    Ok(Some(next))
}

/// Claims and works until nothing is left (or forever, in a child that will be killed).
fn work(store: &SqliteStore, owner: &str, rng: &mut Rng, until_drained: bool) {
    let started = Instant::now();
    loop {
        let claimed = match store.claim_due(owner, Utc::now(), Duration::seconds(LEASE_S), 3) {
            Ok(c) => c,
            Err(_) => continue,
        };
        if claimed.is_empty() {
            if until_drained {
                let open = store
                    .stats()
                    .map(|s| {
                        s.by_queue_state
                            .iter()
                            .filter(|(_, st, _)| !st.is_terminal())
                            .count()
                    })
                    .unwrap_or(1);
                if open == 0 || started.elapsed().as_secs() > 30 {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        for r in claimed {
            let begun = Instant::now();
            let mut state = r.state;
            // Stay well inside the lease: give up the rest to a later claim.
            while begun.elapsed().as_millis() < 1000 {
                pause(rng, 3);
                match step(store, rng, owner, r.id, state) {
                    Ok(Some(next)) => state = next,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}

fn child(db: &str) -> ExitCode {
    let Ok(store) = SqliteStore::open(db) else {
        return ExitCode::FAILURE;
    };
    let mut rng = Rng(seed());
    let owner = format!("w{}", std::process::id());
    work(&store, &owner, &mut rng, false);
    ExitCode::SUCCESS
}

fn seed_requests(store: &SqliteStore) {
    let now = Utc::now();
    let drafts: Vec<Draft> = (0..REQUESTS)
        .map(|i| Draft {
            kind: CallbackType::Immediate,
            number: format!("+4930{:08}", 10_000_000 + i),
            time_zone: "Europe/Berlin".into(),
            desired_at: None,
            window: Window::default(),
            number_type: None,
            queue: ["sales", "support"][i % 2].into(),
            agent: None,
            remark: None,
            ivr_data: BTreeMap::new(),
            source: Source::Ivr,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            tags: BTreeMap::new(),
            state: State::Scheduled,
            due_at: Some(now),
            expires_at: None,
        })
        .collect();
    store.create_batch(&drafts, now).expect("seeding");
}

fn kv(detail: &str, key: &str) -> Option<i64> {
    detail
        .split_whitespace()
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Replays each callback's trace: every claim starts from no live holder, every reclaim
/// comes at or after the previous lease's end, and every owner's change falls inside its
/// own live lease. Returns the problems found.
fn check_traces(store: &SqliteStore, problems: &mut Vec<String>) {
    let all = store.list(&ListFilter::default()).expect("listing");
    for r in &all {
        let events = store.events(r.id).expect("events");
        let mut holder: Option<(String, i64)> = None;
        let mut state: Option<State> = None;
        for e in &events {
            if e.from != state {
                problems.push(format!(
                    "{}: event {} from {:?} after {:?}",
                    r.id, e.id, e.from, state
                ));
            }
            let at = e.at.timestamp();
            let detail = e.detail.clone().unwrap_or_default();
            match e.action.as_str() {
                "created" => {}
                "claim" | "reclaim" => {
                    if let Some((who, until)) = &holder {
                        if e.action == "claim" || at < *until {
                            problems.push(format!(
                                "{}: {} by {:?} at {at} while {who} held it until {until}",
                                r.id, e.action, e.actor
                            ));
                        }
                    } else if e.action == "reclaim" {
                        problems.push(format!("{}: reclaim of an unheld callback", r.id));
                    }
                    let until = kv(&detail, "lease_until").unwrap_or(0);
                    holder = Some((e.actor.clone().unwrap_or_default(), until));
                }
                _ => {
                    match &holder {
                        Some((who, until)) if e.actor.as_deref() == Some(who) && at < *until => {}
                        _ => problems.push(format!(
                            "{}: {} by {:?} at {at} without the lease ({holder:?})",
                            r.id, e.action, e.actor
                        )),
                    }
                    if !e.to.is_active() {
                        holder = None;
                    }
                }
            }
            state = Some(e.to);
        }
        let customer_legs = store
            .attempts(r.id)
            .expect("attempts")
            .iter()
            .filter(|a| a.leg == Leg::Customer)
            .count();
        if customer_legs != r.customer_attempts as usize {
            problems.push(format!(
                "{}: {} customer legs but customer_attempts = {}",
                r.id, customer_legs, r.customer_attempts
            ));
        }
    }
}

fn parent() -> Result<(), String> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("crash.db");
    let store = SqliteStore::open(&db).map_err(|e| e.to_string())?;
    seed_requests(&store);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng(seed());
    let mut kills = 0;
    for _ in 0..ROUNDS {
        let spawn = || {
            Command::new(&exe)
                .env("STORE_CRASH_CHILD", &db)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("spawning a worker: {e}"))
        };
        let mut a = spawn()?;
        let mut b = spawn()?;
        pause(&mut rng, 120);
        for c in [&mut a, &mut b] {
            pause(&mut rng, 40);
            // Child::kill sends SIGKILL: no destructor, no rollback, mid-transaction.
            c.kill().map_err(|e| format!("killing a worker: {e}"))?;
            c.wait().map_err(|e| e.to_string())?;
            kills += 1;
        }
    }
    eprintln!("{kills} workers killed in {:?}", started.elapsed());

    // A clean pass finishes everything once the dead workers' leases run out.
    work(&store, "drain", &mut rng, true);

    let mut problems = Vec::new();
    let all = store
        .list(&ListFilter::default())
        .map_err(|e| e.to_string())?;
    if all.len() != REQUESTS {
        problems.push(format!("{} requests, expected {REQUESTS}", all.len()));
    }
    for r in &all {
        if !r.state.is_terminal() || r.lease_owner.is_some() {
            problems.push(format!(
                "{} stuck in {} (lease {:?})",
                r.id, r.state, r.lease_owner
            ));
        }
    }
    check_traces(&store, &mut problems);
    drop(store);
    let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    let reclaims: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE action = 'reclaim'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    eprintln!(
        "{reclaims} reclaims after crashes; done in {:?}",
        started.elapsed()
    );
    if kills < 100 {
        problems.push(format!("only {kills} kills"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn main() -> ExitCode {
    if let Ok(db) = std::env::var("STORE_CRASH_CHILD") {
        return child(&db);
    }
    // Scenario: SIGKILLed workers never lose, strand or double-hold a callback.
    match parent() {
        Ok(()) => {
            println!("1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("store_crash: {e}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}
