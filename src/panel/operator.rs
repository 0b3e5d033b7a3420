//! The operator view (roles with `operator`): per queue the callbacks by state and today's
//! call results (since midnight in the queue's zone), the overdue callbacks (due and still
//! waiting, or waiting for an agent), and the agents with their states.

use super::roles::Action;
use super::{blocking, views, St};
use crate::api::ApiError;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
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
            let midnight = crate::insight::today(zone, now);
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
