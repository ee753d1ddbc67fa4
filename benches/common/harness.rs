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

/// A `usize` from the environment, else `default`.
#[allow(dead_code)] // not every bench reads one
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A directory for generated inputs under the temp dir, removed when dropped unless
/// `QUORATE_BENCH_KEEP` is set (then its path is printed).
#[allow(dead_code)] // not every bench generates files
pub struct GeneratedDir(pub std::path::PathBuf, bool);

#[allow(dead_code)]
impl GeneratedDir {
    pub fn create(name: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(GeneratedDir(
            dir,
            std::env::var_os("QUORATE_BENCH_KEEP").is_some(),
        ))
    }
}

impl Drop for GeneratedDir {
    fn drop(&mut self) {
        if self.1 {
            println!("kept generated files in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
