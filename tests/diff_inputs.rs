//! One unreadable changed file no longer aborts `quorate diff`: path excludes (flag and
//! quorate.yaml), Helm chart templates skipped with a notice, and other unreadable head-side
//! files reported as a located `input/unreadable-manifest` finding. Real repositories.

use std::path::Path;

use crate::common::*;

/// A policy independent of the built-in rules: a workload going below 3 replicas.
const SMALL: &str = "package quorate.small\n\ndeny contains f if {\n\tsome c in input.changes\n\tc.after.spec.replicas < 3\n\tf := {\"rule\": \"test/small\", \"msg\": sprintf(\"%s is small\", [c.id]), \"change\": c.id, \"attribute\": \"/spec/replicas\"}\n}\n";

fn etcd(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: etcd\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n"
    )
}

const CHART: &str = "apiVersion: v2\nname: web\ndescription: The shop front\ntype: application\nversion: 0.3.1\nappVersion: \"1.27\"\n";
const VALUES: &str =
    "enabled: true\nreplicaCount: 3\nimage:\n  repository: nginx\n  tag: \"1.27\"\n";

fn deployment_template(replicas: &str) -> String {
    format!(
        "{{{{- if .Values.enabled }}}}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ include \"web.fullname\" . }}}}\n  labels:\n    {{{{- include \"web.labels\" . | nindent 4 }}}}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      {{{{- include \"web.selectorLabels\" . | nindent 6 }}}}\n  template:\n    spec:\n      containers:\n        - name: web\n          image: \"{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}\"\n{{{{- end }}}}\n"
    )
}

fn service_template(port: u32) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{{{ include \"web.fullname\" . }}}}\nspec:\n  ports:\n    - port: {port}\n  selector:\n    {{{{- include \"web.selectorLabels\" . | nindent 4 }}}}\n"
    )
}

fn report(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
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
fn helm_chart_templates_are_skipped_with_one_notice_per_chart() {
    let repo = repo_with(&[
        ("charts/web/Chart.yaml", CHART.to_string()),
        ("charts/web/values.yaml", VALUES.to_string()),
        (
            "charts/web/templates/deployment.yaml",
            deployment_template("{{ .Values.replicaCount }}"),
        ),
        ("charts/web/templates/service.yaml", service_template(80)),
        ("k8s/etcd.yaml", etcd(5)),
        ("policy/small.rego", SMALL.to_string()),
    ]);
    let d = repo.path();
    commit_all(
        d,
        &[
            (
                "charts/web/templates/deployment.yaml",
                deployment_template("{{ .Values.replicas | default 2 }}"),
            ),
            ("charts/web/templates/service.yaml", service_template(8080)),
            ("k8s/etcd.yaml", etcd(2)),
        ],
        "chart and etcd",
    );
    let (rc, r) = report(d, &["HEAD~1", "HEAD", "--no-builtin", "--policy", "policy"]);
    assert_eq!(rc, 1, "{r}");
    assert_eq!(rules(&r), ["test/small"], "templates are no findings: {r}");
    assert_eq!(
        r["notices"],
        serde_json::json!([
            "skipped 2 Helm chart templates under charts/web/templates: render them with helm template and check the output"
        ]),
        "{r}"
    );

    // Through the index too (the pre-commit hook), with the chart known from the index.
    write(
        d,
        "charts/web/templates/service.yaml",
        &service_template(9090),
    );
    git(d, &["add", "-A"]);
    let (rc, r) = report(d, &["--staged"]);
    assert_eq!(rc, 0, "{r}");
    let notices = r["notices"].to_string();
    assert!(
        notices.contains("skipped 1 Helm chart template under charts/web/templates"),
        "{r}"
    );

    // check walks the filesystem: the same chart is skipped there, and a chart alone is
    // nothing to check.
    let out = run_in(d, &["check", "charts", "k8s", "--format", "json"]);
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).contains("skipped 2 Helm chart templates under charts/web/templates"));
    let out = run_in(d, &["check", "charts"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 Helm chart templates skipped"),
        "{}",
        stderr(&out)
    );
}

fn web_json(replicas: u32, comment: bool) -> String {
    let comment = if comment {
        "  // replicas lowered for the migration\n"
    } else {
        ""
    };
    format!(
        "{{\n{comment}  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"Deployment\",\n  \"metadata\": {{\"name\": \"web\", \"namespace\": \"shop\"}},\n  \"spec\": {{\"replicas\": {replicas}, \"selector\": {{\"matchLabels\": {{\"app\": \"web\"}}}}}}\n}}\n"
    )
}

#[test]
fn an_unreadable_changed_file_is_a_located_finding_and_the_rest_is_checked() {
    let repo = repo_with(&[
        ("k8s/web.json", web_json(4, false)),
        ("k8s/etcd.yaml", etcd(5)),
        ("policy/small.rego", SMALL.to_string()),
    ]);
    let d = repo.path();
    commit_all(
        d,
        &[
            ("k8s/web.json", web_json(3, true)),
            ("k8s/etcd.yaml", etcd(2)),
        ],
        "comment and scale",
    );
    let (rc, r) = report(d, &["HEAD~1", "HEAD", "--no-builtin", "--policy", "policy"]);
    assert_eq!(rc, 1, "{r}");
    let found = rules(&r);
    assert!(
        found.contains(&"input/unreadable-manifest".to_string()),
        "{r}"
    );
    assert!(
        found.contains(&"test/small".to_string()),
        "etcd is still checked: {r}"
    );
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "input/unreadable-manifest")
        .unwrap();
    assert_eq!(f["severity"], "deny");
    assert_eq!(f["location"]["path"], "k8s/web.json");
    assert_eq!(f["location"]["line"], 2, "{f}");
    assert!(
        f["message"].as_str().unwrap().starts_with("invalid JSON"),
        "{f}"
    );

    // The human report quotes the line.
    let out = run_in(d, &["diff", "HEAD~1", "HEAD", "--color", "never"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("input/unreadable-manifest"), "{text}");
    assert!(text.contains("k8s/web.json:2:"), "{text}");
    assert!(
        text.contains("// replicas lowered for the migration"),
        "{text}"
    );

    // Fixed again: the broken side is now the base, which is only a notice.
    commit_all(d, &[("k8s/web.json", web_json(3, false))], "fix");
    let (rc, r) = report(d, &["HEAD~1", "HEAD"]);
    assert!(
        !rules(&r).contains(&"input/unreadable-manifest".to_string()),
        "{r}"
    );
    assert!(
        r["notices"].to_string().contains("base revision not read"),
        "{r}"
    );
    assert_ne!(rc, 2);
}

#[test]
fn the_rule_is_listed_and_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["rules"]);
    assert!(
        stdout(&out).contains("input/unreadable-manifest"),
        "{}",
        stdout(&out)
    );
    let out = run_in(tmp.path(), &["explain", "input/unreadable-manifest"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for part in ["\nWhat\n", "\nWhy\n", "\nExample\n", "\nFix\n", "--exclude"] {
        assert!(text.contains(part), "{text}");
    }
}

#[test]
fn excluded_paths_are_not_read_in_diff_and_check() {
    let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fixture\ndata: [unclosed\n";
    let repo = repo_with(&[
        ("k8s/etcd.yaml", etcd(5)),
        ("k8s/legacy/old.yaml", etcd(5).replace("etcd", "old")),
        ("policy/small.rego", SMALL.to_string()),
    ]);
    let d = repo.path();
    commit_all(
        d,
        &[
            ("k8s/legacy/old.yaml", etcd(1).replace("etcd", "old")),
            ("tests/fixtures/broken.yaml", broken.to_string()),
        ],
        "legacy and a fixture",
    );
    let args = ["HEAD~1", "HEAD", "--no-builtin", "--policy", "policy"];
    let (rc, r) = report(d, &args);
    assert_eq!(rc, 1, "{r}");
    assert_eq!(rules(&r).len(), 2, "{r}");

    let mut with = args.to_vec();
    with.extend(["--exclude", "k8s/legacy/**", "--exclude", "tests"]);
    let (rc, r) = report(d, &with);
    assert_eq!((rc, r["summary"]["changes"].as_u64()), (0, Some(0)), "{r}");

    // The same from quorate.yaml (in the working tree: diff reads it there only when asked,
    // it reads the base revision's by default).
    write(
        d,
        "quorate.yaml",
        "exclude:\n  - k8s/legacy\n  - \"**/fixtures/**\"\n",
    );
    let mut head = args.to_vec();
    head.extend(["--config-from", "head"]);
    let (rc, r) = report(d, &head);
    assert_eq!(rc, 0, "{r}");
    assert!(r["findings"].as_array().unwrap().is_empty(), "{r}");

    // check: a broken file under an excluded directory is not read.
    let out = run_in(d, &["check", "tests", "k8s", "--exclude", "k8s/legacy/*"]);
    assert_eq!(
        code(&out),
        0,
        "quorate.yaml excludes tests/fixtures: {}",
        stderr(&out)
    );
    std::fs::remove_file(d.join("quorate.yaml")).unwrap();
    let out = run_in(d, &["check", "tests", "k8s"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("tests/fixtures/broken.yaml"),
        "{}",
        stderr(&out)
    );
    let out = run_in(d, &["check", "tests", "k8s", "--exclude", "./tests/**"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A bad glob is a usage error; in quorate.yaml it points at its line.
    let out = run_in(d, &["check", "k8s", "--exclude", "k8s/[x"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`k8s/[x` is not a glob"),
        "{}",
        stderr(&out)
    );
    write(d, "quorate.yaml", "exclude:\n  - ok/**\n  - \"k8s/{a\"\n");
    let out = run_in(d, &["diff", "HEAD~1", "HEAD", "--config-from", "head"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("quorate.yaml:3:"), "{}", stderr(&out));
}
