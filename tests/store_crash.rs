//! Crash test of the store: worker processes claim and move callbacks through their
//! lifecycle and are SIGKILLed at random moments, over and over. Afterwards no callback is
//! lost, none is stuck, none was ever held by two owners at once (checked from the trace),
//! no customer attempt number was used twice, and `PRAGMA integrity_check` is ok.
//!
//! One binary, two roles (`harness = false`): with `STORE_CRASH_CHILD=<db>` it is a worker
//! that runs until killed; otherwise it is the campaign that spawns and kills workers.

use callback_core::model::{AttemptResult, CallbackType, Draft, Leg, Source, State, Window};
use callback_core::store::{AttemptEnd, NewAttempt, SqliteStore, Store, StoreError, Transition};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const REQUESTS: usize = 300;
const KILLS: usize = 120;
const LEASE_SECS: i64 = 2;

fn main() -> ExitCode {
    if let Ok(db) = std::env::var("STORE_CRASH_CHILD") {
        let owner = std::env::var("STORE_CRASH_OWNER").unwrap_or_else(|_| "child".into());
        worker(Path::new(&db), &owner, None);
        return ExitCode::SUCCESS;
    }
    match campaign() {
        Ok(summary) => {
            println!("store_crash: {summary}");
            println!("1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("store_crash: FAILED: {why}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

fn draft(i: usize, now: DateTime<Utc>) -> Draft {
    Draft {
        kind: CallbackType::Immediate,
        number: format!("+1212555{:04}", i),
        time_zone: "America/New_York".into(),
        desired_at: None,
        window: Window::default(),
        queue: if i % 2 == 0 {
            "sales".into()
        } else {
            "support".into()
        },
        agent: None,
        remark: Some(format!("request {i}")),
        ivr_data: BTreeMap::new(),
        source: Source::Api,
        origin_uuid: None,
        idempotency_key: Some(format!("crash-{i}")),
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(now - Duration::seconds(1)),
        expires_at: None,
    }
}

/// A tiny deterministic generator: the campaign must be reproducible, not clever.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn step(
    store: &SqliteStore,
    owner: &str,
    id: i64,
    to: State,
    action: &str,
) -> Result<(), StoreError> {
    let mut t = Transition::new(to, action);
    t.owner = Some(owner.to_string());
    t.actor = Some(owner.to_string());
    if to == State::Rescheduled {
        t.due_at = Some(Utc::now());
    }
    store.transition(id, &t, Utc::now()).map(|_| ())
}

/// Ends a leg: answered, or not answered by the customer.
fn end_leg(store: &SqliteStore, attempt_id: i64, answered: bool) -> Result<(), StoreError> {
    let end = if answered {
        AttemptEnd {
            answered_at: Some(Utc::now()),
            hangup_cause: "NORMAL_CLEARING".into(),
            result: AttemptResult::Answered,
        }
    } else {
        AttemptEnd {
            answered_at: None,
            hangup_cause: "NO_ANSWER".into(),
            result: AttemptResult::NoAnswer,
        }
    };
    store
        .finish_attempt(attempt_id, &end, Utc::now())
        .map(|_| ())
}

/// Moves one claimed callback on from wherever it stands, as a dispatcher would.
fn advance(store: &SqliteStore, owner: &str, id: i64, rng: &mut Lcg) -> Result<(), StoreError> {
    let mut state = store.get(id)?.state;
    loop {
        state = match state {
            State::Due => {
                let a = store.start_attempt(
                    &NewAttempt {
                        callback_id: id,
                        leg: Leg::Agent,
                        agent: Some("1001".into()),
                        call_uuid: None,
                    },
                    owner,
                    Utc::now(),
                )?;
                step(store, owner, id, State::Offering, "offer")?;
                end_leg(store, a.id, true)?;
                State::Offering
            }
            State::Offering => {
                step(store, owner, id, State::Previewing, "preview")?;
                State::Previewing
            }
            State::Previewing => {
                step(store, owner, id, State::Dialing, "dial")?;
                let a = store.start_attempt(
                    &NewAttempt {
                        callback_id: id,
                        leg: Leg::Customer,
                        agent: Some("1001".into()),
                        call_uuid: None,
                    },
                    owner,
                    Utc::now(),
                )?;
                // A third of customers do not answer the first time: a retry.
                if rng.next(3) == 0 && store.get(id)?.customer_attempts < 3 {
                    end_leg(store, a.id, false)?;
                    step(store, owner, id, State::Rescheduled, "retry")?;
                    return Ok(());
                }
                end_leg(store, a.id, true)?;
                State::Dialing
            }
            State::Dialing => {
                step(store, owner, id, State::Connected, "answer")?;
                State::Connected
            }
            State::Connected => {
                step(store, owner, id, State::Completed, "complete")?;
                return Ok(());
            }
            _ => return Ok(()),
        };
    }
}

/// Claims and advances until killed, or until nothing is left when `stop_when_idle` is set.
fn worker(db: &Path, owner: &str, stop_when_idle: Option<std::time::Duration>) {
    let Ok(store) = SqliteStore::open(db) else {
        return;
    };
    let mut rng = Lcg(owner
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b))));
    let started = Instant::now();
    loop {
        let claimed = store
            .claim_due(owner, Utc::now(), Duration::seconds(LEASE_SECS), 4)
            .unwrap_or_default();
        for cb in &claimed {
            // Losing a lease or a race is expected here; the trace check judges the outcome.
            let _ = advance(&store, owner, cb.id, &mut rng);
        }
        if claimed.is_empty() {
            if let Some(limit) = stop_when_idle {
                let live = store
                    .list(&Default::default())
                    .map(|l| l.iter().filter(|c| !c.state.is_terminal()).count())
                    .unwrap_or(1);
                if live == 0 || started.elapsed() > limit {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn campaign() -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("crash.db");
    {
        let store = SqliteStore::open(&db).map_err(|e| e.to_string())?;
        let now = Utc::now();
        let drafts: Vec<Draft> = (0..REQUESTS).map(|i| draft(i, now)).collect();
        store
            .create_batch(&drafts, now)
            .map_err(|e| e.to_string())?;
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Lcg(0x5eed);
    for k in 0..KILLS {
        let mut child = Command::new(&exe)
            .env("STORE_CRASH_CHILD", &db)
            .env("STORE_CRASH_OWNER", format!("worker-{k}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning worker {k}: {e}"))?;
        std::thread::sleep(std::time::Duration::from_millis(5 + rng.next(60)));
        // Child::kill sends SIGKILL: no destructor, no rollback hook, no flush.
        child
            .kill()
            .map_err(|e| format!("killing worker {k}: {e}"))?;
        child.wait().map_err(|e| e.to_string())?;
    }
    // Let the last leases run out, then drain in this process.
    std::thread::sleep(std::time::Duration::from_secs(LEASE_SECS as u64 + 1));
    worker(&db, "drain", Some(std::time::Duration::from_secs(60)));
    check(&db)
}

fn check(db: &Path) -> Result<String, String> {
    let store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let all = store.list(&Default::default()).map_err(|e| e.to_string())?;
    if all.len() != REQUESTS {
        return Err(format!(
            "{} callbacks stored, {REQUESTS} expected: requests were lost",
            all.len()
        ));
    }
    let stuck: Vec<String> = all
        .iter()
        .filter(|c| !c.state.is_terminal())
        .map(|c| format!("{}:{}", c.id, c.state))
        .collect();
    if !stuck.is_empty() {
        return Err(format!("stuck callbacks: {}", stuck.join(" ")));
    }
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if integrity != "ok" {
        return Err(format!("integrity_check: {integrity}"));
    }
    let (mut claims, mut reclaims, mut owners) = (0, 0, std::collections::HashSet::new());
    for cb in &all {
        let events = store.events(cb.id).map_err(|e| e.to_string())?;
        // Who holds the lease, and until when (epoch seconds), as the trace tells it.
        let mut holder: Option<(String, i64)> = None;
        for e in &events {
            let at = e.at.timestamp();
            let lease_until = e
                .detail
                .as_deref()
                .and_then(|d| {
                    d.split_whitespace()
                        .find_map(|kv| kv.strip_prefix("lease_until="))
                })
                .and_then(|v| v.parse::<i64>().ok());
            match e.action.as_str() {
                "claim" | "reclaim" => {
                    let by = e.actor.clone().unwrap_or_default();
                    if let Some((prev, until)) = &holder {
                        if *prev != by && *until > at {
                            return Err(format!("callback {}: {by} claimed at {at} while {prev} held it until {until}", cb.id));
                        }
                    }
                    let until = lease_until
                        .ok_or_else(|| format!("callback {}: claim without lease_until", cb.id))?;
                    holder = Some((by.clone(), until));
                    owners.insert(by);
                    if e.action == "claim" {
                        claims += 1
                    } else {
                        reclaims += 1
                    }
                }
                _ => {
                    if let (Some(actor), Some((h, until))) = (&e.actor, &holder) {
                        if e.to.is_active() && (actor != h || *until <= at) {
                            return Err(format!("callback {}: {actor} moved it to {} at {at} without the lease ({h} until {until})", cb.id, e.to));
                        }
                    }
                    if e.to.is_pending() || e.to.is_terminal() {
                        holder = None;
                    }
                }
            }
        }
        let attempts = store.attempts(cb.id).map_err(|e| e.to_string())?;
        let mut dialled: HashMap<u32, usize> = HashMap::new();
        for a in attempts.iter().filter(|a| a.leg == Leg::Customer) {
            *dialled.entry(a.attempt_no).or_default() += 1;
        }
        if let Some((n, count)) = dialled.iter().find(|(_, c)| **c > 1) {
            return Err(format!(
                "callback {}: customer attempt {n} dialled {count} times",
                cb.id
            ));
        }
    }
    Ok(format!(
        "{KILLS} workers SIGKILLed; {REQUESTS} callbacks all completed; {claims} claims, {reclaims} takeovers after expired leases, {} owners; integrity ok",
        owners.len()
    ))
}
