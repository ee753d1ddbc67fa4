//! quorate.yaml: parsed with positions, validated against `quorate schema config`, then turned
//! into typed values. Errors point at the offending line.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::error::{Error, Result, Stage};
use crate::model::Quorum;
use crate::schema::{self, Which};
use crate::text::{self, escape_token, SourceText};

pub const DEFAULT_STABILIZATION_WINDOW: u64 = 600;
pub const DEFAULT_MAX_OBSERVED_AGE: u64 = 900;
pub const DEFAULT_WAIVER_MAX_DAYS: u64 = 90;

#[derive(Debug, Clone, Default)]
pub struct GroupConfig {
    pub quorum: Option<Quorum>,
    pub aliases: Vec<String>,
}

/// Which objects a rule judges at admission: namespaces (all when empty), namespaces left out,
/// and labels the object must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl Scope {
    pub fn admits(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace))
            && !self.exclude_namespaces.iter().any(|n| n == namespace)
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

#[derive(Debug, Clone)]
pub struct Waiver {
    pub rule: String,
    pub change: Option<String>,
    pub group: Option<String>,
    pub reason: String,
    pub expires: DateTime<Utc>,
    pub expires_text: String,
    pub by: String,
    /// `path:line` of the waiver, to say which one expired.
    pub at: String,
    /// Byte offset of the waiver in its file, for diagnostics at its line.
    pub offset: usize,
    /// Byte offset of its `expires` value.
    pub expires_offset: usize,
}

impl Waiver {
    pub fn matches(&self, rule: &str, change: Option<&str>, group: Option<&str>) -> bool {
        let rule_ok = rule_matches(&self.rule, rule);
        let change_ok = self.change.as_deref().is_none_or(|c| Some(c) == change);
        let group_ok = self.group.as_deref().is_none_or(|g| Some(g) == group);
        rule_ok && change_ok && group_ok
    }
}

/// What the webhook answers when it cannot judge a review (policy error, timeout, overload,
/// lookup cache unavailable): deny (fail closed, the default) or allow with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    #[default]
    Deny,
    Allow,
}

/// `admission:` in quorate.yaml (used by `quorate serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    pub failure_mode: FailureMode,
    /// Severity of `drift/manual-change-to-managed-object`.
    pub drift_severity: crate::model::Severity,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            failure_mode: FailureMode::Deny,
            drift_severity: crate::model::Severity::Deny,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: Option<String>,
    pub groups: BTreeMap<String, GroupConfig>,
    pub stabilization_window: u64,
    pub max_observed_age: u64,
    pub gitops_controllers: Vec<String>,
    pub waivers: Vec<Waiver>,
    pub admission: AdmissionConfig,
    /// Drifted attributes (JSON pointers into a resource, or attribute names) that make a
    /// change on top of drift a denial, besides the member and voter counts.
    pub drift_deny_attributes: Vec<String>,
    /// Path globs whose files are not read (`exclude:`), checked when parsed.
    pub exclude: Vec<String>,
    /// The text the config was read from, for diagnostics found after parsing.
    pub source: Option<SourceText>,
    /// `waiver_max_days`: how far ahead a waiver may expire (default 90).
    pub waiver_max_days: u64,
    /// `severity:` per rule id or `family/*`: deny, warn, or off (`None`).
    pub severity: BTreeMap<String, Option<crate::model::Severity>>,
    /// Byte offsets of the `severity:` keys, for diagnostics at their line.
    pub severity_at: BTreeMap<String, usize>,
    /// `freezes:`: change freezes, open ones published as `input.context.freezes`.
    pub freezes: Vec<crate::freeze::Freeze>,
    /// `admission.scope`: per rule id or `family/*`, which objects the rule judges at admission.
    pub admission_scope: BTreeMap<String, Scope>,
    /// Byte offsets of the `admission.scope` keys.
    pub admission_scope_at: BTreeMap<String, usize>,
    /// `break_glass.allowed`: users and groups whose `quorate.dev/break-glass` annotation lets
    /// a denied admission request through (with a warning, audit annotations and a metric).
    pub break_glass_allowed: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            groups: BTreeMap::new(),
            stabilization_window: DEFAULT_STABILIZATION_WINDOW,
            max_observed_age: DEFAULT_MAX_OBSERVED_AGE,
            gitops_controllers: Vec::new(),
            waivers: Vec::new(),
            admission: AdmissionConfig::default(),
            drift_deny_attributes: Vec::new(),
            exclude: Vec::new(),
            source: None,
            waiver_max_days: DEFAULT_WAIVER_MAX_DAYS,
            severity: BTreeMap::new(),
            severity_at: BTreeMap::new(),
            freezes: Vec::new(),
            break_glass_allowed: Vec::new(),
            admission_scope: BTreeMap::new(),
            admission_scope_at: BTreeMap::new(),
        }
    }
}

/// Parses `90s`, `10m`, `1h30m`, `500ms`, `2d` into seconds (rounded down).
pub fn parse_duration(s: &str) -> Option<u64> {
    parse_duration_ms(s).map(|ms| ms / 1000)
}

/// Parses a duration into milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let mut total_ms: u64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit_ms = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
        any = true;
    }
    (any && num.is_empty()).then_some(total_ms)
}

/// One `freezes:` entry (the schema has checked its shape); bad times, cron expressions and
/// time zones are errors at their line.
fn parse_freeze(
    i: usize,
    f: &Value,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<crate::freeze::Freeze> {
    use crate::freeze::{Freeze, Window};
    let get = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default();
    let name = get("name").to_string();
    let time = |k: &str| -> Result<DateTime<Utc>> {
        let text = get(k);
        crate::sources::parse_time(text).ok_or_else(|| {
            at(
                &format!("/freezes/{i}/{k}"),
                format!("/freezes/{i}/{k}: `{text}` is not an RFC 3339 time (2026-11-27T00:00:00-05:00)"),
            )
        })
    };
    let window = if f.get("cron").is_some() {
        let expression = get("cron").to_string();
        let cron = crate::freeze::parse_cron(&expression).map_err(|why| {
            at(
                &format!("/freezes/{i}/cron"),
                format!("/freezes/{i}/cron: `{expression}`: {why}"),
            )
        })?;
        let zone = f.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
        let tz = crate::freeze::parse_tz(zone).map_err(|why| {
            at(
                &format!("/freezes/{i}/timezone"),
                format!("/freezes/{i}/timezone: `{zone}` is not a time zone ({why})"),
            )
        })?;
        let text = get("duration");
        let secs = parse_duration(text).filter(|s| *s > 0).ok_or_else(|| {
            at(
                &format!("/freezes/{i}/duration"),
                format!("/freezes/{i}/duration: `{text}` is not a duration"),
            )
        })?;
        Window::Cron {
            cron: Box::new(cron),
            expression,
            duration: chrono::Duration::seconds(secs.min(i64::MAX as u64) as i64),
            tz,
        }
    } else {
        let (from, to) = (time("from")?, time("to")?);
        if to <= from {
            return Err(at(
                &format!("/freezes/{i}/to"),
                format!("/freezes/{i}/to is not after `from`"),
            ));
        }
        Window::Range { from, to }
    };
    let labels = string_map(f.get("labels"));
    Ok(Freeze {
        name,
        reason: get("reason").to_string(),
        window,
        groups: strings(f.get("groups")),
        namespaces: strings(f.get("namespaces")),
        labels,
        scale_downs_only: f
            .get("scale_downs_only")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Whether `pattern` (a rule id, or `family/*`) names `rule`.
fn rule_matches(pattern: &str, rule: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(family) => rule.split('/').next() == Some(family),
        None => pattern == rule,
    }
}

/// A per-rule setting: the rule's own entry, else its family's (`family/*`).
fn by_rule<'a, T>(map: &'a BTreeMap<String, T>, rule: &str) -> Option<&'a T> {
    let family = format!("{}/*", rule.split('/').next().unwrap_or(rule));
    map.get(rule).or_else(|| map.get(&family))
}

/// The string values of a YAML/JSON mapping (other values ignored; absent: empty).
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// The strings of a YAML/JSON list (other items ignored; absent: empty).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = crate::sources::parse_time(s) {
        return Some(t);
    }
    // A bare date lasts to the end of that day (UTC).
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    d.and_hms_opt(23, 59, 59).map(|t| t.and_utc())
}

impl Config {
    /// `--config F`, else `quorate.yaml` / `quorate.yml` in the working directory, else defaults.
    pub fn discover(explicit: Option<&str>, limit: u64) -> Result<Config> {
        if let Some(p) = explicit {
            return Config::load(p, limit);
        }
        for name in ["quorate.yaml", "quorate.yml"] {
            if std::path::Path::new(name).is_file() {
                return Config::load(name, limit);
            }
        }
        Ok(Config::default())
    }

    pub fn load(path: &str, limit: u64) -> Result<Config> {
        let src = SourceText::read(path, Stage::Config, limit)?;
        Config::parse(&src)
    }

    pub fn parse(src: &SourceText) -> Result<Config> {
        let mut cfg = Config::parse_only(src)?;
        cfg.source = Some(src.clone());
        Ok(cfg)
    }

    fn parse_only(src: &SourceText) -> Result<Config> {
        let docs = text::parse_yaml(src, Stage::Config)?;
        let doc = match docs.into_iter().next() {
            Some(d) if !d.value.is_null() => d,
            _ => {
                return Ok(Config {
                    path: Some(src.path.clone()),
                    ..Config::default()
                });
            }
        };
        schema::validate(Which::Config, &doc, src, Stage::Config)?;
        let at = |pointer: &str, msg: String| {
            let off = schema::locate(&doc, pointer).unwrap_or(doc.start);
            Error::at(Stage::Config, src, off, msg)
        };
        let v = &doc.value;
        let mut cfg = Config {
            path: Some(src.path.clone()),
            ..Config::default()
        };
        // Every error in one run: collected here, reported together at the end.
        let mut errors: Vec<Error> = Vec::new();
        for (key, slot) in [
            ("stabilization_window", &mut cfg.stabilization_window),
            ("max_observed_age", &mut cfg.max_observed_age),
        ] {
            if let Some(s) = v.get(key).and_then(Value::as_str) {
                match parse_duration(s) {
                    Some(d) => *slot = d,
                    None => errors.push(at(
                        &format!("/{key}"),
                        format!("/{key}: `{s}` is not a duration"),
                    )),
                }
            }
        }
        for (name, g) in v
            .get("groups")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let quorum = match g.get("quorum") {
                Some(Value::String(s)) => crate::sources::parse_quorum(s, "config"),
                Some(Value::Number(n)) => crate::sources::parse_quorum(&n.to_string(), "config"),
                _ => None,
            };
            let aliases = strings(g.get("aliases"));
            cfg.groups
                .insert(name.clone(), GroupConfig { quorum, aliases });
        }
        cfg.gitops_controllers = strings(v.pointer("/gitops/controllers"));
        cfg.drift_deny_attributes = strings(v.pointer("/drift/deny_attributes"));
        cfg.break_glass_allowed = strings(v.pointer("/break_glass/allowed"));
        for (rule, sc) in v
            .pointer("/admission/scope")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let labels = string_map(sc.get("labels"));
            let off = schema::locate(&doc, &format!("/admission/scope/{}", escape_token(rule)))
                .unwrap_or(doc.start);
            cfg.admission_scope_at.insert(rule.clone(), off);
            cfg.admission_scope.insert(
                rule.clone(),
                Scope {
                    namespaces: strings(sc.get("namespaces")),
                    exclude_namespaces: strings(sc.get("exclude_namespaces")),
                    labels,
                },
            );
        }
        if let Some(n) = v.get("waiver_max_days").and_then(Value::as_u64) {
            cfg.waiver_max_days = n;
        }
        for (i, f) in v
            .get("freezes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match parse_freeze(i, f, &at) {
                Ok(fz) => cfg.freezes.push(fz),
                Err(e) => errors.push(e),
            }
        }
        for (rule, level) in v
            .get("severity")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let level = match level.as_str() {
                Some("deny") => Some(crate::model::Severity::Deny),
                Some("warn") => Some(crate::model::Severity::Warn),
                _ => None,
            };
            cfg.severity.insert(rule.clone(), level);
            let off = schema::locate(&doc, &format!("/severity/{}", escape_token(rule)))
                .unwrap_or(doc.start);
            cfg.severity_at.insert(rule.clone(), off);
        }
        cfg.exclude = strings(v.get("exclude"));
        if let Err((i, why)) = crate::paths::Excludes::new(&cfg.exclude) {
            let glob = cfg.exclude.get(i).cloned().unwrap_or_default();
            errors.push(at(
                &format!("/exclude/{i}"),
                format!("/exclude/{i}: `{glob}` is not a glob: {why}"),
            ));
        }
        if v.pointer("/admission/failure_mode").and_then(Value::as_str) == Some("allow") {
            cfg.admission.failure_mode = FailureMode::Allow;
        }
        if v.pointer("/admission/drift_severity")
            .and_then(Value::as_str)
            == Some("warn")
        {
            cfg.admission.drift_severity = crate::model::Severity::Warn;
        }
        for (i, w) in v
            .get("waivers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let get = |k: &str| w.get(k).and_then(Value::as_str).map(String::from);
            let expires_text = get("expires").unwrap_or_default();
            let pointer = format!("/waivers/{i}/expires");
            let Some(expires) = parse_expiry(&expires_text) else {
                errors.push(at(
                    &pointer,
                    format!(
                        "{pointer}: `{expires_text}` is not a date (YYYY-MM-DD) or RFC 3339 time"
                    ),
                ));
                continue;
            };
            let off = schema::locate(&doc, &format!("/waivers/{i}")).unwrap_or(doc.start);
            let expires_offset = schema::locate(&doc, &pointer).unwrap_or(off);
            let (line, _) = src.line_col(off);
            cfg.waivers.push(Waiver {
                rule: get("rule").unwrap_or_default(),
                change: get("change"),
                group: get("group"),
                reason: get("reason").unwrap_or_default(),
                expires,
                expires_text,
                by: get("by").unwrap_or_default(),
                at: format!("{}:{line}", src.path),
                offset: off,
                expires_offset,
            });
        }
        errors.sort_by_key(|e| e.position);
        let mut errors = errors.into_iter();
        match errors.next() {
            Some(first) => Err(first.with_related(errors.collect())),
            None => Ok(cfg),
        }
    }

    /// The config as policies see it: `data.quorate.config`.
    pub fn data(&self) -> Value {
        let groups: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .map(|(k, g)| {
                let quorum = match &g.quorum {
                    Some(q) if q.mode == "majority" => json!("majority"),
                    Some(q) => json!(q.min),
                    None => Value::Null,
                };
                (k.clone(), json!({"quorum": quorum, "aliases": g.aliases}))
            })
            .collect();
        json!({
            "groups": groups,
            "stabilization_window": self.stabilization_window,
            "max_observed_age": self.max_observed_age,
            "gitops": {"controllers": self.gitops_controllers},
            "drift": {"deny_attributes": self.drift_deny_attributes},
            "admission": {
                "failure_mode": match self.admission.failure_mode {
                    FailureMode::Deny => "deny",
                    FailureMode::Allow => "allow",
                },
                "drift_severity": self.admission.drift_severity.as_str(),
            },
        })
    }

    /// Waiver checks that need the rule list and the clock: a waiver for a rule no loaded
    /// policy has, or one that expires further ahead than `waiver_max_days`, is a config error
    /// at its line.
    pub fn check_waivers(&self, rules: &[String], now: DateTime<Utc>) -> Result<()> {
        let at = |offset: usize, msg: String| match &self.source {
            Some(src) => Error::at(Stage::Config, src, offset, msg),
            None => Error::file(Stage::Config, self.path.clone().unwrap_or_default(), msg),
        };
        let suggest = |id: &str| {
            rules
                .iter()
                .map(|r| (strsim::jaro_winkler(r, id), r))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(
                    || "`quorate rules` lists the rule ids".to_string(),
                    |(_, r)| format!("did you mean `{r}`?"),
                )
        };
        for (id, offset) in self.severity_at.iter().chain(&self.admission_scope_at) {
            let known = rules.iter().any(|r| rule_matches(id, r));
            if !known {
                return Err(at(
                    *offset,
                    format!("`{id}` names a rule that no loaded policy has"),
                )
                .with_help(suggest(id)));
            }
        }
        for w in &self.waivers {
            let known = rules.iter().any(|r| rule_matches(&w.rule, r));
            if !known {
                let mut e = at(
                    w.offset,
                    format!("waiver for `{}`, a rule that no loaded policy has", w.rule),
                );
                let best = rules
                    .iter()
                    .map(|r| (strsim::jaro_winkler(r, &w.rule), r))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                e = match best {
                    Some((_, r)) => e.with_help(format!("did you mean `{r}`?")),
                    None => e.with_help("`quorate rules` lists the rule ids"),
                };
                return Err(e);
            }
            let limit = now + chrono::Duration::days(self.waiver_max_days.min(36_500) as i64);
            if w.expires > limit {
                return Err(at(
                    w.expires_offset,
                    format!(
                        "waiver for `{}` expires {}, more than waiver_max_days ({}) from now",
                        w.rule, w.expires_text, self.waiver_max_days
                    ),
                )
                .with_help(
                    "waivers are for a while: renew one when it runs out, or raise waiver_max_days",
                ));
            }
        }
        Ok(())
    }

    /// The admission scope of a rule: its own entry, else its family's.
    pub fn scope_of(&self, rule: &str) -> Option<&Scope> {
        by_rule(&self.admission_scope, rule)
    }

    /// The severity a finding of `rule` at `severity` has under `severity:` (the rule's own
    /// entry, else its family's); `None` when the rule is turned off.
    pub fn severity_of(
        &self,
        rule: &str,
        severity: crate::model::Severity,
    ) -> Option<crate::model::Severity> {
        match by_rule(&self.severity, rule) {
            Some(level) => *level,
            None => Some(severity),
        }
    }

    pub fn aliases(&self) -> BTreeMap<String, Vec<String>> {
        self.groups
            .iter()
            .filter(|(_, g)| !g.aliases.is_empty())
            .map(|(k, g)| (k.clone(), g.aliases.clone()))
            .collect()
    }
}

/// Pointer of a config key, for messages.
pub fn pointer(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| format!("/{}", escape_token(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("1500ms"), Some(1));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let src = SourceText::new(
            "quorate.yaml",
            "groups:\n  search-prod:\n    quorum: majority\n    qourum_typo: 3\n",
        );
        let err = Config::parse(&src).unwrap_err();
        assert_eq!(err.position, Some((4, 5)), "{err}");
        assert!(err.to_string().contains("qourum_typo"), "{err}");
    }

    #[test]
    fn bad_quorum_value_points_at_value() {
        let src = SourceText::new("q.yaml", "groups:\n  a:\n    quorum: most\n");
        let err = Config::parse(&src).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(3), "{err}");
    }

    #[test]
    fn exclude_globs_are_checked_at_their_line() {
        let src = SourceText::new("q.yaml", "exclude:\n  - charts/**\n  - k8s/[bad\n");
        let err = Config::parse(&src).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(3), "{err}");
        let ok = Config::parse(&SourceText::new("q.yaml", "exclude: [charts/**]\n")).unwrap();
        assert_eq!(ok.exclude, ["charts/**"]);
    }

    #[test]
    fn waivers_match_rule_family_and_change() {
        let src = SourceText::new(
            "q.yaml",
            "waivers:\n  - rule: unstable/*\n    change: a.b\n    reason: r\n    expires: 2030-01-01\n    by: me\n",
        );
        let cfg = Config::parse(&src).unwrap();
        let w = &cfg.waivers[0];
        assert!(w.matches("unstable/rollout-in-progress", Some("a.b"), None));
        assert!(!w.matches("quorum/below-quorum", Some("a.b"), None));
        assert!(!w.matches("unstable/rollout-in-progress", Some("c.d"), None));
        assert_eq!(w.at, "q.yaml:2");
    }
}
