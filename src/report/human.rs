//! Terminal output: one miette diagnostic per finding (with the quoted source line when we have
//! the file), then waived findings, notices and a one-line summary.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode, SourceSpan,
};

use super::{ordered, plural, subject, waiver_details};
use crate::excerpt::Excerpt;
use crate::model::{Finding, Location, Report, Severity};

/// Wide enough for a snippet with a label, narrow enough to read in a CI log.
const WIDTH: usize = 100;

pub(super) fn render(report: &Report, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut handler = GraphicalReportHandler::new_themed(theme)
        .with_width(WIDTH)
        .with_links(false)
        .with_break_words(false)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    if !color {
        handler = handler.without_syntax_highlighting();
    }

    let mut out = String::new();
    for finding in ordered(&report.findings) {
        out.push_str(&render_finding(&handler, report, finding));
        out.push('\n');
    }

    for w in &report.waived {
        let mut line = format!("waived: {}", w.rule);
        if let Some(on) = subject(w) {
            line.push_str(&format!(" on {on}"));
        }
        let reason = w.waiver.as_ref().map(|n| n.reason.as_str()).unwrap_or("");
        if !reason.is_empty() {
            line.push_str(&format!(" — {reason}"));
        }
        let details = waiver_details(w.waiver.as_ref());
        if !details.is_empty() {
            line.push(' ');
            line.push_str(&details);
        }
        out.push_str(&paint(color, DIM, &line));
        out.push('\n');
    }

    for notice in &report.notices {
        out.push_str(&paint(color, CYAN, "note:"));
        out.push(' ');
        out.push_str(notice);
        out.push('\n');
    }

    let s = &report.summary;
    let line = if s.deny + s.warn == 0 {
        if s.waived > 0 {
            format!(
                "no findings ({} waived) across {}",
                s.waived,
                plural(s.changes, "change")
            )
        } else {
            format!("no findings across {}", plural(s.changes, "change"))
        }
    } else {
        let mut counts = format!("{} deny, {} warn", s.deny, s.warn);
        if s.waived > 0 {
            counts.push_str(&format!(", {} waived", s.waived));
        }
        format!("{counts} across {}", plural(s.changes, "change"))
    };
    let style = if s.deny > 0 {
        BOLD_RED
    } else if s.warn > 0 {
        BOLD_YELLOW
    } else {
        BOLD_GREEN
    };
    out.push_str(&paint(color, style, &line));
    out.push('\n');
    out
}

fn render_finding(handler: &GraphicalReportHandler, report: &Report, f: &Finding) -> String {
    let doc = report.rule_doc(&f.rule);
    let help = doc
        .map(|d| d.fix.trim())
        .filter(|fix| !fix.is_empty())
        .map(str::to_string);
    let source = f
        .location
        .as_ref()
        .and_then(|loc| report.sources.get(&loc.path).map(|text| (loc, text)));

    // Without the file text there is no snippet to show where: say it in words.
    let message = match (&f.location, &source) {
        (Some(loc), None) => with_position(&f.message, loc),
        _ => f.message.clone(),
    };
    let excerpt = source.map(|(loc, text)| {
        let span = span_for(text, loc);
        Excerpt::new(
            &loc.path,
            text,
            span.offset(),
            span.len(),
            loc.line,
            loc.column,
        )
    });
    // A clipped line of a JSON document (a minified plan): say where in words a reader knows,
    // the resource and the attribute with its value, instead of a window of raw JSON.
    let readable = match (&f.location, &source, &excerpt) {
        (Some(loc), Some((_, text)), Some(e)) if e.clipped.is_some() => {
            json_place(f.change.as_deref(), loc, text)
        }
        _ => None,
    };
    let message = match (&readable, &f.location) {
        (Some(place), Some(loc)) => format!(
            "{message}\nat {}:{}:{}: {place}",
            loc.path, loc.line, loc.column
        ),
        _ => message,
    };
    let snippet = match (excerpt, readable) {
        (Some(e), None) => {
            let title = doc.map(|d| d.title.trim()).filter(|t| !t.is_empty());
            let label = match (title, e.clipping_note()) {
                (Some(t), Some(note)) => Some(format!("{t} ({note})")),
                (Some(t), None) => Some(t.to_string()),
                (None, note) => note,
            };
            let span = e.span;
            Some(Snippet {
                source: e,
                label: LabeledSpan::new_primary_with_span(label, span),
            })
        }
        _ => None,
    };
    let mut diag = FindingDiagnostic {
        code: f.rule.clone(),
        message,
        severity: match f.severity {
            Severity::Deny => miette::Severity::Error,
            Severity::Warn => miette::Severity::Warning,
        },
        help,
        snippet,
    };

    let mut text = String::new();
    if handler.render_report(&mut text, &diag).is_ok() {
        return text;
    }
    // miette refuses spans it cannot read; say where instead of dropping the finding.
    diag.snippet = None;
    if let Some(loc) = &f.location {
        diag.message = with_position(&f.message, loc);
    }
    text.clear();
    if handler.render_report(&mut text, &diag).is_ok() {
        return text;
    }
    format!("{}: {}: {}\n", f.severity.as_str(), f.rule, f.message)
}

/// Values longer than this (pretty-printed lines) are cut in the readable excerpt.
const VALUE_LINES: usize = 12;
/// Raw values larger than this are not pretty-printed (the excerpt stays bounded).
const VALUE_BYTES: usize = 64 * 1024;

/// Where a finding is in a JSON document, in the reader's terms: `aws_autoscaling_group.search:
/// desired_capacity = 3` for a pointer into a Terraform change, with the value pretty-printed.
fn json_place(change: Option<&str>, loc: &Location, text: &str) -> Option<String> {
    let tokens: Vec<&str> = loc.pointer.split('/').skip(1).collect();
    let attr_at = tokens
        .windows(2)
        .position(|w| matches!(w, ["change", "after" | "before"]))
        .map(|i| i + 2);
    let attribute = attr_at
        .map(|i| tokens.get(i..).unwrap_or_default())
        .unwrap_or_default()
        .iter()
        .fold(String::new(), |mut acc, t| {
            let t = t.replace("~1", "/").replace("~0", "~");
            if t.chars().all(|c| c.is_ascii_digit()) && !acc.is_empty() {
                acc.push_str(&format!("[{t}]"));
            } else {
                if !acc.is_empty() {
                    acc.push('.');
                }
                acc.push_str(&t);
            }
            acc
        });
    let side = match (
        tokens.first(),
        attr_at.and_then(|i| tokens.get(i.wrapping_sub(1))),
    ) {
        (Some(&"resource_drift"), _) => " (live)",
        (_, Some(&"before")) => " (before)",
        _ => "",
    };
    let subject = format!("{}{side}", change.unwrap_or(loc.pointer.as_str()));
    let raw = text.get(loc.offset..loc.offset.saturating_add(loc.len))?;
    if attribute.is_empty() {
        return Some(subject);
    }
    let value = if raw.len() <= VALUE_BYTES {
        // The located node may be the member (`"desired_capacity":3`) or the value alone.
        serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .or_else(|| {
                let member =
                    serde_json::from_str::<serde_json::Value>(&format!("{{{raw}}}")).ok()?;
                member.as_object()?.values().next().cloned()
            })
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
    } else {
        None
    };
    let value = match value {
        Some(v) => {
            let lines: Vec<&str> = v.lines().collect();
            if lines.len() <= 1 {
                v
            } else {
                let mut out: Vec<String> = lines
                    .iter()
                    .take(VALUE_LINES)
                    .map(|l| format!("    {l}"))
                    .collect();
                if lines.len() > VALUE_LINES {
                    out.push(format!("    … ({} more lines)", lines.len() - VALUE_LINES));
                }
                format!("\n{}", out.join("\n"))
            }
        }
        None => format!("({} bytes)", crate::excerpt::thousands(raw.len())),
    };
    Some(format!("{subject}: {attribute} = {value}"))
}

/// `message`, then `at path:line:col` on its own line.
fn with_position(message: &str, loc: &Location) -> String {
    let mut at = loc.path.clone();
    if loc.line >= 1 {
        at.push_str(&format!(":{}", loc.line));
        if loc.column >= 1 {
            at.push_str(&format!(":{}", loc.column));
        }
    }
    format!("{message}\nat {at}")
}

/// The byte span to underline: `offset`/`len` clamped to the text and to character boundaries.
/// An empty span becomes the character at `offset`, or its line when it sits on a line end.
/// When the adapter gave no byte range at all, fall back to line/column.
fn span_for(text: &str, loc: &Location) -> SourceSpan {
    let offset = if loc.offset == 0 && loc.len == 0 && loc.line > 1 {
        offset_of(text, loc.line, loc.column)
    } else {
        loc.offset
    };
    let start = floor_boundary(text, offset.min(text.len()));
    if loc.len > 0 {
        let end = ceil_boundary(text, start.saturating_add(loc.len).min(text.len()));
        return SourceSpan::from((start, end.saturating_sub(start)));
    }
    let rest = text.get(start..).unwrap_or("");
    match rest.chars().next() {
        Some(c) if c != '\n' && c != '\r' => SourceSpan::from((start, c.len_utf8())),
        _ => {
            let before = text.get(..start).unwrap_or("");
            let line_start = before.rfind('\n').map_or(0, |i| i.saturating_add(1));
            let line = text.get(line_start..start).unwrap_or("");
            let line = line.strip_suffix('\r').unwrap_or(line);
            SourceSpan::from((line_start, line.len()))
        }
    }
}

/// Byte offset of a 1-based line and character column (clamped to the line's end).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut line_start = 0;
    for _ in 1..line {
        match text.get(line_start..).and_then(|rest| rest.find('\n')) {
            Some(i) => line_start = line_start.saturating_add(i).saturating_add(1),
            None => return text.len(),
        }
    }
    let rest = text.get(line_start..).unwrap_or("");
    let line_text = rest.split('\n').next().unwrap_or("");
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    line_start.saturating_add(within)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

const DIM: &str = "\x1b[2m";
const CYAN: &str = "\x1b[36m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD_YELLOW: &str = "\x1b[1;33m";
const BOLD_GREEN: &str = "\x1b[1;32m";

fn paint(color: bool, style: &str, text: &str) -> String {
    if color {
        format!("{style}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

struct Snippet {
    source: Excerpt,
    label: LabeledSpan,
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snippet")
            .field("source", &self.source)
            .field("label", &self.label)
            .finish()
    }
}

#[derive(Debug)]
struct FindingDiagnostic {
    code: String,
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    snippet: Option<Snippet>,
}

impl fmt::Display for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FindingDiagnostic {}

impl Diagnostic for FindingDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet.as_ref().map(|s| &s.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.snippet
            .as_ref()
            .map(|s| Box::new(std::iter::once(s.label.clone())) as Box<dyn Iterator<Item = _>>)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn shows_rule_message_snippet_and_help() {
        let out = render(&fixture::report(), false);
        // rule ids and messages
        assert!(out.contains("quorum/majority-lost"), "{out}");
        assert!(out.contains("scaling etcd from 3 to 2"), "{out}");
        assert!(out.contains("drift/live-differs"), "{out}");
        assert!(
            out.contains("live size 5 differs from committed 3"),
            "{out}"
        );
        // the quoted source line, with the file name and position miette computed
        assert!(out.contains("\"desired_capacity\": 2"), "{out}");
        assert!(out.contains("plans/prod.json:3:3"), "{out}");
        // the label (rule title) and the help (rule fix)
        assert!(
            out.contains("Change leaves the group without a majority"),
            "{out}"
        );
        assert!(out.contains("Scale in one member at a time"), "{out}");
        // no colors when asked for none
        assert!(!out.contains('\x1b'), "{out}");
    }

    #[test]
    fn deny_comes_before_warn() {
        let out = render(&fixture::report(), false);
        let deny = out.find("quorum/majority-lost").unwrap();
        let warn = out.find("drift/live-differs").unwrap();
        assert!(deny < warn, "{out}");
    }

    #[test]
    fn finding_without_location_has_no_snippet_but_keeps_text() {
        let mut r = fixture::report();
        r.findings.retain(|f| f.location.is_none());
        let out = render(&r, false);
        assert!(out.contains("drift/live-differs"), "{out}");
        assert!(out.contains("re-plan first"), "{out}");
        assert!(!out.contains("╭─["), "{out}");
    }

    #[test]
    fn location_without_source_text_still_renders() {
        let mut r = fixture::report();
        r.sources.clear();
        let out = render(&r, false);
        assert!(out.contains("quorum/majority-lost"), "{out}");
        assert!(out.contains("Scale in one member at a time"), "{out}");
        assert!(out.contains("at plans/prod.json:3:3"), "{out}");
        assert!(!out.contains("╭─["), "{out}");
    }

    #[test]
    fn waived_notices_and_summary() {
        let out = render(&fixture::report(), false);
        assert!(
            out.contains(
                "waived: instability/in-progress on aws_autoscaling_group.web — planned maintenance (by alice, expires 2030-01-01)"
            ),
            "{out}"
        );
        assert!(
            out.contains("note: waiver for `old/rule` expired on 2020-01-01"),
            "{out}"
        );
        assert!(
            out.ends_with("1 deny, 1 warn, 1 waived across 3 changes\n"),
            "{out}"
        );
    }

    #[test]
    fn clean_report_summary() {
        let out = render(&fixture::clean(), false);
        assert_eq!(out, "no findings across 2 changes\n");
    }

    #[test]
    fn color_adds_ansi() {
        let out = render(&fixture::report(), true);
        assert!(out.contains('\x1b'));
    }

    #[test]
    fn bad_spans_are_clamped() {
        let mut r = fixture::report();
        for f in &mut r.findings {
            if let Some(loc) = &mut f.location {
                loc.offset = 10_000;
                loc.len = 50;
            }
        }
        let out = render(&r, false);
        assert!(out.contains("quorum/majority-lost"), "{out}");
    }

    #[test]
    fn span_rules() {
        let text = "ab\néx\n";
        let loc = |offset, len, line, column| Location {
            path: "f".into(),
            line,
            column,
            pointer: String::new(),
            offset,
            len,
        };
        // zero length on a character: that character (é is two bytes)
        assert_eq!(span_for(text, &loc(3, 0, 2, 1)), SourceSpan::from((3, 2)));
        // zero length at a line end: the line
        assert_eq!(span_for(text, &loc(2, 0, 1, 3)), SourceSpan::from((0, 2)));
        // inside a multi-byte character: snapped to its start
        assert_eq!(span_for(text, &loc(4, 1, 2, 1)), SourceSpan::from((3, 2)));
        // no byte range at all: taken from line/column
        assert_eq!(span_for(text, &loc(0, 0, 2, 2)), SourceSpan::from((5, 1)));
        assert_eq!(offset_of(text, 9, 1), text.len());
    }
}
