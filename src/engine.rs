//! The only user of regorus: loads the built-in and user policies (files, directories, OPA
//! bundles; Rego v1, or v0 when a file is not v1) once, evaluates them with a time limit over
//! the change set (`quorate.*` packages) or per input document (conftest namespaces), reads
//! rule docs from METADATA annotations, and runs `test_*` rules.

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
        "policies/freeze.rego",
        include_str!("../policies/freeze.rego"),
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
    (
        "policies/freeze_test.rego",
        include_str!("../policies/freeze_test.rego"),
    ),
];

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Which policies to load, and which packages are conftest namespaces.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// Load the built-in policies (`policies/*.rego`, embedded).
    pub builtin: bool,
    /// Also load the built-in `*_test.rego` files (`quorate test` without paths).
    pub builtin_tests: bool,
    /// `--policy` arguments: `.rego` files, directories, OPA bundles (`.tar.gz`).
    pub paths: Vec<String>,
    /// Policy files already read (from a git revision), loaded like files from `paths`.
    pub sources: Vec<SourceText>,
    /// conftest namespaces (`--namespace`, `*` matches any run of characters).
    pub namespaces: Vec<String>,
    /// Every package not under `quorate.` is a conftest namespace.
    pub all_namespaces: bool,
    pub timeout: Duration,
    /// Memory evaluation may add to what quorate holds when it first evaluates, in bytes.
    pub max_memory: u64,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            builtin: true,
            builtin_tests: false,
            paths: Vec::new(),
            sources: Vec::new(),
            namespaces: vec!["main".into()],
            all_namespaces: false,
            timeout: DEFAULT_TIMEOUT,
            max_memory: DEFAULT_MAX_POLICY_MEMORY,
        }
    }
}

/// Default of `--max-policy-memory`: 1 GiB.
pub const DEFAULT_MAX_POLICY_MEMORY: u64 = 1 << 30;

/// Parses a size: bytes, or a number with K/M/G/T (powers of 1024; `KiB`, `MB`... also read).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512MiB, 2GiB, 1000000)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "`{text}` is not a size (e.g. 512MiB, 2GiB, 1000000)"
            ))
        }
    };
    n.checked_mul(1u64 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a size quorate can use"))
}

static MEMORY_LIMIT_FIXED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Arms regorus' process-wide memory limit at the memory in use now plus `budget`, before each
/// evaluation (the CLI evaluates one at a time, after its inputs are read). Allocation is
/// counted by the allocator regorus installs; evaluation checks the limit as it goes (every
/// builtin that grows a value included) and stops with a limit error.
fn arm_memory_limit(budget: u64) {
    if MEMORY_LIMIT_FIXED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let (stats, _) = regorus_mimalloc::allocation_stats_snapshot();
    regorus::set_global_memory_limit(Some(stats.allocated.saturating_add(budget)));
}

/// Fixes the limit at the memory in use now plus `budget`, for every evaluation from now on:
/// `quorate serve` evaluates concurrently, and re-arming per evaluation would let a runaway
/// one grow with every review that starts beside it. All evaluations share the budget.
pub fn fix_memory_limit(budget: u64) {
    MEMORY_LIMIT_FIXED.store(false, std::sync::atomic::Ordering::Relaxed);
    arm_memory_limit(budget);
    MEMORY_LIMIT_FIXED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Evaluates `rule`, turning a panic inside the policy engine (an arithmetic overflow in a
/// builtin, say) into an error: the engine is a per-evaluation clone, so nothing is left broken.
fn eval_guarded(engine: &mut Engine, rule: &str) -> anyhow::Result<RValue> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.eval_rule(rule.into())
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(anyhow::anyhow!("the policy engine failed: {what}"))
    })
}

fn memory_error(e: &anyhow::Error, budget: u64) -> Option<Error> {
    let limit = e
        .chain()
        .find_map(|c| c.downcast_ref::<regorus::LimitError>())
        .copied()
        .or_else(|| {
            e.to_string()
                .contains("memory limit")
                .then_some(regorus::LimitError::MemoryLimitExceeded { usage: 0, limit: 0 })
        })?;
    if !matches!(limit, regorus::LimitError::MemoryLimitExceeded { .. }) {
        return None;
    }
    Some(
        Error::file(
            Stage::Policy,
            "",
            format!(
                "policy evaluation stopped: it needed more than the memory limit of {} MiB",
                budget >> 20
            ),
        )
        .with_help("a policy builds a value out of proportion to its input (a string doubled, a CIDR expanded, a huge sprintf width); raise --max-policy-memory only if the input is really this large"),
    )
}

/// One loaded Rego module, as the test runner and the fixture cases see it.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    pub path: String,
    pub package: String,
    pub builtin: bool,
    /// Parsed as Rego v0 (no `if` / `contains`), because Rego v1 did not parse.
    pub rego_v0: bool,
    /// Rule names (first component of each head) with the line of their first definition.
    pub rules: Vec<(String, usize, RuleKind)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A complete or partial rule (value, set or object).
    Value,
    /// A function (has arguments).
    Function,
}

/// A conftest rule collected per input document: `data.<namespace>.<rule>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConftestRule {
    pub namespace: String,
    pub rule: String,
}

/// What the conftest rules said about one document, before interpretation: the value of each
/// rule (absent when undefined) and each namespace's `exception` value.
#[derive(Debug, Clone, Default)]
pub struct DocumentResults {
    pub rules: Vec<(ConftestRule, Option<Value>)>,
    pub exceptions: BTreeMap<String, Value>,
}

/// The change-set policies compiled for regorus' bytecode VM (experimental).
#[derive(Clone)]
pub struct RvmProgram {
    compiled: regorus::CompiledPolicy,
    program: std::sync::Arc<regorus::rvm::program::Program>,
    data: RValue,
}

/// A `test_*` rule: passes when it evaluates to `true` (OPA `opa test` semantics).
#[derive(Debug, Clone)]
pub struct TestCase {
    pub package: String,
    pub name: String,
    pub file: String,
    pub line: usize,
    /// `todo_test_*`: reported as skipped, like OPA.
    pub todo: bool,
}

impl TestCase {
    pub fn full_name(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    Pass,
    /// The rule is false or undefined (or some other value than `true`).
    Fail,
    /// Evaluation failed (a builtin error, a conflict, the time limit).
    Error(String),
}

/// Policies loaded and checked once; cloned per evaluation (cheap: shared modules).
#[derive(Clone)]
pub struct PolicySet {
    engine: Engine,
    /// (package path, set name, severity) to collect over the change set.
    entries: Vec<(String, String, Severity)>,
    /// conftest rules, evaluated once per input document.
    conftest: Vec<ConftestRule>,
    /// conftest namespaces that declare `exception`.
    exception_namespaces: Vec<String>,
    pub rules: Vec<RuleDoc>,
    pub modules: Vec<ModuleInfo>,
    /// Things the user should know about their policies (e.g. rules no one evaluates).
    pub notices: Vec<String>,
    /// The data document policies see: `quorate.config` plus bundle data.
    pub data: Value,
    sources: BTreeMap<String, SourceText>,
    timeout: Duration,
    max_memory: u64,
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("_test.rego")
}

/// Packages under `quorate.` see the normalized change set; the others are conftest-style.
pub fn is_quorate_package(package: &str) -> bool {
    package == "quorate" || package.starts_with("quorate.")
}

/// conftest's failure rules: `deny`, `violation`, `deny_<name>`, `violation_<name>`.
pub fn rule_severity(name: &str) -> Option<Severity> {
    let suffix_ok = |rest: &str| {
        rest.is_empty()
            || rest.strip_prefix('_').is_some_and(|r| {
                !r.is_empty()
                    && r.split('_')
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            })
    };
    for (prefix, sev) in [
        ("deny", Severity::Deny),
        ("violation", Severity::Deny),
        ("warn", Severity::Warn),
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if suffix_ok(rest) {
                return Some(sev);
            }
        }
    }
    None
}

/// `--namespace` matching: literal, or a glob where `*` matches any characters.
pub fn namespace_matches(pattern: &str, package: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, s.get(i..).unwrap_or_default())),
            Some((c, rest)) => s
                .split_first()
                .is_some_and(|(d, srest)| c == d && glob(rest, srest)),
        }
    }
    glob(pattern.as_bytes(), package.as_bytes())
}

/// A policy file to load, with how to parse it.
struct PolicyFile {
    src: SourceText,
    builtin: bool,
    /// Rego v1 only (built-ins), v0 only (bundle manifest says so), or v1 then v0.
    version: Version,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V0,
    Auto,
}

fn package_of(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find_map(|l| l.strip_prefix("package "))
        .map(|p| p.trim().to_string())
}

impl PolicySet {
    /// Loads the built-in policies (unless `builtin` is false), user policy files or
    /// directories, and `data.quorate.config`.
    pub fn load(builtin: bool, user: &[String], config: Value, timeout: Duration) -> Result<Self> {
        let opts = PolicyOptions {
            builtin,
            builtin_tests: builtin,
            paths: user.to_vec(),
            sources: Vec::new(),
            timeout,
            ..PolicyOptions::default()
        };
        Self::load_with(&opts, config)
    }

    /// Loads policies as `opts` says, with `config` as `data.quorate.config`.
    pub fn load_with(opts: &PolicyOptions, config: Value) -> Result<Self> {
        let mut engine = Engine::new();
        bounded_ranges(&mut engine)?;
        crate::bounded::install(&mut engine)?;
        let mut set = PolicySet {
            engine: Engine::new(),
            entries: Vec::new(),
            conftest: Vec::new(),
            exception_namespaces: Vec::new(),
            rules: Vec::new(),
            modules: Vec::new(),
            notices: Vec::new(),
            data: Value::Null,
            sources: BTreeMap::new(),
            timeout: opts.timeout,
            max_memory: opts.max_memory,
        };
        let mut user: Vec<PolicyFile> = Vec::new();
        let mut bundles = Vec::new();
        for path in &opts.paths {
            if crate::bundle::is_bundle(path) {
                let b = crate::bundle::read(path)?;
                let version = if b.rego_v0 {
                    Version::V0
                } else {
                    Version::Auto
                };
                user.extend(b.policies.iter().map(|src| PolicyFile {
                    src: src.clone(),
                    builtin: false,
                    version,
                }));
                bundles.push(b);
            } else {
                user.extend(read_policies(path)?.into_iter().map(|src| PolicyFile {
                    src,
                    builtin: false,
                    version: Version::Auto,
                }));
            }
        }
        user.extend(opts.sources.iter().map(|src| PolicyFile {
            src: src.clone(),
            builtin: false,
            version: Version::Auto,
        }));
        let mut files: Vec<PolicyFile> = Vec::new();
        if opts.builtin {
            // A user file declaring a built-in package replaces that built-in file (e.g.
            // `quorate test policies/` in this repository, or a patched copy).
            let overridden: Vec<String> = user
                .iter()
                .filter_map(|f| package_of(&f.src.text))
                .collect();
            files.extend(
                BUILTIN
                    .iter()
                    .filter(|(p, _)| opts.builtin_tests || !is_test_file(p))
                    .filter(|(_, t)| package_of(t).is_none_or(|p| !overridden.contains(&p)))
                    .map(|(p, t)| PolicyFile {
                        src: SourceText::new(*p, *t),
                        builtin: true,
                        version: Version::V1,
                    }),
            );
        }
        files.extend(user);
        let mut v0_files = Vec::new();
        for f in &files {
            if set.sources.contains_key(&f.src.path) {
                continue; // the same file given twice
            }
            if add_module(&mut engine, f)? {
                v0_files.push(f.src.path.clone());
            }
            set.sources.insert(f.src.path.clone(), f.src.clone());
        }
        set.modules = module_infos(&mut engine, &files, &v0_files);
        check_recursion(&mut engine, &set.sources)?;
        for b in &bundles {
            let prefix = format!("{}!/", b.path);
            let packages: Vec<(String, String)> = set
                .modules
                .iter()
                .filter(|m| m.path.starts_with(&prefix))
                .map(|m| (m.path.clone(), m.package.clone()))
                .collect();
            crate::bundle::check_roots(b, &packages)?;
        }
        set.classify(opts, &files)?;

        let mut data = serde_json::json!({"quorate": {"config": config}});
        for b in &bundles {
            crate::bundle::merge(&mut data, crate::bundle::data_document(b));
        }
        let rdata = RValue::from_json_str(&data.to_string())
            .map_err(|e| Error::usage(format!("data cannot be passed to policies: {e}")))?;
        engine
            .add_data(rdata)
            .map_err(|e| Error::usage(format!("data cannot be passed to policies: {e}")))?;
        set.data = data;
        // Reading the clock every step costs ~12% of evaluation; every 1,000 steps is plenty.
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: opts.timeout,
            check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
        });
        engine.set_gather_prints(true);
        // Compile the aggregate entry points now, so a broken policy fails before any input.
        engine
            .add_policy("<quorate-entry>".into(), set.entry_module())
            .map_err(|e| Error::usage(format!("internal entry point does not compile: {e}")))?;
        engine
            .add_policy("<quorate-conftest>".into(), set.conftest_module())
            .map_err(|e| Error::usage(format!("internal entry point does not compile: {e}")))?;
        engine.set_input(RValue::new_object());
        // User policies run here on an empty input: under the same limits as any evaluation.
        arm_memory_limit(opts.max_memory);
        for rule in ["data.quorate_entry.sets", "data.quorate_conftest.out"] {
            if let Err(e) = engine.eval_rule(rule.into()) {
                // Evaluation on an empty input is allowed to fail at run time (missing fields);
                // only compile errors, which carry a position, are fatal here.
                let msg = e.to_string();
                if let Some(err) = set.located_error(&msg) {
                    if msg.contains("error:") && !msg.contains("undefined") {
                        return Err(err);
                    }
                }
            }
        }
        let _ = engine.take_prints();
        set.engine = engine;
        set.rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(set)
    }

    /// Sorts each package's rules into change-set entries, conftest rules or nothing.
    fn classify(&mut self, opts: &PolicyOptions, files: &[PolicyFile]) -> Result<()> {
        let conftest_ns = |pkg: &str| {
            !is_quorate_package(pkg)
                && (opts.all_namespaces
                    || opts.namespaces.iter().any(|n| namespace_matches(n, pkg)))
        };
        let mut ignored: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for m in &self.modules {
            let test_file = is_test_file(&m.path);
            let findings_rules = m
                .rules
                .iter()
                .filter(|(_, _, k)| *k == RuleKind::Value)
                .filter_map(|(name, _, _)| Some((name, rule_severity(name)?)));
            if is_quorate_package(&m.package) {
                if test_file {
                    continue;
                }
                for (name, sev) in findings_rules {
                    let entry = (m.package.clone(), name.clone(), sev);
                    if !self.entries.contains(&entry) {
                        self.entries.push(entry);
                    }
                }
            } else if conftest_ns(&m.package) {
                for (name, _) in findings_rules {
                    let r = ConftestRule {
                        namespace: m.package.clone(),
                        rule: name.clone(),
                    };
                    if !self.conftest.contains(&r) {
                        self.conftest.push(r);
                    }
                }
                if m.rules.iter().any(|(n, _, _)| n == "exception")
                    && !self.exception_namespaces.contains(&m.package)
                {
                    self.exception_namespaces.push(m.package.clone());
                }
            } else if !test_file {
                let entry = ignored.entry(m.package.clone()).or_default();
                for (name, _) in findings_rules {
                    entry.insert(name.clone());
                }
            }
        }
        for (package, names) in ignored.into_iter().filter(|(_, n)| !n.is_empty()) {
            self.notices.push(format!(
                "package {package} declares {} but is neither under `quorate.` nor a conftest namespace (--namespace {}): its rules are not evaluated",
                names.into_iter().collect::<Vec<_>>().join(", "),
                opts.namespaces.join(", ")
            ));
        }
        for f in files {
            if !is_test_file(&f.src.path) {
                self.rules.extend(rule_docs(&f.src)?);
            }
        }
        Ok(())
    }

    /// True when conftest-style policies are loaded: every input document is then evaluated
    /// on its own, and documents quorate does not read are accepted.
    pub fn has_conftest(&self) -> bool {
        !self.conftest.is_empty()
    }

    pub fn conftest_rules(&self) -> &[ConftestRule] {
        &self.conftest
    }

    fn entry_module(&self) -> String {
        let mut s = String::from("package quorate_entry\n\nsets := [\n");
        for (pkg, name, _) in &self.entries {
            s.push_str(&format!("  {},\n", rule_ref(pkg, name)));
        }
        s.push_str("]\n");
        s
    }

    /// `out.r[i]` is `[]` or `[value]` of the i-th conftest rule (a comprehension keeps an
    /// undefined rule from making the whole result undefined); `out.e` the same for exceptions.
    fn conftest_module(&self) -> String {
        let mut s = String::from("package quorate_conftest\n\nout := {\"r\": [\n");
        for r in &self.conftest {
            s.push_str(&format!(
                "  [x | x := {}],\n",
                rule_ref(&r.namespace, &r.rule)
            ));
        }
        s.push_str("], \"e\": [\n");
        for ns in &self.exception_namespaces {
            s.push_str(&format!("  [x | x := {}],\n", rule_ref(ns, "exception")));
        }
        s.push_str("]}\n");
        s
    }

    /// Evaluates every deny/warn/violation set against `input` (JSON text of the model).
    pub fn evaluate(&self, input_json: &str) -> Result<Vec<RawFinding>> {
        Ok(self
            .evaluate_tagged(input_json)?
            .into_iter()
            .map(|(_, f)| f)
            .collect())
    }

    /// Like [`evaluate`](Self::evaluate), with the package each finding came from.
    pub fn evaluate_tagged(&self, input_json: &str) -> Result<Vec<(String, RawFinding)>> {
        if self.entries.is_empty() {
            return Ok(Vec::new());
        }
        let json = self.eval_entry("data.quorate_entry.sets", input_json, "input")?;
        let sets = json.as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for ((pkg, _, severity), results) in self.entries.iter().zip(sets) {
            for item in results.as_array().into_iter().flatten() {
                out.push((pkg.clone(), raw_finding(pkg, *severity, item)));
            }
        }
        Ok(out)
    }

    /// Compiles the change-set entry point for regorus' bytecode VM (RVM). Experimental, for
    /// benches/policy_eval.rs only: in regorus 0.14.1 the RVM drops findings the interpreter
    /// and OPA produce on our policies, so `check` does not use it. Its root cause: an
    /// assignment from a function call that is undefined binds an undefined value instead of
    /// failing the body (`[y | y := f(1)]` with `f(1)` undefined is `["<undefined>"]`, not `[]`).
    pub fn rvm_program(&self) -> Result<RvmProgram> {
        let mut engine = self.engine.clone();
        let entry = "data.quorate_entry.sets";
        let compiled = engine
            .compile_with_entrypoint(&entry.into())
            .map_err(|e| Error::usage(format!("RVM: {e}")))?;
        let program =
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[entry])
                .map_err(|e| Error::usage(format!("RVM: {e}")))?;
        let data = RValue::from_json_str(&self.data.to_string())
            .map_err(|e| Error::usage(format!("RVM: {e}")))?;
        Ok(RvmProgram {
            compiled,
            program,
            data,
        })
    }

    /// [`evaluate`](Self::evaluate) on the RVM (see [`rvm_program`](Self::rvm_program)).
    pub fn evaluate_rvm(&self, rvm: &RvmProgram, input_json: &str) -> Result<Vec<RawFinding>> {
        let mut vm = regorus::rvm::RegoVM::new_with_policy(rvm.compiled.clone());
        vm.load_program(rvm.program.clone());
        vm.set_max_instructions(usize::MAX);
        vm.set_data(rvm.data.clone())
            .map_err(|e| Error::usage(format!("RVM: {e}")))?;
        vm.set_input(
            RValue::from_json_str(input_json)
                .map_err(|e| Error::usage(format!("input cannot be passed to policies: {e}")))?,
        );
        let value = vm
            .execute_entry_point_by_name("data.quorate_entry.sets")
            .map_err(|e| Error::usage(format!("RVM: {e}")))?;
        let json: Value = serde_json::to_value(&value)
            .map_err(|e| Error::usage(format!("policy results are not JSON: {e}")))?;
        let mut out = Vec::new();
        for ((pkg, _, severity), results) in self
            .entries
            .iter()
            .zip(json.as_array().cloned().unwrap_or_default())
        {
            for item in results.as_array().into_iter().flatten() {
                out.push(raw_finding(pkg, *severity, item));
            }
        }
        Ok(out)
    }

    /// Evaluates one generated entry rule on a fresh copy of the engine with `input_json` (the
    /// change set or a document, named `what` in errors) as `input`; the result as JSON.
    fn eval_entry(&self, rule: &str, input_json: &str, what: &str) -> Result<Value> {
        arm_memory_limit(self.max_memory);
        let mut engine = self.engine.clone();
        let input = RValue::from_json_str(input_json)
            .map_err(|e| Error::usage(format!("{what} cannot be passed to policies: {e}")))?;
        engine.set_input(input);
        let value = eval_guarded(&mut engine, rule).map_err(|e| self.eval_error(&e))?;
        let _ = engine.take_prints();
        serde_json::to_value(&value)
            .map_err(|e| Error::usage(format!("policy results are not JSON: {e}")))
    }

    /// Evaluates the conftest rules with one raw document as `input`.
    pub fn evaluate_document(&self, doc_json: &str) -> Result<DocumentResults> {
        if self.conftest.is_empty() {
            return Ok(DocumentResults::default());
        }
        let json = self.eval_entry("data.quorate_conftest.out", doc_json, "document")?;
        let first = |v: &Value| v.as_array().and_then(|a| a.first()).cloned();
        let empty = Vec::new();
        let rules = json.get("r").and_then(Value::as_array).unwrap_or(&empty);
        let exceptions = json.get("e").and_then(Value::as_array).unwrap_or(&empty);
        Ok(DocumentResults {
            rules: self
                .conftest
                .iter()
                .cloned()
                .zip(rules.iter().map(first))
                .collect(),
            exceptions: self
                .exception_namespaces
                .iter()
                .cloned()
                .zip(exceptions.iter().filter_map(first))
                .collect(),
        })
    }

    fn eval_error(&self, e: &anyhow::Error) -> Error {
        if let Some(err) = memory_error(e, self.max_memory) {
            return err;
        }
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
        let first = first_error_line(msg);
        Some(match self.sources.get(&path) {
            Some(src) => Error::at_line_col(Stage::Policy, src, line, col, first),
            None => Error::at_position(Stage::Policy, path, line, col, first),
        })
    }

    /// Every `test_*` rule (no arguments) of the loaded modules, in file order.
    pub fn tests(&self) -> Vec<TestCase> {
        let mut out: Vec<TestCase> = Vec::new();
        for m in &self.modules {
            for (name, line, kind) in &m.rules {
                if *kind != RuleKind::Value {
                    continue;
                }
                let todo = name.starts_with("todo_test_");
                if !(todo || name.starts_with("test_")) {
                    continue;
                }
                if out
                    .iter()
                    .any(|t| t.package == m.package && &t.name == name)
                {
                    continue; // incremental definitions of one test
                }
                out.push(TestCase {
                    package: m.package.clone(),
                    name: name.clone(),
                    file: m.path.clone(),
                    line: *line,
                    todo,
                });
            }
        }
        out
    }

    /// Runs one test rule; `print()` output is returned alongside.
    pub fn run_test(&self, t: &TestCase) -> (TestOutcome, Vec<String>) {
        arm_memory_limit(self.max_memory);
        let mut engine = self.engine.clone();
        engine.set_input(RValue::Undefined);
        let outcome = match eval_guarded(&mut engine, &rule_ref(&t.package, &t.name)) {
            Ok(v) if v == RValue::from(true) => TestOutcome::Pass,
            Ok(_) => TestOutcome::Fail,
            Err(e) => TestOutcome::Error(self.describe_error(&e)),
        };
        let prints = engine.take_prints().unwrap_or_default();
        (outcome, prints)
    }

    /// `file:line:col: message` for an evaluation error.
    fn describe_error(&self, e: &anyhow::Error) -> String {
        if let Some(err) = memory_error(e, self.max_memory) {
            return err.to_string();
        }
        let msg = e.to_string();
        match parse_location(&msg) {
            Some((path, line, col)) => format!("{path}:{line}:{col}: {}", first_error_line(&msg)),
            None => msg.lines().next().unwrap_or_default().to_string(),
        }
    }
}

/// `data["pkg"]["part"]["rule"]`: literal components, whatever characters they hold.
/// The most numbers `numbers.range` / `numbers.range_step` may produce.
pub const MAX_RANGE_ELEMENTS: u64 = 10_000_000;

/// regorus sizes the array of `numbers.range` / `numbers.range_step` before filling it, so a
/// policy asking for 10^14 numbers aborts the process when that allocation fails (and the time
/// limit cannot interrupt one builtin call); `numbers.range_step(1, 5, 0)` divides by zero.
/// These overrides (extensions are looked up before builtins) build the same arrays, with OPA's
/// errors for a non-positive step, and fail the evaluation beyond [`MAX_RANGE_ELEMENTS`].
fn bounded_ranges(engine: &mut Engine) -> Result<()> {
    let added = engine
        .add_extension(
            "numbers.range".into(),
            2,
            Box::new(|args: Vec<RValue>| range_values("numbers.range", &args, None)),
        )
        .and_then(|_| {
            engine.add_extension(
                "numbers.range_step".into(),
                3,
                Box::new(|args: Vec<RValue>| {
                    range_values("numbers.range_step", &args, args.get(2))
                }),
            )
        });
    added.map_err(|e| Error::usage(format!("cannot bound numbers.range: {e}")))
}

fn range_values(name: &str, args: &[RValue], step: Option<&RValue>) -> anyhow::Result<RValue> {
    fn number<'v>(name: &str, v: Option<&'v RValue>) -> anyhow::Result<&'v RValue> {
        v.filter(|v| matches!(v, RValue::Number(_)))
            .ok_or_else(|| anyhow::anyhow!("{name} expects numeric arguments"))
    }
    let (from, to) = (number(name, args.first())?, number(name, args.get(1))?);
    let step: i64 = match step {
        None => 1,
        Some(s) => match number(name, Some(s))?.as_i64() {
            Ok(s) if s > 0 => s,
            _ => anyhow::bail!("{name}: step must be a positive integer"),
        },
    };
    // Like the builtin outside strict mode: a non-integer bound makes the result undefined.
    let (Ok(from), Ok(to)) = (from.as_i64(), to.as_i64()) else {
        return Ok(RValue::Undefined);
    };
    let span = i128::from(to) - i128::from(from);
    let count = span.unsigned_abs() / u128::from(step.unsigned_abs()) + 1;
    if count > u128::from(MAX_RANGE_ELEMENTS) {
        anyhow::bail!(
            "{name}({from}, {to}) would make {count} numbers; quorate allows at most {MAX_RANGE_ELEMENTS}"
        );
    }
    let sign: i128 = if span < 0 { -1 } else { 1 };
    let values = (0..count as i128)
        .map(|k| i128::from(from) + sign * k * i128::from(step))
        .map(|v| RValue::from(v as i64))
        .collect::<Vec<_>>();
    Ok(RValue::from(values))
}

fn rule_ref(package: &str, rule: &str) -> String {
    let mut s = String::from("data");
    for part in package.split('.').chain(std::iter::once(rule)) {
        s.push_str(&format!("[{}]", Value::String(part.to_string())));
    }
    s
}

fn first_error_line(msg: &str) -> String {
    msg.lines()
        .find(|l| l.contains("error"))
        .unwrap_or(msg)
        .trim()
        .to_string()
}

/// Adds one module; returns true if it was parsed as Rego v0.
fn add_module(engine: &mut Engine, f: &PolicyFile) -> Result<bool> {
    let path = f.src.path.clone();
    let text = f.src.text.to_string();
    if let Some(offset) = crate::rego_guard::too_deep(&crate::rego_guard::code_only(&text)) {
        return Err(Error::at(
            Stage::Policy,
            &f.src,
            offset,
            format!(
                "brackets nested more than {} deep",
                crate::rego_guard::MAX_POLICY_NESTING
            ),
        )
        .with_help("the policy parser's time grows exponentially with nesting: split the literal into named parts"));
    }
    if let Some((offset, width)) = crate::rego_guard::huge_format_width(&text) {
        return Err(Error::at(
            Stage::Policy,
            &f.src,
            offset,
            format!(
                "format width {width} is wider than {}",
                crate::rego_guard::MAX_FORMAT_WIDTH
            ),
        )
        .with_help("sprintf would build the whole padded string at once"));
    }
    if f.version == Version::V0 {
        engine.set_rego_v0(true);
        let r = engine.add_policy(path, text);
        engine.set_rego_v0(false);
        return r.map(|_| true).map_err(|e| policy_error(&e, &f.src));
    }
    let v1 = match engine.add_policy(path.clone(), text.clone()) {
        Ok(_) => return Ok(false),
        Err(e) => e,
    };
    if f.version == Version::V1 || uses_future_keywords(&f.src.text) {
        return Err(policy_error(&v1, &f.src));
    }
    // Many conftest policies predate Rego v1 (`deny[msg] { ... }`): a file that is not v1
    // is read as v0, as `opa` does with --v0-compatible. No file means different things in
    // the two, so trying v1 first is safe.
    engine.set_rego_v0(true);
    let v0 = engine.add_policy(path, text);
    engine.set_rego_v0(false);
    match v0 {
        Ok(_) => Ok(true),
        Err(e0) => Err(policy_error(&v1, &f.src).with_help(format!(
            "not Rego v0 either: {}",
            first_error_line(&e0.to_string())
        ))),
    }
}

/// The file uses `if` / `contains` / `in` / `every` without importing them from
/// `future.keywords`: written for Rego v1, so a v1 error is the one to report (and the v0
/// parser would print a warning for each).
fn uses_future_keywords(text: &str) -> bool {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let flush = |w: &mut String, words: &mut Vec<String>| {
        if !w.is_empty() {
            words.push(std::mem::take(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                flush(&mut word, &mut words);
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                flush(&mut word, &mut words);
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '`' => {
                flush(&mut word, &mut words);
                for c in chars.by_ref() {
                    if c == '`' {
                        break;
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => word.push(c),
            _ => flush(&mut word, &mut words),
        }
    }
    flush(&mut word, &mut words);
    if words
        .iter()
        .any(|w| w == "rego.v1" || w == "future.keywords")
    {
        return false;
    }
    ["if", "contains", "in", "every"].iter().any(|kw| {
        words.iter().any(|w| w == kw)
            && !words.iter().any(|w| w == &format!("future.keywords.{kw}"))
    })
}

/// Package and rule names of every loaded module, from the parsed AST.
fn module_infos(engine: &mut Engine, files: &[PolicyFile], v0: &[String]) -> Vec<ModuleInfo> {
    use regorus::unstable::{Parser, Rule, RuleHead};
    let builtin: BTreeMap<&str, bool> = files
        .iter()
        .map(|f| (f.src.path.as_str(), f.builtin))
        .collect();
    let mut out = Vec::new();
    for module in engine.get_modules().iter() {
        let path = module.package.span.source.get_path().clone();
        let package = package_path(module);
        let mut rules: Vec<(String, usize, RuleKind)> = Vec::new();
        for rule in &module.policy {
            let (refr, kind) = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => {
                        (refr, RuleKind::Value)
                    }
                    RuleHead::Func { refr, .. } => (refr, RuleKind::Function),
                },
                Rule::Default { refr, args, .. } => (
                    refr,
                    if args.is_empty() {
                        RuleKind::Value
                    } else {
                        RuleKind::Function
                    },
                ),
            };
            let Some(name) = Parser::get_path_ref_components(refr)
                .ok()
                .and_then(|c| c.first().map(|s| s.text().to_string()))
            else {
                continue;
            };
            if !rules.iter().any(|(n, _, _)| n == &name) {
                rules.push((name, rule.span().line as usize, kind));
            }
        }
        out.push(ModuleInfo {
            builtin: builtin.get(path.as_str()).copied().unwrap_or(false),
            rego_v0: v0.contains(&path),
            path,
            package,
            rules,
        });
    }
    out
}

/// A module's package as a dotted path (`quorate.user`).
fn package_path(module: &regorus::unstable::Module) -> String {
    regorus::unstable::Parser::get_path_ref_components(&module.package.refr)
        .map(|c| {
            c.iter()
                .map(|s| s.text().trim_matches('"').to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

/// Refuses functions that call themselves, directly or through others, as OPA does
/// (`rego_recursion_error`): regorus would recurse until the stack overflows.
fn check_recursion(engine: &mut Engine, sources: &BTreeMap<String, SourceText>) -> Result<()> {
    use regorus::unstable::{Parser, Rule, RuleHead};
    let modules = engine.get_modules();
    let mut imports: Vec<BTreeMap<String, String>> = Vec::new();
    for module in modules.iter() {
        let mut map = BTreeMap::new();
        for import in &module.imports {
            let target = import.refr.span().text().to_string();
            if !target.starts_with("data.") {
                continue;
            }
            let alias = match &import.r#as {
                Some(a) => a.text().to_string(),
                None => target.rsplit('.').next().unwrap_or_default().to_string(),
            };
            map.insert(alias, target);
        }
        imports.push(map);
    }
    let mut functions = Vec::new();
    for (module, imports) in modules.iter().zip(&imports) {
        let package = package_path(module);
        for rule in &module.policy {
            let Rule::Spec {
                head: RuleHead::Func { refr, .. },
                ..
            } = rule.as_ref()
            else {
                continue;
            };
            let Some(name) = Parser::get_path_ref_components(refr).ok().map(|c| {
                c.iter()
                    .map(|s| s.text().to_string())
                    .collect::<Vec<_>>()
                    .join(".")
            }) else {
                continue;
            };
            let span = rule.span();
            // The rule's text after its name: the head's own name is not a call.
            let skip = (refr.span().end.saturating_sub(span.start)) as usize;
            functions.push(crate::rego_guard::Function {
                package: package.clone(),
                name,
                path: span.source.get_path().clone(),
                line: span.line as usize,
                col: span.col as usize,
                text: span.text().get(skip..).unwrap_or_default(),
                imports,
            });
        }
    }
    let Some((path, line, col, cycle)) = crate::rego_guard::recursion(&functions) else {
        return Ok(());
    };
    let msg = format!("function calls itself ({cycle}): Rego does not allow recursion");
    Err(match sources.get(&path) {
        Some(src) => Error::at_line_col(Stage::Policy, src, line, col, msg),
        None => Error::at_position(Stage::Policy, path, line, col, msg),
    }
    .with_help("OPA refuses the same policy (rego_recursion_error); iterate with comprehensions or `walk` instead"))
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
            Error::at_line_col(Stage::Policy, src, line, col, first_error_line(&msg))
        }
        None => Error::file(Stage::Policy, &src.path, msg),
    }
}

fn read_policies(path: &str) -> Result<Vec<SourceText>> {
    let p = Path::new(path);
    let mut files = Vec::new();
    if p.is_dir() {
        let walked = crate::paths::walk(p, &|_| false).map_err(|e| {
            Error::file(
                Stage::Policy,
                crate::paths::shown(path),
                format!("cannot read directory: {e}"),
            )
        })?;
        files.extend(
            walked
                .files
                .iter()
                .map(std::path::PathBuf::from)
                .filter(|f| f.extension().and_then(|e| e.to_str()) == Some("rego")),
        );
        if files.is_empty() {
            return Err(Error::file(
                Stage::Policy,
                path,
                "no .rego files in this directory",
            ));
        }
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
