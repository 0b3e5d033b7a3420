//! What a front end hands the service, and the limits every door applies to it before
//! anything is stored: the request, the agent's after-call work, idempotency keys, text.

use super::*;

/// A request as a front end received it: nothing validated yet.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub kind: CallbackType,
    pub number: String,
    /// The number's type (mobile, home, work, other), when the caller or agent said.
    pub number_type: Option<NumberType>,
    /// IANA zone of the customer; the queue's zone when absent.
    pub time_zone: Option<String>,
    pub when: Requested,
    pub window: Window,
    /// The configured default queue when absent.
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub remark: Option<String>,
    pub ivr_data: BTreeMap<String, String>,
    pub source: Source,
    pub origin_uuid: Option<String>,
    pub idempotency_key: Option<String>,
    pub recording: Option<Recording>,
    pub tags: BTreeMap<String, String>,
    /// Who asks (written on the trace's `created` or `merge` event): `api:<key>`, `ivr`,
    /// `dialplan`, `panel:<user>`.
    pub actor: Option<String>,
    /// A digest of the request as the client sent it, kept with `idempotency_key`: the key
    /// replayed with another request is refused (`idempotency-mismatch`).
    pub request_hash: Option<String>,
}

impl NewRequest {
    /// A request of `kind` for `number` with every optional field empty.
    pub fn new(
        kind: CallbackType,
        number: impl Into<String>,
        when: Requested,
        source: Source,
    ) -> Self {
        Self {
            kind,
            number: number.into(),
            number_type: None,
            time_zone: None,
            when,
            window: Window::default(),
            queue: None,
            agent: None,
            remark: None,
            ivr_data: BTreeMap::new(),
            source,
            origin_uuid: None,
            idempotency_key: None,
            recording: None,
            tags: BTreeMap::new(),
            actor: None,
            request_hash: None,
        }
    }
}

/// An agent's after-call work on a callback (the panel's form, fs_cli's `disposition`,
/// `result` and `dnc add` in one).
#[derive(Debug, Clone, Default)]
pub struct WrapUp {
    /// The call's result as the agent saw it (overrides the classified hang-up).
    pub result: Option<AttemptResult>,
    /// A code from `dispositions` (or `do-not-call`).
    pub disposition: Option<String>,
    pub note: Option<String>,
    /// Put the number on the do-not-call list.
    pub do_not_call: bool,
}

/// The longest idempotency key a client may send (a UUID fits with room to spare). Every
/// door that takes one checks it here, with one message; the store keeps it prefixed with
/// the client credential it is scoped to.
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

/// The one refusal of a bad idempotency key, whichever door it came through.
pub fn check_idempotency_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "idempotency_key",
            format!(
                "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} letters, digits and - _ . : (a UUID fits)"
            ),
        ))
    }
}

/// Text limits: what a caller, client or agent supplies is bounded before it is stored.
/// A stored idempotency key: the client's (above) behind its credential's name
/// (`key:<name>:`, a name up to 64); the store keeps up to 160.
pub(super) const MAX_KEY_CHARS: usize = 160;
pub(super) const MAX_DATA_ENTRIES: usize = 32;
pub(super) const MAX_DATA_KEY_CHARS: usize = 64;
pub(super) const MAX_DATA_VALUE_CHARS: usize = 256;

/// A short identifier: letters, digits and `-_.:@`.
pub(super) fn is_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
}

pub(super) fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), Error> {
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Why a WAV was refused, without the server's path.
pub(super) fn wav_reason(e: &crate::recording::RecordingError) -> String {
    use crate::recording::RecordingError as R;
    match e {
        R::NotWav { reason, .. } => reason.clone(),
        R::Empty(_) => "it holds no audio".into(),
        _ => "unreadable".into(),
    }
}
