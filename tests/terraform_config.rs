//! Issue 5: Terraform findings point at the `.tf` line that declares the attribute (through
//! local module calls, `for_each` and `count` instances), with the plan location second.
//! testdata/terraform/module-asg: a root module calling modules/asg with for_each, whose
//! `aws_autoscaling_group.this` (count = 1) has `desired_capacity = var.size`; plan.json is its
//! `terraform show -json` shape (one line) lowering desired 6 -> 3 while 3 members terminate.

use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

const OUTAGE: &str = "testdata/scenarios/search-cluster-outage";
const ADDRESS: &str = r#"module.asg["search"].aws_autoscaling_group.this[0]"#;

fn config_dir() -> PathBuf {
    root().join("testdata/terraform/module-asg")
}

fn check(dir: &Path, plan: &str, extra: &[&str], format: &str) -> String {
    let observed = root().join(OUTAGE).join("asg.json");
    let config = root().join(OUTAGE).join("quorate.yaml");
    let mut args = vec![
        "check",
        plan,
        "--observed",
        observed.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--now",
        "2026-11-24T10:00:00Z",
        "--observed-at",
        "2026-11-24T09:58:30Z",
        "--format",
        format,
    ];
    args.extend(extra);
    let out = run_in(dir, &args);
    assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The 1-based line of `modules/asg/main.tf` that declares `desired_capacity`.
fn desired_line() -> usize {
    let tf = std::fs::read_to_string(config_dir().join("modules/asg/main.tf")).unwrap();
    tf.lines()
        .position(|l| l.trim_start().starts_with("desired_capacity"))
        .unwrap()
        + 1
}

#[test]
fn tf_root_puts_the_finding_on_the_desired_capacity_line_and_the_plan_second() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = config_dir().join("plan.json");
    let tf_root = config_dir();
    let extra = [
        "--tf-root",
        tf_root.to_str().unwrap(),
        "--root",
        tf_root.to_str().unwrap(),
    ];

    let report: Value =
        serde_json::from_str(&check(tmp.path(), plan.to_str().unwrap(), &extra, "json")).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let below = findings
        .iter()
        .find(|f| f["rule"] == "quorum/below-quorum")
        .unwrap();
    assert_eq!(below["change"], ADDRESS);
    assert_eq!(below["location"]["path"], "modules/asg/main.tf");
    assert_eq!(below["location"]["line"], desired_line());
    assert_eq!(below["location"]["column"], 3);
    let related = &below["related"][0];
    assert_eq!(related["path"], "plan.json");
    assert_eq!(
        related["pointer"],
        "/resource_changes/0/change/after/desired_capacity"
    );

    let sarif: Value =
        serde_json::from_str(&check(tmp.path(), plan.to_str().unwrap(), &extra, "sarif")).unwrap();
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "quorum/below-quorum")
        .unwrap();
    let primary = &result["locations"][0]["physicalLocation"];
    assert_eq!(primary["artifactLocation"]["uri"], "modules/asg/main.tf");
    assert_eq!(primary["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(primary["region"]["startLine"], desired_line());
    assert_eq!(primary["region"]["startColumn"], 3);
    // `desired_capacity    = var.size` ends the line
    assert_eq!(primary["region"]["endLine"], desired_line());
    assert_eq!(
        primary["region"]["endColumn"],
        3 + "desired_capacity    = var.size".len()
    );
    let plan_loc = &result["relatedLocations"][0]["physicalLocation"];
    assert_eq!(plan_loc["artifactLocation"]["uri"], "plan.json");
    assert_eq!(plan_loc["region"]["startLine"], 1);

    // The annotation a pull request shows is on the .tf line.
    let text = check(tmp.path(), plan.to_str().unwrap(), &extra, "github");
    assert!(
        text.contains(&format!(
            "file=modules/asg/main.tf,line={},",
            desired_line()
        )),
        "{text}"
    );
}

#[test]
fn the_configuration_in_the_working_directory_is_the_default() {
    let dir = config_dir();
    let report: Value =
        serde_json::from_str(&check(&dir, "plan.json", &["--root", "."], "json")).unwrap();
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["location"]["path"], "modules/asg/main.tf", "{f}");
        assert_eq!(f["location"]["line"], desired_line(), "{f}");
    }
}

#[test]
fn without_the_tf_files_findings_stay_in_the_plan() {
    // A plan copied where no .tf files are, and a --tf-root that does not hold the module.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(config_dir().join("plan.json"), tmp.path().join("plan.json")).unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for extra in [vec![], vec!["--tf-root", empty.to_str().unwrap()]] {
        let mut args = extra.clone();
        args.extend(["--root", "."]);
        let report: Value =
            serde_json::from_str(&check(tmp.path(), "plan.json", &args, "json")).unwrap();
        for f in report["findings"].as_array().unwrap() {
            assert_eq!(f["location"]["path"], "plan.json", "{extra:?}: {f}");
            assert!(f.get("related").is_none(), "{f}");
        }
    }
}
