//! The words of a transcript, normalised so that how whisper chose to write something does
//! not decide whether a tag rule matches (and is not counted as an error by the WER):
//!
//! - lowercase; punctuation dropped (apostrophes too: `I'm` = `im`); hyphens split words;
//! - digits stand alone: `4521`, `4-5-2-1` and `four five two one` all become `4 5 2 1`,
//!   `5pm` becomes `5 pm`; spelled tens count the same as their digits (`ninety` = `90` =
//!   `9 0`, `twenty one` = `21`, `fifteen` = `15`); `oh` is not a digit (it is also a word);
//! - currency signs are said as words: `$90` = `90 dollars` (whisper writes the sign for
//!   "ninety dollars");
//! - `p.m.` = `pm`, `a.m.` = `am`;
//! - British and American spellings and the usual compounds are one word: `canceled` =
//!   `cancelled`, `login` = `log in`, `e-mail` = `email`, `okay` = `ok`, ... (the list is
//!   [`VARIANTS`]).

/// The normalised words of `text`.
pub fn normalize_words(text: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut cur = String::new();
    // A currency sign waits for the number after it, then its word follows the number.
    let mut currency: Option<&'static str> = None;
    let mut in_number = false;
    let flush = |cur: &mut String, raw: &mut Vec<String>| {
        if !cur.is_empty() {
            raw.push(std::mem::take(cur));
        }
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_digit() {
            flush(&mut cur, &mut raw);
            raw.push(c.to_string());
            in_number = true;
            continue;
        }
        // `1,000` and `9.50`: separators inside a number are not word breaks to keep.
        if in_number && (c == ',' || c == '.') {
            continue;
        }
        if in_number {
            if let Some(word) = currency.take() {
                raw.push(word.to_string());
            }
            in_number = false;
        }
        if let Some(word) = currency_word(c) {
            flush(&mut cur, &mut raw);
            currency = Some(word);
        } else if c.is_alphanumeric() {
            cur.push(c);
        } else if c == '\'' || c == '\u{2019}' {
            // Inside a word: `don't` = `dont`.
        } else {
            flush(&mut cur, &mut raw);
        }
    }
    flush(&mut cur, &mut raw);
    if in_number {
        if let Some(word) = currency {
            raw.push(word.to_string());
        }
    }
    canonical(raw)
}

fn currency_word(c: char) -> Option<&'static str> {
    Some(match c {
        '$' => "dollars",
        '£' => "pounds",
        '€' => "euros",
        _ => return None,
    })
}

/// Spelling variants and compounds, each to one canonical form (several words allowed).
pub const VARIANTS: &[(&str, &str)] = &[
    ("canceled", "cancelled"),
    ("canceling", "cancelling"),
    ("cancelation", "cancellation"),
    ("recognize", "recognise"),
    ("recognized", "recognised"),
    ("realize", "realise"),
    ("apologize", "apologise"),
    ("authorize", "authorise"),
    ("authorized", "authorised"),
    ("color", "colour"),
    ("center", "centre"),
    ("traveled", "travelled"),
    ("traveling", "travelling"),
    ("okay", "ok"),
    ("login", "log in"),
    ("logon", "log on"),
    ("signin", "sign in"),
    ("wifi", "wi fi"),
    ("voicemail", "voice mail"),
    ("setup", "set up"),
    ("telly", "tv"),
    ("television", "tv"),
    ("mr", "mister"),
];

fn variant(w: &str) -> Option<&'static str> {
    VARIANTS
        .iter()
        .find(|(from, _)| *from == w)
        .map(|(_, to)| *to)
}

fn unit(w: &str) -> Option<u8> {
    Some(match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn teen(w: &str) -> Option<u8> {
    Some(match w {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens(w: &str) -> Option<u8> {
    Some(match w {
        "twenty" => 2,
        "thirty" => 3,
        "forty" => 4,
        "fifty" => 5,
        "sixty" => 6,
        "seventy" => 7,
        "eighty" => 8,
        "ninety" => 9,
        _ => return None,
    })
}

/// Number words to digits, variants to their canonical words, `p m` to `pm`.
fn canonical(raw: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let digit = |d: u8| char::from(b'0' + d).to_string();
    while i < raw.len() {
        let w = raw[i].as_str();
        let next = raw.get(i + 1).map(String::as_str);
        i += 1;
        if let Some(t) = tens(w) {
            out.push(digit(t));
            // `twenty one` = 21; `twenty` alone = 20.
            match next.and_then(unit).filter(|u| *u > 0) {
                Some(u) => {
                    out.push(digit(u));
                    i += 1;
                }
                None => out.push(digit(0)),
            }
        } else if let Some(n) = teen(w) {
            out.push(digit(n / 10));
            out.push(digit(n % 10));
        } else if let Some(u) = unit(w) {
            out.push(digit(u));
        } else if (w == "p" || w == "a")
            && next == Some("m")
            && out
                .last()
                .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            // `5 p.m.` = `5 pm`; only after a number, where `a m` cannot be words.
            out.push(format!("{w}m"));
            i += 1;
        } else if let Some(to) = variant(w) {
            out.extend(to.split(' ').map(str::to_string));
        } else if w == "e" && next == Some("mail") {
            out.push("email".to_string());
            i += 1;
        } else {
            out.push(w.to_string());
        }
    }
    out
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
    fn spelled_tens_and_teens_are_their_digits() {
        // `ninety` = `90`, `twenty one` = `21`, `fifteen` = `15`, `twenty` alone = `20`.
        assert_eq!(normalize_words("ninety"), normalize_words("90"));
        assert_eq!(
            normalize_words("twenty one days"),
            normalize_words("21 days")
        );
        assert_eq!(normalize_words("fifteen"), normalize_words("15"));
        assert_eq!(normalize_words("twenty"), ["2", "0"]);
        assert_eq!(normalize_words("1,000.50"), ["1", "0", "0", "0", "5", "0"]);
    }

    #[test]
    fn currency_signs_and_times_are_said_as_words() {
        // whisper writes "$90" and "6 p.m." for what callers say as words.
        assert_eq!(
            normalize_words("I owe $90 but"),
            normalize_words("I owe ninety dollars but")
        );
        assert_eq!(normalize_words("£5"), ["5", "pounds"]);
        assert_eq!(
            normalize_words("after 6 p.m. please"),
            normalize_words("after 6 pm please")
        );
        // `a m` stays two words where it is not a time.
        assert_eq!(normalize_words("a m"), ["a", "m"]);
    }

    #[test]
    fn spelling_variants_and_compounds_are_one_form() {
        // American and British spellings, compounds written apart or together.
        assert_eq!(normalize_words("Canceled"), normalize_words("cancelled"));
        assert_eq!(
            normalize_words("a cancelation"),
            normalize_words("a cancellation")
        );
        assert_eq!(
            normalize_words("I can't login"),
            normalize_words("I cant log in")
        );
        assert_eq!(normalize_words("the e-mail"), normalize_words("the email"));
        assert_eq!(normalize_words("Okay"), normalize_words("OK"));
        assert_eq!(
            normalize_words("I do not recognize it"),
            normalize_words("I do not recognise it")
        );
    }
}
