//! Word error rate, over words normalised so that spelling choices are not counted as
//! errors: lowercase, punctuation dropped (apostrophes too: `I'm` = `im`), hyphens split
//! words, and digits stand alone: `4521`, `4-5-2-1` and `four five two one` all become
//! `4 5 2 1`; `5pm` becomes `5 pm`. Only the single-digit words zero..nine are turned into
//! digits (`oh` is not: it is also a word); `twenty` stays a word.

/// The normalised words of `text`.
pub fn normalize_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, words: &mut Vec<String>| {
        if !cur.is_empty() {
            let w = std::mem::take(cur);
            words.push(digit_word(&w).map_or(w, str::to_string));
        }
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_digit() {
            flush(&mut cur, &mut words);
            words.push(c.to_string());
        } else if c.is_alphanumeric() {
            cur.push(c);
        } else if c == '\'' || c == '\u{2019}' {
            // Inside a word: `don't` = `dont`.
        } else {
            flush(&mut cur, &mut words);
        }
    }
    flush(&mut cur, &mut words);
    words
}

fn digit_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "zero" => "0",
        "one" => "1",
        "two" => "2",
        "three" => "3",
        "four" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        _ => return None,
    })
}

/// Word-level edit distance (substitutions + insertions + deletions).
pub fn edit_distance(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut cur = vec![0; hypothesis.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hypothesis.len()]
}

/// Errors and reference words summed over a set of files: the corpus WER weighs each word
/// equally, so a long file counts more than a short one (the usual definition).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WerTally {
    pub errors: usize,
    pub words: usize,
}

impl WerTally {
    pub fn add(&mut self, reference: &str, hypothesis: &str) -> f64 {
        let r = normalize_words(reference);
        let h = normalize_words(hypothesis);
        let e = edit_distance(&r, &h);
        self.errors += e;
        self.words += r.len();
        ratio(e, r.len())
    }

    pub fn wer(&self) -> f64 {
        ratio(self.errors, self.words)
    }
}

fn ratio(errors: usize, words: usize) -> f64 {
    if words == 0 {
        if errors == 0 {
            0.0
        } else {
            1.0
        }
    } else {
        errors as f64 / words as f64
    }
}

/// WER of one hypothesis against one reference.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    WerTally::default().add(reference, hypothesis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_written_any_way_are_the_same_words() {
        // Digits, spelled digits and grouped digits normalise alike.
        let a = normalize_words("My account number is 4 5 2 1.");
        assert_eq!(
            a,
            normalize_words("my account number is four, five, two, one")
        );
        assert_eq!(a, normalize_words("My account number is 4521"));
        assert_eq!(a, normalize_words("My account-number is 4-5-2-1!"));
        assert_eq!(
            normalize_words("call after 5pm"),
            ["call", "after", "5", "pm"]
        );
        assert_eq!(normalize_words("I'm here"), ["im", "here"]);
    }

    #[test]
    fn wer_counts_substitutions_insertions_deletions() {
        // One of each against a four-word reference.
        assert_eq!(wer("a b c d", "a b c d"), 0.0);
        assert_eq!(wer("a b c d", "a x c d"), 0.25);
        assert_eq!(wer("a b c d", "a b c d e"), 0.25);
        assert_eq!(wer("a b c d", "a b d"), 0.25);
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "noise"), 1.0);
    }

    #[test]
    fn tally_weighs_words_not_files() {
        // 1 error in 4 words plus 0 in 6 is 1/10, not the mean of 0.25 and 0.
        let mut t = WerTally::default();
        t.add("a b c d", "a b c x");
        t.add("a b c d e f", "a b c d e f");
        assert!((t.wer() - 0.1).abs() < 1e-12);
    }
}
