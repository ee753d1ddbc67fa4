//! The built-in policies are plain Rego that real OPA evaluates to the same findings:
//! scripts/opa_compare.py runs every scenario's emitted input and data through OPA (Go, via the
//! PyPI wheel opa-golib-python-bindings) and compares with quorate's report, and runs the
//! policies' own tests through OPA.
//!
//! Needs python3 and the unpacked wheel: `$QUORATE_OPA_BINDINGS`, else
//! `${TMPDIR:-/tmp}/quorate-ci-deps` (where .ci/run puts it). Without them the tests say so
//! and pass, unless `QUORATE_REQUIRE_OPA=1` (set by .ci/run) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::Value;

fn bindings() -> Option<PathBuf> {
    let dir = match std::env::var_os("QUORATE_OPA_BINDINGS") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join("quorate-ci-deps"),
    };
    let found = dir.join("opa_bindings/libopabridge.so").is_file()
        && Command::new("python3").arg("--version").output().is_ok();
    if found {
        return Some(dir);
    }
    assert!(
        std::env::var_os("QUORATE_REQUIRE_OPA").is_none(),
        "QUORATE_REQUIRE_OPA is set but no OPA bindings in {} (run .ci/run)",
        dir.display()
    );
    eprintln!(
        "skipped: no OPA bindings in {} (.ci/run fetches them)",
        dir.display()
    );
    None
}

fn compare(opa: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::new("python3")
        .arg(root().join("scripts/opa_compare.py"))
        .args(["--quorate", bin(), "--opa"])
        .arg(opa)
        .arg("--json")
        .args(extra)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (code(&out), report, stderr(&out))
}

#[test]
fn opa_gives_the_same_findings_and_test_results_as_quorate() {
    let Some(opa) = bindings() else { return };
    let (c, r, err) = compare(&opa, &[]);
    assert_eq!(c, 0, "divergences between OPA and quorate:\n{r:#}\n{err}");
    let scenarios = r["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 14, "{r:#}");
    let findings: u64 = scenarios
        .iter()
        .map(|s| s["findings"].as_u64().unwrap())
        .sum();
    assert!(
        findings >= 20,
        "the scenarios should exercise the rules: {findings} findings"
    );
    assert!(r["tests"]["tests"].as_u64().unwrap() >= 80, "{r:#}");
    assert_eq!(r["tests"]["opa_passed"], r["tests"]["tests"], "{r:#}");
}

#[test]
fn a_policy_that_differs_from_what_quorate_runs_is_reported() {
    let Some(opa) = bindings() else { return };
    // OPA evaluates a copy whose quorum message was edited; quorate runs the real one.
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rego") {
            let text = std::fs::read_to_string(&p).unwrap();
            let text = text.replace("below quorum in the worst case", "BELOW QUORUM");
            std::fs::write(tmp.path().join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let (c, r, err) = compare(&opa, &["--policies", tmp.path().to_str().unwrap()]);
    assert_eq!(c, 1, "{r:#}\n{err}");
    let outage = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "search-cluster-outage")
        .unwrap();
    assert!(
        outage["only_opa"].to_string().contains("BELOW QUORUM"),
        "{outage:#}"
    );
    assert!(
        outage["only_quorate"]
            .to_string()
            .contains("below quorum in the worst case"),
        "{outage:#}"
    );
}
