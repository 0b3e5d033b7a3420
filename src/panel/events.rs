//! Live updates: a server-sent event stream that says "changed" whenever the store's
//! trace grows (a callback created, moved, offered, transcribed, finished, by anyone on
//! any node sharing the store). The page then reloads its list and badge; the event
//! itself carries nothing but the trace position, so nothing leaks past the session's
//! visibility rules. The stream ends at logout, when the session expires (its own polls do
//! not renew it), when the user is removed from the configuration, or when the server
//! stops. A session holds at most [`super::session::MAX_STREAMS`] streams.

use super::{Panel, St};
use crate::api::ApiError;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// How often the store is looked at.
const POLL: Duration = Duration::from_millis(500);

struct Watch {
    panel: Arc<Panel>,
    headers: HeaderMap,
    last: Option<i64>,
    /// The session's key (its digest), for the stream count.
    token: String,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.panel.sessions.stream_ended(&self.token);
    }
}

impl Watch {
    /// The session is still live (not renewed by this check; ended by a logout on any
    /// node) and its user still configured. A store that cannot be read ends nothing:
    /// the stream carries no data, and the next look decides.
    async fn allowed(&self) -> bool {
        let (p, headers) = (self.panel.clone(), self.headers.clone());
        let alive = tokio::task::spawn_blocking(move || p.sessions.alive(&headers)).await;
        match alive {
            Ok(Ok(Some(name))) => self.panel.service.config().staff.user(&name).is_some(),
            Ok(Ok(None)) => false,
            Ok(Err(_)) => true,
            Err(e) => {
                tracing::error!("panel: a live-update check failed: {e}");
                false
            }
        }
    }
}

async fn last_event(p: &Arc<Panel>) -> Option<i64> {
    let p = p.clone();
    tokio::task::spawn_blocking(move || p.service.store().last_event_id())
        .await
        .ok()
        .and_then(|r| {
            r.map_err(|e| tracing::warn!("panel: live updates cannot read the store: {e}"))
                .ok()
        })
}

pub(super) async fn stream(
    axum::extract::State(p): St,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (panel, h) = (p.clone(), headers.clone());
    super::blocking(move || panel.viewer(&h).map(drop)).await?;
    let token = p.sessions.stream_started(&headers).ok_or_else(|| {
        ApiError::too_many(
            "this session has the most live-update streams open; close a panel tab",
            5,
        )
    })?;
    let start = Watch {
        panel: p,
        headers,
        last: None,
        token,
    };
    let events = futures_util::stream::unfold(start, |mut w| async move {
        let mut stop = w.panel.shutdown.clone();
        loop {
            if let Some(last) = w.last {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.wait_for(|s| *s) => return None,
                }
                if *stop.borrow() || !w.allowed().await {
                    return None;
                }
                let now = last_event(&w.panel).await?;
                if now != last {
                    w.last = Some(now);
                    let e = Event::default().event("changed").data(now.to_string());
                    return Some((Ok::<_, std::convert::Infallible>(e), w));
                }
            } else {
                // The first event tells the page it is connected (and where the trace is).
                let now = last_event(&w.panel).await.unwrap_or(0);
                w.last = Some(now);
                let e = Event::default().event("hello").data(now.to_string());
                return Some((Ok(e), w));
            }
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
