//! Reports for supervisors and scripts: the callbacks created in a date range, filtered by
//! queue, type, source, agent and outcome, as one row per callback and one per attempt (leg),
//! in CSV or JSON. Each row carries `callback_origin_uuid`, the call that asked for the
//! callback. FreeSWITCH's CDR of every leg the dispatcher dialled carries the variables
//! `callback_id`, `callback_leg` and `callback_attempt` (dialplans/README.md): an attempt
//! row's `callback_id`, `leg` and `attempt_no`, so the CDRs filtered by `callback_leg`
//! join the report row by row.
//!
//! One function for every door: the HTTP route, the operator view's download and the fs_cli
//! `callback report` command parse the same `key=value` filters ([`Filter::parse`]) and get
//! the same rows ([`build`]).

use crate::history::{self, Entry};
use crate::model::{AttemptResult, CallbackType, Leg, Source};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The longest range one report covers (bounds the work of one request).
pub const MAX_DAYS: i64 = 92;
/// The range when none is given.
pub const DEFAULT_DAYS: i64 = 7;

/// Why a report was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV: {0}")]
    Csv(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        field,
        message: message.into(),
    }
}

/// The two forms a report is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// What a report covers: callbacks created in `[from, to)` matching every filter given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub queue: Option<String>,
    pub kind: Option<CallbackType>,
    pub source: Option<Source>,
    /// The callback's personal agent, or an agent rung for it.
    pub agent: Option<String>,
    /// The result of its last customer call.
    pub outcome: Option<AttemptResult>,
    /// The form asked for; `None`: the door's own (JSON over HTTP, CSV at fs_cli).
    pub format: Option<Format>,
}

/// The filter keys, for usage texts.
pub const KEYS: &str = "from, to (YYYY-MM-DD in the default zone, or RFC 3339), queue, type, source, agent, outcome, format (csv|json)";

/// An instant of a `from`/`to` value: a date is its first instant in `zone`.
fn instant(field: &'static str, v: &str, zone: Tz) -> Result<DateTime<Utc>, ReportError> {
    let v = v.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return crate::insight::start_of_day(zone, d)
            .ok_or_else(|| invalid(field, format!("'{v}' has no first instant in {zone}")));
    }
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                field,
                format!(
                    "'{v}' is not a date (2026-11-23) or an RFC 3339 time (2026-11-23T09:00:00Z)"
                ),
            )
        })
}

impl Filter {
    /// Reads `key=value` pairs. `to` given as a date includes that whole day. Unknown keys,
    /// repeated keys, bad values, an empty or reversed range and one longer than
    /// [`MAX_DAYS`] are refused naming the key. Without `from`, the [`DEFAULT_DAYS`] before
    /// `to` (default: now).
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        let mut seen: Vec<&str> = Vec::new();
        let (mut from, mut to) = (None, None);
        let mut f = Filter {
            from: now,
            to: now,
            queue: None,
            kind: None,
            source: None,
            agent: None,
            outcome: None,
            format: None,
        };
        for (k, v) in pairs {
            let k = k.trim();
            if seen.contains(&k) {
                return Err(invalid("filter", format!("'{k}' is given twice")));
            }
            let v = v.trim();
            let word = |field: &'static str| -> Result<String, ReportError> {
                if v.is_empty()
                    || v.len() > 64
                    || v.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    Err(invalid(field, "must be 1-64 characters without spaces"))
                } else {
                    Ok(v.to_string())
                }
            };
            match k {
                "from" => from = Some(instant("from", v, zone)?),
                "to" => {
                    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
                    let t = instant("to", v, zone)?;
                    // A date names a whole day: up to the next day's start.
                    to = Some(if day {
                        let next = t.with_timezone(&zone).date_naive() + Duration::days(1);
                        crate::insight::start_of_day(zone, next).unwrap_or(t + Duration::days(1))
                    } else {
                        t
                    });
                }
                "queue" => f.queue = Some(word("queue")?),
                "agent" => f.agent = Some(word("agent")?),
                "type" => {
                    f.kind = Some(v.parse().map_err(|e: crate::model::ParseEnumError| {
                        invalid("type", e.to_string())
                    })?)
                }
                "source" => {
                    f.source = Some(v.parse().map_err(|e: crate::model::ParseEnumError| {
                        invalid("source", e.to_string())
                    })?)
                }
                "outcome" => {
                    f.outcome = Some(v.parse().map_err(|e: crate::model::ParseEnumError| {
                        invalid("outcome", e.to_string())
                    })?)
                }
                "format" => {
                    f.format = match v.to_ascii_lowercase().as_str() {
                        "csv" => Some(Format::Csv),
                        "json" => Some(Format::Json),
                        _ => return Err(invalid("format", format!("'{v}' is not csv or json"))),
                    }
                }
                other => {
                    return Err(invalid(
                        "filter",
                        format!("unknown filter '{other}' (known: {KEYS})"),
                    ))
                }
            }
            seen.push(k);
        }
        f.to = to.unwrap_or(now);
        f.from = from.unwrap_or(f.to - Duration::days(DEFAULT_DAYS));
        if f.from >= f.to {
            return Err(invalid(
                "from",
                "the range is empty: 'from' must come before 'to'",
            ));
        }
        if f.to - f.from > Duration::days(MAX_DAYS) {
            return Err(invalid(
                "to",
                format!("a report covers at most {MAX_DAYS} days; narrow the range"),
            ));
        }
        Ok(f)
    }

    fn matches(&self, e: &Entry) -> bool {
        let r = &e.request;
        r.created_at >= self.from
            && r.created_at < self.to
            && self.queue.as_ref().is_none_or(|q| &r.queue == q)
            && self.kind.is_none_or(|k| r.kind == k)
            && self.source.is_none_or(|s| r.source == s)
            && self.agent.as_ref().is_none_or(|a| {
                r.agent.as_ref() == Some(a)
                    || e.attempts.iter().any(|t| t.agent.as_ref() == Some(a))
            })
            && self.outcome.is_none_or(|o| e.outcome() == Some(o))
    }
}

/// One row: a callback (`record` = `callback`, the attempt columns empty) or one of its legs
/// (`record` = `attempt`, with the callback's id, queue, type and origin for joins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub record: &'static str,
    pub callback_id: i64,
    pub attempt_id: Option<i64>,
    pub queue: String,
    #[serde(rename = "type")]
    pub kind: CallbackType,
    pub source: Source,
    pub callback_origin_uuid: Option<String>,
    pub number: Option<String>,
    pub state: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub promised_at: Option<DateTime<Utc>>,
    pub first_dial_at: Option<DateTime<Utc>>,
    pub promise_kept: Option<bool>,
    pub outcome: Option<AttemptResult>,
    pub customer_attempts: Option<u32>,
    pub leg: Option<Leg>,
    pub attempt_no: Option<u32>,
    pub agent: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub talk_seconds: Option<i64>,
    pub hangup_cause: Option<String>,
    pub result: Option<AttemptResult>,
    pub disposition: Option<String>,
}

/// A made report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub filter: Filter,
    /// Callbacks matched.
    pub callbacks: usize,
    /// Each callback's row followed by its legs' rows, by callback id.
    pub rows: Vec<Row>,
}

/// The report of `filter` over the store; `sees` limits it to the queues a viewer may see.
pub fn build(
    store: &dyn Store,
    filter: &Filter,
    grace: Duration,
    now: DateTime<Utc>,
    sees: impl Fn(&str) -> bool,
) -> Result<Report, ReportError> {
    // Every callback created in the range changed at or after its creation.
    let entries = history::read(store, filter.from, None)?;
    let mut rows = Vec::new();
    let mut callbacks = 0;
    for e in entries
        .iter()
        .filter(|e| sees(&e.request.queue) && filter.matches(e))
    {
        callbacks += 1;
        let r = &e.request;
        let base = Row {
            record: "callback",
            callback_id: r.id,
            attempt_id: None,
            queue: r.queue.clone(),
            kind: r.kind,
            source: r.source,
            callback_origin_uuid: r.origin_uuid.clone(),
            number: Some(r.number.clone()),
            state: Some(r.state.as_str().to_string()),
            created_at: Some(r.created_at),
            promised_at: e.promised_at(),
            first_dial_at: e.first_dial().map(|a| a.started_at),
            promise_kept: e.promise_kept(grace, now),
            outcome: e.outcome(),
            customer_attempts: Some(r.customer_attempts),
            leg: None,
            attempt_no: None,
            agent: r.agent.clone(),
            started_at: None,
            answered_at: None,
            ended_at: None,
            talk_seconds: None,
            hangup_cause: None,
            result: None,
            disposition: None,
        };
        for a in &e.attempts {
            rows.push(Row {
                record: "attempt",
                attempt_id: Some(a.id),
                number: None,
                state: None,
                created_at: None,
                promised_at: None,
                first_dial_at: None,
                promise_kept: None,
                outcome: None,
                customer_attempts: None,
                leg: Some(a.leg),
                attempt_no: Some(a.attempt_no),
                agent: a.agent.clone(),
                started_at: Some(a.started_at),
                answered_at: a.answered_at,
                ended_at: a.ended_at,
                talk_seconds: match (a.answered_at, a.ended_at) {
                    (Some(from), Some(to)) => Some((to - from).num_seconds().max(0)),
                    _ => None,
                },
                hangup_cause: a.hangup_cause.clone(),
                result: a.result,
                disposition: a.disposition.clone(),
                ..base.clone()
            });
        }
        let at = rows.len() - e.attempts.len();
        rows.insert(at, base);
    }
    Ok(Report {
        filter: filter.clone(),
        callbacks,
        rows,
    })
}

/// The report a front end asks for with `key=value` pairs (fs_cli's `callback report`, the
/// HTTP route): parsed in the default time zone, promises per `promise-minutes`, every
/// queue.
pub fn run<'a>(
    service: &crate::service::CallbackService,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Report, ReportError> {
    let cfg = service.config();
    let now = service.now();
    let filter = Filter::parse(pairs, cfg.settings.default_time_zone, now)?;
    build(
        service.store().as_ref(),
        &filter,
        cfg.settings.promise,
        now,
        |_| true,
    )
}

/// Splits fs_cli words `key=value` into pairs; a word without `=` is refused naming it.
pub fn words(line: &str) -> Result<Vec<(&str, &str)>, ReportError> {
    line.split_whitespace()
        .map(|w| {
            w.split_once('=')
                .ok_or_else(|| invalid("filter", format!("'{w}' is not key=value (keys: {KEYS})")))
        })
        .collect()
}

impl Report {
    /// The rows as CSV with a header line (RFC 4180 quoting by the `csv` crate).
    pub fn to_csv(&self) -> Result<String, ReportError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if self.rows.is_empty() {
            // The header alone, so a script sees the columns of an empty report too.
            w.write_record(COLUMNS)
                .map_err(|e| ReportError::Csv(e.to_string()))?;
        }
        for r in &self.rows {
            w.serialize(r)
                .map_err(|e| ReportError::Csv(e.to_string()))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| ReportError::Csv(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| ReportError::Csv(e.to_string()))
    }

    /// The report as one JSON object: the filter, the count of callbacks and the rows.
    pub fn to_json(&self) -> serde_json::Value {
        let f = &self.filter;
        serde_json::json!({
            "from": f.from,
            "to": f.to,
            "queue": f.queue,
            "type": f.kind,
            "source": f.source,
            "agent": f.agent,
            "outcome": f.outcome,
            "callbacks": self.callbacks,
            "rows": self.rows,
        })
    }
}

/// The CSV columns, in [`Row`]'s order.
pub const COLUMNS: &[&str] = &[
    "record",
    "callback_id",
    "attempt_id",
    "queue",
    "type",
    "source",
    "callback_origin_uuid",
    "number",
    "state",
    "created_at",
    "promised_at",
    "first_dial_at",
    "promise_kept",
    "outcome",
    "customer_attempts",
    "leg",
    "attempt_no",
    "agent",
    "started_at",
    "answered_at",
    "ended_at",
    "talk_seconds",
    "hangup_cause",
    "result",
    "disposition",
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap()
    }

    #[test]
    fn filters_are_read_and_bad_ones_named() {
        // Dates are whole days in the zone, names are checked, and each bad filter is
        // refused naming what is wrong.
        let zone: Tz = "America/New_York".parse().unwrap();
        let f = Filter::parse(
            [
                ("from", "2026-11-20"),
                ("to", "2026-11-23"),
                ("type", "scheduled"),
                ("outcome", "no-answer"),
                ("format", "csv"),
            ],
            zone,
            now(),
        )
        .unwrap();
        assert_eq!(f.from, Utc.with_ymd_and_hms(2026, 11, 20, 5, 0, 0).unwrap());
        assert_eq!(f.to, Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap());
        assert_eq!(f.kind, Some(CallbackType::Scheduled));
        assert_eq!(f.outcome, Some(AttemptResult::NoAnswer));
        assert_eq!(f.format, Some(Format::Csv));
        let d = Filter::parse([], zone, now()).unwrap();
        assert_eq!((d.to, d.to - d.from), (now(), Duration::days(DEFAULT_DAYS)));

        let field = |pairs: &[(&str, &str)]| match Filter::parse(pairs.iter().copied(), zone, now())
        {
            Err(ReportError::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("{pairs:?} accepted: {other:?}"),
        };
        assert!(field(&[("type", "urgent")]).starts_with("type: unknown callback type"));
        assert!(field(&[("from", "23/11/2026")]).starts_with("from: '23/11/2026' is not a date"));
        assert!(field(&[("from", "2026-11-23"), ("to", "2026-11-22")])
            .starts_with("from: the range is empty"));
        assert!(field(&[("from", "2026-01-01")]).starts_with("to: a report covers at most"));
        assert!(field(&[("colour", "red")]).contains("unknown filter 'colour'"));
        assert!(field(&[("queue", "a"), ("queue", "b")]).contains("'queue' is given twice"));
        assert!(field(&[("format", "xml")]).starts_with("format:"));
        assert!(field(&[("agent", "")]).starts_with("agent:"));
    }

    #[test]
    fn an_empty_report_still_names_its_columns() {
        // A script reading the CSV sees the header even when nothing matched.
        let zone: Tz = "UTC".parse().unwrap();
        let r = Report {
            filter: Filter::parse([], zone, now()).unwrap(),
            callbacks: 0,
            rows: Vec::new(),
        };
        assert_eq!(r.to_csv().unwrap().trim_end(), COLUMNS.join(","));
    }
}
