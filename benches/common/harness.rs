//! The entry point the batch benches share: `cargo bench` passes `--bench`; `cargo test
//! --all-targets` runs the same binary without it, and a multi-minute benchmark has no place
//! in a test run. Errors end the bench with exit code 1.

use std::fmt::Display;
use std::process::ExitCode;

pub fn bench_main<E: Display>(name: &str, run: impl FnOnce() -> Result<(), E>) -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!("{name}: skipped (run it with `cargo bench --bench {name}`)");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
