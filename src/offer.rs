//! The in-queue offer: a caller waiting in the contact centre's queue whose estimated wait
//! passes the queue's `offer-after-wait` is offered a callback, once. The dispatcher looks
//! at the centre's callers each turn ([`due`] picks whom to offer); the host plays the
//! offer on the caller's call ([`prompts`]), and the key that takes it ([`TAKE_KEY`]) ends
//! the wait as the queue's exit key does, so the same hand-over ([`crate::handover`])
//! makes the callback, keeping the caller's place.

use crate::estimate::Estimate;
use crate::ivr::{IvrProfile, Prompt};
use chrono::Duration;
use std::collections::BTreeSet;

/// The key that takes the offer.
pub const TAKE_KEY: &str = "1";

/// How long the offer waits for the key.
pub const KEY_TIMEOUT_MS: u32 = 5000;

/// The callers to offer a callback now: waiting (by their call), with an estimated wait
/// past `threshold` (not at it), and not offered before. In line order.
pub fn due<'a>(
    callers: &'a [(String, Estimate)],
    threshold: Duration,
    offered: &BTreeSet<String>,
) -> Vec<&'a (String, Estimate)> {
    let mut out: Vec<&(String, Estimate)> = callers
        .iter()
        .filter(|(call, e)| e.from_history && e.wait > threshold && !offered.contains(call))
        .collect();
    out.sort_by_key(|(_, e)| e.place);
    out
}

/// What the offer says: "The wait is about <n> minutes. To be called back instead,
/// keeping your place in line, press 1." (the last prompt open to the key).
pub fn prompts(profile: &IvrProfile, wait_minutes: u32) -> Vec<Prompt> {
    vec![
        profile.prompt("wait-about"),
        Prompt::Number(wait_minutes.max(1)),
        profile.prompt("minutes"),
        profile.prompt("queue-offer"),
    ]
}

/// The minutes `callback_queue_offer` was given: 1 to 999.
pub fn parse_minutes(data: &str) -> Result<u32, String> {
    match data.trim().parse::<u32>() {
        Ok(m) if (1..=crate::estimate::MAX_MINUTES).contains(&m) => Ok(m),
        _ => Err(format!(
            "'{}' is not a wait in minutes (1 to 999)",
            data.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(call: &str, place: usize, secs: i64, from_history: bool) -> (String, Estimate) {
        (
            call.to_string(),
            Estimate {
                place,
                live_ahead: place - 1,
                wait: Duration::seconds(secs),
                from_history,
            },
        )
    }

    #[test]
    fn only_callers_past_the_threshold_and_not_yet_offered_are_due() {
        // 5 minutes: 301 s is past it, 300 s is not; one offered before is not offered
        // again; a guess without history offers nothing; the front of the line goes first.
        let callers = vec![
            caller("c", 9, 900, true),
            caller("a", 3, 300, true),
            caller("b", 4, 301, true),
            caller("d", 10, 1000, true),
            caller("e", 11, 5000, false),
        ];
        let offered: BTreeSet<String> = ["d".to_string()].into();
        let due: Vec<&str> = due(&callers, Duration::minutes(5), &offered)
            .iter()
            .map(|(c, _)| c.as_str())
            .collect();
        assert_eq!(due, ["b", "c"]);
    }

    #[test]
    fn the_offer_tells_the_wait_and_the_key() {
        // The wait in minutes, then the offer itself (open to the key); a bad argument is
        // refused naming it.
        let p = prompts(&IvrProfile::default_named("default"), 7);
        assert_eq!(p[1], Prompt::Number(7));
        assert_eq!(p[3], Prompt::File("callback/queue-offer.wav".into()));
        assert_eq!(parse_minutes(" 12 "), Ok(12));
        for bad in ["0", "1000", "x", "", "5 &hangup"] {
            assert!(
                parse_minutes(bad).unwrap_err().contains("not a wait"),
                "{bad}"
            );
        }
    }
}
