//! The `extern "C"` entry points. Each is a thin trampoline: copy the C arguments into owned
//! Rust values, run the safe body under [`guard`], turn the result (or a panic) into the
//! C return value.

use super::guard::{guard, install_hook};
use super::switch::{self, owned, stream_write, Session};
use super::sys;
use super::types::*;
use crate::fshost::{Switch, EVENT_SUBCLASS};
use crate::logging::Origin;
use crate::vars::ChannelVars;
use crate::{agent, answer, capture, command, fifo, ivr, logging, module, offer, queue};
use std::ffi::{c_char, CStr};
use std::sync::Arc;

/// The symbol FreeSWITCH looks up: `mod_callback` + `_module_interface`.
#[cfg(not(test))]
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mod_callback_module_interface: ModuleFunctionTable = TABLE;

/// The module table (also exported under the FreeSWITCH name above).
pub const TABLE: ModuleFunctionTable = ModuleFunctionTable {
    switch_api_version: SWITCH_API_VERSION,
    load: Some(load),
    shutdown: Some(shutdown),
    runtime: Some(runtime),
    flags: 0,
};

const MODULE_NAME: &CStr = c"mod_callback";
const SUBCLASS: &CStr = c"callback::info";

/// The switch as `FsHost` sees it: API commands and `callback::info` events.
#[derive(Clone, Copy)]
pub struct FfiSwitch;

impl Switch for FfiSwitch {
    fn api(&self, cmd: &str, arg: &str) -> Option<String> {
        switch::api_execute(cmd, arg).map(|(_, out)| out)
    }
    fn fire(&self, headers: &[(&str, String)]) -> bool {
        debug_assert_eq!(SUBCLASS.to_str().ok(), Some(EVENT_SUBCLASS));
        switch::fire_custom(SUBCLASS, headers)
    }
    fn config_xml(&self, name: &str) -> Result<String, String> {
        switch::config_xml(name)
    }
}

struct App {
    name: &'static CStr,
    function: AppFn,
    short: &'static CStr,
    syntax: &'static CStr,
}

const APPS: &[App] = &[
    App {
        name: c"callback_capture",
        function: app_capture,
        short: c"Store a callback request from the dialplan",
        syntax: c"type=<type> number=<e164> queue=<queue> delay=<15m>|when=<time> tz=<zone> remark='<text>'",
    },
    App {
        name: c"callback_ivr",
        function: app_ivr,
        short: c"The turnkey callback IVR: type, number, time, recording, read-back",
        syntax: c"[profile]",
    },
    App {
        name: c"callback_queue_exit",
        function: app_queue_exit,
        short: c"After callcenter: a caller who left the queue with its exit key gets a callback",
        syntax: c"[queue=<queue>] [vars=<var,var>]",
    },
    App {
        name: c"callback_fifo_exit",
        function: app_fifo_exit,
        short: c"After fifo <name> in: a caller who left the fifo with its exit key gets a callback",
        syntax: c"<fifo> [queue=<queue>] [vars=<var,var>]",
    },
    App {
        name: c"callback_queue_offer",
        function: app_queue_offer,
        short: c"In a callcenter queue's wait: the offer of a callback, its key ends the wait",
        syntax: c"<estimated wait in minutes>",
    },
    App {
        name: c"callback_agent",
        function: app_agent,
        short: c"The agent leg of a callback: preview, then the customer",
        syntax: c"<callback id>",
    },
    App {
        name: c"callback_answer",
        function: app_answer,
        short: c"The customer leg on answer: machine detection, greeting and key (group confirm exec)",
        syntax: c"<callback id>",
    },
];

/// One line of the module's own (outside `tracing`), naming the caller's file and line.
#[track_caller]
fn log_line(level: i32, text: &str) {
    switch::log(level, None, Origin::here(), text);
}

unsafe extern "C" fn load(
    module_interface: *mut *mut LoadableModuleInterface,
    pool: *mut MemoryPool,
) -> SwitchStatus {
    guard("load", None, || {
        install_hook();
        if module_interface.is_null() {
            log_line(SWITCH_LOG_CRIT, "mod_callback: load called without a module interface");
            return SWITCH_STATUS_GENERR;
        }
        logging::install(Box::new(switch::log));
        let clock = Arc::new(callback_core::clock::FnClock(switch::micro_time_now));
        if let Err(line) = module::start(FfiSwitch, clock) {
            log_line(SWITCH_LOG_ERROR, &line);
            return SWITCH_STATUS_GENERR;
        }
        // SAFETY: `pool` is the core's pool for this module; the name is a static literal.
        let mi = unsafe {
            sys::switch_loadable_module_create_module_interface(pool, MODULE_NAME.as_ptr())
        };
        if mi.is_null() {
            module::stop();
            log_line(SWITCH_LOG_ERROR, "mod_callback not loaded: no module interface");
            return SWITCH_STATUS_GENERR;
        }
        // SAFETY: checked non-null above; the core reads it after we return.
        unsafe { *module_interface = mi };
        for app in APPS {
            // SAFETY: `mi` is the live module interface; the core allocates and returns an
            // application interface (or null).
            let ai = unsafe { sys::switch_loadable_module_create_interface(mi, SWITCH_APPLICATION_INTERFACE) }
                .cast::<ApplicationInterface>();
            if ai.is_null() {
                module::stop();
                log_line(SWITCH_LOG_ERROR, "mod_callback not loaded: cannot create an application");
                return SWITCH_STATUS_GENERR;
            }
            // SAFETY: `ai` points to a core-allocated application interface whose leading
            // fields are `ApplicationInterface`; the strings are 'static literals.
            unsafe {
                (*ai).interface_name = app.name.as_ptr();
                (*ai).application_function = Some(app.function);
                (*ai).long_desc = app.short.as_ptr();
                (*ai).short_desc = app.short.as_ptr();
                (*ai).syntax = app.syntax.as_ptr();
                (*ai).flags = SAF_NONE;
            }
        }
        // SAFETY: as above, for the API interface.
        let api = unsafe { sys::switch_loadable_module_create_interface(mi, SWITCH_API_INTERFACE) }
            .cast::<ApiInterface>();
        if api.is_null() {
            module::stop();
            log_line(SWITCH_LOG_ERROR, "mod_callback not loaded: cannot create the API");
            return SWITCH_STATUS_GENERR;
        }
        // SAFETY: core-allocated API interface; 'static literals.
        unsafe {
            (*api).interface_name = c"callback".as_ptr();
            (*api).desc = c"Customer callbacks: list, show, cancel, reschedule, now, stats".as_ptr();
            (*api).function = Some(api_callback);
            (*api).syntax = c"[json] help|list [<queue>] [<state>]|show <id>|cancel <id>|reschedule <id> <when>|now <id>|stats".as_ptr();
        }
        // SAFETY: static literals; the core copies them.
        let reserved = unsafe {
            sys::switch_event_reserve_subclass_detailed(MODULE_NAME.as_ptr(), SUBCLASS.as_ptr())
        };
        if reserved != SWITCH_STATUS_SUCCESS {
            log_line(SWITCH_LOG_WARNING, "mod_callback: could not reserve the event subclass callback::info");
        }
        SWITCH_STATUS_SUCCESS
    })
    .unwrap_or_else(|_| {
        let _ = guard("load cleanup", None, module::stop);
        SWITCH_STATUS_GENERR
    })
}

unsafe extern "C" fn shutdown() -> SwitchStatus {
    guard("shutdown", None, || {
        module::stop();
        // SAFETY: static literals; frees our reservation of the subclass.
        unsafe {
            sys::switch_event_free_subclass_detailed(MODULE_NAME.as_ptr(), SUBCLASS.as_ptr())
        };
        SWITCH_STATUS_SUCCESS
    })
    .unwrap_or(SWITCH_STATUS_GENERR)
}

unsafe extern "C" fn runtime() -> SwitchStatus {
    guard("runtime", None, || {
        if module::runtime_turn() {
            SWITCH_STATUS_SUCCESS
        } else {
            SWITCH_STATUS_TERM
        }
    })
    // A runtime that panicked once would panic in a loop: stop it instead.
    .unwrap_or(SWITCH_STATUS_TERM)
}

/// The common shape of an application trampoline.
///
/// # Safety
/// `session` is the live session the core passes to an application; `data` is null or a
/// NUL-terminated string alive for the call.
unsafe fn run_app(
    name: &str,
    session: *mut CoreSession,
    data: *const c_char,
    body: fn(&Session, &str),
) {
    // SAFETY: per this function's contract.
    let data = unsafe { owned(data) }.unwrap_or_default();
    // SAFETY: per this function's contract; the `Session` does not outlive this call.
    let Some(s) = (unsafe { Session::from_raw(session) }) else {
        log_line(
            SWITCH_LOG_ERROR,
            &format!("mod_callback: {name} called without a session"),
        );
        return;
    };
    let uuid = s.uuid();
    // Everything logged while the application runs (the engine's lines too) names the call.
    let span = tracing::info_span!("app", uuid = uuid.as_deref().unwrap_or_default());
    let _in_call = span.enter();
    if guard(name, uuid.as_deref(), || body(&s, &data)).is_err() {
        let _ = guard(name, uuid.as_deref(), || {
            capture::set_error(&s, "internal error")
        });
    }
}

unsafe extern "C" fn app_capture(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_capture", session, data, |s, d| {
            let m = module::current();
            capture::run(m.as_ref().map(|m| m.node().service().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_ivr(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_ivr", session, data, |s, d| {
            let m = module::current();
            ivr::run(m.as_ref().map(|m| m.node().service().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_queue_exit(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_queue_exit", session, data, |s, d| {
            let m = module::current();
            queue::run(m.as_ref().map(|m| m.node().service().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_fifo_exit(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_fifo_exit", session, data, |s, d| {
            let m = module::current();
            fifo::run(m.as_ref().map(|m| m.node().service().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_queue_offer(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_queue_offer", session, data, |s, d| {
            let m = module::current();
            offer::run(m.as_ref().map(|m| m.node().service().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_agent(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_agent", session, data, |s, d| {
            let m = module::current();
            agent::run(m.as_ref().map(|m| m.node().dispatcher().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn app_answer(session: *mut CoreSession, data: *const c_char) {
    // SAFETY: called by the core with a live session and its argument string.
    unsafe {
        run_app("callback_answer", session, data, |s, d| {
            let m = module::current();
            answer::run(m.as_ref().map(|m| m.node().dispatcher().as_ref()), s, d)
        })
    }
}

unsafe extern "C" fn api_callback(
    cmd: *const c_char,
    _session: *mut CoreSession,
    stream: *mut StreamHandle,
) -> SwitchStatus {
    // SAFETY: `cmd` is null (no arguments) or the NUL-terminated argument string.
    let line = unsafe { owned(cmd) }.unwrap_or_default();
    let reply = guard("callback API", None, || {
        let m = module::current();
        #[cfg(debug_assertions)]
        if let Some(reply) = m
            .as_ref()
            .and_then(|m| crate::probe::run(m.node().host().as_ref(), &line))
        {
            return reply;
        }
        command::execute_module(m.as_deref(), &line)
    })
    .unwrap_or_else(|_| "-ERR internal error\n".to_string());
    // SAFETY: `stream` is null or the live stream the core passed in.
    if unsafe { stream_write(stream, &reply) } {
        SWITCH_STATUS_SUCCESS
    } else {
        SWITCH_STATUS_GENERR
    }
}
