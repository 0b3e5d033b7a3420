//! The callback request: what was asked, by whom, for when, and where it stands.

use super::kind::{CallbackType, Source};
use super::number_type::NumberType;
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A callback's identity: the store's row id, short enough to type in fs_cli.
pub type CallbackId = i64;

/// When the customer can be reached; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    /// "Between 9 and 17": from hour `from` to hour `until` (1-24) of the customer's day in
    /// `zone`, today when that is not over at `now`, else tomorrow. `None` unless
    /// `from < until <= 24`.
    pub fn hours(from: u32, until: u32, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<Self> {
        if from >= until || until > 24 {
            return None;
        }
        let at = |day: chrono::NaiveDate, hour: u32| {
            let local = day.and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(hour.into());
            crate::schedule::resolve_local(zone, local)
        };
        let today = now.with_timezone(&zone).date_naive();
        let day = if at(today, until) > now {
            today
        } else {
            today.succ_opt()?
        };
        Some(Self {
            from: Some(at(day, from)),
            until: Some(at(day, until)),
        })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

/// The caller's own words, as a WAV file the server named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub path: String,
    pub duration_ms: u32,
    pub sample_rate: u32,
}

/// What the caller said, as text (filled in by the transcription workers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub text: String,
    pub language: Option<String>,
}

/// A validated request, ready to be stored: the number is E.164, the zone is a known IANA
/// name, and the due time has been computed by the schedule rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub kind: CallbackType,
    /// E.164, with the leading `+`.
    pub number: String,
    /// What kind of number it is (mobile, home, work, other), when someone said.
    pub number_type: Option<NumberType>,
    /// The customer's IANA time zone.
    pub time_zone: String,
    /// The instant the customer asked for (scheduled requests), if any.
    pub desired_at: Option<DateTime<Utc>>,
    pub window: Window,
    pub queue: String,
    /// A personal callback goes to this agent only.
    pub agent: Option<String>,
    pub remark: Option<String>,
    /// Key/values the IVR collected (account number, menu choices, ...).
    pub ivr_data: BTreeMap<String, String>,
    pub source: Source,
    /// The call that asked for the callback.
    pub origin_uuid: Option<String>,
    pub idempotency_key: Option<String>,
    pub recording: Option<Recording>,
    pub tags: BTreeMap<String, String>,
    /// `Scheduled` normally; `Requested` when no due time can be set yet.
    pub state: State,
    pub due_at: Option<DateTime<Utc>>,
    /// After this instant the request expires instead of being dialled.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored callback request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    pub id: CallbackId,
    pub kind: CallbackType,
    pub number: String,
    /// What kind of number it is, when someone said.
    #[serde(default)]
    pub number_type: Option<NumberType>,
    pub time_zone: String,
    pub desired_at: Option<DateTime<Utc>>,
    pub window: Window,
    pub queue: String,
    pub agent: Option<String>,
    pub remark: Option<String>,
    pub ivr_data: BTreeMap<String, String>,
    pub source: Source,
    pub origin_uuid: Option<String>,
    pub idempotency_key: Option<String>,
    pub recording: Option<Recording>,
    pub transcript: Option<Transcript>,
    pub tags: BTreeMap<String, String>,
    pub state: State,
    pub due_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Customer legs dialled so far (agent rejections do not count).
    pub customer_attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who holds it while it is being dispatched, and until when.
    pub lease_owner: Option<String>,
    pub lease_expires: Option<DateTime<Utc>>,
    /// 0 normally; raised by transcript tag rules. Among due callbacks, higher goes first.
    #[serde(default)]
    pub priority: i32,
    /// What the dispatcher counts to decide (columns, so no decision reads the trace); the
    /// APIs do not show them.
    #[serde(skip)]
    pub counts: DispatchCounts,
}

#[cfg(test)]
impl CallbackRequest {
    /// The unit tests' callback: number 7, an immediate one for +1 212 555 0142 (New York)
    /// of queue `support`, captured in the IVR at `at` and due then, scheduled, never
    /// dialled. A test changes the fields it is about (`..CallbackRequest::example(at)`).
    pub(crate) fn example(at: DateTime<Utc>) -> Self {
        Self {
            id: 7,
            kind: CallbackType::Immediate,
            number: "+12125550142".into(),
            number_type: None,
            time_zone: "America/New_York".into(),
            desired_at: None,
            window: Window::default(),
            queue: "support".into(),
            agent: None,
            remark: None,
            ivr_data: BTreeMap::new(),
            source: Source::Ivr,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            transcript: None,
            tags: BTreeMap::new(),
            state: State::Scheduled,
            due_at: Some(at),
            expires_at: None,
            customer_attempts: 0,
            created_at: at,
            updated_at: at,
            lease_owner: None,
            lease_expires: None,
            priority: 0,
            counts: DispatchCounts::default(),
        }
    }
}

/// The dispatcher's counters of one callback, kept on its row by the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchCounts {
    /// Waits in a row (for a ready agent, an opening of the queue, the customer's window):
    /// each wait for an agent backs off longer. Any other transition resets it; claims do
    /// not count.
    pub waits: u32,
    /// Failovers to another queue so far (a callback fails over once).
    pub failovers: u32,
    /// When it was first claimed (first fell due): a personal callback's fallback to the
    /// queue counts from then, as each wait moves its due time on.
    pub first_claimed_at: Option<DateTime<Utc>>,
}
