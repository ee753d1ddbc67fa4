//! The human and compact reports on inputs shaped like the real thing: `terraform show -json`
//! writes one minified line, generated plans run to megabytes, configs have long lines. The
//! report costs O(findings), never panics, and says where a finding is in a reader's terms.

use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

const NOW: [&str; 4] = [
    "--now",
    "2026-11-24T10:00:00Z",
    "--observed-at",
    "2026-11-24T09:59:00Z",
];

fn outage() -> Value {
    let p = root().join("testdata/scenarios/search-cluster-outage/plan.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The outage scenario's plan, minified, with its observed state and config, in `dir`.
fn write_outage(dir: &Path, plan: &Value) {
    std::fs::write(dir.join("plan.json"), serde_json::to_string(plan).unwrap()).unwrap();
    for f in ["asg.json", "quorate.yaml"] {
        std::fs::copy(
            root()
                .join("testdata/scenarios/search-cluster-outage")
                .join(f),
            dir.join(f),
        )
        .unwrap();
    }
}

fn check(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "check",
        "plan.json",
        "--observed",
        "asg.json",
        "--color",
        "never",
    ];
    args.extend(NOW);
    args.extend(extra);
    run_in(dir, &args)
}

/// Regression (issue 10): findings past column 65,535 of a line crashed the report inside
/// miette (exit 101).
#[test]
fn findings_past_column_65535_of_a_minified_plan_are_reported() {
    let mut plan = outage();
    let pad: Vec<Value> = (0..400)
        .map(|i| {
            let values = json!({"id": i.to_string(), "triggers": {"v": "x".repeat(200)}});
            json!({"address": format!("null_resource.pad[{i}]"), "mode": "managed", "type": "null_resource", "name": "pad", "index": i,
                "provider_name": "registry.terraform.io/hashicorp/null",
                "change": {"actions": ["no-op"], "before": values, "after": values, "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}})
        })
        .collect();
    let changes = plan["resource_changes"].as_array().unwrap().clone();
    plan["resource_changes"] = Value::Array(pad.into_iter().chain(changes).collect());
    let dir = tempfile::tempdir().unwrap();
    write_outage(dir.path(), &plan);
    let out = check(dir.path(), &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.len() < 4_000, "{} bytes:\n{text}", text.len());
    // Said in terms a reader knows, at the real (huge) column.
    assert!(
        text.contains("aws_autoscaling_group.search: desired_capacity = 3"),
        "{text}"
    );
    let col: usize = text
        .split("at plan.json:1:")
        .skip(1)
        .filter_map(|s| s.split(':').next()?.parse().ok())
        .max()
        .unwrap();
    assert!(col > 65_535, "{text}");
}

/// Regression (issue 10): the outage plan minified (6.8 KB) gave a 60 KB report, each snippet
/// the whole line with thousands of columns underlined.
#[test]
fn a_minified_plan_gives_a_short_report() {
    let dir = tempfile::tempdir().unwrap();
    write_outage(dir.path(), &outage());
    let out = check(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(text.len() < 3_000, "{} bytes:\n{text}", text.len());
    assert!(
        text.contains("aws_autoscaling_group.search (live): desired_capacity = 6"),
        "{text}"
    );
    // Instance ids are wrapped as whole words.
    for id in [
        "i-0a1f3c5e7b9d10001",
        "i-0a1f3c5e7b9d10002",
        "i-0a1f3c5e7b9d10003",
    ] {
        assert!(text.contains(id), "{id} split:\n{text}");
    }
}

/// HCP Terraform's redacted plan: one finding gave 288 KB.
#[test]
fn the_hcp_terraform_plan_gives_a_short_report() {
    let p = corpus()
        .join("hashicorp__terraform/internal/cloud/testdata/plan-json-full/plan-redacted.json");
    let out = run_in(
        &root(),
        &[
            "check",
            &p.display().to_string(),
            "--color",
            "never",
            NOW[0],
            NOW[1],
        ],
    );
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("tfcoremock_simple_resource.example"),
        "{text}"
    );
    assert!(text.len() < 2_000, "{} bytes:\n{text}", text.len());
}

/// A generated plan of megabytes on one line: the report grows with the findings, not the input.
#[test]
fn report_size_is_bounded_by_the_findings_on_a_large_minified_plan() {
    let changes: Vec<Value> = (0..3_000)
        .map(|i| {
            let before = json!({"name": format!("worker-{i}"), "desired_capacity": 3, "min_size": 0, "max_size": 9,
                "tag": [{"key": "note", "value": "z".repeat(300), "propagate_at_launch": true}]});
            json!({"address": format!("module.fleet.aws_autoscaling_group.this[\"worker-{i}\"]"), "module_address": "module.fleet",
                "mode": "managed", "type": "aws_autoscaling_group", "name": "this", "index": format!("worker-{i}"),
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": ["delete"], "before": before, "after": null, "after_unknown": {}, "before_sensitive": {}, "after_sensitive": false}})
        })
        .collect();
    let plan =
        json!({"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes});
    let dir = tempfile::tempdir().unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.len() > 1_500_000 && !text.contains('\n'));
    std::fs::write(dir.path().join("plan.json"), text).unwrap();
    let out = run_in(
        dir.path(),
        &["check", "plan.json", "--color", "never", NOW[0], NOW[1]],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("3000 warn"),
        "{}",
        &report[report.len().saturating_sub(300)..]
    );
    assert!(
        report.len() < 3_000 * 1_000,
        "{} bytes for 3,000 findings",
        report.len()
    );
    let compact = stdout(&run_in(
        dir.path(),
        &["check", "plan.json", "--format", "compact", NOW[0], NOW[1]],
    ));
    assert_eq!(
        compact.lines().count(),
        3_001,
        "one line per finding and a summary"
    );
    assert!(
        compact.lines().next().unwrap().starts_with("plan.json:1:"),
        "{compact:.300}"
    );
}

/// Regression (issue 10): a long line in quorate.yaml reached the same panic through the
/// config error's snippet.
#[test]
fn a_config_error_on_a_long_line_is_quoted_clipped() {
    let dir = tempfile::tempdir().unwrap();
    write_outage(dir.path(), &outage());
    let yaml = format!(
        "groups:\n  {}:\n    quorum: majority\n    qourum: 3\n",
        "a".repeat(70_000)
    );
    std::fs::write(dir.path().join("quorate.yaml"), yaml).unwrap();
    let out = check(dir.path(), &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.len() < 2_000, "{} bytes", err.len());
    assert!(err.contains("quorate.yaml:2:"), "{err}");
    assert!(err.contains("bytes long; columns"), "{err}");
}

#[test]
fn compact_format_is_one_line_per_finding() {
    let dir = tempfile::tempdir().unwrap();
    write_outage(dir.path(), &outage());
    let out = check(dir.path(), &["--format", "compact"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("plan.json:1:")
            && lines[0].contains(": deny drift/change-on-drifted-resource: "),
        "{text}"
    );
    assert_eq!(lines[4], "4 deny, 0 warn, 0 waived across 1 change");
}
