//! The facade every front end calls: dialplan applications, the fs_cli `callback` command,
//! the HTTP API. It validates input (numbers, zones, times, keys), applies the schedule
//! rules, writes to the store first, and then notifies the host of the transition.
//! About 800 lines: the facade's lifecycle doors are kept together so each can be read
//! beside the others (the rest is split out below).
//!
//! - this file: the service, new requests, recordings, traces, cancel, wrap-up, purge;
//! - `input.rs`: what a front end hands in, and its bounds;
//! - `amend.rs`: changes to a waiting callback, and the caps every change passes;
//! - `error.rs`: the [`Error`] every door words.

use crate::clock::Clock;
use crate::config::{Config, QueueConfig};
use crate::host::{Host, Notification};
use crate::model::{
    Attempt, AttemptResult, CallbackId, CallbackRequest, CallbackType, Draft, Leg, NumberType,
    Recording, Source, State, Window,
};
use crate::number::NumberError;
use crate::schedule::{
    self, parse_zone, plan_due, DayGrid, Plan, ScheduleError, SlotUsage, ZoneError,
};
use crate::store::{
    CreateOptions, CreateOutcome, Event, JobState, ListFilter, Stats, Store, StoreError,
    TranscriptionJob, Transition,
};
use crate::transcribe::{Engine, EngineStatus, Notifier};
pub use crate::when::Requested;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

mod amend;
#[cfg(test)]
mod caps_tests;
pub use amend::{check_window, window_text};
mod error;
mod input;

pub use amend::Amendment;
pub use error::Error;
pub use input::{check_idempotency_key, NewRequest, WrapUp, MAX_IDEMPOTENCY_KEY};
use input::{
    check_text, is_token, wav_reason, MAX_DATA_ENTRIES, MAX_DATA_KEY_CHARS, MAX_DATA_VALUE_CHARS,
    MAX_KEY_CHARS,
};

/// The whole story of one callback.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub request: CallbackRequest,
    pub events: Vec<Event>,
    pub attempts: Vec<Attempt>,
    /// The latest transcription job of its recording, if it has one.
    pub transcription: Option<TranscriptionJob>,
    /// Why a job that is still waiting cannot run now (transcription off, and why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription_off: Option<String>,
    /// How long before its first offer to an agent the transcript was stored (negative:
    /// after it, the agent was rung without it), in seconds; `None` until both happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript_before_offer_s: Option<i64>,
}

impl Trace {
    /// The seconds from the first `transcribed` event to the first `offer` (see
    /// [`Trace::transcript_before_offer_s`]).
    fn transcript_lead(events: &[Event]) -> Option<i64> {
        let first = |action: &str| events.iter().find(|e| e.action == action).map(|e| e.at);
        Some((first("offer")? - first("transcribed")?).num_seconds())
    }
}

/// What the service knows of transcription: the engine (for its status) and how to wake
/// the workers after a request queued a recording. Empty: nothing to report or wake.
#[derive(Debug, Clone, Default)]
pub struct TranscriptionLink {
    pub engine: Option<Arc<Engine>>,
    pub notifier: Option<Notifier>,
}

/// Refuses (409) to route a callback that is not waiting: one being dispatched may still be
/// on a call here even when its lease lapsed, and moving it back to waiting would dial the
/// customer twice.
fn waiting(r: &CallbackRequest, doing: &str) -> Result<(), Error> {
    if r.state.is_pending() {
        Ok(())
    } else {
        Err(Error::Conflict {
            code: "invalid-state",
            message: format!(
                "callback {} is {}, not waiting: cannot {doing}",
                r.id, r.state
            ),
        })
    }
}

/// What the service calls after every change, with the callback as stored.
pub type Waker = Box<dyn Fn(&CallbackRequest) + Send + Sync>;

/// The code of the per-number cap's refusal.
pub const TOO_MANY_PENDING: &str = "too-many-pending";

/// How many locks the per-number cap's check is spread over ([`CallbackService::caps_lock`]).
const CAPS_LOCKS: usize = 64;

/// Slot usage answered by the store. A store error counts the slot as full (never book
/// blind) and is kept for [`StoreUsage::finish`], so the caller reports it instead of a
/// misleading "slot full".
struct StoreUsage<'a> {
    store: &'a dyn Store,
    queue: &'a str,
    failure: RefCell<Option<StoreError>>,
}

impl<'a> StoreUsage<'a> {
    fn new(store: &'a dyn Store, queue: &'a str) -> Self {
        Self {
            store,
            queue,
            failure: RefCell::new(None),
        }
    }

    fn finish(self) -> Result<(), StoreError> {
        self.failure.into_inner().map_or(Ok(()), Err)
    }
}

impl SlotUsage for StoreUsage<'_> {
    fn used(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
        self.store
            .count_due_between(self.queue, start, end)
            .unwrap_or_else(|e| {
                self.failure.borrow_mut().get_or_insert(e);
                u32::MAX
            })
    }
}

/// A change that sets a number or a time, new request or existing callback: what
/// [`CallbackService::check_caps`] checks.
struct Change<'a> {
    /// The number as given (a new request's, a new number), or the callback's own.
    number: &'a str,
    /// `number` is already what the number policy made of the input, in this change (a new
    /// request normalises first, so a bad number is named before other fields): the
    /// phone-number library is the dearest step of a create, so it runs once.
    normalized: bool,
    /// The callback changed; `None` for a new request.
    callback: Option<&'a CallbackRequest>,
    /// The time the change sets, if it sets one.
    timing: Option<Timing<'a>>,
    /// A new request's idempotency key (a retry adds no callback to the number).
    idempotency_key: Option<&'a str>,
}

/// A time asked for, with what the schedule rules read it against.
struct Timing<'a> {
    kind: CallbackType,
    when: &'a Requested,
    window: &'a Window,
    queue: &'a QueueConfig,
    zone: Tz,
}

impl<'a> Change<'a> {
    /// A callback made due now as it is (Call Now): its number is checked again, its
    /// time is the dispatcher's to check against hours and window before it dials.
    fn unchanged(r: &'a CallbackRequest) -> Self {
        Self {
            number: &r.number,
            normalized: false,
            callback: Some(r),
            timing: None,
            idempotency_key: None,
        }
    }
}

/// What the caps let through: the number in E.164, and the due time planned (when the
/// change set a time).
struct Checked {
    number: String,
    plan: Option<Plan>,
}

/// The engine's front door.
pub struct CallbackService {
    store: Arc<dyn Store>,
    /// Swapped whole by [`CallbackService::reconfigure`]; each operation takes one
    /// snapshot ([`CallbackService::config`]) and works with it to the end.
    config: std::sync::RwLock<Arc<Config>>,
    clock: Arc<dyn Clock>,
    host: Arc<dyn Host>,
    transcription: TranscriptionLink,
    /// Called after every change with the callback as stored (the dispatcher's nudge, which
    /// it may coalesce), once connected.
    waker: std::sync::OnceLock<Waker>,
    /// Held from the per-number cap's count to the write it allows, one lock per share of
    /// the numbers ([`CallbackService::caps_lock`]).
    caps_locks: Vec<std::sync::Mutex<()>>,
}

impl CallbackService {
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        host: Arc<dyn Host>,
    ) -> Self {
        Self {
            store,
            config: std::sync::RwLock::new(config),
            clock,
            host,
            transcription: TranscriptionLink::default(),
            waker: std::sync::OnceLock::new(),
            caps_locks: (0..CAPS_LOCKS).map(|_| std::sync::Mutex::new(())).collect(),
        }
    }

    /// The lock held from the per-number cap's count for `number` (E.164) to the write it
    /// allows: two requests at once for one number cannot both pass the cap. One of
    /// [`CAPS_LOCKS`] by a hash of the number, not one for all: creates for other numbers
    /// (the HTTP bench's 32 clients) would otherwise wait for each other's checks and
    /// writes, and never reach the store together for it to commit them as one.
    pub(crate) fn caps_lock(&self, number: &str) -> std::sync::MutexGuard<'_, ()> {
        self.caps_locks[self.caps_lock_index(number)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Which of the cap's locks guards `number`.
    fn caps_lock_index(&self, number: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        number.hash(&mut h);
        usize::try_from(h.finish() % self.caps_locks.len() as u64).unwrap_or(0)
    }

    /// Connects a function called after every change with the callback as stored (once;
    /// later calls are ignored): the dispatcher wakes for a new or moved callback instead
    /// of at its next look, unless it would look in time anyway.
    pub fn set_waker(&self, f: Waker) {
        let _ = self.waker.set(f);
    }

    /// The whisper engine, when transcription is configured (the customer leg's phrase
    /// check uses it; it loads the model on first use).
    pub fn transcription_engine(&self) -> Option<Arc<Engine>> {
        self.transcription.engine.clone()
    }

    /// Connects the transcription engine and workers (the module does, when configured).
    pub fn with_transcription(mut self, link: TranscriptionLink) -> Self {
        self.transcription = link;
        self
    }

    /// The configuration in force: a snapshot that a `callback reload` does not change
    /// under its holder.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts a new configuration in force for every operation that starts after this
    /// (queues, hours, numbers, agents' and staff's settings, IVR profiles, limits). The
    /// caller has validated it; what only a restart applies is the caller's to say.
    pub fn reconfigure(&self, config: Arc<Config>) {
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    /// The telephony host the service notifies (and the dispatcher originates through).
    pub fn host(&self) -> &Arc<dyn Host> {
        &self.host
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Tells the host what happened; the store already holds it.
    pub(crate) fn notify(&self, action: &str, r: &CallbackRequest) {
        tracing::info!(
            callback_id = r.id,
            queue = %r.queue,
            "callback {} {action}: {} ({}), due {}",
            r.id,
            r.state,
            r.kind,
            r.due_at.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into())
        );
        self.host.emit(&Notification {
            action: action.to_string(),
            callback_id: r.id,
            state: r.state,
            queue: r.queue.clone(),
            kind: r.kind,
            due: r.due_at,
            transcript: None,
            tags: BTreeMap::new(),
        });
        if let Some(wake) = self.waker.get() {
            wake(r);
        }
    }

    fn queue_config<'c>(cfg: &'c Config, name: Option<&str>) -> Result<&'c QueueConfig, Error> {
        cfg.queue(name).ok_or_else(|| {
            Error::UnknownQueue(name.unwrap_or(&cfg.settings.default_queue).to_string())
        })
    }

    fn zone_or(&self, name: Option<&str>, fallback: Tz) -> Result<Tz, Error> {
        match name.map(str::trim).filter(|z| !z.is_empty()) {
            Some(z) => Ok(parse_zone(z)?),
            None => Ok(fallback),
        }
    }

    /// Applies the schedule rules, asking the store how full slots are.
    fn plan(
        &self,
        kind: CallbackType,
        when: &Requested,
        window: &Window,
        queue: &QueueConfig,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Plan, Error> {
        let usage = StoreUsage::new(self.store.as_ref(), queue.name());
        let plan = plan_due(kind, when, window, &queue.rules, zone, now, &usage);
        usage.finish()?;
        Ok(plan?)
    }

    /// Validates, plans and stores a new request (or returns the one it repeats).
    pub fn request(&self, req: NewRequest) -> Result<(CallbackRequest, CreateOutcome), Error> {
        let cfg = self.config();
        let now = self.clock.now();
        let queue = Self::queue_config(&cfg, req.queue.as_deref())?;
        let number = cfg.numbers.normalize(&req.number)?;
        let zone = self.zone_or(req.time_zone.as_deref(), queue.zone())?;
        self.check_fields(&req)?;
        // The type must be the one its time implies (the one rule, `Requested::implied_type`);
        // an agent preview may be asked for at any time.
        if req.kind != CallbackType::AgentPreview && req.kind != req.when.implied_type() {
            return Err(match req.kind {
                CallbackType::Immediate => Error::invalid(
                    "when",
                    "an immediate callback takes no time; use a delayed or scheduled one",
                ),
                CallbackType::Delayed => {
                    Error::invalid("when", "a delayed callback needs a delay such as +15m")
                }
                _ => Error::invalid("when", "a scheduled callback needs a date and time"),
            });
        }
        if let Requested::After(d) = req.when {
            if d <= chrono::Duration::zero() {
                return Err(Error::invalid("when", "the delay must be positive"));
            }
        }
        amend::check_window(&req.window, now)?;
        // From the cap's count to the insert: two requests at once for one number cannot
        // both pass it (the store serialises its writes anyway).
        let _one_at_a_time = self.caps_lock(&number);
        let checked = self.check_caps(
            &Change {
                number: &number,
                normalized: true,
                callback: None,
                timing: Some(Timing {
                    kind: req.kind,
                    when: &req.when,
                    window: &req.window,
                    queue,
                    zone,
                }),
                idempotency_key: req.idempotency_key.as_deref(),
            },
            now,
        )?;
        let Some(plan) = checked.plan else {
            return Err(Error::invalid("when", "no time was planned"));
        };
        let desired_at = match req.when {
            Requested::Local(_) | Requested::At(_) => Some(plan.due_at),
            _ => None,
        };
        let draft = Draft {
            kind: req.kind,
            number,
            number_type: req.number_type,
            time_zone: zone.name().to_string(),
            desired_at,
            window: req.window,
            queue: queue.name().to_string(),
            agent: req.agent,
            remark: req
                .remark
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            ivr_data: req.ivr_data,
            source: req.source,
            origin_uuid: req.origin_uuid,
            idempotency_key: req.idempotency_key,
            recording: req.recording,
            tags: req.tags,
            state: State::Scheduled,
            due_at: Some(plan.due_at),
            // The time to live counts from the due time: a callback booked for next week
            // does not expire before it was due.
            expires_at: queue.retry.ttl.map(|ttl| plan.due_at.max(now) + ttl),
        };
        let options = CreateOptions {
            merge_pending: cfg.settings.merge_pending,
            slot: plan.slot,
            actor: req.actor,
            request_hash: req.request_hash,
        };
        let (stored, outcome) = self.store.create(&draft, &options, now)?;
        // The store queued the recording with the request; wake a worker for it.
        if draft.recording.is_some() && outcome != CreateOutcome::Existing {
            if let Some(n) = &self.transcription.notifier {
                n.notify();
            }
        }
        match outcome {
            CreateOutcome::Created => self.notify("created", &stored),
            CreateOutcome::Merged => self.notify("merged", &stored),
            CreateOutcome::Existing => {}
        }
        Ok((stored, outcome))
    }

    fn check_fields(&self, req: &NewRequest) -> Result<(), Error> {
        let cfg = self.config();
        if let Some(key) = &req.idempotency_key {
            if !is_token(key, MAX_KEY_CHARS) {
                return Err(Error::invalid(
                    "idempotency_key",
                    format!("must be 1-{MAX_KEY_CHARS} characters of letters, digits and -_.:@"),
                ));
            }
        }
        if let Some(agent) = &req.agent {
            if !is_token(agent, 64) {
                return Err(Error::invalid(
                    "agent",
                    "must be 1-64 characters of letters, digits and -_.:@",
                ));
            }
        }
        if let Some(uuid) = &req.origin_uuid {
            if !is_token(uuid, 64) {
                return Err(Error::invalid(
                    "origin_uuid",
                    "must be a call uuid (letters, digits and -)",
                ));
            }
        }
        if let Some(remark) = &req.remark {
            check_text("remark", remark, cfg.settings.max_remark_chars)?;
        }
        for (field, map) in [("ivr_data", &req.ivr_data), ("tags", &req.tags)] {
            if map.len() > MAX_DATA_ENTRIES {
                return Err(Error::invalid(
                    field,
                    format!("more than {MAX_DATA_ENTRIES} entries"),
                ));
            }
            for (k, v) in map {
                if !is_token(k, MAX_DATA_KEY_CHARS) {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "key '{k}' must be 1-{MAX_DATA_KEY_CHARS} letters, digits or -_.:@"
                        ),
                    ));
                }
                check_text(field, v, MAX_DATA_VALUE_CHARS)?;
            }
        }
        Ok(())
    }

    /// Stores a WAV sent after the request (a mobile app's spoken request) under a
    /// server-made name in the recordings directory, attaches it and queues its
    /// transcription. Refused (and nothing kept) when the callback is finished, the bytes
    /// are not a WAV with audio, or it is longer than `transcribe-max-seconds`.
    pub fn attach_recording(
        &self,
        id: CallbackId,
        wav: &[u8],
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        let cfg = self.config();
        let now = self.clock.now();
        let current = self.store.get(id)?;
        if current.state.is_terminal() {
            return Err(Error::invalid(
                "recording",
                format!(
                    "callback {id} is {}: too late for a recording",
                    current.state
                ),
            ));
        }
        if wav.is_empty() {
            return Err(Error::invalid(
                "recording",
                "the upload is empty: send the WAV file's bytes as the body",
            ));
        }
        let dir = crate::recording::RecordingDir::new(&cfg.settings.recordings_dir);
        let refused = |e: crate::recording::RecordingError| {
            tracing::warn!("callback {id}: recording refused: {e}");
            Error::invalid("recording", "cannot store the recording (see the log)")
        };
        let path = dir.fresh(now).map_err(refused)?;
        // From here on, any refusal removes the file: nothing is kept on an error.
        let kept = (|| {
            std::fs::write(&path, wav).map_err(|source| {
                refused(crate::recording::RecordingError::Io {
                    path: path.display().to_string(),
                    source,
                })
            })?;
            let rec = crate::recording::inspect(&path).map_err(|e| match e {
                crate::recording::RecordingError::Io { .. } => refused(e),
                other => Error::invalid(
                    "recording",
                    format!("not a usable WAV file: {}", wav_reason(&other)),
                ),
            })?;
            self.check_recording_length(&rec)?;
            Ok(self.store.attach_recording(id, &rec, actor, now)?)
        })();
        match kept {
            Ok(r) => {
                if let Some(n) = &self.transcription.notifier {
                    n.notify();
                }
                self.notify("recording", &r);
                Ok(r)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Refuses a recording longer than `transcribe-max-seconds`: one limit for an upload
    /// over HTTP and a file `callback_capture` adopts.
    pub fn check_recording_length(&self, rec: &Recording) -> Result<(), Error> {
        let cfg = self.config();
        let max = cfg.transcribe.engine.limits.max_seconds;
        if rec.duration_ms > max.saturating_mul(1000) {
            return Err(Error::invalid(
                "recording",
                format!("longer than {max} seconds"),
            ));
        }
        Ok(())
    }

    pub fn get(&self, id: CallbackId) -> Result<CallbackRequest, Error> {
        Ok(self.store.get(id)?)
    }

    /// Whether callback `id`'s latest recording is still to be transcribed by a running
    /// transcription (workers started, the model not refused): a dispatcher may wait for it.
    pub fn transcript_pending(&self, id: CallbackId) -> Result<bool, Error> {
        let on = self.transcription.notifier.is_some()
            && self
                .transcription
                .engine
                .as_ref()
                .is_some_and(|e| !matches!(e.status(), EngineStatus::Off(_)));
        if !on {
            return Ok(false);
        }
        Ok(self
            .store
            .transcription(id)?
            .is_some_and(|j| matches!(j.state, JobState::Queued | JobState::Running)))
    }

    pub fn trace(&self, id: CallbackId) -> Result<Trace, Error> {
        let transcription = self.store.transcription(id)?;
        let waiting = transcription
            .as_ref()
            .is_some_and(|j| matches!(j.state, JobState::Queued | JobState::Running));
        let transcription_off = match (&self.transcription.engine, waiting) {
            (Some(engine), true) => match engine.status() {
                EngineStatus::Off(reason) => Some(reason),
                EngineStatus::NotLoaded | EngineStatus::Ready => None,
            },
            _ => None,
        };
        let events = self.store.events(id)?;
        Ok(Trace {
            request: self.store.get(id)?,
            transcript_before_offer_s: Trace::transcript_lead(&events),
            events,
            attempts: self.store.attempts(id)?,
            transcription,
            transcription_off,
        })
    }

    pub fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, Error> {
        let cfg = self.config();
        if let Some(q) = &filter.queue {
            Self::queue_config(&cfg, Some(q))?;
        }
        Ok(self.store.list(filter)?)
    }

    /// Withdraws a callback; wins over a dispatcher's lease.
    pub fn cancel(&self, id: CallbackId, actor: &str) -> Result<CallbackRequest, Error> {
        let mut t = Transition::new(State::Cancelled, "cancel");
        t.actor = Some(actor.to_string());
        let r = self.store.transition(id, &t, self.clock.now())?;
        self.notify("cancel", &r);
        Ok(r)
    }

    /// Refuses (400, field `agent`) an agent that is not configured or does not take
    /// callbacks of `queue`: a callback personal to them would wait for ever, or ring a
    /// phone outside the queue's team.
    pub fn check_agent_serves(&self, agent: &str, queue: &str) -> Result<(), Error> {
        self.check_agent(agent)?;
        if self
            .config()
            .agents
            .iter()
            .any(|a| a.id == agent && a.queues.iter().any(|q| q == queue))
        {
            Ok(())
        } else {
            Err(Error::invalid(
                "agent",
                format!("agent '{agent}' does not take callbacks of queue '{queue}'"),
            ))
        }
    }

    fn check_agent(&self, agent: &str) -> Result<(), Error> {
        let cfg = self.config();
        if cfg.agents.iter().any(|a| a.id == agent) {
            Ok(())
        } else {
            Err(Error::invalid(
                "agent",
                format!("no agent '{agent}' in callback.conf.xml"),
            ))
        }
    }

    /// Refuses a disposition code that is not configured (`do-not-call` always exists).
    pub fn check_disposition(&self, code: &str) -> Result<(), Error> {
        let cfg = self.config();
        let known = &cfg.dispatch.dispositions;
        if known.iter().any(|k| k == code) || code == "do-not-call" {
            Ok(())
        } else {
            Err(Error::invalid(
                "disposition",
                format!(
                    "unknown disposition '{code}' (configured: {})",
                    known.join(", ")
                ),
            ))
        }
    }

    /// The agent's after-call work on the callback's latest customer call: result,
    /// disposition and note on that attempt, and the number on the do-not-call list when
    /// asked, in one transaction. Everything is checked before it.
    pub fn wrap_up(&self, id: CallbackId, w: &WrapUp, actor: &str) -> Result<Attempt, Error> {
        let cfg = self.config();
        if let Some(code) = &w.disposition {
            self.check_disposition(code)?;
        }
        if let Some(note) = &w.note {
            check_text("note", note, cfg.settings.max_remark_chars)?;
        }
        let r = self.store.get(id)?;
        let attempts = self.store.attempts(id)?;
        let attempt = attempts
            .iter()
            .rev()
            .find(|a| a.leg == Leg::Customer)
            .ok_or_else(|| {
                Error::invalid(
                    "attempt",
                    format!("callback {id} has no customer call to wrap up yet"),
                )
            })?;
        if attempt.ended_at.is_none() {
            // The call's own result would overwrite the agent's when it ends.
            return Err(Error::Conflict {
                code: "call-in-progress",
                message: format!(
                    "callback {id}: the call to the customer has not ended yet; \
                     do the after-call work when it has"
                ),
            });
        }
        let note = w.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let reason = format!("{actor} after callback {id}");
        let a = self.store.wrap_up(
            attempt.id,
            w.result,
            w.disposition.as_deref(),
            note,
            w.do_not_call
                .then_some((r.number.as_str(), reason.as_str())),
            self.clock.now(),
        )?;
        tracing::info!(
            callback_id = id,
            "callback {id}: after-call work by {actor}: {}",
            w.disposition.as_deref().unwrap_or("-")
        );
        self.after_result(&a, actor)?;
        Ok(a)
    }

    /// The retry policy on an agent's corrected result: a customer call the agent says
    /// reached a machine (or a wrong number, or left a message) is handled as if the
    /// call had ended so, as long as the callback completed with that call (its latest
    /// customer attempt); otherwise the result stays a label. Returns the callback as
    /// moved, or `None` when nothing moved.
    pub fn after_result(
        &self,
        attempt: &Attempt,
        actor: &str,
    ) -> Result<Option<CallbackRequest>, Error> {
        use crate::model::AttemptResult as R;
        let Some(result) = attempt.result else {
            return Ok(None);
        };
        if attempt.leg != Leg::Customer
            || !matches!(result, R::Machine | R::MessageLeft | R::WrongNumber)
        {
            return Ok(None);
        }
        let r = self.store.get(attempt.callback_id)?;
        if r.state != State::Completed || r.customer_attempts != attempt.attempt_no {
            return Ok(None);
        }
        let cfg = self.config();
        let queue = cfg
            .queue(Some(&r.queue))
            .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
        let now = self.clock.now();
        let mut t =
            crate::dispatch::plan::after_leg(&r, queue, &cfg.legal, Leg::Customer, result, now);
        if t.to == State::Completed {
            return Ok(None);
        }
        t.expect = Some(State::Completed);
        t.actor = Some(actor.to_string());
        t.detail = Some(format!(
            "{} (the agent's result after the call)",
            t.detail.unwrap_or_default()
        ));
        let stored = self.store.transition(r.id, &t, now)?;
        self.notify(&t.action, &stored);
        Ok(Some(stored))
    }

    /// `requested` becomes `scheduled` when it gets a time; anything else pending or
    /// claimed goes to `rescheduled` (the store refuses what the lifecycle forbids).
    fn pending_state_after(&self, state: State) -> State {
        if state == State::Requested {
            State::Scheduled
        } else {
            State::Rescheduled
        }
    }

    /// Deletes what callers said (recording files, their references, transcripts): of one
    /// callback now (`Some(id)`, any state), or of every callback finished longer ago than
    /// `retention-days` (`None`). Returns how many files were deleted.
    pub fn purge(&self, only: Option<CallbackId>) -> Result<usize, Error> {
        let cfg = self.config();
        let now = self.clock.now();
        let before = cfg.settings.retention.map(|r| now - r);
        if only.is_none() && before.is_none() {
            return Ok(0);
        }
        if let Some(id) = only {
            self.store.get(id)?;
        }
        let files = self
            .store
            .purge(before.filter(|_| only.is_none()), only, now)?;
        let mut removed = 0;
        for f in &files {
            match std::fs::remove_file(f) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("purge: cannot delete {f}: {e}"),
            }
        }
        if !files.is_empty() {
            tracing::info!("purged {removed} recording file(s)");
        }
        Ok(removed)
    }

    pub fn stats(&self) -> Result<Stats, Error> {
        Ok(self.store.stats()?)
    }

    /// The slot grid of `date` in the customer's zone (the queue's when absent).
    pub fn availability(
        &self,
        queue: Option<&str>,
        date: NaiveDate,
        zone: Option<&str>,
    ) -> Result<DayGrid, Error> {
        let cfg = self.config();
        let q = Self::queue_config(&cfg, queue)?;
        let zone = self.zone_or(zone, q.zone())?;
        let usage = StoreUsage::new(self.store.as_ref(), q.name());
        let grid = schedule::availability(&q.rules, zone, date, self.clock.now(), &usage);
        usage.finish()?;
        Ok(grid)
    }
}
