//! One notice to one customer: which kind, and its text from the configured template.

use crate::model::CallbackRequest;
use chrono_tz::Tz;

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sent once the callback is booked.
    Confirmation,
    /// Sent `reminder-before` its due time.
    Reminder,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Confirmation => "confirmation",
            Kind::Reminder => "reminder",
        }
    }
}

/// A rendered notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub callback_id: i64,
    pub queue: String,
    /// E.164, the callback's number (an SMS goes there).
    pub number: String,
    /// The customer's e-mail address (the callback's data `email`), if given.
    pub email: Option<String>,
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub link: String,
    pub text: String,
}

/// The due time as a customer reads it, in their zone: `Tuesday 24 November 2026, 10:00
/// (America/New_York)`; "as soon as possible" for an immediate callback.
pub fn when_text(r: &CallbackRequest) -> String {
    match (r.kind, r.due_at) {
        (crate::model::CallbackType::Immediate, _) | (_, None) => "as soon as possible".into(),
        (_, Some(due)) => {
            let zone: Tz = r.time_zone.parse().unwrap_or(Tz::UTC);
            format!(
                "{} ({})",
                due.with_timezone(&zone).format("%A %-d %B %Y, %H:%M"),
                zone.name()
            )
        }
    }
}

/// `template` with `{when}`, `{link}`, `{id}` and `{queue}` filled in (the configuration
/// refused any other placeholder).
pub fn render(template: &str, r: &CallbackRequest, link: &str) -> String {
    template
        .replace("{when}", &when_text(r))
        .replace("{link}", link)
        .replace("{id}", &r.id.to_string())
        .replace("{queue}", &r.queue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallbackType, Source};
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_template_is_filled_with_the_time_in_the_customers_zone() {
        // 15:00 UTC on 2026-11-24 is 10:00 in New York; an immediate one says "as soon as possible".
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        let mut r = CallbackRequest {
            kind: CallbackType::Scheduled,
            desired_at: Some(t),
            source: Source::Web,
            ..CallbackRequest::example(t)
        };
        assert_eq!(
            render("#{id} {queue}: {when} {link}", &r, "L"),
            "#7 support: Tuesday 24 November 2026, 10:00 (America/New_York) L"
        );
        r.kind = CallbackType::Immediate;
        assert_eq!(render("{when}", &r, "L"), "as soon as possible");
    }
}
