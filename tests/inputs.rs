//! Inputs that would quietly check nothing: directories with nothing quorate reads, empty YAML
//! documents in rendered charts, and `kind: List` files of manifests (check and diff).

use crate::common::*;

/// A policy independent of the built-in rules: a workload going below 3 replicas, located at
/// its `spec.replicas`.
const SMALL: &str = "package quorate.small\n\ndeny contains f if {\n\tsome c in input.changes\n\tc.after.spec.replicas < 3\n\tf := {\"rule\": \"test/small\", \"msg\": sprintf(\"%s is small\", [c.id]), \"change\": c.id, \"attribute\": \"/spec/replicas\"}\n}\n";

fn statefulset(name: &str, replicas: u32, indent: &str) -> String {
    let body = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {name}\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: {name}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: {name}\n          image: quay.io/coreos/etcd:v3.5.17\n"
    );
    // As a list item: `- ` before the first line, the rest indented to match.
    if indent.is_empty() {
        return body;
    }
    body.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{indent}- {l}\n")
            } else {
                format!("{indent}  {l}\n")
            }
        })
        .collect()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_ne!(code(out), 2, "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn a_directory_in_which_nothing_is_recognized_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The wrong folder: chart values and a CI file, no manifest or plan.
    write(d, "ci/values.yaml", "replicaCount: 3\nimage:\n  tag: v1\n");
    write(
        d,
        "ci/pipeline.json",
        "{\"stages\": [\"build\", \"test\"]}\n",
    );
    write(d, "ci/README.md", "# ci\n");
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let out = run_in(d, &["check", "ci"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("ci: nothing to check"), "{err}");
    assert!(err.contains("2 files read"), "{err}");
    assert!(
        err.contains("Terraform plan"),
        "says what quorate reads: {err}"
    );

    let out = run_in(d, &["check", "empty"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no .json, .yaml or .yml file was read"),
        "{}",
        stderr(&out)
    );

    // One path with something to read is enough.
    write(d, "k8s/etcd.yaml", &statefulset("etcd", 3, ""));
    let out = run_in(d, &["check", "ci", "k8s", "--format", "json"]);
    assert_eq!(json(&out)["summary"]["changes"], 1);
}

#[test]
fn empty_yaml_documents_in_a_rendered_chart_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // `helm template` output: a leading `---`, a template that rendered to nothing, a trailing `---`.
    let rendered = format!(
        "---\n# Source: etcd/templates/serviceaccount.yaml\n---\n# Source: etcd/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  clusterIP: None\n  selector:\n    app: etcd\n---\n# Source: etcd/templates/statefulset.yaml\n{}---\n",
        statefulset("etcd", 2, "")
    );
    write(d, "rendered.yaml", &rendered);
    write(d, "policy/small.rego", SMALL);
    let out = run_in(
        d,
        &[
            "check",
            "rendered.yaml",
            "--no-builtin",
            "--policy",
            "policy",
            "--format",
            "json",
        ],
    );
    let report = json(&out);
    assert_eq!(report["summary"]["changes"], 2, "{report}");
    assert_eq!(code(&out), 1, "{report}");
    let line = rendered.lines().position(|l| l == "  replicas: 2").unwrap() + 1;
    assert_eq!(report["findings"][0]["location"]["path"], "rendered.yaml");
    assert_eq!(report["findings"][0]["location"]["line"], line, "{report}");

    // A file of nothing but empty documents, given directly, is still an error.
    write(
        d,
        "nothing.yaml",
        "---\n# Source: etcd/templates/hpa.yaml\n---\n",
    );
    let out = run_in(d, &["check", "nothing.yaml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only empty documents"),
        "{}",
        stderr(&out)
    );
}

fn list_of(items: &[String]) -> String {
    format!(
        "apiVersion: v1\nkind: List\nmetadata: {{}}\nitems:\n{}",
        items.concat()
    )
}

#[test]
fn a_list_of_manifests_is_read_item_by_item_in_check() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let list = list_of(&[
        statefulset("zookeeper", 3, "  "),
        statefulset("etcd", 2, "  "),
    ]);
    write(d, "k8s/all.yaml", &list);
    write(d, "policy/small.rego", SMALL);
    let out = run_in(
        d,
        &[
            "check",
            "k8s",
            "--no-builtin",
            "--policy",
            "policy",
            "--format",
            "json",
        ],
    );
    let report = json(&out);
    assert_eq!(code(&out), 1, "{report}");
    assert_eq!(report["summary"]["changes"], 2, "{report}");
    let f = &report["findings"][0];
    assert_eq!(f["change"], "platform/StatefulSet/etcd", "{report}");
    // The second item's `replicas:` line, not the top of the file.
    let line = list.lines().position(|l| l == "      replicas: 2").unwrap() + 1;
    assert_eq!(f["location"]["path"], "k8s/all.yaml");
    assert_eq!(f["location"]["line"], line, "{report}");
    assert_eq!(f["location"]["column"], 7, "{report}");

    let out = run_in(d, &["check", "k8s/all.yaml", "--emit-input"]);
    let input = json(&out);
    let pointers: Vec<&str> = input["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"]["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/items/0", "/items/1"], "{input}");
    assert_eq!(input["changes"][0]["source"]["type"], "kubernetes-manifest");

    // A `kubectl get -o json` list of live objects given as PATH is live state, as before.
    let live = root().join("testdata/scenarios/kubernetes-etcd-scale-down/live.json");
    let out = run_in(d, &["check", live.to_str().unwrap(), "--emit-input"]);
    let input = json(&out);
    assert_eq!(input["changes"].as_array().unwrap().len(), 0, "{input}");
    assert!(
        input["observed"]["groups"]["platform/StatefulSet/etcd"].is_object(),
        "{input}"
    );
}

fn repo_with(files: &[(&str, String)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    for (path, text) in files {
        write(tmp.path(), path, text);
    }
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-qm", "base"]);
    tmp
}

#[test]
fn a_list_of_manifests_is_read_item_by_item_in_diff() {
    let before = list_of(&[statefulset("etcd", 5, "  ")]);
    let repo = repo_with(&[
        ("k8s/all.yaml", before),
        ("policy/small.rego", SMALL.to_string()),
    ]);
    let d = repo.path();
    let after = format!("{}---\n", list_of(&[statefulset("etcd", 2, "  ")]));
    write(d, "k8s/all.yaml", &after);
    git(d, &["commit", "-qam", "scale etcd to 2"]);
    let out = run_in(
        d,
        &[
            "diff",
            "HEAD~1",
            "HEAD",
            "--no-builtin",
            "--policy",
            "policy",
            "--format",
            "json",
        ],
    );
    let report = json(&out);
    assert_eq!(code(&out), 1, "{report}");
    assert_eq!(report["summary"]["changes"], 1, "{report}");
    let line = after
        .lines()
        .position(|l| l == "      replicas: 2")
        .unwrap()
        + 1;
    assert_eq!(report["findings"][0]["location"]["path"], "k8s/all.yaml");
    assert_eq!(report["findings"][0]["location"]["line"], line, "{report}");
}
