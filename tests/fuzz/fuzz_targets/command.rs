#![no_main]

#[path = "../entries/plugin.rs"]
#[allow(dead_code)]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::command(data));
