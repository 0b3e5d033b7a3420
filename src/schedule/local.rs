//! Wall-clock times in IANA zones, and the DST rule (see the module docs of `schedule`).

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// An unknown IANA zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone '{0}' (expected an IANA name such as Europe/Berlin or America/New_York)"
)]
pub struct ZoneError(pub String);

/// Parses an IANA zone name (`Europe/Berlin`); abbreviations such as `CET` that the
/// database holds are accepted as the database defines them.
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    let _ = name;
    todo!("schedule helper")
}

/// The instant a wall-clock time in `zone` names, by the documented DST rule: a time in a
/// spring-forward gap moves forward by the gap's length; a time that occurs twice means the
/// earlier instant.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let _ = (zone, local);
    todo!("schedule helper")
}
