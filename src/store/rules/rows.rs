//! Rows into the model, the same for both backends: they store the same columns in the same
//! order (a test compares the schemas), integers as whole numbers (times as UTC epoch
//! seconds), enums as their `as_str()` text and key/value maps as JSON. A backend only
//! says how to read one integer or one text of its row ([`Columns`]).

use crate::model::{
    Attempt, AttemptResult, CallbackRequest, DispatchCounts, Recording, State, Transcript, Window,
};
use crate::store::jobs::{JobState, TranscriptionJob};
use crate::store::{Event, StoreError};
use crate::transcribe::{Segment, TranscriptResult};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The columns of `callbacks`, in the order [`callback`] decodes them (the same list for
/// both schemas). A macro as well as [`CALLBACK_COLUMNS`], so SQL built with `concat!` is
/// one static string (SQLite's statement cache is keyed by it).
macro_rules! callback_columns {
    () => {
        "id, kind, number, time_zone, queue, source, state, due_at, customer_attempts, \
         created_at, updated_at, desired_at, window_from, window_until, expires_at, agent, \
         remark, ivr_data, origin_uuid, idempotency_key, recording_path, recording_ms, \
         recording_rate, transcript_text, transcript_language, tags, lease_owner, lease_expires, \
         priority, waits, failovers, first_claimed_at, number_type"
    };
}
pub(crate) use callback_columns;

/// The columns of `attempts`, in the order [`attempt`] decodes them.
macro_rules! attempt_columns {
    () => {
        "id, callback_id, leg, attempt_no, agent, call_uuid, started_at, answered_at, ended_at, \
         hangup_cause, result, disposition, note"
    };
}
pub(crate) use attempt_columns;

pub(crate) const CALLBACK_COLUMNS: &str = callback_columns!();

/// How many columns [`CALLBACK_COLUMNS`] names: a query returning more reads them after.
pub(crate) const CALLBACK_COLUMN_COUNT: usize = 33;

pub(crate) const ATTEMPT_COLUMNS: &str = attempt_columns!();

/// The columns of `events`, in the order [`event`] decodes them.
pub(crate) const EVENT_COLUMNS: &str = "id, callback_id, at, action, from_state, to_state, \
     actor, detail";

/// The columns of `transcriptions`, in the order [`job`] decodes them.
pub(crate) const JOB_COLUMNS: &str = "id, callback_id, wav_path, state, attempts, next_try_at, \
     error, text, segments, language, processing_ms";

/// A value in the database that the model cannot represent, named by its column.
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {message}")]
pub(crate) struct BadColumn {
    pub idx: usize,
    pub column: &'static str,
    pub message: String,
    /// Whether the column holds an integer (else text), for a backend's own error.
    pub integer: bool,
}

impl From<BadColumn> for StoreError {
    fn from(e: BadColumn) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// One row of a backend: its values by position, NULL as `None`.
pub(crate) trait Columns {
    type Error: From<BadColumn>;
    fn int(&self, idx: usize, column: &'static str) -> Result<Option<i64>, Self::Error>;
    fn text(&self, idx: usize, column: &'static str) -> Result<Option<String>, Self::Error>;
}

fn bad<E: From<BadColumn>>(idx: usize, column: &'static str, message: String, integer: bool) -> E {
    E::from(BadColumn {
        idx,
        column,
        message,
        integer,
    })
}

fn null<E: From<BadColumn>>(idx: usize, column: &'static str, integer: bool) -> E {
    bad(idx, column, "is NULL".into(), integer)
}

pub(crate) fn int<C: Columns + ?Sized>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<i64, C::Error> {
    r.int(idx, column)?.ok_or_else(|| null(idx, column, true))
}

pub(crate) fn text<C: Columns + ?Sized>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<String, C::Error> {
    r.text(idx, column)?.ok_or_else(|| null(idx, column, false))
}

fn to_time<E: From<BadColumn>>(
    idx: usize,
    column: &'static str,
    s: i64,
) -> Result<DateTime<Utc>, E> {
    DateTime::from_timestamp(s, 0).ok_or_else(|| {
        bad(
            idx,
            column,
            format!("{s} is not a representable time"),
            true,
        )
    })
}

pub(crate) fn time<C: Columns + ?Sized>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<DateTime<Utc>, C::Error> {
    to_time(idx, column, int(r, idx, column)?)
}

fn opt_time<C: Columns + ?Sized>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>, C::Error> {
    r.int(idx, column)?
        .map(|s| to_time(idx, column, s))
        .transpose()
}

fn u32_of<E: From<BadColumn>>(idx: usize, column: &'static str, v: i64) -> Result<u32, E> {
    u32::try_from(v).map_err(|_| bad(idx, column, format!("{v} is out of range"), true))
}

fn u32_col<C: Columns + ?Sized>(r: &C, idx: usize, column: &'static str) -> Result<u32, C::Error> {
    u32_of(idx, column, int(r, idx, column)?)
}

/// A count that may be NULL (a recording's length or rate not known): 0.
fn opt_u32<C: Columns + ?Sized>(r: &C, idx: usize, column: &'static str) -> Result<u32, C::Error> {
    r.int(idx, column)?
        .map_or(Ok(0), |v| u32_of(idx, column, v))
}

pub(crate) fn enum_col<C: Columns + ?Sized, T>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<T, C::Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let t = text(r, idx, column)?;
    t.parse()
        .map_err(|e: T::Err| bad(idx, column, e.to_string(), false))
}

fn opt_enum<C: Columns + ?Sized, T>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<Option<T>, C::Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    r.text(idx, column)?
        .map(|t| {
            t.parse()
                .map_err(|e: T::Err| bad(idx, column, e.to_string(), false))
        })
        .transpose()
}

fn map_col<C: Columns + ?Sized>(
    r: &C,
    idx: usize,
    column: &'static str,
) -> Result<BTreeMap<String, String>, C::Error> {
    match r.text(idx, column)? {
        None => Ok(BTreeMap::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            bad(
                idx,
                column,
                format!("not a JSON object of strings: {e}"),
                false,
            )
        }),
    }
}

/// A row of [`CALLBACK_COLUMNS`].
pub(crate) fn callback<C: Columns + ?Sized>(r: &C) -> Result<CallbackRequest, C::Error> {
    let recording = match r.text(20, "recording_path")? {
        None => None,
        Some(path) => Some(Recording {
            path,
            duration_ms: opt_u32(r, 21, "recording_ms")?,
            sample_rate: opt_u32(r, 22, "recording_rate")?,
        }),
    };
    let transcript = match r.text(23, "transcript_text")? {
        None => None,
        Some(text) => Some(Transcript {
            text,
            language: r.text(24, "transcript_language")?,
        }),
    };
    let priority = int(r, 28, "priority")?;
    Ok(CallbackRequest {
        id: int(r, 0, "id")?,
        kind: enum_col(r, 1, "kind")?,
        number: text(r, 2, "number")?,
        number_type: opt_enum(r, 32, "number_type")?,
        time_zone: text(r, 3, "time_zone")?,
        queue: text(r, 4, "queue")?,
        source: enum_col(r, 5, "source")?,
        state: enum_col(r, 6, "state")?,
        due_at: opt_time(r, 7, "due_at")?,
        customer_attempts: u32_col(r, 8, "customer_attempts")?,
        created_at: time(r, 9, "created_at")?,
        updated_at: time(r, 10, "updated_at")?,
        desired_at: opt_time(r, 11, "desired_at")?,
        window: Window {
            from: opt_time(r, 12, "window_from")?,
            until: opt_time(r, 13, "window_until")?,
        },
        expires_at: opt_time(r, 14, "expires_at")?,
        agent: r.text(15, "agent")?,
        remark: r.text(16, "remark")?,
        ivr_data: map_col(r, 17, "ivr_data")?,
        origin_uuid: r.text(18, "origin_uuid")?,
        idempotency_key: r.text(19, "idempotency_key")?,
        recording,
        transcript,
        tags: map_col(r, 25, "tags")?,
        lease_owner: r.text(26, "lease_owner")?,
        lease_expires: opt_time(r, 27, "lease_expires")?,
        priority: i32::try_from(priority)
            .map_err(|_| bad(28, "priority", format!("{priority} is out of range"), true))?,
        counts: DispatchCounts {
            waits: u32_col(r, 29, "waits")?,
            failovers: u32_col(r, 30, "failovers")?,
            first_claimed_at: opt_time(r, 31, "first_claimed_at")?,
        },
    })
}

/// A row of [`ATTEMPT_COLUMNS`].
pub(crate) fn attempt<C: Columns + ?Sized>(r: &C) -> Result<Attempt, C::Error> {
    Ok(Attempt {
        id: int(r, 0, "id")?,
        callback_id: int(r, 1, "callback_id")?,
        leg: enum_col(r, 2, "leg")?,
        attempt_no: u32_col(r, 3, "attempt_no")?,
        agent: r.text(4, "agent")?,
        call_uuid: r.text(5, "call_uuid")?,
        started_at: time(r, 6, "started_at")?,
        answered_at: opt_time(r, 7, "answered_at")?,
        ended_at: opt_time(r, 8, "ended_at")?,
        hangup_cause: r.text(9, "hangup_cause")?,
        result: opt_enum::<C, AttemptResult>(r, 10, "result")?,
        disposition: r.text(11, "disposition")?,
        note: r.text(12, "note")?,
    })
}

/// A row of [`EVENT_COLUMNS`].
pub(crate) fn event<C: Columns + ?Sized>(r: &C) -> Result<Event, C::Error> {
    Ok(Event {
        id: int(r, 0, "id")?,
        callback_id: int(r, 1, "callback_id")?,
        at: time(r, 2, "at")?,
        action: text(r, 3, "action")?,
        from: opt_enum::<C, State>(r, 4, "from_state")?,
        to: enum_col(r, 5, "to_state")?,
        actor: r.text(6, "actor")?,
        detail: r.text(7, "detail")?,
    })
}

/// The raw values of a row of [`JOB_COLUMNS`]; [`job`] makes the job of them.
pub(crate) struct JobRow {
    id: i64,
    callback_id: i64,
    wav_path: String,
    state: String,
    attempts: i64,
    next_try_at: i64,
    error: Option<String>,
    text: Option<String>,
    segments: Option<String>,
    language: Option<String>,
    processing_ms: Option<i64>,
}

/// The values of a row of [`JOB_COLUMNS`], read as they are.
pub(crate) fn job_row<C: Columns + ?Sized>(r: &C) -> Result<JobRow, C::Error> {
    Ok(JobRow {
        id: int(r, 0, "id")?,
        callback_id: int(r, 1, "callback_id")?,
        wav_path: text(r, 2, "wav_path")?,
        state: text(r, 3, "state")?,
        attempts: int(r, 4, "attempts")?,
        next_try_at: int(r, 5, "next_try_at")?,
        error: r.text(6, "error")?,
        text: r.text(7, "text")?,
        segments: r.text(8, "segments")?,
        language: r.text(9, "language")?,
        processing_ms: r.int(10, "processing_ms")?,
    })
}

/// A job of its stored values: its state, and the transcript of a finished one.
pub(crate) fn job(row: JobRow) -> Result<TranscriptionJob, StoreError> {
    let id = row.id;
    let bad = |m: String| StoreError::Backend(format!("transcription {id}: {m}"));
    let state =
        JobState::parse(&row.state).ok_or_else(|| bad(format!("unknown state '{}'", row.state)))?;
    let result = match (state, row.text) {
        (JobState::Done, Some(text)) => {
            let segments: Vec<Segment> = match row.segments {
                Some(j) => serde_json::from_str(&j).map_err(|e| bad(format!("segments: {e}")))?,
                None => Vec::new(),
            };
            // An empty text is how a no-speech outcome is stored (its reason is in the
            // `transcribed` event); a transcription with words always has some.
            let no_speech = text.trim().is_empty().then(|| "no speech".to_string());
            Some(TranscriptResult {
                text,
                segments,
                language: row.language,
                processing_ms: u64::try_from(row.processing_ms.unwrap_or(0)).unwrap_or(0),
                no_speech,
            })
        }
        _ => None,
    };
    Ok(TranscriptionJob {
        id,
        callback_id: row.callback_id,
        wav_path: row.wav_path,
        state,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        next_try_at: DateTime::from_timestamp(row.next_try_at, 0)
            .ok_or_else(|| bad(format!("next_try_at {} out of range", row.next_try_at)))?,
        error: row.error,
        result,
    })
}
