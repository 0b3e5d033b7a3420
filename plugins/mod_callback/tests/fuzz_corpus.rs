//! Every input of the module's fuzz corpora (fixtures/fuzz/{capture,command}, crashes found
//! by the fuzzer included once fixed) replayed through the fuzz targets' own bodies
//! (tests/fuzz/entries/plugin.rs): no panic, every call ends OK with an id or ERR with a
//! reason, every `callback` reply is `+OK`/`-ERR` or JSON with `ok`.

#[path = "../../../tests/fuzz/entries/plugin.rs"]
mod entries;

#[path = "../../../tests/fuzz/entries/replay.rs"]
mod replay;

fn replay(target: &str, check: fn(&[u8])) {
    replay::replay(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures")),
        target,
        check,
    );
}

#[test]
fn capture_arguments_corpus() {
    // callback_capture arguments: parsed, run on a call against a real store, OK or ERR with a reason.
    replay("capture", entries::capture);
}

#[test]
fn command_lines_corpus() {
    // callback lines: parsed and executed with and without the module running, +OK/-ERR or JSON.
    replay("command", entries::command);
}
