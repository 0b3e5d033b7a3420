//! Slots cut from business hours, and the availability grid of a day.

use super::{QueueRules, SlotUsage};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Slot length and how many callbacks one slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPolicy {
    pub minutes: u32,
    pub capacity: u32,
}

/// Why a slot can or cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotState {
    Available,
    Full,
    Past,
    BeyondHorizon,
}

/// One bookable stretch of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub capacity: u32,
    pub used: u32,
    pub state: SlotState,
}

/// The slots of one day in the customer's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayGrid {
    pub date: NaiveDate,
    pub zone: String,
    pub slots: Vec<Slot>,
}

/// The slots whose start falls on `date` in `customer_zone`, each marked with its state.
pub fn availability(
    rules: &QueueRules,
    customer_zone: Tz,
    date: NaiveDate,
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> DayGrid {
    let _ = (rules, customer_zone, date, now, usage);
    todo!("schedule helper")
}
