//! `<ivr-profiles><profile name="...">`: the turnkey IVR's profiles (see
//! [`crate::ivr::IvrProfile`] for what each key means; defaults are its `default_named`).

use super::{check_token, list, ConfigError, Params};
use crate::ivr::{profile::prompt_files, IvrProfile, PROMPTS};
use crate::model::CallbackType;
use crate::schedule::parse_zone;
use std::collections::BTreeMap;

/// Keys of a profile besides `prompt-<name>` (one per entry of [`PROMPTS`]).
pub(super) const PROFILE_KEYS: &[&str] = &[
    "offer",
    "delay",
    "queue",
    "language",
    "tries",
    "input-timeout-ms",
    "max-record-seconds",
    "min-record-ms",
    "silence-threshold",
    "silence-seconds",
    "review-recording",
    "consent",
    "ask-window",
    "tell-wait",
    "keep-unconfirmed",
    "schedule-days",
    "country-zones",
    "sound-prefix",
    "tone",
];

/// Every key a profile accepts.
pub(super) fn known_keys() -> Vec<String> {
    PROFILE_KEYS
        .iter()
        .map(|k| k.to_string())
        .chain(PROMPTS.iter().map(|(n, _)| format!("prompt-{n}")))
        .collect()
}

/// A file name that goes into an application argument: no spaces, quotes or expansions.
fn check_playable(p: &Params<'_>, key: &str, v: &str) -> Result<(), ConfigError> {
    let bad = v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\'' | '"' | '`'))
        || v.contains("${")
        || v.contains("$${");
    if bad {
        return Err(p.err(
            key,
            format!("'{v}' must be a sound file path without spaces, quotes or ${{...}}"),
        ));
    }
    Ok(())
}

pub(super) fn build_profile(
    p: &Params<'_>,
    name: &str,
    queues: &BTreeMap<String, super::QueueConfig>,
) -> Result<IvrProfile, ConfigError> {
    let d = IvrProfile::default_named(name);
    let offer = match p.get("offer") {
        None => d.offer.clone(),
        Some(v) => {
            let mut offer = Vec::new();
            for t in list(v) {
                let t: CallbackType = t.parse().map_err(|e| p.err("offer", format!("{e}")))?;
                if offer.contains(&t) {
                    return Err(p.err("offer", format!("{t} is offered twice")));
                }
                offer.push(t);
            }
            if offer.is_empty() || offer.len() > 4 {
                return Err(p.err("offer", "offer one to four callback types"));
            }
            offer
        }
    };
    let delay = p.duration("delay", "30m")?;
    if delay <= chrono::Duration::zero() {
        return Err(p.err("delay", "must be longer than zero"));
    }
    let queue = p.get("queue").filter(|q| !q.is_empty()).map(str::to_string);
    if let Some(q) = &queue {
        check_token(p, "queue", q)?;
        if !queues.contains_key(q) {
            return Err(p.err("queue", format!("queue '{q}' is not defined in <queues>")));
        }
    }
    let language = p.text("language", &d.language);
    if language.is_empty()
        || language.len() > 16
        || !language
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return Err(p.err(
            "language",
            format!("'{language}' is not a say language such as en or de"),
        ));
    }
    let mut country_zones = BTreeMap::new();
    for pair in list(p.get("country-zones").unwrap_or("")) {
        let (cc, zone) = pair.split_once('=').ok_or_else(|| {
            p.err(
                "country-zones",
                format!("'{pair}' must be COUNTRY=Zone, e.g. DE=Europe/Berlin"),
            )
        })?;
        let cc = cc.trim().to_ascii_uppercase();
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(p.err(
                "country-zones",
                format!("'{cc}' is not a two-letter country code"),
            ));
        }
        let zone = parse_zone(zone.trim()).map_err(|e| p.err("country-zones", e.to_string()))?;
        country_zones.insert(cc, zone);
    }
    let prefix = p.text("sound-prefix", "callback/");
    if !prefix.is_empty() {
        check_playable(p, "sound-prefix", &prefix)?;
    }
    let mut overrides = BTreeMap::new();
    for (n, _) in PROMPTS {
        let key = format!("prompt-{n}");
        if let Some(v) = p.get(&key) {
            check_playable(p, &key, v)?;
            overrides.insert(n.to_string(), v.to_string());
        }
    }
    let tone = p.text("tone", &d.tone);
    check_playable(p, "tone", &tone)?;
    Ok(IvrProfile {
        name: name.to_string(),
        offer,
        delay,
        queue,
        language,
        tries: p.number("tries", d.tries, 1..=9)?,
        input_timeout_ms: p.number("input-timeout-ms", d.input_timeout_ms, 1000..=60_000)?,
        max_record_seconds: p.number("max-record-seconds", d.max_record_seconds, 5..=600)?,
        min_record_ms: p.number("min-record-ms", d.min_record_ms, 0..=30_000)?,
        silence_threshold: p.number("silence-threshold", d.silence_threshold, 1..=10_000)?,
        silence_seconds: p.number("silence-seconds", d.silence_seconds, 1..=60)?,
        review: p.flag("review-recording", d.review)?,
        consent: p.flag("consent", d.consent)?,
        ask_window: p.flag("ask-window", d.ask_window)?,
        tell_wait: p.flag("tell-wait", d.tell_wait)?,
        keep_unconfirmed: p.flag("keep-unconfirmed", d.keep_unconfirmed)?,
        schedule_days: p.number("schedule-days", d.schedule_days, 1..=9)?,
        country_zones,
        tone,
        prompts: prompt_files(&prefix, &overrides),
    })
}
