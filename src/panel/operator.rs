//! The operator view (roles with `operator`): per queue the callbacks by state and today's
//! call results (since midnight in the queue's zone), the overdue callbacks (due and still
//! waiting, or waiting for an agent), and the agents with their states.

use super::roles::Action;
use super::{blocking, views, St};
use crate::api::ApiError;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

pub(super) async fn overview(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        v.require(Action::Operator)?;
        let now = p.service.now();
        let cfg = p.service.config();
        let stats = p.service.stats()?;
        let mut queues = Vec::new();
        for q in cfg.queues.values().filter(|q| v.sees_queue(q.name())) {
            let mut states = Map::new();
            for (name, state, n) in &stats.by_queue_state {
                if name == q.name() {
                    states.insert(state.as_str().to_string(), json!(n));
                }
            }
            let zone = q.zone();
            let midnight = start_of_day(zone, now.with_timezone(&zone).date_naive()).unwrap_or(now);
            let mut results = Map::new();
            for (res, n) in p
                .service
                .store()
                .results_since(q.name(), midnight)
                .map_err(|e| ApiError::from(crate::service::Error::from(e)))?
            {
                results.insert(res.map_or("open", |r| r.as_str()).to_string(), json!(n));
            }
            queues.push(json!({
                "name": q.name(),
                "time_zone": zone.name(),
                "states": states,
                "today": results,
                "since": midnight,
            }));
        }
        // Overdue: its time has passed, or it fell due and waits for an agent (each wait
        // moves its due time a little on, so the due time alone would hide it).
        let mut overdue: Vec<Value> = Vec::new();
        // A wait moves the due time on by at most this much, so only callbacks due before
        // now plus this are waiting for an agent now (their `waits` count says they wait).
        let horizon = now + chrono::Duration::minutes(5);
        for r in views::lists(&p, &v, now, 0)?.pending {
            let late = r.due_at.is_some_and(|d| d < now);
            let waiting = !late
                && r.state == crate::model::State::Rescheduled
                && r.due_at.is_some_and(|d| d <= horizon)
                && r.counts.waits > 0;
            if late || waiting {
                let mut view = views::view(&r);
                view["waiting_for_agent"] = json!(waiting);
                overdue.push(view);
            }
        }
        let agents: Vec<Value> = match &p.dispatcher {
            Some(d) => d
                .agents()
                .list()
                .into_iter()
                .filter(|a| {
                    v.role.see == crate::config::Visibility::All
                        || a.queues.iter().any(|q| v.sees_queue(q))
                })
                .map(|a| json!(a))
                .collect(),
            None => Vec::new(),
        };
        Ok(Json(json!({
            "now": now,
            "queues": queues,
            "overdue": overdue,
            "agents": agents,
        }))
        .into_response())
    })
    .await
}

/// The first instant of `date` in `zone`: local midnight, or where midnight does not exist
/// (a DST change at 00:00, as in America/Santiago) the first local minute that does.
fn start_of_day(zone: chrono_tz::Tz, date: chrono::NaiveDate) -> Option<chrono::DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..24 * 60).find_map(|m| {
        zone.from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_starts_at_the_first_local_time_that_exists() {
        // Chile moved its clocks from 00:00 to 01:00 on 2022-09-11: no local midnight.
        let zone: chrono_tz::Tz = "America/Santiago".parse().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = start_of_day(zone, day).unwrap();
        assert_eq!(start, Utc.with_ymd_and_hms(2022, 9, 11, 4, 0, 0).unwrap());
        assert_eq!(
            start.with_timezone(&zone).naive_local(),
            day.and_hms_opt(1, 0, 0).unwrap()
        );
        // An ordinary day: midnight.
        let day = chrono::NaiveDate::from_ymd_opt(2022, 9, 12).unwrap();
        assert_eq!(
            start_of_day(zone, day).unwrap(),
            Utc.with_ymd_and_hms(2022, 9, 12, 3, 0, 0).unwrap()
        );
    }
}
