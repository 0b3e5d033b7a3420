//! The dispatcher's loop: sleep until the next due time, a lease to renew, or a nudge (a
//! new or changed request, an agent getting ready, the host's clock passing the instant
//! the loop sleeps until); claim due callbacks with a lease (one per ready agent); ask
//! [`plan::turn`] what to do with them; carry that out: ring an agent for each offer on an
//! originate thread, write the moves, recover callbacks a crash left in the middle of a
//! dispatch. The loop decides nothing itself.
//!
//! Every step writes its transition first, then acts, then notifies. The agent legs (a
//! turn's offers written together, each rung on an originate thread) are in `ring.rs`.
//!
//! About 900 lines: the loop, its wake-ups and the steps a turn carries out (renew, claim,
//! execute, recover) read together; the agent legs, offers, places, decisions and the
//! loop's signal are in the files below.
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
use crate::config::{AgentConfig, Config};
use crate::host::CentreMark;
use crate::model::{AttemptResult, CallbackId, CallbackRequest, Leg, State};
use crate::service::{CallbackService, Error};
use crate::store::{AttemptEnd, Outage, StoreError, Transition};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

mod decision;
mod offer;
mod places;
mod refusals;
mod ring;
mod signal;

use signal::Signal;

pub use decision::{Decision, DecisionError, Delivered};

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

/// A fresh call uuid (version 4, random), for a leg the engine may need to hang up while
/// it rings. The clock and a counter stand in if the system has no randomness to give.
pub(crate) fn call_uuid() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[8..].copy_from_slice(&n.to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A callback offered to an agent: what the agent-leg application needs.
#[derive(Debug, Clone)]
pub struct Offer {
    pub callback_id: CallbackId,
    pub agent: AgentConfig,
    /// The agent leg's attempt row.
    pub attempt_id: i64,
    pub rung_at: DateTime<Utc>,
    /// The agent leg's call uuid while it rings (to hang it up on a Reject in the panel).
    pub uuid: Option<String>,
}

/// A due callback with its agent picked, to be written and rung with the turn's others.
struct Pending {
    request: CallbackRequest,
    agent: AgentConfig,
    /// The transition to `offering`.
    change: Transition,
}

/// The dispatcher of this node.
pub struct Dispatcher {
    svc: Arc<CallbackService>,
    /// This node's name, the owner of its leases (fixed for the module's life: a reload
    /// does not change it).
    node_id: String,
    agents: Agents,
    offers: Mutex<BTreeMap<CallbackId, Offer>>,
    /// Previews playing on this node: the agent and the agent's call uuid.
    previews: Mutex<BTreeMap<CallbackId, (String, String)>>,
    /// Decisions an agent gave in the panel, until the preview takes them.
    decisions: Mutex<BTreeMap<CallbackId, (String, decision::Decision)>>,
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
    /// The wait that happened less the one told, for `/metrics`; and the callbacks
    /// measured (their first offer only).
    estimate_error: Option<prometheus::Histogram>,
    measured: Mutex<std::collections::BTreeSet<CallbackId>>,
    /// Calls waiting in the contact centre's queues that were offered a callback.
    offered: Mutex<std::collections::BTreeSet<String>>,
    /// Why the contact centre's agents could not be read last turn (logged once).
    centre_failing: Mutex<Option<String>>,
    /// Contact-centre agents held for callbacks at the front of their line.
    holds: Mutex<BTreeMap<String, crate::centre::Hold>>,
    /// When this node last freed each contact-centre agent from a callback (epoch
    /// seconds): the centre's own tables date only the end of its queue calls.
    centre_freed: Mutex<BTreeMap<String, i64>>,
    /// The contact-centre agent whose claim the centre last refused, by callback.
    centre_refused: Mutex<refusals::Refusals>,
}

/// How far ahead a hold sets an agent's ready time: renewed every turn (at least every
/// [`HOLD_TURN`]), so a hold this module stops renewing (a crash) lapses by itself.
const HOLD_SECS: i64 = 10;
/// How often the dispatcher looks at the contact centre (which tells nothing when it frees
/// an agent), and so for the agent it frees while some are held.
const HOLD_TURN: Duration = Duration::seconds(1);

/// Whether a queue offers callbacks to the callers of a holding line (fifos tell nothing
/// when a caller joins, so the loop looks every second).
fn watching_lines(cfg: &Config) -> bool {
    cfg.queues
        .values()
        .any(|q| q.dial.line_from.is_some() && q.dial.offer_after_wait.is_some())
}

/// Each queue with `agents-from`, with the contact centre's queue it names.
fn centre_links(cfg: &Config) -> Vec<(String, String)> {
    cfg.queues
        .values()
        .filter_map(|q| {
            q.dial
                .agents_from
                .as_ref()
                .map(|c| (q.name().to_string(), c.clone()))
        })
        .collect()
}

impl Dispatcher {
    pub fn new(svc: Arc<CallbackService>) -> Arc<Self> {
        let cfg = svc.config();
        let agents = Agents::new(&cfg.agents, cfg.dispatch.declines_to_away, svc.now());
        let node_id = cfg.settings.node_id.clone();
        Arc::new(Self {
            svc,
            node_id,
            agents,
            offers: Mutex::new(BTreeMap::new()),
            previews: Mutex::new(BTreeMap::new()),
            decisions: Mutex::new(BTreeMap::new()),
            held: Mutex::new(BTreeMap::new()),
            ringing: AtomicUsize::new(0),
            ringing_burst: RwLock::new(()),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            lateness: crate::metrics::lateness_histogram(),
            estimate_error: crate::metrics::estimate_error_histogram(),
            measured: Mutex::new(std::collections::BTreeSet::new()),
            offered: Mutex::new(std::collections::BTreeSet::new()),
            centre_failing: Mutex::new(None),
            holds: Mutex::new(BTreeMap::new()),
            centre_freed: Mutex::new(BTreeMap::new()),
            centre_refused: Mutex::new(refusals::Refusals::default()),
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

    /// How far the waits estimated when callbacks were made were from what happened
    /// (`/metrics`).
    pub fn estimate_error(&self) -> Option<&prometheus::Histogram> {
        self.estimate_error.as_ref()
    }

    /// A callback given an estimated wait when it was made is offered to an agent: the
    /// first time, the wait that happened (from its making to now) less the estimate.
    fn measure_estimate(&self, r: &CallbackRequest, now: DateTime<Utc>) {
        let (Some(h), Some(estimated)) = (
            &self.estimate_error,
            r.ivr_data
                .get(crate::estimate::ESTIMATE_KEY)
                .and_then(|t| t.parse::<i64>().ok()),
        ) else {
            return;
        };
        let mut measured = self.measured.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a node that has measured this many starts over (a re-offer of an older
        // one may then count twice, which moves no bucket much).
        if measured.len() >= 100_000 {
            measured.clear();
        }
        if measured.insert(r.id) {
            h.observe(((now - r.created_at).num_seconds() - estimated) as f64);
        }
    }

    fn node(&self) -> &str {
        &self.node_id
    }

    /// Applies a reloaded configuration's agents (the service already has the rest): see
    /// [`Agents::reconfigure`]. Returns the agent ids added and removed.
    pub fn reconfigure(&self, cfg: &crate::config::Config) -> (Vec<String>, Vec<String>) {
        let changed =
            self.agents
                .reconfigure(&cfg.agents, cfg.dispatch.declines_to_away, self.svc.now());
        // A new agent, queue or hour may make waiting callbacks dispatchable now. Until
        // the next turn says otherwise, the node may have agents to ring: a callback
        // stored before that turn's end must wake it (see [`Dispatcher::changed`]).
        {
            let mut g = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
            g.agentless = false;
            g.reloaded = true;
        }
        self.nudge();
        changed
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

    /// Wakes the loop now (an agent became ready or was released, a reload). Nudges that
    /// come before the loop has taken an earlier one share that one's turn: only the first
    /// signals the loop.
    pub fn nudge(&self) {
        let first = self
            .signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .nudge();
        if first {
            self.wake.notify_all();
        }
    }

    /// A callback was stored or changed (`r` as stored): wakes the loop unless a turn would
    /// find nothing new in it. Not woken: a node with no agent to ring (it claims nothing;
    /// the HTTP bench's node, a capture-only node), a loop already nudged that has not
    /// begun that turn (it reads the store after this change was committed), and a
    /// sleeping loop that wakes at or before the instant it would claim `r` (its turn then
    /// reads `r` from the store, as the next due time or as due) and whose instant the
    /// host's clock has not passed yet. A loop in the middle of a turn is nudged: the turn
    /// may have read the store before this change. So is a loop still asleep past its
    /// instant: the host's clock stepped beyond it (see [`Dispatcher::check_clock`]), and
    /// the loop would otherwise lie asleep until the runtime thread's next look, up to a
    /// second later, while a callback handed over from a queue waits for its agents to be
    /// held.
    pub fn changed(&self, r: &CallbackRequest) {
        let mut g = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
        if g.agentless || g.nudges != g.taken {
            return;
        }
        let claimable_at = r
            .due_at
            .filter(|_| r.state.is_pending())
            .map(|due| due - LOOKAHEAD);
        if let (Some(wake_at), Some(at)) = (g.wake_at, claimable_at) {
            if wake_at <= at && wake_at > self.svc.now() {
                return;
            }
        }
        let first = g.nudge();
        drop(g);
        if first {
            self.wake.notify_all();
        }
    }

    /// How many times the loop has been signalled, and how many turns it has run.
    pub fn wakes_and_turns(&self) -> (u64, u64) {
        let g = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
        (g.wakes, g.turns)
    }

    /// The host-clock instant the loop sleeps until, while it sleeps with a deadline.
    pub fn sleeping_until(&self) -> Option<DateTime<Utc>> {
        self.signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wake_at
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
            if g.nudge() {
                drop(g);
                self.wake.notify_all();
            }
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
        self.agents.stored(id);
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
        // The contact centre was told the agent was on a callback: it is free again.
        if self.agents.unclaim(id) {
            // While callbacks keep places, the agent is held before the centre sees it
            // free, and the loop matches it with the line at once: freed early (a short
            // callback), it would else go to the centre's highest-scored caller, who may
            // have joined after a waiting callback, before the next look.
            self.hold_on_release(id, now);
            // Dated before the centre sees it free, so no turn orders it by an older end.
            self.centre_freed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.to_string(), now.timestamp());
            if let Err(e) = self.svc.host().centre_mark(id, CentreMark::Free) {
                tracing::warn!("contact-centre agent {id} not set free again: {e}");
            }
            self.nudge();
        }
        if self.agents.release(id, how, now) {
            tracing::warn!("agent {id} set away after declining in a row");
            self.store_away(id, now);
        }
    }

    /// Records an agent set away by the dispatcher (declines, an unregistered phone), so
    /// no node offers it more until it is set ready again. A board read before the write
    /// then keeps it away here.
    fn store_away(&self, id: &str, now: DateTime<Utc>) {
        if let Err(e) = self
            .svc
            .store()
            .set_agent_ready(id, false, self.node(), now)
        {
            tracing::error!("agent {id}: away not stored: {e}");
        }
        self.agents.stored(id);
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
        let mut outage = Outage::default();
        loop {
            let mut retry = None;
            let turn = self.turn();
            let agentless = self.agentless();
            let next = match turn {
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
            g.turns += 1;
            if g.stop {
                break;
            }
            // Read before a reload that came meanwhile, it would be the old configuration's.
            g.agentless = agentless && !std::mem::take(&mut g.reloaded);
            if g.nudges != g.taken {
                g.taken = g.nudges;
                continue;
            }
            g.wake_at = wake_at;
            let (mut g, _) = self
                .wake
                .wait_timeout_while(g, wait, |s| !s.stop && s.nudges == s.taken)
                .unwrap_or_else(PoisonError::into_inner);
            g.wake_at = None;
            if g.stop {
                break;
            }
            g.taken = g.nudges;
        }
        // Wait for ringing agent legs (their originate threads) to come back.
        while self.ringing.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.end_holds();
    }

    /// Whether this node has no agent it could ever ring (see [`Signal::agentless`]).
    fn agentless(&self) -> bool {
        let cfg = self.svc.config();
        self.agents.is_empty() && centre_links(&cfg).is_empty() && !watching_lines(&cfg)
    }

    /// One pass: renew leases, claim what is due (one per ready agent), plan what to do
    /// with it ([`plan::turn`]) and do it. Returns when to look again.
    pub fn turn(self: &Arc<Self>) -> Result<Option<DateTime<Utc>>, Error> {
        let cfg = self.svc.config();
        let now = self.svc.now();
        let lease = cfg.settings.lease;
        self.renew(now, lease);
        // The contact centre's agents first, so the board below applies to them too.
        let links = centre_links(&cfg);
        let mut places = places::HeldPlaces::default();
        let mut centre = std::collections::BTreeSet::new();
        if !links.is_empty() {
            if let Some((agents, tiers)) = self.sync_centre(&links, now) {
                places = self.keep_places(&links, &agents, &tiers, now);
                centre = agents.into_iter().map(|a| a.name).collect();
            }
        } else if !self.agents.is_empty() {
            // A reload took the last agents-from away: the centre's agents go.
            self.agents.sync_centre(Some(&[]), now);
        }
        // Fifos tell nothing when a caller joins either: with an offer on a fifo's line,
        // look every second too.
        let watching_lines = watching_lines(&cfg);
        if !links.is_empty() || watching_lines {
            self.offer_in_queues(&cfg);
        }
        // A node without agents (capture only) has nothing to bring in or offer.
        if !self.agents.is_empty() {
            self.agents
                .sync(|| self.svc.store().agent_board(now), now)?;
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
        let reserved = places.agents();
        let mut claimed = Vec::new();
        // The contact centre's callers by queue, read once a turn for the callbacks taken
        // from its queues.
        let mut members = BTreeMap::new();
        // Likewise the callers of the holding lines callbacks were taken from.
        let mut lines = BTreeMap::new();
        if limit > 0 {
            for r in self
                .svc
                .store()
                .claim_due_ahead(self.node(), now, LOOKAHEAD, lease, limit)?
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
                        transcript_pending: false,
                        ahead: 0,
                        held_agent: None,
                        keeps_place: false,
                    });
                    continue;
                }
                if let (Some(h), Some(due)) = (&self.lateness, r.due_at) {
                    h.observe((now - due).num_milliseconds().max(0) as f64 / 1000.0);
                }
                let (do_not_call, transcript_pending) = match self
                    .on_do_not_call(&r, now)
                    .and_then(|dnc| Ok((dnc, !dnc && self.transcript_pending(&cfg, &r, now)?)))
                {
                    Ok(read) => read,
                    Err(e) => {
                        self.drop_claim(r.id, &e);
                        continue;
                    }
                };
                let ahead =
                    self.ahead_in_centre(&r, &mut members) + self.ahead_in_line(&r, &mut lines);
                let held_agent = if ahead == 0 && r.state == State::Due {
                    places.agent_for(&r)
                } else {
                    None
                };
                let keeps_place = places.keeps_place(&r);
                claimed.push(Claimed {
                    request: r,
                    running_here,
                    do_not_call,
                    transcript_pending,
                    ahead,
                    held_agent,
                    keeps_place,
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
            config: &cfg,
            claimed,
            upcoming,
            holding,
            claiming: limit > 0,
            reserved,
            centre,
        };
        let plan = self.agents.with(|pool| plan::turn(&snapshot, pool));
        self.execute(plan.actions, now);
        match failed {
            Some(e) => Err(e.into()),
            // The contact centre tells nothing when it frees an agent: with agents from it
            // (and while holding some), look again every second.
            None if places.holding || !links.is_empty() || watching_lines => Ok(Some(
                plan.wake_at
                    .map_or(now + HOLD_TURN, |w| w.min(now + HOLD_TURN)),
            )),
            None => Ok(plan.wake_at),
        }
    }

    /// Whether a claimed callback's number is on the do-not-call list, read only for a due
    /// callback the planner could offer (a known queue, not past its time).
    fn on_do_not_call(&self, r: &CallbackRequest, now: DateTime<Utc>) -> Result<bool, Error> {
        let gone = plan::past_its_time(r, plan::judged_at(r, now));
        if r.state != State::Due || gone || self.svc.config().queue(Some(&r.queue)).is_none() {
            return Ok(false);
        }
        Ok(self.svc.store().dnc_contains(&r.number)?)
    }

    /// Whether due callback `r` is to wait for its transcript: its queue waits for
    /// transcripts, it is within that wait of its first claim, and its recording's job is
    /// queued or running on a node whose transcription is on.
    fn transcript_pending(
        &self,
        cfg: &Config,
        r: &CallbackRequest,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let Some(queue) = cfg.queue(Some(&r.queue)) else {
            return Ok(false);
        };
        let limit = queue.dial.transcript_wait;
        let first = r.counts.first_claimed_at.unwrap_or(now);
        if r.state != State::Due
            || r.recording.is_none()
            || plan::judged_at(r, now) >= first + limit
        {
            return Ok(false);
        }
        self.svc.transcript_pending(r.id)
    }

    /// A callback's transcript was stored: if it was waiting for it, it is due now (and
    /// the loop woken), so its agent is rung with the tags the transcript gave.
    pub fn transcribed(&self, id: CallbackId) {
        let now = self.svc.now();
        let cfg = self.svc.config();
        let r = match self.svc.store().get(id) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(callback_id = id, "transcribed: not read: {e}");
                return;
            }
        };
        // The transcript may have moved it to another queue: the longest wait it may be in.
        let limit = cfg
            .queues
            .values()
            .map(|q| q.dial.transcript_wait)
            .max()
            .unwrap_or_else(Duration::zero);
        if !plan::waits_for_transcript(&r, limit, now) {
            return;
        }
        let mut t = Transition::new(State::Rescheduled, "transcript-ready");
        t.expect = Some(State::Rescheduled);
        t.due_at = Some(now);
        t.detail = Some("its transcript is stored; the agent is rung now".into());
        match self.svc.store().transition(id, &t, now) {
            Ok(_) => tracing::info!(callback_id = id, "callback {id}: transcript ready, due now"),
            Err(e) => tracing::debug!(callback_id = id, "not pulled forward: {e}"),
        }
        self.nudge();
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
}
