//! `cargo bench --bench capture`: the IVR's cost on the call, with the release build of
//! mod_callback.so in the simulator.
//!
//! - `capture_return_p99_ms`: from the end of the caller's recording to `callback_ivr`
//!   returning to the dialplan (inspecting the WAV, storing the request durably, the
//!   read-back prompts, the result variables), over 1,000 sequential captures. Target ≤ 50.
//! - `capture_return_p50_ms`: the median of the same.
//! - `captures_per_s`: 200 callers running the IVR at once (each on its own thread, as
//!   FreeSWITCH runs calls), five rounds; whole IVR calls completed per second of wall time.
//!
//! The virtual clock makes prompts and timeouts free, so the figures are the module's own
//! work (and the simulator's WAV writing for `record`).

use callback_simulator::scenario::{load_with_config, repo_root};
use callback_simulator::{Act, Sim};
use chrono::{TimeZone, Utc};
use std::time::Instant;

const CAPTURES: usize = 1000;
const CONCURRENT: usize = 200;
const ROUNDS: usize = 5;

fn main() {
    // The release build of the module, like a production install.
    callback_simulator::loader::use_release_module();

    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let module = load_with_config(&repo_root().join("fixtures/config/ivr.conf.xml"))
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let speech = repo_root().join("fixtures/speech/john.wav");
    let mut n = 0u32;
    let mut caller = |sim: &Sim| {
        n += 1;
        let call = sim.new_call(&format!("+1212{:07}", 5_550_000 + n));
        sim.act(&call, Act::Press("1".into()));
        sim.act(&call, Act::Speak(speech.clone()));
        call
    };

    let mut returns = Vec::with_capacity(CAPTURES);
    for _ in 0..CAPTURES {
        let call = caller(&sim);
        sim.execute(&call, "callback_ivr", "quick");
        let done = Instant::now();
        let s = sim.session(&call).expect("the call exists");
        assert_eq!(s.var("callback_result").as_deref(), Some("OK"));
        let recorded = s
            .recorded_at
            .lock()
            .unwrap()
            .expect("the call was recorded");
        returns.push(done.duration_since(recorded).as_secs_f64() * 1000.0);
    }
    returns.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| returns[((returns.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!("capture_return_p50_ms: {:.2} ms", pct(0.50));
    println!("capture_return_p99_ms: {:.2} ms", pct(0.99));

    let mut total = 0usize;
    let mut wall = 0f64;
    for _ in 0..ROUNDS {
        let calls: Vec<String> = (0..CONCURRENT).map(|_| caller(&sim)).collect();
        let started = Instant::now();
        std::thread::scope(|s| {
            for call in &calls {
                let sim = &sim;
                s.spawn(move || sim.execute(call, "callback_ivr", "quick"));
            }
        });
        wall += started.elapsed().as_secs_f64();
        for call in &calls {
            assert_eq!(sim.var(call, "callback_result").as_deref(), Some("OK"));
        }
        total += calls.len();
    }
    println!("captures_per_s: {:.0} captures/s", total as f64 / wall);
    drop(module);
}
