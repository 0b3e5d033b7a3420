//! Phone numbers: anything a caller, client or agent typed becomes E.164 digits here, or is
//! refused with a reason. Only the output of [`NumberPolicy::normalize`] may ever reach a
//! dial string.

use crate::model::LineType;
use phonenumber::country;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// The line types of numbers normalised lately, for [`line_type`]: a create's reply
/// names its number's line type just after [`NumberPolicy::normalize`] ran the numbering
/// plan's patterns on it, and those patterns were an eighth of a create's time in the
/// HTTP bench's profile. Bounded: emptied when full.
static LINE_TYPES: LazyLock<Mutex<HashMap<String, Option<LineType>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// How many numbers [`LINE_TYPES`] holds at most.
const LINE_TYPES_KEPT: usize = 4096;

fn remember_line_type(e164: &str, line: Option<LineType>) {
    let mut kept = LINE_TYPES.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= LINE_TYPES_KEPT {
        kept.clear();
    }
    kept.insert(e164.to_string(), line);
}

fn line_of(kind: phonenumber::Type) -> Option<LineType> {
    use phonenumber::Type;
    match kind {
        Type::Mobile => Some(LineType::Mobile),
        Type::FixedLine => Some(LineType::Fixed),
        Type::FixedLineOrMobile => Some(LineType::FixedOrMobile),
        _ => None,
    }
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("the number is empty")]
    Empty,
    #[error("the number is too long ({0} characters; at most 32)")]
    TooLong(usize),
    #[error("the number contains {0:?}, which is not allowed in a phone number")]
    BadCharacter(char),
    #[error("'{number}' is in national format but no default region is configured (set default-region, or give the number with +country code)")]
    NoRegion { number: String },
    #[error("'{number}' is not a phone number: {reason}")]
    Unparsable { number: String, reason: String },
    #[error("'{number}' is not a valid number for its country")]
    Invalid { number: String },
    #[error("{number} starts with the denied prefix {prefix}")]
    Denied { number: String, prefix: String },
}

/// A region name in configuration that is not an ISO 3166 country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region '{0}' (expected a two-letter ISO 3166 country code such as US or DE)")]
pub struct RegionError(pub String);

/// How numbers are read: the region assumed for national numbers, and prefixes never dialled.
#[derive(Debug, Clone, Default)]
pub struct NumberPolicy {
    default_region: Option<country::Id>,
    /// E.164 prefixes with the `+` (premium rate, international ranges an admin forbids).
    deny_prefixes: Vec<String>,
}

impl NumberPolicy {
    /// `region` is an ISO 3166 alpha-2 code; `deny_prefixes` are E.164 prefixes such as
    /// `+1900` (a missing `+` is added, spaces and dashes are ignored).
    pub fn new(region: Option<&str>, deny_prefixes: &[&str]) -> Result<Self, RegionError> {
        let default_region = match region.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Some(
                country::Id::from_str(&r.to_ascii_uppercase())
                    .map_err(|_| RegionError(r.to_string()))?,
            ),
            None => None,
        };
        let deny_prefixes = deny_prefixes
            .iter()
            .map(|p| {
                let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                format!("+{digits}")
            })
            .filter(|p| p.len() > 1)
            .collect();
        Ok(Self {
            default_region,
            deny_prefixes,
        })
    }

    /// The configured deny-list, normalised to `+digits`.
    pub fn deny_prefixes(&self) -> &[String] {
        &self.deny_prefixes
    }

    /// Turns what someone typed into an E.164 string (`+` and digits only), or says why not.
    pub fn normalize(&self, input: &str) -> Result<String, NumberError> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(NumberError::Empty);
        }
        if raw.chars().count() > 32 {
            return Err(NumberError::TooLong(raw.chars().count()));
        }
        // Refuse anything but the characters people write numbers with, before any parser
        // sees it: this is the gate between free text and dial strings.
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')))
        {
            return Err(NumberError::BadCharacter(bad));
        }
        let international = raw.starts_with('+') || raw.starts_with("00");
        if !international && self.default_region.is_none() {
            return Err(NumberError::NoRegion {
                number: raw.to_string(),
            });
        }
        let parsed =
            phonenumber::parse(self.default_region, raw).map_err(|e| NumberError::Unparsable {
                number: raw.to_string(),
                reason: e.to_string(),
            })?;
        // The number's type is what validity is decided by (`is_valid` is "the type is
        // known"), so one pass over the plan's patterns gives both. Not for a national
        // number with leading zeros (Italy's): `number_type` matches it without them and
        // `is_valid` with them, so that one is asked `is_valid` as before.
        let kind = (parsed.national().zeros() == 0).then(|| number_type(&parsed));
        let valid = match kind {
            Some(k) => k != phonenumber::Type::Unknown,
            None => phonenumber::is_valid(&parsed),
        };
        if !valid {
            return Err(NumberError::Invalid {
                number: raw.to_string(),
            });
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        // Belt and braces: whatever the library returns must be `+` and 2..=15 digits.
        let digits = e164.strip_prefix('+').unwrap_or("");
        if !(2..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Invalid {
                number: raw.to_string(),
            });
        }
        if let Some(prefix) = self
            .deny_prefixes
            .iter()
            .find(|p| e164.starts_with(p.as_str()))
        {
            return Err(NumberError::Denied {
                number: e164.clone(),
                prefix: prefix.clone(),
            });
        }
        if let Some(k) = kind {
            remember_line_type(&e164, line_of(k));
        }
        Ok(e164)
    }
}

/// The number's type in the numbering plan, as `PhoneNumber::number_type` gives it, in
/// one pass over the plan's patterns instead of two. The library finds the region of a
/// country code several regions share (+1, +7, +44) by checking the number's type in each
/// until one knows it (`validator::source_for`), then checks the type again in the region
/// found; here the type found while looking is kept. Each check locks the library's regex
/// cache and hashes the pattern's text: a US number's two passes were two thirds of its
/// normalisation in the HTTP bench's profile. `number_types_match_the_librarys` holds it
/// to the library's answer.
fn number_type(parsed: &phonenumber::PhoneNumber) -> phonenumber::Type {
    use phonenumber::Type;
    let db = &*phonenumber::metadata::DATABASE;
    let code = parsed.code().value();
    let national = parsed.national().value().to_string();
    let Some(regions) = db.region(&code) else {
        return Type::Unknown;
    };
    if let [only] = regions[..] {
        // One region (or the non-geographic "001" entries, by code): no search.
        let meta = if only == "001" {
            db.by_code(&code).and_then(|m| m.into_iter().next())
        } else {
            db.by_id(only)
        };
        return meta.map_or(Type::Unknown, |m| type_in(m, &national));
    }
    for region in regions {
        let Some(meta) = db.by_id(region) else {
            continue;
        };
        match meta.leading_digits() {
            Some(leading) => {
                if leading.find(&national).is_some_and(|m| m.start() == 0) {
                    return type_in(meta, &national);
                }
            }
            None => {
                let kind = type_in(meta, &national);
                if kind != Type::Unknown {
                    return kind;
                }
            }
        }
    }
    Type::Unknown
}

/// The type of national number `value` in region `meta`'s plan: the library's order of
/// checks (its private `validator::number_type`) over the region's patterns as compiled
/// here ([`RegionTypes`]).
fn type_in(meta: &'static phonenumber::Metadata, value: &str) -> phonenumber::Type {
    use phonenumber::Type;
    let Some(types) = RegionTypes::of(meta) else {
        return Type::Unknown;
    };
    if !types.general.is_match(value) {
        return Type::Unknown;
    }
    if let Some((_, kind)) = types.special.iter().find(|(p, _)| p.is_match(value)) {
        return *kind;
    }
    let hit = |p: &Option<Pattern>| p.as_ref().is_some_and(|p| p.is_match(value));
    if hit(&types.fixed_line) {
        return if types.same_fixed_and_mobile || hit(&types.mobile) {
            Type::FixedLineOrMobile
        } else {
            Type::FixedLine
        };
    }
    if hit(&types.mobile) {
        return Type::Mobile;
    }
    Type::Unknown
}

/// One of a region's type patterns, compiled as the library compiles it (whitespace in the
/// pattern ignored) and matched as it matches it: a possible length, then a match that
/// starts at the first digit (`Descriptor::is_match`).
struct Pattern {
    lengths: Vec<u16>,
    national: regex::Regex,
}

impl Pattern {
    /// `None` when the descriptor's pattern does not compile (never, for the library's own
    /// plan: it checked them when it loaded).
    fn of(d: &phonenumber::metadata::Descriptor) -> Option<Self> {
        let national = regex::RegexBuilder::new(d.national_number().as_str())
            .ignore_whitespace(true)
            .build()
            .ok()?;
        Some(Self {
            lengths: d.possible_length().to_vec(),
            national,
        })
    }

    fn is_match(&self, value: &str) -> bool {
        let length_ok = self.lengths.is_empty()
            || u16::try_from(value.len()).is_ok_and(|n| self.lengths.contains(&n));
        length_ok && self.national.find(value).is_some_and(|m| m.start() == 0)
    }
}

/// A region's type patterns, compiled once for this module. The library keeps its compiled
/// patterns in one cache behind one lock, found by hashing each pattern's text (hundreds of
/// characters for the US) on every check: with a dozen checks a number, that was most of
/// a create's number check in the HTTP bench's profile, and the lock is taken by every
/// request thread.
struct RegionTypes {
    general: Pattern,
    /// Checked in this order; the first that matches is the type.
    special: Vec<(Pattern, phonenumber::Type)>,
    fixed_line: Option<Pattern>,
    mobile: Option<Pattern>,
    /// The plan gives fixed and mobile lines one pattern (the US): either, not knowing.
    same_fixed_and_mobile: bool,
}

/// Compiled patterns by calling code and region id (`None`: a region whose patterns did
/// not compile). The id alone does not do: the nine non-geographic codes (+800, +870,
/// +882, ...) all have the id "001", each with its own plan.
type Compiled = HashMap<(u16, &'static str), Option<Arc<RegionTypes>>>;

/// The regions' compiled patterns, compiled on a region's first number.
static REGION_TYPES: LazyLock<std::sync::RwLock<Compiled>> = LazyLock::new(Default::default);

impl RegionTypes {
    fn of(meta: &'static phonenumber::Metadata) -> Option<Arc<Self>> {
        let id = (meta.country_code(), meta.id());
        if let Some(known) = REGION_TYPES
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            return known.clone();
        }
        let compiled = Self::compile(meta).map(Arc::new);
        REGION_TYPES
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, compiled.clone());
        compiled
    }

    fn compile(meta: &phonenumber::Metadata) -> Option<Self> {
        use phonenumber::Type;
        let d = meta.descriptors();
        // A descriptor the plan has must compile; one it lacks matches nothing.
        let optional = |desc: Option<&phonenumber::metadata::Descriptor>| match desc {
            None => Some(None),
            Some(x) => Pattern::of(x).map(Some),
        };
        let mut special = Vec::new();
        for (desc, kind) in [
            (d.premium_rate(), Type::PremiumRate),
            (d.toll_free(), Type::TollFree),
            (d.shared_cost(), Type::SharedCost),
            (d.voip(), Type::Voip),
            (d.personal_number(), Type::PersonalNumber),
            (d.pager(), Type::Pager),
            (d.uan(), Type::Uan),
            (d.voicemail(), Type::Voicemail),
        ] {
            if let Some(p) = optional(desc)? {
                special.push((p, kind));
            }
        }
        Some(Self {
            general: Pattern::of(d.general())?,
            special,
            fixed_line: optional(d.fixed_line())?,
            mobile: optional(d.mobile())?,
            same_fixed_and_mobile: d.fixed_line().map(|x| x.national_number().as_str())
                == d.mobile().map(|x| x.national_number().as_str()),
        })
    }
}

/// Log text with phone numbers masked to their last four digits (`+12125550142` →
/// `…0142`): any run of seven or more digits, with its `+`. Logs are read by more people
/// than the callback data is; the store keeps the whole number.
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let plus = chars[i] == '+';
        let start = if plus { i + 1 } else { i };
        let mut end = start;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        let run = end - start;
        let glued = start > 0 && !plus && chars[start - 1].is_ascii_alphanumeric();
        if run >= 7 && !glued {
            out.push('…');
            out.extend(&chars[end - 4..end]);
            i = end;
        } else if run > 0 {
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Decodes the phone-number library's numbering plan now, if not yet done (it is decoded
/// on first use).
pub fn load_plan() {
    let _ = &*phonenumber::metadata::DATABASE;
}

/// The ISO 3166 region of an E.164 number (`DE` for +49...), when it has one.
pub fn region_of(e164: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, e164).ok()?;
    parsed.country().id().map(|id| id.as_ref().to_string())
}

/// The line type the numbering plan gives E.164 `number` (mobile, fixed, or either where
/// the plan does not tell them apart, as in the US), when the phone-number library knows.
pub fn line_type(number: &str) -> Option<LineType> {
    let kept = LINE_TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(number)
        .copied();
    if let Some(line) = kept {
        return line;
    }
    let parsed = phonenumber::parse(None, number).ok()?;
    line_of(parsed.number_type(&phonenumber::metadata::DATABASE))
}

/// True when `s` is already an E.164 string as [`NumberPolicy::normalize`] produces them.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

#[cfg(test)]
mod mask_tests {
    use super::mask_numbers;

    #[test]
    fn numbers_keep_only_their_last_four_digits() {
        // E.164 and national digit runs are masked; short numbers, ids, dates stay.
        assert_eq!(
            mask_numbers("invalid number: '+12125550142' is not valid"),
            "invalid number: '…0142' is not valid"
        );
        assert_eq!(mask_numbers("call 2125550199 now"), "call …0199 now");
        assert_eq!(
            mask_numbers("callback 42 due 2026-11-23T14:00:00 agent 1001"),
            "callback 42 due 2026-11-23T14:00:00 agent 1001"
        );
        assert_eq!(mask_numbers("x+4930123456y"), "x…3456y");
        assert_eq!(mask_numbers(""), "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_types_match_the_librarys() {
        // Every example number of every region's plan, and each with its last digit
        // changed or dropped (other types, unknown ones): the one-pass type is the
        // library's own `number_type`. The plans by calling code, so each of the
        // non-geographic codes that share the region id "001" is checked with its own,
        // in one process (the compiled patterns are kept by code and id).
        let db = &*phonenumber::metadata::DATABASE;
        let mut checked = 0;
        let plans = (1..=999u16).flat_map(|code| db.by_code(&code).unwrap_or_default());
        let mut non_geographic = std::collections::BTreeSet::new();
        for meta in plans {
            if meta.id() == "001" {
                non_geographic.insert(meta.country_code());
            }
            let d = meta.descriptors();
            let examples = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for example in examples.iter().flatten().filter_map(|x| x.example()) {
                let mut variants = vec![example.to_string()];
                variants.extend((0..10).map(|n| format!("{}{n}", &example[..example.len() - 1])));
                variants.push(example[..example.len() - 1].to_string());
                for national in variants {
                    let text = format!("+{}{national}", meta.country_code());
                    let Ok(parsed) = phonenumber::parse(None, &text) else {
                        continue;
                    };
                    if parsed.national().zeros() != 0 {
                        continue;
                    }
                    assert_eq!(
                        number_type(&parsed),
                        parsed.number_type(db),
                        "{text} ({})",
                        meta.id()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "only {checked} numbers checked");
        assert!(
            non_geographic.len() >= 9,
            "non-geographic plans checked: {non_geographic:?}"
        );
    }

    fn policy() -> NumberPolicy {
        NumberPolicy::new(Some("de"), &["+49900", "1 900"]).unwrap()
    }

    #[test]
    fn national_and_international_forms_become_e164() {
        // The same German number typed three ways gives one E.164 string.
        let p = policy();
        assert_eq!(p.normalize("030 1234567").unwrap(), "+49301234567");
        assert_eq!(p.normalize("+49 30 1234567").unwrap(), "+49301234567");
        assert_eq!(p.normalize("0049 (30) 123-4567").unwrap(), "+49301234567");
        assert_eq!(p.normalize("+1 212 555 0142").unwrap(), "+12125550142");
        assert!(is_e164("+49301234567"));
    }

    #[test]
    fn bad_numbers_are_refused_with_reasons() {
        // Empty, injected, malformed, invalid and denied numbers each get their own error.
        let p = policy();
        assert_eq!(p.normalize("  "), Err(NumberError::Empty));
        assert_eq!(
            p.normalize("+4930,123"),
            Err(NumberError::BadCharacter(','))
        );
        assert_eq!(
            p.normalize("${system(id)}"),
            Err(NumberError::BadCharacter('$'))
        );
        assert_eq!(p.normalize("1234\n5"), Err(NumberError::BadCharacter('\n')));
        assert!(matches!(
            p.normalize("+999 1"),
            Err(NumberError::Unparsable { .. } | NumberError::Invalid { .. })
        ));
        assert!(matches!(
            p.normalize("+49 1"),
            Err(NumberError::Invalid { .. } | NumberError::Unparsable { .. })
        ));
        let denied = p.normalize("+49 900 1234567").unwrap_err();
        assert_eq!(
            denied,
            NumberError::Denied {
                number: "+499001234567".into(),
                prefix: "+49900".into()
            }
        );
        assert!(denied.to_string().contains("+49900"));
        let no_region = NumberPolicy::new(None, &[]).unwrap();
        assert!(matches!(
            no_region.normalize("030 1234567"),
            Err(NumberError::NoRegion { .. })
        ));
        assert!(NumberPolicy::new(Some("XX"), &[]).is_err());
        assert!(!is_e164("+49 30"));
    }
}

#[cfg(test)]
mod line_tests {
    use super::line_type;
    use crate::model::LineType;

    #[test]
    fn the_numbering_plan_says_mobile_fixed_or_either() {
        // A UK mobile and a UK fixed line are told apart; a US number is either; a
        // number the plan cannot place has no line type.
        assert_eq!(line_type("+447400123456"), Some(LineType::Mobile));
        assert_eq!(line_type("+442079460000"), Some(LineType::Fixed));
        assert_eq!(line_type("+12125550142"), Some(LineType::FixedOrMobile));
        assert_eq!(line_type("not a number"), None);
    }

    #[test]
    fn a_normalised_number_keeps_its_line_type_and_validity() {
        // Normalising finds the line type on the way (so the reply does not run the plan
        // again), with the same verdicts as before: valid numbers of each kind, an
        // Italian fixed line with its leading zero, and invalid numbers refused.
        use super::{NumberError, NumberPolicy, LINE_TYPES};
        let gb = NumberPolicy::new(Some("GB"), &[]).unwrap();
        assert_eq!(gb.normalize("07400 123456").unwrap(), "+447400123456");
        assert_eq!(gb.normalize("020 7946 0000").unwrap(), "+442079460000");
        let kept = LINE_TYPES.lock().unwrap().clone();
        assert_eq!(kept.get("+447400123456"), Some(&Some(LineType::Mobile)));
        assert_eq!(kept.get("+442079460000"), Some(&Some(LineType::Fixed)));
        assert_eq!(line_type("+447400123456"), Some(LineType::Mobile));
        let it = NumberPolicy::new(Some("IT"), &[]).unwrap();
        assert_eq!(it.normalize("06 6982 1234").unwrap(), "+390669821234");
        assert!(matches!(
            gb.normalize("+44 20 1234"),
            Err(NumberError::Invalid { .. })
        ));
        assert!(matches!(
            gb.normalize("+1 212 155 0142"),
            Err(NumberError::Invalid { .. })
        ));
    }
}
