//! Where "now" comes from. The engine never calls the system clock directly, so tests and
//! the host simulator can jump to a due time instead of waiting for it.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current instant.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests, scenarios).
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(start.timestamp_micros())),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.micros.store(to.timestamp_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.micros
            .fetch_add(by.num_microseconds().unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        micros_to_utc(self.micros.load(Ordering::SeqCst))
    }
}

/// A clock read through a function, e.g. a host's `switch_micro_time_now()`.
pub struct FnClock<F: Fn() -> i64 + Send + Sync>(pub F);

impl<F: Fn() -> i64 + Send + Sync> Clock for FnClock<F> {
    fn now(&self) -> DateTime<Utc> {
        micros_to_utc((self.0)())
    }
}

/// Microseconds since the epoch to an instant; out-of-range values clamp to the epoch.
pub fn micros_to_utc(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        // A manual clock stands still until set or advanced.
        let start = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::Duration::minutes(90));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(90));
        let fn_clock = FnClock(|| 1_000_000);
        assert_eq!(fn_clock.now().timestamp(), 1);
    }
}
