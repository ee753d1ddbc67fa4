//! conftest compatibility: each input document is evaluated on its own by the policies in the
//! conftest namespaces (`--namespace`, default `main`), and their `deny` / `violation` / `warn`
//! (and `deny_<name>`...) results become findings at the document, minus `exception`s.

use serde_json::Value;

use crate::engine::{DocumentResults, PolicySet};
use crate::error::{Error, Result, Stage};
use crate::model::{Finding, Location, Severity, WaiverNote};
use crate::sources::{Document, Inputs};

/// One conftest result, before it is placed at its document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocResult {
    /// `<namespace>/<rule>`, e.g. `main/deny_run_as_root`.
    pub rule: String,
    pub namespace: String,
    pub severity: Severity,
    pub message: String,
    /// The exception query that exempts it, conftest-style.
    pub exception: Option<String>,
}

/// The name an `exception` lists to exempt a rule: `deny_foo` -> `foo`; bare `deny`,
/// `violation` and `warn` -> `""`.
pub fn exception_key(rule: &str) -> &str {
    if matches!(rule, "deny" | "violation" | "warn") {
        return "";
    }
    ["violation_", "deny_", "warn_"]
        .iter()
        .find_map(|p| rule.strip_prefix(p))
        .unwrap_or(rule)
}

/// `exception[_][_] == key`: exception sets hold lists (or sets) of rule names.
fn excepted(exceptions: Option<&Value>, key: &str) -> bool {
    let members = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(a) => a.clone(),
            Value::Object(o) => o.values().cloned().collect(),
            _ => Vec::new(),
        }
    };
    exceptions
        .into_iter()
        .flat_map(members)
        .flat_map(|e| members(&e))
        .any(|n| n.as_str() == Some(key))
}

/// Turns the raw values of one document's conftest rules into results. A rule must be a set
/// or array of strings or of objects with a string `msg` (conftest's contract); anything else
/// is a policy error, so a broken rule never passes silently.
pub fn interpret(results: &DocumentResults) -> Result<Vec<DocResult>> {
    let mut out = Vec::new();
    for (r, value) in &results.rules {
        let Some(value) = value else { continue };
        let name = format!("data.{}.{}", r.namespace, r.rule);
        let bad = |what: String| {
            Error::file(Stage::Policy, "", format!("{name} {what}")).with_help(
                "conftest rules are sets: `deny contains msg if { ... }` with msg a string or {\"msg\": ...}",
            )
        };
        let items = match value {
            Value::Array(items) => items,
            Value::Bool(true) => {
                return Err(bad(
                    "is `true`: it is a boolean rule (`deny if`), not a set of messages (`deny contains msg if`)".into(),
                ))
            }
            other => return Err(bad(format!("is {other}, not a set of messages"))),
        };
        let severity = crate::engine::rule_severity(&r.rule).unwrap_or(Severity::Deny);
        let key = exception_key(&r.rule);
        let exception = excepted(results.exceptions.get(&r.namespace), key)
            .then(|| format!("data.{}.exception[_][_] == {:?}", r.namespace, key));
        for item in items {
            let message = match item {
                Value::String(s) => s.clone(),
                Value::Object(o) => match o.get("msg") {
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => {
                        return Err(bad(format!(
                            "result {item} has a `msg` that is not a string"
                        )))
                    }
                    None => return Err(bad(format!("result {item} has no `msg`"))),
                },
                other => {
                    return Err(bad(format!(
                        "result {other} is neither a string nor an object with `msg`"
                    )))
                }
            };
            out.push(DocResult {
                rule: format!("{}/{}", r.namespace, r.rule),
                namespace: r.namespace.clone(),
                severity,
                message,
                exception: exception.clone(),
            });
        }
    }
    Ok(out)
}

/// Evaluates one document; errors name the document they happened on.
pub fn evaluate_document(policies: &PolicySet, doc: &Document) -> Result<Vec<DocResult>> {
    let json = serde_json::to_string(&doc.value)
        .map_err(|e| Error::usage(format!("document does not serialize: {e}")))?;
    let raw = policies.evaluate_document(&json)?;
    interpret(&raw).map_err(|e| {
        let at = if doc.index > 0 {
            format!("{} (document {})", doc.path, doc.index + 1)
        } else {
            doc.path.clone()
        };
        Error::file(Stage::Policy, at, e.message.clone())
            .with_help(e.help.clone().unwrap_or_default())
    })
}

/// Findings of the conftest policies over every kept document: (findings, exempted).
pub fn findings(policies: &PolicySet, inputs: &Inputs) -> Result<(Vec<Finding>, Vec<Finding>)> {
    let mut found = Vec::new();
    let mut exempted = Vec::new();
    if !policies.has_conftest() {
        return Ok((found, exempted));
    }
    for doc in &inputs.documents {
        let location = document_location(inputs, doc);
        for r in evaluate_document(policies, doc)? {
            let mut f = Finding {
                rule: r.rule,
                severity: r.severity,
                message: r.message,
                change: None,
                group: None,
                location: location.clone(),
                waiver: None,
                related: Vec::new(),
            };
            match r.exception {
                Some(query) => {
                    f.waiver = Some(WaiverNote {
                        reason: format!("conftest exception: {query}"),
                        by: None,
                        expires: None,
                    });
                    exempted.push(f);
                }
                None => found.push(f),
            }
        }
    }
    Ok((found, exempted))
}

/// The document's first line: conftest results belong to the whole document.
fn document_location(inputs: &Inputs, doc: &Document) -> Option<Location> {
    let src = inputs.sources.get(&doc.path)?;
    let rest = src.text.get(doc.start..)?;
    let skipped = rest.len() - rest.trim_start().len();
    let start = doc.start + skipped;
    let (line, column) = src.line_col(start);
    // Label the first line of a YAML document, or the opening bracket of a JSON one (plans
    // are often a single line of megabytes).
    let first_line = src.text.get(start..).unwrap_or_default();
    let len = match first_line.chars().next() {
        Some('{' | '[') => 1,
        _ => first_line.find('\n').unwrap_or(first_line.len()).min(120),
    };
    Some(Location {
        path: doc.path.clone(),
        line,
        column,
        pointer: String::new(),
        offset: start,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ConftestRule;
    use serde_json::json;

    fn results(rules: Vec<(&str, Value)>, exceptions: Vec<(&str, Value)>) -> DocumentResults {
        DocumentResults {
            rules: rules
                .into_iter()
                .map(|(r, v)| {
                    (
                        ConftestRule {
                            namespace: "main".into(),
                            rule: r.into(),
                        },
                        Some(v),
                    )
                })
                .collect(),
            exceptions: exceptions
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
        }
    }

    #[test]
    fn exception_keys_follow_conftest() {
        assert_eq!(exception_key("deny_run_as_root"), "run_as_root");
        assert_eq!(exception_key("violation_x"), "x");
        assert_eq!(exception_key("warn_x"), "x");
        assert_eq!(exception_key("deny"), "");
    }

    #[test]
    fn strings_and_msg_objects_become_results_and_exceptions_exempt_by_name() {
        let r = results(
            vec![
                ("deny_run_as_root", json!(["root"])),
                ("violation", json!([{"msg": "v", "details": {}}])),
                ("warn", json!(["w"])),
            ],
            vec![("main", json!([["run_as_root"]]))],
        );
        let out = interpret(&r).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].rule, "main/deny_run_as_root");
        assert_eq!(
            out[0].exception.as_deref(),
            Some("data.main.exception[_][_] == \"run_as_root\"")
        );
        assert_eq!(
            (out[1].message.as_str(), out[1].severity),
            ("v", Severity::Deny)
        );
        assert!(out[1].exception.is_none());
        assert_eq!(out[2].severity, Severity::Warn);
    }

    #[test]
    fn boolean_rules_and_objects_without_msg_are_errors() {
        let err = interpret(&results(vec![("deny", json!(true))], vec![])).unwrap_err();
        assert!(err.to_string().contains("boolean rule"), "{err}");
        let err = interpret(&results(vec![("deny", json!([{"m": 1}]))], vec![])).unwrap_err();
        assert!(err.to_string().contains("no `msg`"), "{err}");
    }
}
