//! Break-glass at admission: `quorate.dev/break-glass: "<ticket>: <reason>"` lets a denied
//! request through only for identities in `break_glass.allowed`, and never silently. Judged
//! through the webhook's own path (`check --format admission`).

use crate::common::*;
use serde_json::Value;

fn review_with_glass(user: &str) -> Value {
    let p = root().join("testdata/admission/statefulset-5-to-3-denied.json");
    let mut r: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    r["request"]["object"]["metadata"]["annotations"]["quorate.dev/break-glass"] =
        Value::from("INC-4711: etcd members on the failed rack must go now");
    r["request"]["userInfo"]["username"] = Value::from(user);
    r
}

fn judge(config: &str, review: &Value) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quorate.yaml"), config).unwrap();
    std::fs::write(
        dir.path().join("review.json"),
        serde_json::to_string(review).unwrap(),
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &["check", "review.json", "--format", "admission"],
    );
    let answer = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (code(&out), answer, stderr(&out))
}

#[test]
fn an_allowed_identity_breaks_glass_loudly() {
    let (code, answer, log) = judge(
        "break_glass:\n  allowed: [alice]\n",
        &review_with_glass("alice"),
    );
    assert_eq!(code, 0, "{answer}");
    let r = &answer["response"];
    assert_eq!(r["allowed"], true, "{answer}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("quorate: break-glass by alice (INC-4711: etcd members"),
        "{answer}"
    );
    assert_eq!(
        r["auditAnnotations"]["break-glass"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("alice")
    );
    assert!(
        r["auditAnnotations"]["overridden-rules"]
            .as_str()
            .unwrap()
            .contains("quorum/"),
        "{answer}"
    );
    // The decision log: one JSON line with who broke glass, the ticket and the rules overridden.
    let line = log
        .lines()
        .find(|l| l.contains("\"event\":\"decision\""))
        .unwrap();
    let line: Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["user"], "alice", "{line}");
    assert_eq!(line["verdict"], "break-glass", "{line}");
    assert!(
        line["break_glass"].as_str().unwrap().contains("INC-4711"),
        "{line}"
    );
    assert!(
        line["rules"].as_str().unwrap().contains("quorum/"),
        "{line}"
    );
}

#[test]
fn an_identity_not_allowed_is_refused_and_told_why() {
    let (code, answer, log) = judge(
        "break_glass:\n  allowed: [oncall-leads]\n",
        &review_with_glass("mallory"),
    );
    assert_eq!(code, 1, "{answer}");
    let r = &answer["response"];
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("break-glass refused: mallory is not in break_glass.allowed"),
        "{answer}"
    );
    assert!(
        r["auditAnnotations"]["break-glass-refused"].is_string(),
        "{answer}"
    );
    assert!(
        log.contains("\"verdict\":\"denied\"")
            && log.contains("\"break_glass_refused\":\"mallory: INC-4711"),
        "{log}"
    );
}

#[test]
fn a_group_may_be_allowed() {
    let mut review = review_with_glass("carol");
    review["request"]["userInfo"]["groups"] =
        serde_json::json!(["system:authenticated", "oncall-leads"]);
    let (code, answer, _) = judge("break_glass:\n  allowed: [oncall-leads]\n", &review);
    assert_eq!(code, 0, "{answer}");
}

/// `admission.scope` limits which objects a rule (or a family) judges at admission.
#[test]
fn admission_scope_limits_what_a_rule_judges() {
    let p = root().join("testdata/admission/statefulset-5-to-3-denied.json");
    let review: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let allowed = |config: &str| judge(config, &review).1["response"]["allowed"].clone();
    assert_eq!(allowed("{}\n"), false);
    assert_eq!(
        allowed("admission:\n  scope:\n    quorum/*:\n      exclude_namespaces: [platform]\n"),
        true
    );
    assert_eq!(
        allowed("admission:\n  scope:\n    quorum/*:\n      namespaces: [search]\n"),
        true
    );
    assert_eq!(
        allowed("admission:\n  scope:\n    quorum/*:\n      labels: {app: etcd}\n"),
        false
    );
    assert_eq!(
        allowed("admission:\n  scope:\n    quorum/*:\n      labels: {app: other}\n"),
        true
    );
}
