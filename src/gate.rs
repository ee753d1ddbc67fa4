//! `quorate gate`: re-read live state every poll and re-evaluate; wait while only findings
//! that waiting can clear block (the `unstable/` family), fail at once on any other, run the
//! command when nothing blocks. Time comes from a [`Clock`] so tests drive it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::check::{self, CheckOptions};
use crate::config::Config;
use crate::error::{Error, Result, Stage};
use crate::model::{ChangeSet, Finding, Health, MemberState, Report, Severity};
use crate::sources::Inputs;

/// The rule family whose findings waiting can clear.
pub const WAITABLE_FAMILY: &str = "unstable/";

/// Where "now" comes from. `File` holds an RFC 3339 time that is "now"; sleeping advances it
/// instead of sleeping, so a test (and the fake services it runs, reading the same file) see
/// minutes pass in milliseconds. The stabilization window is judged on the same clock.
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    File(PathBuf),
}

impl Clock {
    pub fn now(&self) -> Result<DateTime<Utc>> {
        match self {
            Clock::System => Ok(Utc::now()),
            Clock::File(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::file(Stage::Usage, &shown, format!("cannot read: {e}")))?;
                crate::sources::parse_time(&text).ok_or_else(|| {
                    Error::file(
                        Stage::Usage,
                        &shown,
                        format!("`{}` is not an RFC 3339 time", text.trim()),
                    )
                })
            }
        }
    }

    pub fn sleep(&self, d: Duration) -> Result<()> {
        match self {
            Clock::System => {
                std::thread::sleep(d);
                Ok(())
            }
            Clock::File(path) => {
                let later =
                    self.now()? + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
                std::fs::write(path, rfc3339(later)).map_err(|e| {
                    Error::file(
                        Stage::Usage,
                        path.display().to_string(),
                        format!("cannot write: {e}"),
                    )
                })
            }
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Clone)]
pub struct GateOptions {
    pub check: CheckOptions,
    pub wait: Duration,
    pub poll: Duration,
    /// The command after `--`; empty: exit 0 when nothing blocks.
    pub command: Vec<String>,
    pub record: Option<PathBuf>,
    pub clock: Clock,
    /// `--fail-on`: findings at or above it block (`None`: nothing blocks).
    pub fail_on: Option<Severity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing blocks: the command ran (or there was none).
    Go,
    /// A finding waiting cannot clear: failed at once.
    Blocked,
    /// Still unstable at the deadline.
    Deadline,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Go => "go",
            Decision::Blocked => "blocked",
            Decision::Deadline => "deadline",
        }
    }
}

/// One poll that decided to wait: what for, and how long is left.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub at: DateTime<Utc>,
    pub waited: Duration,
    pub wait: Duration,
    pub next_poll: Duration,
    /// One line per group: `search-prod: 3 members Terminating:Wait; 4m12s of the 10m
    /// stabilization window left`.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CommandRun {
    pub argv: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The exit code (128 + signal when a signal ended it).
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub decision: Decision,
    pub reason: String,
    pub report: Report,
    pub set: ChangeSet,
    pub polls: usize,
    pub started_at: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    /// What the last waiting poll waited for (empty when it never waited).
    pub waited_for: Vec<String>,
    pub command: Option<CommandRun>,
    /// sha256 of every file read: (path, hex digest).
    pub input_hashes: Vec<(String, String)>,
}

fn blocking(report: &Report, fail_on: Option<Severity>) -> Vec<&Finding> {
    match fail_on {
        Some(at) => report
            .findings
            .iter()
            .filter(|f| f.severity >= at)
            .collect(),
        None => Vec::new(),
    }
}

pub fn waitable(f: &Finding) -> bool {
    f.rule.starts_with(WAITABLE_FAMILY)
}

/// `4m12s`, `10m`, `1h5m`, `45s`.
pub fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// What a group waits for, in words, from the observed state the findings were judged on.
fn group_status(
    name: &str,
    set: &ChangeSet,
    config: &Config,
    now: DateTime<Utc>,
    rules: &[&str],
) -> String {
    let Some(g) = set.observed.groups.get(name) else {
        return format!("{name}: {}", rules.join(", "));
    };
    let mut states: Vec<(String, usize)> = Vec::new();
    for m in &g.members {
        if matches!(
            m.state,
            MemberState::Pending | MemberState::Terminating | MemberState::Stopping
        ) {
            match states.iter_mut().find(|(raw, _)| *raw == m.raw_state) {
                Some((_, n)) => *n += 1,
                None => states.push((m.raw_state.clone(), 1)),
            }
        }
    }
    let mut now_parts: Vec<String> = states
        .iter()
        .map(|(raw, n)| format!("{n} member{} {raw}", if *n == 1 { "" } else { "s" }))
        .collect();
    now_parts.extend(g.activities.iter().map(|a| a.detail.clone()));
    if matches!(g.health, Health::Yellow | Health::Red) {
        let h = if g.health == Health::Yellow {
            "yellow"
        } else {
            "red"
        };
        now_parts.push(format!("health {h}"));
    }
    let mut parts = Vec::new();
    if !now_parts.is_empty() {
        parts.push(now_parts.join(", "));
    }
    let window = config.stabilization_window;
    if let Some(last) = g
        .last_change
        .as_deref()
        .and_then(crate::sources::parse_time)
    {
        let age = (now - last).num_seconds().max(0) as u64;
        if age < window {
            parts.push(format!(
                "{} of the {} stabilization window left",
                human(window - age),
                human(window)
            ));
        }
    }
    let taken = g
        .taken_at
        .as_deref()
        .or(set.observed.taken_at.as_deref())
        .and_then(crate::sources::parse_time);
    if let Some(t) = taken {
        let age = (now - t).num_seconds().max(0) as u64;
        if age > config.max_observed_age {
            parts.push(format!("observation {} old", human(age)));
        }
    }
    if parts.is_empty() {
        parts.push(rules.join(", "));
    }
    format!("{name}: {}", parts.join("; "))
}

fn waiting_for(
    findings: &[&Finding],
    set: &ChangeSet,
    config: &Config,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for f in findings {
        let name = f
            .group
            .clone()
            .or_else(|| f.change.clone())
            .unwrap_or_else(|| "-".into());
        match groups.iter_mut().find(|(g, _)| *g == name) {
            Some((_, rules)) => {
                if !rules.contains(&f.rule.as_str()) {
                    rules.push(&f.rule)
                }
            }
            None => groups.push((name, vec![&f.rule])),
        }
    }
    groups
        .iter()
        .map(|(g, rules)| group_status(g, set, config, now, rules))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_file(path: &Path, out: &mut Vec<(String, String)>) {
    let shown = path.display().to_string();
    if out.iter().any(|(p, _)| *p == shown) {
        return;
    }
    if let Ok(bytes) = std::fs::read(path) {
        out.push((shown, sha256_hex(&bytes)));
    }
}

/// Every file the decision was made on: changes, observed files, config, policies.
fn input_hashes(opts: &CheckOptions, inputs: &Inputs, config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in inputs.sources.keys() {
        let p = Path::new(path);
        if p.is_file() {
            hash_file(p, &mut out);
        }
    }
    if let Some(path) = &config.path {
        hash_file(Path::new(path), &mut out);
    }
    for policy in &opts.policies {
        let p = Path::new(policy);
        if p.is_dir() {
            if let Ok(walked) = crate::paths::walk(p, &|_| false) {
                for f in walked.files {
                    hash_file(Path::new(&f), &mut out);
                }
            }
        } else {
            hash_file(p, &mut out);
        }
    }
    out
}

/// What the gate tells its caller while it runs (the CLI shows it on stderr).
pub trait Watcher {
    /// A poll decided to wait.
    fn waiting(&mut self, w: &Waiting);
    /// Nothing blocks; `command` (if any) starts next.
    fn going(&mut self, reason: &str, command: &[String]);
}

/// Runs the gate, telling `watcher` about each poll that waits and the go.
pub fn run(opts: &GateOptions, watcher: &mut dyn Watcher) -> Result<Outcome> {
    if opts.check.now.is_some() {
        return Err(Error::usage(
            "quorate gate reads the clock on every poll: --now does not apply",
        ));
    }
    if opts.poll.is_zero() {
        return Err(Error::usage("--poll must be longer than 0s"));
    }
    let config = Config::discover(opts.check.config.as_deref(), opts.check.max_input_bytes)?;
    let policies = check::load_policies(&opts.check, &config)?;
    let started_at = opts.clock.now()?;
    let deadline = started_at + chrono::Duration::from_std(opts.wait).unwrap_or_default();
    let mut polls = 0;
    let mut waited_for = Vec::new();
    loop {
        let now = opts.clock.now()?;
        let mut copts = opts.check.clone();
        copts.now = Some(rfc3339(now));
        let (set, inputs, config) =
            check::build_input_with(&copts, config.clone(), policies.has_conftest())?;
        let report = check::evaluate(&set, &inputs, &config, &policies)?;
        polls += 1;
        let blocks = blocking(&report, opts.fail_on);
        let (wait_on, hard): (Vec<&Finding>, Vec<&Finding>) =
            blocks.iter().partition(|f| waitable(f));
        let outcome = |decision, reason: String, waited_for: Vec<String>| Outcome {
            decision,
            reason,
            report: report.clone(),
            set: set.clone(),
            polls,
            started_at,
            decided_at: now,
            waited_for,
            command: None,
            input_hashes: input_hashes(&copts, &inputs, &config),
        };
        if !hard.is_empty() {
            let mut rules: Vec<&str> = hard.iter().map(|f| f.rule.as_str()).collect();
            rules.dedup();
            let reason = format!(
                "{} finding{} that waiting cannot clear ({})",
                hard.len(),
                if hard.len() == 1 { "" } else { "s" },
                rules.join(", ")
            );
            let out = outcome(Decision::Blocked, reason, waited_for);
            write_record(opts, &out)?;
            return Ok(out);
        }
        if wait_on.is_empty() {
            let reason = if polls == 1 {
                "nothing blocks".to_string()
            } else {
                format!(
                    "stable after {}",
                    human((now - started_at).num_seconds().max(0) as u64)
                )
            };
            let mut out = outcome(Decision::Go, reason, waited_for);
            watcher.going(&out.reason, &opts.command);
            if !opts.command.is_empty() {
                run_command(opts, &mut out)?;
            } else {
                write_record(opts, &out)?;
            }
            return Ok(out);
        }
        let lines = waiting_for(&wait_on, &set, &config, now);
        if now >= deadline {
            let reason = format!(
                "still waiting after {}: {}",
                human(opts.wait.as_secs()),
                lines.join("; ")
            );
            let out = outcome(Decision::Deadline, reason, lines);
            write_record(opts, &out)?;
            return Ok(out);
        }
        let left = (deadline - now).to_std().unwrap_or_default();
        let next = opts.poll.min(left);
        watcher.waiting(&Waiting {
            at: now,
            waited: (now - started_at).to_std().unwrap_or_default(),
            wait: opts.wait,
            next_poll: next,
            groups: lines.clone(),
        });
        waited_for = lines;
        opts.clock.sleep(next)?;
    }
}

fn run_command(opts: &GateOptions, out: &mut Outcome) -> Result<()> {
    let Some((program, args)) = opts.command.split_first() else {
        return Ok(());
    };
    let started_at = opts.clock.now()?;
    out.command = Some(CommandRun {
        argv: opts.command.clone(),
        started_at,
        finished_at: None,
        exit_code: None,
    });
    // Recorded before it starts: an audit sees the command started even if this process dies.
    write_record(opts, out)?;
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .map_err(|e| {
            Error::usage(format!("cannot run `{}`: {e}", opts.command.join(" ")))
                .with_help("the command after `--` is run as given, without a shell")
        })?;
    let code = status
        .code()
        .or_else(|| signal_of(&status).map(|s| 128 + s));
    if let Some(cmd) = &mut out.command {
        cmd.finished_at = Some(opts.clock.now()?);
        cmd.exit_code = code;
    }
    write_record(opts, out)
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal_of(_status: &std::process::ExitStatus) -> Option<i32> {
    None
}

/// The findings and summary as `--format json` prints them.
fn report_json(report: &Report) -> Value {
    let mut buf = Vec::new();
    let opts = crate::report::RenderOptions {
        color: false,
        fail_on: Some(Severity::Deny),
    };
    if crate::report::render_with(report, crate::report::Format::Json, &opts, &mut buf).is_err() {
        return Value::Null;
    }
    serde_json::from_slice(&buf).unwrap_or(Value::Null)
}

/// `--format json`: the final decision.
pub fn decision_json(out: &Outcome) -> Value {
    let report = report_json(&out.report);
    json!({
        "version": 1,
        "decision": out.decision.as_str(),
        "reason": out.reason,
        "started_at": rfc3339(out.started_at),
        "decided_at": rfc3339(out.decided_at),
        "waited_seconds": (out.decided_at - out.started_at).num_seconds().max(0),
        "polls": out.polls,
        "waited_for": out.waited_for,
        "findings": report.get("findings").cloned().unwrap_or(Value::Array(Vec::new())),
        "summary": report.get("summary").cloned().unwrap_or(Value::Null),
        "command": out.command.as_ref().map(|c| json!({
            "argv": c.argv,
            "started_at": rfc3339(c.started_at),
            "finished_at": c.finished_at.map(rfc3339),
            "exit_code": c.exit_code,
        })),
    })
}

/// `--record FILE`: the decision with what it was made on (inputs' hashes, the observations).
pub fn record_json(out: &Outcome) -> Value {
    let mut v = decision_json(out);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "tool".into(),
            Value::String(format!("quorate {}", env!("CARGO_PKG_VERSION"))),
        );
        o.insert(
            "inputs".into(),
            out.input_hashes
                .iter()
                .map(|(path, sha)| json!({"path": path, "sha256": sha}))
                .collect(),
        );
        o.insert(
            "observed".into(),
            serde_json::to_value(&out.set.observed).unwrap_or(Value::Null),
        );
        o.insert(
            "changes".into(),
            out.set
                .changes
                .iter()
                .map(|c| json!({"id": c.id, "group": c.group, "action": c.action, "capacity": c.capacity}))
                .collect(),
        );
    }
    v
}

fn write_record(opts: &GateOptions, out: &Outcome) -> Result<()> {
    let Some(path) = &opts.record else {
        return Ok(());
    };
    let text = serde_json::to_string_pretty(&record_json(out))
        .map_err(|e| Error::usage(format!("record does not serialize: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|e| {
        Error::file(
            Stage::Output,
            path.display().to_string(),
            format!("cannot write the decision record: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_progress_line() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(600), "10m");
        assert_eq!(human(252), "4m12s");
        assert_eq!(human(3900), "1h5m");
    }

    #[test]
    fn the_file_clock_advances_instead_of_sleeping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "2026-11-24T10:00:00Z\n").unwrap();
        let clock = Clock::File(path.clone());
        clock.sleep(Duration::from_secs(90)).unwrap();
        assert_eq!(rfc3339(clock.now().unwrap()), "2026-11-24T10:01:30Z");
        std::fs::write(&path, "soon").unwrap();
        let err = clock.now().unwrap_err().to_string();
        assert!(err.contains("`soon` is not an RFC 3339 time"), "{err}");
    }
}
