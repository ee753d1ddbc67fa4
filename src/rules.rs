//! `quorate rules` and `quorate explain`: generated from the METADATA next to each rule.

use crate::engine::{rule_docs, BUILTIN};
use crate::error::{Error, Result};
use crate::model::{RuleDoc, Severity};
use crate::text::SourceText;

/// Findings quorate itself produces while reading inputs (not Rego rules): ids and docs here.
pub const UNREADABLE_MANIFEST: &str = "input/unreadable-manifest";
pub const WAIVER_ADDED: &str = "governance/waiver-added-in-change";
pub const POLICY_CHANGED: &str = "governance/policy-changed-in-change";

struct NativeRule {
    id: &'static str,
    severity: Severity,
    title: &'static str,
    what: &'static str,
    why: &'static str,
    example: &'static str,
    fix: &'static str,
}

const NATIVE: &[NativeRule] = &[NativeRule {
    id: UNREADABLE_MANIFEST,
    severity: Severity::Deny,
    title: "A changed manifest does not parse",
    what: "`quorate diff` found a changed YAML or JSON file whose head revision is not valid YAML or JSON (or not UTF-8 text). The finding points at the parse error; the rest of the change is still checked.",
    why: "A file that does not parse cannot be applied either, and quorate cannot see what it would do to the service. Helm chart templates (under a `templates/` directory of a chart with a `Chart.yaml`) are skipped with a notice instead.",
    example: "`k8s/web.json` with a `// replicas lowered for the migration` comment: `invalid JSON: expected value` at the comment's line.",
    fix: "Fix the syntax. For a file that is not a manifest (a template, a fixture), exclude it with `--exclude GLOB` or `exclude:` in quorate.yaml; check templates by rendering them (`helm template ... | quorate check -`).",
}, NativeRule {
    id: WAIVER_ADDED,
    severity: Severity::Deny,
    title: "Waiver added by the change it would waive",
    what: "`quorate diff` reads quorate.yaml from the base revision; the change adds a waiver that the base does not have. The waiver does not apply to this change, and this finding says so at the waiver's line.",
    why: "Otherwise any author could approve their own denial: scale etcd 5 -> 2 and add a waiver for it in the same pull request. A waiver takes effect once it is reviewed and merged on its own (then it is on the base of later changes).",
    example: "A branch lowers `replicas` of platform/StatefulSet/etcd and adds `waivers: [{rule: quorum/below-quorum, change: platform/StatefulSet/etcd, ...}]`.",
    fix: "Merge the waiver first in a change of its own (reviewed by the owners of quorate.yaml), then rebase; or, if the repository trusts its pull requests' config, run `quorate diff --config-from head`.",
}, NativeRule {
    id: POLICY_CHANGED,
    severity: Severity::Warn,
    title: "The change edits quorate's configuration or policies",
    what: "The change modifies quorate.yaml (other than adding waivers) or a policy file given with `--policy`. `quorate diff` judged the change with the base revision's configuration and policies, not the edited ones.",
    why: "Policies and their configuration are the gate; a change to them should be reviewed as such, and it only takes effect for later changes.",
    example: "A pull request raises `stabilization_window` or deletes a rule from `policy/` next to a scale-down.",
    fix: "Review the policy change on its own merits; once merged it applies to later changes. Use `--config-from head` only where pull requests are trusted to change the gate.",
}];

/// The docs of the rules quorate's Rust code applies.
pub fn native() -> Vec<RuleDoc> {
    NATIVE
        .iter()
        .map(|r| RuleDoc {
            id: r.id.into(),
            severity: r.severity,
            title: r.title.into(),
            what: r.what.into(),
            why: r.why.into(),
            example: r.example.into(),
            fix: r.fix.into(),
        })
        .collect()
}

/// Every built-in rule: the Rego rules' METADATA plus the native rules.
pub fn builtin() -> Result<Vec<RuleDoc>> {
    let mut docs = native();
    for (path, text) in BUILTIN {
        if !path.ends_with("_test.rego") {
            docs.extend(rule_docs(&SourceText::new(*path, *text))?);
        }
    }
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(docs)
}

pub fn list(json: bool, markdown: bool) -> Result<String> {
    let docs = builtin()?;
    if json {
        return serde_json::to_string_pretty(&docs)
            .map(|s| s + "\n")
            .map_err(|e| Error::usage(e.to_string()));
    }
    if markdown {
        return Ok(reference(&docs));
    }
    let width = docs.iter().map(|d| d.id.len()).max().unwrap_or(0);
    Ok(docs
        .iter()
        .map(|d| {
            format!(
                "{:<width$}  {:<4}  {}\n",
                d.id,
                d.severity.as_str(),
                d.title
            )
        })
        .collect())
}

/// The rules reference (docs/rules.md is this output).
pub fn reference(docs: &[RuleDoc]) -> String {
    let mut s = String::from("# quorate rules\n\nGenerated by `quorate rules --format markdown` from the METADATA next to each rule in `policies/`.\n\n| Rule | Severity | Title |\n|---|---|---|\n");
    for d in docs {
        s.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            d.id,
            d.id.replace('/', ""),
            d.severity.as_str(),
            d.title
        ));
    }
    for d in docs {
        s.push_str(&format!("\n## {}\n\n{}\n", d.id, explain_doc(d)));
    }
    s
}

/// Terminal width for `quorate explain`.
const EXPLAIN_WIDTH: usize = 96;

fn explain_text(d: &RuleDoc, color: bool) -> String {
    let bold = |t: &str| {
        if color {
            format!("\x1b[1m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    let mut out = format!(
        "{} ({})\n{}\n",
        bold(&d.id),
        d.severity.as_str(),
        inline(&d.title, color)
    );
    for (heading, text) in [
        ("What", &d.what),
        ("Why", &d.why),
        ("Example", &d.example),
        ("Fix", &d.fix),
    ] {
        out.push('\n');
        out.push_str(&bold(heading));
        out.push('\n');
        // Wrap the plain text (marks removed) so widths are right, never splitting ids at hyphens.
        let plain = inline(text.trim(), false);
        let opts = textwrap::Options::new(EXPLAIN_WIDTH)
            .initial_indent("  ")
            .subsequent_indent("  ")
            .break_words(false)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        let wrapped = textwrap::fill(&plain, opts);
        out.push_str(&if color {
            recolor(&wrapped, text)
        } else {
            wrapped
        });
        out.push('\n');
    }
    out
}

/// Markdown inline marks for a terminal: `**bold**` and `` `code` `` lose their marks; with
/// `color`, code is cyan and bold is bold.
fn inline(text: &str, color: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['`', '*']) {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let (mark, style) = if tail.starts_with("**") {
            ("**", "\x1b[1m")
        } else if tail.starts_with('`') {
            ("`", "\x1b[36m")
        } else {
            out.push('*');
            rest = tail.get(1..).unwrap_or_default();
            continue;
        };
        let body = tail.get(mark.len()..).unwrap_or_default();
        match body.find(mark) {
            Some(end) => {
                let inner = body.get(..end).unwrap_or_default();
                if color {
                    out.push_str(&format!("{style}{inner}\x1b[0m"));
                } else {
                    out.push_str(inner);
                }
                rest = body.get(end + mark.len()..).unwrap_or_default();
            }
            None => {
                out.push_str(mark);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Colors the code spans of `source` in already wrapped plain text.
fn recolor(wrapped: &str, source: &str) -> String {
    let mut out = wrapped.to_string();
    let mut rest = source;
    while let Some(i) = rest.find('`') {
        let body = rest.get(i + 1..).unwrap_or_default();
        let Some(end) = body.find('`') else { break };
        let code = body.get(..end).unwrap_or_default();
        if !code.is_empty() && !code.contains(char::is_whitespace) {
            out = out.replace(code, &format!("\x1b[36m{code}\x1b[0m"));
        }
        rest = body.get(end + 1..).unwrap_or_default();
    }
    out
}

fn explain_doc(d: &RuleDoc) -> String {
    format!(
        "**{}** ({})\n\nWhat: {}\n\nWhy: {}\n\nExample: {}\n\nFix: {}\n",
        d.title,
        d.severity.as_str(),
        d.what,
        d.why,
        d.example,
        d.fix
    )
}

/// `quorate explain`: the rule's docs for a terminal (wrapped, headings, no Markdown marks;
/// bold and colored code spans with `color`).
pub fn explain(id: &str, color: bool) -> Result<String> {
    let docs = builtin()?;
    match docs.iter().find(|d| d.id == id) {
        Some(d) => Ok(explain_text(d, color)),
        None => {
            let known: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
            Err(Error::usage(format!("no rule `{id}`"))
                .with_help(format!("known rules: {}", known.join(", "))))
        }
    }
}

#[cfg(test)]
mod explain_tests {
    use super::*;

    #[test]
    fn explain_is_terminal_text_without_markdown_marks() {
        let text = explain("quorum/below-quorum", false).unwrap();
        assert!(!text.contains("**"), "{text}");
        assert!(
            text.starts_with("quorum/below-quorum (deny)\nBelow quorum in the worst case\n"),
            "{text}"
        );
        assert!(text.contains("\nWhy\n  Providers do not promise"), "{text}");
        assert!(
            text.lines().all(|l| l.chars().count() <= EXPLAIN_WIDTH),
            "{text}"
        );
        let colored = explain("quorum/below-quorum", true).unwrap();
        assert!(colored.contains("\x1b[1m"), "{colored}");
    }

    #[test]
    fn inline_marks() {
        assert_eq!(inline("set `max_size` **now**", false), "set max_size now");
        assert_eq!(inline("a * b and `unclosed", false), "a * b and `unclosed");
    }
}
