//! The pre-commit hook, proven with the real `pre-commit` tool (scripts/pre-commit-proof.sh).
//! Runs when `pre-commit` is installed (`.ci/run` installs it); otherwise says it was skipped.

mod common;

use std::process::Command;

#[test]
fn pre_commit_try_repo_passes_a_safe_commit_and_refuses_a_dangerous_one() {
    if Command::new("pre-commit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "pre-commit not installed: hook proof skipped (pip install pre-commit, or run .ci/run)"
        );
        return;
    }
    let out = Command::new("bash")
        .arg(common::root().join("scripts/pre-commit-proof.sh"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pre-commit proof failed:\n{text}");
    assert!(text.contains("ok: 5 -> 4 passed, 4 -> 2 refused"), "{text}");
}

#[test]
fn hook_definition_runs_quorate_diff_staged() {
    let text = std::fs::read_to_string(common::root().join(".pre-commit-hooks.yaml")).unwrap();
    let src = quorate::text::SourceText::new(".pre-commit-hooks.yaml", text);
    let docs = quorate::text::parse_yaml(&src, quorate::error::Stage::Input).unwrap();
    let hook = &docs[0].value[0];
    assert_eq!(hook["id"], "quorate");
    assert_eq!(hook["entry"], "quorate diff --staged");
    assert_eq!(hook["language"], "rust");
    assert_eq!(hook["pass_filenames"], false);
    let files = regex::Regex::new(hook["files"].as_str().unwrap()).unwrap();
    assert!(
        files.is_match("k8s/etcd.yaml") && files.is_match("a.yml") && files.is_match("plan.json")
    );
    assert!(!files.is_match("main.tf"));
}
