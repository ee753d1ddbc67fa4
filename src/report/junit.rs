//! JUnit XML for CI test tabs, written with quick-junit (nextest's writer), which `quorate test`
//! shares. One suite per input file, one case per finding: a failure only at or above
//! `--fail-on`, so a run that exits 0 never shows a red case; findings below it pass with their
//! message in `system-out`, waived ones are skipped with the reason.
//!
//! Why a suite per file: GitHub's JUnit reporters (dorny/test-reporter, mikepenz/action-junit-
//! report) list suites, and "k8s/etcd.yaml: 2 failed" says what to fix, the way a test file
//! does; GitLab and Jenkins group by `classname`, which is the rule family. Case identity
//! (`classname` + `name` = `RULE SUBJECT`) holds no line or number, so viewers keep history.

use std::io;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::{family, ordered, subject, waiver_details};
use crate::model::{Finding, Report, Severity};

/// The suite of findings that point at no file (and of the one case of a clean run).
const NO_FILE: &str = "quorate";

/// `fail_on`: the lowest severity that fails the run; `None` is `--fail-on never`.
pub(super) fn render(report: &Report, fail_on: Option<Severity>) -> io::Result<String> {
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut add = |suite_name: &str, case: TestCase| match suites
        .iter_mut()
        .find(|s| s.name.as_str() == suite_name)
    {
        Some(s) => {
            s.add_test_case(case);
        }
        None => {
            let mut s = TestSuite::new(suite_name);
            s.add_test_case(case);
            suites.push(s);
        }
    };
    for f in ordered(&report.findings) {
        let failing = fail_on.is_some_and(|at| f.severity >= at);
        let status = if failing {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(f.severity.as_str())
                .set_message(f.message.as_str())
                .set_description(body(f));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = case(f, status);
        if !failing {
            let threshold = fail_on.map_or("never", Severity::as_str);
            case.set_system_out(format!(
                "{} (below --fail-on {threshold}): {}",
                f.severity.as_str(),
                body(f)
            ));
        }
        add(suite_of(f), case);
    }
    for f in &report.waived {
        let reason = f.waiver.as_ref().map(|w| w.reason.as_str()).unwrap_or("");
        let why = [
            format!("waived: {reason}"),
            waiver_details(f.waiver.as_ref()),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        let mut status = TestCaseStatus::skipped();
        status.set_type(f.severity.as_str()).set_message(why);
        let mut case = case(f, status);
        case.set_system_out(format!("{}: {}", f.severity.as_str(), body(f)));
        add(suite_of(f), case);
    }
    if report.findings.is_empty() && report.waived.is_empty() {
        let mut case = TestCase::new(NO_FILE, TestCaseStatus::success());
        case.set_classname(NO_FILE);
        add(NO_FILE, case);
    }
    let mut junit = Junit::new("quorate");
    junit.add_test_suites(suites);
    junit.to_string().map_err(io::Error::other)
}

fn suite_of(f: &Finding) -> &str {
    f.location.as_ref().map_or(NO_FILE, |l| l.path.as_str())
}

/// `RULE SUBJECT` classed by family, with `file`/`line` (as `quorate test` and the GitHub
/// and GitLab reporters read them) when the finding has a location.
fn case(f: &Finding, status: TestCaseStatus) -> TestCase {
    let mut case = TestCase::new(case_name(f), status);
    case.set_classname(family(&f.rule));
    if let Some(l) = &f.location {
        case.extra.insert("file".into(), l.path.as_str().into());
        if l.line >= 1 {
            case.extra.insert("line".into(), l.line.to_string().into());
        }
    }
    case
}

/// `RULE CHANGE`, or the rule alone when the finding is about no change or group.
fn case_name(f: &Finding) -> String {
    match subject(f) {
        Some(s) => format!("{} {s}", f.rule),
        None => f.rule.clone(),
    }
}

/// `path:line:col` then the message.
fn body(f: &Finding) -> String {
    match &f.location {
        Some(l) => format!("{}:{}:{}\n{}", l.path, l.line, l.column, f.message),
        None => f.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use quick_junit::Report as Junit;

    fn read(xml: &str) -> Junit {
        Junit::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn cases(r: &Junit) -> Vec<&TestCase> {
        r.test_suites.iter().flat_map(|s| &s.test_cases).collect()
    }

    #[test]
    fn fail_on_deny_fails_deny_only_and_warn_passes_with_system_out() {
        let xml = render(&fixture::report(), Some(Severity::Deny)).unwrap();
        let r = read(&xml);
        assert_eq!(
            (r.tests, r.failures, r.errors, r.skipped),
            (3, 1, 0, 1),
            "{xml}"
        );
        let names: Vec<&str> = r.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["plans/prod.json", "quorate"],
            "suite per file: {xml}"
        );
        let all = cases(&r);
        let deny = all
            .iter()
            .find(|c| c.name.as_str() == "quorum/majority-lost aws_autoscaling_group.etcd")
            .unwrap();
        assert_eq!(deny.classname.as_ref().unwrap().as_str(), "quorum");
        assert_eq!(deny.extra.get("file").unwrap().as_str(), "plans/prod.json");
        assert_eq!(deny.extra.get("line").unwrap().as_str(), "3");
        match &deny.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                ty,
                description,
                ..
            } => {
                assert_eq!(ty.as_ref().unwrap().as_str(), "deny");
                assert!(message.as_ref().unwrap().as_str().contains("<voters>"));
                assert!(description
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .starts_with("plans/prod.json:3:3\nscaling etcd"));
            }
            other => panic!("{other:?}"),
        }
        let warn = all
            .iter()
            .find(|c| c.name.as_str() == "drift/live-differs kafka")
            .unwrap();
        assert!(matches!(warn.status, TestCaseStatus::Success { .. }));
        assert_eq!(
            warn.system_out.as_ref().unwrap().as_str(),
            "warn (below --fail-on deny): live size 5 differs from committed 3,\nre-plan first: 100%"
        );
        assert!(warn.extra.get("file").is_none(), "no location, no file");
        let waived = all
            .iter()
            .find(|c| c.name.as_str() == "instability/in-progress aws_autoscaling_group.web")
            .unwrap();
        match &waived.status {
            TestCaseStatus::Skipped { message, .. } => assert_eq!(
                message.as_ref().unwrap().as_str(),
                "waived: planned maintenance (by alice, expires 2030-01-01)"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(waived.extra.get("line").unwrap().as_str(), "2");
    }

    #[test]
    fn fail_on_warn_fails_both_and_never_fails_none() {
        let r = read(&render(&fixture::report(), Some(Severity::Warn)).unwrap());
        assert_eq!((r.failures, r.skipped), (2, 1));
        let r = read(&render(&fixture::report(), None).unwrap());
        assert_eq!((r.tests, r.failures, r.skipped), (3, 0, 1));
        let deny = cases(&r)
            .into_iter()
            .find(|c| c.name.as_str().starts_with("quorum/"))
            .unwrap();
        assert!(deny
            .system_out
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with("deny (below --fail-on never): plans/prod.json:3:3"));
    }

    #[test]
    fn clean_report_has_one_passing_case() {
        let xml = render(&fixture::clean(), Some(Severity::Deny)).unwrap();
        let r = read(&xml);
        assert_eq!((r.tests, r.failures), (1, 0), "{xml}");
        assert_eq!(cases(&r)[0].name.as_str(), "quorate");
    }

    #[test]
    fn escapes_and_strips_what_xml_cannot_hold() {
        let mut report = fixture::report();
        report.findings[0].message = "ctl \u{1b}[31mred\u{7} & ]]> <![CDATA[ \"q\"".into();
        let xml = render(&report, Some(Severity::Warn)).unwrap();
        let r = read(&xml);
        let texts: Vec<String> = cases(&r)
            .iter()
            .filter_map(|c| match &c.status {
                TestCaseStatus::NonSuccess { message, .. } => {
                    message.as_ref().map(|m| m.as_str().to_string())
                }
                _ => None,
            })
            .collect();
        assert!(
            texts.contains(&"ctl red & ]]> <![CDATA[ \"q\"".to_string()),
            "{texts:?}"
        );
    }
}
