//! SARIF 2.1.0 for code-scanning uploads: one run, every rule described, waived findings as
//! suppressed results. Only this module sees serde-sarif types.

use std::collections::BTreeMap;
use std::io;

use serde_json::Value;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location as SarifLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool,
    ToolComponent,
};

use super::fnv1a64;
use crate::model::{Finding, Location, Report, RuleDoc, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/quorate-dev/quorate";
/// Key of our entry in `partialFingerprints`; versioned so the recipe can change later.
const FINGERPRINT_KEY: &str = "quorate/v1";

pub(super) fn render(report: &Report) -> io::Result<String> {
    let log = build(report);
    let mut text = serde_json::to_string_pretty(&log).map_err(io::Error::from)?;
    text.push('\n');
    Ok(text)
}

fn build(report: &Report) -> Sarif {
    let rule_ids = rule_order(report);
    let rules: Vec<ReportingDescriptor> = rule_ids
        .iter()
        .map(|id| match report.rule_doc(id) {
            Some(doc) => descriptor(doc),
            None => ReportingDescriptor::builder()
                .id(id.clone())
                .name(id.clone())
                .build(),
        })
        .collect();

    let index_of = |rule: &str| rule_ids.iter().position(|id| id == rule);
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .chain(report.waived.iter())
        .map(|f| result(f, index_of(&f.rule)))
        .collect();

    let driver = ToolComponent::builder()
        .name("quorate")
        .information_uri(INFORMATION_URI)
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    // Our columns count characters, not the UTF-16 units SARIF assumes by default.
    run.column_kind = Some(Value::from("unicodeCodePoints"));
    if !report.notices.is_empty() {
        let notes = report
            .notices
            .iter()
            .map(|n| {
                let mut note = Notification::builder().message(Message::from(n)).build();
                note.level = Some(Value::from("note"));
                note
            })
            .collect::<Vec<_>>();
        let mut invocation = Invocation::builder().execution_successful(true).build();
        invocation.tool_execution_notifications = Some(notes);
        run.invocations = Some(vec![invocation]);
    }

    Sarif::builder()
        .schema(SCHEMA)
        .version(Value::from("2.1.0"))
        .runs(vec![run])
        .build()
}

/// Rules that findings reference first (in order of first use), then the rest of the catalogue.
fn rule_order(report: &Report) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let referenced = report
        .findings
        .iter()
        .chain(report.waived.iter())
        .map(|f| &f.rule);
    for id in referenced.chain(report.rules.iter().map(|r| &r.id)) {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Deny => ResultLevel::Error,
        Severity::Warn => ResultLevel::Warning,
    }
}

fn descriptor(doc: &RuleDoc) -> ReportingDescriptor {
    let (help_text, help_markdown) = help(doc);
    let mut d = ReportingDescriptor::builder()
        .id(doc.id.clone())
        .name(doc.id.clone())
        .default_configuration({
            let mut c = ReportingConfiguration::builder().build();
            c.level = Some(Value::from(level(doc.severity).to_string()));
            c
        })
        .build();
    if !doc.title.trim().is_empty() {
        d.short_description = Some(
            MultiformatMessageString::builder()
                .text(doc.title.clone())
                .build(),
        );
    }
    if !doc.what.trim().is_empty() {
        d.full_description = Some(
            MultiformatMessageString::builder()
                .text(doc.what.clone())
                .build(),
        );
    }
    if !help_text.is_empty() {
        d.help = Some(
            MultiformatMessageString::builder()
                .text(help_text)
                .markdown(help_markdown)
                .build(),
        );
    }
    d
}

/// The rule's documentation as plain text and as Markdown.
fn help(doc: &RuleDoc) -> (String, String) {
    let mut text: Vec<String> = Vec::new();
    let mut md: Vec<String> = Vec::new();
    let what = doc.what.trim();
    if !what.is_empty() {
        text.push(what.to_string());
        md.push(what.to_string());
    }
    let why = doc.why.trim();
    if !why.is_empty() {
        text.push(format!("Why: {why}"));
        md.push(format!("**Why:** {why}"));
    }
    let example = doc.example.trim_matches('\n');
    if !example.trim().is_empty() {
        text.push(format!("Example:\n{example}"));
        let fence = if example.contains("```") {
            "~~~~"
        } else {
            "```"
        };
        md.push(format!("**Example:**\n\n{fence}\n{example}\n{fence}"));
    }
    let fix = doc.fix.trim();
    if !fix.is_empty() {
        text.push(format!("Fix: {fix}"));
        md.push(format!("**Fix:** {fix}"));
    }
    (text.join("\n\n"), md.join("\n\n"))
}

fn result(f: &Finding, rule_index: Option<usize>) -> SarifResult {
    let mut r = SarifResult::builder()
        .message(Message::from(&f.message))
        .rule_id(f.rule.clone())
        .level(level(f.severity))
        .build();
    r.rule_index = rule_index.and_then(|i| i64::try_from(i).ok());
    r.locations = f.location.as_ref().map(|l| vec![location(l)]);
    r.partial_fingerprints = Some(BTreeMap::from([(
        FINGERPRINT_KEY.to_string(),
        fingerprint(f),
    )]));

    let mut props = BTreeMap::new();
    if let Some(change) = &f.change {
        props.insert("change".to_string(), Value::from(change.clone()));
    }
    if let Some(group) = &f.group {
        props.insert("group".to_string(), Value::from(group.clone()));
    }
    if !props.is_empty() {
        r.properties = Some(PropertyBag::builder().additional_properties(props).build());
    }

    if let Some(waiver) = &f.waiver {
        let mut s = Suppression::builder().kind(Value::from("external")).build();
        s.status = Some(Value::from("accepted"));
        if !waiver.reason.is_empty() {
            s.justification = Some(waiver.reason.clone());
        }
        r.suppressions = Some(vec![s]);
    }
    r
}

fn location(l: &Location) -> SarifLocation {
    let mut physical = PhysicalLocation::builder()
        .artifact_location(ArtifactLocation::builder().uri(uri(&l.path)).build())
        .build();
    // SARIF lines and columns start at 1; 0 means we do not know.
    if l.line >= 1 {
        let mut region = Region::builder().build();
        region.start_line = i64::try_from(l.line).ok();
        if l.column >= 1 {
            region.start_column = i64::try_from(l.column).ok();
        }
        physical.region = Some(region);
    }
    SarifLocation::builder().physical_location(physical).build()
}

/// The path as a URI reference: forward slashes, percent-encoding where a URI needs it.
/// Relative paths stay relative (code scanning resolves them against the checkout).
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    // `C:/x` would read as a URI with scheme `c`.
    let drive = {
        let b = path.as_bytes();
        b.len() >= 3
            && b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.get(1) == Some(&b':')
            && b.get(2) == Some(&b'/')
    };
    if drive {
        out.push_str("file:///");
    }
    for (i, byte) in path.bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&byte)
            || (byte == b':' && drive && i == 1);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Stable across runs and releases, and independent of line numbers, so a finding keeps its
/// identity when unrelated lines move.
fn fingerprint(f: &Finding) -> String {
    let key = format!(
        "{}\0{}\0{}",
        f.rule,
        f.change.as_deref().unwrap_or(""),
        f.group.as_deref().unwrap_or("")
    );
    format!("{:016x}", fnv1a64(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::fixture;
    use super::*;

    fn parsed(report: &Report) -> Value {
        serde_json::from_str(&render(report).unwrap()).unwrap()
    }

    #[test]
    fn envelope_and_tool() {
        let v = parsed(&fixture::report());
        assert_eq!(v["$schema"], SCHEMA);
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        let driver = &v["runs"][0]["tool"]["driver"];
        assert_eq!(driver["name"], "quorate");
        assert_eq!(driver["informationUri"], INFORMATION_URI);
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["runs"][0]["columnKind"], "unicodeCodePoints");
    }

    #[test]
    fn rules_referenced_first_then_the_rest() {
        let v = parsed(&fixture::report());
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "drift/live-differs",
                "quorum/majority-lost",
                "instability/in-progress",
                "unused/never-fires"
            ]
        );
        let quorum = &rules[1];
        assert_eq!(quorum["name"], "quorum/majority-lost");
        assert_eq!(
            quorum["shortDescription"]["text"],
            "Change leaves the group without a majority"
        );
        assert_eq!(
            quorum["fullDescription"]["text"],
            "Fires when the change drops healthy voters below a majority."
        );
        assert_eq!(quorum["defaultConfiguration"]["level"], "error");
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "warning");
        let help_text = quorum["help"]["text"].as_str().unwrap();
        assert!(help_text.contains("Why: A consensus group"));
        assert!(help_text.contains("Fix: Scale in one member"));
        let help_md = quorum["help"]["markdown"].as_str().unwrap();
        assert!(help_md.contains("```\ndesired_capacity: 3 -> 2\n```"));
        assert!(quorum.get("helpUri").is_none());
        // a rule without a RuleDoc still gets a descriptor
        assert_eq!(
            rules[2],
            json!({"id": "instability/in-progress", "name": "instability/in-progress"})
        );
    }

    #[test]
    fn results_levels_locations_and_suppressions() {
        let v = parsed(&fixture::report());
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        for r in results {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], r["ruleId"]);
            assert_eq!(
                r["partialFingerprints"][FINGERPRINT_KEY]
                    .as_str()
                    .unwrap()
                    .len(),
                16
            );
        }
        let warn = &results[0];
        assert_eq!(warn["level"], "warning");
        assert!(warn.get("locations").is_none());
        assert!(warn.get("suppressions").is_none());
        assert_eq!(warn["properties"], json!({"change": "kafka"}));

        let deny = &results[1];
        assert_eq!(deny["ruleId"], "quorum/majority-lost");
        assert_eq!(deny["level"], "error");
        assert!(deny["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("scaling etcd"));
        let phys = &deny["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], "plans/prod.json");
        assert_eq!(phys["region"]["startLine"], 3);
        assert_eq!(phys["region"]["startColumn"], 3);

        let waived = &results[2];
        assert_eq!(waived["level"], "error");
        assert_eq!(
            waived["suppressions"],
            json!([{"justification": "planned maintenance", "kind": "external", "status": "accepted"}])
        );

        let notes = &v["runs"][0]["invocations"][0];
        assert_eq!(notes["executionSuccessful"], true);
        assert_eq!(
            notes["toolExecutionNotifications"][0]["message"]["text"],
            "waiver for `old/rule` expired on 2020-01-01"
        );
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let r = fixture::report();
        let a = fingerprint(&r.findings[0]);
        assert_eq!(a, fingerprint(&r.findings[0].clone()));
        assert_ne!(a, fingerprint(&r.findings[1]));
        // pinned: changing the recipe silently would reopen every dismissed alert
        let f = Finding {
            rule: "r".into(),
            severity: Severity::Deny,
            message: "m".into(),
            change: Some("c".into()),
            group: None,
            location: None,
            waiver: None,
        };
        assert_eq!(fingerprint(&f), format!("{:016x}", fnv1a64(b"r\0c\0")));
    }

    #[test]
    fn uris() {
        assert_eq!(uri("plans/prod.json"), "plans/prod.json");
        assert_eq!(uri("dir\\my plan%.json"), "dir/my%20plan%25.json");
        assert_eq!(uri("/abs/x:y.json"), "/abs/x%3Ay.json");
        assert_eq!(uri("C:\\work\\p.json"), "file:///C:/work/p.json");
        assert_eq!(uri("é.json"), "%C3%A9.json");
    }

    #[test]
    fn clean_report_has_empty_results() {
        let v = parsed(&fixture::clean());
        assert_eq!(v["runs"][0]["results"], json!([]));
        assert!(v["runs"][0].get("invocations").is_none());
    }

    /// Opt-in check against the official schema, which is not vendored: point
    /// `QUORATE_SARIF_SCHEMA` at a copy of `sarif-schema-2.1.0.json` (OASIS errata01) to run it.
    #[test]
    fn validates_against_official_schema_when_given() {
        let Ok(path) = std::env::var("QUORATE_SARIF_SCHEMA") else {
            return;
        };
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        for report in [fixture::report(), fixture::clean()] {
            let doc = parsed(&report);
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:#?}");
        }
        // the validator does catch a broken log
        let mut bad = parsed(&fixture::report());
        bad["runs"][0]["results"][0]["level"] = json!("fatal");
        assert!(!validator.is_valid(&bad));
    }
}
