//! What the panel changes: login and logout, the agent's own state, Call Now, a new
//! callback, reschedule, the customer's window, cancel, reassign, and the after-call work. Each checks the
//! session, the change header, the role and that the callback is visible to the user,
//! then calls the service once (which stores first and wakes the dispatcher).

use super::roles::{Action, Viewer};
use super::session::{check_password, set_cookie};
use super::{blocking, body, check_change_header, parse_id, views, Panel, St};
use crate::access::Disclosure;
use crate::api::ApiError;
use crate::config::Routing;
use crate::dispatch::agents::{AgentError, AgentState};
use crate::dispatch::{Decision, DecisionError};
use crate::model::{AttemptResult, CallbackRequest, Source, Window};
use crate::schedule::parse_zone;
use crate::service::{Amendment, NewRequest, Requested, WrapUp};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

fn reply(r: &CallbackRequest) -> Response {
    Json(json!({ "callback": views::view(r) })).into_response()
}

/// The callback `id` when the user sees it (404 otherwise).
fn visible(p: &Panel, v: &Viewer, id: &str) -> Result<CallbackRequest, ApiError> {
    let id = parse_id(id)?;
    v.check(p.service.get(id)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

/// The longest user name a login may give.
const MAX_USER_CHARS: usize = 64;

pub(super) async fn login(
    axum::extract::State(p): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        // A login form of another site must not log the browser in as someone else.
        check_change_header(&headers)?;
        let l: Login = body(&bytes)?;
        // Bounded before it becomes a limiter key (user names are short).
        if l.user.chars().count() > MAX_USER_CHARS {
            return Err(ApiError::bad(
                "invalid",
                "user",
                format!("a user name has at most {MAX_USER_CHARS} characters"),
            ));
        }
        let ip = peer.ip().to_string();
        for (limiter, bucket) in [
            (&p.logins_per_ip, ip.clone()),
            (&p.logins_per_user, format!("{ip} {}", l.user)),
        ] {
            limiter.take(&bucket).map_err(|wait| {
                ApiError::too_many("too many login attempts; wait and try again", wait)
            })?;
        }
        let staff = &p.service.config().staff;
        if !check_password(staff, &l.user, &l.password) {
            tracing::warn!("panel: failed login for '{}'", l.user.escape_debug());
            return Err(ApiError::unauthorized("unknown user or wrong password"));
        }
        let token = p.sessions.open(&l.user)?;
        tracing::info!("panel: {} logged in", l.user);
        let mut resp = Json(json!({"user": l.user})).into_response();
        if let Ok(v) = header::HeaderValue::from_str(&set_cookie(Some(&token))) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(resp)
    })
    .await
}

pub(super) async fn logout(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_change_header(&headers)?;
    blocking(move || p.sessions.close(&headers)).await?;
    let mut resp = Json(json!({"user": null})).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(None)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateChange {
    ready: bool,
}

fn agent_error(e: AgentError) -> ApiError {
    match e {
        AgentError::Busy(..) => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        AgentError::Unknown(_) => ApiError::bad("invalid", "agent", e.to_string()),
        AgentError::NotStored(..) => {
            tracing::error!("panel: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage",
                "the agent's state could not be stored; try again later".to_string(),
            )
        }
    }
}

/// The user's own agent: ready or away.
pub(super) async fn set_state(
    axum::extract::State(p): St,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        let s: StateChange = body(&bytes)?;
        let agent = v.own_agent()?;
        p.dispatcher()?
            .set_agent(&agent, s.ready)
            .map_err(agent_error)?;
        Ok(
            Json(json!({"agent": agent, "state": if s.ready { "ready" } else { "away" }}))
                .into_response(),
        )
    })
    .await
}

/// Call Now: the callback becomes due at once and personal to the user's agent, and the
/// dispatcher (woken by the change) rings that agent first, as for any callback.
pub(super) async fn call_now(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        let r = visible(&p, &v, &id)?;
        let agent = v.own_agent()?;
        // Taking over a callback personal to someone else is a reassignment.
        if r.agent.as_ref().is_some_and(|a| *a != agent) {
            v.require(Action::Reassign)?;
        }
        let d = p.dispatcher()?;
        let state = d
            .agents()
            .list()
            .into_iter()
            .find(|a| a.id == agent)
            .map(|a| a.state);
        match state {
            Some(AgentState::Ready) => {}
            Some(AgentState::Away) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "agent-away",
                    format!("you (agent {agent}) are away: set yourself ready, then Call Now"),
                ))
            }
            Some(AgentState::Busy) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "agent-busy",
                    format!("you (agent {agent}) are on another callback; Call Now when it ends"),
                ))
            }
            None => {
                return Err(ApiError::bad(
                    "invalid",
                    "agent",
                    format!("agent {agent} is not known to the dispatcher"),
                ))
            }
        }
        if !views::PENDING.contains(&r.state) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "invalid-state",
                format!(
                    "callback {} is {}, not waiting: nothing to call now",
                    r.id, r.state
                ),
            ));
        }
        let r = p.service.call_now_for(r.id, &agent, &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Schedule {
    number: String,
    /// `mobile`, `home`, `work`, `other`; empty: not said.
    #[serde(default)]
    number_type: String,
    queue: Option<String>,
    /// Both empty: as soon as possible.
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    time_zone: Option<String>,
    /// A personal callback for this agent; none: any agent of the queue (the team).
    agent: Option<String>,
    remark: Option<String>,
    /// The customer's window, `2026-11-23T09:00` (a datetime-local field) in the
    /// customer's zone; empty: open.
    #[serde(default)]
    window_from: String,
    #[serde(default)]
    window_until: String,
}

/// One end of the customer's window from a form's datetime-local field, read in `zone`;
/// `None` when empty.
fn window_end(text: &str, field: &str, zone: Tz) -> Result<Option<DateTime<Utc>>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            ApiError::bad(
                "invalid",
                field,
                format!("'{text}' is not a date and time such as 2026-11-23T09:00"),
            )
        })?;
    Ok(Some(crate::schedule::resolve_local(zone, local)))
}

/// The customer's window from a form's two fields, read in `zone`.
fn form_window(from: &str, until: &str, zone: Tz) -> Result<Window, ApiError> {
    Ok(Window {
        from: window_end(from, "window_from", zone)?,
        until: window_end(until, "window_until", zone)?,
    })
}

/// The wall-clock time a form gave, or `None` when both fields are empty.
fn local_time(date: &str, time: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    let (date, time) = (date.trim(), time.trim());
    if date.is_empty() && time.is_empty() {
        return Ok(None);
    }
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
        ApiError::bad(
            "invalid",
            "date",
            format!("'{date}' is not a date such as 2026-11-23"),
        )
    })?;
    let t = NaiveTime::parse_from_str(time, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M:%S"))
        .map_err(|_| {
            ApiError::bad(
                "invalid",
                "time",
                format!("'{time}' is not a time such as 14:30"),
            )
        })?;
    Ok(Some(d.and_time(t)))
}

/// A new callback from the form, as the REST API's create would store it.
pub(super) async fn schedule(
    axum::extract::State(p): St,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Schedule)?;
        let s: Schedule = body(&bytes)?;
        let cfg = p.service.config();
        let queue = s
            .queue
            .clone()
            .filter(|q| !q.trim().is_empty())
            .unwrap_or_else(|| cfg.settings.default_queue.clone());
        v.require_queue(&queue)?;
        let agent = s.agent.clone().filter(|a| !a.trim().is_empty());
        if let Some(a) = &agent {
            if Some(a) != v.user.agent.as_ref() {
                v.require(Action::Reassign)?;
            }
        }
        if let Some(a) = &agent {
            p.service.check_agent_serves(a, &queue)?;
        }
        let when = match local_time(&s.date, &s.time)? {
            None => Requested::Now,
            Some(t) => Requested::Local(t),
        };
        let kind = when.implied_type();
        let zone = match s
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty())
        {
            Some(z) => parse_zone(z)
                .map_err(|e| ApiError::bad("unknown-time-zone", "time_zone", e.to_string()))?,
            None => cfg
                .queue(Some(&queue))
                .map_or(cfg.settings.default_time_zone, |q| q.zone()),
        };
        let mut req = NewRequest::new(kind, s.number.clone(), when, Source::Agent);
        req.window = form_window(&s.window_from, &s.window_until, zone)?;
        req.number_type = match s.number_type.trim() {
            "" => None,
            t => Some(t.parse().map_err(|e: crate::model::ParseEnumError| {
                ApiError::bad("invalid", "number_type", e.to_string())
            })?),
        };
        req.queue = Some(queue);
        req.time_zone = s.time_zone.clone().filter(|z| !z.trim().is_empty());
        req.agent = agent;
        req.remark = s.remark.clone();
        req.actor = Some(v.actor());
        let (r, outcome) = p.service.request(req)?;
        if v.principal().disclosure(&r, outcome) == Disclosure::Withheld {
            // Merged into a callback the user does not see: not shown to them.
            let mut resp = Json(json!({
                "outcome": "merged",
                "message": crate::access::ALREADY_PENDING,
            }))
            .into_response();
            *resp.status_mut() = StatusCode::ACCEPTED;
            return Ok(resp);
        }
        tracing::info!("panel: {} scheduled callback {}", v.user.name, r.id);
        let mut resp = reply(&r);
        *resp.status_mut() = StatusCode::CREATED;
        Ok(resp)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reschedule {
    /// `immediate`, `delayed` (by `delay_minutes`) or `scheduled` (at `date` and `time`,
    /// the default): the new type, as the time implies it.
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    time_zone: Option<String>,
    delay_minutes: Option<u32>,
    /// A new number the customer gave (after the call).
    number: Option<String>,
    /// The agent's choice where the queue lets them choose (`personal` or `campaign`).
    routing: Option<Routing>,
}

/// The time a reschedule form asks for: now, after a delay, or a date and time in the
/// customer's zone (the callback's own when not given).
fn requested_time(s: &Reschedule, r: &CallbackRequest) -> Result<Requested, ApiError> {
    match s.kind.as_deref().map(str::trim).unwrap_or("scheduled") {
        "immediate" => Ok(Requested::Now),
        "delayed" => match s.delay_minutes {
            Some(m) if m > 0 => Ok(Requested::After(chrono::Duration::minutes(i64::from(m)))),
            _ => Err(ApiError::bad(
                "invalid",
                "delay_minutes",
                "a delayed callback needs the minutes to wait (1 or more)",
            )),
        },
        "scheduled" => {
            let local = local_time(&s.date, &s.time)?
                .ok_or_else(|| ApiError::bad("invalid", "date", "give a date and a time"))?;
            let zone_name = s
                .time_zone
                .as_deref()
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .unwrap_or(&r.time_zone);
            if zone_name == r.time_zone {
                return Ok(Requested::Local(local));
            }
            // Another zone than the callback's: the instant it names, checked by the same
            // rules (hours, slots) as any time.
            let zone = parse_zone(zone_name)
                .map_err(|e| ApiError::bad("unknown-time-zone", "time_zone", e.to_string()))?;
            let at = zone.from_local_datetime(&local).single().ok_or_else(|| {
                ApiError::bad(
                    "invalid",
                    "time",
                    format!("{local} does not exist once in {zone_name} (a clock change)"),
                )
            })?;
            Ok(Requested::At(at.with_timezone(&Utc)))
        }
        other => Err(ApiError::bad(
            "invalid",
            "type",
            format!("'{other}' must be immediate, delayed or scheduled"),
        )),
    }
}

/// A new time (and type), for a waiting callback or, after the call, a completed one;
/// with a new number and the routing the queue allows.
pub(super) async fn reschedule(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Reschedule)?;
        let r = visible(&p, &v, &id)?;
        let s: Reschedule = body(&bytes)?;
        let when = requested_time(&s, &r)?;
        let number = s.number.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let a = Amendment {
            when: Some(when),
            number,
            number_type: None,
            routing: s.routing,
            agent: v.user.agent.as_deref(),
            owner: None,
        };
        let r = p.service.amend_with(r.id, &a, &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferDecision {
    /// `accept` (dial the customer now) or `reject` (back to the queue).
    decision: String,
}

/// Accept or Reject for the callback offered to the user's agent, while the phone rings
/// or the preview plays: the dispatcher takes it as the phone's key 1 or 9.
pub(super) async fn decide(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        let r = visible(&p, &v, &id)?;
        let d: OfferDecision = body(&bytes)?;
        let decision = match d.decision.trim() {
            "accept" => Decision::Accept,
            "reject" => Decision::Reject,
            other => {
                return Err(ApiError::bad(
                    "invalid",
                    "decision",
                    format!("'{other}' must be accept or reject"),
                ))
            }
        };
        let agent = v.own_agent()?;
        let delivered = p
            .dispatcher()?
            .decide(r.id, &agent, decision)
            .map_err(|e| match e {
                DecisionError::NotOffered { .. } => {
                    ApiError::new(StatusCode::CONFLICT, "not-offered", e.to_string())
                }
                DecisionError::Host { .. } => {
                    tracing::error!("panel: {e}");
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "host", e.to_string())
                }
            })?;
        tracing::info!(
            callback_id = r.id,
            "panel: agent {agent} ({}) chose {} for callback {} ({})",
            v.user.name,
            decision.as_str(),
            r.id,
            delivered.as_str()
        );
        Ok(Json(json!({
            "callback": r.id,
            "decision": decision.as_str(),
            "delivered": delivered.as_str(),
        }))
        .into_response())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Done {
    note: Option<String>,
}

/// Done without a call: the matter was settled otherwise (an agent's work on their
/// callbacks, so the reschedule right, not cancel's).
pub(super) async fn done(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Reschedule)?;
        let r = visible(&p, &v, &id)?;
        let d: Done = body(&bytes)?;
        let r = p.service.mark_done(r.id, d.note.as_deref(), &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowForm {
    /// Empty: that end open.
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

/// The customer's window of a waiting callback, in the callback's zone (the edit form).
pub(super) async fn window(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Reschedule)?;
        let r = visible(&p, &v, &id)?;
        let f: WindowForm = body(&bytes)?;
        let zone = parse_zone(&r.time_zone)
            .map_err(|e| ApiError::bad("unknown-time-zone", "time_zone", e.to_string()))?;
        let w = form_window(&f.from, &f.until, zone)?;
        let r = p.service.set_window(r.id, w, &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

pub(super) async fn cancel(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Cancel)?;
        let r = visible(&p, &v, &id)?;
        let r = p.service.cancel(r.id, &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assign {
    /// `null`: any agent of the queue (the team).
    agent: Option<String>,
    /// Another queue (team) to move it to; absent: its own.
    queue: Option<String>,
}

pub(super) async fn assign(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        v.require(Action::Reassign)?;
        let r = visible(&p, &v, &id)?;
        let a: Assign = body(&bytes)?;
        let agent = a.agent.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let queue = a.queue.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if let Some(q) = queue {
            v.require_queue(q)?;
        }
        if let Some(a) = agent {
            p.service.check_agent_serves(a, queue.unwrap_or(&r.queue))?;
        }
        let r = p.service.assign(r.id, agent, queue, &v.actor())?;
        Ok(reply(&r))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AfterCall {
    result: Option<String>,
    disposition: Option<String>,
    note: Option<String>,
    #[serde(default)]
    do_not_call: bool,
}

/// Mark Done: the call's result, a disposition code, a note, and do-not-call.
pub(super) async fn wrap_up(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.changer(&headers)?;
        let r = visible(&p, &v, &id)?;
        let a: AfterCall = body(&bytes)?;
        let result = a
            .result
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<AttemptResult>()
                    .map_err(|e| ApiError::bad("invalid", "result", e.to_string()))
            })
            .transpose()?;
        let w = WrapUp {
            result,
            disposition: a.disposition.clone().filter(|d| !d.is_empty()),
            note: a.note.clone(),
            do_not_call: a.do_not_call,
        };
        let attempt = p.service.wrap_up(r.id, &w, &v.actor())?;
        Ok(Json(json!({"attempt": attempt})).into_response())
    })
    .await
}
