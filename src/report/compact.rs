//! One line per finding, `path:line:col: severity rule: message`, in the shape compilers use
//! (editors' error parsers and terminal hyperlinkers read it), then a summary line.

use super::{ordered, plural, subject};
use crate::model::{Finding, Report};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    for f in ordered(&report.findings) {
        out.push_str(&line(f));
        out.push('\n');
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} deny, {} warn, {} waived across {}\n",
        s.deny,
        s.warn,
        s.waived,
        plural(s.changes, "change")
    ));
    out
}

fn line(f: &Finding) -> String {
    let at = match &f.location {
        Some(l) => format!("{}:{}:{}", l.path, l.line.max(1), l.column.max(1)),
        None => subject(f).unwrap_or("-").to_string(),
    };
    // One line: the message's own line breaks become spaces.
    let message = f.message.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{at}: {} {}: {message}", f.severity.as_str(), f.rule)
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_line_per_finding_deny_first_then_summary() {
        let out = render(&fixture::report());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[0].starts_with("plans/prod.json:3:3: deny quorum/majority-lost: "),
            "{out}"
        );
        assert!(lines[1].contains(" warn drift/live-differs: "), "{out}");
        assert_eq!(lines[2], "1 deny, 1 warn, 1 waived across 3 changes");
    }
}
