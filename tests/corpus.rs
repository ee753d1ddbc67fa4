//! Real-world inputs from ../shared/corpus: every Terraform plan loads (the broken one gives
//! exit 2), every drift fixture yields drift findings on exactly its `resource_drift`
//! addresses, and every AWS / Elasticsearch observed-state file is read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::*;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    walk_ext(dir, "json", out);
}

fn walk_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            walk_ext(&p, ext, out);
        } else if p.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(p);
        }
    }
}

fn corpus_json() -> Vec<(PathBuf, serde_json::Value)> {
    let mut files = Vec::new();
    walk(&corpus(), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).ok();
            Some((p, v?))
        })
        .collect()
}

fn is_plan(v: &serde_json::Value) -> bool {
    v.get("resource_changes").is_some() || v.get("plan_format_version").is_some()
}

const NOW: [&str; 2] = ["--now", "2026-11-24T10:00:00Z"];

#[test]
fn every_corpus_plan_loads() {
    let plans: Vec<_> = corpus_json()
        .into_iter()
        .filter(|(_, v)| is_plan(v))
        .collect();
    assert!(
        plans.len() >= 15,
        "expected the corpus plans, found {}",
        plans.len()
    );
    let mut failures = Vec::new();
    for (path, plan) in &plans {
        let p = path.display().to_string();
        let out = run_in(&root(), &["check", &p, "--format", "json", NOW[0], NOW[1]]);
        if code(&out) == 2 {
            failures.push(format!("{p}: exit 2\n{}", stderr(&out)));
            continue;
        }
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let changes = plan["resource_changes"].as_array().map_or(0, Vec::len);
        if report["summary"]["changes"] != changes {
            failures.push(format!(
                "{p}: {} changes reported, plan has {changes}",
                report["summary"]["changes"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_broken_corpus_plan_exits_2_at_its_position() {
    let p = corpus().join("hashicorp__terraform-json/testdata/invalid/plan.json");
    let out = run_in(&root(), &["check", &p.display().to_string()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("plan.json:676:"), "{}", stderr(&out));
}

#[test]
fn drift_findings_cover_exactly_the_resource_drift_addresses() {
    let fixtures: Vec<_> = corpus_json()
        .into_iter()
        .filter(|(_, v)| {
            v["resource_drift"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    assert!(
        fixtures.len() >= 7,
        "expected the corpus drift fixtures, found {}",
        fixtures.len()
    );
    let mut failures = Vec::new();
    for (path, plan) in &fixtures {
        let p = path.display().to_string();
        let expected: BTreeSet<String> = plan["resource_drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["address"].as_str().unwrap().to_string())
            .collect();
        let out = run_in(&root(), &["check", &p, "--format", "json", NOW[0], NOW[1]]);
        assert_ne!(code(&out), 2, "{p}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        // Each drift finding points into resource_drift[N]: map it back to N's address.
        let found: BTreeSet<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("drift/"))
            .map(|f| {
                let pointer = f["location"]["pointer"].as_str().unwrap();
                let index: usize = pointer.split('/').nth(2).unwrap().parse().unwrap();
                plan["resource_drift"][index]["address"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if found != expected {
            failures.push(format!(
                "{p}: drift findings on {found:?}, resource_drift has {expected:?}"
            ));
        }
        // Drift on a resource the plan also changes is a deny; on an untouched one a warn.
        for f in report["findings"].as_array().unwrap() {
            let rule = f["rule"].as_str().unwrap();
            if rule == "drift/change-on-drifted-resource" && f["severity"] != "deny"
                || rule == "drift/unmanaged-change" && f["severity"] != "warn"
            {
                failures.push(format!("{p}: {rule} has severity {}", f["severity"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_observed_file_is_read() {
    let outage = root()
        .join("testdata/scenarios/search-cluster-outage/plan.json")
        .display()
        .to_string();
    let observed: Vec<_> = corpus_json()
        .into_iter()
        .filter(|(_, v)| {
            [
                "AutoScalingGroups",
                "AutoScalingInstances",
                "Activities",
                "Reservations",
                "cluster_name",
            ]
            .iter()
            .any(|k| v.get(k).is_some())
                || v.as_array()
                    .is_some_and(|a| a.iter().all(|n| n.get("ip").is_some()))
        })
        .collect();
    assert!(
        observed.len() >= 11,
        "expected the corpus observed files, found {}",
        observed.len()
    );
    for (path, _) in &observed {
        let p = path.display().to_string();
        // _cat/nodes names no cluster: say which group it is.
        let spec = if p.contains("CatNodes") {
            format!("search-prod={p}")
        } else {
            p.clone()
        };
        let out = run_in(
            &root(),
            &[
                "check",
                &outage,
                "--observed",
                &spec,
                "--format",
                "json",
                NOW[0],
                NOW[1],
                "--emit-input",
            ],
        );
        assert_eq!(code(&out), 0, "{p}: {}", stderr(&out));
        let input: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let groups = input["observed"]["groups"].as_object().unwrap();
        // EC2 instances outside any Auto Scaling group only join a group whose change manages
        // them; an ASG without a name is skipped with a notice. Everything else names a group.
        let standalone = p.contains("ec2/describe-instances") || p.contains("health-checks");
        assert!(
            standalone || !groups.is_empty(),
            "{p}: no observed group read"
        );
        if p.contains("describe-auto-scaling-groups") || p.contains("describe-scaling-activities") {
            assert!(groups.contains_key("my-asg"), "{p}: {groups:?}");
        }
        if p.contains("ClusterHealth") {
            assert_eq!(groups["testcluster"]["health"], "yellow", "{p}");
        }
    }
}

#[test]
fn asg_lifecycle_states_map_onto_the_model() {
    let input = {
        let outage = root().join("testdata/scenarios/search-cluster-outage");
        let out = run_in(
            &outage,
            &[
                "check",
                "plan.json",
                "--observed",
                "asg.json",
                "--emit-input",
                NOW[0],
                NOW[1],
            ],
        );
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let members = input["observed"]["groups"]["search-prod"]["members"]
        .as_array()
        .unwrap();
    let states: Vec<(&str, &str, bool)> = members
        .iter()
        .map(|m| {
            (
                m["state"].as_str().unwrap(),
                m["raw_state"].as_str().unwrap(),
                m["healthy"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states.iter().filter(|s| s.0 == "terminating").count(),
        3,
        "{states:?}"
    );
    assert!(states.contains(&("terminating", "Terminating:Wait", false)));
    assert!(states.contains(&("running", "InService", true)));
    let capacity = &input["changes"][0]["capacity"];
    assert_eq!(capacity["before"], 6);
    assert_eq!(capacity["after"], 3);
    assert_eq!(capacity["unknown"], false);
    assert_eq!(input["drift"][0]["committed"], 3);
    assert_eq!(input["drift"][0]["live"], 6);
}

/// Regression (issue 9): none of the corpus's public plans and manifests takes a quorum group
/// down, so none may be denied. Before the effects step, six plans were (drift on strings and
/// test attributes, among them Terraform's own drift_simple); each is now a
/// drift/overrides-manual-change warning naming the reverted hand change.
#[test]
fn no_corpus_plan_or_manifest_is_denied() {
    let mut inputs: Vec<PathBuf> = corpus_json()
        .into_iter()
        .filter(|(p, v)| is_plan(v) && !p.ends_with("invalid/plan.json"))
        .map(|(p, _)| p)
        .collect();
    let before = inputs.len();
    let mut yaml = Vec::new();
    walk_ext(&corpus(), "yaml", &mut yaml);
    inputs.extend(yaml.into_iter().filter(|p| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        [
            "Deployment",
            "StatefulSet",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
        ]
        .iter()
        .any(|k| text.contains(&format!("kind: {k}\n")))
    }));
    assert!(
        before >= 20 && inputs.len() - before >= 10,
        "corpus inputs missing: {inputs:?}"
    );
    let mut denied = Vec::new();
    let mut warned = 0;
    for p in &inputs {
        let p = p.display().to_string();
        let out = run_in(&root(), &["check", &p, "--format", "json", NOW[0], NOW[1]]);
        assert_ne!(code(&out), 2, "{p}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        if report["summary"]["deny"] != 0 {
            denied.push(format!("{p}: {}", report["findings"]));
        }
        warned += report["summary"]["warn"].as_u64().unwrap();
    }
    assert!(denied.is_empty(), "{}", denied.join("\n"));
    assert!(warned >= 6, "the six drifted plans warn: {warned}");
}
