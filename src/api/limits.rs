//! Request rate limits: one token bucket per API key and per client address, refilled
//! continuously (`rate` per minute, bursts up to `rate`). In memory: a restart forgets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept at most; beyond it, full (idle) buckets are forgotten first.
const MAX_BUCKETS: usize = 10_000;

/// How often idle buckets are forgotten: a bucket refills within a minute, so one unused
/// for that long is full and the same as none.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    per_minute: u32,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    map: HashMap<String, Bucket>,
    pruned: Instant,
}

impl Limiter {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// Takes one token of `who`'s bucket, or says how many seconds until one is there.
    pub fn take(&self, who: &str) -> Result<(), u64> {
        self.take_at(who, Instant::now())
    }

    fn take_at(&self, who: &str, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let per_sec = cap / 60.0;
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Buckets { map, pruned } = &mut *guard;
        if now.saturating_duration_since(*pruned) >= PRUNE_EVERY {
            // Idle (full again) buckets go, so memory follows the clients of the last minute.
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < cap
            });
            *pruned = now;
        }
        if map.len() >= MAX_BUCKETS && !map.contains_key(who) {
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < cap
            });
            if map.len() >= MAX_BUCKETS {
                // Every bucket is in use: refuse the newcomer rather than grow without bound.
                return Err(60);
            }
        }
        let b = map.entry(who.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        b.tokens =
            (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / per_sec).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        // Three a minute: three pass at once, the fourth waits about 20 s; others unaffected.
        let l = Limiter::new(3);
        for _ in 0..3 {
            assert!(l.take("a").is_ok());
        }
        let wait = l.take("a").unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(l.take("b").is_ok());
        assert!(Limiter::new(0).take("a").is_ok());
    }

    #[test]
    fn idle_buckets_are_forgotten() {
        let l = Limiter::new(60);
        let t0 = Instant::now();
        for who in ["a", "b", "c"] {
            assert!(l.take_at(who, t0).is_ok());
        }
        assert_eq!(l.buckets.lock().unwrap().map.len(), 3);
        // Two minutes on, all three are full again: the next take forgets them.
        let later = t0 + std::time::Duration::from_secs(120);
        assert!(l.take_at("d", later).is_ok());
        let b = l.buckets.lock().unwrap();
        assert_eq!(b.map.keys().collect::<Vec<_>>(), vec!["d"]);
    }
}
