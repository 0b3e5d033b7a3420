//! Configuration benchmark: `Config::from_xml` on a generated `callback.conf.xml` of 20,000
//! queues (each with a zone, hours, closed dates and slots, as a large tenant's file has),
//! plus the agents serving them. Prints `config_load_ms_20000_queues: N ms` (the best of
//! three loads, so a neighbour's build on the shared machine does not decide it) and the
//! file's size; `CONFIG_BENCH_QUEUES` sets the count.

use callback_core::config::Config;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

fn queues() -> usize {
    std::env::var("CONFIG_BENCH_QUEUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// A file of `n` queues, one agent per 10 queues.
fn file(n: usize) -> String {
    const ZONES: [&str; 4] = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    let mut x = String::from(
        "<configuration name=\"callback.conf\">\n  <settings>\n    \
         <param name=\"default-region\" value=\"DE\"/>\n    \
         <param name=\"default-queue\" value=\"q0\"/>\n  </settings>\n  <queues>\n",
    );
    for i in 0..n {
        let _ = write!(
            x,
            "    <queue name=\"q{i}\">\n      \
             <param name=\"time-zone\" value=\"{}\"/>\n      \
             <param name=\"hours\" value=\"mon-fri 09:00-12:30 13:30-18:00; sat 10:00-14:00\"/>\n      \
             <param name=\"closed-dates\" value=\"2026-12-24, 2026-12-25\"/>\n      \
             <param name=\"slot-minutes\" value=\"30\"/>\n      \
             <param name=\"slot-capacity\" value=\"{}\"/>\n    </queue>\n",
            ZONES[i % ZONES.len()],
            1 + i % 5
        );
    }
    x.push_str("  </queues>\n  <agents>\n");
    for a in 0..n.div_ceil(10) {
        let first = a * 10;
        let list: Vec<String> = (first..(first + 10).min(n))
            .map(|q| format!("q{q}"))
            .collect();
        let _ = write!(
            x,
            "    <agent name=\"a{a}\">\n      \
             <param name=\"dial\" value=\"user/{}\"/>\n      \
             <param name=\"queues\" value=\"{}\"/>\n    </agent>\n",
            10_000 + a,
            list.join(",")
        );
    }
    x.push_str("  </agents>\n</configuration>\n");
    x
}

fn main() -> ExitCode {
    let n = queues();
    let text = file(n);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let config = match Config::from_xml(&text) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("config bench: the generated file was refused: {e}");
                return ExitCode::FAILURE;
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        best = best.min(ms);
        // Loaded whole, not cut short: the last queue is there.
        if config.queue(Some(&format!("q{}", n - 1))).is_none() {
            eprintln!("config bench: queue q{} is missing", n - 1);
            return ExitCode::FAILURE;
        }
    }
    println!("config_load_ms_{n}_queues: {best:.0} ms");
    println!("config_file_bytes_{n}_queues: {} bytes", text.len());
    ExitCode::SUCCESS
}
