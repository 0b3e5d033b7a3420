//! The agent panel: plain server-rendered pages with a small vanilla script, served by the
//! module's HTTP server next to the REST API.
//!
//! - `/panel/` (agents) and `/panel/operator` (supervisors, admins): static pages from
//!   `assets/`, which talk to the JSON routes under `/panel/api/`.
//! - `session`: staff login and cookie sessions; `roles`: who sees which callback and may
//!   do what; `views`: the callbacks as the panel shows them; `actions`: Call Now,
//!   schedule, reschedule, cancel, reassign, after-call work, the agent's own state;
//!   `recording`: the caller's WAV with byte ranges (seeking); `events`: live updates
//!   (server-sent events); `operator`: the per-queue overview; `insight`: the operator
//!   view's charts and report download.
//!
//! The `/panel/api` routes are the panel's own, not part of the public `/v1` contract
//! (openapi.json): they may change with the pages. Every refusal has the API's error shape
//! `{"error":{"code","message","field"}}`. A change needs the session cookie
//! (`SameSite=Strict`) and the header `X-Callback-Panel: 1`, which a page of another site
//! cannot send without the browser asking this server first (CORS is not answered).

mod actions;
mod events;
mod insight;
mod operator;
mod recording;
mod roles;
mod session;
mod views;

use crate::api::ApiError;
use crate::dispatch::Dispatcher;
use crate::service::CallbackService;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use roles::Viewer;
use session::Sessions;
pub use session::COOKIE;
use std::sync::Arc;

/// Login attempts a minute from one address for one user, and from one address.
const LOGINS_PER_USER: u32 = 6;
const LOGINS_PER_IP: u32 = 60;

/// The header every change must carry (the CSRF defence with the SameSite cookie).
pub const CHANGE_HEADER: &str = "x-callback-panel";

const PANEL_HTML: &str = include_str!("assets/panel.html");
const OPERATOR_HTML: &str = include_str!("assets/operator.html");
const PANEL_JS: &str = include_str!("assets/panel.js");
const PANEL_CSS: &str = include_str!("assets/panel.css");
const CHARTS_JS: &str = include_str!("assets/charts.js");

/// What every panel handler shares.
pub(crate) struct Panel {
    service: Arc<CallbackService>,
    /// The agents' states and Call Now need it; without it (a service alone, in tests of
    /// the HTTP layer) those say so.
    dispatcher: Option<Arc<Dispatcher>>,
    sessions: Sessions,
    /// Login attempts per client address and user, and per client address: guessing
    /// passwords is slow.
    logins_per_user: crate::api::limits::Limiter,
    logins_per_ip: crate::api::limits::Limiter,
    /// Set when the server stops: live-update streams end at once instead of holding
    /// the stop for its grace period.
    shutdown: tokio::sync::watch::Receiver<bool>,
}

type St = axum::extract::State<Arc<Panel>>;

/// The panel's routes over `service` (and the module's dispatcher, when running);
/// `shutdown` turns true when the server stops.
pub fn router(
    service: Arc<CallbackService>,
    dispatcher: Option<Arc<Dispatcher>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    if service.config().staff.users.is_empty() {
        tracing::info!("panel: no <staff> users configured: nobody can log in to /panel/");
    }
    let sessions = Sessions::new(service.store().clone());
    let panel = Arc::new(Panel {
        service,
        dispatcher,
        sessions,
        logins_per_user: crate::api::limits::Limiter::new(LOGINS_PER_USER),
        logins_per_ip: crate::api::limits::Limiter::new(LOGINS_PER_IP),
        shutdown,
    });
    Router::new()
        .route("/", get(|| async { Redirect::to("/panel/") }))
        .route("/panel", get(|| async { Redirect::to("/panel/") }))
        .route("/panel/", get(|| async { html(PANEL_HTML) }))
        .route("/panel/operator", get(|| async { html(OPERATOR_HTML) }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/panel/assets/panel.js",
            get(|| async { asset("text/javascript; charset=utf-8", PANEL_JS) }),
        )
        .route(
            "/panel/assets/charts.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHARTS_JS) }),
        )
        .route(
            "/panel/assets/panel.css",
            get(|| async { asset("text/css; charset=utf-8", PANEL_CSS) }),
        )
        .route("/panel/api/login", post(actions::login))
        .route("/panel/api/logout", post(actions::logout))
        .route("/panel/api/me", get(views::me))
        .route("/panel/api/me/state", post(actions::set_state))
        .route(
            "/panel/api/callbacks",
            get(views::list).post(actions::schedule),
        )
        .route("/panel/api/callbacks/{id}", get(views::show))
        .route("/panel/api/callbacks/{id}/recording", get(recording::serve))
        .route(
            "/panel/api/callbacks/{id}/call-now",
            post(actions::call_now),
        )
        .route(
            "/panel/api/callbacks/{id}/reschedule",
            post(actions::reschedule),
        )
        .route("/panel/api/callbacks/{id}/window", post(actions::window))
        .route("/panel/api/callbacks/{id}/cancel", post(actions::cancel))
        .route("/panel/api/callbacks/{id}/done", post(actions::done))
        .route("/panel/api/callbacks/{id}/offer", post(actions::decide))
        .route("/panel/api/callbacks/{id}/assign", post(actions::assign))
        .route("/panel/api/callbacks/{id}/wrap-up", post(actions::wrap_up))
        .route("/panel/api/availability", get(views::availability))
        .route("/panel/api/events", get(events::stream))
        .route("/panel/api/operator", get(operator::overview))
        .route("/panel/api/operator/charts", get(insight::charts))
        .route("/panel/api/operator/report", get(insight::report))
        .layer(DefaultBodyLimit::max(16_384))
        .with_state(panel)
}

fn html(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // The pages load only their own script and style, and are never framed.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; media-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

impl Panel {
    /// The logged-in user of the request, or 401. It reads the store (the session):
    /// called on the blocking pool, as the store is ([`blocking`]).
    fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, ApiError> {
        let name = self
            .sessions
            .user(headers)?
            .ok_or_else(|| ApiError::unauthorized("log in first"))?;
        let staff = &self.service.config().staff;
        // A user removed from the configuration (a reload) loses their session.
        let user = staff
            .user(&name)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("log in first"))?;
        let role = staff.role(&user.role);
        Ok(Viewer { user, role })
    }

    /// The logged-in user of a request that changes something: it must also carry
    /// `X-Callback-Panel: 1` (a form or image of another site cannot).
    fn changer(&self, headers: &HeaderMap) -> Result<Viewer, ApiError> {
        check_change_header(headers)?;
        self.viewer(headers)
    }

    fn dispatcher(&self) -> Result<&Arc<Dispatcher>, ApiError> {
        self.dispatcher.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-running",
                "the dispatcher is not running",
            )
        })
    }
}

fn check_change_header(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(CHANGE_HEADER).and_then(|v| v.to_str().ok()) {
        Some("1") => Ok(()),
        _ => Err(ApiError::forbidden(
            "a change needs the header X-Callback-Panel: 1 (sent by the panel's own page)",
        )),
    }
}

/// Runs a handler's body on tokio's blocking pool (the store blocks); a panic there is
/// contained and answered 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!("panel: a request handler failed: {e}");
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed inside the server; nothing was changed by this reply",
        ))
    })
}

/// A JSON body read by serde with its own error shape.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::json(&e))
}

fn parse_id(id: &str) -> Result<crate::model::CallbackId, ApiError> {
    id.parse()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(ApiError::not_found)
}
