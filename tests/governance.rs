//! Governance in real git repositories: `quorate diff` reads quorate.yaml and `--policy`
//! directories from the base revision, so a change cannot waive its own denial or loosen the
//! rules that judge it; waivers must name real rules, expire in time, and are reported unused.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

fn etcd(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: etcd\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n"
    )
}

const WAIVER: &str = "waivers:\n  - rule: quorum/*\n    change: platform/StatefulSet/etcd\n    reason: \"migration to the new cluster\"\n    expires: 2026-12-20\n    by: mallory@example.com\n";

fn diff(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "diff",
        "main",
        "feature",
        "--format",
        "json",
        "--now",
        "2026-12-01T10:00:00Z",
    ];
    args.extend(extra);
    let out = run_in(dir, &args);
    let text = stdout(&out);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", stderr(&out)));
    (code(&out), v)
}

fn rules(r: &Value, severity: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// Regression (issue 11): scaling etcd 5 -> 2 and adding a waiver for it on the same branch
/// printed "no findings (2 waived)" and exited 0.
#[test]
fn a_change_cannot_waive_its_own_denial() {
    let r = repo_with(&[("k8s/etcd.yaml", etcd(5).as_str())]);
    let d = r.path();
    git(d, &["checkout", "-qb", "feature"]);
    commit_all(
        d,
        &[
            ("k8s/etcd.yaml", etcd(2).as_str()),
            ("quorate.yaml", WAIVER),
        ],
        "scale etcd, waive it",
    );
    let (code, report) = diff(d, &[]);
    assert_eq!(code, 1, "{report}");
    let deny = rules(&report, "deny");
    assert!(
        deny.contains(&"governance/waiver-added-in-change".to_string()),
        "{report}"
    );
    assert!(
        deny.contains(&"quorum/below-quorum".to_string()),
        "the waiver does not apply: {report}"
    );
    assert_eq!(report["summary"]["waived"], 0, "{report}");
    let g = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "governance/waiver-added-in-change")
        .unwrap();
    assert_eq!(g["location"]["path"], "quorate.yaml");
    assert_eq!(g["location"]["line"], 2, "at the waiver: {g}");
    assert!(
        g["message"]
            .as_str()
            .unwrap()
            .contains("mallory@example.com"),
        "{g}"
    );

    // A repository that trusts its pull requests says so: the waiver applies, and the edit to
    // quorate.yaml is still reported.
    let (code, report) = diff(d, &["--config-from", "head"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report["summary"]["waived"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        rules(&report, "warn").contains(&"governance/policy-changed-in-change".to_string()),
        "{report}"
    );
}

/// A waiver reviewed and merged to main first is on the base of the change: it applies.
#[test]
fn a_waiver_merged_first_applies() {
    let r = repo_with(&[("k8s/etcd.yaml", etcd(5).as_str())]);
    let d = r.path();
    commit_all(d, &[("quorate.yaml", WAIVER)], "waive the etcd migration");
    git(d, &["checkout", "-qb", "feature"]);
    commit_all(d, &[("k8s/etcd.yaml", etcd(2).as_str())], "scale etcd");
    let (code, report) = diff(d, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["deny"], 0, "{report}");
    assert!(
        report["summary"]["waived"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["rule"].as_str().unwrap().starts_with("governance/")),
        "{report}"
    );
}

const SMALL: &str = "package quorate.team\n\n# METADATA\n# title: Too small\n# description: A workload runs fewer than 3 replicas.\n# custom:\n#   id: team/too-small\n#   severity: deny\ndeny contains f if {\n\tsome c in input.changes\n\tc.capacity.after < 3\n\tf := {\"rule\": \"team/too-small\", \"msg\": sprintf(\"%s is too small\", [c.id]), \"change\": c.id}\n}\n";

/// A change that edits the policies is judged by the base revision's policies.
#[test]
fn a_change_cannot_loosen_the_policies_that_judge_it() {
    let r = repo_with(&[
        ("k8s/etcd.yaml", etcd(5).as_str()),
        ("policy/team.rego", SMALL),
    ]);
    let d = r.path();
    git(d, &["checkout", "-qb", "feature"]);
    let loosened = SMALL.replace("c.capacity.after < 3", "c.capacity.after < 1");
    commit_all(
        d,
        &[
            ("k8s/etcd.yaml", etcd(2).as_str()),
            ("policy/team.rego", loosened.as_str()),
        ],
        "loosen and scale",
    );
    let (code, report) = diff(d, &["--no-builtin", "--policy", "policy"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        rules(&report, "deny"),
        vec!["team/too-small".to_string()],
        "{report}"
    );
    let warn = rules(&report, "warn");
    assert_eq!(
        warn,
        vec!["governance/policy-changed-in-change".to_string()],
        "{report}"
    );
    // With head policies the loosened rule judges it.
    let (code, report) = diff(
        d,
        &[
            "--no-builtin",
            "--policy",
            "policy",
            "--config-from",
            "head",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert!(rules(&report, "deny").is_empty(), "{report}");
}

fn plan_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plan.json", "asg.json"] {
        std::fs::copy(
            root().join("testdata/scenarios/waivers").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    write(dir.path(), "quorate.yaml", config);
    dir
}

fn check(dir: &Path) -> std::process::Output {
    run_in(
        dir,
        &[
            "check",
            "plan.json",
            "--observed",
            "asg.json",
            "--format",
            "json",
            "--now",
            "2026-11-24T10:00:00Z",
            "--observed-at",
            "2026-11-24T09:59:00Z",
        ],
    )
}

#[test]
fn a_waiver_for_a_rule_that_does_not_exist_is_a_config_error_with_a_suggestion() {
    let dir = plan_dir("waivers:\n  - rule: unstable/members-in-transiton\n    group: ingest-prod\n    reason: typo\n    expires: 2026-12-01\n    by: bob\n");
    let out = check(dir.path());
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("quorate.yaml:2:"), "{err}");
    assert!(
        err.contains("did you mean `unstable/members-in-transition`?"),
        "{err}"
    );
}

#[test]
fn a_waiver_beyond_the_maximum_lifetime_is_a_config_error() {
    let w = "waivers:\n  - rule: unstable/*\n    group: ingest-prod\n    reason: forever\n    expires: 2027-06-01\n    by: bob\n";
    let out = check(plan_dir(w).path());
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("more than waiver_max_days (90)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("quorate.yaml:5:"),
        "at the expires line: {}",
        stderr(&out)
    );
    let raised = format!("waiver_max_days: 365\n{w}");
    assert_ne!(code(&check(plan_dir(&raised).path())), 2);
}

#[test]
fn a_waiver_that_matched_nothing_is_reported_unused() {
    let w = "waivers:\n  - rule: quorum/below-quorum\n    group: no-such-group\n    reason: old incident\n    expires: 2026-12-01\n    by: bob\n";
    let out = check(plan_dir(w).path());
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        r["notices"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("for quorum/below-quorum on no-such-group matched no finding")),
        "{r}"
    );
}

/// Teams tune rules in quorate.yaml without waivers: a rule's own entry wins over its family's.
#[test]
fn severities_per_rule_and_per_family() {
    let rules_of = |config: &str| -> (i32, Value) {
        let out = check(plan_dir(config).path());
        (
            code(&out),
            serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null),
        )
    };
    // The waivers scenario denies unstable/members-in-transition on two groups.
    let (code0, base) = rules_of("{}\n");
    assert_eq!(code0, 1, "{base}");
    let (code1, warned) = rules_of("severity:\n  unstable/*: warn\n");
    assert_eq!(code1, 0, "{warned}");
    assert_eq!(warned["summary"]["deny"], 0, "{warned}");
    assert_eq!(
        warned["summary"]["warn"], base["summary"]["deny"],
        "{warned}"
    );
    let (code2, off) =
        rules_of("severity:\n  unstable/*: warn\n  unstable/members-in-transition: off\n");
    assert_eq!(code2, 0, "{off}");
    assert_eq!(off["summary"]["warn"], 0, "{off}");
    assert!(
        off["notices"]
            .to_string()
            .contains("turned off in quorate.yaml"),
        "{off}"
    );
    let out = check(plan_dir("severity:\n  unstable/members-in-transiton: off\n").path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("did you mean `unstable/members-in-transition`?"),
        "{}",
        stderr(&out)
    );
}

/// Every config error in one run, each at its line, with "did you mean" for a misspelt key.
#[test]
fn all_config_errors_are_reported_at_once() {
    let dir = plan_dir(
        "stabilisation_window: 10m\ngroups:\n  a:\n    qourum: 3\nmax_observed_age: soon\n",
    );
    let out = check(dir.path());
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    let lines: Vec<usize> = ["quorate.yaml:1:", "quorate.yaml:4:", "quorate.yaml:5:"]
        .iter()
        .map(|at| {
            err.find(at)
                .unwrap_or_else(|| panic!("{at} missing: {err}"))
        })
        .collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "in file order: {err}"
    );
    assert!(
        err.contains("did you mean `stabilization_window`?"),
        "{err}"
    );
    assert!(err.contains("did you mean `quorum`?"), "{err}");
}

/// Errors found after the schema (a bad duration, a bad date, a bad cron expression) are all
/// reported in one run too.
#[test]
fn value_errors_are_reported_together() {
    let dir = plan_dir("stabilization_window: 10m\nwaivers:\n  - rule: unstable/*\n    group: g\n    reason: r\n    expires: 2026-13-45\n    by: b\nfreezes:\n  - name: f\n    cron: \"0 25 * * *\"\n    duration: 1h\n");
    let out = check(dir.path());
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("quorate.yaml:6:") && err.contains("is not a date"),
        "{err}"
    );
    assert!(
        err.contains("quorate.yaml:10:") && err.contains("/freezes/0/cron"),
        "{err}"
    );
}
