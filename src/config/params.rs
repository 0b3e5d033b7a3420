//! Looking up a section's key/values: unknown and repeated keys refused, each value read
//! as what it must be (number in a range, flag, duration, zone), and every error naming
//! the section, the key and its line. Shared by every section's reader.

use super::raw::Param;
use super::ConfigError;
use crate::schedule::{parse_zone, BusinessHours};
use crate::when::parse_duration;
use chrono::Duration;
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Looks up params by name, refusing unknown and repeated keys.
pub(super) struct Params<'a> {
    at: String,
    map: BTreeMap<&'a str, &'a Param>,
}

impl<'a> Params<'a> {
    pub(super) fn new(at: &str, params: &'a [Param], known: &[&str]) -> Result<Self, ConfigError> {
        let mut map = BTreeMap::new();
        for p in params {
            if !known.contains(&p.name.as_str()) {
                return Err(ConfigError::new(
                    format!("{at}/{} (line {})", p.name, p.line),
                    format!("unknown key (known keys: {})", known.join(", ")),
                ));
            }
            if map.insert(p.name.as_str(), p).is_some() {
                return Err(ConfigError::new(
                    format!("{at}/{} (line {})", p.name, p.line),
                    "the key is given twice",
                ));
            }
        }
        Ok(Self {
            at: at.to_string(),
            map,
        })
    }

    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let line = self
            .map
            .get(key)
            .map(|p| format!(" (line {})", p.line))
            .unwrap_or_default();
        ConfigError::new(format!("{}/{key}{line}", self.at), message)
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a str> {
        self.map.get(key).map(|p| p.value.as_str())
    }

    pub(super) fn text(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    pub(super) fn number<T>(
        &self,
        key: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let n: T = v
            .parse()
            .map_err(|_| self.err(key, format!("'{v}' is not a whole number")))?;
        if !range.contains(&n) {
            return Err(self.err(
                key,
                format!("{n} is out of range ({} to {})", range.start(), range.end()),
            ));
        }
        Ok(n)
    }

    pub(super) fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(v) => Err(self.err(key, format!("'{v}' is not true or false"))),
        }
    }

    pub(super) fn duration(&self, key: &str, default: &str) -> Result<Duration, ConfigError> {
        let v = self.get(key).unwrap_or(default);
        parse_duration(v).map_err(|e| self.err(key, e.to_string()))
    }

    pub(super) fn zone(&self, key: &str, default: Tz) -> Result<Tz, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_zone(v).map_err(|e| self.err(key, e.to_string())),
        }
    }
}

/// A `whisper-language` value: a language code such as `en`, or `auto`.
pub(super) fn language(p: &Params<'_>, value: &str) -> Result<String, ConfigError> {
    let ok = value == "auto"
        || (matches!(value.len(), 2 | 3) && value.bytes().all(|b| b.is_ascii_lowercase()));
    if !ok {
        return Err(p.err(
            "whisper-language",
            format!("'{value}' is not a language code such as en, de, or auto"),
        ));
    }
    Ok(value.to_string())
}

/// A name usable as a queue or node id: it travels in logs, events and channel variables.
pub(super) fn check_token(p: &Params<'_>, key: &str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(p.err(
            key,
            format!("'{value}' must be 1-64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// A `legal-hours` week (queue) or `hours` (country): the business-hours grammar without
/// closed dates, read later in each customer's zone.
pub(super) fn legal_week(p: &Params<'_>, key: &str) -> Result<Option<BusinessHours>, ConfigError> {
    match p.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => BusinessHours::parse(Tz::UTC, v, "")
            .map(Some)
            .map_err(|e| p.err(key, e.to_string())),
    }
}

pub(super) fn list(v: &str) -> Vec<&str> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
