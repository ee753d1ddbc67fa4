//! SARIF 2.1.0 for code-scanning uploads: one run, every rule described, waived findings as
//! suppressed results. Only this module sees serde-sarif types.

use std::collections::BTreeMap;
use std::io;

use serde_json::Value;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location as SarifLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, RunAutomationDetails, Sarif,
    Suppression, Tool, ToolComponent,
};

use super::fnv1a64;
use crate::model::{Finding, Location, Report, RuleDoc, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/quorate-dev/quorate";
/// Key of our entry in `partialFingerprints`; versioned so the recipe can change later.
const FINGERPRINT_KEY: &str = "quorate/v1";
/// The rules reference: built-in rules link to their heading (GitHub's anchor of `## id` is the
/// id without its `/`).
const RULES_DOC: &str = "https://github.com/quorate-dev/quorate/blob/main/docs/rules.md";
/// Where custom and conftest rules without docs of their own send the reader.
const POLICY_DOC: &str =
    "https://github.com/quorate-dev/quorate/blob/main/README.md#writing-policies";
/// The base every relative artifact URI is resolved against: the repository root.
const SRCROOT: &str = "%SRCROOT%";
/// `runAutomationDetails.id`: the code-scanning category (the trailing `/` leaves the run id to
/// GitHub).
const AUTOMATION_ID: &str = "quorate/";

pub(super) fn render(report: &Report) -> io::Result<String> {
    let log = build(report);
    let mut text = serde_json::to_string_pretty(&log).map_err(io::Error::from)?;
    text.push('\n');
    Ok(text)
}

fn build(report: &Report) -> Sarif {
    let rule_ids = rule_order(report);
    let builtin: Vec<String> = crate::rules::builtin()
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.id)
        .collect();
    let rules: Vec<ReportingDescriptor> = rule_ids
        .iter()
        .map(|id| {
            let documented = builtin.contains(id);
            match report.rule_doc(id) {
                Some(doc) => descriptor(doc, documented),
                None => undocumented(id, report),
            }
        })
        .collect();

    let index_of = |rule: &str| rule_ids.iter().position(|id| id == rule);
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .chain(report.waived.iter())
        .map(|f| result(f, index_of(&f.rule), report))
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
    run.automation_details = Some(RunAutomationDetails {
        id: Some(AUTOMATION_ID.to_string()),
        ..RunAutomationDetails::default()
    });
    if let Some(root) = &report.root {
        let base = ArtifactLocation::builder().uri(root_uri(root)).build();
        run.original_uri_base_ids = Some(BTreeMap::from([(SRCROOT.to_string(), base)]));
    }
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

/// A rule with docs. `builtin`: it has a heading in the rules reference.
fn descriptor(doc: &RuleDoc, builtin: bool) -> ReportingDescriptor {
    let (help_text, help_markdown) = help(doc);
    let generic = generic_texts(&doc.id);
    let title = non_empty(&doc.title).unwrap_or(&generic.0);
    let what = non_empty(&doc.what).unwrap_or(title);
    let (help_text, help_markdown) = if help_text.is_empty() {
        (generic.1.clone(), generic.1.clone())
    } else {
        (help_text, help_markdown)
    };
    let help_uri = if builtin {
        format!("{RULES_DOC}#{}", anchor(&doc.id))
    } else {
        POLICY_DOC.to_string()
    };
    let mut d = base_descriptor(&doc.id, doc.severity, help_uri);
    d.short_description = Some(text_only(title));
    d.full_description = Some(text_only(what));
    d.help = Some(
        MultiformatMessageString::builder()
            .text(help_text)
            .markdown(help_markdown)
            .build(),
    );
    d
}

/// A rule no `# METADATA` describes (a custom rule without one, a conftest rule): generic
/// texts, at the severity of its first finding.
fn undocumented(id: &str, report: &Report) -> ReportingDescriptor {
    let severity = report
        .findings
        .iter()
        .chain(&report.waived)
        .find(|f| f.rule == id)
        .map_or(Severity::Deny, |f| f.severity);
    let (short, full) = generic_texts(id);
    let mut d = base_descriptor(id, severity, POLICY_DOC.to_string());
    d.short_description = Some(text_only(&short));
    d.full_description = Some(text_only(&full));
    d.help = Some(
        MultiformatMessageString::builder()
            .text(full.clone())
            .markdown(full)
            .build(),
    );
    d
}

fn base_descriptor(id: &str, severity: Severity, help_uri: String) -> ReportingDescriptor {
    let mut d = ReportingDescriptor::builder()
        .id(id.to_string())
        .name(friendly_name(id))
        .help_uri(help_uri)
        .default_configuration({
            let mut c = ReportingConfiguration::builder().build();
            c.level = Some(Value::from(level(severity).to_string()));
            c
        })
        .build();
    d.properties = Some(
        PropertyBag::builder()
            .tags(vec!["quorate".to_string(), super::family(id).to_string()])
            .build(),
    );
    d
}

/// (short, full) descriptions for a rule without docs.
fn generic_texts(id: &str) -> (String, String) {
    let conftest = id.split_once('/').is_some_and(|(_, rule)| {
        ["deny", "warn", "violation"]
            .iter()
            .any(|p| rule.starts_with(p))
    });
    if conftest {
        let rego = id.replacen('/', ".", 1);
        (
            format!("Policy rule {id}"),
            format!(
                "A result of the policy rule `data.{rego}`, evaluated on each input document                  (conftest conventions). Add a `# METADATA` block with a title, a description                  and `custom.id` to give it its own docs."
            ),
        )
    } else {
        (
            format!("Policy rule {id}"),
            format!(
                "A finding of the policy rule `{id}` from a `--policy` directory. Add a                  `# METADATA` block with a title, a description and `custom.why` /                  `custom.fix` to give it its own docs."
            ),
        )
    }
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|t| !t.is_empty())
}

fn text_only(text: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder()
        .text(text.to_string())
        .build()
}

/// `quorum/below-quorum` -> `QuorumBelowQuorum`: a Pascal-case name distinct from the id.
fn friendly_name(id: &str) -> String {
    let mut name: String = id
        .split(|c: char| !c.is_alphanumeric())
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .chain(chars)
                .collect::<Vec<_>>()
        })
        .collect();
    if name.is_empty() || name == id {
        name.push_str("Rule");
    }
    name
}

/// GitHub's anchor for the heading `## id`: lower case, punctuation other than `-` and `_` dropped.
fn anchor(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .flat_map(char::to_lowercase)
        .collect()
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

fn result(f: &Finding, rule_index: Option<usize>, report: &Report) -> SarifResult {
    let mut r = SarifResult::builder()
        .message(Message::from(&f.message))
        .rule_id(f.rule.clone())
        .level(level(f.severity))
        .build();
    r.rule_index = rule_index.and_then(|i| i64::try_from(i).ok());
    r.locations = f.location.as_ref().map(|l| vec![location(l, report)]);
    if !f.related.is_empty() {
        let related = f
            .related
            .iter()
            .zip(1i64..)
            .map(|(l, id)| {
                let mut loc = location(l, report);
                loc.id = Some(id);
                loc.message = Some(Message::from(&format!("also at {}", l.path)));
                loc
            })
            .collect();
        r.related_locations = Some(related);
    }
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

fn location(l: &Location, report: &Report) -> SarifLocation {
    let mut artifact = ArtifactLocation::builder().uri(uri(&l.path)).build();
    // Paths under the repository root are relative to it; files outside it (`../x`, an
    // absolute path, another work tree) are not.
    let rooted = !report.outside_root.contains(&l.path)
        && !l.path.starts_with('/')
        && !l.path.starts_with('<')
        && !uri(&l.path).starts_with("file:");
    if report.root.is_some() && rooted {
        artifact.uri_base_id = Some(SRCROOT.to_string());
    }
    let mut physical = PhysicalLocation::builder()
        .artifact_location(artifact)
        .build();
    // SARIF lines and columns start at 1; 0 means we do not know.
    if l.line >= 1 {
        let mut region = Region::builder().build();
        region.start_line = i64::try_from(l.line).ok();
        if l.column >= 1 {
            region.start_column = i64::try_from(l.column).ok();
            let end = report
                .sources
                .get(&l.path)
                .and_then(|text| end_of(text, l.offset, l.len));
            if let Some((line, column)) = end {
                region.end_line = i64::try_from(line).ok();
                region.end_column = i64::try_from(column).ok();
            }
        }
        physical.region = Some(region);
    }
    SarifLocation::builder().physical_location(physical).build()
}

/// Line and (exclusive, in characters) column where the span `offset..offset + len` ends.
fn end_of(text: &str, offset: usize, len: usize) -> Option<(usize, usize)> {
    if len == 0 {
        return None;
    }
    let before = text.get(..offset.checked_add(len)?)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..)?.chars().count() + 1;
    Some((line, column))
}

/// `file:///abs/root/`: the root as an absolute URI ending in `/`.
fn root_uri(root: &str) -> String {
    let mut u = uri(root);
    if !u.starts_with("file:") {
        u = format!("file://{}{u}", if u.starts_with('/') { "" } else { "/" });
    }
    if !u.ends_with('/') {
        u.push('/');
    }
    u
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
    let mut key = format!(
        "{}\0{}\0{}",
        f.rule,
        f.change.as_deref().unwrap_or(""),
        f.group.as_deref().unwrap_or("")
    );
    // Without a change or group (conftest results, unreadable files) the rule alone would make
    // every result of the rule one alert: the file and the message tell them apart.
    if f.change.is_none() && f.group.is_none() {
        let path = f.location.as_ref().map_or("", |l| l.path.as_str());
        key.push_str(&format!("\0{path}\0{}", f.message));
    }
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
        assert_eq!(quorum["name"], "QuorumMajorityLost");
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
        // not a built-in rule: the policy-writing docs
        assert_eq!(quorum["helpUri"], POLICY_DOC);
        assert_eq!(quorum["properties"]["tags"], json!(["quorate", "quorum"]));
        // a rule without a RuleDoc still gets a full descriptor
        let bare = &rules[2];
        assert_eq!(bare["id"], "instability/in-progress");
        assert_eq!(bare["name"], "InstabilityInProgress");
        assert_eq!(bare["defaultConfiguration"]["level"], "error");
        for key in ["shortDescription", "fullDescription", "help"] {
            assert!(!bare[key]["text"].as_str().unwrap().is_empty(), "{key}");
        }
        assert_eq!(bare["helpUri"], POLICY_DOC);
        // a rule without a description falls back to its title
        assert_eq!(
            rules[3]["fullDescription"]["text"],
            "Only here to be listed in SARIF rules."
        );
    }

    #[test]
    fn builtin_rules_link_to_their_heading_in_the_rules_reference() {
        let mut r = fixture::report();
        r.rules = crate::rules::builtin().unwrap();
        r.findings[1].rule = "quorum/below-quorum".into();
        let v = parsed(&r);
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let below = rules
            .iter()
            .find(|d| d["id"] == "quorum/below-quorum")
            .unwrap();
        assert_eq!(below["helpUri"], format!("{RULES_DOC}#quorumbelow-quorum"));
        assert_eq!(below["name"], "QuorumBelowQuorum");
        // the anchor is the one the generated reference links to
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
        assert!(doc.contains("(#quorumbelow-quorum)"));
        assert!(doc.contains("\n## quorum/below-quorum\n"));
        for d in rules {
            assert_ne!(d["name"], d["id"]);
        }
    }

    #[test]
    fn names_anchors_and_ends() {
        assert_eq!(friendly_name("main/deny_run_as_root"), "MainDenyRunAsRoot");
        assert_eq!(friendly_name("Plain"), "PlainRule");
        assert_eq!(
            anchor("input/unreadable-manifest"),
            "inputunreadable-manifest"
        );
        // `cdé`: three characters in four bytes, ending before column 4
        assert_eq!(end_of("ab\ncdé f", 3, 4), Some((2, 4)));
        assert_eq!(end_of("ab", 0, 0), None);
        assert_eq!(end_of("ab", 1, 9), None);
        assert_eq!(root_uri("/work/my repo"), "file:///work/my%20repo/");
        assert_eq!(root_uri("C:\\w"), "file:///C:/w/");
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
        // the fixture's warning has no location (evaluate gives every finding one)
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
        assert_eq!(phys["artifactLocation"]["uriBaseId"], SRCROOT);
        assert_eq!(phys["region"]["startLine"], 3);
        assert_eq!(phys["region"]["startColumn"], 3);
        // `"desired_capacity": 2` ends on the same line
        assert_eq!(phys["region"]["endLine"], 3);
        assert_eq!(phys["region"]["endColumn"], 3 + 21);
        assert_eq!(
            v["runs"][0]["originalUriBaseIds"][SRCROOT]["uri"],
            "file:///work/repo/"
        );
        assert_eq!(v["runs"][0]["automationDetails"]["id"], AUTOMATION_ID);

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
            related: Vec::new(),
        };
        assert_eq!(fingerprint(&f), format!("{:016x}", fnv1a64(b"r\0c\0")));
        // results without change or group (conftest) differ by their message
        let mut a = f.clone();
        a.change = None;
        let mut b = a.clone();
        b.message = "other".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn related_locations_follow_the_primary_one() {
        let mut r = fixture::report();
        let plan = r.findings[1].location.clone().unwrap();
        let mut tf = plan.clone();
        tf.path = "modules/asg/main.tf".into();
        tf.line = 7;
        r.findings[1].location = Some(tf);
        r.findings[1].related = vec![plan];
        let v = parsed(&r);
        let deny = &v["runs"][0]["results"][1];
        assert_eq!(
            deny["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "modules/asg/main.tf"
        );
        let rel = &deny["relatedLocations"][0];
        assert_eq!(rel["id"], 1);
        assert_eq!(
            rel["physicalLocation"]["artifactLocation"]["uri"],
            "plans/prod.json"
        );
        assert_eq!(rel["physicalLocation"]["region"]["startLine"], 3);
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
