//! Reporters: turn a [`crate::model::Report`] into one output format. They never parse inputs.
//! One file per format; this module only picks the format and holds the helpers they share.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::model::{Finding, Report, Severity, WaiverNote};

mod compact;
pub(crate) mod github;
mod human;
mod json;
pub(crate) mod junit;
mod markdown;
mod sarif;

/// An output format for [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Compact,
    Json,
    Sarif,
    Junit,
    Github,
    Markdown,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 7] = [
        Format::Human,
        Format::Compact,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::Markdown,
    ];

    /// The name accepted by [`Format::from_str`].
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Compact => "compact",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
            Format::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown output format `{0}` (expected one of: human, compact, json, sarif, junit, github, markdown)"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// What a reporter may need beyond the report itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Colors; only [`Format::Human`] has any.
    pub color: bool,
    /// `--fail-on`: the lowest severity that fails the run, `None` for `never`. JUnit marks
    /// only these findings as failures, so a test viewer agrees with the exit code.
    pub fail_on: Option<Severity>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            fail_on: Some(Severity::Deny),
        }
    }
}

/// Write `report` to `out` in `format`, with the default `--fail-on deny`. `color` only
/// affects [`Format::Human`].
pub fn render(report: &Report, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let opts = RenderOptions {
        color,
        ..RenderOptions::default()
    };
    render_with(report, format, &opts, out)
}

/// Write `report` to `out` in `format`.
pub fn render_with(
    report: &Report,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let color = opts.color;
    let text = match format {
        Format::Human => human::render(report, color),
        Format::Compact => compact::render(report),
        Format::Json => json::render(report)?,
        Format::Sarif => sarif::render(report)?,
        Format::Junit => junit::render(report, opts.fail_on)?,
        Format::Github => github::render(report),
        Format::Markdown => markdown::render(report),
    };
    out.write_all(text.as_bytes())?;
    out.flush()
}

// ---------------------------------------------------------------- shared helpers

/// Deny before warn, otherwise the report's order (the sort is stable).
fn ordered(findings: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.severity));
    v
}

/// What a finding is about, for one-line listings: the change id, else the group.
fn subject(f: &Finding) -> Option<&str> {
    f.change.as_deref().or(f.group.as_deref())
}

/// The rule family: the part of the id before the first `/`.
fn family(rule: &str) -> &str {
    rule.split('/').next().unwrap_or(rule)
}

/// `(by X, expires Y)`, or an empty string when neither is known.
fn waiver_details(note: Option<&WaiverNote>) -> String {
    let mut parts = Vec::new();
    if let Some(by) = note.and_then(|w| w.by.as_deref()).filter(|s| !s.is_empty()) {
        parts.push(format!("by {by}"));
    }
    if let Some(exp) = note
        .and_then(|w| w.expires.as_deref())
        .filter(|s| !s.is_empty())
    {
        parts.push(format!("expires {exp}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// `1 change`, `3 changes`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// 64-bit FNV-1a: a tiny hash whose value never changes between Rust versions or
/// platforms, unlike `DefaultHasher`, so fingerprints stay stable across releases.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
pub(crate) mod fixture {
    //! The hand-made report every reporter test renders.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use crate::model::{Finding, Location, Report, RuleDoc, Severity, Summary, WaiverNote};

    pub const PLAN: &str =
        "{\n  \"resource\": \"aws_autoscaling_group.etcd\",\n  \"desired_capacity\": 2\n}\n";

    pub fn report() -> Report {
        let offset = PLAN.find("\"desired_capacity\"").unwrap_or(0);
        let deny = Finding {
            rule: "quorum/majority-lost".into(),
            severity: Severity::Deny,
            message: "scaling etcd from 3 to 2 <voters> leaves no majority if one fails & \"quorum\" breaks | pipe".into(),
            change: Some("aws_autoscaling_group.etcd".into()),
            group: Some("etcd".into()),
            location: Some(Location {
                path: "plans/prod.json".into(),
                line: 3,
                column: 3,
                pointer: "/resource_changes/0/change/after/desired_capacity".into(),
                offset,
                len: "\"desired_capacity\": 2".len(),
            }),
            waiver: None,
            related: Vec::new(),
        };
        let warn = Finding {
            rule: "drift/live-differs".into(),
            severity: Severity::Warn,
            message: "live size 5 differs from committed 3,\nre-plan first: 100%".into(),
            change: Some("kafka".into()),
            group: None,
            location: None,
            waiver: None,
            related: Vec::new(),
        };
        let waived = Finding {
            rule: "instability/in-progress".into(),
            severity: Severity::Deny,
            message: "a rollout is already in progress".into(),
            change: Some("aws_autoscaling_group.web".into()),
            group: Some("web".into()),
            location: Some(Location {
                path: "plans/prod.json".into(),
                line: 2,
                column: 3,
                pointer: String::new(),
                offset: 4,
                len: 10,
            }),
            waiver: Some(WaiverNote {
                reason: "planned maintenance".into(),
                by: Some("alice".into()),
                expires: Some("2030-01-01".into()),
            }),
            related: Vec::new(),
        };
        let rules = vec![
            RuleDoc {
                id: "quorum/majority-lost".into(),
                severity: Severity::Deny,
                title: "Change leaves the group without a majority".into(),
                what: "Fires when the change drops healthy voters below a majority.".into(),
                why: "A consensus group without a majority stops accepting writes.".into(),
                example: "desired_capacity: 3 -> 2".into(),
                fix: "Scale in one member at a time and wait for the group to heal.".into(),
            },
            RuleDoc {
                id: "drift/live-differs".into(),
                severity: Severity::Warn,
                title: "Live state differs from the committed state".into(),
                what: "The group's live size differs from what is committed.".into(),
                why: "The plan was computed against a state that no longer exists.".into(),
                example: String::new(),
                fix: String::new(),
            },
            RuleDoc {
                id: "unused/never-fires".into(),
                severity: Severity::Warn,
                title: "A rule no finding references".into(),
                what: "Only here to be listed in SARIF rules.".into(),
                why: String::new(),
                example: String::new(),
                fix: String::new(),
            },
        ];
        let mut sources = BTreeMap::new();
        sources.insert("plans/prod.json".to_string(), Arc::<str>::from(PLAN));
        Report {
            // The warn comes first on purpose: reporters put deny first.
            findings: vec![warn, deny],
            waived: vec![waived],
            notices: vec!["waiver for `old/rule` expired on 2020-01-01".into()],
            summary: Summary {
                deny: 1,
                warn: 1,
                changes: 3,
                waived: 1,
            },
            rules,
            sources,
            root: Some("/work/repo".into()),
            outside_root: Vec::new(),
        }
    }

    /// A report with nothing to say.
    pub fn clean() -> Report {
        Report {
            summary: Summary {
                changes: 2,
                ..Summary::default()
            },
            ..Report::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!("SARIF".parse::<Format>(), Ok(Format::Sarif));
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("xml"));
        assert!(err.to_string().contains("markdown"));
    }

    #[test]
    fn every_format_renders_both_fixtures() {
        for report in [fixture::report(), fixture::clean()] {
            for f in Format::ALL {
                let mut out = Vec::new();
                render(&report, f, false, &mut out).unwrap();
                let text = String::from_utf8(out).unwrap();
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{f} output not newline-terminated"
                );
            }
        }
    }

    #[test]
    fn deny_sorts_first_and_order_is_stable() {
        let r = fixture::report();
        let o = ordered(&r.findings);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].rule, "quorum/majority-lost");
        assert_eq!(o[1].rule, "drift/live-differs");
    }

    #[test]
    fn fnv1a_known_vectors() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn small_helpers() {
        assert_eq!(family("quorum/majority-lost"), "quorum");
        assert_eq!(family("plain"), "plain");
        assert_eq!(plural(1, "change"), "1 change");
        assert_eq!(plural(0, "change"), "0 changes");
        assert_eq!(waiver_details(None), "");
        let note = WaiverNote {
            reason: "r".into(),
            by: Some("bob".into()),
            expires: None,
        };
        assert_eq!(waiver_details(Some(&note)), "(by bob)");
    }
}
