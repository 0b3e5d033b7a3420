//! The callbacks as the panel shows them: what the agent needs on one line and in the
//! detail (due time in UTC with the customer's zone, for the page to show it in that zone
//! and the agent's; number, window, queue, type, remark, IVR data, transcript, tags, the
//! recording's length), the pending count for the badge, and who is logged in.

use super::roles::{Action, Viewer};
use super::{blocking, parse_id, Panel, St};
use crate::api::ApiError;
use crate::model::{CallbackRequest, State};
use crate::store::{PanelLists, PanelScope};
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};

/// Waiting for their time (the badge counts these).
pub(super) const PENDING: [State; 4] = [
    State::Requested,
    State::Scheduled,
    State::Rescheduled,
    State::Due,
];

/// Rows per list (the panel is for the work at hand, not an archive).
pub(super) const LIMIT: usize = 500;

/// The finished callbacks shown as "recent".
const RECENT: usize = 50;

/// One callback as JSON for the page.
pub(super) fn view(r: &CallbackRequest) -> Value {
    json!({
        "id": r.id,
        "state": r.state.as_str(),
        "pending": PENDING.contains(&r.state),
        "type": r.kind.as_str(),
        "number": r.number,
        "number_type": r.number_type,
        "line_type": crate::number::line_type(&r.number),
        "queue": r.queue,
        "agent": r.agent,
        "time_zone": r.time_zone,
        "due_at": r.due_at,
        "desired_at": r.desired_at,
        "window": {"from": r.window.from, "until": r.window.until},
        "expires_at": r.expires_at,
        "remark": r.remark,
        "ivr_data": r.ivr_data,
        "transcript": r.transcript.as_ref().map(|t| t.text.clone()),
        "tags": r.tags,
        "source": r.source.as_str(),
        "customer_attempts": r.customer_attempts,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "recording": r.recording.as_ref().map(|rec| json!({
            "duration_ms": rec.duration_ms,
            "url": format!("/panel/api/callbacks/{}/recording", r.id),
        })),
    })
}

/// The callbacks the viewer sees, as SQL filters them: every one, or their teams' queues
/// and their agent's personal ones (see [`Viewer::sees`]).
pub(super) fn scope(v: &Viewer) -> PanelScope {
    PanelScope {
        all: v.role.see == crate::config::Visibility::All,
        queues: v.user.teams.clone(),
        agent: v.user.agent.clone(),
    }
}

/// The viewer's lists: waiting, being dispatched, finished in the last 24 hours.
pub(super) fn lists(
    p: &Panel,
    v: &Viewer,
    now: chrono::DateTime<chrono::Utc>,
    recent: usize,
) -> Result<PanelLists, ApiError> {
    p.service
        .store()
        .panel_lists(&scope(v), now - Duration::hours(24), recent.max(LIMIT))
        .map_err(|e| ApiError::from(crate::service::Error::from(e)))
}

pub(super) async fn me(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        let cfg = p.service.config();
        let agent = match (&v.user.agent, &p.dispatcher) {
            (Some(id), Some(d)) => d
                .agents()
                .list()
                .into_iter()
                .find(|a| &a.id == id)
                .map(|a| json!({"id": a.id, "state": a.state.as_str(), "callback": a.callback})),
            (Some(id), None) => Some(json!({"id": id, "state": null, "callback": null})),
            _ => None,
        };
        let queues: Vec<Value> = cfg
            .queues
            .values()
            .filter(|q| v.sees_queue(q.name()))
            .map(|q| {
                json!({
                    "name": q.name(),
                    "time_zone": q.zone().name(),
                    // The reschedule form offers personal / campaign only when the queue
                    // lets the agent choose.
                    "rescheduled_callbacks": q.dial.reschedule_routing
                        .map_or("agent-choice", crate::config::Routing::as_str),
                })
            })
            .collect();
        let agents: Vec<&str> = cfg.agents.iter().map(|a| a.id.as_str()).collect();
        Ok(Json(json!({
            "user": v.user.name,
            "role": v.role.name,
            "may": {
                "schedule": v.may(Action::Schedule),
                "reschedule": v.may(Action::Reschedule),
                "cancel": v.may(Action::Cancel),
                "reassign": v.may(Action::Reassign),
                "operator": v.may(Action::Operator),
            },
            "see": v.role.see.as_str(),
            "agent": agent,
            "teams": v.user.teams,
            "queues": queues,
            "agents": agents,
            "default_queue": cfg.settings.default_queue,
            "dispositions": cfg.dispatch.dispositions,
            "results": ["answered", "no-answer", "busy", "rejected", "wrong-number", "machine", "message-left", "no-key", "error"],
        }))
        .into_response())
    })
    .await
}

pub(super) async fn list(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        let now = p.service.now();
        let l = lists(&p, &v, now, RECENT)?;
        let mut open = l.pending;
        open.extend(l.active);
        let mut recent = l.recent;
        recent.truncate(RECENT);
        // Exact, counted in SQL: the lists are capped, the badge is not.
        let pending = l.pending_count;
        // The callback offered to the user's agent right now (the phone ringing or the
        // preview playing): the page shows it with Accept / Reject.
        let offered = match (&v.user.agent, &p.dispatcher) {
            (Some(me), Some(d)) => d
                .agents()
                .list()
                .into_iter()
                .find(|a| &a.id == me)
                .and_then(|a| a.callback),
            _ => None,
        };
        let offer = offered.and_then(|id| {
            open.iter()
                .find(|r| r.id == id && matches!(r.state, State::Offering | State::Previewing))
                .map(view)
        });
        Ok(Json(json!({
            "now": now,
            "pending": pending,
            "offer": offer,
            "callbacks": open.iter().map(view).collect::<Vec<_>>(),
            "recent": recent.iter().map(view).collect::<Vec<_>>(),
        }))
        .into_response())
    })
    .await
}

pub(super) async fn show(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        let id = parse_id(&id)?;
        let t = p.service.trace(id).map_err(ApiError::from)?;
        let r = v.check(t.request.clone())?;
        let mut out = view(&r);
        out["transcription"] = json!(t.transcription.as_ref().map(|j| j.state.as_str()));
        // The latest recording held no speech: the panel says so instead of a blank.
        out["no_speech"] = json!(t
            .transcription
            .as_ref()
            .and_then(|j| j.result.as_ref())
            .is_some_and(|r| r.no_speech.is_some()));
        out["attempts"] = json!(t.attempts);
        out["events"] = json!(t.events);
        // After-call work is due on the latest customer call while it has no disposition.
        out["wrap_up"] = json!(t
            .attempts
            .iter()
            .rev()
            .find(|a| a.leg == crate::model::Leg::Customer)
            .map(|a| json!({
                "attempt": a.id,
                "done": a.disposition.is_some(),
                // Only then: the call's own result would overwrite the agent's.
                "ended": a.ended_at.is_some(),
            })));
        Ok(Json(out).into_response())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AvailabilityQuery {
    queue: Option<String>,
    date: String,
    time_zone: Option<String>,
}

pub(super) async fn availability(
    axum::extract::State(p): St,
    headers: HeaderMap,
    q: Result<Query<AvailabilityQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        let Query(q) = q.map_err(|e| ApiError::bad("invalid-query", "query", e.body_text()))?;
        let queue = q
            .queue
            .clone()
            .unwrap_or_else(|| p.service.config().settings.default_queue.clone());
        v.require_queue(&queue)?;
        let date = NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d").map_err(|_| {
            ApiError::bad(
                "invalid",
                "date",
                format!("'{}' is not a date such as 2026-11-23", q.date),
            )
        })?;
        let grid = p
            .service
            .availability(Some(&queue), date, q.time_zone.as_deref())?;
        Ok(Json(grid).into_response())
    })
    .await
}
