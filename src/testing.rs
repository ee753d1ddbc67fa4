//! `quorate test`: runs the `test_*` rules of policies with `opa test` semantics (a test passes
//! when its rule is `true`; evaluation errors are errors, not failures) and checks fixture
//! cases (`cases/allowed/*`, `cases/denied/*` beside a policy) against what the policies say.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::check::{self, CheckOptions};
use crate::config::Config;
use crate::engine::{PolicyOptions, PolicySet, TestOutcome};
use crate::error::{Error, Result, Stage};
use crate::model::Severity;
use crate::text::{self, SourceText};

#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Policy files, directories or bundles to test; empty: the built-in policies.
    pub paths: Vec<String>,
    /// `--policy`: loaded (and tested) too.
    pub policies: Vec<String>,
    pub config: Option<String>,
    pub namespaces: Vec<String>,
    pub all_namespaces: bool,
    /// Only tests whose full name (`data.pkg.test_x`, `<dir>/cases/denied/x`) matches.
    pub run: Option<String>,
    pub timeout: Duration,
    /// `--max-policy-memory`, in bytes.
    pub max_policy_memory: u64,
    pub max_input_bytes: u64,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            paths: Vec::new(),
            policies: Vec::new(),
            config: None,
            namespaces: vec!["main".into()],
            all_namespaces: false,
            run: None,
            timeout: crate::engine::DEFAULT_TIMEOUT,
            max_policy_memory: crate::engine::DEFAULT_MAX_POLICY_MEMORY,
            max_input_bytes: text::DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Pass,
    Fail,
    Error(String),
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `test_*` rule.
    Rule,
    /// A fixture under `cases/allowed` or `cases/denied`.
    Case,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub kind: Kind,
    pub file: String,
    pub line: usize,
    pub status: Status,
    pub duration: Duration,
    /// `print()` output of a rule test; the findings of a fixture case.
    pub output: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
}

impl TestReport {
    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.status)).count()
    }
    pub fn passed(&self) -> usize {
        self.count(|s| *s == Status::Pass)
    }
    pub fn failed(&self) -> usize {
        self.count(|s| *s == Status::Fail)
    }
    pub fn errors(&self) -> usize {
        self.count(|s| matches!(s, Status::Error(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|s| *s == Status::Skip)
    }
    /// Exit code 1 on any failure or error.
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.errors() == 0
    }
}

/// Loads the policies (a compile error is `Err`: exit 2), then runs every test and case.
pub fn run(opts: &TestOptions) -> Result<TestReport> {
    let filter =
        match &opts.run {
            Some(r) => Some(regex::Regex::new(r).map_err(|e| {
                Error::usage(format!("--run `{r}` is not a regular expression: {e}"))
            })?),
            None => None,
        };
    let wanted = |name: &str| filter.as_ref().is_none_or(|f| f.is_match(name));
    let mut paths = opts.paths.clone();
    paths.extend(opts.policies.iter().cloned());
    let popts = PolicyOptions {
        // The built-ins are always there as a library (`data.quorate.lib`); their own tests
        // run when no path is given.
        builtin: true,
        builtin_tests: opts.paths.is_empty(),
        paths: paths.clone(),
        sources: Vec::new(),
        namespaces: opts.namespaces.clone(),
        all_namespaces: opts.all_namespaces,
        timeout: opts.timeout,
        max_memory: opts.max_policy_memory,
    };
    let config = Config::discover(opts.config.as_deref(), opts.max_input_bytes)?;
    let policies = PolicySet::load_with(&popts, config.data())?;

    let mut report = TestReport::default();
    for t in policies.tests() {
        let name = t.full_name();
        if !wanted(&name) {
            continue;
        }
        let started = Instant::now();
        let (status, output) = if t.todo {
            (Status::Skip, Vec::new())
        } else {
            let (outcome, prints) = policies.run_test(&t);
            let status = match outcome {
                TestOutcome::Pass => Status::Pass,
                TestOutcome::Fail => Status::Fail,
                TestOutcome::Error(e) => Status::Error(e),
            };
            (status, prints)
        };
        report.results.push(TestResult {
            name,
            kind: Kind::Rule,
            file: t.file.clone(),
            line: t.line,
            status,
            duration: started.elapsed(),
            output,
        });
    }
    for dir in paths.iter().filter(|p| Path::new(p).is_dir()) {
        for cases in find_cases(Path::new(dir))? {
            run_cases(
                &cases,
                opts,
                &popts,
                &policies,
                &config,
                &wanted,
                &mut report,
            )?;
        }
    }
    Ok(report)
}

/// Every `cases` directory (holding `allowed` and/or `denied`) below `dir`.
fn find_cases(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // A directory reached twice (through a link loop) is not walked again.
    let mut seen = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        if !seen.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Error::file(
                Stage::Policy,
                d.display().to_string(),
                format!("cannot read directory: {e}"),
            )
        })?;
        for p in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            let name = file_name(&p);
            if !p.is_dir() || name.starts_with('.') {
                continue;
            }
            if name == "cases" && (p.join("allowed").is_dir() || p.join("denied").is_dir()) {
                out.push(p);
            } else {
                stack.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

fn is_input_file(p: &Path) -> bool {
    let name = file_name(p);
    !name.starts_with('.')
        && !matches!(
            name.as_str(),
            "case.yaml" | "case.yml" | "quorate.yaml" | "quorate.yml"
        )
        && matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        )
}

/// `case.yaml` in a case directory: when the case happens and what it must produce.
#[derive(Debug, Default)]
struct CaseSpec {
    now: Option<String>,
    observed_at: Option<String>,
    /// Rule ids that must all be among the deny findings (denied cases).
    expect: Vec<String>,
}

fn read_spec(path: &Path, limit: u64) -> Result<CaseSpec> {
    let src = SourceText::read(&path.display().to_string(), Stage::Input, limit)?;
    let docs = text::parse_yaml(&src, Stage::Input)?;
    let Some(doc) = docs.into_iter().next() else {
        return Ok(CaseSpec::default());
    };
    let mut spec = CaseSpec::default();
    let Some(obj) = doc.value.as_object() else {
        return Err(Error::at(
            Stage::Input,
            &src,
            doc.start,
            "case.yaml must be a mapping",
        ));
    };
    for (k, v) in obj {
        let at = doc
            .spans
            .get(&format!("/{}", text::escape_token(k)))
            .map_or(doc.start, |s| s.0);
        let bad = |m: &str| Error::at(Stage::Input, &src, at, format!("/{k}: {m}"));
        match (k.as_str(), v) {
            ("now", Value::String(s)) => spec.now = Some(s.clone()),
            ("observed_at", Value::String(s)) => spec.observed_at = Some(s.clone()),
            ("expect", Value::Array(a)) => {
                spec.expect = a
                    .iter()
                    .map(|r| {
                        r.as_str()
                            .map(String::from)
                            .ok_or_else(|| bad("rule ids are strings"))
                    })
                    .collect::<Result<_>>()?;
            }
            ("now" | "observed_at", _) => return Err(bad("must be an RFC 3339 time")),
            ("expect", _) => return Err(bad("must be a list of rule ids")),
            _ => {
                return Err(
                    bad("unknown key").with_help("case.yaml takes now, observed_at and expect")
                )
            }
        }
    }
    Ok(spec)
}

#[allow(clippy::too_many_arguments)]
fn run_cases(
    cases: &Path,
    opts: &TestOptions,
    popts: &PolicyOptions,
    policies: &PolicySet,
    config: &Config,
    wanted: &dyn Fn(&str) -> bool,
    report: &mut TestReport,
) -> Result<()> {
    // The verdict is that of the policies beside `cases/`: their packages' findings only.
    let owner = cases.parent().unwrap_or(cases);
    let owner_prefix = format!("{}/", owner.display());
    let cases_prefix = format!("{}/", cases.display());
    let packages: BTreeSet<String> = policies
        .modules
        .iter()
        .filter(|m| m.path.starts_with(&owner_prefix) && !m.path.starts_with(&cases_prefix))
        .map(|m| m.package.clone())
        .collect();
    for verdict in ["allowed", "denied"] {
        let dir = cases.join(verdict);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for case in entries {
            if !(case.is_dir() || is_input_file(&case)) {
                continue;
            }
            let name = case.display().to_string();
            if !wanted(&name) {
                continue;
            }
            let started = Instant::now();
            let (status, output) = match run_case(
                &case,
                verdict == "denied",
                opts,
                popts,
                policies,
                config,
                &packages,
            ) {
                Ok(r) => r,
                Err(e) => (Status::Error(e.to_string()), Vec::new()),
            };
            report.results.push(TestResult {
                name,
                kind: Kind::Case,
                file: case.display().to_string(),
                line: 0,
                status,
                duration: started.elapsed(),
                output,
            });
        }
    }
    Ok(())
}

/// Runs one case as `quorate check` would, and judges the deny findings of `packages`.
fn run_case(
    case: &Path,
    denied: bool,
    opts: &TestOptions,
    popts: &PolicyOptions,
    policies: &PolicySet,
    config: &Config,
    packages: &BTreeSet<String>,
) -> Result<(Status, Vec<String>)> {
    let mut inputs = Vec::new();
    let mut spec = CaseSpec::default();
    let mut case_config = None;
    if case.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(case)
            .map_err(|e| Error::file(Stage::Input, case.display().to_string(), e.to_string()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            match file_name(&p).as_str() {
                "case.yaml" | "case.yml" => spec = read_spec(&p, opts.max_input_bytes)?,
                "quorate.yaml" | "quorate.yml" => {
                    case_config = Some(Config::load(
                        &p.display().to_string(),
                        opts.max_input_bytes,
                    )?)
                }
                _ if p.is_dir() && !file_name(&p).starts_with('.') => {
                    inputs.push(p.display().to_string())
                }
                _ if is_input_file(&p) => inputs.push(p.display().to_string()),
                _ => {}
            }
        }
    } else {
        inputs.push(case.display().to_string());
    }
    let now = match &spec.now {
        Some(t) => t.clone(),
        None => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let check_opts = CheckOptions {
        paths: inputs,
        // Fixtures are fresh unless they say otherwise: file times in a checkout mean nothing.
        observed_at: Some(spec.observed_at.clone().unwrap_or_else(|| now.clone())),
        now: Some(now),
        max_input_bytes: opts.max_input_bytes,
        timeout: opts.timeout,
        namespaces: opts.namespaces.clone(),
        all_namespaces: opts.all_namespaces,
        ..CheckOptions::default()
    };
    let reloaded;
    let (policies, config) = match case_config {
        Some(c) => {
            reloaded = PolicySet::load_with(popts, c.data())?;
            (&reloaded, c)
        }
        None => (policies, config.clone()),
    };
    let (set, inputs, _) = check::build_input_with(&check_opts, config, policies.has_conftest())?;
    let json = serde_json::to_string(&set)
        .map_err(|e| Error::usage(format!("model does not serialize: {e}")))?;
    let mut found: Vec<(String, Severity, String)> = policies
        .evaluate_tagged(&json)?
        .into_iter()
        .filter(|(pkg, _)| packages.contains(pkg))
        .map(|(_, f)| (f.rule, f.severity, f.message))
        .collect();
    for doc in &inputs.documents {
        for r in crate::conftest::evaluate_document(policies, doc)? {
            if packages.contains(&r.namespace) && r.exception.is_none() {
                found.push((r.rule, r.severity, r.message));
            }
        }
    }
    found.sort();
    found.dedup();
    let denies: Vec<&(String, Severity, String)> =
        found.iter().filter(|f| f.1 == Severity::Deny).collect();
    let output: Vec<String> = found
        .iter()
        .map(|(rule, sev, msg)| format!("{} {rule}: {msg}", sev.as_str()))
        .collect();
    let missing: Vec<&String> = spec
        .expect
        .iter()
        .filter(|id| !denies.iter().any(|f| &f.0 == *id))
        .collect();
    let pass = if denied {
        !denies.is_empty() && missing.is_empty()
    } else {
        denies.is_empty()
    };
    let mut output = output;
    if !missing.is_empty() {
        output.push(format!(
            "expected deny findings not produced: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else if denied && denies.is_empty() {
        output.push("expected a deny finding, got none".into());
    }
    Ok((if pass { Status::Pass } else { Status::Fail }, output))
}

fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

fn at(r: &TestResult) -> String {
    if r.line > 0 {
        format!("{}:{}", r.file, r.line)
    } else {
        r.file.clone()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Failures and errors (every test with `verbose`), then the counts. The last line is always
/// `N passed, N failed`: CI parses it.
pub fn render_human(report: &TestReport, verbose: bool) -> String {
    let mut s = String::new();
    for r in &report.results {
        let (label, show) = match &r.status {
            Status::Pass => ("PASS ", verbose),
            Status::Fail => ("FAIL ", true),
            Status::Error(_) => ("ERROR", true),
            Status::Skip => ("SKIP ", verbose),
        };
        if !show {
            continue;
        }
        let place = at(r);
        if place == r.name {
            s.push_str(&format!("{label} {} {}\n", r.name, ms(r.duration)));
        } else {
            s.push_str(&format!(
                "{label} {} ({place}) {}\n",
                r.name,
                ms(r.duration)
            ));
        }
        if let Status::Error(e) = &r.status {
            s.push_str(&format!("      {e}\n"));
        }
        if verbose || r.status != Status::Pass {
            for line in &r.output {
                s.push_str(&format!("      {line}\n"));
            }
        }
    }
    let mut extra = Vec::new();
    if report.errors() > 0 {
        extra.push(plural(report.errors(), "error", "errors"));
    }
    if report.skipped() > 0 {
        extra.push(format!("{} skipped", report.skipped()));
    }
    if !extra.is_empty() {
        s.push_str(&extra.join(", "));
        s.push('\n');
    }
    s.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed(),
        report.failed()
    ));
    s
}

fn status_str(s: &Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error(_) => "error",
        Status::Skip => "skip",
    }
}

pub fn render_json(report: &TestReport) -> String {
    let tests: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "kind": if r.kind == Kind::Rule { "rule" } else { "case" },
                "file": r.file,
                "line": r.line,
                "status": status_str(&r.status),
                "error": match &r.status { Status::Error(e) => Value::from(e.clone()), _ => Value::Null },
                "duration_ms": r.duration.as_secs_f64() * 1000.0,
                "output": r.output,
            })
        })
        .collect();
    let v = json!({
        "version": 1,
        "tests": tests,
        "summary": {
            "passed": report.passed(),
            "failed": report.failed(),
            "errors": report.errors(),
            "skipped": report.skipped(),
        },
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// JUnit XML (quick-junit, like `check --format junit`): one suite per file, one case per test,
/// with `file` and `line`.
pub fn render_junit(report: &TestReport) -> String {
    use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

    let mut suites: Vec<TestSuite> = Vec::new();
    for r in &report.results {
        let (class, name) = match r.kind {
            Kind::Rule => r.name.rsplit_once('.').unwrap_or(("", &r.name)),
            Kind::Case => (r.file.as_str(), r.name.as_str()),
        };
        let body = r.output.join("\n");
        let status = match &r.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Skip => TestCaseStatus::skipped(),
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{} failed at {}", r.name, at(r)));
                if !body.is_empty() {
                    s.set_description(body.as_str());
                }
                s
            }
            Status::Error(e) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(e.as_str());
                if !body.is_empty() {
                    s.set_description(body.as_str());
                }
                s
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(class).set_time(r.duration);
        case.extra.insert("file".into(), r.file.as_str().into());
        case.extra.insert("line".into(), r.line.to_string().into());
        match suites.iter_mut().find(|s| s.name.as_str() == r.file) {
            Some(s) => {
                s.add_test_case(case);
            }
            None => {
                let mut s = TestSuite::new(r.file.as_str());
                s.add_test_case(case);
                suites.push(s);
            }
        }
    }
    for s in &mut suites {
        let time = s.test_cases.iter().filter_map(|c| c.time).sum();
        s.set_time(time);
    }
    let mut junit = Junit::new("quorate test");
    junit.set_time(report.results.iter().map(|r| r.duration).sum());
    junit.add_test_suites(suites);
    // Serializing into memory only fails on a quick-xml bug; say so in the output, not a panic.
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- JUnit serialization failed: {e} -->\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status) -> TestResult {
        TestResult {
            name: name.into(),
            kind: Kind::Rule,
            file: "p_test.rego".into(),
            line: 3,
            status,
            duration: Duration::from_millis(1),
            output: vec![],
        }
    }

    #[test]
    fn last_line_is_passed_and_failed_with_errors_counted_apart() {
        let report = TestReport {
            results: vec![
                result("data.p.test_a", Status::Pass),
                result("data.p.test_b", Status::Fail),
                result("data.p.test_c", Status::Error("boom".into())),
            ],
        };
        let out = render_human(&report, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.last(), Some(&"1 passed, 1 failed"), "{out}");
        assert!(lines.contains(&"1 error"), "{out}");
        assert!(out.contains("FAIL  data.p.test_b (p_test.rego:3)"), "{out}");
        assert!(
            !out.contains("test_a"),
            "passing tests only with --verbose: {out}"
        );
        assert!(!report.ok());
        let xml = render_junit(&report);
        let r = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((r.tests, r.failures, r.errors), (3, 1, 1), "{xml}");
        assert_eq!(r.test_suites[0].name.as_str(), "p_test.rego");
        let b = &r.test_suites[0].test_cases[1];
        assert_eq!(b.name.as_str(), "test_b");
        assert_eq!(b.classname.as_ref().unwrap().as_str(), "data.p");
        assert_eq!(b.extra.get("file").unwrap().as_str(), "p_test.rego");
        assert_eq!(b.extra.get("line").unwrap().as_str(), "3");
        assert!(
            xml.contains("<failure message=\"data.p.test_b failed at p_test.rego:3\"/>"),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"boom\"/>"), "{xml}");
    }
}
