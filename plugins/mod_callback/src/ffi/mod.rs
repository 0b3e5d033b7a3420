//! The only `unsafe` code of the project: the C ABI ([`types`]), the bound core functions
//! (`sys`), safe wrappers over them ([`switch`]), the panic guard ([`guard`]) and the
//! `extern "C"` entry points ([`entry`]: the module table, load/shutdown/runtime, the
//! dialplan applications and the API command). Each `unsafe` block says why it is sound.
#![allow(unsafe_code)]

pub mod entry;
pub mod guard;
pub mod switch;
mod sys;
pub mod types;
