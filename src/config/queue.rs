//! One queue (`<queues><queue name="...">`): its hours, slots, horizon and retry policy,
//! with the dial, answer and legal-hours parts each section reader adds.

use super::params::{legal_week, list, Params};
use super::{answer::QueueAnswer, dispatch::QueueDial, ConfigError, Settings};
use crate::retry::{RetryDelay, RetryPolicy};
use crate::schedule::{BusinessHours, HoursError, QueueRules, SlotPolicy};
use crate::when::parse_duration;
use chrono::Duration;
use chrono_tz::Tz;

/// One queue (`<queues><queue name="...">`).
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub rules: QueueRules,
    pub retry: RetryPolicy,
    /// How its customers are dialled and its agents picked.
    pub dial: QueueDial,
    /// `legal-hours`: when its customers may be called, read in each customer's own zone
    /// (as well as their country's `<legal-hours>`).
    pub legal_hours: Option<BusinessHours>,
    /// The customer leg on answer: machine detection and its policy, the greeting.
    pub answer: QueueAnswer,
}

impl QueueConfig {
    pub fn name(&self) -> &str {
        &self.rules.name
    }

    pub fn zone(&self) -> Tz {
        self.rules.hours.zone()
    }
}

/// The keys of a queue this file reads (the dial and answer keys are their files').
pub(super) const QUEUE_KEYS: &[&str] = &[
    "time-zone",
    "hours",
    "closed-dates",
    "slot-minutes",
    "slot-capacity",
    "horizon-days",
    "retry-delays",
    "max-attempts",
    "failover-queue",
    "ttl",
    "reoffer-delay",
    "whisper-language",
    "legal-hours",
];

pub(super) fn build_queue(
    q: &Params<'_>,
    name: &str,
    settings: &Settings,
    horizon_days: u32,
) -> Result<QueueConfig, ConfigError> {
    let zone = q.zone("time-zone", settings.default_time_zone)?;
    let hours = BusinessHours::parse(
        zone,
        q.get("hours").unwrap_or("always"),
        q.get("closed-dates").unwrap_or(""),
    )
    .map_err(|e| {
        let key = match e {
            HoursError::ClosedDates(_) => "closed-dates",
            HoursError::Hours(_) => "hours",
        };
        q.err(key, e.to_string())
    })?;
    let slots = SlotPolicy {
        minutes: q.number("slot-minutes", 30u32, 5..=1440)?,
        capacity: q.number("slot-capacity", 10u32, 1..=100_000)?,
    };
    let horizon = Duration::days(i64::from(q.number(
        "horizon-days",
        horizon_days,
        1..=365,
    )?));
    let delays = list(q.get("retry-delays").unwrap_or("5m,15m,60m"))
        .into_iter()
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| q.err("retry-delays", e.to_string()))?;
    if delays.is_empty() {
        return Err(q.err("retry-delays", "give at least one delay, e.g. 5m,15m,60m"));
    }
    let ttl = match q.get("ttl") {
        Some("none" | "never") => None,
        _ => Some(q.duration("ttl", "7d")?),
    };
    let retry = RetryPolicy {
        delay: if delays.len() == 1 {
            RetryDelay::Fixed(delays[0])
        } else {
            RetryDelay::Steps(delays)
        },
        max_attempts: q.number("max-attempts", 3u32, 1..=50)?,
        failover_queue: q
            .get("failover-queue")
            .filter(|f| !f.is_empty())
            .map(str::to_string),
        ttl,
        reoffer_delay: q.duration("reoffer-delay", "10s")?,
    };
    Ok(QueueConfig {
        legal_hours: legal_week(q, "legal-hours")?,
        dial: super::dispatch::build_queue_dial(q)?,
        answer: super::answer::build_queue_answer(q)?,
        rules: QueueRules {
            name: name.to_string(),
            hours,
            slots,
            horizon,
        },
        retry,
    })
}
