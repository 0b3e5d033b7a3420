//! `callback-sim run <scenario>...`: runs scenario files against the real mod_callback.so
//! in the simulated FreeSWITCH and prints their timelines. `callback-sim demo` runs the demo.

use callback_simulator::scenario;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Vec<String> = match args.first().map(String::as_str) {
        Some("run") if args.len() > 1 => args[1..].to_vec(),
        Some("demo") | None => ["story.scn", "demo.scn"]
            .iter()
            .map(|f| {
                scenario::repo_root()
                    .join("fixtures/scenarios")
                    .join(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        _ => {
            eprintln!("usage: callback-sim run <scenario.scn>... | callback-sim demo");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for f in files {
        println!("== {f}");
        match scenario::run_file(Path::new(&f)) {
            Ok(timeline) => print!("{timeline}"),
            Err(e) => {
                println!("{e}\nFAILED");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
