//! The REST API for web sites and mobile apps (axum, JSON, versioned under `/v1`).
//!
//! - [`router`]: the routes over a shared [`CallbackService`]; its contract is the
//!   checked-in OpenAPI document [`OPENAPI`], served at `/v1/openapi.json`.
//! - [`HttpServer`]: the server's life on its own thread and tokio runtime, stopped
//!   gracefully (and joined) by the module.
//! - `auth`: API keys with scopes, customer tokens; `limits`: rate limits; `error`: the
//!   one error shape `{"error":{"code","message","field"}}`.
//! - `widget`: the embeddable callback form and the customer's manage page (static
//!   assets), with their two routes; CORS for the configured `http-cors-origins`.
//!
//! Every input is read by our own code (bytes, then serde with `deny_unknown_fields`), so
//! every refusal has the error shape above, and nothing is stored on any error: the only
//! writes are the service's, after all checks.

mod auth;
mod callbacks;
mod error;
pub(crate) mod limits;
mod metrics;
pub(crate) mod reports;
mod server;
mod widget;

pub use auth::Caller;
pub use error::ApiError;
pub use server::HttpServer;

use crate::dispatch::Dispatcher;
use crate::service::CallbackService;
use auth::Auth;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use limits::Limiter;
use std::sync::Arc;

/// The customer token of `r` under `secret` (the `http-token-secret`): what a create
/// answers, and what a notice's manage link carries.
pub fn customer_token(secret: &str, r: &crate::model::CallbackRequest) -> String {
    Auth::new(&[], Some(secret)).token(r)
}

/// The API's contract, checked in and kept equal to the routes by a test.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What every handler shares.
pub(crate) struct Api {
    service: Arc<CallbackService>,
    /// This node's dispatcher, when it runs (its agents and lateness in `/metrics`).
    dispatcher: Option<Arc<Dispatcher>>,
    auth: Auth,
    per_key: Limiter,
    per_ip: Limiter,
}

/// The API's routes over `service` (limits and keys from its configuration), with
/// `dispatcher`'s figures in `/metrics` when given.
pub fn router(service: Arc<CallbackService>, dispatcher: Option<Arc<Dispatcher>>) -> Router {
    let cfg = service.config().api.clone();
    if cfg.keys.is_empty() {
        tracing::warn!("http: no <api-keys> configured: every request will be refused");
    }
    if cfg.token_secret.is_none() {
        tracing::warn!(
            "http: http-token-secret is not set: customer tokens stop working at restart"
        );
    }
    let api = Arc::new(Api {
        auth: Auth::new(&cfg.keys, cfg.token_secret.as_deref()),
        per_key: Limiter::new(cfg.rate_per_key),
        per_ip: Limiter::new(cfg.rate_per_ip),
        service,
        dispatcher,
    });
    // Keep this list in step with openapi.json (a test compares them).
    Router::new()
        .route(
            "/v1/callbacks",
            get(callbacks::list).post(callbacks::create),
        )
        .route(
            "/v1/callbacks/{id}",
            get(callbacks::show)
                .delete(callbacks::cancel)
                .patch(callbacks::amend),
        )
        .route(
            "/v1/callbacks/{id}/recording",
            post(callbacks::recording).layer(DefaultBodyLimit::max(cfg.max_recording_bytes)),
        )
        .route("/v1/callbacks/{id}/done", post(callbacks::done))
        .route("/v1/availability", get(callbacks::availability))
        .route("/v1/widget", get(widget::settings))
        .route("/v1/number", get(widget::check_number))
        .route("/v1/reports", get(reports::report))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics::scrape))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no-route", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take that method",
            )
        })
        .merge(widget::pages())
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(cors(&cfg.cors_origins))
        .with_state(api)
}

/// Browsers may call the API from the pages of `origins` only (the widget embedded in a
/// site): preflights are answered for them, and no other origin gets an
/// `Access-Control-Allow-Origin`, so its page cannot read a reply. No origins: no CORS at
/// all (same origin only). Credentials are never allowed: the API takes bearer keys and
/// tokens, not cookies.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
