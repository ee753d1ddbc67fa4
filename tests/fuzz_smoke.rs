//! The fuzz smoke: `scripts/fuzz-smoke.sh` builds every fuzz target (fuzz/) and runs each for a
//! minute, after replaying the reproducers saved under fuzz/regressions/. Skipped unless
//! cargo-fuzz is installed; required (a failure without it) when `QUORATE_REQUIRE_FUZZ=1`, as
//! .ci/run sets. `QUORATE_FUZZ_SECONDS` changes the time per target (default 60).

use std::path::Path;
use std::process::Command;

fn cargo_fuzz_installed() -> bool {
    Command::new(env!("CARGO"))
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_fuzz_target_runs_without_a_crash_timeout_or_oom() {
    let required = std::env::var("QUORATE_REQUIRE_FUZZ").as_deref() == Ok("1");
    if !cargo_fuzz_installed() {
        assert!(
            !required,
            "QUORATE_REQUIRE_FUZZ=1 but cargo-fuzz is not installed \
             (scripts/fuzz-smoke.sh --install installs the pinned version)"
        );
        eprintln!(
            "skipped: cargo-fuzz is not installed (scripts/fuzz-smoke.sh --install; \
             QUORATE_REQUIRE_FUZZ=1 makes this test required)"
        );
        return;
    }
    let seconds = std::env::var("QUORATE_FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(root.join("scripts/fuzz-smoke.sh"))
        .arg(&seconds)
        .current_dir(root)
        .status()
        .expect("run scripts/fuzz-smoke.sh");
    assert!(
        status.success(),
        "scripts/fuzz-smoke.sh {seconds} failed ({status}): see its output above for the target \
         and the artifact"
    );
}
