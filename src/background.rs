//! A background thread that works in passes until stopped: between passes it sleeps for
//! its poll interval or until nudged; stopping wakes it and joins it. The webhook and the
//! notice workers run on one each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the loop and its handle share.
#[derive(Default)]
pub struct Signal {
    stopping: Mutex<bool>,
    wake: Condvar,
    /// Set by a nudge, taken by the next wait.
    nudged: AtomicBool,
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The poll interval passed.
    Timeout,
    /// Someone asked for a pass now.
    Nudged,
    /// The thread is to end.
    Stop,
}

impl Signal {
    pub fn stopping(&self) -> bool {
        *self.stopping.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps up to `poll`, or less when nudged (also by a nudge that came while the pass
    /// ran) or stopped.
    pub fn wait(&self, poll: Duration) -> Wake {
        let guard = self.stopping.lock().unwrap_or_else(PoisonError::into_inner);
        if *guard {
            return Wake::Stop;
        }
        if self.nudged.swap(false, Ordering::SeqCst) {
            return Wake::Nudged;
        }
        let (guard, _) = self
            .wake
            .wait_timeout(guard, poll)
            .unwrap_or_else(PoisonError::into_inner);
        if *guard {
            Wake::Stop
        } else if self.nudged.swap(false, Ordering::SeqCst) {
            Wake::Nudged
        } else {
            Wake::Timeout
        }
    }
}

/// A running background thread. [`Background::stop`] (or drop) stops and joins it.
pub struct Background {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
    /// What the thread does, for the log line if it panicked.
    what: &'static str,
}

impl Background {
    /// Starts thread `name` running `pass_loop`, which watches `signal` (its own clone).
    pub fn spawn(
        name: &str,
        what: &'static str,
        signal: Arc<Signal>,
        pass_loop: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(pass_loop)?;
        Ok(Self {
            signal,
            thread: Some(thread),
            what,
        })
    }

    /// Asks for a pass now instead of at the next poll.
    pub fn nudge(&self) {
        self.signal.nudged.store(true, Ordering::SeqCst);
        let _held = self
            .signal
            .stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.signal.wake.notify_all();
    }

    /// Stops after the pass in progress and joins the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        *self
            .signal
            .stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.signal.wake.notify_all();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("{}: the thread panicked", self.what);
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nudge_wakes_the_loop_before_its_poll_and_stop_ends_it() {
        // A loop polling once an hour: a nudge (even one sent while it works) starts the
        // next pass at once; stop ends the loop and joins it.
        let passes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = passes.clone();
        let signal = Arc::new(Signal::default());
        let s = signal.clone();
        let bg = Background::spawn("test-bg", "test", signal, move || {
            while !s.stopping() {
                seen.fetch_add(1, Ordering::SeqCst);
                if s.wait(Duration::from_secs(3600)) == Wake::Stop {
                    break;
                }
            }
        })
        .unwrap();
        let until = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while passes.load(Ordering::SeqCst) < n {
                assert!(std::time::Instant::now() < deadline, "never {n} passes");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        until(1);
        bg.nudge();
        until(2);
        bg.stop();
        assert_eq!(passes.load(Ordering::SeqCst), 2);
    }
}
