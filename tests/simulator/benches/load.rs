//! `cargo bench --bench load` (issue #9, item 3): 500 IVR callers in flight, 100
//! `POST /v1/callbacks` a second over HTTP and the dispatcher delivering them, all at once,
//! on the release build of mod_callback.so in the simulator, for `LOAD_SECS` (default 600)
//! seconds. Resident memory must stay flat.
//!
//! Every 30 s: `load_t<secs>_rss_mb: X MB` and the counts so far. At the end:
//! `load_rss_start_mb` (after the 60 s warm-up: every caller in flight, caches warm),
//! `load_rss_end_mb`, `load_rss_growth_ratio` (end / start), the same for the live heap
//! (`load_heap_*`: what malloc has handed out, without the pages it keeps), `load_captures`,
//! `load_http_creates`, `load_errors` (IVR errors + HTTP failures + ERROR lines from the
//! module + printf-format violations), `load_dispatched` (callbacks completed).
//! `LOAD_CALLERS` (500) and `LOAD_CREATES_PER_S` (100) shrink a run while developing;
//! `LOAD_CONFIG` names another callback.conf.xml (default fixtures/config/load.conf.xml).
//! What runs is described in `callback_simulator::load`; transcription is off (see
//! fixtures/config/load.conf.xml).

use callback_simulator::load::{run, LoadSpec};
use std::time::Duration;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    callback_simulator::loader::use_release_module();
    let secs = env("LOAD_SECS", 600);
    let spec = LoadSpec {
        duration: Duration::from_secs(secs),
        callers: env("LOAD_CALLERS", 500) as usize,
        creates_per_s: env("LOAD_CREATES_PER_S", 100) as u32,
        report_every: Duration::from_secs(30),
        warm_up: Duration::from_secs(60.min(secs / 4)),
        keep: 2_000,
        // Another configuration (say, a smaller db-cache-mb) for an experiment.
        config: std::env::var_os("LOAD_CONFIG").map(std::path::PathBuf::from),
    };
    println!(
        "load: {} s, {} IVR callers in flight, {} HTTP creates/s, transcription off",
        secs, spec.callers, spec.creates_per_s
    );
    let r = run(&spec, &mut |line| println!("{line}"));
    println!("load_rss_loaded_mb: {:.1} MB", r.rss_loaded_mb);
    println!("load_rss_start_mb: {:.1} MB", r.rss_start_mb);
    println!("load_rss_end_mb: {:.1} MB", r.rss_end_mb);
    println!(
        "load_rss_max_after_warm_up_mb: {:.1} MB",
        r.rss_max_after_warm_up_mb
    );
    println!("load_rss_growth_ratio: {:.3}", r.growth_ratio());
    println!("load_heap_start_mb: {:.1} MB", r.heap_start_mb);
    println!("load_heap_end_mb: {:.1} MB", r.heap_end_mb);
    println!("load_heap_growth_ratio: {:.3}", r.heap_growth_ratio());
    println!("load_captures: {}", r.captures);
    println!("load_http_creates: {}", r.http_creates);
    println!("load_errors: {}", r.errors());
    println!(
        "load_errors_detail: ivr={} http={} module_error_lines={} format_violations={}",
        r.capture_errors, r.http_failed, r.errors_logged, r.format_violations
    );
    println!("load_dispatched: {}", r.dispatched);
    println!("load_agent_offers: {}", r.offers);
    println!("load_stored: {}", r.stored);
    println!("load_db_mb: {:.1} MB", r.db_mb);
    for e in &r.examples {
        println!("load_error_example: {e}");
    }
}
