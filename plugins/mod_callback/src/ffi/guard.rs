//! The panic guard around every `extern "C"` entry: a panic that unwound into C would abort
//! the whole PBX, with every call on it. It becomes one CRIT log line (entry, location,
//! message) and the entry's failure value instead.

use super::switch;
use super::types::SWITCH_LOG_CRIT;
use crate::logging::Origin;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static LAST_PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the default hook (which prints to a daemon's stderr, i.e. nowhere) with one that
/// remembers where the panic happened, for the guard's log line. The hook belongs to this
/// library's copy of std, so it does not touch the host's other Rust code.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_else(|| "unknown location".into());
            let _ = LAST_PANIC_AT.try_with(|c| c.try_borrow_mut().map(|mut c| *c = Some(at)));
        }));
    });
}

/// A panic was caught (and logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

/// Runs `f`; a panic is logged at CRIT and returned as `Err(Panicked)`.
pub fn guard<T>(entry: &str, uuid: Option<&str>, f: impl FnOnce() -> T) -> Result<T, Panicked> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            let at = LAST_PANIC_AT
                .try_with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.take()))
                .ok()
                .flatten()
                .unwrap_or_else(|| "unknown location".into());
            // Logging itself must not unwind out of the guard.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                switch::log(
                    SWITCH_LOG_CRIT,
                    uuid,
                    Origin::here(),
                    &format!("mod_callback: panic in {entry} at {at}: {message}"),
                )
            }));
            Err(Panicked)
        }
    }
}
