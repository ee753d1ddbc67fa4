//! `quorate check`: inputs -> normalized model -> policies -> located, waived, sorted findings.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::engine::{PolicyOptions, PolicySet, RawFinding};
use crate::error::{Error, Result};
use crate::model::{ChangeSet, Finding, Location, Mode, Report, Summary, WaiverNote, API_VERSION};
use crate::sources::{Inputs, LoadOptions};
use crate::text::{self, Span};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub paths: Vec<String>,
    pub observed: Vec<String>,
    pub config: Option<String>,
    pub policies: Vec<String>,
    pub builtin: bool,
    pub now: Option<String>,
    pub observed_at: Option<String>,
    pub max_input_bytes: u64,
    pub timeout: Duration,
    /// `--max-policy-memory`, in bytes.
    pub max_policy_memory: u64,
    /// conftest namespaces whose policies see each input document (default `main`).
    pub namespaces: Vec<String>,
    /// Every package outside `quorate.` is a conftest namespace.
    pub all_namespaces: bool,
    /// `--exclude` globs (added to the config's `exclude:`).
    pub exclude: Vec<String>,
    /// Policy files already read (`quorate diff` reads `--policy` directories from the base
    /// revision), loaded with `policies`.
    pub policy_sources: Vec<crate::text::SourceText>,
    /// `--root`: the directory report paths are relative to (default: the git work tree
    /// that holds each file).
    pub root: Option<String>,
    /// `--tf-root`: the Terraform configuration of the plans, to locate findings in `.tf` files.
    pub tf_root: Option<String>,
    /// `--observe`: live state read from the source for the groups the changes touch.
    pub observe: crate::observe::ObserveOptions,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            paths: Vec::new(),
            observed: Vec::new(),
            config: None,
            policies: Vec::new(),
            builtin: true,
            now: None,
            observed_at: None,
            max_input_bytes: text::DEFAULT_MAX_INPUT_BYTES,
            timeout: crate::engine::DEFAULT_TIMEOUT,
            max_policy_memory: crate::engine::DEFAULT_MAX_POLICY_MEMORY,
            namespaces: vec!["main".into()],
            all_namespaces: false,
            exclude: Vec::new(),
            observe: crate::observe::ObserveOptions::default(),
            policy_sources: Vec::new(),
            root: None,
            tf_root: None,
        }
    }
}

pub fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(t) => crate::sources::parse_time(t).ok_or_else(|| {
            Error::usage(format!(
                "--now `{t}` is not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)"
            ))
        }),
    }
}

/// Reads every input and builds the Rego input, without evaluating.
pub fn build_input(opts: &CheckOptions) -> Result<(ChangeSet, Inputs, Config)> {
    validate_options(opts)?;
    let config = Config::discover(opts.config.as_deref(), opts.max_input_bytes)?;
    build_input_with(opts, config, false)
}

/// Loads the built-in and `--policy` policies with the config as `data.quorate.config`.
pub fn load_policies(opts: &CheckOptions, config: &Config) -> Result<PolicySet> {
    let popts = PolicyOptions {
        builtin: opts.builtin,
        builtin_tests: false,
        paths: opts.policies.clone(),
        sources: opts.policy_sources.clone(),
        namespaces: opts.namespaces.clone(),
        all_namespaces: opts.all_namespaces,
        timeout: opts.timeout,
        max_memory: opts.max_policy_memory,
    };
    PolicySet::load_with(&popts, config.data())
}

/// The data document policies see (`data.quorate.config` plus bundle data), for debugging a
/// policy with another Rego tool: `quorate check --emit-data`.
pub fn data_document(opts: &CheckOptions) -> Result<Value> {
    let config = Config::discover(opts.config.as_deref(), opts.max_input_bytes)?;
    Ok(load_policies(opts, &config)?.data)
}

fn validate_options(opts: &CheckOptions) -> Result<()> {
    if opts.paths.iter().all(|p| p.is_empty()) {
        return Err(Error::usage(
            "nothing to check: give a Terraform plan (terraform show -json) or a directory",
        )
        .with_help("quorate check plan.json --observed asg.json"));
    }
    parse_now(opts.now.as_deref())?;
    if let Some(t) = &opts.observed_at {
        if crate::sources::parse_time(t).is_none() {
            return Err(Error::usage(format!(
                "--observed-at `{t}` is not an RFC 3339 time"
            )));
        }
    }
    Ok(())
}

/// Builds the Rego input with a loaded config; `keep_documents` keeps every document for
/// conftest-style policies (and accepts documents quorate does not read).
pub fn build_input_with(
    opts: &CheckOptions,
    config: Config,
    keep_documents: bool,
) -> Result<(ChangeSet, Inputs, Config)> {
    validate_options(opts)?;
    let now = parse_now(opts.now.as_deref())?;
    let load = LoadOptions {
        max_input_bytes: opts.max_input_bytes,
        observed_at: opts.observed_at.clone(),
        now,
        exclude: excludes(opts, &config)?,
    };
    let mut inputs = Inputs::default();
    inputs.keep_documents = keep_documents;
    inputs.roots = Some(crate::paths::Roots::new(opts.root.as_deref()));
    inputs.tf_root = opts.tf_root.clone();
    // An empty argument (`"$PLAN"` unset in a script) is skipped, as conftest does.
    let paths: Vec<String> = opts
        .paths
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect();
    inputs.load_changes(&paths, &load)?;
    inputs.load_observed(&opts.observed, &load)?;
    observe_live(opts, &config, &mut inputs, &load)?;
    inputs.finish(&config);
    let mut set = ChangeSet {
        api_version: API_VERSION.into(),
        mode: Mode::Check,
        now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        changes: std::mem::take(&mut inputs.changes),
        drift: std::mem::take(&mut inputs.drift),
        observed: std::mem::take(&mut inputs.observed),
        context: Value::Object(Default::default()),
    };
    crate::effects::apply(&mut set, &config, &inputs.live);
    crate::freeze::publish(&mut set, &config.freezes);
    Ok((set, inputs, config))
}

/// `--observe`: reads the live state of what the loaded changes touch. It was observed when
/// it was fetched: `--now` (or the clock `quorate gate` runs on) when given, else the clock.
pub fn observe_live(
    opts: &CheckOptions,
    config: &Config,
    inputs: &mut Inputs,
    load: &LoadOptions,
) -> Result<()> {
    if opts.observe.is_empty() {
        return Ok(());
    }
    let targets = crate::observe::targets(&inputs.changes, &inputs.manifest_workloads(), config);
    let fetched = crate::observe::fetch(&opts.observe, &targets, config)?;
    let taken = match &opts.now {
        Some(_) => load.now,
        None => Utc::now(),
    };
    inputs.load_fetched(
        fetched,
        &taken.to_rfc3339_opts(SecondsFormat::Secs, true),
        load,
    )
}

/// The config's `exclude:` globs plus `--exclude`.
pub fn excludes(opts: &CheckOptions, config: &Config) -> Result<crate::paths::Excludes> {
    let globs: Vec<&String> = config.exclude.iter().chain(&opts.exclude).collect();
    crate::paths::Excludes::new(&globs).map_err(|(i, why)| {
        let glob = globs.get(i).map_or("", |g| g.as_str());
        Error::usage(format!("--exclude `{glob}` is not a glob: {why}"))
    })
}

pub fn check(opts: &CheckOptions) -> Result<Report> {
    validate_options(opts)?;
    let config = Config::discover(opts.config.as_deref(), opts.max_input_bytes)?;
    let policies = load_policies(opts, &config)?;
    let (set, inputs, config) = build_input_with(opts, config, policies.has_conftest())?;
    evaluate(&set, &inputs, &config, &policies)
}

/// Evaluates a built input and turns the results into a report.
pub fn evaluate(
    set: &ChangeSet,
    inputs: &Inputs,
    config: &Config,
    policies: &PolicySet,
) -> Result<Report> {
    let json = serde_json::to_string(set)
        .map_err(|e| Error::usage(format!("model does not serialize: {e}")))?;
    let raw = policies.evaluate(&json)?;
    let now = parse_now(Some(&set.now))?;
    let mut findings = locate(set, inputs, raw);
    // Findings about the inputs themselves (a changed manifest that does not parse).
    findings.extend(inputs.findings.iter().cloned());
    // `severity:` in quorate.yaml tunes rules without waivers: deny, warn, or off.
    let before = findings.len();
    findings = findings
        .into_iter()
        .filter_map(|mut f| {
            f.severity = config.severity_of(&f.rule, f.severity)?;
            Some(f)
        })
        .collect();
    let off = before - findings.len();
    // At admission, `admission.scope` limits which objects a rule judges.
    if set.mode == crate::model::Mode::Admission && !config.admission_scope.is_empty() {
        findings.retain(|f| {
            let Some(scope) = config.scope_of(&f.rule) else {
                return true;
            };
            let change = f
                .change
                .as_deref()
                .and_then(|id| set.changes.iter().find(|c| c.id == id));
            change.is_none_or(|c| {
                let ns = c
                    .group
                    .as_deref()
                    .and_then(|g| g.split('/').next())
                    .unwrap_or("");
                scope.admits(ns, &c.labels)
            })
        });
    }
    let (conftest_found, conftest_exempted) = crate::conftest::findings(policies, inputs)?;
    findings.extend(conftest_found);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| loc_key(a).cmp(&loc_key(b)))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.change.cmp(&b.change))
    });
    findings.dedup();
    let mut report = Report {
        rules: policies.rules.clone(),
        ..Report::default()
    };
    report.rules.extend(crate::rules::native());
    // A waiver must name a rule that exists: a loaded rule's id, or one that found something.
    let mut ids: Vec<String> = report.rules.iter().map(|r| r.id.clone()).collect();
    ids.extend(findings.iter().map(|f| f.rule.clone()));
    // (The webhook checks them once at start instead: here they would fail every review.)
    if set.mode != crate::model::Mode::Admission {
        config.check_waivers(&ids, now)?;
    }
    let mut used = vec![false; config.waivers.len()];
    report.notices.extend(inputs.notices.iter().cloned());
    if off > 0 {
        report.notices.push(format!(
            "{off} finding{} of rules turned off in quorate.yaml (severity: off) not shown",
            if off == 1 { "" } else { "s" }
        ));
    }
    report.notices.extend(policies.notices.iter().cloned());
    report.waived.extend(conftest_exempted);
    for f in findings {
        let found = config
            .waivers
            .iter()
            .position(|w| w.matches(&f.rule, f.change.as_deref(), f.group.as_deref()));
        if let Some(slot) = found.and_then(|i| used.get_mut(i)) {
            *slot = true;
        }
        match found.and_then(|i| config.waivers.get(i)) {
            Some(w) if w.expires > now => {
                let mut f = f;
                f.waiver = Some(WaiverNote {
                    reason: w.reason.clone(),
                    by: Some(w.by.clone()),
                    expires: Some(w.expires_text.clone()),
                });
                report.waived.push(f);
            }
            Some(w) => {
                report.notices.push(format!(
                    "waiver at {} for {} on {} expired {}; the finding applies",
                    w.at,
                    w.rule,
                    f.change.as_deref().or(f.group.as_deref()).unwrap_or("-"),
                    w.expires_text
                ));
                report.findings.push(f);
            }
            None => report.findings.push(f),
        }
    }
    for (w, _) in config.waivers.iter().zip(&used).filter(|(_, u)| !**u) {
        report.notices.push(format!(
            "waiver at {} for {} on {} matched no finding; remove it when it is no longer needed",
            w.at,
            w.rule,
            w.change.as_deref().or(w.group.as_deref()).unwrap_or("-")
        ));
    }
    report.notices.dedup();
    report.summary = Summary {
        deny: report.count(crate::model::Severity::Deny),
        warn: report.findings.len() - report.count(crate::model::Severity::Deny),
        changes: set.changes.len(),
        waived: report.waived.len(),
    };
    for f in report.findings.iter().chain(&report.waived) {
        for loc in f.location.iter().chain(&f.related) {
            if let Some(src) = inputs.sources.get(&loc.path) {
                report.sources.insert(loc.path.clone(), src.text.clone());
            }
        }
    }
    terraform_locations(&mut report, inputs);
    if let Some(roots) = &inputs.roots {
        relative_paths(&mut report, roots.clone());
    }
    Ok(report)
}

/// Terraform findings located in a plan move to the `.tf` line that declares the attribute
/// (`--tf-root`, else the current directory when it holds `.tf` files); the plan location
/// follows as a related one. Without the configuration nothing changes.
fn terraform_locations(report: &mut Report, inputs: &Inputs) {
    if inputs.terraform_configs.is_empty() {
        return;
    }
    let root = match &inputs.tf_root {
        Some(dir) => std::path::PathBuf::from(dir),
        None => match std::env::current_dir() {
            Ok(cwd) if crate::sources::tfconfig::has_tf_files(&cwd) => cwd,
            _ => return,
        },
    };
    let mut files = crate::sources::tfconfig::TfFiles::default();
    for f in report.findings.iter_mut().chain(report.waived.iter_mut()) {
        let (Some(plan), Some(address)) = (&f.location, &f.change) else {
            continue;
        };
        let Some(config) = inputs.terraform_configs.get(&plan.path) else {
            continue;
        };
        let attribute = crate::sources::tfconfig::attribute_of(&plan.pointer);
        if let Some((src, tf)) = files.locate(&root, config, address, attribute) {
            report.sources.insert(src.path.clone(), src.text.clone());
            let plan = f.location.replace(tf);
            f.related.extend(plan);
        }
    }
}

/// Names every file of the report relative to the repository root, the same in every format:
/// locations and the keys of the quoted sources.
fn relative_paths(report: &mut Report, mut roots: crate::paths::Roots) {
    for f in report.findings.iter_mut().chain(report.waived.iter_mut()) {
        for loc in f.location.iter_mut().chain(f.related.iter_mut()) {
            loc.path = roots.relative(&loc.path);
        }
    }
    report.sources = std::mem::take(&mut report.sources)
        .into_iter()
        .map(|(path, text)| (roots.relative(&path), text))
        .collect();
    report.root = roots.primary().map(|p| p.display().to_string());
    report.outside_root = roots.outside_primary();
}

fn loc_key(f: &Finding) -> (String, usize, usize) {
    f.location.as_ref().map_or((String::new(), 0, 0), |l| {
        (l.path.clone(), l.line, l.column)
    })
}

/// Resolves each finding's (path, pointer) to file:line:col, one pass per JSON file.
fn locate(set: &ChangeSet, inputs: &Inputs, raw: Vec<RawFinding>) -> Vec<Finding> {
    let by_id: HashMap<&str, &crate::model::Change> =
        set.changes.iter().map(|c| (c.id.as_str(), c)).collect();
    let targets: Vec<Option<(String, usize, String)>> = raw
        .iter()
        .map(|r| {
            if let (Some(path), Some(pointer)) = (&r.path, &r.pointer) {
                let doc = set
                    .changes
                    .iter()
                    .find(|c| &c.source.path == path)
                    .map_or(0, |c| c.source.document);
                return Some((path.clone(), doc, pointer.clone()));
            }
            let c = by_id.get(r.change.as_deref()?)?;
            let pointer = match (&c.source.after_pointer, r.attribute.as_deref()) {
                (Some(after), Some(attr)) if !attr.is_empty() => format!("{after}{attr}"),
                _ => c.source.pointer.clone(),
            };
            Some((c.source.path.clone(), c.source.document, pointer))
        })
        .collect();
    let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, _, pointer) in targets.iter().flatten() {
        // Ask for the pointer and its parents, so a missing attribute falls back to its object.
        let entry = wanted.entry(path.as_str()).or_default();
        let mut p = pointer.clone();
        loop {
            entry.push(p.clone());
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => break,
            }
        }
    }
    // YAML files already have a span for every node; JSON files are located in one pass each.
    let mut json_spans: HashMap<String, HashMap<String, Span>> = HashMap::new();
    for (path, pointers) in wanted {
        let Some(src) = inputs.sources.get(path) else {
            continue;
        };
        if !inputs.yaml_spans.keys().any(|(p, _)| p == path) {
            json_spans.insert(path.to_string(), text::locate_json(&src.text, &pointers));
        }
    }
    // A finding about nothing in particular (a custom rule without a change) is still shown
    // at the input file: code scanning and annotations need a file.
    let fallback = set
        .changes
        .first()
        .map(|c| c.source.path.as_str())
        .or_else(|| inputs.documents.first().map(|d| d.path.as_str()))
        .or_else(|| inputs.sources.keys().next().map(String::as_str))
        .map(|path| Location {
            path: path.to_string(),
            line: 1,
            column: 1,
            pointer: String::new(),
            offset: 0,
            len: 0,
        });
    raw.into_iter()
        .zip(targets)
        .map(|(r, target)| {
            let location = target.and_then(|(path, doc, pointer)| {
                let src = inputs.sources.get(&path)?;
                let map = inputs
                    .yaml_spans
                    .get(&(path.clone(), doc))
                    .or_else(|| json_spans.get(&path))?;
                let mut p = pointer.clone();
                let (start, end) = loop {
                    if let Some(s) = map.get(&p) {
                        break *s;
                    }
                    if p.is_empty() {
                        return None;
                    }
                    match p.rfind('/') {
                        Some(i) => p.truncate(i),
                        None => p.clear(),
                    }
                };
                let (line, column) = src.line_col(start);
                // Label the first line of the node only: objects span many lines.
                let first_line_end = src
                    .text
                    .get(start..end)
                    .and_then(|s| s.find('\n'))
                    .map_or(end, |i| start + i);
                Some(Location {
                    path,
                    line,
                    column,
                    pointer: p,
                    offset: start,
                    len: first_line_end.saturating_sub(start),
                })
            });
            Finding {
                rule: r.rule,
                severity: r.severity,
                message: r.message,
                change: r.change,
                group: r.group,
                location: location.or_else(|| fallback.clone()),
                waiver: None,
                related: Vec::new(),
            }
        })
        .collect()
}
