//! The operator view's charts and report download (roles with `operator`): the figures of
//! [`crate::insight`] and the reports of [`crate::report`], over the callbacks of the queues
//! the viewer sees.

use super::roles::Action;
use super::{blocking, St};
use crate::api::ApiError;
use crate::dispatch::AgentState;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// How far back the charts read: 7 days of promises, and today's calls within them.
const CHART_DAYS: i64 = 7;

pub(super) async fn charts(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        v.require(Action::Operator)?;
        let now = p.service.now();
        let cfg = p.service.config();
        // Waiting callbacks up to the end of tomorrow (the due chart's last hour).
        let entries: Vec<_> = crate::history::read(
            p.service.store().as_ref(),
            now - chrono::Duration::days(CHART_DAYS),
            Some(now + chrono::Duration::days(2)),
        )
        .map_err(|e| ApiError::from(crate::service::Error::from(e)))?
        .into_iter()
        .filter(|e| v.sees_queue(&e.request.queue))
        .collect();
        let queues: Vec<String> = cfg
            .queues
            .keys()
            .filter(|q| v.sees_queue(q))
            .cloned()
            .collect();
        // The agents serving the queues shown: those not away are the staffing at hand.
        let (configured, ready) = match &p.dispatcher {
            Some(d) => d
                .agents()
                .list()
                .into_iter()
                .filter(|a| a.queues.iter().any(|q| queues.contains(q)))
                .fold((0, 0), |(n, r), a| {
                    (n + 1, r + u64::from(a.state != AgentState::Away))
                }),
            None => (0, 0),
        };
        let charts = crate::insight::charts(
            &entries,
            &queues,
            cfg.settings.default_time_zone,
            cfg.settings.promise,
            (configured, ready),
            now,
        );
        Ok(Json(charts).into_response())
    })
    .await
}

pub(super) async fn report(
    axum::extract::State(p): St,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        v.require(Action::Operator)?;
        let Query(pairs) = query
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid-query", e.body_text()))?;
        let cfg = p.service.config();
        let now = p.service.now();
        let filter = crate::report::Filter::parse(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            cfg.settings.default_time_zone,
            now,
        )?;
        let made = crate::report::build(
            p.service.store().as_ref(),
            &filter,
            cfg.settings.promise,
            now,
            |q| v.sees_queue(q),
        )?;
        crate::api::reports::reply(&made)
    })
    .await
}
