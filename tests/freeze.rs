//! Change freezes from quorate.yaml hold on every path: check, diff and the webhook (through
//! its offline evaluation, which is the webhook's own code path), with a fixed `--now` inside
//! and outside a window, across a time zone's daylight saving change.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

fn scenario_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plan.json", "asg.json", "activities.json"] {
        std::fs::copy(
            root().join("testdata/scenarios/safe-scale-down").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("quorate.yaml"), config).unwrap();
    dir
}

fn freeze_rules(dir: &Path, now: &str) -> (i32, Vec<String>, Value) {
    let out = run_in(
        dir,
        &[
            "check",
            "plan.json",
            "--observed",
            "asg.json",
            "--observed",
            "activities.json",
            "--format",
            "json",
            "--now",
            now,
            "--observed-at",
            now,
        ],
    );
    let r: Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    // Only the freeze's findings: other rules judge the scenario on their own.
    let rules = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .filter(|rule| rule.starts_with("freeze/"))
        .collect();
    (code(&out), rules, r)
}

const RANGE: &str = "freezes:\n  - name: black-friday\n    reason: peak sales\n    from: 2026-11-27T00:00:00-05:00\n    to: 2026-12-01T00:00:00-05:00\n";

#[test]
fn a_range_freeze_denies_inside_and_not_outside() {
    let dir = scenario_dir(RANGE);
    let (code, rules, r) = freeze_rules(dir.path(), "2026-11-28T12:00:00Z");
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        rules,
        vec!["freeze/change-during-freeze".to_string()],
        "{r}"
    );
    assert!(
        r["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("black-friday: peak sales (open until 2026-12-01T05:00:00Z)"),
        "{r}"
    );
    let (code, rules, r) = freeze_rules(dir.path(), "2026-12-01T05:00:00Z");
    assert_eq!((code, rules.len()), (0, 0), "the end is exclusive: {r}");
}

#[test]
fn a_cron_freeze_follows_local_time_across_daylight_saving() {
    // Fridays 18:00 in Berlin, for 64 hours. 2026-10-25 ends summer time there.
    let dir = scenario_dir("freezes:\n  - name: weekend\n    cron: \"0 18 * * FRI\"\n    duration: 64h\n    timezone: Europe/Berlin\n    scale_downs_only: true\n");
    // Friday 2026-10-23, summer time (UTC+2): opens at 16:00Z.
    assert!(freeze_rules(dir.path(), "2026-10-23T15:59:00Z")
        .1
        .is_empty());
    assert_eq!(
        freeze_rules(dir.path(), "2026-10-23T16:00:00Z").1,
        vec!["freeze/change-during-freeze".to_string()]
    );
    // Still open on Monday 07:59Z (64 h of real time, across the change to winter time).
    assert_eq!(freeze_rules(dir.path(), "2026-10-26T07:59:00Z").1.len(), 1);
    // Friday 2026-10-30, winter time (UTC+1): closed at 16:30Z, open at 17:00Z.
    assert!(freeze_rules(dir.path(), "2026-10-30T16:30:00Z")
        .1
        .is_empty());
    assert_eq!(freeze_rules(dir.path(), "2026-10-30T17:00:00Z").1.len(), 1);
}

#[test]
fn a_bad_cron_expression_or_zone_is_a_config_error_at_its_line() {
    let dir = scenario_dir(
        "freezes:\n  - name: weekend\n    cron: \"0 18 * * FRYDAY\"\n    duration: 64h\n",
    );
    let out = run_in(dir.path(), &["check", "plan.json"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("quorate.yaml:3:"), "{}", stderr(&out));
    let dir = scenario_dir("freezes:\n  - name: weekend\n    cron: \"0 18 * * FRI\"\n    duration: 64h\n    timezone: Mars/Olympus\n");
    let out = run_in(dir.path(), &["check", "plan.json"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("quorate.yaml:5:") && stderr(&out).contains("Mars/Olympus"),
        "{}",
        stderr(&out)
    );
}

fn etcd(replicas: u32) -> String {
    format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n")
}

#[test]
fn the_same_freeze_holds_in_diff_scoped_by_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q"]);
    std::fs::create_dir_all(d.join("k8s")).unwrap();
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(5)).unwrap();
    let scoped = RANGE.replace(
        "    reason: peak sales\n",
        "    reason: peak sales\n    namespaces: [platform]\n",
    );
    std::fs::write(d.join("quorate.yaml"), &scoped).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "base"]);
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(6)).unwrap();
    git(d, &["commit", "-qam", "grow etcd"]);
    let out = run_in(
        d,
        &[
            "diff",
            "HEAD~1",
            "HEAD",
            "--format",
            "json",
            "--now",
            "2026-11-28T12:00:00Z",
        ],
    );
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(code(&out), 1, "{r}");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "freeze/change-during-freeze"),
        "{r}"
    );
    let out = run_in(
        d,
        &[
            "diff",
            "HEAD~1",
            "HEAD",
            "--format",
            "json",
            "--now",
            "2026-11-20T12:00:00Z",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn the_same_freeze_holds_at_admission() {
    // The webhook judges with the clock: a freeze open from 2000 to 2100 is open now.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quorate.yaml"),
        "freezes:\n  - name: forever\n    from: 2000-01-01T00:00:00Z\n    to: 2100-01-01T00:00:00Z\n    namespaces: [platform]\n",
    )
    .unwrap();
    let review = root().join("testdata/admission/statefulset-5-to-4-allowed.json");
    let out = run_in(
        dir.path(),
        &[
            "check",
            &review.display().to_string(),
            "--format",
            "admission",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("freeze/change-during-freeze"),
        "{answer}"
    );
}
