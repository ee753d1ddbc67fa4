//! GitHub-flavoured Markdown for PR comments and job summaries: a heading with the counts, a table
//! of findings, waived findings folded away in `<details>`, then notices.

use super::{ordered, subject, waiver_details};
use crate::model::{Finding, Report};

pub(super) fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = if s.deny + s.warn == 0 {
        "### quorate: no findings\n".to_string()
    } else {
        format!("### quorate: {} deny, {} warn\n", s.deny, s.warn)
    };

    if !report.findings.is_empty() {
        out.push_str("\n| | Rule | Change | Message | Location |\n|---|---|---|---|---|\n");
        for f in ordered(&report.findings) {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                f.severity.as_str(),
                code(&f.rule),
                subject(f).map(code).unwrap_or_default(),
                cell(&f.message),
                location(f),
            ));
        }
    }

    if !report.waived.is_empty() {
        out.push_str(&format!(
            "\n<details>\n<summary>{} waived</summary>\n\n",
            report.waived.len()
        ));
        for f in &report.waived {
            let mut item = format!("- {} {}", f.severity.as_str(), code(&f.rule));
            if let Some(on) = subject(f) {
                item.push_str(&format!(" on {}", code(on)));
            }
            let reason = f.waiver.as_ref().map(|w| w.reason.as_str()).unwrap_or("");
            if !reason.is_empty() {
                item.push_str(&format!(" — {}", cell(reason)));
            }
            let details = waiver_details(f.waiver.as_ref());
            if !details.is_empty() {
                item.push_str(&format!(" {}", cell(&details)));
            }
            item.push_str(&format!(": {}", cell(&f.message)));
            out.push_str(&item);
            out.push('\n');
        }
        out.push_str("\n</details>\n");
    }

    if !report.notices.is_empty() {
        out.push('\n');
        for n in &report.notices {
            out.push_str(&format!("> **note:** {}\n>\n", cell(n)));
        }
        // drop the trailing empty quote line
        out.truncate(out.len().saturating_sub(2));
    }
    out
}

fn location(f: &Finding) -> String {
    match &f.location {
        Some(l) if l.line >= 1 => cell(&format!("{}:{}", l.path, l.line)),
        Some(l) => cell(&l.path),
        None => String::new(),
    }
}

/// Text for a table cell or a list item: Markdown and HTML specials escaped, newlines as `<br>`,
/// so input text cannot break the table or inject markup.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An identifier as inline code. GFM still splits table cells on `|` inside code spans, so
/// that stays escaped; anything else unusual falls back to plain escaped text.
fn code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let plain = s
        .chars()
        .all(|c| !c.is_control() && !matches!(c, '`' | '|' | '<' | '>' | '&'));
    if plain {
        format!("`{s}`")
    } else {
        cell(s)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn heading_table_waived_and_notes() {
        let out = render(&fixture::report());
        let expected = "\
### quorate: 1 deny, 1 warn

| | Rule | Change | Message | Location |
|---|---|---|---|---|
| deny | `quorum/majority-lost` | `aws_autoscaling_group.etcd` | scaling etcd from 3 to 2 &lt;voters&gt; leaves no majority if one fails &amp; \"quorum\" breaks \\| pipe | plans/prod.json:3 |
| warn | `drift/live-differs` | `kafka` | live size 5 differs from committed 3,<br>re-plan first: 100% |  |

<details>
<summary>1 waived</summary>

- deny `instability/in-progress` on `aws_autoscaling_group.web` — planned maintenance (by alice, expires 2030-01-01): a rollout is already in progress

</details>

> **note:** waiver for \\`old/rule\\` expired on 2020-01-01
";
        assert_eq!(out, expected);
    }

    #[test]
    fn every_table_row_has_six_pipes() {
        let out = render(&fixture::report());
        for row in out
            .lines()
            .filter(|l| l.starts_with("| deny") || l.starts_with("| warn"))
        {
            let unescaped = row.matches('|').count() - row.matches("\\|").count();
            assert_eq!(unescaped, 6, "{row}");
        }
    }

    #[test]
    fn clean_report() {
        assert_eq!(render(&fixture::clean()), "### quorate: no findings\n");
    }

    #[test]
    fn escaping() {
        assert_eq!(cell("a|b\nc\r\nd"), "a\\|b<br>c<br>d");
        assert_eq!(
            cell("<script>*x*</script>"),
            "&lt;script&gt;\\*x\\*&lt;/script&gt;"
        );
        assert_eq!(code("a|b"), "a\\|b");
        assert_eq!(code("ok/id"), "`ok/id`");
    }
}
