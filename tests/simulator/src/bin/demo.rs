//! The demo: loads the real mod_callback.so into the simulated FreeSWITCH, takes callback
//! requests through `callback_capture` on simulated calls, manages them with the `callback`
//! API, and prints the timeline (virtual clock).

use callback_simulator::scenario;
use std::process::ExitCode;

fn main() -> ExitCode {
    let file = scenario::repo_root().join("fixtures/scenarios/demo.scn");
    println!(
        "mod_callback demo: the real module in a simulated FreeSWITCH ({})\n",
        file.display()
    );
    match scenario::run_file(&file) {
        Ok(timeline) => {
            print!("{timeline}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}\nDEMO FAILED");
            ExitCode::FAILURE
        }
    }
}
