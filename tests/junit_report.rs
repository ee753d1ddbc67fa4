//! Issue 7: `--format junit` agrees with the exit code. Reports are read back twice: with
//! quick-junit's own reader, and with an XML parser that shares no code with the writer
//! (Python's `xml.etree.ElementTree`, when python3 is on the machine).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus};

/// A real Terraform plan (equivalence test) whose only finding is a drift warning.
const DRIFT_SIMPLE: &str =
    "hashicorp__terraform/testing/equivalence-tests/outputs/drift_simple/plan.json";

fn read(xml: &str) -> Report {
    Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

fn cases(r: &Report) -> Vec<&TestCase> {
    r.test_suites.iter().flat_map(|s| &s.test_cases).collect()
}

/// Per testcase, as ElementTree sees it: `[name, file, line, outcome, system-out]`, where
/// outcome is `failure`, `error`, `skipped` or `pass`. `None` when python3 is missing.
fn etree(xml: &str) -> Option<Vec<Vec<String>>> {
    const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
out = []
for c in root.iter("testcase"):
    kind = next((k for k in ("failure", "error", "skipped") if c.find(k) is not None), "pass")
    so = c.find("system-out")
    out.append([c.get("name"), c.get("file") or "", c.get("line") or "", kind,
                so.text if so is not None else ""])
print(json.dumps(out))
"#;
    let mut child = match Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("python3 not found ({e}): ElementTree check skipped");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ElementTree rejects the report:\n{xml}"
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn issue_7_a_warn_only_check_exits_0_and_its_junit_has_no_failure() {
    let given = corpus().join(DRIFT_SIMPLE);
    let out = run_in(
        &root(),
        &["check", given.to_str().unwrap(), "--format", "junit"],
    );
    // Reports name the file relative to the working directory (it lies outside this repository).
    let plan = &format!("../shared/corpus/{DRIFT_SIMPLE}");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let xml = stdout(&out);
    let r = read(&xml);
    assert_eq!((r.tests, r.failures, r.errors), (1, 0, 0), "{xml}");
    assert_eq!(r.test_suites.len(), 1);
    // A suite per input file, named as every report names it: the corpus lies outside this
    // repository, so relative to the working directory.
    assert_eq!(
        r.test_suites[0].name.as_str(),
        plan,
        "a suite per input file"
    );
    let case = cases(&r)[0];
    assert_eq!(
        case.name.as_str(),
        "drift/overrides-manual-change tfcoremock_simple_resource.drift"
    );
    assert_eq!(case.classname.as_ref().unwrap().as_str(), "drift");
    assert!(matches!(case.status, TestCaseStatus::Success { .. }));
    assert_eq!(case.extra.get("file").unwrap().as_str(), plan);
    assert_eq!(case.extra.get("line").unwrap().as_str(), "124");
    let system_out = case.system_out.as_ref().unwrap().as_str();
    assert!(
        system_out.starts_with(&format!("warn (below --fail-on deny): {plan}:124:11\n"))
            && system_out.contains("was changed outside Terraform"),
        "{system_out}"
    );
    if let Some(seen) = etree(&xml) {
        assert_eq!(
            seen,
            [vec![
                case.name.as_str().to_string(),
                plan.to_string(),
                "124".into(),
                "pass".into(),
                system_out.to_string()
            ]]
        );
    }

    // The same finding fails the run and the report with --fail-on warn.
    let out = run_in(
        &root(),
        &["check", plan, "--format", "junit", "--fail-on", "warn"],
    );
    assert_eq!(code(&out), 1);
    let r = read(&stdout(&out));
    assert_eq!(r.failures, 1);
    assert!(matches!(
        &cases(&r)[0].status,
        TestCaseStatus::NonSuccess { kind: NonSuccessKind::Failure, ty: Some(t), .. } if t.as_str() == "warn"
    ));
}

#[test]
fn issue_7_deny_findings_fail_and_waived_ones_are_skipped_with_the_reason() {
    let dir = root().join("testdata/scenarios/waivers");
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    let mut a: Vec<&str> = vec!["check"];
    a.extend(args.split_whitespace());
    a.extend(["--format", "junit", "--fail-on", "deny"]);
    let out = run_in(&dir, &a);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = stdout(&out);
    let r = read(&xml);
    assert_eq!((r.tests, r.failures, r.skipped), (2, 1, 1), "{xml}");
    for c in cases(&r) {
        assert_eq!(c.extra.get("file").map(|f| f.as_str()), Some("plan.json"));
        assert!(c.extra.get("line").is_some(), "{xml}");
    }
    let skipped = cases(&r)
        .into_iter()
        .find_map(|c| match &c.status {
            TestCaseStatus::Skipped { message, .. } => message.clone(),
            _ => None,
        })
        .unwrap();
    assert!(
        skipped.as_str().starts_with("waived: INC-4411")
            && skipped.as_str().contains("by alice@example.com"),
        "{skipped:?}"
    );
    if let Some(seen) = etree(&xml) {
        let kinds: Vec<&str> = seen.iter().map(|c| c[3].as_str()).collect();
        assert_eq!(kinds, ["failure", "skipped"]);
    }

    // --fail-on never: exit 0 and no failure in the report either.
    let a: Vec<&str> = a
        .iter()
        .map(|s| if *s == "deny" { "never" } else { s })
        .collect();
    let out = run_in(&dir, &a);
    assert_eq!(code(&out), 0);
    assert_eq!(read(&stdout(&out)).failures, 0);
}

#[test]
fn issue_7_quorate_test_junit_is_written_by_the_same_crate_with_file_and_line() {
    let out = run_in(&root(), &["test", "--format", "junit"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let xml = stdout(&out);
    let r = read(&xml);
    assert!(r.tests > 10, "{xml}");
    assert_eq!((r.failures, r.errors), (0, 0));
    assert_eq!(r.name.as_ref().unwrap().as_str(), "quorate test");
    for s in &r.test_suites {
        for c in &s.test_cases {
            assert_eq!(c.extra.get("file").unwrap().as_str(), s.name.as_str());
            let line: usize = c.extra.get("line").unwrap().as_str().parse().unwrap();
            assert!(line >= 1, "{}", c.name.as_str());
        }
    }
    // One writer: <testsuite> and <testcase> of `test` carry the same attributes in the same
    // order as those of `check --format junit` (with `time` only where there is a duration).
    let plan = corpus().join(DRIFT_SIMPLE);
    let check = stdout(&run_in(
        &root(),
        &["check", plan.to_str().unwrap(), "--format", "junit"],
    ));
    let attrs = |xml: &str, tag: &str| -> Vec<String> {
        let open = format!("<{tag} ");
        let line = xml
            .lines()
            .find(|l| l.trim_start().starts_with(&open))
            .unwrap();
        line.split("=\"")
            .filter_map(|part| part.rsplit(' ').next())
            .filter(|name| !name.is_empty() && !name.contains('"') && *name != "time")
            .map(String::from)
            .collect()
    };
    for tag in ["testsuite", "testcase"] {
        assert_eq!(attrs(&xml, tag), attrs(&check, tag), "{xml}\n{check}");
    }
    if let Some(seen) = etree(&xml) {
        assert_eq!(seen.len(), r.tests);
        assert!(seen.iter().all(|c| c[3] == "pass" && !c[1].is_empty()));
    }
}
