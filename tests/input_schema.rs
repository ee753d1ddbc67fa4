//! The published policy input schema (`quorate schema input`) against what `check --emit-input`
//! really emits: every scenario and every Terraform plan of the shared corpus must validate.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use jsonschema::error::ValidationErrorKind as K;
use serde_json::{json, Value};

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/input.schema.json");
const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/scenarios");
/// The shared corpus, at the same relative path in CI and here.
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
/// Not valid JSON (trailing data): quorate must refuse it, not emit an input.
const INVALID_PLAN: &str = "hashicorp__terraform-json/testdata/invalid/plan.json";
const NOW: &str = "2026-11-24T10:00:00Z";

fn schema_text() -> String {
    std::fs::read_to_string(SCHEMA_FILE)
        .unwrap_or_else(|e| panic!("cannot read {SCHEMA_FILE}: {e}"))
}

fn schema() -> Value {
    serde_json::from_str(&schema_text())
        .unwrap_or_else(|e| panic!("{SCHEMA_FILE} is not JSON: {e}"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .unwrap_or_else(|e| panic!("{SCHEMA_FILE} does not compile: {e}"))
}

/// Runs quorate in `dir`, sealed from the machine (own HOME, no color, no CI env).
/// The shared sealed runner (tests/common), for owned argument lists.
fn run_in(dir: &Path, args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run_in(dir, &refs)
}

/// `instance path: message` for an error, and for the alternatives of anyOf/oneOf errors.
fn describe(err: &jsonschema::ValidationError<'_>, depth: usize, out: &mut Vec<String>) {
    let path = err.instance_path().as_str();
    let shown = if path.is_empty() { "(root)" } else { path };
    let mut msg = err.to_string();
    if msg.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| msg.is_char_boundary(*i))
            .unwrap_or(0);
        msg.truncate(cut);
        msg.push_str("...");
    }
    out.push(format!("{}{shown}: {msg}", "  ".repeat(depth + 1)));
    if let K::AnyOf { context } | K::OneOfNotValid { context } = err.kind() {
        for (i, branch) in context.iter().enumerate() {
            out.push(format!("{}alternative {i}:", "  ".repeat(depth + 2)));
            for e in branch {
                describe(e, depth + 2, out);
            }
        }
    }
}

/// Every schema error for `instance`, one `instance path: message` per line.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for e in validator.iter_errors(instance) {
        describe(&e, 0, &mut out);
    }
    out
}

/// Runs `quorate check ARGS --emit-input` in `dir` and validates what it prints.
fn check_emitted(
    validator: &jsonschema::Validator,
    dir: &Path,
    args: &[String],
    what: &str,
) -> Result<(), String> {
    let mut full = vec!["check".to_string()];
    full.extend(args.iter().cloned());
    full.push("--emit-input".into());
    let out = run_in(dir, &full);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{what}: `quorate {}` exited {:?}\n{}",
            full.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let input: Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("{what}: --emit-input printed no JSON: {e}"))?;
    let errs = errors(validator, &input);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} schema error(s):\n{}",
            errs.len(),
            errs.join("\n")
        ))
    }
}

fn scenario_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(SCENARIOS)
        .unwrap_or_else(|e| panic!("cannot read {SCENARIOS}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every `*.json` below `dir`, sorted.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
}

fn is_plan(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) => {
            o.contains_key("resource_changes") || o.contains_key("plan_format_version")
        }
        _ => false,
    }
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn schema_is_draft_2020_12_and_compiles() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["$id"], "https://quorate.dev/schemas/v1/input.json");
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!(
            "{SCHEMA_FILE} is not a valid JSON Schema: {} at {}",
            e,
            e.instance_path().as_str()
        );
    }
    let _ = validator();
}

/// Policy authors read the schema as documentation: every property says what it means.
#[test]
fn every_property_and_definition_is_documented() {
    fn walk(node: &Value, at: &str, missing: &mut Vec<String>) {
        match node {
            Value::Object(o) => {
                for key in ["properties", "$defs"] {
                    for (name, sub) in o.get(key).and_then(Value::as_object).into_iter().flatten() {
                        for word in ["title", "description"] {
                            if sub
                                .get(word)
                                .and_then(Value::as_str)
                                .is_none_or(|s| s.trim().is_empty())
                            {
                                missing.push(format!("{at}/{key}/{name}: no {word}"));
                            }
                        }
                    }
                }
                for (k, v) in o {
                    walk(v, &format!("{at}/{k}"), missing);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let schema = schema();
    let mut missing = Vec::new();
    // Branches of if/then only narrow documented properties; they need no docs of their own.
    let mut documented = schema.clone();
    if let Some(defs) = documented.get_mut("$defs").and_then(Value::as_object_mut) {
        for def in defs.values_mut().filter_map(Value::as_object_mut) {
            def.remove("then");
            def.remove("else");
            def.remove("if");
        }
    }
    walk(&documented, "#", &mut missing);
    assert!(
        missing.is_empty(),
        "undocumented schema parts:\n{}",
        missing.join("\n")
    );
}

#[test]
fn emitted_input_of_every_scenario_matches_schema() {
    let validator = validator();
    let dirs = scenario_dirs();
    assert!(!dirs.is_empty(), "no scenarios under {SCENARIOS}");
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = relative(dir, Path::new(SCENARIOS));
        let args = match std::fs::read_to_string(dir.join("args")) {
            Ok(text) => text
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
            Err(e) => {
                failures.push(format!("scenario {name}: cannot read args: {e}"));
                continue;
            }
        };
        if let Err(e) = check_emitted(&validator, dir, &args, &format!("scenario {name}")) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios emit input the schema rejects:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn emitted_input_of_every_corpus_plan_matches_schema() {
    let corpus = Path::new(CORPUS);
    assert!(corpus.is_dir(), "the shared corpus is missing: {CORPUS}");
    let mut files = Vec::new();
    json_files(corpus, &mut files);
    let plans: Vec<String> = files
        .iter()
        .map(|p| relative(p, corpus))
        .filter(|rel| rel != INVALID_PLAN)
        .filter(|rel| is_plan(&corpus.join(rel)))
        .collect();
    assert!(!plans.is_empty(), "no Terraform plans found under {CORPUS}");
    let validator = validator();
    let mut failures = Vec::new();
    for plan in &plans {
        let args = vec![plan.clone(), "--now".into(), NOW.into()];
        if let Err(e) = check_emitted(&validator, corpus, &args, plan) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus plans emit input the schema rejects:\n\n{}",
        failures.len(),
        plans.len(),
        failures.join("\n\n")
    );
}

#[test]
fn invalid_corpus_plan_exits_2() {
    let corpus = Path::new(CORPUS);
    assert!(
        corpus.join(INVALID_PLAN).is_file(),
        "{INVALID_PLAN} is missing from {CORPUS}"
    );
    let args: Vec<String> = vec![
        "check".into(),
        INVALID_PLAN.into(),
        "--emit-input".into(),
        "--now".into(),
        NOW.into(),
    ];
    let out = run_in(corpus, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{INVALID_PLAN} must fail with exit 2; stderr:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no input may be emitted for {INVALID_PLAN}"
    );
    assert!(
        stderr.contains(INVALID_PLAN),
        "the diagnostic must name the file:\n{stderr}"
    );
}

#[test]
fn schema_input_prints_the_schema_file() {
    let out = run_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["schema".into(), "input".into()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed == schema_text(),
        "`quorate schema input` does not print {SCHEMA_FILE} exactly"
    );
}

/// The schema is a contract, not a rubber stamp: shapes policies must never see are rejected.
#[test]
fn schema_rejects_what_policies_must_not_see() {
    let dir = Path::new(SCENARIOS).join("search-cluster-outage");
    let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
        .unwrap_or_else(|e| panic!("cannot read the outage scenario's args: {e}"))
        .split_whitespace()
        .map(String::from)
        .chain(["--emit-input".to_string()])
        .collect();
    let out = run_in(&dir, &[vec!["check".to_string()], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no JSON: {e}"));
    let validator = validator();
    assert_eq!(errors(&validator, &base), Vec::<String>::new());

    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit)] = &[
        ("another model version", |v| {
            v["apiVersion"] = json!("quorate.dev/v2")
        }),
        ("unknown mode", |v| v["mode"] = json!("plan")),
        ("now is not a time", |v| v["now"] = json!("yesterday")),
        ("unknown top-level key", |v| v["extra"] = json!(1)),
        ("Terraform's action word", |v| {
            v["changes"][0]["action"] = json!("destroy")
        }),
        ("unknown key on a change", |v| {
            v["changes"][0]["replicas"] = json!(3)
        }),
        ("nullable field left out", |v| {
            if let Some(c) = v["changes"][0].as_object_mut() {
                c.remove("voters");
            }
        }),
        ("unknown capacity read as 0", |v| {
            v["changes"][0]["capacity"]["unknown"] = json!(true);
            v["changes"][0]["capacity"]["after"] = json!(0);
        }),
        ("count as a string", |v| {
            v["changes"][0]["capacity"]["after"] = json!("3")
        }),
        ("negative count", |v| {
            v["changes"][0]["capacity"]["before"] = json!(-1)
        }),
        ("delete that keeps members", |v| {
            v["changes"][0]["action"] = json!("delete")
        }),
        ("before is not an object", |v| {
            v["changes"][0]["before"] = json!([1])
        }),
        ("label value not a string", |v| {
            v["changes"][0]["labels"]["n"] = json!(3)
        }),
        ("document 0 written out", |v| {
            v["changes"][0]["source"]["document"] = json!(0)
        }),
        ("pointer without leading slash", |v| {
            v["changes"][0]["source"]["pointer"] = json!("resource_changes/0")
        }),
        ("unknown drift source", |v| {
            v["drift"][0]["source"] = json!("manual")
        }),
        ("provider word as member state", |v| {
            v["observed"]["groups"]["search-prod"]["members"][0]["state"] = json!("shutting-down")
        }),
        ("unknown key on a member", |v| {
            v["observed"]["groups"]["search-prod"]["members"][0]["ip"] = json!("10.0.0.1")
        }),
        ("unknown health", |v| {
            v["observed"]["groups"]["search-prod"]["health"] = json!("orange")
        }),
        ("count quorum without min", |v| {
            v["observed"]["groups"]["search-prod"]["quorum"] =
                json!({"mode": "count", "source": "tag"})
        }),
        ("majority quorum with min", |v| {
            v["observed"]["groups"]["search-prod"]["quorum"] =
                json!({"mode": "majority", "min": 2, "source": "tag"})
        }),
    ];
    let mut accepted = Vec::new();
    for (name, edit) in cases {
        let mut v = base.clone();
        edit(&mut v);
        if validator.is_valid(&v) {
            accepted.push(*name);
        }
    }
    assert!(accepted.is_empty(), "the schema accepts: {accepted:?}");

    // Open parts stay open: native objects and context may hold anything.
    let mut open = base.clone();
    open["changes"][0]["after"]["anything"] = json!({"nested": [1, "x", null]});
    open["context"] = json!({"git": {"base": "main", "head": "HEAD", "dirty": false}, "future": 1});
    open["observed"]["groups"]["search-prod"]["quorum"] =
        json!({"mode": "count", "min": 2, "source": "config"});
    assert_eq!(errors(&validator, &open), Vec::<String>::new());
}
