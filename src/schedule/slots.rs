//! Slots cut from business hours, and the availability grid of a day.
//!
//! Each open interval is cut into slots of the queue's length from its opening; a last
//! piece shorter than a slot is not bookable. A slot in progress stays bookable while it
//! has capacity (the callback is then due at once).

use super::local::resolve_local;
use super::{QueueRules, SlotUsage};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Slot length and how many callbacks one slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPolicy {
    pub minutes: u32,
    pub capacity: u32,
}

impl SlotPolicy {
    pub fn length(&self) -> Duration {
        Duration::minutes(i64::from(self.minutes.max(1)))
    }
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

impl Slot {
    pub fn left(&self) -> u32 {
        self.capacity.saturating_sub(self.used)
    }
}

/// The slots of one day in the customer's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayGrid {
    pub date: NaiveDate,
    pub zone: String,
    pub slots: Vec<Slot>,
}

/// Every slot `[start, end)` of the queue's calendar dates `from..=to`, in order.
pub(crate) fn slots_between(
    rules: &QueueRules,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let len = rules.slots.length();
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        for (open, close) in rules.hours.intervals_on(date) {
            let mut s = open;
            while s + len <= close {
                out.push((s, s + len));
                s += len;
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    out
}

/// The slot containing `t`, if `t` is inside a whole slot.
pub(crate) fn slot_at(
    rules: &QueueRules,
    t: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (open, close) = rules.hours.interval_at(t)?;
    let len = rules.slots.length();
    let k = (t - open).num_seconds() / len.num_seconds();
    let start = open + Duration::seconds(k * len.num_seconds());
    (start + len <= close).then_some((start, start + len))
}

/// Marks a slot for a grid or a search.
pub(crate) fn mark(
    rules: &QueueRules,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> Slot {
    let capacity = rules.slots.capacity;
    let (used, state) = if end <= now {
        (0, SlotState::Past)
    } else if start > now + rules.horizon {
        (0, SlotState::BeyondHorizon)
    } else {
        let used = usage.used(start, end);
        (
            used,
            if used >= capacity {
                SlotState::Full
            } else {
                SlotState::Available
            },
        )
    };
    Slot {
        start,
        end,
        capacity,
        used,
        state,
    }
}

/// The slots whose start falls on `date` in `customer_zone`, each marked with its state.
/// Past, full and out-of-horizon slots are marked, not hidden.
pub fn availability(
    rules: &QueueRules,
    customer_zone: Tz,
    date: NaiveDate,
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> DayGrid {
    let day_start = resolve_local(customer_zone, date.and_time(NaiveTime::MIN));
    let day_end = date
        .succ_opt()
        .map(|d| resolve_local(customer_zone, d.and_time(NaiveTime::MIN)))
        .unwrap_or(day_start);
    // The customer's day can span two or three of the queue's calendar dates.
    let first = rules.hours.local_date(day_start).pred_opt().unwrap_or(date);
    let last = rules.hours.local_date(day_end);
    let slots = slots_between(rules, first, last)
        .into_iter()
        .filter(|(s, _)| *s >= day_start && *s < day_end)
        .map(|slot| mark(rules, slot, now, usage))
        .collect();
    DayGrid {
        date,
        zone: customer_zone.name().to_string(),
        slots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{BusinessHours, NoUsage};
    use chrono::TimeZone;

    fn rules(zone: Tz, hours: &str, minutes: u32) -> QueueRules {
        QueueRules {
            name: "q".into(),
            hours: BusinessHours::parse(zone, hours, "").unwrap(),
            slots: SlotPolicy {
                minutes,
                capacity: 2,
            },
            horizon: Duration::days(30),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn grid_marks_past_full_and_available_slots() {
        // In a 09:00-11:00 day with 30-min slots, the first is past, one is full, the rest open.
        let r = rules(Tz::UTC, "always", 30);
        let r = QueueRules {
            hours: BusinessHours::parse(Tz::UTC, "mon-fri 09:00-11:00", "").unwrap(),
            ..r
        };
        let now = utc(2026, 11, 23, 9, 40);
        let usage =
            |s: DateTime<Utc>, _e: DateTime<Utc>| if s == utc(2026, 11, 23, 10, 0) { 2 } else { 1 };
        let grid = availability(
            &r,
            Tz::UTC,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            now,
            &usage,
        );
        let states: Vec<SlotState> = grid.slots.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                SlotState::Past,
                SlotState::Available,
                SlotState::Full,
                SlotState::Available
            ]
        );
        assert_eq!(grid.slots[1].left(), 1);
        assert_eq!(grid.zone, "UTC");
    }

    #[test]
    fn customer_day_spans_queue_dates() {
        // A Kolkata customer's day shows a New York queue's evening and next morning slots.
        let r = rules(chrono_tz::America::New_York, "always", 60);
        let grid = availability(
            &r,
            chrono_tz::Asia::Kolkata,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            utc(2026, 11, 20, 0, 0),
            &NoUsage,
        );
        assert_eq!(grid.slots.len(), 24);
        // Kolkata midnight is 18:30 UTC; NY slots start on the hour of NY time (xx:00 UTC-5).
        assert_eq!(grid.slots[0].start, utc(2026, 11, 23, 19, 0));
        assert!(grid.slots.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn slot_grid_on_dst_days() {
        // Berlin 00:00-06:00 with 30-min slots: 10 slots on spring-forward day, 14 on fall-back.
        let r = rules(chrono_tz::Europe::Berlin, "sun 00:00-06:00", 30);
        let spring = availability(
            &r,
            chrono_tz::Europe::Berlin,
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            utc(2026, 3, 1, 0, 0),
            &NoUsage,
        );
        assert_eq!(spring.slots.len(), 10);
        assert_eq!(spring.slots[0].start, utc(2026, 3, 28, 23, 0));
        assert_eq!(spring.slots.last().unwrap().end, utc(2026, 3, 29, 4, 0));
        let fall = availability(
            &r,
            chrono_tz::Europe::Berlin,
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            utc(2026, 10, 1, 0, 0),
            &NoUsage,
        );
        assert_eq!(fall.slots.len(), 14);
        // Lord Howe loses half an hour: 00:00-06:00 gives 11 slots on 2026-10-04.
        let lh = rules(chrono_tz::Australia::Lord_Howe, "sun 00:00-06:00", 30);
        let g = availability(
            &lh,
            chrono_tz::Australia::Lord_Howe,
            NaiveDate::from_ymd_opt(2026, 10, 4).unwrap(),
            utc(2026, 9, 20, 0, 0),
            &NoUsage,
        );
        assert_eq!(g.slots.len(), 11);
    }

    #[test]
    fn beyond_the_horizon_is_marked() {
        // Slots after now + horizon are shown but not bookable.
        let r = QueueRules {
            horizon: Duration::days(1),
            ..rules(Tz::UTC, "always", 60)
        };
        let g = availability(
            &r,
            Tz::UTC,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            utc(2026, 11, 23, 12, 0),
            &NoUsage,
        );
        assert_eq!(g.slots[12].state, SlotState::Available);
        assert_eq!(g.slots[13].state, SlotState::BeyondHorizon);
        assert_eq!(
            slot_at(&r, utc(2026, 11, 24, 12, 30)),
            Some((utc(2026, 11, 24, 12, 0), utc(2026, 11, 24, 13, 0)))
        );
    }
}
