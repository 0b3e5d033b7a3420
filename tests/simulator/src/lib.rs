//! A FreeSWITCH host simulator for mod_callback.
//!
//! - [`core`]: the simulated core — sessions with channel variables, dialplan applications
//!   (`answer`, `playback`, `record`, `play_and_get_digits`, `say`, `sleep`, `bridge`,
//!   `hangup`), API commands (`originate` to scripted endpoints, `uuid_kill`), captured
//!   events and log lines, and a virtual clock.
//! - [`exports`]: the `switch_*` C functions mod_callback.so binds, exported from the
//!   executable (`-rdynamic`); the only unsafe code of this crate.
//! - [`callcenter`]: mod_callcenter's `callcenter_config` (agents, tiers, their replies).
//! - [`fifo`]: mod_fifo: the `fifo` application for a caller (its exit key, what it sets)
//!   and the `fifo list` report.
//! - [`loader`]: loads the `.so` the way FreeSWITCH does (dlopen RTLD_NOW|RTLD_LOCAL, the
//!   table symbol, the API-version check, `load`, the runtime thread, `shutdown`).
//! - [`load`]: the load run (IVR callers, HTTP creates and dispatching at once on the real
//!   clock, resident memory sampled), for the load bench and its short test.
//! - [`campaign`]: what the self-spawning tests (crash campaign, cluster) share.
//! - [`queue_centre`]: what the queue tests (mod_callcenter's and mod_fifo's) share: the
//!   module loaded with their configuration, a caller on hold in either application.
//! - [`scenario`]: scripted scenarios (`fixtures/scenarios/*.scn`) on the virtual clock.
//!
//! What it does not model: media (audio is never read), the state machine of a real
//! channel (only answered / hung up), dialplan XML, memory pools (nothing is freed until the
//! session ends), `bgapi`, and the event system beyond capturing fired events.

pub mod callcenter;
pub mod campaign;
pub mod core;
pub mod exports;
pub mod fifo;
pub mod hold;
pub mod load;
pub mod loader;
pub mod queue_centre;
pub mod scenario;
pub mod xmlconf;

pub use crate::core::{read_customer_dials, Act, Bridge, Endpoint, FiredEvent, LogLine, Sim};
pub use crate::loader::{find_module, Loaded};
