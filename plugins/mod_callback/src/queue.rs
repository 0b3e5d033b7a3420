//! `callback_queue_exit [queue=<queue>] [vars=<a,b>]`: run in the dialplan after
//! mod_callcenter's `callcenter` application returns, it turns a caller who left the queue
//! with an exit key (`cc_exit_keys`) into an immediate callback that keeps what the queue
//! knew (the core's `handover`). mod_callcenter leaves on the channel, at v1.10.12
//! (src/mod/applications/mod_callcenter/mod_callcenter.c): `cc_queue` and
//! `cc_queue_joined_epoch` when the caller joins (:3082-3083), `cc_exit_key` when a key of
//! `cc_exit_keys` ends the wait (:3216-3219) and then `cc_cause=cancel` and
//! `cc_cancel_reason=EXIT_WITH_KEY` (:3291-3292). The result is in the same variables as
//! `callback_capture`'s (`callback_result`, `callback_id`, `callback_due_epoch`,
//! `callback_error`).

use crate::capture::{set_error, set_stored};
use crate::vars::ChannelVars;
use callback_core::handover::{hand_over, parse_args, HandoverError, QueueKind, QueueLeave};
use callback_core::service::CallbackService;

/// mod_callcenter's name of the cancel reason after an exit key (mod_callcenter.c:177).
const EXIT_WITH_KEY: &str = "EXIT_WITH_KEY";

/// What the call says of the queue it left.
pub fn leave(chan: &dyn ChannelVars, vars: &[String]) -> QueueLeave {
    QueueLeave {
        kind: QueueKind::Centre,
        centre_queue: chan.var("cc_queue"),
        joined_epoch: chan.var("cc_queue_joined_epoch"),
        by_exit_key: chan.var("cc_cancel_reason").as_deref() == Some(EXIT_WITH_KEY),
        caller_number: chan.var("caller_id_number"),
        caller_name: chan.var("caller_id_name"),
        uuid: chan.uuid(),
        vars: listed_vars(chan, vars),
    }
}

/// The channel variables the dialplan listed (`vars=`) that the call has, by name.
pub fn listed_vars(chan: &dyn ChannelVars, vars: &[String]) -> Vec<(String, String)> {
    vars.iter()
        .filter_map(|v| chan.var(v).map(|value| (v.clone(), value)))
        .collect()
}

/// Runs `callback_queue_exit` on a call.
pub fn run(svc: Option<&CallbackService>, chan: &dyn ChannelVars, data: &str) {
    let Some(svc) = svc else {
        return set_error(chan, "mod_callback is not running");
    };
    let outcome = parse_args(data).and_then(|args| hand_over(svc, &leave(chan, &args.vars), &args));
    report(chan, "callback_queue_exit", outcome);
}

/// Sets a hand-over's result variables (as `callback_capture` does) and logs a refusal.
pub(crate) fn report(
    chan: &dyn ChannelVars,
    app: &str,
    outcome: Result<callback_core::ivr::Stored, HandoverError>,
) {
    match outcome {
        Ok(stored) => {
            chan.set_var("callback_result", Some("OK"));
            set_stored(chan, &stored);
            chan.set_var("callback_error", None);
        }
        Err(HandoverError::Service(e)) if e.is_store_unavailable() => {
            tracing::error!("{app}: the request was not stored: {e}");
            set_error(chan, &e.to_string());
        }
        Err(e) => {
            tracing::info!("{app} refused: {e}");
            set_error(chan, &e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::testing::MapVars;

    #[test]
    fn the_queue_variables_mod_callcenter_leaves_are_read() {
        // cc_queue, the join time, the exit-key reason and only the listed variables.
        let v = MapVars::with(&[
            ("cc_queue", "sales@default"),
            ("cc_queue_joined_epoch", "1795442400"),
            ("cc_cancel_reason", "EXIT_WITH_KEY"),
            ("caller_id_number", "+12125550142"),
            ("account_id", "77"),
            ("secret", "x"),
        ]);
        let l = leave(&v, &["account_id".to_string(), "missing".to_string()]);
        assert!(l.by_exit_key);
        assert_eq!(l.centre_queue.as_deref(), Some("sales@default"));
        assert_eq!(l.joined_epoch.as_deref(), Some("1795442400"));
        assert_eq!(l.vars, [("account_id".to_string(), "77".to_string())]);
        let timeout = MapVars::with(&[("cc_cancel_reason", "TIMEOUT")]);
        assert!(!leave(&timeout, &[]).by_exit_key);
    }
}
