//! mod_callback: the FreeSWITCH module shell around `callback-core`. Thin on purpose: no
//! business rules here, only adaptation.
//!
//! - [`ffi`]: the only `unsafe` code — ABI types, bound core functions, the module table,
//!   the `extern "C"` trampolines and the panic guard around each.
//! - [`module`]: the module's life: the configuration read through FreeSWITCH, the core's
//!   `Node` started with an `FsHost`, the runtime turn, stop.
//! - [`agent`]: the `callback_agent` application: the agent leg's preview and customer leg.
//! - [`answer`]: the `callback_answer` application: the check on the customer's answered
//!   leg (a machine? the greeting and its key), run by the bridge's group confirm.
//! - [`capture`]: the `callback_capture` application: the call's variables in, the core's
//!   capture, the result variables out.
//! - [`command`]: the fs_cli `callback` command: the core parses and runs it, this words
//!   the reply (`+OK`/`-ERR` text or JSON).
//! - [`ivr`]: the `callback_ivr` application: the core's IVR dialogue over stock apps.
//! - [`dial`]: command lines for legs, built only from checked pieces.
//! - [`fifo`]: mod_fifo: the `callback_fifo_exit` application (a caller who left a fifo by
//!   its exit key, handed over to the core) and the callers `fifo list` shows.
//! - [`fshost`]: `FsHost`, the core's `Host` over FreeSWITCH string commands and events.
//! - [`logging`]: the core's `tracing` output into FreeSWITCH's log.
//! - `probe` (debug builds only): hidden sub-commands that drive `FsHost` for the simulator.
//! - [`offer`]: the `callback_queue_offer` application: the in-queue offer of a callback,
//!   broadcast on a waiting caller's call.
//! - [`queue`]: the `callback_queue_exit` application: a caller who left a mod_callcenter
//!   queue by its exit key, handed over to the core.
//! - [`vars`]: channel variables as the applications see them.
#![deny(unsafe_code)]

pub mod agent;
pub mod answer;
pub mod capture;
pub mod command;
pub mod dial;
pub mod ffi;
pub mod fifo;
pub mod fshost;
pub mod ivr;
pub mod logging;
pub mod module;
pub mod offer;
#[cfg(debug_assertions)]
pub mod probe;
pub mod queue;
pub mod vars;
