//! `callback_capture <args>`: a building block for custom IVRs. The arguments are the
//! core's (`callback_core::capture`: `key=value` pairs, values with spaces in single or
//! double quotes), and so are the rules; this file reads the call and writes the result:
//!
//! ```text
//! callback_capture type=delayed number=${caller_id_number} delay=15m queue=support
//! callback_capture when='tomorrow 09:30' tz=Europe/Berlin remark='about my invoice'
//! ```
//! `number` defaults to the `caller_id_number` variable; a `recording` is a WAV file the
//! dialplan recorded inside the configured `recordings-dir`; `ivr-vars=account_id,reason`
//! names channel variables of this call, read here, stored as the request's IVR data. The result is in channel
//! variables: `callback_result=OK|ERR`, `callback_id`, `callback_due_epoch`,
//! `callback_outcome` (`created`, or `merged` when the request joined a callback someone
//! else made: then no id or time of it is given), `callback_error`.

use crate::vars::ChannelVars;
use callback_core::capture::{capture, Call, CaptureArgs};
use callback_core::ivr::Stored;
use callback_core::service::CallbackService;

/// Parses the application's argument string (the core's grammar).
pub fn parse_args(data: &str) -> Result<CaptureArgs, String> {
    callback_core::capture::parse_args(data)
}

/// Sets `callback_id`, `callback_due_epoch` and `callback_outcome` for what a request
/// became, as far as the caller may know it: a request that joined a callback someone
/// else made gets no id or time of it (`callback_outcome=merged`), as over HTTP.
pub fn set_stored(chan: &dyn ChannelVars, stored: &Stored) {
    match stored {
        Stored::Own(r) => {
            chan.set_var("callback_id", Some(&r.id.to_string()));
            let due = r.due_at.map(|d| d.timestamp().to_string());
            chan.set_var("callback_due_epoch", due.as_deref());
            chan.set_var("callback_outcome", Some("created"));
        }
        Stored::Joined => {
            chan.set_var("callback_id", None);
            chan.set_var("callback_due_epoch", None);
            chan.set_var("callback_outcome", Some("merged"));
        }
    }
}

/// Sets the error result variables; a message the checked setter refuses (it would
/// expand) is replaced by a generic one.
pub fn set_error(chan: &dyn ChannelVars, message: &str) {
    chan.set_var("callback_result", Some("ERR"));
    chan.set_var("callback_id", None);
    chan.set_var("callback_due_epoch", None);
    chan.set_var("callback_outcome", None);
    if !chan.set_var("callback_error", Some(message)) {
        chan.set_var("callback_error", Some("invalid request"));
    }
}

/// Runs `callback_capture` on a call.
pub fn run(svc: Option<&CallbackService>, chan: &dyn ChannelVars, data: &str) {
    #[cfg(debug_assertions)]
    if data.trim() == "_panic" {
        panic!("callback_capture _panic: a test of the panic guard");
    }
    let Some(svc) = svc else {
        return set_error(chan, "mod_callback is not running");
    };
    let outcome = callback_core::capture::parse_args(data)
        .map_err(callback_core::capture::CaptureError::Args)
        .and_then(|args| {
            // Only the variables the arguments name, by names the grammar already checked.
            let ivr_vars = args
                .ivr_vars
                .iter()
                .filter_map(|name| chan.var(name).map(|v| (name.clone(), v)))
                .collect();
            let call = Call {
                caller_number: chan.var("caller_id_number"),
                uuid: chan.uuid(),
                ivr_vars,
            };
            capture(svc, &call, args)
        });
    match outcome {
        Ok(stored) => {
            chan.set_var("callback_result", Some("OK"));
            set_stored(chan, &stored);
            chan.set_var("callback_error", None);
        }
        Err(e) if e.is_store_unavailable() => {
            tracing::error!("callback_capture: the request was not stored: {e}");
            set_error(chan, &e.to_string());
        }
        Err(e) => {
            tracing::info!("callback_capture refused: {e}");
            set_error(chan, &e.public_text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::testing::MapVars;

    #[test]
    fn without_a_service_the_result_is_an_honest_error() {
        // When the module is not running the call gets callback_result=ERR and a reason.
        let v = MapVars::with(&[("callback_id", "old")]);
        run(None, &v, "delay=15m");
        assert_eq!(v.get("callback_result").as_deref(), Some("ERR"));
        assert_eq!(
            v.get("callback_error").as_deref(),
            Some("mod_callback is not running")
        );
        assert_eq!(v.get("callback_id"), None);
        set_error(&v, "bad '${system(id)}'");
        assert_eq!(v.get("callback_error").as_deref(), Some("invalid request"));
    }
}
