//! Word error rate, over the normalised words of [`super::words`], so that spelling
//! choices (`4521` or `four five two one`, `canceled` or `cancelled`) are not counted as
//! errors.

pub use super::words::normalize_words;

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
