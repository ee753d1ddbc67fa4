//! The pre-commit hooks, proven with the real `pre-commit` tool (scripts/pre-commit-proof.sh):
//! the wheel hook and the source hook on commits, and the range mode on a pushed commit.
//! Runs when `pre-commit` is installed (`.ci/run` installs it); otherwise says it was skipped.

use crate::common;

use std::process::Command;

#[test]
fn pre_commit_hooks_pass_a_safe_commit_and_refuse_a_dangerous_one_or_a_pushed_one() {
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
    let mut proof = Command::new("bash");
    proof.arg(common::root().join("scripts/pre-commit-proof.sh"));
    let out = common::share_suite_build(&mut proof, "QUORATE_HOOK_TARGET_DIR", "pre-commit-build")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pre-commit proof failed:\n{text}");
    assert!(
        text.contains(
            "ok: wheel and source hooks: 5 -> 4 passed, 4 -> 2 refused; pushed 5 -> 2 refused in range mode"
        ),
        "{text}"
    );
    eprintln!("{text}");
}

#[test]
fn hooks_are_the_wheel_the_image_and_the_source_build() {
    let text = std::fs::read_to_string(common::root().join(".pre-commit-hooks.yaml")).unwrap();
    let src = quorate::text::SourceText::new(".pre-commit-hooks.yaml", text);
    let docs = quorate::text::parse_yaml(&src, quorate::error::Stage::Input).unwrap();
    let hooks = docs[0].value.as_array().unwrap();
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["quorate", "quorate-docker", "quorate-src"]);
    let version = env!("CARGO_PKG_VERSION");
    for (hook, language, entry) in [
        (&hooks[0], "python", "quorate diff --pre-commit".to_string()),
        (
            &hooks[1],
            "docker_image",
            format!("ghcr.io/quorate-dev/quorate:{version} diff --pre-commit"),
        ),
        (
            &hooks[2],
            "script",
            "scripts/pre-commit-src.sh diff --pre-commit".to_string(),
        ),
    ] {
        assert_eq!(hook["language"], language);
        assert_eq!(hook["entry"], entry.as_str());
        assert_eq!(hook["pass_filenames"], false);
        let files = regex::Regex::new(hook["files"].as_str().unwrap()).unwrap();
        assert!(
            files.is_match("k8s/etcd.yaml")
                && files.is_match("a.yml")
                && files.is_match("plan.json")
        );
        assert!(!files.is_match("main.tf"));
    }
    // The source hook builds with the lock file.
    let script = std::fs::read_to_string(common::root().join("scripts/pre-commit-src.sh")).unwrap();
    assert!(
        script.contains("cargo build --profile \"$profile\" --locked")
            && script.contains("profile=\"${QUORATE_SRC_PROFILE:-release}\"")
    );
}

/// The range pre-commit names (pre-push, `--from-ref/--to-ref`) is what `diff --pre-commit`
/// checks; without one, the staged changes.
#[test]
fn diff_pre_commit_checks_the_range_pre_commit_names_else_the_index() {
    use common::*;
    let repo = tempfile::tempdir().unwrap();
    let d = repo.path();
    let etcd = |n: u32| {
        format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\nspec:\n  replicas: {n}\n  template:\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n")
    };
    git(d, &["init", "-q"]);
    write(d, "k8s/etcd.yaml", &etcd(5));
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "five"]);
    write(d, "k8s/etcd.yaml", &etcd(2));
    git(d, &["commit", "-qam", "two"]);
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["diff", "--pre-commit"])
            .current_dir(d)
            .env("NO_COLOR", "1")
            .env_remove("PRE_COMMIT_FROM_REF")
            .env_remove("PRE_COMMIT_TO_REF");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[
        ("PRE_COMMIT_FROM_REF", "HEAD~1"),
        ("PRE_COMMIT_TO_REF", "HEAD"),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("quorum/multiple-voters-at-once"));
    assert!(stderr(&out).contains("checking the commits HEAD~1...HEAD"));
    // Nothing staged and no range: said, exit 0.
    let out = run(&[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("pre-commit named no range"),
        "{}",
        stderr(&out)
    );
    // Staged 2 -> 4 is a scale-up: passes without the note.
    write(d, "k8s/etcd.yaml", &etcd(4));
    git(d, &["add", "-A"]);
    let out = run(&[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(!stderr(&out).contains("named no range"));
    // Revisions and --pre-commit do not mix.
    let out = std::process::Command::new(bin())
        .args(["diff", "--pre-commit", "HEAD~1"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--pre-commit takes its range from pre-commit"));
}
