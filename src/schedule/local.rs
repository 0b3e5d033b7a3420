//! Wall-clock times in IANA zones, and the DST rule (see the module docs of `schedule`).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// An unknown IANA zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone '{0}' (expected an IANA name such as Europe/Berlin or America/New_York)"
)]
pub struct ZoneError(pub String);

/// Parses an IANA zone name (`Europe/Berlin`). Links and legacy names the tz database
/// holds (`US/Eastern`, `CET`) are accepted as the database defines them.
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    let name = name.trim();
    name.parse::<Tz>().map_err(|_| ZoneError(name.to_string()))
}

/// The instant a wall-clock time in `zone` names, by the documented DST rule: a time in a
/// spring-forward gap moves forward by the gap's length; a time that occurs twice means the
/// earlier instant.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => {
            // Read the wall time with the offset in force just before the gap: the instant
            // lands after the transition, shown as the time plus the gap's length. Gaps are
            // at most a day long (Samoa skipped 2011-12-30), so a bounded walk back finds it.
            let before = (1..=4 * 49)
                .map(|k| local - Duration::minutes(15 * k))
                .find_map(|probe| zone.offset_from_local_datetime(&probe).latest());
            let offset = before.map(|o| o.fix().local_minus_utc()).unwrap_or(0);
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(zone: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        let naive = NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap();
        resolve_local(parse_zone(zone).unwrap(), naive)
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn new_york_gap_moves_forward_and_overlap_takes_the_earlier() {
        // 02:30 on 2026-03-08 does not exist in New York (03:30 EDT); 01:30 on 2026-11-01 is EDT.
        assert_eq!(
            at("America/New_York", 2026, 3, 8, 2, 30),
            utc(2026, 3, 8, 7, 30)
        );
        assert_eq!(
            at("America/New_York", 2026, 3, 8, 1, 59),
            utc(2026, 3, 8, 6, 59)
        );
        assert_eq!(
            at("America/New_York", 2026, 3, 8, 3, 0),
            utc(2026, 3, 8, 7, 0)
        );
        assert_eq!(
            at("America/New_York", 2026, 11, 1, 1, 30),
            utc(2026, 11, 1, 5, 30)
        );
        assert_eq!(
            at("America/New_York", 2026, 11, 1, 2, 0),
            utc(2026, 11, 1, 7, 0)
        );
    }

    #[test]
    fn berlin_gap_and_overlap() {
        // Berlin springs 02:00→03:00 on 2026-03-29 and falls 03:00→02:00 on 2026-10-25.
        assert_eq!(
            at("Europe/Berlin", 2026, 3, 29, 2, 15),
            utc(2026, 3, 29, 1, 15)
        );
        let shown =
            at("Europe/Berlin", 2026, 3, 29, 2, 15).with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(shown.format("%H:%M %Z").to_string(), "03:15 CEST");
        assert_eq!(
            at("Europe/Berlin", 2026, 10, 25, 2, 30),
            utc(2026, 10, 25, 0, 30)
        );
        assert_eq!(
            at("Europe/Berlin", 2026, 10, 25, 3, 0),
            utc(2026, 10, 25, 2, 0)
        );
    }

    #[test]
    fn lord_howe_thirty_minute_shift() {
        // Lord Howe moves 02:00→02:30 (+10:30→+11) on 2026-10-04 and back on 2026-04-05.
        assert_eq!(
            at("Australia/Lord_Howe", 2026, 10, 4, 2, 10),
            utc(2026, 10, 3, 15, 40)
        );
        let shown = at("Australia/Lord_Howe", 2026, 10, 4, 2, 10)
            .with_timezone(&chrono_tz::Australia::Lord_Howe);
        assert_eq!(shown.format("%H:%M").to_string(), "02:40");
        // 01:45 on 2026-04-05 happens twice (+11 then +10:30): the earlier is 14:45 UTC.
        assert_eq!(
            at("Australia/Lord_Howe", 2026, 4, 5, 1, 45),
            utc(2026, 4, 4, 14, 45)
        );
    }

    #[test]
    fn kolkata_has_no_dst_and_a_half_hour_offset() {
        // Asia/Kolkata is +05:30 all year.
        assert_eq!(
            at("Asia/Kolkata", 2026, 3, 8, 2, 30),
            utc(2026, 3, 7, 21, 0)
        );
        assert_eq!(
            at("Asia/Kolkata", 2026, 11, 1, 9, 0),
            utc(2026, 11, 1, 3, 30)
        );
    }

    #[test]
    fn unknown_zones_are_named() {
        // A zone the database does not know is refused with its name.
        assert_eq!(
            parse_zone(" Europe/Berlin ").unwrap(),
            chrono_tz::Europe::Berlin
        );
        let e = parse_zone("Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("'Mars/Olympus'"));
        assert!(parse_zone("").is_err());
    }
}
