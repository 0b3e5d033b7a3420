//! Weekly business hours in a queue's zone, and closed dates.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// A malformed hours or closed-dates string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HoursError(pub String);

/// When a queue takes callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    zone: Tz,
    // the helper decides the representation
}

impl BusinessHours {
    /// `spec` is e.g. `mon-fri 09:00-17:00; sat 10:00-14:00` (several ranges per day allowed,
    /// `24:00` as an end), or `always`; `closed` lists dates `2026-12-25, 2026-12-26`.
    pub fn parse(zone: Tz, spec: &str, closed: &str) -> Result<Self, HoursError> {
        let _ = (zone, spec, closed);
        todo!("schedule helper")
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let _ = t;
        todo!("schedule helper")
    }

    /// The first instant at or after `t` when the queue is open, looking no further than `limit`.
    pub fn next_open(&self, t: DateTime<Utc>, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let _ = (t, limit);
        todo!("schedule helper")
    }

    /// The open intervals of one date of the queue's own calendar, as instants.
    pub fn intervals_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let _ = date;
        todo!("schedule helper")
    }
}
