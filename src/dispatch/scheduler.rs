//! The dispatcher's loop: sleep until the next due time, a lease to renew, or a nudge (a
//! new or changed request, an agent getting ready, the host's clock passing the instant
//! the loop sleeps until); claim due callbacks with a lease (one per ready agent); ask
//! [`plan::turn`] what to do with them; carry that out: ring an agent for each offer on an
//! originate thread, write the moves, recover callbacks a crash left in the middle of a
//! dispatch. The loop decides nothing itself.
//!
//! Every step writes its transition first, then acts, then notifies.
//!
//! Recovery of a callback whose lease lapsed in an active state (the node died):
//! - `offering` / `previewing`: the customer was not dialled; the open agent leg is closed
//!   as an error and the callback is offered again, without using a customer attempt;
//! - `dialing`: the customer leg may have rung; it counts as an attempt that ended in an
//!   error, and the retry policy decides (a *new* attempt, never the same one twice);
//! - `connected`: the customer was reached: completed.

use super::agents::{Agents, Released};
use super::outcome;
use super::plan::{self, Action, Claimed, Snapshot, LOOKAHEAD};
use crate::config::AgentConfig;
use crate::host::{LegRequest, Target};
use crate::model::{AttemptResult, CallbackId, CallbackRequest, Leg, State};
use crate::service::{CallbackService, Error};
use crate::store::{AttemptEnd, NewAttempt, Outage, StoreError, Transition};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

/// How long after the agent answered the agent-leg application must have started.
const APP_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often a dispatcher whose database is at fault (full, read-only, locked) tries again.
const FAULT_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// How soon a turn that failed otherwise (a lost connection, say) is tried again.
const ERROR_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// A call uuid as FreeSWITCH makes them (hex digits and dashes): only such values travel
/// in a leg's variables (an API client's origin id may hold other characters).
pub(crate) fn is_call_uuid(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A callback offered to an agent: what the agent-leg application needs.
#[derive(Debug, Clone)]
pub struct Offer {
    pub callback_id: CallbackId,
    pub agent: AgentConfig,
    /// The agent leg's attempt row.
    pub attempt_id: i64,
    pub rung_at: DateTime<Utc>,
}

/// A due callback with its agent picked, to be written and rung with the turn's others.
struct Pending {
    request: CallbackRequest,
    agent: AgentConfig,
    /// The transition to `offering`.
    change: Transition,
}

#[derive(Default)]
struct Signal {
    stop: bool,
    nudges: u64,
    /// The host-clock instant the sleeping loop waits for (`None`: awake, or waiting for a
    /// nudge only).
    wake_at: Option<DateTime<Utc>>,
}

/// The dispatcher of this node.
pub struct Dispatcher {
    svc: Arc<CallbackService>,
    agents: Agents,
    offers: Mutex<BTreeMap<CallbackId, Offer>>,
    /// Callbacks this node holds a lease on, with the last renewal.
    held: Mutex<BTreeMap<CallbackId, DateTime<Utc>>>,
    ringing: AtomicUsize,
    /// Held (written) while a turn starts its ring threads; a ring thread whose originate
    /// came back at once waits on it (read) before its bookkeeping, so the turn's other
    /// agents are rung first (the store and the CPU go to the originates of a burst).
    ringing_burst: RwLock<()>,
    signal: Mutex<Signal>,
    wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Seconds from due time to claim, for `/metrics`.
    lateness: Option<prometheus::Histogram>,
}

impl Dispatcher {
    pub fn new(svc: Arc<CallbackService>) -> Arc<Self> {
        let cfg = svc.config();
        let agents = Agents::new(&cfg.agents, cfg.dispatch.declines_to_away, svc.now());
        Arc::new(Self {
            svc,
            agents,
            offers: Mutex::new(BTreeMap::new()),
            held: Mutex::new(BTreeMap::new()),
            ringing: AtomicUsize::new(0),
            ringing_burst: RwLock::new(()),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            lateness: crate::metrics::lateness_histogram(),
        })
    }

    pub fn service(&self) -> &CallbackService {
        &self.svc
    }

    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// How late this node has taken due callbacks since it started (`/metrics`).
    pub fn lateness(&self) -> Option<&prometheus::Histogram> {
        self.lateness.as_ref()
    }

    fn node(&self) -> &str {
        &self.svc.config().settings.node_id
    }

    /// Starts the loop on its own thread.
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name("callback-dispatch".into())
            .spawn(move || me.run())?;
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(h);
        Ok(())
    }

    /// Stops the loop and waits for it and for ringing agent legs to return.
    pub fn stop(&self) {
        self.signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        self.wake.notify_all();
        // The loop first (it starts ring threads), then every ring thread it started.
        loop {
            let handles: Vec<_> =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
            if handles.is_empty() {
                break;
            }
            for h in handles {
                if h.join().is_err() {
                    tracing::error!("a dispatcher thread panicked");
                }
            }
        }
    }

    /// Wakes the loop now (a request was stored or changed, an agent became ready).
    pub fn nudge(&self) {
        self.signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .nudges += 1;
        self.wake.notify_all();
    }

    /// Wakes the loop if the host's clock has reached the instant it sleeps until. The loop
    /// sleeps on the machine's monotonic clock for what the host's clock said was left; a
    /// host clock that steps forward would otherwise be seen only at the end of that sleep.
    /// FreeSWITCH's clock is the monotonic clock plus an offset that `switch_time_sync`
    /// resets (src/switch_time.c:609-633 at v1.10.12): by `fsctl sync_clock`
    /// (src/switch_core.c:2759-2761) and when its timer thread sees a virtual machine
    /// migrate or the clock skew (src/switch_time.c:1198-1223); the simulator's virtual
    /// clock steps whenever a test or a call moves it. The module calls this from its
    /// runtime function, which FreeSWITCH's runtime thread calls in a loop until it returns
    /// TERM (src/switch_loadable_module.c:111-124); it waits up to a second per call.
    pub fn check_clock(&self) {
        let mut g = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
        if g.wake_at.is_some_and(|at| self.svc.now() >= at) {
            g.wake_at = None;
            g.nudges += 1;
            drop(g);
            self.wake.notify_all();
        }
    }

    /// Sets an agent ready or away and wakes the loop. A ready agent pulls forward the
    /// callbacks waiting for an agent of its queues (or for it personally).
    pub fn set_agent(&self, id: &str, ready: bool) -> Result<(), super::agents::AgentError> {
        let now = self.svc.now();
        // What every node sees first (its next turn), then this node's picks.
        self.agents.check(id)?;
        self.svc
            .store()
            .set_agent_ready(id, ready, self.node(), now)
            .map_err(|e| super::agents::AgentError::NotStored(id.to_string(), e.to_string()))?;
        self.agents.set_state(id, ready, now)?;
        tracing::info!("agent {id} is {}", if ready { "ready" } else { "away" });
        if ready {
            if let Err(e) = self.pull_forward(id, now) {
                tracing::warn!("agent {id} ready: waiting callbacks not pulled forward: {e}");
            }
        }
        self.nudge();
        Ok(())
    }

    fn pull_forward(&self, agent: &str, now: DateTime<Utc>) -> Result<(), Error> {
        let Some(cfg) = self.agents.config(agent) else {
            return Ok(());
        };
        let waiting = self.svc.store().list(&crate::store::ListFilter {
            state: Some(State::Rescheduled),
            limit: Some(500),
            ..Default::default()
        })?;
        for r in waiting {
            let mine = match r.agent.as_deref() {
                Some(a) => a == agent,
                None => cfg.serves(&r.queue),
            };
            if !mine || r.due_at.is_none_or(|d| d <= now) {
                continue;
            }
            if r.counts.waits == 0 {
                continue;
            }
            let mut t = Transition::new(State::Rescheduled, "agent-ready");
            t.expect = Some(State::Rescheduled);
            t.due_at = Some(now);
            t.detail = Some(format!("agent {agent} is ready"));
            if let Err(e) = self.svc.store().transition(r.id, &t, now) {
                tracing::debug!(callback_id = r.id, "not pulled forward: {e}");
            }
        }
        Ok(())
    }

    /// The offer of a callback, taken by its agent-leg application.
    pub fn take_offer(&self, id: CallbackId) -> Option<Offer> {
        self.offers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }

    /// The offer of a callback, taken by the agent-leg application of `agent` only: a call
    /// someone else placed to the application (by hand) gets nothing.
    pub fn take_offer_for(&self, id: CallbackId, agent: &str) -> Option<Offer> {
        let mut offers = self.offers.lock().unwrap_or_else(PoisonError::into_inner);
        match offers.get(&id) {
            Some(o) if o.agent.id == agent => offers.remove(&id),
            _ => None,
        }
    }

    /// Takes the offer back if it is still this attempt's (not a newer offer of the same
    /// callback).
    fn withdraw(&self, id: CallbackId, attempt_id: i64) -> bool {
        let mut offers = self.offers.lock().unwrap_or_else(PoisonError::into_inner);
        match offers.get(&id) {
            Some(o) if o.attempt_id == attempt_id => offers.remove(&id).is_some(),
            _ => false,
        }
    }

    /// Ends an agent's busy spell here; an agent that declined too often in a row is set
    /// away for every node.
    pub(crate) fn release_agent(&self, id: &str, how: Released, now: DateTime<Utc>) {
        if self.agents.release(id, how, now) {
            tracing::warn!("agent {id} set away after declining in a row");
            self.store_away(id, now);
        }
    }

    /// Records an agent set away by the dispatcher (declines, an unregistered phone), so
    /// no node offers it more until it is set ready again.
    fn store_away(&self, id: &str, now: DateTime<Utc>) {
        if let Err(e) = self
            .svc
            .store()
            .set_agent_ready(id, false, self.node(), now)
        {
            tracing::error!("agent {id}: away not stored: {e}");
        }
    }

    /// Stops renewing a callback's lease (its dispatch ended).
    pub(crate) fn let_go(&self, id: CallbackId) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        self.nudge();
    }

    fn run(self: Arc<Self>) {
        let mut seen = 0;
        let mut outage = Outage::default();
        loop {
            let mut retry = None;
            let next = match self.turn() {
                Ok(next) => {
                    outage.ok("dispatcher");
                    next
                }
                Err(e) => {
                    let fault = match &e {
                        Error::Store(s) => s.fault(),
                        _ => None,
                    };
                    let back_off = outage.failed("dispatcher", &e, fault);
                    retry = Some(if back_off { FAULT_RETRY } else { ERROR_RETRY });
                    None
                }
            };
            let now = self.svc.now();
            // A failed turn is tried again soon, a database fault (full, read-only, locked)
            // at a slower pace; else sleep until the plan's deadline or a nudge.
            let (wait, wake_at) = match retry {
                Some(retry) => (retry, None),
                None => plan::sleep(next, now),
            };
            let mut g = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
            if g.stop {
                break;
            }
            if g.nudges != seen {
                seen = g.nudges;
                continue;
            }
            g.wake_at = wake_at;
            let (mut g, _) = self
                .wake
                .wait_timeout_while(g, wait, |s| !s.stop && s.nudges == seen)
                .unwrap_or_else(PoisonError::into_inner);
            g.wake_at = None;
            if g.stop {
                break;
            }
            seen = g.nudges;
        }
        // Wait for ringing agent legs (their originate threads) to come back.
        while self.ringing.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// One pass: renew leases, claim what is due (one per ready agent), plan what to do
    /// with it ([`plan::turn`]) and do it. Returns when to look again.
    pub fn turn(self: &Arc<Self>) -> Result<Option<DateTime<Utc>>, Error> {
        let cfg = self.svc.config();
        let now = self.svc.now();
        let lease = cfg.settings.lease;
        self.renew(now, lease);
        // A node without agents (capture only) has nothing to bring in or offer.
        if !self.agents.is_empty() {
            self.agents.sync(&self.svc.store().agent_board(now)?, now);
        }
        let limit = plan::claim_limit(
            self.agents.ready(),
            cfg.dispatch.max_ringing,
            self.ringing.load(Ordering::SeqCst),
        );
        let holding = !self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        let mut claimed = Vec::new();
        if limit > 0 {
            for r in self
                .svc
                .store()
                .claim_due(self.node(), now + LOOKAHEAD, lease, limit)?
            {
                let running_here = self
                    .held
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(r.id, now)
                    .is_some();
                if running_here && r.state != State::Due {
                    claimed.push(Claimed {
                        request: r,
                        running_here,
                        do_not_call: false,
                    });
                    continue;
                }
                if let (Some(h), Some(due)) = (&self.lateness, r.due_at) {
                    h.observe((now - due).num_milliseconds().max(0) as f64 / 1000.0);
                }
                let do_not_call = match self.on_do_not_call(&r, now) {
                    Ok(dnc) => dnc,
                    Err(e) => {
                        self.drop_claim(r.id, &e);
                        continue;
                    }
                };
                claimed.push(Claimed {
                    request: r,
                    running_here,
                    do_not_call,
                });
            }
        }
        // Read after the claim, so the claimed callbacks count by their new leases. A
        // failed read still lets this turn's claims be carried out first.
        let (upcoming, failed) = if limit > 0 {
            match self.svc.store().next_wakeup() {
                Ok(next) => (next, None),
                Err(e) => (None, Some(e)),
            }
        } else {
            (None, None)
        };
        let snapshot = Snapshot {
            now,
            config: cfg,
            claimed,
            upcoming,
            holding,
            claiming: limit > 0,
        };
        let plan = self.agents.with(|pool| plan::turn(&snapshot, pool));
        self.execute(plan.actions, now);
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(plan.wake_at),
        }
    }

    /// Whether a claimed callback's number is on the do-not-call list, read only for a due
    /// callback the planner could offer (a known queue, not past its time).
    fn on_do_not_call(&self, r: &CallbackRequest, now: DateTime<Utc>) -> Result<bool, Error> {
        let at = r.due_at.map_or(now, |d| d.clamp(now, now + LOOKAHEAD));
        let gone = r.expires_at.is_some_and(|e| e <= at) || r.window.until.is_some_and(|u| u <= at);
        if r.state != State::Due || gone || self.svc.config().queue(Some(&r.queue)).is_none() {
            return Ok(false);
        }
        Ok(self.svc.store().dnc_contains(&r.number)?)
    }

    /// Carries out a turn's plan: the moves and recoveries one by one, then the offers
    /// together ([`Dispatcher::ring_all`]).
    fn execute(self: &Arc<Self>, actions: Vec<Action>, now: DateTime<Utc>) {
        let mut offers = Vec::new();
        for action in actions {
            match action {
                Action::Move {
                    request,
                    change,
                    at,
                } => match self.transition(&request, change, at) {
                    Ok(_) => self.let_go(request.id),
                    Err(e) => self.drop_claim(request.id, &e),
                },
                Action::Fail { request, change } => {
                    // Nothing will ever dispatch it: say why instead of reclaiming.
                    if let Err(e) = self.transition(&request, change, now) {
                        tracing::error!(callback_id = request.id, "callback {}: {e}", request.id);
                    }
                    self.drop_claim(request.id, &Error::UnknownQueue(request.queue.clone()));
                }
                Action::Offer {
                    request,
                    agent,
                    mut change,
                } => {
                    change.expect = Some(request.state);
                    change.owner = Some(self.node().to_string());
                    offers.push(Pending {
                        request,
                        agent,
                        change,
                    });
                }
                Action::Recover { request, at } => {
                    let id = request.id;
                    if let Err(e) = self.recover(request.clone(), at) {
                        if let Error::UnknownQueue(q) = &e {
                            // Nothing will ever dispatch it: say why instead of reclaiming.
                            let mut t = Transition::new(State::Failed, "fail");
                            t.detail = Some(format!("queue '{q}' is no longer configured"));
                            if let Err(e) = self.transition(&request, t, now) {
                                tracing::error!(callback_id = id, "callback {id}: {e}");
                            }
                        }
                        self.drop_claim(id, &e);
                    }
                }
                Action::LetGo(id) => self.let_go(id),
            }
        }
        self.ring_all(offers, now);
    }

    fn renew(&self, now: DateTime<Utc>, lease: Duration) {
        let due: Vec<CallbackId> = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, at)| now - **at >= lease / 3)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            match self.svc.store().renew_lease(id, self.node(), now, lease) {
                Ok(()) => {
                    self.held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id, now);
                }
                Err(e @ (StoreError::LeaseLost { .. } | StoreError::NotFound(_))) => {
                    tracing::warn!(callback_id = id, "callback {id}: lease not renewed: {e}");
                    self.held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                }
                // A busy or failing database: kept, tried again at the next turn.
                Err(e) => tracing::warn!(callback_id = id, "callback {id}: renewing: {e}"),
            }
        }
    }

    fn transition(
        &self,
        r: &CallbackRequest,
        mut t: Transition,
        now: DateTime<Utc>,
    ) -> Result<CallbackRequest, Error> {
        t.expect = Some(r.state);
        t.owner = Some(self.node().to_string());
        let action = t.action.clone();
        let stored = self.svc.store().transition(r.id, &t, now)?;
        self.svc.notify(&action, &stored);
        Ok(stored)
    }

    /// Gives up a claim this turn could not dispatch (its lease lapses; a later claim
    /// recovers it).
    fn drop_claim(&self, id: CallbackId, e: &dyn std::fmt::Display) {
        tracing::error!(callback_id = id, "dispatching callback {id}: {e}");
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Writes the turn's offers (each `offering` and its agent leg) in one transaction,
    /// then rings each agent: a burst of callbacks due at the same second reaches the
    /// agents after one commit, not two per callback before it.
    fn ring_all(self: &Arc<Self>, offers: Vec<Pending>, now: DateTime<Utc>) {
        if offers.is_empty() {
            return;
        }
        let items: Vec<(CallbackId, Transition, NewAttempt)> = offers
            .iter()
            .map(|p| {
                let attempt = NewAttempt {
                    callback_id: p.request.id,
                    leg: Leg::Agent,
                    agent: Some(p.agent.id.clone()),
                    call_uuid: None,
                };
                (p.request.id, p.change.clone(), attempt)
            })
            .collect();
        let written = match self.svc.store().start_offers(&items, self.node(), now) {
            Ok(w) => w,
            Err(e) => {
                let e = Error::from(e);
                for p in offers {
                    self.release_agent(&p.agent.id, Released::Withdrawn, now);
                    self.drop_claim(p.request.id, &e);
                }
                return;
            }
        };
        let _burst = self
            .ringing_burst
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (p, w) in offers.into_iter().zip(written) {
            // Claimed up to LOOKAHEAD early: rung at the due instant, not before. (On a
            // virtual clock that does not move, the wait is at most LOOKAHEAD of real time.)
            if let Some(due) = p.request.due_at {
                if let Ok(early) = (due - self.svc.now()).to_std() {
                    std::thread::sleep(early.min(LOOKAHEAD.to_std().unwrap_or_default()));
                }
            }
            match w {
                Ok((stored, attempt)) => {
                    self.svc.notify(&p.change.action, &stored);
                    self.ring_offer(stored, p.agent, attempt.id, now);
                }
                Err(StoreError::AgentBusy { agent }) => {
                    // Another node offered this agent a callback first: this one goes
                    // back to be offered again at once, to someone free.
                    self.release_agent(&agent, Released::Withdrawn, now);
                    self.agent_taken(&p.request, &agent, now);
                }
                Err(e) => {
                    self.release_agent(&p.agent.id, Released::Withdrawn, now);
                    self.drop_claim(p.request.id, &Error::from(e));
                }
            }
        }
    }

    /// A claimed callback whose agent another node took at the same instant: due again a
    /// second later, and the agents read again so the next turn does not pick that one.
    fn agent_taken(&self, r: &CallbackRequest, agent: &str, now: DateTime<Utc>) {
        // A second later: the race is over by then, and no turn can spin on it.
        let mut t = Transition::new(State::Rescheduled, "agent-taken");
        t.due_at = Some(now + Duration::seconds(1));
        t.detail = Some(format!(
            "agent {agent} was offered another callback by another node first"
        ));
        if let Err(e) = self.transition(r, t, now) {
            tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
        }
        self.let_go(r.id);
        match self.svc.store().agent_board(now) {
            Ok(board) => self.agents.sync(&board, now),
            Err(e) => tracing::warn!("reading the agents: {e}"),
        }
    }

    /// Closes the legs a dead dispatch left open and moves the callback on.
    fn recover(&self, r: CallbackRequest, now: DateTime<Utc>) -> Result<(), Error> {
        tracing::warn!(
            callback_id = r.id,
            "callback {}: found {} with a lapsed lease (a dispatch was interrupted); recovering",
            r.id,
            r.state
        );
        for a in self.svc.store().attempts(r.id)? {
            if a.ended_at.is_none() {
                let end = AttemptEnd {
                    answered_at: a.answered_at,
                    hangup_cause: "INTERRUPTED".into(),
                    result: if r.state == State::Connected && a.leg == Leg::Customer {
                        AttemptResult::Answered
                    } else {
                        AttemptResult::Error
                    },
                };
                self.svc.store().finish_attempt(a.id, &end, now)?;
            }
        }
        let result = match r.state {
            State::Connected => {
                let mut t = Transition::new(State::Completed, "recover");
                t.detail =
                    Some("the dispatch was interrupted after the customer was reached".into());
                self.transition(&r, t, now)?;
                self.let_go(r.id);
                return Ok(());
            }
            State::Dialing => (Leg::Customer, AttemptResult::Error),
            _ => (Leg::Agent, AttemptResult::Error),
        };
        outcome::apply(
            &self.svc,
            &r,
            result.0,
            result.1,
            self.node(),
            Some("recovery"),
            now,
        )?;
        self.let_go(r.id);
        Ok(())
    }

    /// Rings the agent of a written offer on an originate thread.
    fn ring_offer(
        self: &Arc<Self>,
        r: CallbackRequest,
        agent: AgentConfig,
        attempt_id: i64,
        now: DateTime<Utc>,
    ) {
        let leg = self.agent_leg(&r, &agent);
        self.offers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                r.id,
                Offer {
                    callback_id: r.id,
                    agent: agent.clone(),
                    attempt_id,
                    rung_at: now,
                },
            );
        self.ringing.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        let (id, agent_id) = (r.id, agent.id.clone());
        let spawned = std::thread::Builder::new()
            .name("callback-ring".into())
            .spawn(move || {
                me.ring(r, agent, attempt_id, leg);
                me.ringing.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(h) => {
                let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
                // Finished ring threads are joined as new ones start; `stop` joins the rest.
                let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut *threads)
                    .into_iter()
                    .partition(|t| t.is_finished());
                *threads = running;
                threads.push(h);
                drop(threads);
                for t in done {
                    let _ = t.join();
                }
            }
            Err(e) => {
                self.ringing.fetch_sub(1, Ordering::SeqCst);
                tracing::error!("cannot start an originate thread: {e}");
                self.take_offer(id);
                self.release_agent(&agent_id, Released::Withdrawn, now);
                let end = AttemptEnd {
                    answered_at: None,
                    hangup_cause: "ORIGINATE_ERROR".into(),
                    result: AttemptResult::Error,
                };
                let moved_on = self
                    .svc
                    .store()
                    .finish_attempt(attempt_id, &end, now)
                    .and_then(|_| self.svc.store().get(id))
                    .map_err(Error::from)
                    .and_then(|current| {
                        outcome::apply(
                            &self.svc,
                            &current,
                            Leg::Agent,
                            AttemptResult::Error,
                            self.node(),
                            None,
                            now,
                        )
                    });
                if let Err(e) = moved_on {
                    // Its lease lapses and recovery offers it again.
                    tracing::error!(callback_id = id, "callback {id}: {e}");
                }
                self.let_go(id);
            }
        }
    }

    fn agent_leg(&self, r: &CallbackRequest, agent: &AgentConfig) -> LegRequest {
        let d = &self.svc.config().dispatch;
        let digits = r.number.trim_start_matches('+');
        let mut variables = vec![
            ("callback_type".to_string(), r.kind.as_str().to_string()),
            (
                "callback_attempt".to_string(),
                (r.customer_attempts + 1).to_string(),
            ),
            ("callback_agent".to_string(), agent.id.clone()),
        ];
        if let Some(u) = r.origin_uuid.as_ref().filter(|u| is_call_uuid(u)) {
            variables.push(("callback_origin_uuid".to_string(), u.clone()));
        }
        LegRequest {
            callback_id: r.id,
            leg: Leg::Agent,
            target: Target::Agent {
                id: agent.id.clone(),
                dial: agent.dial.clone(),
            },
            timeout_secs: d.agent_ring_secs,
            caller_id_name: d.agent_caller_id_name.replace("{number}", digits),
            caller_id_number: r.number.clone(),
            variables,
            application: Some(("callback_agent".into(), r.id.to_string())),
        }
    }

    /// On an originate thread: rings the agent. Answered: the agent-leg application takes
    /// over on the agent's call. Not answered: the leg is recorded and the callback is
    /// offered again (no customer attempt used).
    fn ring(&self, r: CallbackRequest, agent: AgentConfig, attempt_id: i64, leg: LegRequest) {
        let outcome = self.svc.host().originate(&leg);
        drop(
            self.ringing_burst
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let (cause, result) = match &outcome {
            Ok(o) if o.answered => {
                // The agent-leg application takes the offer as it starts. If it never does
                // (the leg was answered but the application did not run), the offer is
                // withdrawn so neither the agent nor the callback stays stuck.
                let deadline = std::time::Instant::now() + APP_START_TIMEOUT;
                let still_offered = || {
                    self.offers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&r.id)
                        .is_some_and(|o| o.attempt_id == attempt_id)
                };
                while std::time::Instant::now() < deadline {
                    if !still_offered() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                // Free the agent's phone: it is off-hook in a call that will do nothing.
                if let Some(uuid) = &o.uuid {
                    if let Err(e) = self.svc.host().hangup(uuid, "NORMAL_CLEARING") {
                        tracing::warn!(callback_id = r.id, "hanging up {uuid}: {e}");
                    }
                }
                tracing::error!(
                    callback_id = r.id,
                    "agent {} answered but callback_agent did not start on the call; offering again",
                    agent.id
                );
                ("AGENT_APP_NOT_STARTED".to_string(), AttemptResult::Error)
            }
            Ok(o) => {
                let cause = o.cause.clone().unwrap_or_else(|| "NO_ANSWER".into());
                let result = crate::model::classify_hangup(&cause, None);
                (cause, result)
            }
            Err(e) => {
                tracing::error!(callback_id = r.id, "ringing agent {}: {e}", agent.id);
                ("ORIGINATE_ERROR".to_string(), AttemptResult::Error)
            }
        };
        let now = self.svc.now();
        // The application may have taken the offer if the host answered after all.
        if !self.withdraw(r.id, attempt_id) {
            return;
        }
        // Whatever kept the agent from taking it (no answer, busy, not registered, no
        // route, a refused dial string) counts toward setting the agent away, so an agent
        // that cannot be reached does not take every callback in turn.
        let declined = cause != "AGENT_APP_NOT_STARTED";
        let end = AttemptEnd {
            answered_at: None,
            hangup_cause: cause.clone(),
            result,
        };
        if let Err(e) = self.svc.store().finish_attempt(attempt_id, &end, now) {
            tracing::error!(callback_id = r.id, "recording agent leg: {e}");
        }
        let how = if declined {
            Released::Declined
        } else {
            Released::Withdrawn
        };
        self.release_agent(&agent.id, how, now);
        // The host says the agent's phone is not registered: no use offering it more.
        if cause == "USER_NOT_REGISTERED" && self.agents.set_state(&agent.id, false, now).is_ok() {
            self.store_away(&agent.id, now);
            tracing::warn!(
                "agent {} set away: the phone ({}) is not registered",
                agent.id,
                agent.dial
            );
        }
        tracing::info!(
            callback_id = r.id,
            "callback {}: agent {} {result} ({cause})",
            r.id,
            agent.id
        );
        let current = match self.svc.store().get(r.id) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
                self.let_go(r.id);
                return;
            }
        };
        // Let go first: once the transition below makes it claimable again, a new
        // dispatch of it must not lose its lease renewal to this thread's late let-go.
        self.let_go(r.id);
        if current.state == State::Offering {
            if let Err(e) = outcome::apply(
                &self.svc,
                &current,
                Leg::Agent,
                result,
                self.node(),
                Some(&agent.id),
                now,
            ) {
                tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
            }
        }
    }
}
