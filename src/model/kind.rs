//! The request type and where a request came from. One `as_str()` each, used by the
//! database, events and APIs alike.

/// An unknown name for one of the enums of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::model::ParseEnumError {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// The four kinds of callback contact centres sell.
    CallbackType, "callback type", {
        /// As soon as an agent is free, in the order the requests were made.
        Immediate => "immediate",
        /// After a delay (fixed minutes, or the estimated wait).
        Delayed => "delayed",
        /// At a date and time the customer chose, in their time zone.
        Scheduled => "scheduled",
        /// Offered to an agent as a preview first; the agent decides when to dial.
        AgentPreview => "agent-preview",
    }
);

named_enum!(
    /// Where a request came from.
    Source, "source", {
        Ivr => "ivr",
        Web => "web",
        Mobile => "mobile",
        Agent => "agent",
        Api => "api",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        // Every type and source parses back from its own name; an unknown one names the choices.
        for t in CallbackType::ALL {
            assert_eq!(t.as_str().parse::<CallbackType>().unwrap(), *t);
        }
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), *s);
        }
        let err = "urgent".parse::<CallbackType>().unwrap_err();
        assert!(err.to_string().contains("unknown callback type 'urgent'"));
        assert!(err.to_string().contains("agent-preview"));
    }
}
