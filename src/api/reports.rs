//! `GET /v1/reports`: a staff key's report (crate::report) as CSV or JSON, filtered by the
//! query's `key=value` pairs. The operator view's download answers with the same
//! [`reply`].

use super::callbacks::Need;
use super::error::ApiError;
use super::Api;
use crate::report::{self, Format, ReportError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid { field, message } => ApiError::bad("invalid", field, message),
            ReportError::Store(e) => ApiError::from(crate::service::Error::from(e)),
            ReportError::Csv(m) => {
                tracing::error!("report: {m}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the report could not be written",
                )
            }
        }
    }
}

/// A report as the reply its format asks for.
pub(crate) fn reply(report: &report::Report) -> Result<Response, ApiError> {
    Ok(match report.filter.format.unwrap_or(Format::Json) {
        Format::Json => axum::Json(report.to_json()).into_response(),
        Format::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"callback-report.csv\"",
                ),
            ],
            report.to_csv()?,
        )
            .into_response(),
    })
}

pub(super) async fn report(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    super::callbacks::blocking(move || {
        api.admit(&peer, &headers, Need::Staff)?;
        let pairs = super::callbacks::query(query)?;
        let made = report::run(
            &api.service,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        reply(&made)
    })
    .await
}
