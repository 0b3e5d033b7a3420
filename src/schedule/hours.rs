//! Weekly business hours in a queue's zone, and closed dates.
//!
//! Spec grammar (`;` between groups, whitespace between ranges):
//! `mon-fri 09:00-12:30 13:30-18:00; sat 10:00-14:00`, day lists `sat,sun`, wrapping day
//! ranges `fri-mon`, `24:00` as an end, or `always`. Ranges end after they start (no
//! overnight ranges: write `mon 22:00-24:00; tue 00:00-02:00`).

use super::local::resolve_local;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case};
use nom::character::complete::char;
use nom::combinator::{all_consuming, map_res, opt, value};
use nom::sequence::separated_pair;
use nom::{IResult, Parser};
use std::collections::BTreeSet;

/// A malformed hours or closed-dates string; the variant says which of the two.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("{0}")]
    Hours(String),
    #[error("{0}")]
    ClosedDates(String),
}

const DAY_MINUTES: u16 = 24 * 60;

/// When a queue takes callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    zone: Tz,
    /// Per weekday (Monday first): sorted, merged `[start, end)` minutes of the local day;
    /// an end of 1440 is midnight at the end of the day.
    week: [Vec<(u16, u16)>; 7],
    closed: BTreeSet<NaiveDate>,
}

fn day(i: &str) -> IResult<&str, usize> {
    alt((
        value(0, alt((tag_no_case("monday"), tag_no_case("mon")))),
        value(1, alt((tag_no_case("tuesday"), tag_no_case("tue")))),
        value(2, alt((tag_no_case("wednesday"), tag_no_case("wed")))),
        value(3, alt((tag_no_case("thursday"), tag_no_case("thu")))),
        value(4, alt((tag_no_case("friday"), tag_no_case("fri")))),
        value(5, alt((tag_no_case("saturday"), tag_no_case("sat")))),
        value(6, alt((tag_no_case("sunday"), tag_no_case("sun")))),
    ))
    .parse(i)
}

fn two_digits(i: &str) -> IResult<&str, u16> {
    map_res(
        nom::bytes::complete::take_while_m_n(1, 2, |c: char| c.is_ascii_digit()),
        str::parse,
    )
    .parse(i)
}

fn clock(i: &str) -> IResult<&str, u16> {
    let (i, (h, m)) = separated_pair(two_digits, char(':'), two_digits).parse(i)?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, h * 60 + m))
}

fn days_token(token: &str) -> Result<Vec<usize>, HoursError> {
    let mut out = Vec::new();
    for item in token.split(',').filter(|s| !s.is_empty()) {
        let parsed = all_consuming((day, opt((tag("-"), day)))).parse(item);
        let (_, (first, last)) = parsed.map_err(|_| {
            let bad = item
                .split('-')
                .find(|d| all_consuming(day).parse(d).is_err())
                .unwrap_or(item);
            HoursError::Hours(format!(
                "'{token}': unknown day '{bad}' (expected mon, tue, wed, thu, fri, sat or sun)"
            ))
        })?;
        match last {
            None => out.push(first),
            // A wrapping range such as fri-mon runs through the weekend.
            Some((_, last)) => {
                let mut d = first;
                loop {
                    out.push(d);
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
        }
    }
    if out.is_empty() {
        return Err(HoursError::Hours(format!("'{token}': no day given")));
    }
    Ok(out)
}

fn range_token(token: &str) -> Result<(u16, u16), HoursError> {
    let (_, (start, end)) = all_consuming(separated_pair(clock, char('-'), clock))
        .parse(token)
        .map_err(|_| {
            HoursError::Hours(format!(
                "'{token}' is not a time range (expected HH:MM-HH:MM, e.g. 09:00-17:00)"
            ))
        })?;
    if start == DAY_MINUTES {
        return Err(HoursError::Hours(format!(
            "'{token}': a range cannot start at 24:00"
        )));
    }
    if end <= start {
        return Err(HoursError::Hours(format!(
            "'{token}': the range must end after it starts (no overnight ranges: split at 24:00)"
        )));
    }
    Ok((start, end))
}

fn parse_week(spec: &str) -> Result<[Vec<(u16, u16)>; 7], HoursError> {
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("always") || spec.eq_ignore_ascii_case("24/7") {
        for d in &mut week {
            d.push((0, DAY_MINUTES));
        }
        return Ok(week);
    }
    for group in spec.split(';').map(str::trim).filter(|g| !g.is_empty()) {
        let mut tokens = group.split_whitespace();
        let days = days_token(tokens.next().unwrap_or(""))?;
        let ranges = tokens.map(range_token).collect::<Result<Vec<_>, _>>()?;
        if ranges.is_empty() {
            return Err(HoursError::Hours(format!(
                "'{group}': give the opening times after the days, e.g. mon-fri 09:00-17:00"
            )));
        }
        for d in days {
            week[d].extend(&ranges);
        }
    }
    let mut any = false;
    for ranges in &mut week {
        ranges.sort_unstable();
        // Merge overlapping or touching ranges so slots are cut from whole openings.
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for &(s, e) in ranges.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        any |= !merged.is_empty();
        *ranges = merged;
    }
    if !any {
        return Err(HoursError::Hours(format!(
            "'{spec}': no opening hours (expected e.g. mon-fri 09:00-17:00, or always)"
        )));
    }
    Ok(week)
}

fn parse_closed(closed: &str) -> Result<BTreeSet<NaiveDate>, HoursError> {
    closed
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                HoursError::ClosedDates(format!(
                    "closed date '{d}' is not a date (expected YYYY-MM-DD)"
                ))
            })
        })
        .collect()
}

fn local_minute(date: NaiveDate, minute: u16) -> chrono::NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute))
}

impl BusinessHours {
    /// `spec` is e.g. `mon-fri 09:00-17:00; sat 10:00-14:00` (several ranges per day allowed,
    /// `24:00` as an end), or `always`; `closed` lists dates `2026-12-25, 2026-12-26`.
    pub fn parse(zone: Tz, spec: &str, closed: &str) -> Result<Self, HoursError> {
        Ok(Self {
            zone,
            week: parse_week(spec)?,
            closed: parse_closed(closed)?,
        })
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The same week read in another zone (legal calling hours are the customer's).
    pub fn in_zone(&self, zone: Tz) -> Self {
        Self {
            zone,
            ..self.clone()
        }
    }

    /// Whether `date` (in the queue's calendar) is a closed date.
    pub fn is_closed_date(&self, date: NaiveDate) -> bool {
        self.closed.contains(&date)
    }

    /// The queue's calendar date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }

    /// The open intervals of one date of the queue's own calendar, as instants, in order.
    /// Wall-clock ends are resolved by the DST rule, so a range that starts in a
    /// spring-forward gap starts at the shifted instant.
    pub fn intervals_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.closed.contains(&date) {
            return Vec::new();
        }
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.week[weekday]
            .iter()
            .map(|&(s, e)| {
                (
                    resolve_local(self.zone, local_minute(date, s)),
                    resolve_local(self.zone, local_minute(date, e)),
                )
            })
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// The open interval containing `t`, if the queue is open then.
    pub fn interval_at(&self, t: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let date = self.local_date(t);
        // An interval of the previous date can reach into this one (a range ending at 24:00
        // that DST shifted); one of the next date cannot start before this date ends.
        [date.pred_opt(), Some(date)]
            .into_iter()
            .flatten()
            .flat_map(|d| self.intervals_on(d))
            .find(|(s, e)| *s <= t && t < *e)
    }

    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.interval_at(t).is_some()
    }

    /// The first instant at or after `t` when the queue is open, looking no further than `limit`.
    pub fn next_open(&self, t: DateTime<Utc>, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if t > limit {
            return None;
        }
        let mut date = self.local_date(t).pred_opt()?;
        let last = self.local_date(limit);
        while date <= last {
            for (s, e) in self.intervals_on(date) {
                if e > t {
                    let open = s.max(t);
                    return (open <= limit).then_some(open);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_days_ranges_lists_and_always() {
        // The documented grammar: day ranges, lists, wrapping ranges, split days, 24:00, always.
        let h = BusinessHours::parse(
            Tz::UTC,
            "mon-fri 09:00-12:30 13:30-18:00; sat,sun 10:00-14:00",
            "",
        )
        .unwrap();
        assert_eq!(h.week[0], vec![(540, 750), (810, 1080)]);
        assert_eq!(h.week[6], vec![(600, 840)]);
        let wrap = BusinessHours::parse(Tz::UTC, "fri-mon 00:00-24:00", "").unwrap();
        assert_eq!(wrap.week.iter().filter(|d| !d.is_empty()).count(), 4);
        assert!(wrap.week[1].is_empty());
        let always = BusinessHours::parse(Tz::UTC, "always", "").unwrap();
        assert!(always.week.iter().all(|d| d == &vec![(0, 1440)]));
        let merged =
            BusinessHours::parse(Tz::UTC, "mon 09:00-12:00 11:00-13:00 13:00-14:00", "").unwrap();
        assert_eq!(merged.week[0], vec![(540, 840)]);
    }

    #[test]
    fn bad_specs_name_the_token() {
        // Each malformed piece is quoted in the error.
        let cases = [
            ("mon-fry 09:00-17:00", "unknown day 'fry'"),
            ("mon 9-17", "'9-17' is not a time range"),
            ("mon 17:00-09:00", "must end after it starts"),
            ("mon 24:00-24:00", "cannot start at 24:00"),
            ("mon 09:00-24:30", "'09:00-24:30' is not a time range"),
            ("mon-fri", "give the opening times"),
            ("", "no opening hours"),
        ];
        for (spec, why) in cases {
            let e = BusinessHours::parse(Tz::UTC, spec, "").unwrap_err();
            assert!(e.to_string().contains(why), "{spec}: {e}");
        }
        let e = BusinessHours::parse(Tz::UTC, "always", "2026-12-25, 2026-13-01").unwrap_err();
        assert!(e.to_string().contains("closed date '2026-13-01'"), "{e}");
    }

    #[test]
    fn open_and_next_open_respect_closed_dates() {
        // A closed Friday is skipped; next_open walks to Monday's opening.
        let berlin = chrono_tz::Europe::Berlin;
        let h = BusinessHours::parse(berlin, "mon-fri 09:00-17:00", "2026-11-27").unwrap();
        assert!(h.is_open(utc(2026, 11, 26, 8, 0))); // Thu 09:00 CET
        assert!(!h.is_open(utc(2026, 11, 26, 16, 0))); // Thu 17:00 CET: closes at 17:00
        assert!(!h.is_open(utc(2026, 11, 27, 10, 0))); // closed Friday
        let limit = utc(2026, 12, 31, 0, 0);
        assert_eq!(
            h.next_open(utc(2026, 11, 26, 16, 0), limit),
            Some(utc(2026, 11, 30, 8, 0))
        );
        assert_eq!(
            h.next_open(utc(2026, 11, 26, 10, 0), limit),
            Some(utc(2026, 11, 26, 10, 0))
        );
        assert_eq!(
            h.next_open(utc(2026, 11, 26, 16, 0), utc(2026, 11, 29, 0, 0)),
            None
        );
    }

    #[test]
    fn hours_across_dst_days() {
        // 01:00-04:00 is 2 h long on New York's spring-forward day and 4 h on fall-back day.
        let ny = chrono_tz::America::New_York;
        let h = BusinessHours::parse(ny, "sun 01:00-04:00", "").unwrap();
        let spring = h.intervals_on(date(2026, 3, 8));
        assert_eq!(spring, vec![(utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 8, 0))]);
        let fall = h.intervals_on(date(2026, 11, 1));
        // 01:00 is ambiguous: the earlier (EDT, 05:00Z); 04:00 is EST (09:00Z).
        assert_eq!(fall, vec![(utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 9, 0))]);
        // A range starting inside the gap starts at the shifted instant (02:30 -> 03:30 EDT).
        let gap = BusinessHours::parse(ny, "sun 02:30-05:00", "").unwrap();
        assert_eq!(
            gap.intervals_on(date(2026, 3, 8)),
            vec![(utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 9, 0))]
        );
        // Lord Howe: 01:00-04:00 loses 30 minutes on 2026-10-04.
        let lh =
            BusinessHours::parse(chrono_tz::Australia::Lord_Howe, "sun 01:00-04:00", "").unwrap();
        let (s, e) = lh.intervals_on(date(2026, 10, 4))[0];
        assert_eq!(e - s, Duration::minutes(150));
        // Kolkata: no DST, +05:30.
        let k = BusinessHours::parse(chrono_tz::Asia::Kolkata, "sun 09:00-10:00", "").unwrap();
        assert_eq!(
            k.intervals_on(date(2026, 3, 8)),
            vec![(utc(2026, 3, 8, 3, 30), utc(2026, 3, 8, 4, 30))]
        );
    }
}
