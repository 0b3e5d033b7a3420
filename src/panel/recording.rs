//! The caller's recording for the panel's player: the file the store names (never a path
//! from the client), only when it lies inside `recordings-dir`, with `Accept-Ranges: bytes`
//! and 206 partial replies, so the browser can seek.

use super::{blocking, parse_id, St};
use crate::api::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A `Range: bytes=a-b` header against a body of `len` bytes: the inclusive span, or
/// `Err` when it cannot be satisfied. Only one range is served (the browsers' seek).
pub(crate) fn parse_range(value: &str, len: u64) -> Result<(u64, u64), ()> {
    let spec = value.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') || len == 0 {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len - 1)
        };
        (start, end)
    };
    if start > end || start >= len {
        return Err(());
    }
    Ok((start, end))
}

pub(super) async fn serve(
    axum::extract::State(p): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let v = p.viewer(&headers)?;
        let id = parse_id(&id)?;
        let r = v.check(p.service.get(id)?)?;
        let none = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no-recording",
                "this callback has no recording",
            )
        };
        let rec = r.recording.as_ref().ok_or_else(none)?;
        let dir = &p.service.config().settings.recordings_dir;
        let inside = std::fs::canonicalize(&rec.path)
            .ok()
            .zip(std::fs::canonicalize(dir).ok())
            .filter(|(file, dir)| file.starts_with(dir))
            .map(|(file, _)| file);
        let Some(file) = inside else {
            tracing::warn!(
                callback_id = id,
                "panel: recording {} is missing or outside recordings-dir; not served",
                rec.path
            );
            return Err(none());
        };
        let bytes = std::fs::read(&file).map_err(|e| {
            tracing::warn!(
                callback_id = id,
                "panel: cannot read {}: {e}",
                file.display()
            );
            none()
        })?;
        let len = bytes.len() as u64;
        let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        let mut resp = match range {
            None => (StatusCode::OK, bytes).into_response(),
            Some(value) => match parse_range(value, len) {
                Ok((start, end)) => {
                    // Both ends are below `len`, which came from a slice's length.
                    let part = bytes[start as usize..=end as usize].to_vec();
                    let mut resp = (StatusCode::PARTIAL_CONTENT, part).into_response();
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                        resp.headers_mut().insert(header::CONTENT_RANGE, v);
                    }
                    resp
                }
                Err(()) => {
                    let mut resp = ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "bad-range",
                        format!("cannot serve range '{value}' of {len} bytes"),
                    )
                    .into_response();
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                        resp.headers_mut().insert(header::CONTENT_RANGE, v);
                    }
                    return Ok(resp);
                }
            },
        };
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        Ok(resp)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_as_browsers_send_them() {
        // Open ends, suffixes and clamped ends are served; the rest is refused.
        assert_eq!(parse_range("bytes=0-", 100), Ok((0, 99)));
        assert_eq!(parse_range("bytes=10-19", 100), Ok((10, 19)));
        assert_eq!(parse_range("bytes=90-200", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok((0, 99)));
        for bad in [
            "bytes=100-",
            "bytes=5-4",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-0",
            "bytes=x-",
        ] {
            assert_eq!(parse_range(bad, 100), Err(()), "{bad}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Err(()));
    }
}
