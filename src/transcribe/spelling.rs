//! The vocabulary's own spelling in a transcript: whisper hears a product called
//! `FiberMax` and writes `fiber max`, `Fiber-Max` or `fibermax`; the stored transcript
//! says `FiberMax`, as the configuration does, so tag rules and agents see the name the
//! PBX uses. Only one-word entries are respelled (a product name is one word, a phrase
//! such as `charged twice` is already matched word by word), and only when the words
//! heard, joined, are exactly the entry: nothing is guessed.

/// How many heard words at most make one vocabulary word (`Home Shield TV` = 3).
const MAX_PARTS: usize = 3;

/// `text` with every run of words that spells a one-word `vocabulary` entry apart or in
/// another case (`fiber max`, `Fiber-Max`, `FIBERMAX`) written as the entry (`FiberMax`).
pub fn respell(text: &str, vocabulary: &[String]) -> String {
    let entries: Vec<(&str, String)> = vocabulary
        .iter()
        .map(|v| v.trim())
        // Short entries would join ordinary words (`a`+`pp` = `app`); product names are
        // longer than that.
        .filter(|v| v.chars().count() >= 4 && v.chars().all(char::is_alphanumeric))
        .map(|v| (v, v.to_lowercase()))
        .collect();
    if entries.is_empty() {
        return text.to_string();
    }
    let words = word_spans(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < words.len() {
        let mut matched = None;
        let mut joined = String::new();
        for j in i..words.len().min(i + MAX_PARTS) {
            // Parts of one name are separated by a space or a hyphen, nothing else.
            if j > i && !matches!(text[words[j - 1].1..words[j].0].trim(), "" | "-") {
                break;
            }
            joined.push_str(&text[words[j].0..words[j].1].to_lowercase());
            // One word matching an all-lowercase entry (`bill`) is an ordinary word in
            // the caller's sentence, its case left as whisper wrote it.
            if let Some((entry, _)) = entries.iter().find(|(entry, lower)| {
                *lower == joined && (j > i || entry.chars().any(char::is_uppercase))
            }) {
                matched = Some((j, *entry));
            }
        }
        match matched {
            Some((j, entry)) => {
                out.push_str(&text[copied..words[i].0]);
                out.push_str(entry);
                copied = words[j].1;
                i = j + 1;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Byte ranges of the runs of letters and digits of `text`.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vec<String> {
        ["FiberMax", "HomeShield", "TurboTV", "bill", "charged twice"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn product_names_heard_apart_are_written_as_configured() {
        // Spaces, hyphens and case are whisper's choice; the stored text uses the
        // configuration's spelling, punctuation around the name kept.
        let v = vocabulary();
        assert_eq!(
            respell("The fiber max router, and Home-Shield.", &v),
            "The FiberMax router, and HomeShield."
        );
        assert_eq!(respell("my turbo TV box", &v), "my TurboTV box");
        assert_eq!(respell("FIBERMAX is down", &v), "FiberMax is down");
    }

    #[test]
    fn other_words_and_separators_are_left_alone() {
        // A comma between the parts is two words; short entries and phrases are not
        // respelled; text without the names comes back unchanged.
        let v = vocabulary();
        assert_eq!(respell("fiber, max", &v), "fiber, max");
        assert_eq!(respell("my Bill is high", &v), "my Bill is high");
        assert_eq!(respell("I was Charged Twice", &v), "I was Charged Twice");
        assert_eq!(respell("no names here", &v), "no names here");
        assert_eq!(respell("", &v), "");
        assert_eq!(respell("fiber max", &[]), "fiber max");
    }
}
