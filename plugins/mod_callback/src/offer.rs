//! `callback_queue_offer <minutes>`: the in-queue offer of a callback, played on a caller's
//! call while it waits in a mod_callcenter queue (or a mod_fifo fifo: see [`exit_key`]). The dispatcher broadcasts it on the call
//! (`uuid_broadcast`, see `FsHost::offer_callback`) once the caller's estimated wait passes
//! the queue's `offer-after-wait`; mod_callcenter's wait runs it as the queue's music plays
//! (src/mod/applications/mod_callcenter/mod_callcenter.c:3210 at v1.10.12, the playback
//! running queued applications, src/switch_ivr_play_say.c:1684).
//!
//! It says the wait and asks for the key ([`callback_core::offer`]). On that key it queues
//! the first of the call's `cc_exit_keys` as a received key (`uuid_recv_dtmf`): back in
//! the music, mod_callcenter dequeues it (switch_ivr_play_say.c:1691-1697) and ends the
//! wait as for a pressed exit key (`moh_on_dtmf`, mod_callcenter.c:2962-2981 and
//! :3210-3219), so the dialplan's `callback_queue_exit` makes the callback with the same
//! hand-over. Without `cc_exit_keys` the offer could not end the wait: it is not played.
//! It sets `callback_offer=played|taken`.

use crate::ivr::{CallControl, FsCaller};
use callback_core::ivr::{Answer, Ask, Caller};
use callback_core::offer::{parse_minutes, prompts, KEY_TIMEOUT_MS, TAKE_KEY};
use callback_core::service::CallbackService;

/// The exit key the offer presses for the caller: the first key of the wait it is in.
/// mod_fifo marks a caller in its line `fifo_status=WAITING` (mod_fifo.c:2772 at v1.10.12)
/// and ends the wait on a key of `fifo_caller_exit_key` (`moh_on_dtmf`, :468-489, then
/// :2825-2828); mod_callcenter on one of `cc_exit_keys`.
pub fn exit_key(call: &dyn CallControl) -> Option<char> {
    let in_fifo = call
        .var("fifo_status")
        .is_some_and(|s| s.eq_ignore_ascii_case("WAITING"));
    let keys = if in_fifo {
        call.var("fifo_caller_exit_key")?
    } else {
        call.var("cc_exit_keys")?
    };
    keys.chars()
        .find(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))
}

/// Runs `callback_queue_offer` on a call.
pub fn run(svc: Option<&CallbackService>, call: &dyn CallControl, data: &str) {
    let Some(svc) = svc else {
        tracing::error!("callback_queue_offer: mod_callback is not running");
        return;
    };
    let minutes = match parse_minutes(data) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("callback_queue_offer: {e}");
            return;
        }
    };
    let Some(key) = exit_key(call) else {
        tracing::warn!(
            "callback_queue_offer: the call has no exit key (cc_exit_keys, or fifo_caller_exit_key in a fifo), so taking the offer could not end its wait: not offered"
        );
        return;
    };
    let Some(profile) = svc.config().ivr_profile(None) else {
        return;
    };
    call.set_var("callback_offer", Some("played"));
    let mut caller = FsCaller::new(call, &profile.language);
    let answer = caller.ask(&prompts(&profile, minutes), &Ask::key(KEY_TIMEOUT_MS));
    if !matches!(&answer, Answer::Digits(d) if d == TAKE_KEY) {
        return;
    }
    call.set_var("callback_offer", Some("taken"));
    let Some(uuid) = call.uuid() else {
        tracing::error!("callback_queue_offer: the call has no uuid: the offer not taken");
        return;
    };
    if let Err(e) = svc.host().press(&uuid, &key.to_string()) {
        tracing::error!("callback_queue_offer: the exit key not queued on the call: {e}");
    }
}
