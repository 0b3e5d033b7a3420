//! The handlers: each admits the caller (rate limits, then who it is, then what it may
//! do), reads its input by our own rules, and calls the service once.
//! About 800 lines: the callback resource's handlers side by side (create, read, change,
//! cancel, availability), each short; they share the admission and input helpers here.

use super::auth::Caller;
use super::error::ApiError;
use super::Api;
use crate::access::Disclosure;
use crate::config::Scope;
use crate::model::{
    CallbackId, CallbackRequest, CallbackType, LineType, NumberType, Source, State, Window,
};
use crate::schedule::parse_zone;
use crate::service::NewRequest;
use crate::store::{CreateOutcome, ListFilter};
use crate::when::{parse_when, Requested};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

type St = AxState<Arc<Api>>;
type Peer = ConnectInfo<SocketAddr>;

/// Staff list pages: default and largest.
const LIST_DEFAULT: usize = 100;
const LIST_MAX: usize = 1000;

/// What may be done, and by whom.
pub(super) enum Need {
    /// A create or staff key (creating).
    Create,
    /// A metrics or staff key (`/metrics`).
    Metrics,
    /// A staff key.
    Staff,
    /// A staff key, or the customer token of this callback.
    Owner(CallbackId),
    /// A create or staff key, or a customer token (reading the slot grid: the widget, and
    /// the manage page rescheduling its one callback).
    Slots,
}

impl Api {
    /// Rate limits (address first, so guessing keys is limited too), then the caller, then
    /// its right to what it asks.
    pub(super) fn admit(
        &self,
        peer: &SocketAddr,
        headers: &HeaderMap,
        need: Need,
    ) -> Result<Caller, ApiError> {
        self.per_ip
            .take(&peer.ip().to_string())
            .map_err(|wait| ApiError::too_many("too many requests from this address", wait))?;
        let caller = self
            .auth
            .authenticate(headers, |id| self.service.get(id).ok())?;
        self.per_key
            .take(&caller.bucket())
            .map_err(|wait| ApiError::too_many("too many requests with this key", wait))?;
        if let Caller::Customer { id } = caller {
            // The token lives as long as its callback: once finished it opens nothing,
            // and says so (the manage page tells the customer plainly).
            let r = self.service.get(id)?;
            if r.state.is_terminal() {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    "link-expired",
                    format!(
                        "this callback is over ({}); the link that opened it has expired",
                        r.state
                    ),
                ));
            }
        }
        if let Need::Owner(id) = need {
            // One rule for what a caller may open (crate::access).
            return match (caller.principal().may_open(id), &caller) {
                (true, _) => Ok(caller),
                (false, Caller::Customer { .. }) => Err(ApiError::forbidden(
                    "this token opens another callback only",
                )),
                (
                    false,
                    Caller::Key {
                        scope: Scope::Metrics,
                        ..
                    },
                ) => Err(ApiError::forbidden("this key may only read /metrics")),
                (false, Caller::Key { .. }) => Err(ApiError::forbidden(
                    "this key may only create callbacks; the customer token given at \
                     creation opens that callback",
                )),
            };
        }
        match (&need, &caller) {
            (
                _,
                Caller::Key {
                    scope: Scope::Staff,
                    ..
                },
            )
            | (
                Need::Create | Need::Slots,
                Caller::Key {
                    scope: Scope::Create,
                    ..
                },
            )
            | (Need::Slots, Caller::Customer { .. })
            | (
                Need::Metrics,
                Caller::Key {
                    scope: Scope::Metrics,
                    ..
                },
            ) => Ok(caller),
            (_, Caller::Customer { .. }) => Err(ApiError::forbidden(
                "a customer token opens its own callback only",
            )),
            (
                _,
                Caller::Key {
                    scope: Scope::Metrics,
                    ..
                },
            ) => Err(ApiError::forbidden("this key may only read /metrics")),
            (_, Caller::Key { .. }) => {
                Err(ApiError::forbidden("this key may only create callbacks"))
            }
        }
    }
}

/// A callback as the API shows it (what a mobile app needs, and staff).
#[derive(Debug, Serialize)]
pub(super) struct View {
    id: CallbackId,
    state: State,
    #[serde(rename = "type")]
    kind: CallbackType,
    number: String,
    /// The number's type as given (mobile, home, work, other).
    number_type: Option<NumberType>,
    /// The number's line type from the numbering plan (mobile, fixed, fixed-or-mobile).
    line_type: Option<LineType>,
    queue: String,
    time_zone: String,
    due_at: Option<DateTime<Utc>>,
    /// The due time in the customer's zone, `YYYY-MM-DDTHH:MM:SS+hh:mm`.
    due_local: Option<String>,
    desired_at: Option<DateTime<Utc>>,
    /// When the customer can be reached (either end open).
    window_from: Option<DateTime<Utc>>,
    window_until: Option<DateTime<Utc>>,
    remark: Option<String>,
    data: BTreeMap<String, String>,
    source: Source,
    customer_attempts: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Whether a recording of the customer is attached (its transcript is in `transcript`).
    has_recording: bool,
    transcript: Option<String>,
    /// Immediate callbacks waiting: how many of the queue go first (1 = next).
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<usize>,
    /// Immediate callbacks waiting: about how long until an agent calls (seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_wait_seconds: Option<u64>,
}

impl View {
    fn of(r: &CallbackRequest) -> Self {
        let zone: Option<Tz> = r.time_zone.parse().ok();
        Self {
            id: r.id,
            state: r.state,
            kind: r.kind,
            number: r.number.clone(),
            number_type: r.number_type,
            line_type: crate::number::line_type(&r.number),
            queue: r.queue.clone(),
            time_zone: r.time_zone.clone(),
            due_at: r.due_at,
            due_local: r
                .due_at
                .zip(zone)
                .map(|(d, z)| d.with_timezone(&z).to_rfc3339()),
            desired_at: r.desired_at,
            window_from: r.window.from,
            window_until: r.window.until,
            remark: r.remark.clone(),
            data: r.ivr_data.clone(),
            source: r.source,
            customer_attempts: r.customer_attempts,
            has_recording: r.recording.is_some(),
            transcript: r.transcript.as_ref().map(|t| t.text.clone()),
            created_at: r.created_at,
            updated_at: r.updated_at,
            position: None,
            estimated_wait_seconds: None,
        }
    }
}

/// Runs a handler's body on tokio's blocking pool: the store's calls block, and must not
/// hold up the runtime's few worker threads. A panic there is contained and answered 500.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!("http: a request handler failed: {e}");
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed inside the server; nothing was changed by this reply",
        ))
    })
}

fn parse_id(id: &str) -> Result<CallbackId, ApiError> {
    id.parse::<CallbackId>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(ApiError::not_found)
}

/// Refuses (415) a body declared as something else than JSON: a client that sends a form
/// or text meant something else than this API reads. A body with no `Content-Type` is read
/// as JSON (simple clients send none).
fn json_only(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the body must be JSON: send Content-Type: application/json",
        )
        .on("content-type")),
    }
}

/// A digest of a JSON body as a value (keys sorted, no whitespace), so a retry that
/// serialises the same request differently is still the same request.
fn request_hash(bytes: &[u8]) -> Option<String> {
    use sha2::{Digest, Sha256};
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let digest = Sha256::digest(value.to_string().as_bytes());
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn body<T: serde::de::DeserializeOwned>(
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    body_bytes(bytes).and_then(|b| serde_json::from_slice(&b).map_err(|e| ApiError::json(&e)))
}

fn body_bytes(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "the body is larger than allowed",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid-body", r.body_text())
        }
    })
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|r| {
        let text = r.body_text();
        let field = text
            .split("unknown field `")
            .nth(1)
            .or_else(|| text.split("missing field `").nth(1))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid-query", text);
        e.field = field;
        e
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    number: String,
    /// `mobile`, `home`, `work` or `other`.
    number_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `2026-11-23T10:00` (in `time_zone`), ISO 8601 with an offset, or `+15m`/`now`.
    desired_time: Option<String>,
    time_zone: Option<String>,
    delay_minutes: Option<u32>,
    queue: Option<String>,
    remark: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
    /// `web` (default), `mobile` or `api`.
    source: Option<String>,
    /// When the customer can be reached: either end, a time as `desired_time` takes it
    /// (in `time_zone`); the callback is not dialled outside it.
    window_from: Option<String>,
    window_until: Option<String>,
}

/// A number type field: `mobile`, `home`, `work` or `other` (absent or empty: none).
fn number_type(text: Option<&str>) -> Result<Option<NumberType>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|e: crate::model::ParseEnumError| {
                ApiError::bad("invalid", "number_type", e.to_string())
            }),
    }
}

/// A window end: a time expression read in `zone` as `desired_time` is, as an instant.
fn window_end(
    text: Option<&str>,
    field: &'static str,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let at = requested(Some(t), None, zone, now).map_err(|e| e.on(field))?;
    Ok(Some(at.map_or(now, |r| r.instant(zone, now))))
}

/// The time asked for: a delay, or a time expression read in `zone`.
fn requested(
    desired: Option<&str>,
    delay_minutes: Option<u32>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<Option<Requested>, ApiError> {
    match (desired.map(str::trim), delay_minutes) {
        (Some(_), Some(_)) => Err(ApiError::bad(
            "invalid",
            "delay_minutes",
            "give desired_time or delay_minutes, not both",
        )),
        (Some(t), None) => {
            // Accept the ISO form with a `T` between date and time (what browsers send).
            let text = match t.split_once('T') {
                Some((d, rest))
                    if d.len() == 10
                        && !rest.contains(['+', 'Z', 'z'])
                        && !rest.chars().take(8).any(|c| c == '-') =>
                {
                    format!("{d} {rest}")
                }
                _ => t.to_string(),
            };
            parse_when(&text, zone, now)
                .map(Some)
                .map_err(|e| ApiError::bad("invalid-time", "desired_time", e.to_string()))
        }
        (None, Some(m)) => Ok(Some(Requested::After(chrono::Duration::minutes(
            i64::from(m),
        )))),
        (None, None) => Ok(None),
    }
}

pub(super) async fn create(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    blocking(move || create_now(api, peer, headers, bytes)).await
}

fn create_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = api.admit(&peer, &headers, Need::Create)?;
    json_only(&headers)?;
    let bytes = body_bytes(bytes)?;
    let b: CreateBody = serde_json::from_slice(&bytes).map_err(|e| ApiError::json(&e))?;
    let svc = &api.service;
    let cfg = svc.config();
    let idem = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v.to_str().unwrap_or("\u{fffd}");
            crate::service::check_idempotency_key(key)?;
            Some(key.to_string())
        }
    };
    // Keys are per client credential: two clients' retries never meet. Within one
    // credential the body's digest is kept with the key, so a key replayed with another
    // request is refused instead of answered with the first callback.
    let idem = idem.map(|k| format!("{}:{k}", caller.bucket()));
    let zone = match b
        .time_zone
        .as_deref()
        .map(str::trim)
        .filter(|z| !z.is_empty())
    {
        Some(z) => parse_zone(z)
            .map_err(|e| ApiError::bad("unknown-time-zone", "time_zone", e.to_string()))?,
        None => cfg
            .queue(b.queue.as_deref())
            .map(|q| q.zone())
            .unwrap_or(cfg.settings.default_time_zone),
    };
    let when = requested(b.desired_time.as_deref(), b.delay_minutes, zone, svc.now())?;
    let kind = match b.kind.as_deref() {
        Some(k) => k
            .parse::<CallbackType>()
            .map_err(|e| ApiError::bad("invalid", "type", e.to_string()))?,
        None => when.as_ref().unwrap_or(&Requested::Now).implied_type(),
    };
    // The address e-mail notices go to (the widget's e-mail field): an address or nothing.
    if let Some(e) = b.data.get("email") {
        if e.trim().parse::<lettre::Address>().is_err() {
            return Err(ApiError::bad(
                "invalid",
                "data.email",
                "not an e-mail address such as ann@example.com",
            ));
        }
    }
    let source = match b.source.as_deref() {
        None | Some("web") => Source::Web,
        Some("mobile") => Source::Mobile,
        Some("api") => Source::Api,
        Some(other) => {
            return Err(ApiError::bad(
                "invalid",
                "source",
                format!("'{other}' is not web, mobile or api"),
            ))
        }
    };
    let number_type = number_type(b.number_type.as_deref())?;
    let mut req = NewRequest::new(
        kind,
        b.number.clone(),
        when.unwrap_or(Requested::Now),
        source,
    );
    req.number_type = number_type;
    req.window = Window {
        from: window_end(b.window_from.as_deref(), "window_from", zone, svc.now())?,
        until: window_end(b.window_until.as_deref(), "window_until", zone, svc.now())?,
    };
    req.time_zone = b.time_zone;
    req.queue = b.queue;
    req.remark = b.remark;
    req.ivr_data = b.data;
    req.request_hash = idem.as_ref().and_then(|_| request_hash(&bytes));
    req.idempotency_key = idem;
    req.actor = Some(caller.actor());
    let (stored, outcome) = svc.request(req)?;
    let principal = caller.principal();
    if principal.disclosure(&stored, outcome) == Disclosure::Withheld {
        // Someone else's callback: not its id, time, remark or a token for it.
        let reply = json!({
            "outcome": "merged",
            "message": crate::access::ALREADY_PENDING,
        });
        return Ok((StatusCode::ACCEPTED, Json(reply)).into_response());
    }
    let status = match outcome {
        CreateOutcome::Created => StatusCode::CREATED,
        CreateOutcome::Merged | CreateOutcome::Existing => StatusCode::OK,
    };
    let reply = Created {
        callback: View::of(&stored),
        outcome: match outcome {
            CreateOutcome::Created => "created",
            CreateOutcome::Merged => "merged",
            CreateOutcome::Existing => "existing",
        },
        token: api.auth.token(&stored),
    };
    Ok((status, Json(reply)).into_response())
}

/// A create's reply: serialised straight to the body (a `json!` value would first be built
/// as a tree of maps and strings, then serialised: 7% of a create's CPU time in the
/// HTTP bench's profile).
#[derive(Serialize)]
struct Created {
    callback: View,
    outcome: &'static str,
    token: String,
}

pub(super) async fn show(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<View>, ApiError> {
    blocking(move || show_now(api, peer, headers, id)).await
}

fn show_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    id: String,
) -> Result<Json<View>, ApiError> {
    let id = parse_id(&id)?;
    api.admit(&peer, &headers, Need::Owner(id))?;
    let r = api.service.get(id)?;
    let mut view = View::of(&r);
    if r.kind == CallbackType::Immediate && r.state.is_pending() {
        let e = crate::estimate::Estimate::of(&api.service, &r)?;
        view.position = Some(e.place);
        view.estimated_wait_seconds = Some(e.seconds());
    }
    Ok(Json(view))
}

pub(super) async fn cancel(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<View>, ApiError> {
    blocking(move || cancel_now(api, peer, headers, id)).await
}

fn cancel_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    id: String,
) -> Result<Json<View>, ApiError> {
    let id = parse_id(&id)?;
    let caller = api.admit(&peer, &headers, Need::Owner(id))?;
    let r = api.service.cancel(id, &caller.actor())?;
    Ok(Json(View::of(&r)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoneBody {
    note: Option<String>,
}

/// Done without a call (staff only: a customer who needs no call cancels).
pub(super) async fn done(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<View>, ApiError> {
    blocking(move || {
        let id = parse_id(&id)?;
        let caller = api.admit(&peer, &headers, Need::Staff)?;
        let bytes = body_bytes(bytes)?;
        // The body is optional: an empty one is no note.
        let b: DoneBody = if bytes.iter().all(u8::is_ascii_whitespace) {
            DoneBody::default()
        } else {
            json_only(&headers)?;
            serde_json::from_slice(&bytes).map_err(|e| ApiError::json(&e))?
        };
        let r = api
            .service
            .mark_done(id, b.note.as_deref(), &caller.actor())?;
        Ok(Json(View::of(&r)))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendBody {
    desired_time: Option<String>,
    delay_minutes: Option<u32>,
    number: Option<String>,
    /// The number's type (with `number`: the new number's; alone: the current one's).
    number_type: Option<String>,
    /// A new end of the customer's window (as `desired_time` takes it; `""` opens that
    /// end); an end not given stays as it is.
    window_from: Option<String>,
    window_until: Option<String>,
}

pub(super) async fn amend(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<View>, ApiError> {
    blocking(move || amend_now(api, peer, headers, id, bytes)).await
}

fn amend_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    id: String,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<View>, ApiError> {
    let id = parse_id(&id)?;
    let caller = api.admit(&peer, &headers, Need::Owner(id))?;
    json_only(&headers)?;
    let b: AmendBody = body(bytes)?;
    let svc = &api.service;
    let current = svc.get(id)?;
    let zone: Tz = current
        .time_zone
        .parse()
        .unwrap_or(svc.config().settings.default_time_zone);
    let when = requested(b.desired_time.as_deref(), b.delay_minutes, zone, svc.now())?;
    let window = if b.window_from.is_none() && b.window_until.is_none() {
        None
    } else {
        let end = |given: &Option<String>, field, kept| match given {
            None => Ok(kept),
            Some(t) => window_end(Some(t), field, zone, svc.now()),
        };
        let w = Window {
            from: end(&b.window_from, "window_from", current.window.from)?,
            until: end(&b.window_until, "window_until", current.window.until)?,
        };
        // Checked before anything is changed: a bad window leaves a new time unwritten too.
        crate::service::check_window(&w, svc.now())?;
        Some(w)
    };
    let mut r = current;
    let number_type = number_type(b.number_type.as_deref())?;
    if when.is_some() || b.number.is_some() || number_type.is_some() || window.is_none() {
        r = svc.amend_typed(id, when, b.number.as_deref(), number_type, &caller.actor())?;
    }
    if let Some(w) = window {
        r = svc.set_window(id, w, &caller.actor())?;
    }
    Ok(Json(View::of(&r)))
}

pub(super) async fn recording(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<View>, ApiError> {
    blocking(move || recording_now(api, peer, headers, id, bytes)).await
}

/// A WAV of the customer's own words (a mobile app's recording), transcribed like an IVR
/// recording.
fn recording_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    id: String,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<View>, ApiError> {
    let id = parse_id(&id)?;
    let caller = api.admit(&peer, &headers, Need::Owner(id))?;
    let bytes = bytes.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "the recording is larger than allowed",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid-body", r.body_text())
        }
    })?;
    let r = api.service.attach_recording(id, &bytes, &caller.actor())?;
    Ok(Json(View::of(&r)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    number: Option<String>,
    state: Option<String>,
    queue: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn list(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || list_now(api, peer, headers, q)).await
}

fn list_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    api.admit(&peer, &headers, Need::Staff)?;
    let q = query(q)?;
    let svc = &api.service;
    let number = q
        .number
        .as_deref()
        .map(|n| svc.config().numbers.normalize(n))
        .transpose()
        .map_err(|e| ApiError::bad("invalid-number", "number", e.to_string()))?;
    let state = q
        .state
        .as_deref()
        .map(str::parse::<State>)
        .transpose()
        .map_err(|e| ApiError::bad("invalid", "state", e.to_string()))?;
    let limit = q.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::bad(
            "invalid",
            "limit",
            format!("limit must be 1 to {LIST_MAX}"),
        ));
    }
    let found = svc.list(&ListFilter {
        queue: q.queue,
        state,
        number,
        updated_since: None,
        limit: Some(limit),
    })?;
    let views: Vec<View> = found.iter().map(View::of).collect();
    Ok(Json(json!({ "callbacks": views })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AvailabilityQuery {
    queue: Option<String>,
    date: String,
    time_zone: Option<String>,
}

pub(super) async fn availability(
    AxState(api): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    q: Result<Query<AvailabilityQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    blocking(move || availability_now(api, peer, headers, q)).await
}

fn availability_now(
    api: Arc<Api>,
    peer: SocketAddr,
    headers: HeaderMap,
    q: Result<Query<AvailabilityQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = api.admit(&peer, &headers, Need::Slots)?;
    let mut q = query(q)?;
    if let Caller::Customer { id } = caller {
        // A customer moving their callback sees its queue's slots, whatever was asked.
        q.queue = Some(api.service.get(id)?.queue);
    }
    let date = NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::bad(
            "invalid",
            "date",
            format!("'{}' is not a date such as 2026-11-23", q.date),
        )
    })?;
    let grid = api
        .service
        .availability(q.queue.as_deref(), date, q.time_zone.as_deref())?;
    let queue = api
        .service
        .config()
        .queue(q.queue.as_deref())
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let mut body = json!({"date": grid.date, "zone": grid.zone, "slots": grid.slots});
    // What "as soon as possible" would mean now, beside the day's slots: a figure only from
    // handling that happened (a guess would be taken for a promise).
    let e = crate::estimate::Estimate::next(&api.service, &queue)?;
    if e.from_history {
        body["estimate"] = json!({
            "place": e.place,
            "live_ahead": e.live_ahead,
            "seconds": e.seconds(),
        });
    } else {
        body["estimate"] = serde_json::Value::Null;
        body["estimate_reason"] = json!(
            "no handling history yet: neither this queue nor its contact centre has handled a call"
        );
    }
    Ok(Json(body).into_response())
}
