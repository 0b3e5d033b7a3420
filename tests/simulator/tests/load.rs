//! The load run, short (issue #9, item 3): 50 IVR callers in flight, 10 HTTP creates a
//! second and the dispatcher delivering them, at once, for 20 s on the real clock (about
//! 30 s with the calls in flight at the end). The
//! long run is `cargo bench --bench load` (500 callers, 100 creates/s, 10 minutes).

use callback_simulator::load::{run, LoadSpec};
use std::time::Duration;

#[test]
fn captures_http_creates_and_dispatch_at_once_without_errors_or_growth() {
    // Everything captured or created is stored, nothing fails, the dispatcher delivers
    // while the rest goes on, and after warm-up the resident size stays within a bound.
    let spec = LoadSpec {
        duration: Duration::from_secs(20),
        callers: 50,
        creates_per_s: 10,
        report_every: Duration::from_secs(5),
        warm_up: Duration::from_secs(8),
        keep: 500,
        config: None,
    };
    let r = run(&spec, &mut |line| eprintln!("{line}"));
    eprintln!("{r:#?}");
    assert_eq!(r.errors(), 0, "errors: {:#?}", r.examples);
    // 50 callers of about 12 s each (at human speed) for 20 s, and 10 creates/s.
    assert!(r.captures >= 50, "only {} captures", r.captures);
    assert!(r.http_creates >= 100, "only {} creates", r.http_creates);
    assert_eq!(
        r.stored as usize,
        r.captures + r.http_creates,
        "every capture and every create is stored, once"
    );
    assert!(r.dispatched > 0, "nothing was dispatched");
    // Generous (about 5 MB is seen): the allocator settling after warm-up stays below it;
    // keeping a recording's worth (~100 KB) per call or request in memory would cross it.
    let growth = r.rss_max_after_warm_up_mb - r.rss_start_mb;
    assert!(
        growth < 24.0,
        "resident memory grew {growth:.1} MB after warm-up: {:?}",
        r.samples
    );
}
