//! The kinds of a callback's number: the type the caller, client or agent gave it (seed
//! 000's "phone number type"), and the line type the numbering plan knows of the number
//! itself.

use super::kind::named_enum;

named_enum!(
    /// The number's type as someone who knows the customer said it.
    NumberType, "number type", {
        Mobile => "mobile",
        Home => "home",
        Work => "work",
        Other => "other",
    }
);

named_enum!(
    /// The line type the numbering plan gives a number (libphonenumber's metadata), where
    /// it knows one: some plans (the US, Canada) do not tell mobile from fixed lines.
    LineType, "line type", {
        Mobile => "mobile",
        Fixed => "fixed",
        FixedOrMobile => "fixed-or-mobile",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_types_round_trip_and_unknown_ones_name_the_choices() {
        // Each type parses back from its name (any case); an unknown one lists the four.
        for t in NumberType::ALL {
            assert_eq!(t.as_str().to_uppercase().parse::<NumberType>().unwrap(), *t);
        }
        let e = "pager".parse::<NumberType>().unwrap_err().to_string();
        assert!(
            e.contains("unknown number type 'pager'") && e.contains("mobile home work other"),
            "{e}"
        );
    }
}
