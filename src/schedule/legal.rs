//! Legal calling hours: when a customer may be rung at all, read in the customer's own time
//! zone, wherever the queue works. Two sources, both applied when both are set: the rule of
//! the number's country (`<legal-hours><country name="US">`, the country from the numbering
//! plan) and a queue's own (`legal-hours`). Business hours say when the queue works; these
//! say when its customers may be called.

use super::hours::BusinessHours;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// How many times [`next_open_in_all`] may move a candidate instant on: each move passes
/// at least one opening of one of the weeks, so a month of openings fits many times over.
const MAX_MOVES: usize = 4096;

/// The calling hours of each configured country (ISO 3166 alpha-2, upper case). The weeks
/// have no zone of their own: [`LegalHours::weeks_for`] reads them in the customer's.
#[derive(Debug, Clone, Default)]
pub struct LegalHours {
    countries: BTreeMap<String, BusinessHours>,
}

impl LegalHours {
    /// Sets the hours of `country` (upper-cased); returns false when it already had some.
    pub fn insert(&mut self, country: &str, week: BusinessHours) -> bool {
        self.countries
            .insert(country.to_ascii_uppercase(), week)
            .is_none()
    }

    /// Whether any country has hours (most configurations have none).
    pub fn is_empty(&self) -> bool {
        self.countries.is_empty()
    }

    /// The weeks that bound a call to E.164 `number` in the customer's `zone`: its
    /// country's (when configured and the numbering plan names the country) and the
    /// queue's `queue_rule`.
    pub fn weeks_for(
        &self,
        number: &str,
        queue_rule: Option<&BusinessHours>,
        zone: Tz,
    ) -> Vec<BusinessHours> {
        let country = if self.countries.is_empty() {
            None
        } else {
            crate::number::region_of(number).and_then(|c| self.countries.get(&c))
        };
        country
            .into_iter()
            .chain(queue_rule)
            .map(|w| w.in_zone(zone))
            .collect()
    }
}

/// The first instant at or after `t`, no later than `limit`, when every one of `weeks` is
/// open (`t` itself with no weeks); `None` when there is none by then.
pub fn next_open_in_all(
    weeks: &[&BusinessHours],
    t: DateTime<Utc>,
    limit: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut at = t;
    for _ in 0..MAX_MOVES {
        let mut moved = false;
        for w in weeks {
            let open = w.next_open(at, limit)?;
            if open > at {
                at = open;
                moved = true;
            }
        }
        if !moved {
            return (at <= limit).then_some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn week(spec: &str) -> BusinessHours {
        BusinessHours::parse(Tz::UTC, spec, "").unwrap()
    }

    #[test]
    fn the_first_instant_every_week_allows_is_found() {
        // Two weeks that overlap only from 10:00 to 12:00 on weekdays: a time before, inside and after it.
        let a = week("mon-fri 08:00-12:00");
        let b = week("mon-fri 10:00-18:00");
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        let limit = at(30, 23, 0);
        // Monday 23 November 2026.
        assert_eq!(
            next_open_in_all(&[&a, &b], at(23, 7, 0), limit),
            Some(at(23, 10, 0))
        );
        assert_eq!(
            next_open_in_all(&[&a, &b], at(23, 11, 0), limit),
            Some(at(23, 11, 0))
        );
        assert_eq!(
            next_open_in_all(&[&a, &b], at(23, 13, 0), limit),
            Some(at(24, 10, 0))
        );
        // Friday afternoon moves to Monday.
        assert_eq!(
            next_open_in_all(&[&a, &b], at(27, 13, 0), limit),
            Some(at(30, 10, 0))
        );
        // Not by the limit: none.
        assert_eq!(
            next_open_in_all(&[&a, &b], at(27, 13, 0), at(30, 9, 0)),
            None
        );
        assert_eq!(
            next_open_in_all(&[], at(23, 3, 0), limit),
            Some(at(23, 3, 0))
        );
        // Weeks that never overlap have no common opening.
        let c = week("mon-fri 13:00-14:00");
        assert_eq!(next_open_in_all(&[&a, &c], at(23, 7, 0), limit), None);
    }

    #[test]
    fn a_country_rule_is_read_in_the_customers_zone() {
        // US hours 08:00-21:00 bind a +1 number in New York's clock, not the UTC the week was written in.
        let mut legal = LegalHours::default();
        assert!(legal.insert("us", week("mon-sun 08:00-21:00")));
        let ny = chrono_tz::America::New_York;
        let weeks = legal.weeks_for("+12125550142", None, ny);
        assert_eq!(weeks.len(), 1);
        // 22:30 UTC is 17:30 in New York: allowed; 02:00 UTC is 21:00 in New York: not.
        assert!(weeks[0].is_open(Utc.with_ymd_and_hms(2026, 11, 23, 22, 30, 0).unwrap()));
        assert!(!weeks[0].is_open(Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).unwrap()));
        // A German number is not bound by the US rule.
        assert!(legal.weeks_for("+4930123456", None, ny).is_empty());
    }
}
