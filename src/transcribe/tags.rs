//! Tags from the transcript: rules that turn words into `intent=billing`, `urgency=high`,
//! and may send the request to another queue or raise its priority.
//!
//! The rules are deliberately simple, so an admin can predict them:
//! - A rule is `key=value` plus what it looks for: a list of words/phrases, or a regular
//!   expression, and optionally a `queue` and a `priority`.
//! - Words match whole words, case-insensitively, after the same normalisation as the WER
//!   (punctuation ignored, `four` = `4`): `bill` matches "my bill." but not "billing";
//!   a phrase (`account number`) matches those words in a row.
//! - A regular expression is searched case-insensitively in the raw transcript text.
//! - Rules are tried in the order written. **The first matching rule per tag key wins**; a
//!   later rule for a key already set is skipped (so write the specific rule first).
//! - The queue of the first matching rule that names one wins; the priority is the highest
//!   of the matching rules' priorities.

use super::wer::normalize_words;
use regex::{Regex, RegexBuilder};
use std::collections::BTreeMap;

/// A rule that cannot be used, naming the rule and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag rule '{rule}': {message}")]
pub struct TagRuleError {
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Each entry a phrase of normalised words.
    Words(Vec<Vec<String>>),
    Regex(Regex),
}

/// One rule.
#[derive(Debug, Clone)]
pub struct TagRule {
    pub key: String,
    pub value: String,
    matcher: Matcher,
    /// Route a matching request to this queue.
    pub queue: Option<String>,
    /// Raise a matching request's priority to at least this.
    pub priority: Option<i32>,
    /// The words and phrases as written in the config, for the decoder's prompt.
    spoken: Vec<String>,
}

impl TagRule {
    /// `tag` is `key=value`; `words` is a comma-separated list of words or phrases.
    pub fn words(tag: &str, words: &str) -> Result<Self, TagRuleError> {
        let (key, value) = split_tag(tag)?;
        let spoken: Vec<String> = words
            .split(',')
            .map(str::trim)
            .filter(|p| !normalize_words(p).is_empty())
            .map(str::to_string)
            .collect();
        let phrases: Vec<Vec<String>> = spoken.iter().map(|p| normalize_words(p)).collect();
        if phrases.is_empty() {
            return Err(err(tag, "give at least one word or phrase"));
        }
        Ok(Self {
            key,
            value,
            matcher: Matcher::Words(phrases),
            queue: None,
            priority: None,
            spoken,
        })
    }

    /// `tag` is `key=value`; `pattern` a regular expression (`regex` crate syntax),
    /// matched case-insensitively.
    pub fn regex(tag: &str, pattern: &str) -> Result<Self, TagRuleError> {
        let (key, value) = split_tag(tag)?;
        let re = RegexBuilder::new(pattern)
            .case_insensitive(true)
            // A config typo must not build a huge automaton in the PBX.
            .size_limit(1 << 20)
            .build()
            .map_err(|e| err(tag, format!("bad regular expression: {e}")))?;
        Ok(Self {
            key,
            value,
            matcher: Matcher::Regex(re),
            queue: None,
            priority: None,
            // A pattern is not words a caller says; the prompt takes only word rules.
            spoken: Vec::new(),
        })
    }

    pub fn with_queue(mut self, queue: &str) -> Self {
        self.queue = Some(queue.to_string());
        self
    }

    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }

    fn matches(&self, text: &str, words: &[String]) -> bool {
        match &self.matcher {
            Matcher::Regex(re) => re.is_match(text),
            Matcher::Words(phrases) => phrases
                .iter()
                .any(|p| words.windows(p.len()).any(|w| w == p.as_slice())),
        }
    }
}

fn err(rule: &str, message: impl Into<String>) -> TagRuleError {
    TagRuleError {
        rule: rule.to_string(),
        message: message.into(),
    }
}

fn split_tag(tag: &str) -> Result<(String, String), TagRuleError> {
    let (k, v) = tag
        .split_once('=')
        .ok_or_else(|| err(tag, "write the tag as key=value, e.g. intent=billing"))?;
    let (k, v) = (k.trim(), v.trim());
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if !ok(k) || !ok(v) {
        return Err(err(
            tag,
            "key and value must be 1-64 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok((k.to_ascii_lowercase(), v.to_string()))
}

/// What the rules made of a transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagOutcome {
    pub tags: BTreeMap<String, String>,
    /// The queue to move the request to, if a matching rule names one.
    pub queue: Option<String>,
    /// The highest priority among matching rules.
    pub priority: Option<i32>,
}

/// The ordered rule list.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    rules: Vec<TagRule>,
}

impl TagRules {
    pub fn new(rules: Vec<TagRule>) -> Self {
        Self { rules }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The words and phrases of the word rules, in rule order, each once: what callers of
    /// this PBX are expected to say, for the decoder's prompt.
    pub fn vocabulary(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in self.rules.iter().flat_map(|r| &r.spoken) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(w)) {
                out.push(w.clone());
            }
        }
        out
    }

    /// Applies the rules in order (see the module notes for the exact semantics).
    pub fn apply(&self, transcript: &str) -> TagOutcome {
        let words = normalize_words(transcript);
        let mut out = TagOutcome::default();
        for rule in &self.rules {
            if out.tags.contains_key(&rule.key) || !rule.matches(transcript, &words) {
                continue;
            }
            out.tags.insert(rule.key.clone(), rule.value.clone());
            if out.queue.is_none() {
                out.queue.clone_from(&rule.queue);
            }
            if let Some(p) = rule.priority {
                out.priority = Some(out.priority.map_or(p, |q| q.max(p)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TagRules {
        TagRules::new(vec![
            TagRule::words(
                "intent=billing",
                "invoice, bill, refund, charged, account number",
            )
            .unwrap()
            .with_queue("billing"),
            TagRule::words("intent=cancel", "cancel, cancellation")
                .unwrap()
                .with_queue("retention"),
            TagRule::regex("urgency=high", r"\b(urgent|asap|emergency|down)\b")
                .unwrap()
                .with_priority(10),
            TagRule::words("intent=support", "password, log in, internet").unwrap(),
        ])
    }

    #[test]
    fn billing_transcript_tagged_and_routed() {
        // The fixture sentence about an invoice lands in billing.
        let out = rules().apply(
            "Hi, this is Maria Lopez, please call me back about my invoice, \
             my account number is 4521.",
        );
        assert_eq!(out.tags.get("intent").map(String::as_str), Some("billing"));
        assert_eq!(out.queue.as_deref(), Some("billing"));
        assert_eq!(out.priority, None);
    }

    #[test]
    fn first_match_per_key_wins_and_keys_combine() {
        // Billing is written before support, so a transcript with both words is billing;
        // urgency is a separate key and raises the priority.
        let out = rules().apply("URGENT: my internet is down and my bill is wrong");
        assert_eq!(out.tags.get("intent").map(String::as_str), Some("billing"));
        assert_eq!(out.tags.get("urgency").map(String::as_str), Some("high"));
        assert_eq!(out.queue.as_deref(), Some("billing"));
        assert_eq!(out.priority, Some(10));
    }

    #[test]
    fn whole_words_only_case_insensitive() {
        // `bill` does not match inside `billing`; `Log In` matches the phrase `log in`.
        let out = rules().apply("Billing department? I cannot Log In.");
        assert_eq!(out.tags.get("intent").map(String::as_str), Some("support"));
        assert_eq!(out.queue, None);
        assert!(rules().apply("nothing to see").tags.is_empty());
    }

    #[test]
    fn spelling_variants_and_spelled_numbers_match_rules() {
        // whisper's "canceled" matches a rule written "cancelled", "login" matches "log in",
        // and "$90" matches a rule phrase "ninety dollars".
        let rules = TagRules::new(vec![
            TagRule::words("intent=cancel", "cancelled").unwrap(),
            TagRule::words("intent=support", "log in").unwrap(),
            TagRule::words("amount=ninety", "ninety dollars").unwrap(),
        ]);
        assert_eq!(
            rules
                .apply("I canceled it")
                .tags
                .get("intent")
                .map(String::as_str),
            Some("cancel")
        );
        assert_eq!(
            rules
                .apply("I cannot login.")
                .tags
                .get("intent")
                .map(String::as_str),
            Some("support")
        );
        assert!(rules.apply("I owe $90.").tags.contains_key("amount"));
    }

    #[test]
    fn vocabulary_lists_word_rules_phrases_once() {
        // The prompt's words: every word rule's phrases as written, duplicates and regex
        // rules left out.
        let v = rules().vocabulary();
        assert_eq!(
            v,
            [
                "invoice",
                "bill",
                "refund",
                "charged",
                "account number",
                "cancel",
                "cancellation",
                "password",
                "log in",
                "internet"
            ]
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        // A tag without '=' and a broken regex are config errors, not silent no-ops.
        let e = TagRule::words("billing", "bill").unwrap_err();
        assert!(e.to_string().contains("'billing'"), "{e}");
        assert!(TagRule::regex("a=b", "(unclosed").is_err());
        assert!(TagRule::words("a=b", " , ").is_err());
    }
}
