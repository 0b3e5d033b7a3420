//! The due time of a request.

use super::{QueueRules, SlotUsage};
use crate::model::{CallbackType, Window};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// When the customer asked to be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// As soon as possible.
    Now,
    /// After a delay from now.
    After(Duration),
    /// A wall-clock time in a zone (the customer's).
    Local(NaiveDateTime, Tz),
    /// An exact instant (ISO 8601 with an offset).
    At(DateTime<Utc>),
}

/// The outcome of the rules: when to call, and the slot it books (scheduled requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub due_at: DateTime<Utc>,
    /// `[start, end)` and capacity of the booked slot, for the store to re-check atomically.
    pub slot: Option<(DateTime<Utc>, DateTime<Utc>, u32)>,
}

/// Why a time cannot be booked. Every variant that can name the nearest valid slot does, in
/// the customer's zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("placeholder")]
    Placeholder,
}

/// The due time of a request of type `kind` asked for `when`, within `window`, for a queue
/// with `rules`, at `now`; `customer_zone` is used to name times in errors.
pub fn plan_due(
    kind: CallbackType,
    when: &When,
    window: &Window,
    rules: &QueueRules,
    customer_zone: Tz,
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> Result<Plan, ScheduleError> {
    let _ = (kind, when, window, rules, customer_zone, now, usage);
    todo!("schedule helper")
}
