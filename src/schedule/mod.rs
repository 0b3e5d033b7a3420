//! Due-time rules, as pure functions of (request, queue rules, now, slot usage).
//!
//! - [`local`]: turning a wall-clock time in a zone into an instant, with the documented DST
//!   rule: a local time that does not exist (spring-forward gap) moves forward by the length
//!   of the gap (02:30 on a New York spring-forward day is 03:30 EDT); a local time that
//!   exists twice (fall-back) means the earlier of the two instants.
//! - [`hours`]: per-queue weekly business hours in the queue's zone, plus closed dates.
//! - [`legal`]: legal calling hours, per country of the number or per queue, read in the
//!   customer's own zone.
//! - [`slots`]: slots of a given length and capacity cut from the business hours, and the
//!   availability grid of one day in the customer's zone (unavailable slots marked, not hidden).
//! - [`due`]: the due time of an immediate, delayed, scheduled or agent-preview request, or
//!   an error that names the nearest valid slot.

mod due;
mod hours;
mod legal;
mod local;
mod slots;

pub use due::{plan_due, Plan, ScheduleError};
pub use hours::{BusinessHours, HoursError};
pub use legal::{next_open_in_all, LegalHours};
pub use local::{parse_zone, resolve_local, ZoneError};
pub use slots::{availability, DayGrid, Slot, SlotPolicy, SlotState};

use chrono::Duration;

/// The schedule part of a queue's configuration.
#[derive(Debug, Clone)]
pub struct QueueRules {
    pub name: String,
    /// Opening hours in the queue's zone, and its closed dates.
    pub hours: BusinessHours,
    pub slots: SlotPolicy,
    /// How far ahead a callback may be booked (default 30 days).
    pub horizon: Duration,
}

/// How many live callbacks of a queue already fall due in `[start, end)`; the store answers
/// it, the rules only ask.
pub trait SlotUsage {
    fn used(&self, start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>)
        -> u32;
}

impl<F: Fn(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) -> u32> SlotUsage for F {
    fn used(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> u32 {
        self(start, end)
    }
}

/// No slot is used (for tests and for queues without capacity limits).
pub struct NoUsage;

impl SlotUsage for NoUsage {
    fn used(&self, _: chrono::DateTime<chrono::Utc>, _: chrono::DateTime<chrono::Utc>) -> u32 {
        0
    }
}
