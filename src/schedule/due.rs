//! The due time of a request.
//!
//! - `Now` / `After(d)` (immediate, delayed, and agent-preview asked that way): now (+ d),
//!   not before the customer's window opens, moved to the queue's next opening when it is
//!   closed. Immediate requests keep their place: their due time is the request time.
//! - `Local` / `At` (scheduled): the instant itself (a wall-clock time read in the
//!   customer's zone), which must be in the future (a slot
//!   still in progress counts: due at once), within the horizon, not on a closed date,
//!   inside business hours and the window, and in a slot with capacity left. A refusal
//!   names the nearest bookable slot.

use super::local::resolve_local;
use super::slots::{mark, slot_at, slots_between, SlotState};
use super::{QueueRules, SlotUsage};
use crate::model::{CallbackType, Window};
use crate::when::Requested;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use std::fmt;

/// The outcome of the rules: when to call, and the slot it books (scheduled requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub due_at: DateTime<Utc>,
    /// `[start, end)` and capacity of the booked slot, for the store to re-check atomically.
    pub slot: Option<(DateTime<Utc>, DateTime<Utc>, u32)>,
}

/// An instant as the customer reads it: `2026-11-23 09:00 Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub at: DateTime<Utc>,
    pub zone: Tz,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.at.with_timezone(&self.zone).format("%Y-%m-%d %H:%M"),
            self.zone.name()
        )
    }
}

/// The tail of a refusal: where the customer could book instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nearest(pub Option<Shown>);

impl fmt::Display for Nearest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "; the nearest available slot is {s}"),
            None => f.write_str("; no slot is available within the booking horizon"),
        }
    }
}

/// Why a time cannot be booked. Every variant that can name the nearest valid slot does, in
/// the customer's zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{requested} is in the past{nearest}")]
    InPast { requested: Shown, nearest: Nearest },
    #[error("{requested} is outside the business hours of queue '{queue}'{nearest}")]
    OutsideHours {
        queue: String,
        requested: Shown,
        nearest: Nearest,
    },
    #[error("queue '{queue}' is closed on {date}{nearest}")]
    ClosedDate {
        queue: String,
        date: NaiveDate,
        requested: Shown,
        nearest: Nearest,
    },
    #[error("{requested} is beyond the booking horizon ({days} days ahead){nearest}")]
    BeyondHorizon {
        days: i64,
        requested: Shown,
        nearest: Nearest,
    },
    #[error("a delay to {requested} is beyond the booking horizon ({days} days ahead)")]
    DelayBeyondHorizon { days: i64, requested: Shown },
    #[error("the slot of {requested} is full{nearest}")]
    SlotFull { requested: Shown, nearest: Nearest },
    #[error("{requested} is outside the customer's availability window{nearest}")]
    OutsideWindow { requested: Shown, nearest: Nearest },
    #[error(
        "the customer's availability window ends at {until}, before queue '{queue}' next opens"
    )]
    WindowClosed { queue: String, until: Shown },
    #[error("queue '{queue}' does not open within the next {days} days")]
    NoOpening { queue: String, days: i64 },
}

impl ScheduleError {
    /// A stable, kebab-case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            ScheduleError::InPast { .. } => "in-past",
            ScheduleError::OutsideHours { .. } => "outside-hours",
            ScheduleError::ClosedDate { .. } => "closed-date",
            ScheduleError::BeyondHorizon { .. } | ScheduleError::DelayBeyondHorizon { .. } => {
                "beyond-horizon"
            }
            ScheduleError::SlotFull { .. } => "slot-full",
            ScheduleError::OutsideWindow { .. } => "outside-window",
            ScheduleError::WindowClosed { .. } => "window-closed",
            ScheduleError::NoOpening { .. } => "no-opening",
        }
    }

    /// The nearest bookable slot's start, when the error names one.
    pub fn nearest(&self) -> Option<DateTime<Utc>> {
        match self {
            ScheduleError::InPast { nearest, .. }
            | ScheduleError::OutsideHours { nearest, .. }
            | ScheduleError::ClosedDate { nearest, .. }
            | ScheduleError::BeyondHorizon { nearest, .. }
            | ScheduleError::SlotFull { nearest, .. }
            | ScheduleError::OutsideWindow { nearest, .. } => nearest.0.map(|s| s.at),
            _ => None,
        }
    }
}

/// The bookable slot start closest in time to `t`: at or after now, within the horizon and
/// the window, with capacity left.
fn nearest_slot(
    rules: &QueueRules,
    window: &Window,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> Option<DateTime<Utc>> {
    let horizon_end = now + rules.horizon;
    let first = rules.hours.local_date(now);
    let last = rules.hours.local_date(horizon_end);
    let mut candidates: Vec<_> = slots_between(rules, first, last)
        .into_iter()
        .filter(|(s, _)| *s >= now && *s <= horizon_end && window.contains(*s))
        .collect();
    // Ask the store about the closest slots first: most refusals are settled by one or two.
    candidates.sort_by_key(|(s, _)| ((*s - t).num_seconds().abs(), *s));
    candidates
        .into_iter()
        .map(|slot| mark(rules, slot, now, usage))
        .find(|slot| slot.state == SlotState::Available)
        .map(|slot| slot.start)
}

/// The due time of a request of type `kind` asked for `when`, within `window`, for a queue
/// with `rules`, at `now`; `customer_zone` is used to name times in errors.
pub fn plan_due(
    kind: CallbackType,
    when: &Requested,
    window: &Window,
    rules: &QueueRules,
    customer_zone: Tz,
    now: DateTime<Utc>,
    usage: &dyn SlotUsage,
) -> Result<Plan, ScheduleError> {
    // The type does not change the rules: how the time was asked for does.
    let _ = kind;
    let shown = |at: DateTime<Utc>| Shown {
        at,
        zone: customer_zone,
    };
    let horizon_end = now + rules.horizon;
    let days = rules.horizon.num_days();
    let t = match when {
        Requested::Now | Requested::After(_) => {
            let delay = if let Requested::After(d) = when {
                *d
            } else {
                Duration::zero()
            };
            let mut due = now + delay.max(Duration::zero());
            if let Some(from) = window.from {
                due = due.max(from);
            }
            if due > horizon_end {
                // No slot to suggest: a delay names no slot, it is simply too long.
                return Err(ScheduleError::DelayBeyondHorizon {
                    days,
                    requested: shown(due),
                });
            }
            let open = rules.hours.next_open(due, horizon_end).ok_or_else(|| {
                ScheduleError::NoOpening {
                    queue: rules.name.clone(),
                    days,
                }
            })?;
            if let Some(until) = window.until {
                if open >= until {
                    return Err(ScheduleError::WindowClosed {
                        queue: rules.name.clone(),
                        until: shown(until),
                    });
                }
            }
            return Ok(Plan {
                due_at: open,
                slot: None,
            });
        }
        Requested::Local(naive) => resolve_local(customer_zone, *naive),
        Requested::At(t) => *t,
    };
    let nearest = || Nearest(nearest_slot(rules, window, t, now, usage).map(shown));
    let slot = slot_at(rules, t);
    // A slot still in progress is bookable: the callback is then due at once.
    let due = match slot {
        Some((_, end)) if t < now && end > now => now,
        _ => t,
    };
    if due < now {
        return Err(ScheduleError::InPast {
            requested: shown(t),
            nearest: nearest(),
        });
    }
    if due > horizon_end {
        return Err(ScheduleError::BeyondHorizon {
            days,
            requested: shown(t),
            nearest: nearest(),
        });
    }
    let date = rules.hours.local_date(t);
    if rules.hours.is_closed_date(date) {
        return Err(ScheduleError::ClosedDate {
            queue: rules.name.clone(),
            date,
            requested: shown(t),
            nearest: nearest(),
        });
    }
    let Some((start, end)) = slot else {
        return Err(ScheduleError::OutsideHours {
            queue: rules.name.clone(),
            requested: shown(t),
            nearest: nearest(),
        });
    };
    if !window.contains(due) {
        return Err(ScheduleError::OutsideWindow {
            requested: shown(t),
            nearest: nearest(),
        });
    }
    if usage.used(start, end) >= rules.slots.capacity {
        return Err(ScheduleError::SlotFull {
            requested: shown(t),
            nearest: nearest(),
        });
    }
    Ok(Plan {
        due_at: due,
        slot: Some((start, end, rules.slots.capacity)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{BusinessHours, NoUsage, SlotPolicy};
    use chrono::{NaiveDateTime, TimeZone};

    fn rules() -> QueueRules {
        QueueRules {
            name: "sales".into(),
            hours: BusinessHours::parse(
                chrono_tz::Europe::Berlin,
                "mon-fri 09:00-17:00",
                "2026-12-04",
            )
            .unwrap(),
            slots: SlotPolicy {
                minutes: 30,
                capacity: 2,
            },
            horizon: Duration::days(30),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// A wall-clock time, read in the customer's zone (Berlin in [`plan`]).
    fn local(s: &str) -> Requested {
        Requested::Local(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    const MON_10AM: (i32, u32, u32, u32, u32) = (2026, 11, 23, 9, 0);

    fn now() -> DateTime<Utc> {
        let (y, mo, d, h, mi) = MON_10AM;
        utc(y, mo, d, h, mi)
    }

    fn plan(when: Requested, window: Window) -> Result<Plan, ScheduleError> {
        plan_due(
            CallbackType::Scheduled,
            &when,
            &window,
            &rules(),
            chrono_tz::Europe::Berlin,
            now(),
            &NoUsage,
        )
    }

    #[test]
    fn now_and_delay_follow_hours_and_window() {
        // Immediate is now when open; a delay past closing moves to the next opening; the window holds it back.
        assert_eq!(
            plan(Requested::Now, Window::default()).unwrap(),
            Plan {
                due_at: now(),
                slot: None
            }
        );
        let late = plan(Requested::After(Duration::hours(7)), Window::default()).unwrap();
        assert_eq!(late.due_at, utc(2026, 11, 24, 8, 0));
        let window = Window {
            from: Some(utc(2026, 11, 23, 13, 0)),
            until: None,
        };
        assert_eq!(
            plan(Requested::Now, window).unwrap().due_at,
            utc(2026, 11, 23, 13, 0)
        );
        let closed = Window {
            from: None,
            until: Some(utc(2026, 11, 23, 8, 30)),
        };
        let err = plan(Requested::Now, closed).unwrap_err();
        assert_eq!(err.code(), "window-closed");
    }

    #[test]
    fn scheduled_times_are_checked_and_refusals_name_the_nearest_slot() {
        // Each rule refuses with its own code, naming a nearby bookable slot.
        let ok = plan(local("2026-11-24 14:10"), Window::default()).unwrap();
        assert_eq!(ok.due_at, utc(2026, 11, 24, 13, 10));
        assert_eq!(
            ok.slot,
            Some((utc(2026, 11, 24, 13, 0), utc(2026, 11, 24, 13, 30), 2))
        );
        let e = plan(local("2026-11-23 20:00"), Window::default()).unwrap_err();
        assert_eq!(e.code(), "outside-hours");
        assert_eq!(
            e.to_string(),
            "2026-11-23 20:00 Europe/Berlin is outside the business hours of queue 'sales'; the nearest available slot is 2026-11-23 16:30 Europe/Berlin"
        );
        assert_eq!(
            plan(local("2026-11-23 09:00"), Window::default())
                .unwrap_err()
                .code(),
            "in-past"
        );
        let e = plan(local("2026-12-04 10:00"), Window::default()).unwrap_err();
        assert_eq!(e.code(), "closed-date");
        assert_eq!(e.nearest(), Some(utc(2026, 12, 3, 15, 30)));
        let e = plan(local("2027-01-05 10:00"), Window::default()).unwrap_err();
        assert_eq!(e.code(), "beyond-horizon");
        assert!(
            e.to_string()
                .contains("beyond the booking horizon (30 days ahead)"),
            "{e}"
        );
        // A delay past the horizon says so, and names no slot (it asked for none).
        let e = plan(Requested::After(Duration::days(31)), Window::default()).unwrap_err();
        assert_eq!(e.code(), "beyond-horizon");
        assert!(e.to_string().contains("beyond the booking horizon"), "{e}");
        assert!(!e.to_string().contains("no slot"), "{e}");
        let window = Window {
            from: Some(utc(2026, 11, 25, 8, 0)),
            until: None,
        };
        let e = plan(local("2026-11-24 14:10"), window).unwrap_err();
        assert_eq!(e.code(), "outside-window");
        assert_eq!(e.nearest(), Some(utc(2026, 11, 25, 8, 0)));
    }

    #[test]
    fn a_slot_in_progress_is_due_at_once_and_full_slots_are_skipped() {
        // 10:00 Berlin was at the slot's start; booking it at 10:10 makes it due now.
        let now = now() + Duration::minutes(10);
        let p = plan_due(
            CallbackType::Scheduled,
            &local("2026-11-23 10:00"),
            &Window::default(),
            &rules(),
            chrono_tz::Europe::Berlin,
            now,
            &NoUsage,
        )
        .unwrap();
        assert_eq!(p.due_at, now);
        let full_at_10 =
            |s: DateTime<Utc>, _: DateTime<Utc>| if s == utc(2026, 11, 24, 9, 0) { 2 } else { 0 };
        let e = plan_due(
            CallbackType::Scheduled,
            &local("2026-11-24 10:00"),
            &Window::default(),
            &rules(),
            chrono_tz::Europe::Berlin,
            now,
            &full_at_10,
        )
        .unwrap_err();
        assert_eq!(e.code(), "slot-full");
        // Two slots are equally near (09:30 and 10:30); the earlier wins.
        assert_eq!(e.nearest(), Some(utc(2026, 11, 24, 8, 30)));
    }
}
