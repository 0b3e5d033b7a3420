//! What answering machines say. A transcript of the first seconds after answer that holds
//! one of these is a machine's greeting: people answering a call do not ask the caller to
//! leave a message.

use crate::transcribe::words::normalize_words as normalize;

/// Phrases (normalised words, in order) that only a recorded greeting says.
const MACHINE_PHRASES: &[&str] = &[
    "leave a message",
    "leave your message",
    "leave me a message",
    "leave us a message",
    "leave your name",
    "record your message",
    "after the tone",
    "after the beep",
    "at the tone",
    "not available",
    "cannot take your call",
    "can't take your call",
    "cannot come to the phone",
    "can't come to the phone",
    "voicemail",
    "voice mail",
    "mailbox",
    "messaging system",
    "you have reached",
    "you've reached",
];

/// The phrase of [`MACHINE_PHRASES`] the transcript says, if any.
pub fn machine_phrase(transcript: &str) -> Option<&'static str> {
    let said = format!(" {} ", normalize(transcript).join(" "));
    MACHINE_PHRASES
        .iter()
        .copied()
        .find(|p| said.contains(&format!(" {} ", normalize(p).join(" "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_say_machine_phrases_and_hellos_do_not() {
        // A machine's wording is found whatever its case and punctuation; a person's is not.
        assert_eq!(
            machine_phrase("Hi, you've reached John. Please leave a message after the tone."),
            Some("leave a message")
        );
        assert_eq!(
            machine_phrase("The person you are calling is NOT AVAILABLE."),
            Some("not available")
        );
        assert_eq!(machine_phrase("Hello? Who is this?"), None);
        assert_eq!(machine_phrase("Hello, Sarah speaking."), None);
        assert_eq!(machine_phrase(""), None);
    }
}
