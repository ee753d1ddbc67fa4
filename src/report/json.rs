//! Machine-readable output with a fixed, versioned shape. The shape is spelled out here rather than
//! taken from the model's serde attributes, so a model change cannot silently change the contract.

use std::io;

use serde::Serialize;

use crate::model::{Finding, Location, Report};

/// Bump when the shape below changes incompatibly.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    waived: Vec<JsonWaived<'a>>,
    notices: &'a [String],
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: &'static str,
    message: &'a str,
    change: Option<&'a str>,
    group: Option<&'a str>,
    location: Option<JsonLocation<'a>>,
    /// More places, after `location` (the plan, when `location` is the `.tf` line); absent
    /// when there are none, so version 1 readers see the same documents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related: Vec<JsonLocation<'a>>,
}

#[derive(Serialize)]
struct JsonWaived<'a> {
    #[serde(flatten)]
    finding: JsonFinding<'a>,
    waiver: Option<JsonWaiver<'a>>,
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    pointer: &'a str,
}

#[derive(Serialize)]
struct JsonWaiver<'a> {
    reason: &'a str,
    by: Option<&'a str>,
    expires: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSummary {
    deny: usize,
    warn: usize,
    changes: usize,
    waived: usize,
}

fn finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: &f.rule,
        severity: f.severity.as_str(),
        message: &f.message,
        change: f.change.as_deref(),
        group: f.group.as_deref(),
        location: f.location.as_ref().map(location),
        related: f.related.iter().map(location).collect(),
    }
}

fn location(l: &Location) -> JsonLocation<'_> {
    JsonLocation {
        path: &l.path,
        line: l.line,
        column: l.column,
        pointer: &l.pointer,
    }
}

pub(super) fn render(report: &Report) -> io::Result<String> {
    let doc = Doc {
        version: VERSION,
        findings: report.findings.iter().map(finding).collect(),
        waived: report
            .waived
            .iter()
            .map(|f| JsonWaived {
                finding: finding(f),
                waiver: f.waiver.as_ref().map(|w| JsonWaiver {
                    reason: &w.reason,
                    by: w.by.as_deref(),
                    expires: w.expires.as_deref(),
                }),
            })
            .collect(),
        notices: &report.notices,
        summary: JsonSummary {
            deny: report.summary.deny,
            warn: report.summary.warn,
            changes: report.summary.changes,
            waived: report.summary.waived,
        },
    };
    let mut text = serde_json::to_string_pretty(&doc).map_err(io::Error::from)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::fixture;
    use super::*;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn has_the_contract_shape() {
        let text = render(&fixture::report()).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(
            text.contains("\n  \"version\": 1,"),
            "not pretty-printed: {text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys(&v),
            ["version", "findings", "waived", "notices", "summary"]
        );
        assert_eq!(v["version"], 1);
        assert_eq!(
            v["summary"],
            json!({"deny": 1, "warn": 1, "changes": 3, "waived": 1})
        );
        assert_eq!(
            v["notices"],
            json!(["waiver for `old/rule` expired on 2020-01-01"])
        );

        let findings = v["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 2);
        for f in findings {
            assert_eq!(
                keys(f),
                ["rule", "severity", "message", "change", "group", "location"]
            );
        }
        // report order is kept
        assert_eq!(findings[0]["rule"], "drift/live-differs");
        assert_eq!(findings[0]["severity"], "warn");
        assert_eq!(findings[0]["location"], Value::Null);
        assert_eq!(findings[0]["group"], Value::Null);
        assert_eq!(findings[1]["severity"], "deny");
        assert_eq!(
            findings[1]["location"],
            json!({
                "path": "plans/prod.json",
                "line": 3,
                "column": 3,
                "pointer": "/resource_changes/0/change/after/desired_capacity"
            })
        );
        assert!(findings[1]["message"]
            .as_str()
            .unwrap()
            .contains("<voters>"));

        let waived = v["waived"].as_array().unwrap();
        assert_eq!(waived.len(), 1);
        assert_eq!(
            keys(&waived[0]),
            ["rule", "severity", "message", "change", "group", "location", "waiver"]
        );
        // an empty pointer is left out
        assert_eq!(keys(&waived[0]["location"]), ["path", "line", "column"]);
        assert_eq!(
            waived[0]["waiver"],
            json!({"reason": "planned maintenance", "by": "alice", "expires": "2030-01-01"})
        );
    }

    #[test]
    fn clean_report() {
        let v: Value = serde_json::from_str(&render(&fixture::clean()).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "version": 1,
                "findings": [],
                "waived": [],
                "notices": [],
                "summary": {"deny": 0, "warn": 0, "changes": 2, "waived": 0}
            })
        );
    }
}
