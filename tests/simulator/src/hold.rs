//! A caller on hold in a queue application (mod_callcenter's member wait, mod_fifo's caller
//! wait): both play hold music with `moh_on_dtmf` as the input callback, and that playback
//! runs the applications others broadcast on the call (`uuid_broadcast`: a private execute
//! event, src/switch_ivr_async.c:5727-5750) as it goes (src/switch_ivr_play_say.c:1684;
//! src/switch_ivr.c:1273 without music) and dequeues keys queued on the call
//! (switch_ivr_play_say.c:1691-1697; switch_ivr.c:1281), so a queued exit key ends the wait
//! as a pressed one does. Each application cites its own lines where it calls this.

use crate::core::{self, lock, state, SimSession};

/// Waits `wait` virtual seconds on hold: runs what was broadcast on the call and ends early
/// on a queued key among `exit_keys` (returned) or when the call is gone.
/// `sim_queue_pace_ms` (real milliseconds a waited second takes, 0 by default: the wait
/// passes at once) lets the module act during the wait.
pub fn wait_on_hold(s: &SimSession, wait: i64, exit_keys: &str) -> Option<char> {
    let pace: u64 = s
        .var("sim_queue_pace_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut left = wait;
    while left > 0 {
        let step = if pace > 0 { 1 } else { left };
        core::advance(chrono::Duration::seconds(step));
        left -= step;
        if pace > 0 {
            std::thread::sleep(std::time::Duration::from_millis(pace));
        }
        let broadcasts: Vec<(String, String)> = lock(&s.broadcasts).drain(..).collect();
        // Looked up apart: the application runs with no lock of the simulator held.
        let me = state().sessions.get(&s.uuid()).cloned();
        if let Some(me) = me {
            for (app, arg) in broadcasts {
                crate::exports::execute_app(&me, &app, &arg);
            }
        }
        let queued = std::mem::take(&mut *lock(&s.received_dtmf));
        if let Some(k) = queued.chars().find(|k| exit_keys.contains(*k)) {
            return Some(k);
        }
        if !s.ready() {
            break;
        }
    }
    None
}
