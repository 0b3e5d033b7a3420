//! The simulated core: what mod_callback touches, as plain Rust state behind one lock.
//! The lock is never held while the module runs (its code may call back into the core).

use chrono::{DateTime, Duration, Utc};
use mod_callback::ffi::types::{ApiFn, AppFn};
use std::collections::{BTreeMap, VecDeque};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// How a scripted phone behaves when `originate` rings it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Answers after this many (virtual) seconds.
    Answer(u32),
    /// `-ERR USER_BUSY`.
    Busy,
    /// Rings until the originate timeout: `-ERR NO_ANSWER`.
    NoAnswer,
    /// `-ERR CALL_REJECTED`.
    Reject,
    /// `-ERR UNALLOCATED_NUMBER`.
    WrongNumber,
    /// `-ERR USER_NOT_REGISTERED` (a `user/` endpoint whose phone is not registered).
    NotRegistered,
    /// Answers after this many seconds but runs no application on the call (as when the
    /// application is missing or the leg is transferred away).
    AnswerOnly(u32),
    /// Rings for up to this many milliseconds of real time (a person looking at the
    /// phone), then answers as `Answer(0)`. While it rings the leg exists under its
    /// `origination_uuid`, and `uuid_kill` of it ends the originate with the kill's cause.
    Rings(u64),
}

/// One line the module logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: i32,
    pub uuid: Option<String>,
    /// The text without the newline every line must end with (checked on arrival).
    pub text: String,
    /// The source file and line the module named (`None` for the simulator's own lines).
    pub origin: Option<(String, u32)>,
}

/// A `bridge` a call ran: from which call, and the ringback its caller heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub from: String,
    pub ringback: Option<String>,
}

/// One event the module fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredEvent {
    pub event_id: i32,
    pub subclass: Option<String>,
    pub headers: Vec<(String, String)>,
    pub at: DateTime<Utc>,
}

impl FiredEvent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the caller does next, consumed in order by the prompts and recordings that meet it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Keys pressed at the next `play_and_get_digits` (a terminator such as `#` ends them).
    Press(String),
    /// Nothing pressed at the next prompt: it times out.
    Silent,
    /// Speech (a WAV file) at the next `record`; the caller then stays quiet until the
    /// silence detector ends the recording.
    Speak(std::path::PathBuf),
    /// Hangs up at the next prompt, or right after speaking at the next `record`.
    Hangup,
    /// Presses nothing at the next `play_and_get_digits` but listens, for up to this many
    /// milliseconds of real time, for keys queued on the call (`uuid_recv_dtmf`, the
    /// panel's Accept / Reject); none by then: it times out.
    Listen(u64),
}

/// A simulated call.
#[derive(Debug)]
pub struct SimSession {
    pub uuid: CString,
    pub vars: Mutex<BTreeMap<String, String>>,
    /// Strings handed to the module (`get_variable_dup` copies): they live as long as the
    /// session, like FreeSWITCH's session pool.
    pub pool: Mutex<Vec<CString>>,
    /// Applications run on the call, in order.
    pub apps: Mutex<Vec<(String, String)>>,
    /// What the caller will do, in order.
    pub acts: Mutex<VecDeque<Act>>,
    pub answered: AtomicBool,
    pub hangup_cause: Mutex<Option<String>>,
    /// When (real time) the last `record` on the call ended: the capture benchmark measures
    /// from here to the application's return.
    pub recorded_at: Mutex<Option<std::time::Instant>>,
    /// DTMF queued on the call as received (`uuid_recv_dtmf`), read by the next
    /// `play_and_get_digits` before anything the script says.
    pub received_dtmf: Mutex<String>,
    /// Applications broadcast on the call (`uuid_broadcast`), until a waiting application
    /// runs them: (application, argument).
    pub broadcasts: Mutex<Vec<(String, String)>>,
}

impl SimSession {
    pub fn new(uuid: &str) -> Arc<Self> {
        Arc::new(Self {
            uuid: CString::new(uuid).unwrap_or_default(),
            vars: Mutex::new(BTreeMap::new()),
            pool: Mutex::new(Vec::new()),
            apps: Mutex::new(Vec::new()),
            acts: Mutex::new(VecDeque::new()),
            answered: AtomicBool::new(false),
            hangup_cause: Mutex::new(None),
            recorded_at: Mutex::new(None),
            received_dtmf: Mutex::new(String::new()),
            broadcasts: Mutex::new(Vec::new()),
        })
    }

    pub fn uuid(&self) -> String {
        self.uuid.to_string_lossy().into_owned()
    }

    pub fn var(&self, name: &str) -> Option<String> {
        lock(&self.vars).get(name).cloned()
    }

    pub fn set(&self, name: &str, value: &str) {
        lock(&self.vars).insert(name.to_string(), value.to_string());
    }

    /// `switch_channel_ready()`: until the call hangs up.
    pub fn ready(&self) -> bool {
        lock(&self.hangup_cause).is_none()
    }

    /// Hangs the call up (the caller's side: NORMAL_CLEARING).
    pub fn hang_up(&self) {
        lock(&self.hangup_cause).get_or_insert_with(|| "NORMAL_CLEARING".to_string());
    }
}

/// Everything the core records.
#[derive(Default)]
pub struct State {
    pub logs: Vec<LogLine>,
    pub events: Vec<FiredEvent>,
    /// Reserved event subclasses and their owners.
    pub subclasses: BTreeMap<String, String>,
    pub apps: BTreeMap<String, AppFn>,
    pub apis: BTreeMap<String, ApiFn>,
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Per endpoint, what the person who answers does: one script per answered call.
    pub scripts: BTreeMap<String, VecDeque<Vec<Act>>>,
    pub sessions: BTreeMap<String, Arc<SimSession>>,
    /// API commands the module ran (`originate ...`, `uuid_kill ...`).
    pub commands: Vec<String>,
    /// Calls to a variadic function with a format other than the literal "%s".
    pub format_violations: Vec<String>,
    /// Log lines FreeSWITCH would print badly: without a closing newline (the next line
    /// runs into it) or without a real source file and line. [`Sim`] fails on drop when
    /// there are any.
    pub log_violations: Vec<String>,
    /// Every `bridge` run, in order.
    pub bridges: Vec<Bridge>,
    /// Global variables set by a test (`global_getvar`), over the stock ones.
    pub globals: BTreeMap<String, String>,
    /// What a configuration binding (mod_xml_curl) answers, asked before the files.
    pub xml_binding: Option<String>,
    /// The configuration names the module looked up (`switch_xml_open_cfg`).
    pub xml_lookups: Vec<String>,
    pub threads: Vec<JoinHandle<()>>,
    pub next_uuid: u64,
    /// How long (real milliseconds) a bridged customer talks before hanging up.
    pub talk_ms: u64,
    /// Each `originate` that reached the host, in arrival order: the `callback_id=` of its
    /// dial string and the real time it arrived (the dispatch bench's lateness).
    pub originated: Vec<(i64, SystemTime)>,
    /// How many `originate` commands reached the host in all (in bounded mode `originated`
    /// keeps only the latest).
    pub originated_total: usize,
    /// Log lines at ERROR or worse (level <= 3) in all, kept lines or not.
    pub errors_logged: usize,
    /// Bounded mode ([`Sim::bounded`]): keep about this many of the latest log lines,
    /// events, commands, originates and originated calls; `None` keeps everything.
    pub keep: Option<usize>,
    /// Originated calls in order of creation (bounded mode only): the oldest are forgotten
    /// as FreeSWITCH destroys a session once it is over.
    pub legs: VecDeque<String>,
    /// mod_callcenter's agents and tiers (`callcenter_config`).
    pub callcenter: crate::callcenter::Callcenter,
    /// mod_fifo's fifos and their callers (the `fifo` application and API).
    pub fifo: crate::fifo::Fifo,
    /// Per endpoint, channel variables the next answered call gets on answer: what a
    /// detector the admin starts with `execute_on_answer` sets (an AMD module's
    /// `amd_result` / `amd_cause`, mod_avmd's `avmd_detect`). One set per answered call.
    pub answer_vars: BTreeMap<String, VecDeque<Vec<(String, String)>>>,
}

/// Drops the oldest entries of `v` once it holds twice `keep` (amortised: one drain per
/// `keep` pushes).
fn trim<T>(v: &mut Vec<T>, keep: Option<usize>) {
    if let Some(k) = keep {
        let k = k.max(1);
        if v.len() >= 2 * k {
            v.drain(..v.len() - k);
        }
    }
}

impl State {
    pub(crate) fn push_log(&mut self, line: LogLine) {
        if line.level <= 3 {
            self.errors_logged += 1;
        }
        self.logs.push(line);
        trim(&mut self.logs, self.keep);
    }

    pub(crate) fn push_event(&mut self, e: FiredEvent) {
        self.events.push(e);
        trim(&mut self.events, self.keep);
    }

    pub(crate) fn push_command(&mut self, c: String) {
        self.commands.push(c);
        trim(&mut self.commands, self.keep);
    }

    pub(crate) fn push_originated(&mut self, id: i64, at: SystemTime) {
        self.originated_total += 1;
        self.originated.push((id, at));
        trim(&mut self.originated, self.keep);
    }

    /// A call `originate` created. In bounded mode the oldest originated calls beyond
    /// `keep` are forgotten, and finished call threads are reaped.
    pub(crate) fn add_leg(&mut self, uuid: String, s: Arc<SimSession>) {
        self.sessions.insert(uuid.clone(), s);
        if let Some(k) = self.keep {
            self.legs.push_back(uuid);
            while self.legs.len() > k.max(1) {
                if let Some(old) = self.legs.pop_front() {
                    self.sessions.remove(&old);
                }
            }
        }
    }

    pub(crate) fn push_thread(&mut self, t: JoinHandle<()>) {
        if self.keep.is_some() {
            // A finished thread's handle is dropped (detached): nothing left to join.
            self.threads.retain(|t| !t.is_finished());
        }
        self.threads.push(t);
    }
}

pub(crate) static STATE: Mutex<State> = Mutex::new(State {
    logs: Vec::new(),
    events: Vec::new(),
    subclasses: BTreeMap::new(),
    apps: BTreeMap::new(),
    apis: BTreeMap::new(),
    endpoints: BTreeMap::new(),
    scripts: BTreeMap::new(),
    sessions: BTreeMap::new(),
    commands: Vec::new(),
    format_violations: Vec::new(),
    log_violations: Vec::new(),
    bridges: Vec::new(),
    globals: BTreeMap::new(),
    xml_binding: None,
    xml_lookups: Vec::new(),
    threads: Vec::new(),
    next_uuid: 0,
    talk_ms: 0,
    originated: Vec::new(),
    originated_total: 0,
    errors_logged: 0,
    keep: None,
    legs: VecDeque::new(),
    callcenter: crate::callcenter::Callcenter::new(),
    fifo: crate::fifo::Fifo::new(),
    answer_vars: BTreeMap::new(),
});

/// Where this process's stock FreeSWITCH directories are made (on first use); removed when
/// a [`Sim`] drops, so each simulator starts from empty ones and none is left behind.
fn stock_base() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("callback-sim-fs-{}", std::process::id()))
}

/// A global variable as `global_getvar` answers it: one a test set, else the stock ones —
/// the core's directories (src/switch_core.c:1928-1947 sets `base_dir`, `recordings_dir`,
/// `sounds_dir`, `conf_dir`, `db_dir`, ... at start) under a scratch base directory of this
/// process, laid out as a source install (`/usr/local/freeswitch/{db,recordings,...}`), and
/// the stock vars.xml's `sound_prefix` and tones (conf/vanilla/vars.xml:51, 358-359).
pub fn global_var(name: &str) -> Option<String> {
    if let Some(v) = state().globals.get(name) {
        return (!v.is_empty()).then(|| v.clone());
    }
    let base = stock_base();
    // A running FreeSWITCH has made its directories (switch_core.c creates them at start).
    let dir = |sub: &str| {
        let d = base.join(sub);
        let _ = std::fs::create_dir_all(&d);
        Some(d.display().to_string())
    };
    match name {
        "base_dir" => Some(base.display().to_string()),
        "conf_dir" => dir("conf"),
        "db_dir" => dir("db"),
        "recordings_dir" => dir("recordings"),
        "sounds_dir" => dir("sounds"),
        // vars.xml:51; the stock English sounds installed (their digits/ and time/ folders).
        "sound_prefix" => {
            let _ = dir("sounds/en/us/callie/digits");
            let _ = dir("sounds/en/us/callie/time");
            dir("sounds/en/us/callie")
        }
        "log_dir" => dir("log"),
        "temp_dir" => dir("tmp"),
        "us-ring" => Some("%(2000,4000,440,480)".into()),
        "uk-ring" => Some("%(400,200,400,450);%(400,2000,400,450)".into()),
        _ => None,
    }
}

/// Where customer dials are appended ([`Sim::log_customer_dials`]), if anywhere.
pub(crate) static DIAL_LOG: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Appends `<callback_id> <callback_attempt>` of a customer leg (`callback_leg=customer`)
/// to the dial log and syncs it before the customer is rung: a line in the log is a dial
/// that may have rung, even if the process dies right after.
pub(crate) fn log_customer_dial(vars: &[(String, String)]) {
    use std::io::Write;
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("callback_leg") != Some("customer") {
        return;
    }
    let mut log = lock(&DIAL_LOG);
    if let Some(f) = log.as_mut() {
        let line = format!(
            "{} {}\n",
            get("callback_id").unwrap_or("-"),
            get("callback_attempt").unwrap_or("-")
        );
        if f.write_all(line.as_bytes())
            .and_then(|()| f.sync_data())
            .is_err()
        {
            // A dial that cannot be recorded must not happen unrecorded.
            std::process::abort();
        }
    }
}

/// What a dial log ([`Sim::log_customer_dials`]) says: how many times each
/// `(callback_id, callback_attempt)` was dialled, and the lines that are not such a pair.
pub fn read_customer_dials(path: &std::path::Path) -> (BTreeMap<(i64, u32), usize>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (mut dials, mut bad) = (BTreeMap::new(), Vec::new());
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match (
            w.next().and_then(|v| v.parse().ok()),
            w.next().and_then(|v| v.parse().ok()),
        ) {
            (Some(id), Some(n)) => *dials.entry((id, n)).or_default() += 1,
            _ => bad.push(line.to_string()),
        }
    }
    (dials, bad)
}

/// The virtual clock, microseconds since the epoch (what `switch_micro_time_now` returns).
pub(crate) static CLOCK_US: AtomicI64 = AtomicI64::new(0);

/// The real-clock mode ([`Sim::real_clock`]): `switch_micro_time_now` is the system time and
/// nothing advances the virtual clock.
static REAL_CLOCK: AtomicBool = AtomicBool::new(false);

/// Real-time pacing on the real clock ([`Sim::pace`]): per mille of each virtual duration
/// (a prompt's wait, a recording, ringing) that the call's thread sleeps; 0 = none.
static PACE_PERMILLE: AtomicU32 = AtomicU32::new(0);

/// One simulator per process at a time: the exported C functions are process-global.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn state() -> MutexGuard<'static, State> {
    lock(&STATE)
}

/// The host clock in microseconds since the epoch: virtual, or the system's in real mode.
pub(crate) fn now_us() -> i64 {
    if REAL_CLOCK.load(Ordering::SeqCst) {
        real_us(SystemTime::now())
    } else {
        CLOCK_US.load(Ordering::SeqCst)
    }
}

fn real_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(now_us()).unwrap_or_default()
}

/// Moves the virtual clock on (ringing, prompts, recordings); in real mode time passes by
/// itself, and with pacing ([`Sim::pace`]) the calling thread sleeps for that long.
pub(crate) fn advance(by: Duration) {
    if !REAL_CLOCK.load(Ordering::SeqCst) {
        CLOCK_US.fetch_add(by.num_microseconds().unwrap_or(0), Ordering::SeqCst);
        return;
    }
    let pace = PACE_PERMILLE.load(Ordering::SeqCst);
    if pace > 0 {
        let us = by.num_microseconds().unwrap_or(0).max(0) as u64 * u64::from(pace) / 1000;
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

pub(crate) fn new_uuid() -> String {
    let mut s = state();
    s.next_uuid += 1;
    format!("00000000-0000-4000-8000-{:012x}", s.next_uuid)
}

/// A handle on the simulated core. Creating one waits for any other to be dropped, then
/// starts from a clean state.
pub struct Sim {
    _serial: MutexGuard<'static, ()>,
}

impl Sim {
    pub fn new(start: DateTime<Utc>) -> Self {
        let serial = lock(&SERIAL);
        Self::settle();
        *state() = State::default();
        REAL_CLOCK.store(false, Ordering::SeqCst);
        PACE_PERMILLE.store(0, Ordering::SeqCst);
        *lock(&DIAL_LOG) = None;
        CLOCK_US.store(start.timestamp_micros(), Ordering::SeqCst);
        Self { _serial: serial }
    }

    /// A simulator on the real clock: `switch_micro_time_now()` is the system time, and
    /// ringing, prompts and recordings no longer move a clock (they take no time at all).
    /// For measuring the module against wall time (the dispatch bench); tests keep the
    /// virtual clock.
    pub fn real_clock() -> Self {
        let sim = Self::new(DateTime::<Utc>::default());
        REAL_CLOCK.store(true, Ordering::SeqCst);
        sim
    }

    /// Appends every customer dial that reaches the host (a `bridge` or `originate` with
    /// `callback_leg=customer`) to `path` as `<callback_id> <callback_attempt>`, synced to
    /// disk before the customer is rung (the crash campaign's dial log).
    pub fn log_customer_dials(&self, path: &std::path::Path) -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *lock(&DIAL_LOG) = Some(f);
        Ok(())
    }

    /// On the real clock, makes calls take their time: each virtual duration (a recording's
    /// length, the half second of keying digits, a prompt's timeout, ringing) sleeps the
    /// call's thread for `factor` times that long. 1.0 is a caller at human speed; the load
    /// bench uses it so that N callers in flight means N calls of realistic length.
    pub fn pace(&self, factor: f64) {
        let permille = (factor.max(0.0) * 1000.0).round().min(f64::from(u32::MAX)) as u32;
        PACE_PERMILLE.store(permille, Ordering::SeqCst);
    }

    /// Bounded mode, for long runs: the log lines, events, commands and originates kept
    /// are about the latest `keep` of each (the counters [`Sim::errors_logged`] and
    /// [`Sim::originated_count`] still count all), originated calls beyond the latest `keep`
    /// are forgotten as FreeSWITCH destroys finished sessions, and finished call threads
    /// are reaped. Inbound calls are forgotten with [`Sim::end_call`].
    pub fn bounded(&self, keep: usize) {
        state().keep = Some(keep);
    }

    /// Forgets an inbound call that is over (FreeSWITCH destroys the session after
    /// hang-up): its variables, applications and pool strings are freed.
    pub fn end_call(&self, uuid: &str) {
        state().sessions.remove(uuid);
    }

    /// How many log lines at ERROR or worse the module (or the simulator) logged in all.
    pub fn errors_logged(&self) -> usize {
        state().errors_logged
    }

    /// How many scripts are left for the next calls answered at `target`.
    pub fn scripts_left(&self, target: &str) -> usize {
        state().scripts.get(target).map_or(0, VecDeque::len)
    }

    /// Whether this simulator runs on the real clock.
    pub fn is_real_clock(&self) -> bool {
        REAL_CLOCK.load(Ordering::SeqCst)
    }

    /// Waits for the call threads `originate` started (answered legs running an application).
    pub fn settle() {
        loop {
            let threads: Vec<_> = std::mem::take(&mut state().threads);
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        now()
    }

    /// Sets the virtual clock (no effect on the real clock).
    pub fn set_clock(&self, to: DateTime<Utc>) {
        CLOCK_US.store(to.timestamp_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        advance(by)
    }

    /// Scripts what happens when `target` (a dial string's endpoint) is rung.
    pub fn endpoint(&self, target: &str, behaviour: Endpoint) {
        state().endpoints.insert(target.to_string(), behaviour);
    }

    /// What the person at `target` does on the next call they answer (e.g. an agent who
    /// presses 1 in the preview). Scripts are used one per answered call, in order.
    pub fn script(&self, target: &str, acts: Vec<Act>) {
        state()
            .scripts
            .entry(target.to_string())
            .or_default()
            .push_back(acts);
    }

    /// What a detector on `target`'s next answered call sets on it at answer (e.g.
    /// `amd_result=MACHINE`, `avmd_detect=TRUE`): the admin's `execute_on_answer` AMD.
    pub fn answer_vars(&self, target: &str, vars: &[(&str, &str)]) {
        state()
            .answer_vars
            .entry(target.to_string())
            .or_default()
            .push_back(
                vars.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
    }

    /// A new inbound call from `number`; returns its uuid.
    pub fn new_call(&self, number: &str) -> String {
        let uuid = new_uuid();
        let s = SimSession::new(&uuid);
        s.set("uuid", &uuid);
        s.set("caller_id_number", number);
        s.set("ani", number);
        s.set("direction", "inbound");
        state().sessions.insert(uuid.clone(), s);
        uuid
    }

    /// Bridged customers talk this long (real time) before the bridge ends: while it runs,
    /// the module can see the customer leg answered.
    pub fn talk(&self, ms: u64) {
        state().talk_ms = ms;
    }

    /// Every call the simulator knows, inbound and originated.
    pub fn sessions(&self) -> Vec<Arc<SimSession>> {
        state().sessions.values().cloned().collect()
    }

    pub fn session(&self, uuid: &str) -> Option<Arc<SimSession>> {
        state().sessions.get(uuid).cloned()
    }

    pub fn var(&self, uuid: &str, name: &str) -> Option<String> {
        self.session(uuid).and_then(|s| s.var(name))
    }

    /// Digits the caller of `uuid` presses at the next prompt.
    pub fn press(&self, uuid: &str, digits: &str) {
        self.act(uuid, Act::Press(digits.to_string()));
    }

    /// Queues what the caller of `uuid` does next.
    pub fn act(&self, uuid: &str, act: Act) {
        if let Some(s) = self.session(uuid) {
            lock(&s.acts).push_back(act);
        }
    }

    /// Runs a dialplan application on a call (a module's or a simulated one).
    pub fn execute(&self, uuid: &str, app: &str, arg: &str) -> bool {
        match self.session(uuid) {
            Some(s) => crate::exports::execute_app(&s, app, arg),
            None => false,
        }
    }

    /// A live caller with uuid `uuid` joining mod_callcenter queue `queue` now (waiting in
    /// the `callcenter` application while the test goes on).
    pub fn callcenter_caller(&self, queue: &str, uuid: &str, number: &str) {
        let now = now().timestamp();
        state().callcenter.join(queue, uuid, number, now);
    }

    /// One pass of mod_callcenter's member dispatch (see `Callcenter::dispatch`): the
    /// (member uuid, agent) pairs it served.
    pub fn callcenter_dispatch(&self) -> Vec<(String, String)> {
        let now = now().timestamp();
        state().callcenter.dispatch(now)
    }

    /// A live caller with uuid `uuid` and number `number` joining mod_fifo fifo `fifo` now,
    /// in priority slot `slot` (waiting in `fifo <fifo> in` while the test goes on).
    pub fn fifo_caller(&self, fifo: &str, slot: usize, uuid: &str, number: &str) {
        let stamp = crate::fifo::local_stamp(now());
        state().fifo.push(
            fifo,
            0,
            slot,
            crate::fifo::Caller {
                uuid: uuid.to_string(),
                caller_id_name: None,
                caller_id_number: Some(number.to_string()),
                status: "WAITING".into(),
                timestamp: stamp,
                position: 0,
                session: None,
            },
        );
    }

    /// A consumer of mod_fifo fifo `fifo` (`fifo <fifo> out`) takes its next caller: its
    /// uuid, or `None` when nobody waits.
    pub fn fifo_pop(&self, fifo: &str) -> Option<String> {
        state().fifo.pop(fifo)
    }

    /// While `on`, mod_callcenter's dispatch passes (as [`Sim::callcenter_dispatch`]) as
    /// soon as `callcenter_config` sets an agent `Waiting`: its thread looks every 100 ms,
    /// so it sees an agent freed before a module that looks once a second does. The pairs
    /// those passes served: [`Sim::callcenter_served_on_free`].
    pub fn callcenter_pass_on_free(&self, on: bool) {
        state().callcenter.pass_on_free = on;
    }

    /// The (member uuid, agent) pairs served by the passes [`Sim::callcenter_pass_on_free`]
    /// ran, in order.
    pub fn callcenter_served_on_free(&self) -> Vec<(String, String)> {
        state().callcenter.served_on_free.clone()
    }

    /// mod_callcenter bridges waiting member `uuid` to the agent of the next
    /// `agent set state_if_waiting` just before looking at that claim (if it would ring
    /// that agent for the member), and so refuses the claim: its own dispatch took the
    /// agent between the claimer's reading of the tables and its claim. One claim only,
    /// whether or not the member was bridged.
    pub fn callcenter_bridge_before_next_claim(&self, uuid: &str) {
        state().callcenter.bridge_before_claim = Some(uuid.to_string());
    }

    /// One pass of mod_callcenter's member dispatch whose agents ring (see
    /// `Callcenter::offer`): the (member uuid, agent) pairs offered, each to be answered
    /// ([`Sim::callcenter_answered`]) or not ([`Sim::callcenter_no_answer`]).
    pub fn callcenter_offer(&self) -> Vec<(String, String)> {
        let now = now().timestamp();
        state().callcenter.offer(now)
    }

    /// mod_callcenter agent `name` answers the queue call it is ringing for: bridged.
    pub fn callcenter_answered(&self, name: &str) {
        let now = now().timestamp();
        state().callcenter.answered(name, now);
    }

    /// mod_callcenter agent `name` does not answer the queue call it is ringing for (see
    /// `Callcenter::no_answer`).
    pub fn callcenter_no_answer(&self, name: &str) {
        let now = now().timestamp();
        state().callcenter.no_answer(name, now);
    }

    /// mod_callcenter agent `name` does not answer the queue call it is ringing for just
    /// before the module next reads the centre's agents (see
    /// `Callcenter::no_answer_before_read`), at the virtual time of that read.
    pub fn callcenter_no_answer_before_next_read(&self, name: &str) {
        state().callcenter.no_answer_before_read = Some(name.to_string());
    }

    /// A queue call of mod_callcenter agent `name` ends now (see `Callcenter::call_ends`).
    pub fn callcenter_call_ends(&self, name: &str) {
        let now = now().timestamp();
        state().callcenter.call_ends(name, now);
    }

    /// Every state mod_callcenter agent `name` was set to, in order (by the module or by
    /// a test's `callcenter_config`).
    pub fn callcenter_states(&self, name: &str) -> Vec<String> {
        state()
            .callcenter
            .state_changes
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Runs an API command line as fs_cli would (`callback list`), returning its output.
    pub fn api(&self, line: &str) -> String {
        let line = line.trim();
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        crate::exports::api_execute(cmd, arg.trim()).1
    }

    pub fn logs(&self) -> Vec<LogLine> {
        state().logs.clone()
    }

    pub fn events(&self) -> Vec<FiredEvent> {
        state().events.clone()
    }

    pub fn commands(&self) -> Vec<String> {
        state().commands.clone()
    }

    /// The `originate` commands that reached the host: callback id and real arrival time.
    pub fn originated(&self) -> Vec<(i64, SystemTime)> {
        state().originated.clone()
    }

    /// How many `originate` commands reached the host (cheaper than [`Sim::originated`]).
    pub fn originated_count(&self) -> usize {
        state().originated_total
    }

    pub fn format_violations(&self) -> Vec<String> {
        state().format_violations.clone()
    }

    /// Every `bridge` a call ran so far.
    pub fn bridges(&self) -> Vec<Bridge> {
        state().bridges.clone()
    }

    /// Sets a global variable (what `<X-PRE-PROCESS cmd="set">` in vars.xml does), or unsets
    /// it with `None`, over the stock ones of [`global_var`].
    pub fn set_global(&self, name: &str, value: Option<&str>) {
        let mut st = state();
        match value {
            Some(v) => st.globals.insert(name.to_string(), v.to_string()),
            // An empty value hides a stock variable, as if vars.xml did not set it.
            None => st.globals.insert(name.to_string(), String::new()),
        };
    }

    /// Makes a configuration binding (as mod_xml_curl) answer lookups with `text` (a
    /// document holding `<configuration name="...">` elements); `None` removes it.
    pub fn xml_binding(&self, text: Option<&str>) {
        state().xml_binding = text.map(str::to_string);
    }

    /// The configuration names looked up through `switch_xml_open_cfg` so far.
    pub fn xml_lookups(&self) -> Vec<String> {
        state().xml_lookups.clone()
    }

    /// Log lines without a closing newline or a real source file and line, so far.
    pub fn log_violations(&self) -> Vec<String> {
        state().log_violations.clone()
    }

    pub fn applications(&self) -> Vec<String> {
        state().apps.keys().cloned().collect()
    }

    pub fn api_commands(&self) -> Vec<String> {
        state().apis.keys().cloned().collect()
    }

    pub fn subclasses(&self) -> BTreeMap<String, String> {
        state().subclasses.clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        Self::settle();
        let _ = std::fs::remove_dir_all(stock_base());
        // Every line the module logged in this simulator's life is checked here, so every
        // test that runs the module checks them (unless it is already failing).
        let bad = std::mem::take(&mut state().log_violations);
        if !bad.is_empty() && !std::thread::panicking() {
            panic!("log lines FreeSWITCH would print badly: {bad:#?}");
        }
    }
}
