//! mod_callback: the FreeSWITCH module shell around `callback-core`. Thin on purpose: no
//! business rules here, only adaptation.
//!
//! - [`ffi`]: the only `unsafe` code — ABI types, bound core functions, the module table,
//!   the `extern "C"` trampolines and the panic guard around each.
//! - [`module`]: the module's life (config path, start, runtime turn, stop).
//! - [`agent`]: the `callback_agent` application: the agent leg's preview and customer leg.
//! - [`capture`]: the `callback_capture` application's arguments and result variables.
//! - [`command`]: the fs_cli `callback` command's grammar and replies.
//! - [`ivr`]: the `callback_ivr` application: the core's IVR dialogue over stock apps.
//! - [`dial`]: command lines for legs, built only from checked pieces.
//! - [`fshost`]: `FsHost`, the core's `Host` over FreeSWITCH string commands and events.
//! - [`logging`]: the core's `tracing` output into FreeSWITCH's log.
//! - [`transcription`]: the whisper workers' start and stop with the module.
//! - `probe` (debug builds only): hidden sub-commands that drive `FsHost` for the simulator.
//! - [`vars`]: channel variables as the applications see them.
#![deny(unsafe_code)]

pub mod agent;
pub mod capture;
pub mod command;
pub mod dial;
pub mod ffi;
pub mod fshost;
pub mod ivr;
pub mod logging;
pub mod module;
#[cfg(debug_assertions)]
pub mod probe;
pub mod transcription;
pub mod vars;
