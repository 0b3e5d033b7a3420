//! Time expressions people type: durations (`15m`, `1h30m`, `7d`) and due times (`now`,
//! `+15m`, `in 2h`, `today 14:00`, `tomorrow 09:30`, `2026-11-22 14:00`, ISO 8601 with an
//! offset such as `2026-11-22T14:00:00+01:00`). The grammar is nom; the calendar is chrono.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case};
use nom::character::complete::{digit1, space0, space1};
use nom::combinator::{all_consuming, map_res, opt, rest, value};
use nom::multi::many1;
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// When someone asked to be called, before the schedule rules are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// As soon as possible.
    Now,
    /// After a delay from now.
    After(Duration),
    /// A wall-clock time in the request's time zone.
    Local(NaiveDateTime),
    /// An exact instant.
    At(DateTime<Utc>),
}

impl Requested {
    /// The request type this time implies when the client names none, the one rule every
    /// door (API, dialplan, IVR, panel, reschedule) uses: no time is *immediate*, a delay
    /// *delayed*, a clock time or an instant *scheduled*.
    pub fn implied_type(&self) -> crate::model::CallbackType {
        use crate::model::CallbackType;
        match self {
            Self::Now => CallbackType::Immediate,
            Self::After(_) => CallbackType::Delayed,
            Self::Local(_) | Self::At(_) => CallbackType::Scheduled,
        }
    }

    /// The instant this names, a wall-clock time read in `zone` (an end of the customer's
    /// window is given as a due time is, at every door).
    pub fn instant(&self, zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Now => now,
            Self::After(d) => now + *d,
            Self::Local(n) => crate::schedule::resolve_local(zone, *n),
            Self::At(t) => *t,
        }
    }
}

/// A time expression that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("'{0}' is not a duration (expected e.g. 90s, 15m, 2h, 1h30m, 7d)")]
    Duration(String),
    #[error("'{0}' is not a time (expected now, +15m, in 2h, today 14:00, tomorrow 09:30, 2026-11-22 14:00, or ISO 8601 with an offset)")]
    Time(String),
}

fn unit(i: &str) -> IResult<&str, i64> {
    // Longest names first so `min` is not read as `m` + `in`.
    alt((
        value(
            604_800,
            alt((tag_no_case("weeks"), tag_no_case("week"), tag_no_case("w"))),
        ),
        value(
            86_400,
            alt((tag_no_case("days"), tag_no_case("day"), tag_no_case("d"))),
        ),
        value(
            3_600,
            alt((
                tag_no_case("hours"),
                tag_no_case("hour"),
                tag_no_case("hr"),
                tag_no_case("h"),
            )),
        ),
        value(
            60,
            alt((
                tag_no_case("minutes"),
                tag_no_case("minute"),
                tag_no_case("min"),
                tag_no_case("m"),
            )),
        ),
        value(
            1,
            alt((
                tag_no_case("seconds"),
                tag_no_case("second"),
                tag_no_case("sec"),
                tag_no_case("s"),
            )),
        ),
    ))
    .parse(i)
}

fn duration_part(i: &str) -> IResult<&str, i64> {
    let (i, n) = map_res(digit1, str::parse::<i64>).parse(i)?;
    let (i, _) = space0(i)?;
    let (i, u) = unit(i)?;
    let (i, _) = space0(i)?;
    Ok((i, n.saturating_mul(u)))
}

fn duration_expr(i: &str) -> IResult<&str, i64> {
    let (i, parts) = many1(duration_part).parse(i)?;
    Ok((i, parts.into_iter().fold(0i64, i64::saturating_add)))
}

/// Reads a duration such as `90s`, `15m`, `1h30m`, `2 hours`, `7d`. At most 10 years.
pub fn parse_duration(text: &str) -> Result<Duration, WhenError> {
    let t = text.trim();
    let secs = all_consuming(duration_expr)
        .parse(t)
        .map(|(_, s)| s)
        .map_err(|_| WhenError::Duration(text.to_string()))?;
    if secs > 10 * 366 * 86_400 {
        return Err(WhenError::Duration(text.to_string()));
    }
    Ok(Duration::seconds(secs))
}

fn clock_time(text: &str) -> Option<NaiveTime> {
    ["%H:%M", "%H:%M:%S", "%H%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(text.trim(), f).ok())
}

fn calendar(text: &str) -> Option<Requested> {
    let t = text.trim();
    if let Ok(at) = DateTime::<FixedOffset>::parse_from_rfc3339(t) {
        return Some(Requested::At(at.with_timezone(&Utc)));
    }
    // RFC 3339 demands seconds; people and apps often leave them out.
    for f in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%d %H:%M:%S%:z",
    ] {
        if let Ok(at) = DateTime::<FixedOffset>::parse_from_str(t, f) {
            return Some(Requested::At(at.with_timezone(&Utc)));
        }
    }
    if let Some(naive) = t.strip_suffix('Z').and_then(naive_datetime) {
        return Some(Requested::At(naive.and_utc()));
    }
    naive_datetime(t).map(Requested::Local)
}

fn naive_datetime(t: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
}

#[derive(Clone)]
enum Shape<'a> {
    Now,
    In(&'a str),
    Day(i64, &'a str),
    Calendar(&'a str),
}

fn shape(i: &str) -> IResult<&str, Shape<'_>> {
    alt((
        value(Shape::Now, all_consuming(tag_no_case("now"))),
        preceded(alt((tag("+"), preceded(tag_no_case("in"), space1))), rest).map(Shape::In),
        preceded((tag_no_case("today"), opt(space1)), rest).map(|r| Shape::Day(0, r)),
        preceded((tag_no_case("tomorrow"), opt(space1)), rest).map(|r| Shape::Day(1, r)),
        rest.map(Shape::Calendar),
    ))
    .parse(i)
}

/// Reads a due-time expression. `today`/`tomorrow` are dates in `zone` as of `now`; a time
/// without an offset is a wall-clock time in the request's zone.
pub fn parse_when(text: &str, zone: Tz, now: DateTime<Utc>) -> Result<Requested, WhenError> {
    let bad = || WhenError::Time(text.to_string());
    let t = text.trim();
    let (_, s) = shape(t).map_err(|_: nom::Err<nom::error::Error<&str>>| bad())?;
    match s {
        Shape::Now => Ok(Requested::Now),
        Shape::In(d) => parse_duration(d).map(Requested::After).map_err(|_| bad()),
        Shape::Day(offset, hhmm) => {
            let today: NaiveDate = now.with_timezone(&zone).date_naive();
            let date = today + Duration::days(offset);
            let time = clock_time(hhmm).ok_or_else(bad)?;
            Ok(Requested::Local(date.and_time(time)))
        }
        Shape::Calendar(c) => calendar(c).ok_or_else(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_time_implies_one_type() {
        // No time is immediate, a delay delayed, a clock time or an instant scheduled.
        use crate::model::CallbackType;
        let z = chrono_tz::Europe::Berlin;
        let kind = |text: &str| parse_when(text, z, now()).unwrap().implied_type();
        assert_eq!(Requested::Now.implied_type(), CallbackType::Immediate);
        assert_eq!(kind("+15m"), CallbackType::Delayed);
        assert_eq!(kind("tomorrow 09:30"), CallbackType::Scheduled);
        assert_eq!(kind("2026-11-23T10:00:00+01:00"), CallbackType::Scheduled);
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 23, 30, 0).unwrap()
    }

    fn local(s: &str) -> Requested {
        Requested::Local(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    #[test]
    fn durations_in_every_spelling() {
        // Units combine and may be spelled out.
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration(" 2 hours ").unwrap(), Duration::hours(2));
        assert_eq!(parse_duration("15min").unwrap(), Duration::minutes(15));
        assert_eq!(parse_duration("7d").unwrap(), Duration::days(7));
        for bad in ["", "15", "m", "15x", "-5m", "1h 3", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn due_time_expressions() {
        // Each documented form reads to the right request, with today/tomorrow in the zone.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(parse_when("now", berlin, now()).unwrap(), Requested::Now);
        assert_eq!(
            parse_when("+15m", berlin, now()).unwrap(),
            Requested::After(Duration::minutes(15))
        );
        assert_eq!(
            parse_when("in 2h", berlin, now()).unwrap(),
            Requested::After(Duration::hours(2))
        );
        // 23:30 UTC is already 00:30 on the 22nd in Berlin, so "today" is the 22nd there.
        assert_eq!(
            parse_when("today 14:00", berlin, now()).unwrap(),
            local("2026-11-22 14:00")
        );
        assert_eq!(
            parse_when("tomorrow 09:30", berlin, now()).unwrap(),
            local("2026-11-23 09:30")
        );
        assert_eq!(
            parse_when("tomorrow 09:30", Tz::UTC, now()).unwrap(),
            local("2026-11-22 09:30")
        );
        assert_eq!(
            parse_when("2026-11-22 14:00", berlin, now()).unwrap(),
            local("2026-11-22 14:00")
        );
        assert_eq!(
            parse_when("2026-11-22T14:00", berlin, now()).unwrap(),
            local("2026-11-22 14:00")
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 13, 0, 0).unwrap();
        assert_eq!(
            parse_when("2026-11-22T14:00:00+01:00", berlin, now()).unwrap(),
            Requested::At(at)
        );
        assert_eq!(
            parse_when("2026-11-22T14:00+01:00", berlin, now()).unwrap(),
            Requested::At(at)
        );
        assert_eq!(
            parse_when("2026-11-22T13:00:00Z", berlin, now()).unwrap(),
            Requested::At(at)
        );
    }

    #[test]
    fn bad_expressions_name_the_text() {
        // Malformed times are refused, quoting what was typed.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        for bad in [
            "",
            "soon",
            "+",
            "+15",
            "tomorrow",
            "tomorrow 25:00",
            "2026-13-01 10:00",
            "2026-11-22",
            "now please",
            "${system(id)}",
        ] {
            let e = parse_when(bad, berlin, now()).unwrap_err();
            assert!(e.to_string().contains(&format!("'{bad}'")), "{bad}: {e}");
        }
    }
}
