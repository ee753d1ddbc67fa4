//! deploy/: the manifests validate against the Kubernetes 1.32 schemas with the real
//! `kubernetes-validate` tool (PyPI; `.ci/run` installs it and sets QUORATE_K8S_VALIDATE to its
//! directory), and say what the webhook needs: the scale subresources, pod deletes and
//! evictions, v1 reviews, no side effects, a timeout above quorate's own request timeout,
//! probes on /healthz and /readyz, two non-root replicas with a read-only root filesystem.

mod common;

use std::process::Command;

use quorate::error::Stage;
use quorate::text::{parse_yaml, SourceText};
use serde_json::Value;

fn docs() -> Vec<(String, Value)> {
    let dir = common::root().join("deploy");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let src = SourceText::read(&f.display().to_string(), Stage::Input, 1 << 20).unwrap();
        for d in parse_yaml(&src, Stage::Input).unwrap() {
            out.push((f.display().to_string(), d.value));
        }
    }
    out
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    &docs
        .iter()
        .find(|(_, d)| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/"))
        .1
}

#[test]
fn manifests_validate_against_kubernetes_schemas() {
    let files: Vec<String> = std::fs::read_dir(common::root().join("deploy"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    let path = std::env::var("QUORATE_K8S_VALIDATE").ok();
    let mut cmd = Command::new("python3");
    if let Some(p) = &path {
        cmd.env("PYTHONPATH", p);
    }
    cmd.args(["-m", "kubernetes_validate", "--strict", "-k", "1.32.0"])
        .args(&files);
    let out = cmd.output();
    let missing = out.as_ref().map_or(true, |o| {
        String::from_utf8_lossy(&o.stderr).contains("No module named")
    });
    if missing {
        assert!(
            std::env::var_os("QUORATE_REQUIRE_K8S_VALIDATE").is_none(),
            "kubernetes-validate is required here but not installed (see .ci/run)"
        );
        eprintln!(
            "kubernetes-validate not installed: schema validation of deploy/ skipped (run .ci/run)"
        );
        return;
    }
    let out = out.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "deploy/ does not validate:\n{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        docs().len(),
        "{text}"
    );
}

#[test]
fn webhook_configuration_covers_what_quorate_judges() {
    let docs = docs();
    let vwc = find(&docs, "ValidatingWebhookConfiguration");
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["admissionReviewVersions"], serde_json::json!(["v1"]));
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["failurePolicy"], "Fail", "the documented choice");
    assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
    let timeout = hook["timeoutSeconds"].as_u64().unwrap();
    let mut covered = Vec::new();
    for rule in hook["rules"].as_array().unwrap() {
        for op in rule["operations"].as_array().unwrap() {
            for res in rule["resources"].as_array().unwrap() {
                covered.push(format!(
                    "{} {}",
                    op.as_str().unwrap(),
                    res.as_str().unwrap()
                ));
            }
        }
    }
    for want in [
        "UPDATE statefulsets/scale",
        "UPDATE deployments/scale",
        "UPDATE replicasets/scale",
        "UPDATE statefulsets",
        "DELETE statefulsets",
        "DELETE pods",
        "CREATE pods/eviction",
        "UPDATE elasticsearches",
    ] {
        assert!(
            covered.contains(&want.to_string()),
            "webhook rules lack {want}: {covered:?}"
        );
    }
    let excluded = &hook["namespaceSelector"]["matchExpressions"][0]["values"];
    assert!(
        excluded.as_array().unwrap().iter().any(|v| v == "quorate"),
        "never judges its own namespace"
    );

    let deployment = find(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["requests"]["memory"].is_string()
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "serve");
    let request_timeout = args
        .iter()
        .find_map(|a| a.strip_prefix("--request-timeout="))
        .unwrap();
    let secs: u64 = request_timeout.trim_end_matches('s').parse().unwrap();
    assert!(
        secs < timeout,
        "quorate must answer before the API server's timeoutSeconds"
    );

    let pdb = find(&docs, "PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let role = find(&docs, "ClusterRole");
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(
            rule["verbs"],
            serde_json::json!(["get", "list", "watch"]),
            "lookups are read-only"
        );
    }
}
