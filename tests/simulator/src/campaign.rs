//! What the self-spawning tests share (`harness = false`: the crash campaign and the
//! cluster test): the test binary is both the driver and, re-executed with an environment
//! variable naming a scratch directory, each child process running the simulator.

use std::path::Path;
use std::process::ExitCode;

/// The `main` of such a test: a child when `child_var` is set (its value is the scratch
/// directory), else the driver. `cargo test` passes harness flags (`--nocapture`, filters)
/// that mean nothing here, except a listing, which must not run the test.
pub fn main(
    name: &str,
    child_var: &str,
    child: fn(&Path) -> ExitCode,
    driver: fn() -> Result<(), String>,
) -> ExitCode {
    if let Some(dir) = std::env::var_os(child_var) {
        return child(Path::new(&dir));
    }
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    match driver() {
        Ok(()) => {
            println!("{name}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name} FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The end of a run: nothing wrong, the scratch directory removed; else every problem,
/// with the directory kept for a look.
pub fn verdict(problems: &[String], dir: &Path) -> Result<(), String> {
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    } else {
        Err(format!(
            "{} problem(s) (files kept in {}):\n{}",
            problems.len(),
            dir.display(),
            problems.join("\n")
        ))
    }
}
