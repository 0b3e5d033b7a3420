//! `GET /metrics`: the Prometheus scrape, for a `metrics` or `staff` key
//! (`authorization: credentials` in the scrape config).

use super::callbacks::Need;
use super::error::ApiError;
use super::Api;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

pub(super) async fn scrape(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = api.admit(&peer, &headers, Need::Metrics) {
        return e.into_response();
    }
    let figures = tokio::task::spawn_blocking(move || {
        crate::metrics::render(&api.service, api.dispatcher.as_deref())
    })
    .await;
    match figures {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!("metrics: {e}");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage", e.to_string()).into_response()
        }
        Err(e) => {
            tracing::error!("metrics: {e}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the metrics could not be gathered",
            )
            .into_response()
        }
    }
}
