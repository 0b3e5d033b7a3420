//! The transcription workers: a small, fixed number of threads (default 1) that take jobs
//! from a durable [`JobQueue`], run whisper, and store the result or the failure.
//!
//! Off the call path by construction: the dialplan only enqueues. A job is claimed with a
//! lease, so a worker (or process) that dies mid-job leaves it to be claimed again when the
//! lease runs out. Failures are retried with exponential backoff up to `max_attempts`; a
//! file that can never be transcribed (corrupt, too long, silent) fails at once, with the
//! reason stored.

use super::engine::{Engine, TranscribeError, TranscriptResult};
use crate::clock::Clock;
use crate::model::CallbackId;
use crate::store::StoreError;
use chrono::{DateTime, Duration, Utc};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

pub type JobId = i64;

/// A claimed transcription job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub callback_id: CallbackId,
    pub wav_path: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The claim is ours until then.
    pub lease_until: DateTime<Utc>,
}

/// After a failure: try again at a time, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    At(DateTime<Utc>),
    Never,
}

/// The durable queue the workers pull from.
pub trait JobQueue: Send + Sync {
    /// Queues a recording of a callback for transcription, due now.
    fn enqueue(
        &self,
        callback_id: CallbackId,
        wav_path: &str,
        now: DateTime<Utc>,
    ) -> Result<JobId, StoreError>;
    /// Takes the oldest due job (queued and due, or running with a lapsed lease), counts an
    /// attempt and leases it until `now + lease`.
    fn claim_next(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, StoreError>;
    /// Stores the transcript and closes the job.
    /// Refused ([`StoreError::LeaseLost`]) when the claim lapsed and the job was taken over.
    fn complete(
        &self,
        job: &Job,
        result: &TranscriptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores the reason; the job waits until `retry` or is failed for good.
    fn fail(
        &self,
        job: &Job,
        reason: &str,
        retry: Retry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The language to transcribe this job in when its queue names one (`None`: the
    /// engine's own setting).
    fn language(&self, _job: &Job) -> Option<String> {
        None
    }
}

/// What the workers need of whisper; [`Engine`] in production, a fake in tests.
pub trait Transcriber: Send + Sync {
    /// False while transcription is off (no model): jobs then stay queued, untouched.
    fn ready(&self) -> bool;
    fn transcribe_file(&self, path: &Path) -> Result<TranscriptResult, TranscribeError>;
    /// In a queue's language (`None`: the configured one).
    fn transcribe_file_in(
        &self,
        path: &Path,
        language: Option<&str>,
    ) -> Result<TranscriptResult, TranscribeError> {
        let _ = language;
        self.transcribe_file(path)
    }
}

impl Transcriber for Engine {
    fn ready(&self) -> bool {
        self.ensure_loaded().is_ok()
    }

    fn transcribe_file(&self, path: &Path) -> Result<TranscriptResult, TranscribeError> {
        Engine::transcribe_file(self, path)
    }

    fn transcribe_file_in(
        &self,
        path: &Path,
        language: Option<&str>,
    ) -> Result<TranscriptResult, TranscribeError> {
        Engine::transcribe_file_in(self, path, language)
    }
}

/// How the workers run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    pub workers: usize,
    /// Longer than the slowest transcription, or a slow job is taken over while running.
    pub lease: Duration,
    /// How often an idle worker looks for jobs (enqueuers may also [`Workers::notify`]).
    pub poll: std::time::Duration,
    pub max_attempts: u32,
    /// Delay after the first failure; doubled per attempt, capped at `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            lease: Duration::minutes(10),
            poll: std::time::Duration::from_secs(2),
            max_attempts: 4,
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::minutes(30),
        }
    }
}

impl WorkerConfig {
    /// The wait after the `attempts`-th failure: base, 2 x base, 4 x base, ... capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1i32 << attempts.saturating_sub(1).min(20);
        (self.backoff_base * factor).min(self.backoff_max)
    }
}

/// What one step of a worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Transcription is off; nothing was claimed.
    Off,
    Idle,
    Done(JobId),
    RetryAt(JobId, DateTime<Utc>),
    Failed(JobId),
}

/// One claim-and-run, the body of the worker loop (public so tests drive it step by step).
pub fn run_once(
    queue: &dyn JobQueue,
    engine: &dyn Transcriber,
    clock: &dyn Clock,
    cfg: &WorkerConfig,
) -> Result<Step, StoreError> {
    if !engine.ready() {
        return Ok(Step::Off);
    }
    let Some(job) = queue.claim_next(clock.now(), cfg.lease)? else {
        return Ok(Step::Idle);
    };
    if job.attempts > cfg.max_attempts {
        // Claimed again after its lease lapsed on the last allowed attempt: the worker died
        // during it (each time, likely); running it again would only repeat that.
        let reason = format!(
            "gave up after {} attempts that never finished",
            cfg.max_attempts
        );
        tracing::warn!(job = job.id, callback = job.callback_id, "{reason}");
        queue.fail(&job, &reason, Retry::Never, clock.now())?;
        return Ok(Step::Failed(job.id));
    }
    let language = queue.language(&job);
    match engine.transcribe_file_in(Path::new(&job.wav_path), language.as_deref()) {
        Ok(result) => {
            queue.complete(&job, &result, clock.now())?;
            tracing::debug!(
                job = job.id,
                callback = job.callback_id,
                ms = result.processing_ms,
                no_speech = result.no_speech.as_deref().unwrap_or("-"),
                "transcribed"
            );
            Ok(Step::Done(job.id))
        }
        Err(e) if e.is_permanent() || job.attempts >= cfg.max_attempts => {
            let reason = e.to_string();
            tracing::warn!(
                job = job.id,
                callback = job.callback_id,
                "transcription failed: {reason}"
            );
            queue.fail(&job, &reason, Retry::Never, clock.now())?;
            Ok(Step::Failed(job.id))
        }
        Err(e) => {
            let at = clock.now() + cfg.backoff(job.attempts);
            tracing::info!(job = job.id, callback = job.callback_id, retry_at = %at, "transcription will be retried: {e}");
            queue.fail(&job, &e.to_string(), Retry::At(at), clock.now())?;
            Ok(Step::RetryAt(job.id, at))
        }
    }
}

/// Stop flag and wake-up signal shared with the threads.
#[derive(Default)]
struct Signal {
    stop: Mutex<(bool, u64)>,
    cv: Condvar,
}

impl Signal {
    /// Waits up to `timeout` for a stop or a notify; true when stopping.
    fn wait(&self, timeout: std::time::Duration, seen: &mut u64) -> bool {
        let guard = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |(stop, gen)| !*stop && *gen == *seen)
            .unwrap_or_else(PoisonError::into_inner);
        *seen = guard.1;
        guard.0
    }

    fn notify(&self) {
        let mut g = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        g.1 = g.1.wrapping_add(1);
        self.cv.notify_all();
    }

    fn stopping(&self) -> bool {
        self.stop.lock().unwrap_or_else(PoisonError::into_inner).0
    }
}

/// Wakes the workers after an enqueue; cheap (a lock and a condvar signal).
#[derive(Clone)]
pub struct Notifier(Arc<Signal>);

impl Notifier {
    pub fn notify(&self) {
        self.0.notify();
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

/// The running worker threads. Dropping stops and joins them.
pub struct Workers {
    signal: Arc<Signal>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn start(
        queue: Arc<dyn JobQueue>,
        engine: Arc<dyn Transcriber>,
        clock: Arc<dyn Clock>,
        cfg: WorkerConfig,
    ) -> std::io::Result<Self> {
        let signal = Arc::new(Signal::default());
        let mut workers = Self {
            signal: signal.clone(),
            handles: Vec::new(),
        };
        for n in 0..cfg.workers.max(1) {
            let (queue, engine, clock, cfg, signal) = (
                queue.clone(),
                engine.clone(),
                clock.clone(),
                cfg.clone(),
                signal.clone(),
            );
            // On error the already started threads are joined by `workers`' drop.
            let handle = std::thread::Builder::new()
                .name(format!("callback-whisper-{n}"))
                .spawn(move || worker_loop(&*queue, &*engine, &*clock, &cfg, &signal))?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }

    /// Wakes idle workers now (after an enqueue) instead of at their next poll.
    pub fn notify(&self) {
        self.signal.notify();
    }

    /// A handle that wakes these workers, for whoever enqueues (it does not keep them alive
    /// or stop them: after [`Workers::stop`] it wakes nobody).
    pub fn notifier(&self) -> Notifier {
        Notifier(self.signal.clone())
    }

    /// Asks the threads to stop and waits for them. A transcription in progress finishes
    /// first (whisper cannot be interrupted safely); at most one call's worth of waiting.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        {
            let mut g = self
                .signal
                .stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            g.0 = true;
        }
        self.signal.cv.notify_all();
        for h in self.handles.drain(..) {
            if h.join().is_err() {
                tracing::error!("a transcription worker panicked");
            }
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn worker_loop(
    queue: &dyn JobQueue,
    engine: &dyn Transcriber,
    clock: &dyn Clock,
    cfg: &WorkerConfig,
    signal: &Signal,
) {
    let mut seen = 0u64;
    // A database fault (full, read-only, locked) is said once, not at every poll.
    let mut outage = crate::store::Outage::default();
    while !signal.stopping() {
        let busy = match run_once(queue, engine, clock, cfg) {
            Ok(step) => {
                outage.ok("transcription queue");
                !matches!(step, Step::Off | Step::Idle)
            }
            Err(e) => {
                outage.failed("transcription queue", &e, e.fault());
                false
            }
        };
        // After a job, look for the next at once; otherwise sleep until poll or notify.
        if !busy && signal.wait(cfg.poll, &mut seen) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::transcribe::audio::AudioError;
    use chrono::TimeZone;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[derive(Debug, Clone, PartialEq)]
    enum MemState {
        Queued,
        Running,
        Done(String),
        Failed(String),
    }

    #[derive(Debug, Clone)]
    struct MemJob {
        callback_id: CallbackId,
        path: String,
        state: MemState,
        attempts: u32,
        next_try_at: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
        error: Option<String>,
    }

    /// The queue's contract in memory, for unit tests only; the real one is in the store.
    #[derive(Default)]
    struct MemoryQueue {
        jobs: Mutex<BTreeMap<JobId, MemJob>>,
    }

    impl MemoryQueue {
        fn get(&self, id: JobId) -> MemJob {
            self.jobs.lock().unwrap()[&id].clone()
        }
    }

    impl JobQueue for MemoryQueue {
        fn enqueue(
            &self,
            callback_id: CallbackId,
            wav_path: &str,
            now: DateTime<Utc>,
        ) -> Result<JobId, StoreError> {
            let mut jobs = self.jobs.lock().unwrap();
            let id = jobs.len() as JobId + 1;
            jobs.insert(
                id,
                MemJob {
                    callback_id,
                    path: wav_path.to_string(),
                    state: MemState::Queued,
                    attempts: 0,
                    next_try_at: now,
                    lease_until: None,
                    error: None,
                },
            );
            Ok(id)
        }

        fn claim_next(
            &self,
            now: DateTime<Utc>,
            lease: Duration,
        ) -> Result<Option<Job>, StoreError> {
            let mut jobs = self.jobs.lock().unwrap();
            let due = jobs.iter_mut().find(|(_, j)| match j.state {
                MemState::Queued => j.next_try_at <= now,
                MemState::Running => j.lease_until.is_some_and(|l| l <= now),
                _ => false,
            });
            Ok(due.map(|(id, j)| {
                j.state = MemState::Running;
                j.attempts += 1;
                j.lease_until = Some(now + lease);
                Job {
                    id: *id,
                    callback_id: j.callback_id,
                    wav_path: j.path.clone(),
                    attempts: j.attempts,
                    lease_until: now + lease,
                }
            }))
        }

        fn complete(
            &self,
            job: &Job,
            result: &TranscriptResult,
            _now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let mut jobs = self.jobs.lock().unwrap();
            let j = jobs.get_mut(&job.id).unwrap();
            j.state = MemState::Done(result.text.clone());
            j.lease_until = None;
            Ok(())
        }

        fn fail(
            &self,
            job: &Job,
            reason: &str,
            retry: Retry,
            _now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let mut jobs = self.jobs.lock().unwrap();
            let j = jobs.get_mut(&job.id).unwrap();
            j.error = Some(reason.to_string());
            j.lease_until = None;
            match retry {
                Retry::At(t) => {
                    j.state = MemState::Queued;
                    j.next_try_at = t;
                }
                Retry::Never => j.state = MemState::Failed(reason.to_string()),
            }
            Ok(())
        }
    }

    /// Fails with a retryable whisper error the first `fail_first` calls, or always with a
    /// corrupt-file error when `corrupt`.
    struct Fake {
        ready: AtomicBool,
        fail_first: usize,
        corrupt: bool,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(fail_first: usize, corrupt: bool) -> Self {
            Self {
                ready: AtomicBool::new(true),
                fail_first,
                corrupt,
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl Transcriber for Fake {
        fn ready(&self) -> bool {
            self.ready.load(Ordering::SeqCst)
        }

        fn transcribe_file(&self, path: &Path) -> Result<TranscriptResult, TranscribeError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.corrupt {
                return Err(AudioError::Corrupt {
                    path: path.display().to_string(),
                    reason: "bad RIFF".into(),
                }
                .into());
            }
            if n < self.fail_first {
                return Err(TranscribeError::Whisper("out of memory".into()));
            }
            Ok(TranscriptResult {
                text: format!("text of {}", path.display()),
                segments: vec![],
                language: Some("en".into()),
                processing_ms: 1,
                no_speech: None,
            })
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
    }

    fn cfg() -> WorkerConfig {
        WorkerConfig {
            max_attempts: 3,
            backoff_base: Duration::seconds(10),
            backoff_max: Duration::seconds(25),
            ..WorkerConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        // 10 s, 20 s, then capped at 25 s.
        let c = cfg();
        assert_eq!(c.backoff(1), Duration::seconds(10));
        assert_eq!(c.backoff(2), Duration::seconds(20));
        assert_eq!(c.backoff(3), Duration::seconds(25));
        assert_eq!(c.backoff(40), Duration::seconds(25));
    }

    #[test]
    fn transient_failure_retried_after_backoff_then_done() {
        // Whisper fails once; the job waits 10 s, is not claimed earlier, then succeeds.
        let (q, fake, clock) = (
            MemoryQueue::default(),
            Fake::new(1, false),
            ManualClock::new(t0()),
        );
        let id = q.enqueue(7, "/rec/a.wav", t0()).unwrap();
        let step = run_once(&q, &fake, &clock, &cfg()).unwrap();
        assert_eq!(step, Step::RetryAt(id, t0() + Duration::seconds(10)));
        assert_eq!(
            q.get(id).error.as_deref(),
            Some("whisper failed: out of memory")
        );
        clock.advance(Duration::seconds(9));
        assert_eq!(run_once(&q, &fake, &clock, &cfg()).unwrap(), Step::Idle);
        clock.advance(Duration::seconds(1));
        assert_eq!(run_once(&q, &fake, &clock, &cfg()).unwrap(), Step::Done(id));
        assert_eq!(q.get(id).state, MemState::Done("text of /rec/a.wav".into()));
        assert_eq!(q.get(id).attempts, 2);
    }

    #[test]
    fn retries_exhausted_fail_permanently_with_reason() {
        // Whisper always fails: after max_attempts (3) the job is failed for good.
        let (q, fake, clock) = (
            MemoryQueue::default(),
            Fake::new(99, false),
            ManualClock::new(t0()),
        );
        let id = q.enqueue(7, "/rec/a.wav", t0()).unwrap();
        for _ in 0..2 {
            assert!(matches!(
                run_once(&q, &fake, &clock, &cfg()).unwrap(),
                Step::RetryAt(..)
            ));
            clock.advance(Duration::minutes(1));
        }
        assert_eq!(
            run_once(&q, &fake, &clock, &cfg()).unwrap(),
            Step::Failed(id)
        );
        assert_eq!(
            q.get(id).state,
            MemState::Failed("whisper failed: out of memory".into())
        );
        clock.advance(Duration::hours(1));
        assert_eq!(run_once(&q, &fake, &clock, &cfg()).unwrap(), Step::Idle);
    }

    #[test]
    fn corrupt_file_fails_at_once() {
        // A corrupt WAV is not retried: it cannot get better.
        let (q, fake, clock) = (
            MemoryQueue::default(),
            Fake::new(0, true),
            ManualClock::new(t0()),
        );
        let id = q.enqueue(7, "/rec/bad.wav", t0()).unwrap();
        assert_eq!(
            run_once(&q, &fake, &clock, &cfg()).unwrap(),
            Step::Failed(id)
        );
        assert!(matches!(q.get(id).state, MemState::Failed(r) if r.contains("bad RIFF")));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn lapsed_lease_is_reclaimed_and_gives_up_after_max() {
        // A worker that died mid-job: the job is claimed again when the lease lapses; past
        // max_attempts it is failed without running it again.
        let (q, fake, clock) = (
            MemoryQueue::default(),
            Fake::new(0, false),
            ManualClock::new(t0()),
        );
        let c = cfg();
        let id = q.enqueue(7, "/rec/a.wav", t0()).unwrap();
        for _ in 0..c.max_attempts {
            assert!(q.claim_next(clock.now(), c.lease).unwrap().is_some());
            assert!(q.claim_next(clock.now(), c.lease).unwrap().is_none());
            clock.advance(c.lease);
        }
        assert_eq!(run_once(&q, &fake, &clock, &c).unwrap(), Step::Failed(id));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn no_model_leaves_jobs_queued() {
        // With transcription off the worker claims nothing: no attempts are used up.
        let (q, fake, clock) = (
            MemoryQueue::default(),
            Fake::new(0, false),
            ManualClock::new(t0()),
        );
        fake.ready.store(false, Ordering::SeqCst);
        let id = q.enqueue(7, "/rec/a.wav", t0()).unwrap();
        assert_eq!(run_once(&q, &fake, &clock, &cfg()).unwrap(), Step::Off);
        assert_eq!(q.get(id).attempts, 0);
        assert_eq!(q.get(id).state, MemState::Queued);
    }

    #[test]
    fn threads_drain_the_queue_and_stop_joins() {
        // Two worker threads take five jobs; stop() returns only after they exit.
        let q = Arc::new(MemoryQueue::default());
        let clock = Arc::new(ManualClock::new(t0()));
        for n in 0..5 {
            q.enqueue(n, &format!("/rec/{n}.wav"), t0()).unwrap();
        }
        let fake = Arc::new(Fake::new(0, false));
        let workers = Workers::start(
            q.clone(),
            fake.clone(),
            clock,
            WorkerConfig {
                workers: 2,
                poll: std::time::Duration::from_millis(10),
                ..cfg()
            },
        )
        .unwrap();
        workers.notify();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while fake.calls.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        workers.stop();
        assert_eq!(fake.calls.load(Ordering::SeqCst), 5);
        for id in 1..=5 {
            assert!(matches!(q.get(id).state, MemState::Done(_)));
        }
    }
}
