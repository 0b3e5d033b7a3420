//! Every input of the core's fuzz corpora (fixtures/fuzz/{when,config,http,wav}, crashes
//! found by the fuzzer included once fixed) replayed through the fuzz targets' own bodies
//! (tests/fuzz/entries/core.rs): no panic, every refusal says what is wrong, no 5xx.

#[path = "fuzz/entries/core.rs"]
mod entries;

#[path = "fuzz/entries/replay.rs"]
mod replay;

fn replay(target: &str, check: fn(&[u8])) {
    replay::replay(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")),
        target,
        check,
    );
}

#[test]
fn time_expressions_corpus() {
    // Time expressions: parsed in three zones at three moments and planned, or refused quoting the input.
    replay("when", entries::when);
}

#[test]
fn config_corpus() {
    // callback.conf.xml: loads, or the error names where and why.
    replay("config", entries::config);
}

#[test]
fn http_bodies_corpus() {
    // JSON bodies through the real router and store: never a 5xx, every 4xx in the error shape.
    replay("http", entries::http);
}

#[test]
fn wav_corpus() {
    // WAV input: the recording checks and the transcriber's loader refuse bad files naming them.
    replay("wav", entries::wav);
}
