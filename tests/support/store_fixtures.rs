//! What the store's tests share: a fixed clock, a draft, a few callbacks made at once, and
//! the transitions, legs and transcripts the tests drive.

#![allow(dead_code)]

use crate::backends::Raw;

use callback_core::model::{
    Attempt, CallbackRequest, CallbackType, Draft, Leg, Source, State, Window,
};
use callback_core::store::prelude::*;
use callback_core::store::{CreateOptions, ListFilter, NewAttempt, StoreError, Transition};
use callback_core::transcribe::{Segment, TranscriptResult};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

pub fn t(offset_s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap() + Duration::seconds(offset_s)
}

pub fn draft(number: &str, queue: &str, due: i64) -> Draft {
    Draft {
        kind: CallbackType::Immediate,
        number: number.into(),
        time_zone: "Europe/Berlin".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: queue.into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Ivr,
        origin_uuid: None,
        idempotency_key: None,
        recording: None,
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(t(due)),
        expires_at: None,
    }
}

/// `n` callbacks of queue sales due at t(0), numbered `<prefix>0`, `<prefix>1`...; their ids.
pub fn create_numbered(store: &dyn Store, prefix: &str, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            store
                .create(
                    &draft(&format!("{prefix}{i}"), "sales", 0),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap()
                .0
                .id
        })
        .collect()
}

pub fn count(store: &dyn Store) -> usize {
    store.list(&ListFilter::default()).unwrap().len()
}

pub fn move_to(to: State, owner: Option<&str>) -> Transition {
    let mut tr = Transition::new(to, "test");
    tr.owner = owner.map(str::to_string);
    tr
}

pub fn transcript(text: &str) -> TranscriptResult {
    TranscriptResult {
        text: text.into(),
        segments: vec![Segment {
            start_ms: 0,
            end_ms: 1200,
            text: text.into(),
        }],
        language: Some("en".into()),
        processing_ms: 1500,
        no_speech: None,
    }
}

/// An agent leg of `id` for `agent`, offered by `owner` (which must hold the claim).
pub fn offer_to(
    store: &dyn Store,
    id: i64,
    agent: &str,
    owner: &str,
    at: DateTime<Utc>,
) -> Result<(CallbackRequest, Attempt), StoreError> {
    let mut tr = move_to(State::Offering, Some(owner));
    tr.expect = Some(State::Due);
    let leg = NewAttempt {
        callback_id: id,
        leg: Leg::Agent,
        agent: Some(agent.into()),
        call_uuid: None,
    };
    store
        .start_offers(&[(id, tr, leg)], owner, at)
        .unwrap()
        .pop()
        .unwrap()
}

/// The schema version this build writes (both backends, one scale): 1 callbacks; 2 the
/// transcription queue; 3 priority; 4 cheaper callback indexes (SQLite's own); 5 webhook
/// cursors; 6 the panel's indexes; 7 agents shared by nodes; 8 request digests; 9 dispatch
/// counters; 10 the outbox position and panel sessions; 11 the time-last-changed index for
/// finished callbacks only; 12 the number's type; 13 one index of a number's open
/// callbacks (SQLite's own; nothing changes on PostgreSQL).
pub fn latest_schema(_raw: &Raw) -> i64 {
    13
}

/// The schema version a backend's database says it has.
pub fn schema_version(raw: &Raw) -> i64 {
    match raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        Raw::Pg(s) => s
            .client()
            .query_one("SELECT version FROM callback_schema", &[])
            .unwrap()
            .get(0),
    }
}
