//! GitHub Actions workflow commands: one annotation line per finding (`::error`, `::warning`,
//! `::notice` for waived ones and for notices), escaped so a message can never end the command.
//! GitHub shows at most 10 annotations of each kind per step (50 per job), so the rest are left
//! to the job summary, with one notice that says how many.

use super::plural;
use crate::model::{Finding, Report, Severity};

/// Annotations of one kind (error, warning, notice) that GitHub shows for a step.
pub(crate) const PER_STEP: usize = 10;

pub(super) fn render(report: &Report) -> String {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    // Deny first, then by file and position; findings without a location last.
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| place(a).cmp(&place(b)))
    });
    let mut out = String::new();
    let mut left_out = 0;
    for (severity, command) in [(Severity::Deny, "error"), (Severity::Warn, "warning")] {
        let of_kind = findings.iter().filter(|f| f.severity == severity);
        for (i, f) in of_kind.enumerate() {
            if i < PER_STEP {
                out.push_str(&line(command, f, &f.message));
            } else {
                left_out += 1;
            }
        }
    }
    let mut notices: Vec<String> = report
        .waived
        .iter()
        .map(|f| {
            let reason = f.waiver.as_ref().map(|w| w.reason.as_str()).unwrap_or("");
            let message = if reason.is_empty() {
                format!("{} (waived)", f.message)
            } else {
                format!("{} (waived: {reason})", f.message)
            };
            line("notice", f, &message)
        })
        .collect();
    notices.extend(
        report
            .notices
            .iter()
            .map(|n| format!("::notice title=quorate::{}\n", data(n))),
    );
    // One notice slot is kept for the count when anything is left out.
    let keep = if left_out > 0 || notices.len() > PER_STEP {
        PER_STEP - 1
    } else {
        PER_STEP
    };
    for n in notices.iter().take(keep) {
        out.push_str(n);
    }
    // The waived findings come first among the notices.
    let waived_left_out = report.waived.len().saturating_sub(keep);
    let others_left_out = notices.len().saturating_sub(keep) - waived_left_out;
    if left_out + waived_left_out + others_left_out > 0 {
        let what = [
            (left_out + waived_left_out, "more finding"),
            (others_left_out, "more notice"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| plural(n, word))
        .collect::<Vec<_>>()
        .join(" and ");
        out.push_str(&format!(
            "::notice title=quorate::{}\n",
            data(&format!(
                "GitHub shows {PER_STEP} errors, {PER_STEP} warnings and {PER_STEP} notices per step: {what} in the job summary"
            ))
        ));
    }
    out
}

fn place(f: &Finding) -> (bool, &str, usize, usize) {
    match &f.location {
        Some(l) => (false, l.path.as_str(), l.line, l.column),
        None => (true, "", 0, 0),
    }
}

fn line(command: &str, f: &Finding, message: &str) -> String {
    let (path, line, col) = match &f.location {
        Some(l) => (Some(l.path.as_str()), l.line, l.column),
        None => (None, 0, 0),
    };
    annotation(command, path, line, col, &f.rule, message)
}

/// One workflow command line: `::COMMAND file=..,line=..,col=..,title=..::MESSAGE`. A line or
/// column of 0 is unknown and left out.
pub(crate) fn annotation(
    command: &str,
    path: Option<&str>,
    line: usize,
    col: usize,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        props.push(format!("file={}", property(path)));
        if line >= 1 {
            props.push(format!("line={line}"));
            if col >= 1 {
                props.push(format!("col={col}"));
            }
        }
    }
    props.push(format!("title={}", property(title)));
    format!("::{command} {}::{}\n", props.join(","), data(message))
}

/// Escape a command's message (after the `::`).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (`key=value` before the `::`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_escaped_line_per_finding() {
        let out = render(&fixture::report());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(
            lines[0],
            "::error file=plans/prod.json,line=3,col=3,title=quorum/majority-lost::scaling etcd from 3 to 2 <voters> leaves no majority if one fails & \"quorum\" breaks | pipe"
        );
        // no location: no file/line/col; newline and percent escaped in the message
        assert_eq!(
            lines[1],
            "::warning title=drift/live-differs::live size 5 differs from committed 3,%0Are-plan first: 100%25"
        );
        assert_eq!(
            lines[2],
            "::notice file=plans/prod.json,line=2,col=3,title=instability/in-progress::a rollout is already in progress (waived: planned maintenance)"
        );
        assert_eq!(
            lines[3],
            "::notice title=quorate::waiver for `old/rule` expired on 2020-01-01"
        );
    }

    #[test]
    fn properties_escape_colon_and_comma() {
        assert_eq!(property("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
        assert_eq!(data("a:b,c\r\n"), "a:b,c%0D%0A");
    }

    #[test]
    fn deny_first_by_file_and_line_capped_per_kind_with_one_count_notice() {
        let base = fixture::report();
        let deny = base.findings[1].clone();
        let warn = base.findings[0].clone();
        let mut r = fixture::report();
        r.findings.clear();
        for i in (1..=25).rev() {
            let mut f = deny.clone();
            if let Some(l) = f.location.as_mut() {
                l.line = i;
            }
            r.findings.push(f);
            if i <= 12 {
                r.findings.push(warn.clone());
            }
        }
        let out = render(&r);
        let lines: Vec<&str> = out.lines().collect();
        let errors: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("::error "))
            .collect();
        assert_eq!(errors.len(), 10, "{out}");
        assert!(errors[0].contains(",line=1,") && errors[9].contains(",line=10,"));
        assert!(
            lines.iter().take(10).all(|l| l.starts_with("::error ")),
            "{out}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning ")).count(),
            10
        );
        // the waived finding and the report notice still fit, then the count
        assert_eq!(lines.len(), 23, "{out}");
        assert_eq!(
            lines[22],
            "::notice title=quorate::GitHub shows 10 errors, 10 warnings and 10 notices per step: 17 more findings in the job summary"
        );
    }

    #[test]
    fn notices_are_capped_too() {
        let mut r = fixture::report();
        r.findings.clear();
        r.notices = (0..12).map(|i| format!("n{i}")).collect();
        let out = render(&r);
        assert_eq!(out.lines().count(), 10, "{out}");
        assert!(
            out.ends_with("per step: 4 more notices in the job summary\n"),
            "{out}"
        );
    }

    #[test]
    fn clean_report_prints_nothing() {
        assert_eq!(render(&fixture::clean()), "");
    }
}
