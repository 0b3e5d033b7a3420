//! Live updates: a server-sent event stream that says "changed" whenever the store's
//! trace grows (a callback created, moved, offered, transcribed, finished, by anyone on
//! any node sharing the store). The page then reloads its list and badge; the event
//! itself carries nothing but the trace position, so nothing leaks past the session's
//! visibility rules. The stream ends at logout or when the server stops.

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
    p.viewer(&headers)?;
    let start = Watch {
        panel: p,
        headers,
        last: None,
    };
    let events = futures_util::stream::unfold(start, |mut w| async move {
        let mut stop = w.panel.shutdown.clone();
        loop {
            if let Some(last) = w.last {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.wait_for(|s| *s) => return None,
                }
                if *stop.borrow() || w.panel.sessions.user(&w.headers).is_none() {
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
