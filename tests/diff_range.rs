//! `quorate diff` never compares a silently different range: shallow clones without the base,
//! a missing default branch and unrelated histories exit 2 with the fix. Real repositories and
//! real shallow clones (`git clone --depth 1 file://...`).

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn etcd(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: etcd\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n"
    )
}

fn commit(dir: &Path, path: &str, text: &str, msg: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", msg]);
}

/// `quorate diff ARGS` with GITHUB_BASE_REF set or removed.
fn diff(dir: &Path, args: &[&str], base_ref: Option<&str>) -> Output {
    let home = std::env::temp_dir().join("quorate-test-home");
    let _ = std::fs::create_dir_all(&home);
    let mut cmd = Command::new(bin());
    cmd.arg("diff")
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_BASE_REF");
    if let Some(b) = base_ref {
        cmd.env("GITHUB_BASE_REF", b);
    }
    cmd.output().unwrap()
}

/// An origin whose `main` moved on after `scale-down` branched off it (etcd 5 -> 2 on the branch).
fn origin() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q"]);
    commit(d, "k8s/etcd.yaml", &etcd(5), "etcd");
    git(d, &["checkout", "-qb", "scale-down"]);
    commit(d, "k8s/etcd.yaml", &etcd(2), "scale etcd to 2");
    git(d, &["checkout", "-q", "main"]);
    commit(d, "README.md", "docs\n", "docs");
    tmp
}

fn clone(origin: &Path, args: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.display());
    let mut a = vec!["clone", "-q"];
    a.extend(args);
    a.extend([url.as_str(), "."]);
    git(tmp.path(), &a);
    tmp
}

fn assert_exit_2(out: &Output, wanted: &[&str]) {
    let err = stderr(out);
    assert_eq!(code(out), 2, "stdout: {}\nstderr: {err}", stdout(out));
    for w in wanted {
        assert!(err.contains(w), "missing `{w}` in:\n{err}");
    }
}

#[test]
fn a_shallow_clone_without_the_merge_base_exits_2_with_the_fix() {
    let origin = origin();
    // What actions/checkout does by default, with every branch tip fetched.
    let c = clone(
        origin.path(),
        &[
            "--depth",
            "1",
            "--no-single-branch",
            "--branch",
            "scale-down",
        ],
    );
    let d = c.path();
    let out = diff(d, &[], None);
    assert_exit_2(
        &out,
        &[
            "no merge base of `origin/main` and `HEAD`",
            "fetch-depth: 0",
            "git fetch origin main",
        ],
    );
    let out = diff(d, &[], Some("main"));
    assert_exit_2(&out, &["no merge base of `origin/main`", "fetch-depth: 0"]);
    let out = diff(d, &["origin/main...HEAD"], None);
    assert_exit_2(&out, &["no merge base", "shallow", "fetch-depth: 0"]);
    // A base that was never fetched.
    let out = diff(d, &["HEAD~1", "HEAD"], None);
    assert_exit_2(
        &out,
        &["unknown revision `HEAD~1`", "shallow", "fetch-depth: 0"],
    );

    // With the history fetched, the same command sees the branch's scale-down.
    git(d, &["fetch", "-q", "--unshallow"]);
    let out = diff(d, &["--format", "json"], None);
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["summary"]["changes"], 1, "{report}");
}

#[test]
fn a_shallow_clone_of_one_branch_names_the_missing_base() {
    let origin = origin();
    let c = clone(origin.path(), &["--depth", "1", "--branch", "scale-down"]);
    let d = c.path();
    // Only origin/scale-down exists: there is no default branch to compare with.
    let out = diff(d, &[], None);
    assert_exit_2(
        &out,
        &["no default branch to compare against", "fetch-depth: 0"],
    );
    let out = diff(d, &[], Some("main"));
    assert_exit_2(
        &out,
        &[
            "the base branch `main` (GITHUB_BASE_REF) is not in this clone",
            "git fetch origin main",
        ],
    );
}

#[test]
fn a_shallow_clone_of_the_default_branch_has_no_parent_to_compare_with() {
    let origin = origin();
    let c = clone(origin.path(), &["--depth", "1"]);
    let out = diff(c.path(), &[], None);
    assert_exit_2(&out, &["parent is not in this clone", "fetch-depth: 0"]);

    // A root commit has no parent to miss: everything in it is new, shallow or not.
    let one = tempfile::tempdir().unwrap();
    git(one.path(), &["init", "-q"]);
    commit(one.path(), "k8s/etcd.yaml", &etcd(3), "etcd");
    let c = clone(one.path(), &["--depth", "1"]);
    let out = diff(c.path(), &["--format", "json"], None);
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["summary"]["changes"], 1, "{report}");
}

#[test]
fn no_default_branch_and_unrelated_histories_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "trunk"]);
    commit(d, "k8s/etcd.yaml", &etcd(5), "etcd");
    commit(d, "k8s/etcd.yaml", &etcd(2), "scale etcd to 2");
    let out = diff(d, &[], None);
    assert_exit_2(
        &out,
        &["no default branch to compare against", "quorate diff BASE"],
    );
    let out = diff(d, &[], Some("release-1"));
    assert_exit_2(
        &out,
        &["the base branch `release-1` (GITHUB_BASE_REF) is not in this clone"],
    );

    // An orphan branch shares no history with main: no merge base, not "everything is new".
    git(d, &["branch", "-q", "main"]);
    git(d, &["checkout", "-q", "--orphan", "other"]);
    commit(d, "k8s/etcd.yaml", &etcd(1), "unrelated");
    let out = diff(d, &["main...other"], None);
    assert_exit_2(
        &out,
        &["no merge base of `main` and `other`", "share no history"],
    );
    let out = diff(d, &[], None);
    assert_exit_2(
        &out,
        &["no merge base of `main` and `HEAD`", "share no history"],
    );
}
