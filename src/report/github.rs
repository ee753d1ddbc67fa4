//! GitHub Actions workflow commands: one annotation line per finding (`::error`, `::warning`,
//! `::notice` for waived ones and for notices), escaped so a message can never end the command.

use super::ordered;
use crate::model::{Finding, Report, Severity};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    for f in ordered(&report.findings) {
        let command = match f.severity {
            Severity::Deny => "error",
            Severity::Warn => "warning",
        };
        out.push_str(&line(command, f, &f.message));
    }
    for f in &report.waived {
        let reason = f.waiver.as_ref().map(|w| w.reason.as_str()).unwrap_or("");
        let message = if reason.is_empty() {
            format!("{} (waived)", f.message)
        } else {
            format!("{} (waived: {reason})", f.message)
        };
        out.push_str(&line("notice", f, &message));
    }
    for notice in &report.notices {
        out.push_str(&format!("::notice title=quorate::{}\n", data(notice)));
    }
    out
}

fn line(command: &str, f: &Finding, message: &str) -> String {
    let mut props = Vec::new();
    if let Some(l) = &f.location {
        props.push(format!("file={}", property(&l.path)));
        if l.line >= 1 {
            props.push(format!("line={}", l.line));
            if l.column >= 1 {
                props.push(format!("col={}", l.column));
            }
        }
    }
    props.push(format!("title={}", property(&f.rule)));
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
    fn clean_report_prints_nothing() {
        assert_eq!(render(&fixture::clean()), "");
    }
}
