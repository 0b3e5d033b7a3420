//! The customer's side on the web: the embeddable callback widget (`/widget/widget.js`, one
//! script tag on any page), the page where a customer manages their callback
//! (`/widget/manage#<token>`), and the two small `/v1` routes only they need: the widget's
//! settings with the queue's estimated wait (`GET /v1/widget`), and a number checked as a
//! create would check it (`GET /v1/number`).
//!
//! The pages hold no secret of their own: the widget uses the site's `create` key (given
//! in its script tag, as public as the form it draws) and the manage page the customer's
//! token, which it reads from the URL's fragment, so it never reaches a server log or a
//! `Referer`. Both only call the public `/v1` API, whose CORS answers the configured
//! `http-cors-origins` only.

use super::callbacks::{blocking, query, Need};
use super::error::ApiError;
use super::Api;
use crate::config::calling_code;
use crate::model::{CallbackType, State};
use crate::store::ListFilter;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State as AxState};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

const WIDGET_JS: &str = include_str!("assets/widget.js");
const MANAGE_HTML: &str = include_str!("assets/manage.html");

/// The static pages (no key: they hold nothing until the visitor's key or token is used).
pub(super) fn pages() -> Router<Arc<Api>> {
    Router::new()
        .route(
            "/widget/widget.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    WIDGET_JS,
                )
            }),
        )
        .route(
            "/widget/manage",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                        // The token is in the fragment; the page sends no Referer anyway.
                        (header::REFERRER_POLICY, "no-referrer"),
                        (header::X_FRAME_OPTIONS, "DENY"),
                    ],
                    MANAGE_HTML,
                )
            }),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WidgetQuery {
    queue: Option<String>,
}

/// `GET /v1/widget?queue=`: what the form needs before the visitor types: the consent text,
/// the countries offered with their calling codes, the booking horizon, the queue's zone,
/// and the wait an "as soon as possible" request would have now.
pub(super) async fn settings(
    AxState(api): AxState<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    q: Result<Query<WidgetQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        api.admit(&peer, &headers, Need::Create)?;
        let q = query(q)?;
        let cfg = api.service.config();
        let queue = cfg.queue(q.queue.as_deref()).ok_or_else(|| {
            ApiError::bad("unknown-queue", "queue", "no such queue is configured")
        })?;
        let waiting = waiting_immediate(&api, queue.name())?;
        let wait =
            crate::estimate::Estimate::at_place(&api.service, queue.name(), waiting + 1)?.seconds();
        let countries: Vec<Value> = cfg
            .api
            .widget
            .countries
            .iter()
            .filter_map(|c| calling_code(c).map(|code| json!({"region": c, "code": code})))
            .collect();
        Ok(Json(json!({
            "queue": queue.name(),
            "time_zone": queue.zone().name(),
            "horizon_days": queue.rules.horizon.num_days(),
            "consent": cfg.api.widget.consent,
            "countries": countries,
            "waiting": waiting,
            // Whether an e-mail confirmation or reminder is sent for this queue (the form
            // then asks for an address).
            "email": cfg.notices.notices.iter().any(|n| {
                matches!(n.channel, crate::config::Channel::Email { .. }) && n.serves(queue.name())
            }),
            "estimated_wait_seconds": wait,
        })))
    })
    .await
}

/// Immediate callbacks of `queue` waiting now (those an "as soon as possible" request
/// would queue behind).
fn waiting_immediate(api: &Api, queue: &str) -> Result<usize, ApiError> {
    let mut n = 0;
    for state in [State::Requested, State::Scheduled, State::Rescheduled] {
        n += api
            .service
            .list(&ListFilter {
                queue: Some(queue.to_string()),
                state: Some(state),
                ..ListFilter::default()
            })?
            .iter()
            .filter(|r| r.kind == CallbackType::Immediate)
            .count();
    }
    Ok(n)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NumberQuery {
    number: String,
    /// ISO 3166 region a national number is read in (the visitor's choice of country);
    /// the configured `default-region` when absent.
    country: Option<String>,
}

/// `GET /v1/number?number=`: the number as a create would store it (E.164), or the same
/// refusal a create would give (`invalid-number`, `number-denied`), so the widget can say
/// what is wrong next to the field before the visitor sends the form.
pub(super) async fn check_number(
    AxState(api): AxState<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    q: Result<Query<NumberQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    blocking(move || {
        api.admit(&peer, &headers, Need::Create)?;
        let q = query(q)?;
        let cfg = api.service.config();
        let e164 = match q
            .country
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            None => cfg.numbers.normalize(&q.number),
            Some(c) => {
                let c = c.to_ascii_uppercase();
                if calling_code(&c).is_none() {
                    return Err(ApiError::bad(
                        "invalid",
                        "country",
                        format!("'{c}' is not a two-letter country code such as US or DE"),
                    ));
                }
                // The same rules with the visitor's country for a national number; the
                // deny-list is the configured one.
                let deny: Vec<&str> = cfg
                    .numbers
                    .deny_prefixes()
                    .iter()
                    .map(String::as_str)
                    .collect();
                crate::number::NumberPolicy::new(Some(&c), &deny)
                    .map_err(|e| ApiError::bad("invalid", "country", e.to_string()))?
                    .normalize(&q.number)
            }
        }
        .map_err(crate::service::Error::from)?;
        Ok(Json(json!({ "number": e164 })))
    })
    .await
}
