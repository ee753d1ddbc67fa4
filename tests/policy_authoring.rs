//! Writing policies: `quorate test` (rule tests with `opa test` semantics, `cases/` fixtures,
//! output formats, exit codes) and OPA bundles given to `--policy`.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

const FIXTURES: [&str; 2] = [
    "testdata/policies/min-capacity",
    "testdata/policies/k8s-owner",
];

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn rule_tests_and_fixture_cases_of_both_kinds_of_policy_pass() {
    let mut args = vec!["test", "--format", "json"];
    args.extend(FIXTURES);
    let out = run_in(&root(), &args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let got = statuses(&r);
    let pass = |n: &str| (n.to_string(), "pass".to_string());
    for expected in [
        pass("data.quorate.acme.capacity_test.test_one_member_is_denied"),
        pass("data.main.test_kube_system_is_excepted"),
        pass("testdata/policies/min-capacity/cases/allowed/scale-up.json"),
        pass("testdata/policies/min-capacity/cases/denied/scale-down-to-one.json"),
        pass("testdata/policies/min-capacity/cases/denied/one-member-left"),
        pass("testdata/policies/k8s-owner/cases/allowed/owned.yaml"),
        pass("testdata/policies/k8s-owner/cases/allowed/kube-system.yaml"),
        pass("testdata/policies/k8s-owner/cases/denied/unowned.yaml"),
    ] {
        assert!(got.contains(&expected), "{expected:?} not in {got:?}");
    }
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(r["summary"]["passed"], 11);
    // The denied case reports the finding that denied it.
    let case = r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "testdata/policies/k8s-owner/cases/denied/unowned.yaml")
        .unwrap();
    assert_eq!(
        case["output"][0],
        "deny main/deny_no_owner: StatefulSet etcd has no owner label"
    );

    // Human format: the plain last line CI parses.
    let mut args = vec!["test"];
    args.extend(FIXTURES);
    let out = run_in(&root(), &args);
    assert_eq!(stdout(&out), "11 passed, 0 failed\n");
}

#[test]
fn a_case_with_the_wrong_verdict_fails_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("min-capacity");
    copy_dir(&root().join("testdata/policies/min-capacity"), &dir);
    // A plan that scales to one member, filed as allowed.
    std::fs::rename(
        dir.join("cases/denied/scale-down-to-one.json"),
        dir.join("cases/allowed/scale-down-to-one.json"),
    )
    .unwrap();
    // A denied case expecting a rule the policy does not have.
    write(
        &dir,
        "cases/denied/one-member-left/case.yaml",
        "now: 2026-11-24T10:00:00Z\nexpect: [acme/min-capacity, acme/no-such-rule]\n",
    );
    let out = run_in(tmp.path(), &["test", "min-capacity"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(
        text.contains("FAIL  min-capacity/cases/allowed/scale-down-to-one.json")
            && text.contains(
                "deny acme/min-capacity: aws_autoscaling_group.web would run 1 member(s), fewer than 2"
            ),
        "{text}"
    );
    assert!(
        text.contains("FAIL  min-capacity/cases/denied/one-member-left")
            && text.contains("expected deny findings not produced: acme/no-such-rule"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("4 passed, 2 failed"), "{text}");
}

#[test]
fn errors_are_reported_apart_from_failures() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "p/p_test.rego",
        "package p\n\ntest_ok if true\n\ntest_false if false\n\ntest_undefined if input.missing\n\ntest_error if 1 / 0 == 1\n\ntodo_test_later if false\n",
    );
    let out = run_in(tmp.path(), &["test", "p"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ERROR data.p.test_error (p/p_test.rego:9)")),
        "{text}"
    );
    assert!(
        text.contains("p/p_test.rego:9:"),
        "the error names its position: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAIL  data.p.test_false (p/p_test.rego:5)")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAIL  data.p.test_undefined")),
        "{text}"
    );
    assert_eq!(
        &lines[lines.len() - 2..],
        ["1 error, 1 skipped", "1 passed, 2 failed"]
    );

    // --run keeps matching tests only; --verbose lists passes too.
    let out = run_in(tmp.path(), &["test", "p", "--run", "test_ok$", "-v"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("PASS  data.p.test_ok (p/p_test.rego:3)"),
        "{text}"
    );
    assert!(text.ends_with("1 passed, 0 failed\n"), "{text}");

    // JUnit: one testcase per test, failures and errors apart.
    let out = run_in(tmp.path(), &["test", "p", "--format", "junit"]);
    let xml = stdout(&out);
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    let head = xml.lines().find(|l| l.starts_with("<testsuites ")).unwrap();
    for count in [
        "tests=\"5\"",
        "failures=\"2\"",
        "errors=\"1\"",
        "skipped=\"1\"",
    ] {
        assert!(head.contains(count), "{count}: {xml}");
    }
}

#[test]
fn a_policy_that_does_not_compile_exits_2_at_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "p/broken.rego",
        "package p\n\ntest_x if {\n  x := \n}\n",
    );
    let out = run_in(tmp.path(), &["test", "p"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("p/broken.rego:4:5: error: expecting"),
        "{}",
        stderr(&out)
    );
    // A directory without policies is a mistake, not an empty pass.
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let out = run_in(tmp.path(), &["test", "empty"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no .rego files"), "{}", stderr(&out));
}

/// Writes a `.tar.gz` bundle from (path, content) pairs.
fn bundle(dir: &Path, name: &str, files: &[(&str, &str)]) -> String {
    let path = dir.join(name);
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    for (p, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, p, text.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path.display().to_string()
}

const PORTS: &str = "package main\n\nimport rego.v1\n\ndeny contains sprintf(\"port %d is not allowed\", [input.port]) if {\n\tnot input.port in data.acme.allowed_ports\n}\n";
const PORTS_TEST: &str = "package main\n\nimport rego.v1\n\ntest_443_is_allowed if count(deny) == 0 with input as {\"port\": 443}\n";

#[test]
fn bundles_carry_policies_and_data() {
    let tmp = tempfile::tempdir().unwrap();
    let b = bundle(
        tmp.path(),
        "policy.tar.gz",
        &[
            (
                ".manifest",
                "{\"revision\": \"r1\", \"roots\": [\"main\", \"acme\"]}",
            ),
            ("main/ports.rego", PORTS),
            ("main/ports_test.rego", PORTS_TEST),
            ("acme/data.yaml", "allowed_ports: [443]\n"),
        ],
    );
    let input = write(tmp.path(), "app.yaml", "name: web\nport: 8080\n");
    let out = run_in(
        tmp.path(),
        &["check", "--policy", &b, &input, "--format", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["findings"][0]["message"], "port 8080 is not allowed");

    // The data document policies see, for another Rego tool.
    let out = run_in(
        tmp.path(),
        &["check", "--policy", &b, &input, "--emit-data"],
    );
    let data: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(data["acme"]["allowed_ports"], serde_json::json!([443]));
    assert_eq!(data["quorate"]["config"]["stabilization_window"], 600);

    let out = run_in(tmp.path(), &["test", &b]);
    assert_eq!(stdout(&out), "1 passed, 0 failed\n", "{}", stderr(&out));
}

#[test]
fn bundles_may_not_claim_quorate_or_stray_outside_their_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(tmp.path(), "app.yaml", "name: web\nport: 8080\n");
    // (bundle name, files, expected message)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        // No manifest: OPA's default root "" owns all of data, quorate's part too.
        (
            "no-manifest.tar.gz",
            vec![("main/ports.rego", PORTS)],
            "bundle root \"\" (the whole data tree",
        ),
        (
            "quorate-root.tar.gz",
            vec![
                (".manifest", "{\"roots\": [\"main\", \"quorate/acme\"]}"),
                ("main/ports.rego", PORTS),
            ],
            "bundle root \"quorate/acme\" collides with `quorate`",
        ),
        (
            "outside.tar.gz",
            vec![
                (".manifest", "{\"roots\": [\"acme\"]}"),
                ("main/ports.rego", PORTS),
            ],
            "package main is outside the bundle's roots [acme]",
        ),
        (
            "broken.tar.gz",
            vec![
                (".manifest", "{\"roots\": [\"main\"]}"),
                (
                    "main/broken.rego",
                    "package main\n\ndeny contains msg if {\n  msg := \n}\n",
                ),
            ],
            "broken.tar.gz!/main/broken.rego:4:7: error: expecting",
        ),
    ];
    for (name, files, expect) in cases {
        let b = bundle(tmp.path(), name, &files);
        let out = run_in(tmp.path(), &["check", "--policy", &b, &input]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{name}: {}", stderr(&out));
    }
}

#[test]
fn a_bundle_manifest_may_declare_rego_v0() {
    let tmp = tempfile::tempdir().unwrap();
    let b = bundle(
        tmp.path(),
        "v0.tar.gz",
        &[
            (".manifest", "{\"roots\": [\"main\"], \"rego_version\": 0}"),
            (
                "main/v0.rego",
                "package main\n\ndeny[msg] {\n  input.port == 22\n  msg := \"ssh is not allowed\"\n}\n",
            ),
        ],
    );
    let input = write(tmp.path(), "app.yaml", "port: 22\n");
    let out = run_in(tmp.path(), &["check", "-p", &b, &input, "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["findings"][0]["message"], "ssh is not allowed");
}
