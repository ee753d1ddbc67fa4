//! `quorate gate`: the outage replayed against moto with time injected (a clock file the gate
//! reads as "now" and advances instead of sleeping; the fake AWS answers read it too).
//! Three members terminating -> it waits; they finish and the stabilization window passes ->
//! it runs the command; a quorum denial -> exit 1 at once; still unstable at the deadline ->
//! exit 1.
#![cfg(feature = "aws")]

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::common::aws::{self, Call, Moto, Proxy};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

const T0: &str = "2026-11-24T10:00:00Z";

fn at(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t.trim())
        .unwrap()
        .with_timezone(&Utc)
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now(clock: &Path) -> DateTime<Utc> {
    at(&std::fs::read_to_string(clock).unwrap())
}

/// The hand termination of the outage: `victims` are Terminating (two held in a lifecycle
/// hook, as AWS reports them) until `done`; then moto terminates them for real, replaces them,
/// and the scaling activity has ended at `done`.
fn outage_rule(moto: u16, clock: PathBuf, victims: Vec<String>, done: DateTime<Utc>) -> aws::Rule {
    let terminated = Arc::new(Mutex::new(false));
    Arc::new(move |c: &Call| {
        let now = now(&clock);
        let started = fmt(at(T0) - Duration::minutes(1));
        let what = format!("Terminating EC2 instance: {}", victims.join(", "));
        match c.action.as_str() {
            "DescribeInstanceRefreshes" => Some((200, aws::refreshes_xml(""))),
            "DescribeScalingActivities" if now < done => Some((
                200,
                aws::activities_xml(&aws::activity_member(
                    "search-prod",
                    "InProgress",
                    &started,
                    None,
                    &what,
                )),
            )),
            "DescribeScalingActivities" => Some((
                200,
                aws::activities_xml(&aws::activity_member(
                    "search-prod",
                    "Successful",
                    &started,
                    Some(&fmt(done)),
                    &what,
                )),
            )),
            "DescribeAutoScalingGroups" if now < done => {
                let states = [
                    (victims[0].as_str(), "Terminating:Wait", "Unhealthy"),
                    (victims[1].as_str(), "Terminating:Wait", "Unhealthy"),
                    (victims[2].as_str(), "Terminating", "Unhealthy"),
                ];
                Some((
                    200,
                    aws::with_states(&aws::ask_moto(moto, &c.body), &states),
                ))
            }
            "DescribeAutoScalingGroups" => {
                let mut t = terminated.lock().unwrap();
                if !*t {
                    for v in &victims {
                        aws::world(moto, &["terminate", v]);
                    }
                    *t = true;
                }
                None
            }
            _ => None,
        }
    })
}

struct Replay {
    _moto: Moto,
    proxy: Proxy,
    dir: tempfile::TempDir,
    clock: PathBuf,
    victims: Vec<String>,
}

/// moto with search-prod at 6 instances, three of them going away until `done_after`.
fn replay(done_after: Duration, plan: &str, config: &str) -> Option<Replay> {
    let moto = Moto::start()?;
    moto.world(&["group", "search-prod", "6"]);
    let victims: Vec<String> = moto.instance_ids("search-prod")[..3].to_vec();
    for v in &victims {
        moto.world(&["unhealthy", v]);
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, T0).unwrap();
    std::fs::write(dir.path().join("plan.json"), plan).unwrap();
    std::fs::write(dir.path().join("quorate.yaml"), config).unwrap();
    let rule = outage_rule(
        moto.port,
        clock.clone(),
        victims.clone(),
        at(T0) + done_after,
    );
    let proxy = Proxy::start(Some(moto.port), rule);
    Some(Replay {
        _moto: moto,
        proxy,
        dir,
        clock,
        victims,
    })
}

/// The fixed workflow: desired 6 committed, the next step lowers it by one; the group needs
/// 2 serving members.
const SAFE_CONFIG: &str = "groups:\n  search-prod:\n    quorum: 2\nstabilization_window: 10m\n";

fn safe_plan() -> String {
    aws::asg_plan(&[("search", "search-prod", 6, 5)])
}

/// `quorate gate plan.json --observe aws` on the replay's clock, then `args`, through `run`
/// (`aws::run_quorate`, or `aws::run_quorate_in_pty` for a terminal).
fn gate_by(
    r: &Replay,
    args: &[&str],
    run: aws::Runner,
    env: &[(&str, &str)],
) -> std::process::Output {
    let clock = r.clock.display().to_string();
    let mut all = vec![
        "gate",
        "plan.json",
        "--observe",
        "aws",
        "--clock-file",
        &clock,
    ];
    all.extend_from_slice(args);
    run(r.dir.path(), &r.proxy.url(), &all, env)
}

fn gate(r: &Replay, args: &[&str]) -> std::process::Output {
    gate_by(r, args, aws::run_quorate, &[])
}

fn sha256(path: &Path) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, &std::fs::read(path).unwrap());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn gate_waits_out_the_terminations_and_the_window_then_runs_the_command() {
    let Some(r) = replay(Duration::minutes(3), &safe_plan(), SAFE_CONFIG) else {
        return;
    };
    let out = gate(
        &r,
        &[
            "--wait",
            "30m",
            "--poll",
            "1m",
            "--record",
            "record.json",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo applied > applied.txt; exit 3",
        ],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 3, "the command's exit code\n{err}");
    assert!(r.dir.path().join("applied.txt").exists(), "{err}");
    // Terminations end at +3m, the window (10m) at +13m: the command runs at the first poll
    // after it.
    assert_eq!(now(&r.clock), at(T0) + Duration::minutes(13));

    // Not a terminal: one plain line per poll that waited, saying what for and how long.
    let waits: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("quorate gate: waiting"))
        .collect();
    assert_eq!(waits.len(), 13, "{err}");
    assert_eq!(
        waits[0],
        format!(
            "quorate gate: waiting 0s of 30m (next look in 1m): search-prod: 2 members Terminating:Wait, 1 member Terminating, scaling activity InProgress: Terminating EC2 instance: {}; 9m of the 10m stabilization window left",
            r.victims.join(", ")
        )
    );
    assert_eq!(
        waits[3],
        "quorate gate: waiting 3m of 30m (next look in 1m): search-prod: 10m of the 10m stabilization window left"
    );
    assert_eq!(
        waits[12],
        "quorate gate: waiting 12m of 30m (next look in 1m): search-prod: 1m of the 10m stabilization window left"
    );
    assert!(
        err.contains("quorate gate: go: stable after 13m; running sh -c"),
        "{err}"
    );

    let decision: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(decision["decision"], "go");
    assert_eq!(decision["polls"], 14);
    assert_eq!(decision["waited_seconds"], 13 * 60);
    assert_eq!(decision["findings"], serde_json::json!([]));
    assert_eq!(decision["command"]["exit_code"], 3);
    assert_eq!(decision["command"]["started_at"], "2026-11-24T10:13:00Z");

    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(r.dir.path().join("record.json")).unwrap())
            .unwrap();
    assert_eq!(record["decision"], "go");
    assert_eq!(record["command"]["exit_code"], 3);
    assert_eq!(
        record["command"]["argv"],
        serde_json::json!(["sh", "-c", "echo applied > applied.txt; exit 3"])
    );
    let inputs = record["inputs"].as_array().unwrap();
    let plan = inputs
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("plan.json"))
        .expect("the plan's hash is recorded");
    assert_eq!(plan["sha256"], sha256(&r.dir.path().join("plan.json")));
    assert!(inputs
        .iter()
        .any(|i| i["path"].as_str().unwrap().ends_with("quorate.yaml")));
    // The observation the go was given on: six serving members, none of the victims.
    let g = &record["observed"]["groups"]["search-prod"];
    assert_eq!(g["taken_at"], "2026-11-24T10:13:00Z");
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 6);
    assert!(members
        .iter()
        .all(|m| m["raw_state"] == "InService" && m["healthy"] == true));
    assert!(members
        .iter()
        .all(|m| !r.victims.contains(&m["id"].as_str().unwrap().to_string())));
}

#[test]
fn gate_shows_its_wait_in_place_on_a_terminal() {
    let Some(r) = replay(Duration::minutes(3), &safe_plan(), SAFE_CONFIG) else {
        return;
    };
    let out = gate_by(
        &r,
        &[
            "--wait",
            "30m",
            "--poll",
            "1m",
            "--",
            "sh",
            "-c",
            "echo applied > applied.txt",
        ],
        aws::run_quorate_in_pty,
        &[("TERM", "xterm-256color")],
    );
    let drawn = common::stdout(&out);
    // The tail of what was drawn, escaped, for the failure messages (a redraw per tick).
    let tail: String = drawn
        .chars()
        .rev()
        .take(1500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let shown = format!("{} bytes drawn, ending {tail:?}", drawn.len());
    assert_eq!(common::code(&out), 0, "{shown}");
    assert!(r.dir.path().join("applied.txt").exists(), "{shown}");
    // What it waits for, drawn on the terminal: the first look, with the members and the
    // window, then each later look.
    assert!(
        drawn.contains("waiting 0s of 30m (next look in 1m)"),
        "{shown}"
    );
    assert!(
        drawn.contains("search-prod: 2 members Terminating:Wait, 1 member Terminating"),
        "{shown}"
    );
    assert!(
        drawn.contains("waiting 12m of 30m (next look in 1m)"),
        "{shown}"
    );
    assert!(
        drawn.contains("search-prod: 1m of the 10m stabilization window left"),
        "{shown}"
    );
    // Redrawn in place: lines erased and the cursor moved back up, never a line per poll.
    assert!(drawn.contains("\x1b[2K"), "no line is erased: {shown}");
    assert!(
        drawn.contains("\x1b[1A"),
        "the cursor never goes back up: {shown}"
    );
    assert!(
        !drawn.contains("quorate gate: waiting"),
        "a plain line per poll on a terminal: {shown}"
    );
    // The wait is cleared; the decision stays, as the last line on the terminal.
    let last = drawn
        .trim_end()
        .rsplit(['\r', '\n'])
        .next()
        .unwrap_or_default();
    assert_eq!(
        without_escapes(last),
        "quorate gate: go: stable after 13m; running sh -c echo applied > applied.txt",
        "{shown}"
    );
}

/// Text without its ANSI CSI sequences (`ESC [ params final`).
fn without_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn gate_fails_at_once_on_the_outage_plan_quorum_denial() {
    let outage = common::root().join("testdata/scenarios/search-cluster-outage");
    let plan = std::fs::read_to_string(outage.join("plan.json")).unwrap();
    let config = std::fs::read_to_string(outage.join("quorate.yaml")).unwrap();
    let Some(r) = replay(Duration::minutes(3), &plan, &config) else {
        return;
    };
    let out = gate(
        &r,
        &[
            "--wait",
            "30m",
            "--poll",
            "1m",
            "--format",
            "json",
            "--record",
            "record.json",
            "--",
            "sh",
            "-c",
            "touch applied.txt",
        ],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 1, "{err}");
    assert!(!r.dir.path().join("applied.txt").exists());
    assert_eq!(now(&r.clock), at(T0), "no time passed: it did not wait");
    assert!(!err.contains("waiting"), "{err}");
    assert_eq!(r.proxy.count("DescribeAutoScalingGroups"), 1);
    let decision: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(decision["decision"], "blocked");
    assert_eq!(decision["polls"], 1);
    assert_eq!(decision["command"], Value::Null);
    let rules: Vec<&str> = decision["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "drift/change-on-drifted-resource",
        "quorum/below-quorum",
        "unstable/members-in-transition",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    assert!(
        decision["reason"]
            .as_str()
            .unwrap()
            .contains("that waiting cannot clear"),
        "{decision:#}"
    );
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(r.dir.path().join("record.json")).unwrap())
            .unwrap();
    assert_eq!(record["decision"], "blocked");
    let g = &record["observed"]["groups"]["search-prod"];
    assert_eq!(
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] == "terminating")
            .count(),
        3
    );
}

#[test]
fn gate_gives_up_at_the_deadline_with_the_last_report() {
    let Some(r) = replay(Duration::hours(2), &safe_plan(), SAFE_CONFIG) else {
        return;
    };
    let out = gate(
        &r,
        &[
            "--wait",
            "5m",
            "--poll",
            "2m",
            "--",
            "sh",
            "-c",
            "touch applied.txt",
        ],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 1, "{err}");
    assert!(!r.dir.path().join("applied.txt").exists());
    // Polls at 0, 2m, 4m, then the last look at the deadline (5m).
    assert_eq!(now(&r.clock), at(T0) + Duration::minutes(5));
    let waits = err
        .lines()
        .filter(|l| l.starts_with("quorate gate: waiting"))
        .count();
    assert_eq!(waits, 3, "{err}");
    assert!(
        err.contains("waiting 4m of 5m (next look in 1m)"),
        "the last wait is cut to the deadline\n{err}"
    );
    assert!(
        err.contains("quorate gate: deadline: still waiting after 5m: search-prod: 2 members Terminating:Wait, 1 member Terminating"),
        "{err}"
    );
    let report = common::stdout(&out);
    assert!(
        report.contains("unstable/members-in-transition"),
        "{report}"
    );
}

#[test]
fn gate_without_a_command_exits_0_when_nothing_blocks() {
    let Some(r) = replay(Duration::zero(), &safe_plan(), SAFE_CONFIG) else {
        return;
    };
    // Terminations ended at T0: the window runs to T0+10m; start the clock after it.
    std::fs::write(&r.clock, "2026-11-24T10:10:00Z").unwrap();
    let out = gate(&r, &["--wait", "1m"]);
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 0, "{err}");
    assert!(err.contains("quorate gate: go: nothing blocks"), "{err}");
    assert_eq!(common::stdout(&out), "");
}

#[test]
fn gate_refuses_now_and_bad_durations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), safe_plan()).unwrap();
    for (args, want) in [
        (
            vec!["gate", "plan.json", "--now", T0],
            "--now does not apply",
        ),
        (
            vec!["gate", "plan.json", "--wait", "soon"],
            "--wait `soon` is not a duration",
        ),
        (
            vec!["gate", "plan.json", "--poll", "0s"],
            "--poll must be longer than 0s",
        ),
        (
            vec!["gate", "plan.json", "--format", "sarif"],
            "human text or --format json",
        ),
    ] {
        let out = common::run_in(dir.path(), &args);
        assert_eq!(common::code(&out), 2, "{args:?}");
        assert!(
            common::stderr(&out).contains(want),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
}
