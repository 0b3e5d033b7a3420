//! What answering machines say. A transcript of the first seconds after answer that holds
//! one of these is a machine's greeting: people answering a call do not ask the caller to
//! leave a message.

use crate::transcribe::words::normalize_words as normalize;

/// Phrases that only a recorded greeting says, as normalised words; `*` stands for up to
/// two words of any kind, so "leave a message", "leave your message" and a transcript's
/// slip such as "leave my message" are all one phrase.
const MACHINE_PHRASES: &[&str] = &[
    "leave * message",
    "leave your name",
    "record * message",
    "after the tone",
    "after the beep",
    "at the tone",
    // Not "not available" alone: a person on a shared line says "he's not available".
    "not available to",
    "i am not available",
    "im not available",
    "person you * calling",
    "person youre calling",
    "take your call",
    "come to the phone",
    "voicemail",
    "voice mail",
    "mailbox",
    "messaging system",
    "you have reached",
    "youve reached",
];

/// Up to this many words stand for a `*`.
const GAP: usize = 2;

/// Whether `phrase` (words and `*`) occurs in `words` starting at `at`.
fn matches_at(words: &[String], at: usize, phrase: &[&str]) -> bool {
    let Some((first, rest)) = phrase.split_first() else {
        return true;
    };
    if *first == "*" {
        return (0..=GAP)
            .any(|skip| at + skip <= words.len() && matches_at(words, at + skip, rest));
    }
    words.get(at).is_some_and(|w| w == first) && matches_at(words, at + 1, rest)
}

/// The phrase of [`MACHINE_PHRASES`] the transcript says, if any.
pub fn machine_phrase(transcript: &str) -> Option<&'static str> {
    let words = normalize(transcript);
    MACHINE_PHRASES.iter().copied().find(|p| {
        let phrase: Vec<&str> = p.split(' ').collect();
        (0..words.len()).any(|at| matches_at(&words, at, &phrase))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_say_machine_phrases_and_hellos_do_not() {
        // A machine's wording is found whatever its case and punctuation, with a word or
        // two of slack; a person's is not.
        assert_eq!(
            machine_phrase("Hi, you've reached John. Please leave a message after the tone."),
            Some("leave * message")
        );
        assert_eq!(
            machine_phrase("Please leave my message."),
            Some("leave * message")
        );
        assert_eq!(
            machine_phrase("Leave it, I will get the door. Hello?"),
            None
        );
        assert_eq!(
            machine_phrase("The person you are calling is NOT AVAILABLE."),
            Some("person you * calling")
        );
        assert_eq!(
            machine_phrase("Hi, I'm not available right now."),
            Some("im not available")
        );
        assert_eq!(
            machine_phrase("He's not available, can I take a message?"),
            None
        );
        assert_eq!(machine_phrase("Hello? Who is this?"), None);
        assert_eq!(machine_phrase("Hello, Sarah speaking."), None);
        assert_eq!(machine_phrase(""), None);
    }
}
