//! The only user of regorus: loads the built-in and user policies once, evaluates them with a
//! time limit, and turns their `deny` / `warn` results into raw findings. Also reads rule docs
//! from the policies' METADATA annotations and runs `test_*` rules.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value as RValue};
use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::model::{RuleDoc, Severity};
use crate::text::SourceText;

/// The built-in policies, embedded at build time. `builtin_policies_are_all_embedded` checks
/// that this list matches the files in `policies/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("policies/lib.rego", include_str!("../policies/lib.rego")),
    (
        "policies/drift.rego",
        include_str!("../policies/drift.rego"),
    ),
    (
        "policies/unstable.rego",
        include_str!("../policies/unstable.rego"),
    ),
    (
        "policies/quorum.rego",
        include_str!("../policies/quorum.rego"),
    ),
    (
        "policies/lib_test.rego",
        include_str!("../policies/lib_test.rego"),
    ),
    (
        "policies/drift_test.rego",
        include_str!("../policies/drift_test.rego"),
    ),
    (
        "policies/unstable_test.rego",
        include_str!("../policies/unstable_test.rego"),
    ),
    (
        "policies/quorum_test.rego",
        include_str!("../policies/quorum_test.rego"),
    ),
];

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The rule sets whose results are findings, with the severity they carry.
const SETS: &[(&str, Severity)] = &[
    ("deny", Severity::Deny),
    ("violation", Severity::Deny),
    ("warn", Severity::Warn),
];

/// One result of one policy, before locations are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFinding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub change: Option<String>,
    pub group: Option<String>,
    pub path: Option<String>,
    pub pointer: Option<String>,
    pub attribute: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub passed: bool,
    pub error: Option<String>,
}

/// Policies loaded and checked once; cloned per evaluation (cheap: shared modules).
#[derive(Clone)]
pub struct PolicySet {
    engine: Engine,
    /// (package path, set name, severity) to collect.
    entries: Vec<(String, String, Severity)>,
    pub rules: Vec<RuleDoc>,
    sources: BTreeMap<String, SourceText>,
    timeout: Duration,
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("_test.rego")
}

impl PolicySet {
    /// Loads the built-in policies (unless `builtin` is false), user policy files or
    /// directories, and `data.quorate.config`.
    pub fn load(builtin: bool, user: &[String], config: Value, timeout: Duration) -> Result<Self> {
        let mut engine = Engine::new();
        let mut set = PolicySet {
            engine: Engine::new(),
            entries: Vec::new(),
            rules: Vec::new(),
            sources: BTreeMap::new(),
            timeout,
        };
        let mut files: Vec<SourceText> = Vec::new();
        if builtin {
            files.extend(BUILTIN.iter().map(|(p, t)| SourceText::new(*p, *t)));
        }
        for dir in user {
            files.extend(read_policies(dir)?);
        }
        for src in &files {
            let package = engine
                .add_policy(src.path.clone(), src.text.to_string())
                .map_err(|e| policy_error(&e, src))?;
            let package = package.trim_start_matches("data.").to_string();
            if !is_test_file(&src.path) {
                for (name, sev) in SETS {
                    let declared = engine
                        .has_declared_rule_rooted_at(&src.path, name)
                        .unwrap_or(false);
                    let entry = (package.clone(), (*name).to_string(), *sev);
                    if declared && !set.entries.contains(&entry) {
                        set.entries.push(entry);
                    }
                }
                set.rules.extend(rule_docs(src)?);
            }
            set.sources.insert(src.path.clone(), src.clone());
        }
        let data =
            RValue::from_json_str(&serde_json::json!({"quorate": {"config": config}}).to_string())
                .map_err(|e| Error::usage(format!("config cannot be passed to policies: {e}")))?;
        engine
            .add_data(data)
            .map_err(|e| Error::usage(format!("config cannot be passed to policies: {e}")))?;
        // Reading the clock every step costs ~12% of evaluation; every 1,000 steps is plenty.
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: timeout,
            check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
        });
        // Compile the aggregate entry point now, so a broken policy fails before any input.
        let entry = set.entry_module();
        engine
            .add_policy("<quorate-entry>".into(), entry)
            .map_err(|e| Error::usage(format!("internal entry point does not compile: {e}")))?;
        engine.set_input(RValue::new_object());
        if let Err(e) = engine.eval_rule("data.quorate_entry.sets".into()) {
            // Evaluation on an empty input is allowed to fail at run time (missing fields);
            // only compile errors, which carry a position, are fatal here.
            let msg = e.to_string();
            if let Some(err) = set.located_error(&msg) {
                if msg.contains("error:") && !msg.contains("undefined") {
                    return Err(err);
                }
            }
        }
        set.engine = engine;
        set.rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(set)
    }

    fn entry_module(&self) -> String {
        let mut s = String::from("package quorate_entry\n\nsets := [\n");
        for (pkg, name, _) in &self.entries {
            let path = pkg
                .split('.')
                .map(|p| format!("[{}]", serde_json::Value::String(p.to_string())))
                .collect::<String>();
            s.push_str(&format!("  data{path}[\"{name}\"],\n"));
        }
        s.push_str("]\n");
        s
    }

    /// Evaluates every deny/warn/violation set against `input` (JSON text of the model).
    pub fn evaluate(&self, input_json: &str) -> Result<Vec<RawFinding>> {
        let mut engine = self.engine.clone();
        let input = RValue::from_json_str(input_json)
            .map_err(|e| Error::usage(format!("input cannot be passed to policies: {e}")))?;
        engine.set_input(input);
        let value = engine
            .eval_rule("data.quorate_entry.sets".into())
            .map_err(|e| self.eval_error(&e))?;
        let json: Value = serde_json::to_value(&value)
            .map_err(|e| Error::usage(format!("policy results are not JSON: {e}")))?;
        let sets = json.as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for ((pkg, _, severity), results) in self.entries.iter().zip(sets) {
            for item in results.as_array().into_iter().flatten() {
                out.push(raw_finding(pkg, *severity, item));
            }
        }
        Ok(out)
    }

    fn eval_error(&self, e: &anyhow::Error) -> Error {
        let msg = e.to_string();
        if msg.contains("execution exceeded") || msg.to_lowercase().contains("time limit") {
            return Error::file(
                Stage::Policy,
                "",
                format!("policy evaluation exceeded the time limit of {:?}: {msg}", self.timeout),
            )
            .with_help("a policy loops over too much input; raise --timeout only if the input is really this large");
        }
        self.located_error(&msg).unwrap_or_else(|| {
            Error::file(
                Stage::Policy,
                "",
                format!("policy evaluation failed: {msg}"),
            )
        })
    }

    /// Maps regorus' `--> file:LINE:COL` onto our copy of the policy source.
    fn located_error(&self, msg: &str) -> Option<Error> {
        let (path, line, col) = parse_location(msg)?;
        let first = msg
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(msg)
            .trim()
            .to_string();
        Some(match self.sources.get(&path) {
            Some(src) => Error::at_line_col(Stage::Policy, src, line, col, first),
            None => Error::at_position(Stage::Policy, path, line, col, first),
        })
    }

    /// Runs every `test_*` rule of the loaded test files.
    pub fn run_tests(&self, filter: Option<&str>) -> Vec<TestResult> {
        let mut out = Vec::new();
        for (path, src) in &self.sources {
            if !is_test_file(path) {
                continue;
            }
            let Some(package) = src
                .text
                .lines()
                .find_map(|l| l.trim().strip_prefix("package "))
                .map(|p| p.trim().to_string())
            else {
                continue;
            };
            for name in test_names(&src.text) {
                if filter.is_some_and(|f| !name.contains(f)) {
                    continue;
                }
                let mut engine = self.engine.clone();
                let r = engine.eval_rule(format!("data.{package}.{name}"));
                let (passed, error) = match r {
                    Ok(v) => (v == RValue::from(true), None),
                    Err(e) => (false, Some(e.to_string())),
                };
                out.push(TestResult {
                    name: format!("data.{package}.{name}"),
                    file: path.clone(),
                    passed,
                    error,
                });
            }
        }
        out
    }
}

fn test_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (name.starts_with("test_")).then_some(name)
        })
        .collect();
    names.dedup();
    names
}

fn parse_location(msg: &str) -> Option<(String, usize, usize)> {
    let rest = msg.split("--> ").nth(1)?;
    let loc = rest.lines().next()?.trim();
    let mut parts = loc.rsplitn(3, ':');
    let col = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let path = parts.next()?.to_string();
    Some((path, line, col))
}

fn policy_error(e: &anyhow::Error, src: &SourceText) -> Error {
    let msg = e.to_string();
    match parse_location(&msg) {
        Some((_, line, col)) => {
            let first = msg
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or(&msg)
                .trim()
                .to_string();
            Error::at_line_col(Stage::Policy, src, line, col, first)
        }
        None => Error::file(Stage::Policy, &src.path, msg),
    }
}

fn read_policies(path: &str) -> Result<Vec<SourceText>> {
    let p = Path::new(path);
    let mut files = Vec::new();
    if p.is_dir() {
        let mut stack = vec![p.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| {
                Error::file(
                    Stage::Policy,
                    dir.display().to_string(),
                    format!("cannot read directory: {e}"),
                )
            })?;
            for entry in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
                if entry.is_dir() {
                    stack.push(entry);
                } else if entry.extension().and_then(|e| e.to_str()) == Some("rego") {
                    files.push(entry);
                }
            }
        }
        files.sort();
    } else {
        files.push(p.to_path_buf());
    }
    files
        .iter()
        .map(|f| SourceText::read(&f.display().to_string(), Stage::Policy, 4 * 1024 * 1024))
        .collect()
}

fn raw_finding(package: &str, severity: Severity, item: &Value) -> RawFinding {
    let s = |k: &str| item.get(k).and_then(Value::as_str).map(String::from);
    match item {
        Value::String(msg) => RawFinding {
            rule: package.to_string(),
            severity,
            message: msg.clone(),
            change: None,
            group: None,
            path: None,
            pointer: None,
            attribute: None,
        },
        _ => RawFinding {
            rule: s("rule")
                .or_else(|| s("id"))
                .unwrap_or_else(|| package.to_string()),
            severity,
            message: s("msg")
                .or_else(|| s("message"))
                .unwrap_or_else(|| item.to_string()),
            change: s("change"),
            group: s("group"),
            path: s("path"),
            pointer: s("pointer"),
            attribute: s("attribute"),
        },
    }
}

/// Reads `# METADATA` blocks (OPA annotations) whose `custom.id` names a rule.
pub fn rule_docs(src: &SourceText) -> Result<Vec<RuleDoc>> {
    let mut docs = Vec::new();
    let lines: Vec<&str> = src.text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines.get(i).map(|l| l.trim()) != Some("# METADATA") {
            i += 1;
            continue;
        }
        let start_line = i + 1;
        let mut yaml = String::new();
        i += 1;
        while let Some(l) = lines.get(i) {
            let Some(rest) = l.trim_start().strip_prefix('#') else {
                break;
            };
            yaml.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            yaml.push('\n');
            i += 1;
        }
        let meta = SourceText::new(format!("{}:{start_line}", src.path), yaml);
        let docs_yaml = crate::text::parse_yaml(&meta, Stage::Policy).map_err(|e| {
            Error::at_line_col(
                Stage::Policy,
                src,
                start_line,
                1,
                format!("METADATA block is not YAML: {e}"),
            )
        })?;
        let Some(v) = docs_yaml.first().map(|d| &d.value) else {
            continue;
        };
        let c = |k: &str| {
            v.pointer(&format!("/custom/{k}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let id = c("id");
        if id.is_empty() {
            continue;
        }
        let severity = if c("severity") == "warn" {
            Severity::Warn
        } else {
            Severity::Deny
        };
        docs.push(RuleDoc {
            id,
            severity,
            title: v
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            what: v
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            why: c("why"),
            example: c("example"),
            fix: c("fix"),
        });
    }
    Ok(docs)
}
