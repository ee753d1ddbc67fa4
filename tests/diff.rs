//! `quorate diff` on real git repositories made in temp dirs with the `git` CLI.

use std::path::Path;

use crate::common::*;

pub fn etcd(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: etcd\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n"
    )
}

fn commit(dir: &Path, path: &str, text: &str, msg: &str) {
    commit_all(dir, &[(path, text)], msg);
}

fn json_report(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["diff"];
    a.extend(args);
    a.extend(["--format", "json"]);
    let out = run_in(dir, &a);
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    (code(&out), serde_json::from_str(&stdout(&out)).unwrap())
}

fn rules(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn etcd_five_to_two_is_refused_with_the_line_and_five_to_four_passes() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(5))]);
    let d = repo.path();
    commit(d, "k8s/etcd.yaml", &etcd(2), "scale etcd to 2");
    let out = run_in(d, &["diff", "HEAD~1", "HEAD", "--color", "never"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("quorum/multiple-voters-at-once"), "{text}");
    assert!(text.contains("k8s/etcd.yaml:7:3"), "{text}");
    assert!(
        text.contains("7 │   replicas: 2"),
        "the head snippet is shown:\n{text}"
    );

    commit(d, "k8s/etcd.yaml", &etcd(5), "back to 5");
    commit(d, "k8s/etcd.yaml", &etcd(4), "one step down");
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["deny"], 0, "{report}");
    assert_eq!(report["summary"]["changes"], 1);
}

#[test]
fn moving_an_object_between_files_is_not_a_delete_and_create() {
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: platform\ndata:\n  a: b\n";
    let repo = repo_with(&[
        ("k8s/etcd.yaml", etcd(5)),
        ("k8s/all.yaml", other.to_string()),
    ]);
    let d = repo.path();
    std::fs::remove_file(d.join("k8s/etcd.yaml")).unwrap();
    commit(
        d,
        "k8s/all.yaml",
        &format!("{other}---\n{}", etcd(5)),
        "merge files",
    );
    let (_, report) = json_report(d, &["HEAD~1..HEAD"]);
    assert_eq!(
        report["summary"]["changes"], 0,
        "an unchanged object moved files: {report}"
    );

    // Moved and scaled in the same commit: one update, located in the new file.
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    commit(d, "k8s/all.yaml", other, "split again and scale");
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["changes"], 1, "{report}");
    assert_eq!(report["findings"][0]["location"]["path"], "k8s/etcd.yaml");
}

#[test]
fn deleting_a_workload_removes_every_member() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(3))]);
    let d = repo.path();
    std::fs::remove_file(d.join("k8s/etcd.yaml")).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "remove etcd"]);
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 1);
    assert!(
        rules(&report).contains(&"quorum/removes-all-members".to_string()),
        "{report}"
    );
    let path = report["findings"][0]["location"]["path"].as_str().unwrap();
    assert!(
        path.starts_with("k8s/etcd.yaml@"),
        "a deleted object is quoted from the base revision: {path}"
    );
}

fn ledger(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: ledger\n  namespace: payments\nspec:\n  replicas: {replicas}\n  serviceName: ledger\n  selector:\n    matchLabels:\n      app: ledger\n  template:\n    metadata:\n      labels:\n        app: ledger\n    spec:\n      containers:\n        - name: ledger\n          image: example.com/ledger:2.1\n"
    )
}

const LEDGER_PDB: &str = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: ledger\n  namespace: payments\nspec:\n  minAvailable: 3\n  selector:\n    matchLabels:\n      app: ledger\n";

#[test]
fn a_pdb_in_an_unchanged_file_declares_quorum_for_the_changed_workload() {
    // The PDB sits in its own file the commit does not touch; the image is no known consensus
    // system, so the PDB is the only thing that makes `ledger` a quorum group.
    let repo = repo_with(&[
        ("k8s/ledger.yaml", ledger(5)),
        ("k8s/policy/ledger-pdb.yaml", LEDGER_PDB.to_string()),
    ]);
    let d = repo.path();
    commit(d, "k8s/ledger.yaml", &ledger(2), "scale ledger to 2");
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 1, "{report}");
    let found = rules(&report);
    assert!(
        found.contains(&"quorum/below-quorum".to_string()),
        "{report}"
    );
    // ledger is no consensus system: its PDB says how many must stay, not that they vote.
    assert!(
        !found.contains(&"quorum/multiple-voters-at-once".to_string()),
        "{report}"
    );
    assert_eq!(report["summary"]["changes"], 1, "{report}");

    // The same through the index (pre-commit): the PDB is read from the index, not HEAD.
    std::fs::write(d.join("k8s/ledger.yaml"), ledger(1)).unwrap();
    git(d, &["add", "k8s/ledger.yaml"]);
    let (code, report) = json_report(d, &["--staged"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        rules(&report).contains(&"quorum/below-quorum".to_string()),
        "{report}"
    );

    // Without the PDB the same scale-down is no quorum matter.
    let plain = repo_with(&[("k8s/ledger.yaml", ledger(5))]);
    commit(
        plain.path(),
        "k8s/ledger.yaml",
        &ledger(2),
        "scale ledger to 2",
    );
    let (code, report) = json_report(plain.path(), &["HEAD~1", "HEAD"]);
    assert!(
        !rules(&report).iter().any(|r| r.starts_with("quorum/")),
        "{report}"
    );
    assert_eq!(code, 0, "{report}");
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: {name}\n          image: {image}\n"
    )
}

const NON_ROOT_POLICY: &str = "package main\n\ndeny contains msg if {\n\tinput.kind == \"Deployment\"\n\tnot input.spec.template.spec.securityContext.runAsNonRoot\n\tmsg := sprintf(\"%s must run as non-root\", [input.metadata.name])\n}\n";

#[test]
fn conftest_policies_see_each_document_of_the_changed_files() {
    let repo = repo_with(&[
        ("k8s/web.yaml", deployment("web", "nginx:1.26")),
        ("k8s/legacy.yaml", deployment("legacy", "nginx:1.20")),
        ("policy/security.rego", NON_ROOT_POLICY.to_string()),
    ]);
    let d = repo.path();
    commit(
        d,
        "k8s/web.yaml",
        &deployment("web", "nginx:1.27"),
        "bump web",
    );
    let (code, report) = json_report(d, &["HEAD~1", "HEAD", "--policy", "policy"]);
    assert_eq!(code, 1, "{report}");
    let findings = report["findings"].as_array().unwrap();
    let conftest: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["rule"] == "main/deny")
        .collect();
    // Only the changed file's document: legacy.yaml breaks the rule too but is not in the diff.
    assert_eq!(conftest.len(), 1, "{report}");
    assert_eq!(conftest[0]["message"], "web must run as non-root");
    assert_eq!(conftest[0]["location"]["path"], "k8s/web.yaml");
    assert_eq!(conftest[0]["location"]["line"], 1);
}

#[test]
fn staged_sees_the_index_not_the_work_tree() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(5))]);
    let d = repo.path();
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    let (code, report) = json_report(d, &["--staged"]);
    assert_eq!(
        (code, report["summary"]["changes"].as_u64()),
        (0, Some(0)),
        "nothing staged yet: {report}"
    );
    git(d, &["add", "k8s/etcd.yaml"]);
    let (code, report) = json_report(d, &["--staged"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["findings"][0]["location"]["path"], "k8s/etcd.yaml");
}

#[test]
fn default_range_is_the_branch_since_its_merge_base() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(5))]);
    let d = repo.path();
    git(d, &["checkout", "-qb", "scale-down"]);
    commit(d, "k8s/etcd.yaml", &etcd(4), "step 1");
    commit(d, "k8s/etcd.yaml", &etcd(3), "step 2");
    // main moves on independently: its commits are not part of the branch's change.
    git(d, &["checkout", "-q", "main"]);
    commit(d, "README.md", "docs\n", "docs");
    git(d, &["checkout", "-q", "scale-down"]);
    let (code, report) = json_report(d, &[]);
    assert_eq!(
        code, 1,
        "5 -> 3 over the branch removes two voters: {report}"
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("(5 -> 3)")),
        "{report}"
    );
    let (_, three_dots) = json_report(d, &["main...scale-down"]);
    assert_eq!(three_dots["findings"], report["findings"]);
}

#[test]
fn bad_revisions_and_non_repositories_exit_2() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(5))]);
    let out = run_in(repo.path(), &["diff", "no-such-rev", "HEAD"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown revision `no-such-rev`"),
        "{}",
        stderr(&out)
    );
    let plain = tempfile::tempdir().unwrap();
    let out = run_in(plain.path(), &["diff"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a git repository"),
        "{}",
        stderr(&out)
    );
    // A broken manifest in the head revision is the user's to fix: a finding at file and line
    // (tests/diff_inputs.rs has more).
    commit(
        repo.path(),
        "k8s/etcd.yaml",
        "apiVersion: apps/v1\nkind: [StatefulSet\n",
        "break",
    );
    let out = run_in(repo.path(), &["diff", "HEAD~1", "HEAD", "--color", "never"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("k8s/etcd.yaml:3:1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_plan_is_checked_together_with_the_manifests() {
    let repo = repo_with(&[("k8s/etcd.yaml", etcd(5))]);
    let d = repo.path();
    commit(d, "k8s/etcd.yaml", &etcd(4), "step");
    let plan = root().join("testdata/scenarios/search-cluster-outage/plan.json");
    let (code, report) = json_report(d, &["HEAD~1", "HEAD", "--plan", plan.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["changes"], 2);
    assert!(rules(&report).contains(&"drift/change-on-drifted-resource".to_string()));
}

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 4\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:2.4.1\n";
const WEB_HPA: &str = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n  minReplicas: 3\n  maxReplicas: 10\n";

/// Regression (issue 9): retiring a stateless app gave two denials, one of them "the HPA
/// removes every member of the Deployment (10 -> 0)". An HPA has no members; a Deployment
/// with no declared quorum that goes away is a warning, counted from its own 4 replicas.
#[test]
fn retiring_a_stateless_app_with_an_hpa_is_one_warning() {
    let repo = repo_with(&[
        ("k8s/web.yaml", WEB.to_string()),
        ("k8s/web-hpa.yaml", WEB_HPA.to_string()),
    ]);
    let d = repo.path();
    std::fs::remove_file(d.join("k8s/web.yaml")).unwrap();
    std::fs::remove_file(d.join("k8s/web-hpa.yaml")).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "retire web"]);
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["deny"], 0, "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["rule"], "quorum/removes-all-members");
    assert_eq!(findings[0]["severity"], "warn");
    assert_eq!(findings[0]["change"], "shop/Deployment/web");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("(4 -> 0)"),
        "{report}"
    );
}

/// An HPA owns its target's replicas: lowering the manifest's replicas under an HPA removes
/// nothing, but lowering the HPA's maximum below the current count scales the target down.
#[test]
fn hpa_bounds_decide_the_replicas_of_its_target() {
    let quorum_web = WEB.replace(
        "  namespace: shop\n",
        "  namespace: shop\n  annotations:\n    quorate.dev/quorum: \"2\"\n",
    );
    let repo = repo_with(&[
        ("k8s/web.yaml", quorum_web.clone()),
        ("k8s/web-hpa.yaml", WEB_HPA.to_string()),
        (
            "quorate.yaml",
            "groups:\n  shop/Deployment/web:\n    quorum: 2\n".to_string(),
        ),
    ]);
    let d = repo.path();
    commit(
        d,
        "k8s/web.yaml",
        &quorum_web.replace("replicas: 4", "replicas: 1"),
        "lower replicas",
    );
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 0, "the HPA keeps at least 3: {report}");
    commit(
        d,
        "k8s/web-hpa.yaml",
        &WEB_HPA
            .replace("maxReplicas: 10", "maxReplicas: 1")
            .replace("minReplicas: 3", "minReplicas: 1"),
        "cap the HPA",
    );
    let (code, report) = json_report(d, &["HEAD~1", "HEAD"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        rules(&report).contains(&"quorum/below-quorum".to_string()),
        "{report}"
    );
}
