//! The caller's recording for the panel's player: the file the store names (never a path
//! from the client), only when it lies inside `recordings-dir`, with `Accept-Ranges: bytes`
//! and 206 partial replies, so the browser can seek.

use super::{blocking, parse_id, St};
use crate::api::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A `Range` header against a body of `len` bytes (RFC 9110, 14.2): `None` to ignore it
/// and send the whole body (another unit, several ranges, or a range that does not parse);
/// `Some(Ok)` the inclusive span of one range; `Some(Err)` when that range cannot be
/// satisfied (416).
pub(crate) fn parse_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(n), len - 1)));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        None
    } else {
        let end: u64 = b.parse().ok()?;
        if end < start {
            return None;
        }
        Some(end)
    };
    if start >= len {
        return Some(Err(()));
    }
    Some(Ok((start, end.map_or(len - 1, |e| e.min(len - 1)))))
}

/// Bytes read from the file at a time: a reply holds no more than this in memory.
const CHUNK: usize = 64 * 1024;

/// `count` bytes of `file` from `start`, read a chunk at a time off the async threads.
fn body(mut file: std::fs::File, start: u64, count: u64) -> std::io::Result<axum::body::Body> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(start))?;
    let chunks = futures_util::stream::unfold((Some(file), count), |(file, left)| async move {
        let file = file?;
        if left == 0 {
            return None;
        }
        let read = tokio::task::spawn_blocking(move || {
            let mut f = file;
            let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            let mut buf = vec![0; want];
            let n = f.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((f, buf))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((_, buf)) if buf.is_empty() => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the recording got shorter while it was sent",
                )),
                (None, 0),
            )),
            Ok((f, buf)) => {
                let left = left - buf.len() as u64;
                Some((Ok(buf), (Some(f), left)))
            }
            Err(e) => Some((Err(e), (None, 0))),
        }
    });
    Ok(axum::body::Body::from_stream(chunks))
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
        let unreadable = |e: std::io::Error| {
            tracing::warn!(
                callback_id = id,
                "panel: cannot read {}: {e}",
                file.display()
            );
            none()
        };
        let f = std::fs::File::open(&file).map_err(unreadable)?;
        let len = f.metadata().map_err(unreadable)?.len();
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|value| parse_range(value, len).map(|r| (value, r)));
        let mut resp = match range {
            None => {
                let mut resp =
                    (StatusCode::OK, body(f, 0, len).map_err(unreadable)?).into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                resp
            }
            Some((_, Ok((start, end)))) => {
                let count = end - start + 1;
                let mut resp = (
                    StatusCode::PARTIAL_CONTENT,
                    body(f, start, count).map_err(unreadable)?,
                )
                    .into_response();
                let h = resp.headers_mut();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    h.insert(header::CONTENT_RANGE, v);
                }
                resp
            }
            Some((value, Err(()))) => {
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
        // Open ends, suffixes and clamped ends are served.
        assert_eq!(parse_range("bytes=0-", 100), Some(Ok((0, 99))));
        assert_eq!(parse_range("bytes=10-19", 100), Some(Ok((10, 19))));
        assert_eq!(parse_range("bytes=90-200", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-1000", 100), Some(Ok((0, 99))));
        // Unsatisfiable single ranges: 416.
        for bad in ["bytes=100-", "bytes=-0", "bytes=100-200"] {
            assert_eq!(parse_range(bad, 100), Some(Err(())), "{bad}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Some(Err(())));
        // Invalid, another unit, several ranges: ignored (the whole file, 200).
        for ignored in [
            "bytes=5-4",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=0-0,-1",
            "bytes=x-",
            "bytes=1",
            "",
        ] {
            assert_eq!(parse_range(ignored, 100), None, "{ignored}");
        }
    }
}
