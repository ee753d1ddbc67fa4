//! conftest compatibility, proven on conftest's own example policies and inputs
//! (../shared/corpus/open-policy-agent__conftest): run unchanged with `--policy`, they give the
//! verdicts conftest's `acceptance.bats` expects (exit code and messages). Also Rego v0
//! policies, `deny_<name>` rules with `exception`s, namespaces and bundles.

use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

fn conftest() -> PathBuf {
    corpus().join("open-policy-agent__conftest")
}

/// `quorate check ARGS --format json` in the conftest checkout: (exit code, report).
fn check(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = run_in(&conftest(), &all);
    let report = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "quorate {all:?}: not JSON ({e})\nstdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        )
    });
    (code(&out), report)
}

/// (rule, severity, message) of the findings from conftest namespaces (`<ns>/<rule>`).
fn conftest_findings(report: &Value, key: &str) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("main/"))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

const K8S_POLICY: &str = "examples/kubernetes/policy";
const SERVICE: &str = "examples/kubernetes/service.yaml";
const DEPLOYMENT: &str = "examples/kubernetes/deployment.yaml";

fn deployment_failures() -> Vec<(String, String, String)> {
    let mut v = vec![
        ("main/deny", "Containers must not run as root in Deployment hello-kubernetes"),
        ("main/deny", "Deployment hello-kubernetes must provide app/release labels for pod selectors"),
        ("main/deny", "hello-kubernetes must include Kubernetes recommended labels: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/#labels"),
        ("main/violation", "Found deployment hello-kubernetes but deployments are not allowed"),
    ]
    .into_iter()
    .map(|(r, m)| (r.to_string(), "deny".to_string(), m.to_string()))
    .collect::<Vec<_>>();
    v.sort();
    v
}

fn service_warning() -> Vec<(String, String, String)> {
    vec![(
        "main/warn".into(),
        "warn".into(),
        "Found service hello-kubernetes but services are not allowed".into(),
    )]
}

#[test]
fn kubernetes_examples_give_the_acceptance_verdicts() {
    // "Pass when testing a service": 5 tests, 4 passed, 1 warning, 0 failures.
    let (c, r) = check(&["-p", K8S_POLICY, SERVICE]);
    assert_eq!(c, 0, "{r}");
    assert_eq!(conftest_findings(&r, "findings"), service_warning());
    // The warning sits at the document: file and line of its start.
    let f = &r["findings"][0];
    assert_eq!(f["location"]["path"], SERVICE);
    assert_eq!(f["location"]["line"], 1);

    // "Not fail when passed an explicit blank filename".
    let (c, _) = check(&["-p", K8S_POLICY, SERVICE, ""]);
    assert_eq!(c, 0);

    // "Fail when testing a deployment with root containers"; "Output results only once":
    // four failures, each once.
    let (c, r) = check(&["-p", K8S_POLICY, DEPLOYMENT]);
    assert_eq!(c, 1);
    assert_eq!(conftest_findings(&r, "findings"), deployment_failures());

    // "Fail when testing a service with warnings" (--fail-on-warn).
    let (c, _) = check(&["-p", K8S_POLICY, SERVICE, "--fail-on", "warn"]);
    assert_eq!(c, 1);

    // "Pass when testing a blank namespace".
    let (c, r) = check(&["--namespace", "notpresent", "-p", K8S_POLICY, DEPLOYMENT]);
    assert_eq!(c, 0, "{r}");
    assert!(conftest_findings(&r, "findings").is_empty());
    assert!(
        r["notices"]
            .to_string()
            .contains("neither under `quorate.` nor a conftest namespace"),
        "{r}"
    );

    // "Multi-file tests correctly fail when last file is fine".
    let (c, r) = check(&["-p", K8S_POLICY, DEPLOYMENT, SERVICE]);
    assert_eq!(c, 1);
    let mut both = deployment_failures();
    both.extend(service_warning());
    both.sort();
    assert_eq!(conftest_findings(&r, "findings"), both);

    // --all-namespaces: "5 tests, 1 passed, 0 warnings, 4 failures".
    let (c, r) = check(&["--all-namespaces", "-p", K8S_POLICY, DEPLOYMENT]);
    assert_eq!(c, 1);
    assert_eq!(conftest_findings(&r, "findings"), deployment_failures());

    // Namespace globs, as conftest 0.5x: `ma*` matches main.
    let (c, _) = check(&["--namespace", "ma*", "-p", K8S_POLICY, DEPLOYMENT]);
    assert_eq!(c, 1);
}

#[test]
fn a_yaml_document_on_stdin_is_read() {
    // "Pass when testing a YAML document via stdin".
    let out = std::process::Command::new(bin())
        .args(["check", "-p", K8S_POLICY, "-", "--format", "json"])
        .current_dir(conftest())
        .env("NO_COLOR", "1")
        .stdin(std::fs::File::open(conftest().join(SERVICE)).unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(conftest_findings(&r, "findings"), service_warning());
}

#[test]
fn terraform_plan_example_is_denied_with_conftests_message() {
    // "Can parse ... gke-show.json": exit 1 and the prohibited-resources message. The plan is
    // also a quorate input (two creates); conftest policies see it raw.
    let (c, r) = check(&[
        "-p",
        "examples/hcl1/policy/base.rego",
        "examples/hcl1/gke-show.json",
    ]);
    assert_eq!(c, 1);
    assert_eq!(
        conftest_findings(&r, "findings"),
        vec![(
            "main/deny".into(),
            "deny".into(),
            "Terraform plan will change prohibited resources in the following namespaces: google_iam, google_container".into()
        )]
    );
    assert_eq!(r["summary"]["changes"], 2);
    // gke.rego (`count(input.resource) == 0`) finds nothing to say about a plan.
    let (c, r) = check(&[
        "-p",
        "examples/hcl1/policy/gke.rego",
        "examples/hcl1/gke-show.json",
    ]);
    assert_eq!(c, 0, "{r}");
}

#[test]
fn conftest_verify_example_tests_pass_through_quorate_test() {
    // "Can verify rego tests": 4 tests, 4 passed.
    let out = run_in(&conftest(), &["test", K8S_POLICY]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).lines().last(), Some("4 passed, 0 failed"));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A pre-1.0 conftest policy (Rego v0: `deny_x[msg] { ... }`, `exception[rules] { ... }`).
const V0_POLICY: &str = r#"package main

deny_run_as_root[msg] {
  input.kind == "Deployment"
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := sprintf("Containers must not run as root in %s", [input.metadata.name])
}

warn_no_owner[msg] {
  not input.metadata.labels.owner
  msg := sprintf("%s has no owner label", [input.metadata.name])
}

exception[rules] {
  input.metadata.name == "can-run-as-root"
  rules := ["run_as_root"]
}

test_root_is_denied {
  deny_run_as_root[_] with input as {"kind": "Deployment", "metadata": {"name": "x"}}
}
"#;

const TWO_DEPLOYMENTS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: can-run-as-root
  labels: {owner: a}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
";

#[test]
fn rego_v0_policies_with_prefixed_rules_and_exceptions() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(tmp.path(), "policy/v0.rego", V0_POLICY);
    let input = write(tmp.path(), "deploys.yaml", TWO_DEPLOYMENTS);
    let out = run_in(
        tmp.path(),
        &["check", "-p", &policy, &input, "--format", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // Each YAML document is its own `input`; findings point at the document's first line.
    let got: Vec<(String, String, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["message"].as_str().unwrap().into(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "main/deny_run_as_root".into(),
                "Containers must not run as root in web".into(),
                7
            ),
            (
                "main/warn_no_owner".into(),
                "web has no owner label".into(),
                7
            ),
        ]
    );
    // The exempted deny is reported as waived by the exception, like conftest's EXCP line.
    assert_eq!(r["waived"][0]["rule"], "main/deny_run_as_root");
    assert_eq!(
        r["waived"][0]["waiver"]["reason"],
        "conftest exception: data.main.exception[_][_] == \"run_as_root\""
    );
    assert_eq!(r["waived"][0]["location"]["line"], 1);
    // The v0 file's tests run too.
    let out = run_in(tmp.path(), &["test", &policy]);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("1 passed, 0 failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn documents_quorate_does_not_read_need_a_conftest_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(tmp.path(), "app.yaml", "name: web\nport: 8080\n");
    // Without conftest policies an unrecognized document is still bad input (exit 2).
    let out = run_in(tmp.path(), &["check", &input]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("app.yaml:1:1: unrecognized document"),
        "{}",
        stderr(&out)
    );
    // With one, it is that policy's input.
    let policy = write(
        tmp.path(),
        "p/port.rego",
        "package main\n\ndeny contains sprintf(\"port %d is not allowed\", [input.port]) if input.port < 9000\n",
    );
    let out = run_in(
        tmp.path(),
        &["check", "-p", &policy, &input, "--format", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["findings"][0]["message"], "port 8080 is not allowed");
    assert_eq!(r["summary"]["changes"], 0);
}

#[test]
fn broken_conftest_rules_are_policy_errors_not_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(tmp.path(), "app.yaml", "name: web\n");
    for (rego, expect) in [
        // `deny if` is a boolean, not a set of messages: conftest refuses it too.
        (
            "package main\n\ndeny if input.name == \"web\"\n",
            "boolean rule",
        ),
        (
            "package main\n\ndeny contains {\"message\": \"x\"} if true\n",
            "has no `msg`",
        ),
    ] {
        let policy = write(tmp.path(), "p/bad.rego", rego);
        let out = run_in(tmp.path(), &["check", "-p", &policy, &input]);
        assert_eq!(code(&out), 2, "{rego}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{rego}: {}", stderr(&out));
        assert!(stderr(&out).contains("app.yaml"), "{}", stderr(&out));
    }
}
