//! The one error shape of the API: `{"error":{"code","message","field"}}` with a 4xx (or,
//! for a storage failure only, 503). Service errors keep their `code()` and `field()`.

use crate::service::Error as ServiceError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds to wait before trying again (429, and 503 when the store is unavailable).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).on(field)
    }

    pub fn on(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "no such callback")
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// A JSON body serde refused: its message, and the field when serde names one.
    pub fn json(err: &serde_json::Error) -> Self {
        let message = err.to_string();
        let field = message
            .strip_prefix("unknown field `")
            .or_else(|| message.strip_prefix("missing field `"))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            format!("the body is not the JSON expected: {message}"),
        );
        e.field = field;
        e
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            ServiceError::Store(
                StoreError::Transition(_)
                | StoreError::StateChanged { .. }
                | StoreError::Leased { .. }
                | StoreError::LeaseLost { .. }
                | StoreError::AgentBusy { .. }
                | StoreError::SlotFull { .. },
            ) => StatusCode::CONFLICT,
            ServiceError::Store(StoreError::Backend(_) | StoreError::Unavailable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            // The key is known, the request is not the one it came with (as payment APIs
            // answer a key reused with other parameters).
            ServiceError::Store(StoreError::IdempotencyMismatch) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let message = match &e {
            // The database's own words stay in the log, not in a reply to the internet.
            ServiceError::Store(StoreError::Backend(_)) => {
                tracing::error!("http: {e}");
                "the callback store is unavailable; try again later".to_string()
            }
            // The fault's name (full, read-only, busy) tells the client's operator what
            // kind of outage this is; the file path and SQLite's words stay in the log.
            ServiceError::Store(StoreError::Unavailable { fault, .. }) => {
                tracing::error!("http: {e}");
                format!("the callback store is unavailable: {fault}; try again later")
            }
            ServiceError::Store(StoreError::NotFound(_)) => "no such callback".to_string(),
            _ => e.to_string(),
        };
        let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE).then_some(5);
        Self {
            status,
            code: e.code(),
            message,
            // The service's "when" is the API's desired_time (or delay_minutes).
            field: e
                .field()
                .map(|f| if f == "when" { "desired_time" } else { f }.to_string()),
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
