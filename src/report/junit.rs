//! JUnit XML for CI test tabs: one testcase per finding (failure for deny and warn, skipped for
//! waived), or one passing `quorate` testcase when there is nothing to report.

use super::{family, ordered, subject, waiver_details};
use crate::model::{Finding, Report};

pub(super) fn render(report: &Report) -> String {
    let mut cases = String::new();
    for f in ordered(&report.findings) {
        cases.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
            attr(&case_name(f)),
            attr(family(&f.rule)),
            f.severity.as_str(),
            attr(&f.message),
            text(&failure_body(f)),
        ));
    }
    for f in &report.waived {
        let reason = f.waiver.as_ref().map(|w| w.reason.as_str()).unwrap_or("");
        let details = waiver_details(f.waiver.as_ref());
        let why = [format!("waived: {reason}"), details]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        cases.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            attr(&case_name(f)),
            attr(family(&f.rule)),
            attr(&why),
        ));
    }
    let mut tests = report.findings.len() + report.waived.len();
    if report.findings.is_empty() {
        cases.push_str("    <testcase name=\"quorate\" classname=\"quorate\"/>\n");
        tests += 1;
    }
    let failures = report.findings.len();
    let skipped = report.waived.len();

    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"quorate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  \
         <testsuite name=\"quorate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
         {cases}  </testsuite>\n\
         </testsuites>\n"
    )
}

/// `RULE CHANGE`, or the rule alone when the finding is about no change or group.
fn case_name(f: &Finding) -> String {
    match subject(f) {
        Some(s) => format!("{} {s}", f.rule),
        None => f.rule.clone(),
    }
}

/// `path:line:col` then the message.
fn failure_body(f: &Finding) -> String {
    match &f.location {
        Some(l) => format!("{}:{}:{}\n{}", l.path, l.line, l.column, f.message),
        None => f.message.clone(),
    }
}

/// Escape for XML character data. `\r` is kept as a reference so parsers do not fold it.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escape for a double- or single-quoted attribute; whitespace controls become references so
/// attribute-value normalisation does not turn them into spaces.
pub(crate) fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            // Not allowed in XML 1.0 at all, not even as references.
            c if is_forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn is_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// A small checker for the subset of XML we emit: balanced tags, quoted attributes, only
    /// known entity references, no raw `<`/`&` in text or attributes.
    fn check_well_formed(xml: &str) -> Vec<String> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("xml declaration");
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt]);
            let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
            let tag = &rest[lt + 1..gt];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else {
                let self_closing = tag.ends_with('/');
                let tag = tag.trim_end_matches('/');
                let name = tag.split_whitespace().next().unwrap().to_string();
                check_attrs(tag[name.len()..].trim());
                seen.push(name.clone());
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[gt + 1..];
        }
        assert!(rest.trim().is_empty(), "trailing text {rest:?}");
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    fn check_text(t: &str) {
        assert!(!t.contains('>'), "raw > in {t:?}");
        check_entities(t);
    }

    fn check_attrs(mut attrs: &str) {
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").expect("attribute without =\"");
            let name = &attrs[..eq];
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()),
                "bad name {name:?}"
            );
            let value_start = eq + 2;
            let end = attrs[value_start..]
                .find('"')
                .expect("unterminated attribute")
                + value_start;
            let value = &attrs[value_start..end];
            assert!(
                !value.contains('<') && !value.contains('\n'),
                "raw char in {value:?}"
            );
            check_entities(value);
            attrs = attrs[end + 1..].trim_start();
        }
    }

    fn check_entities(t: &str) {
        for (i, _) in t.match_indices('&') {
            let semi = t[i..].find(';').expect("& without ;") + i;
            let name = &t[i + 1..semi];
            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                || (name.starts_with('#') && name[1..].chars().all(|c| c.is_ascii_digit()));
            assert!(known, "unknown entity &{name};");
        }
        assert!(!t.chars().any(is_forbidden));
    }

    #[test]
    fn well_formed_with_counts_and_escaping() {
        let xml = render(&fixture::report());
        let tags = check_well_formed(&xml);
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 3, "{xml}");
        assert!(xml.contains(
            "<testsuite name=\"quorate\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"1\">"
        ));
        assert!(xml.contains("<testsuites name=\"quorate\" tests=\"3\" failures=\"2\""));
        // deny first, named RULE CHANGE, classname is the family
        let deny = xml
            .find("quorum/majority-lost aws_autoscaling_group.etcd")
            .unwrap();
        let warn = xml.find("drift/live-differs kafka").unwrap();
        assert!(deny < warn);
        assert!(xml.contains("classname=\"quorum\""));
        assert!(xml.contains("<failure type=\"deny\" message=\"scaling etcd from 3 to 2 &lt;voters&gt; leaves no majority if one fails &amp; &quot;quorum&quot; breaks | pipe\">"));
        assert!(xml.contains(">plans/prod.json:3:3\nscaling etcd from 3 to 2 &lt;voters&gt;"));
        // a newline in an attribute is kept as a reference
        assert!(xml.contains("<failure type=\"warn\" message=\"live size 5 differs from committed 3,&#10;re-plan first: 100%\">"));
        assert!(xml.contains(
            "<skipped message=\"waived: planned maintenance (by alice, expires 2030-01-01)\"/>"
        ));
        assert!(
            !xml.contains("name=\"quorate\" classname"),
            "no pass case when findings exist"
        );
    }

    #[test]
    fn clean_report_has_one_passing_case() {
        let xml = render(&fixture::clean());
        check_well_formed(&xml);
        assert!(xml.contains("tests=\"1\" failures=\"0\""));
        assert!(xml.contains("<testcase name=\"quorate\" classname=\"quorate\"/>"));
    }

    #[test]
    fn escapes_everything_xml_cares_about() {
        assert_eq!(attr("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(attr("l1\nl2\tx\ry"), "l1&#10;l2&#9;x&#13;y");
        assert_eq!(text("l1\nl2\r"), "l1\nl2&#13;");
        assert_eq!(text("bell\u{7}nul\u{0}"), "bell\u{FFFD}nul\u{FFFD}");
        let mut r = fixture::report();
        r.findings[0].message = "ctl \u{1b}[31m & ]]> <![CDATA[".into();
        check_well_formed(&render(&r));
    }
}
