//! Large-plan benchmark: `cargo bench --bench large_plan`.
//!
//! Generates a realistic `terraform show -json` plan with 10,000 resource changes (mixed types
//! and actions, ~1,000 `resource_drift` entries), a matching
//! `aws autoscaling describe-auto-scaling-groups` file and a quorate.yaml, then times the
//! release binary against `jq -c . plan.json` on the same file and reports peak RSS.
//! Target from the issue: quorate at most 3x jq.
//!
//! Environment:
//! - `QUORATE_BENCH_RUNS`        timed runs per command (default 5, after one warm-up run)
//! - `QUORATE_BENCH_CHANGES`     resource changes to generate (default 10000; drift is a tenth)
//! - `QUORATE_BENCH_SEED`        PRNG seed (default fixed, so runs are reproducible)
//! - `QUORATE_BENCH_BIN`         use this quorate binary instead of building one
//! - `QUORATE_BENCH_EXTRA_ARGS`  extra arguments for `quorate check` (e.g. `--timeout 60s`)
//! - `QUORATE_BENCH_RSS=poll`    force the /proc polling RSS method even if GNU time exists
//! - `QUORATE_BENCH_KEEP=1`      keep the generated files (the directory is printed)
//!
//! Exit status: 0 whatever the ratio; non-zero only if generation, the build or quorate failed
//! (exit 2, e.g. the default 10 s policy time limit; see `QUORATE_BENCH_EXTRA_ARGS`).
//! Without `--bench` (i.e. under `cargo test --all-targets`) it does nothing.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

#[path = "common/gen.rs"]
mod gen;
use gen::{build_config, build_observed, build_plan, generate, Rng};

/// Fixed evaluation time; the observed file's mtime is set 90 s before it.
const NOW: &str = "2026-11-24T10:00:00Z";
/// 2026-11-24T09:58:30Z as Unix seconds: when asg.json was "captured".
const OBSERVED_AT_UNIX: u64 = 1_795_514_310;
const TARGET_RATIO: f64 = 3.0;

#[path = "common/harness.rs"]
mod harness;

fn main() -> ExitCode {
    harness::bench_main("large_plan", run)
}

// ------------------------------------------------------------------------------------------
// Measurement

#[derive(Clone)]
enum RssMethod {
    /// GNU time's `%M` (the child's ru_maxrss from wait4).
    GnuTime(PathBuf),
    /// Poll /proc/<pid>/status (VmHWM, VmRSS) every 5 ms until the child exits.
    ProcPoll,
}

impl RssMethod {
    fn describe(&self) -> String {
        match self {
            RssMethod::GnuTime(p) => format!("{} -f \"%e %M\" (ru_maxrss of the child via wait4)", p.display()),
            RssMethod::ProcPoll => "polling /proc/<pid>/status VmHWM/VmRSS every 5 ms (may miss a peak in the last 5 ms)".into(),
        }
    }
}

fn detect_rss_method(scratch: &Path) -> RssMethod {
    let forced_poll = std::env::var("QUORATE_BENCH_RSS").is_ok_and(|v| v == "poll");
    let time = PathBuf::from("/usr/bin/time");
    if !forced_poll && time.is_file() {
        let out = scratch.join("time-probe.txt");
        let ok = Command::new(&time)
            .args(["-f", "%e %M", "-o"])
            .arg(&out)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let parsed = fs::read_to_string(&out)
            .ok()
            .and_then(|t| parse_time_output(&t))
            .is_some();
        if ok && parsed {
            return RssMethod::GnuTime(time);
        }
        println!(
            "note: /usr/bin/time is not GNU time (apt-get install time); polling /proc instead"
        );
    } else if !forced_poll {
        println!(
            "note: /usr/bin/time not found (apt-get install time); polling /proc for peak RSS"
        );
    }
    RssMethod::ProcPoll
}

/// Last line of GNU time's output: `%e %M` (it may be preceded by "Command exited with ...").
fn parse_time_output(text: &str) -> Option<(f64, u64)> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = line.split_whitespace();
    let secs = parts.next()?.parse().ok()?;
    let kb = parts.next()?.parse().ok()?;
    Some((secs, kb))
}

struct Sample {
    wall: Duration,
    rss_kb: Option<u64>,
    code: Option<i32>,
    stderr: String,
}

fn proc_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut best = None;
    for line in status.lines() {
        if let Some(rest) = line
            .strip_prefix("VmHWM:")
            .or_else(|| line.strip_prefix("VmRSS:"))
        {
            let kb: Option<u64> = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            best = best.max(kb);
        }
    }
    best
}

/// Runs `program args` with stdout to /dev/null, timing it and measuring its peak RSS.
fn measure(
    method: &RssMethod,
    program: &Path,
    args: &[OsString],
    scratch: &Path,
) -> Result<Sample, String> {
    let err_path = scratch.join("stderr.txt");
    let err_file =
        fs::File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    let time_out = scratch.join("time.txt");
    let _ = fs::remove_file(&time_out);
    let mut cmd = match method {
        RssMethod::GnuTime(time) => {
            let mut c = Command::new(time);
            c.args(["-f", "%e %M", "-o"])
                .arg(&time_out)
                .arg(program)
                .args(args);
            c
        }
        RssMethod::ProcPoll => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut peak = None;
    let status = match method {
        RssMethod::GnuTime(_) => child.wait().map_err(|e| e.to_string())?,
        RssMethod::ProcPoll => loop {
            if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                break s;
            }
            peak = peak.max(proc_kb(child.id()));
            std::thread::sleep(Duration::from_millis(5));
        },
    };
    let wall = start.elapsed();
    if let RssMethod::GnuTime(_) = method {
        peak = fs::read_to_string(&time_out)
            .ok()
            .and_then(|t| parse_time_output(&t))
            .map(|(_, kb)| kb);
    }
    Ok(Sample {
        wall,
        rss_kb: peak,
        code: status.code(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
    })
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
    rss_kb: Option<u64>,
}

fn stats(samples: &[Sample]) -> Stats {
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let n = walls.len();
    let median = if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        walls[n / 2]
    } else {
        (walls[n / 2 - 1] + walls[n / 2]) / 2
    };
    Stats {
        median,
        min: walls.first().copied().unwrap_or_default(),
        max: walls.last().copied().unwrap_or_default(),
        rss_kb: samples.iter().filter_map(|s| s.rss_kb).max(),
    }
}

/// Runs a command `runs` times after one warm-up run; quorate exit codes other than 0/1 fail.
fn series(
    label: &str,
    method: &RssMethod,
    program: &Path,
    args: &[OsString],
    runs: usize,
    scratch: &Path,
    ok_codes: &[i32],
) -> Result<Vec<Sample>, String> {
    let mut out = Vec::with_capacity(runs);
    for i in 0..=runs {
        let s = measure(method, program, args, scratch)?;
        if !s.code.is_some_and(|c| ok_codes.contains(&c)) {
            let hint = if s.stderr.contains("time limit") {
                "\nhint: to measure anyway, raise the limit: QUORATE_BENCH_EXTRA_ARGS='--timeout 600s' cargo bench --bench large_plan\n"
            } else {
                ""
            };
            return Err(format!(
                "{label} failed (exit {}):\n  {} {}\n{}",
                s.code.map_or("signal".to_string(), |c| c.to_string()),
                program.display(),
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                s.stderr,
            ) + hint);
        }
        if i > 0 {
            out.push(s);
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Building and locating quorate

fn build_quorate() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("QUORATE_BENCH_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from(env!("CARGO")));
    println!("building: cargo build --release --bin quorate");
    let out = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "quorate",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo ({}): {e}", cargo.to_string_lossy()))?;
    if !out.status.success() {
        return Err("cargo build --release failed".into());
    }
    // The artifact message names the executable wherever the target directory is.
    let from_messages = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            let is_bin = v
                .pointer("/target/kind")
                .and_then(Value::as_array)
                .is_some_and(|k| k.iter().any(|x| x == "bin"));
            (v["reason"] == "compiler-artifact"
                && v.pointer("/target/name") == Some(&json!("quorate"))
                && is_bin)
                .then(|| v["executable"].as_str().map(PathBuf::from))
                .flatten()
        });
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                manifest.join(d)
            }
        }
        None => manifest.join("target"),
    };
    let path = from_messages.unwrap_or_else(|| target.join("release").join("quorate"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("built quorate not found at {}", path.display()))
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let out = Command::new("which").arg(name).output().ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |k| format!("{:.1} MB", k as f64 / 1024.0))
}

// ------------------------------------------------------------------------------------------

fn run() -> Result<(), String> {
    let runs = env_usize("QUORATE_BENCH_RUNS", 5);
    let n = env_usize("QUORATE_BENCH_CHANGES", 10_000);
    let seed = std::env::var("QUORATE_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0FC0_FFEE_u64);
    let tmp = harness::GeneratedDir::create("quorate-bench")?;
    let dir = tmp.0.clone();

    // 1. Inputs.
    let t = Instant::now();
    let mut rng = Rng::new(seed);
    let g = generate(n, &mut rng);
    let pf = build_plan(&g, &mut rng);
    let (observed, members, unstable) = build_observed(&g, &mut rng);
    let plan_path = dir.join("plan.json");
    let asg_path = dir.join("asg.json");
    let cfg_path = dir.join("quorate.yaml");
    // `terraform show -json` writes one line; the AWS CLI pretty-prints.
    let plan_bytes = serde_json::to_vec(&pf.plan).map_err(|e| e.to_string())?;
    fs::write(&plan_path, &plan_bytes).map_err(|e| format!("{}: {e}", plan_path.display()))?;
    let asg_bytes = serde_json::to_vec_pretty(&observed).map_err(|e| e.to_string())?;
    fs::write(&asg_path, &asg_bytes).map_err(|e| format!("{}: {e}", asg_path.display()))?;
    // Captured 90 s before --now, so staleness is what a real pipeline would see.
    fs::File::options()
        .write(true)
        .open(&asg_path)
        .and_then(|f| {
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(OBSERVED_AT_UNIX))
        })
        .map_err(|e| format!("{}: cannot set mtime: {e}", asg_path.display()))?;
    let cfg = build_config(&g);
    fs::write(&cfg_path, &cfg).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    let gen_time = t.elapsed();
    drop(pf.plan);

    let mix = &g.mix;
    println!(
        "== inputs (seed {seed:#x}, generated in {})",
        secs(gen_time)
    );
    println!("  plan.json     {:.1} MB, {} resource_changes, {} resource_drift entries ({} on changed resources, {} deleted outside Terraform)",
        plan_bytes.len() as f64 / 1e6, g.resources.len(), pf.drift_entries, pf.drift_linked, pf.drift_deleted);
    println!(
        "    types:   {}",
        mix.by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "    actions: {}",
        mix.by_action
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "    capacity updates: {} scale-downs, {} scale-ups, {} unknown until apply",
        mix.capacity_down, mix.capacity_up, mix.capacity_unknown
    );
    println!(
        "  asg.json      {:.1} MB, {} groups, {} members, {} groups with members in transition",
        asg_bytes.len() as f64 / 1e6,
        g.asgs.len(),
        members,
        unstable
    );
    println!("  quorate.yaml  {} quorum groups", g.quorum_groups.len());
    let plan_mb = plan_bytes.len() as f64 / 1e6;
    drop(plan_bytes);
    drop(asg_bytes);

    // 2. Binaries.
    let quorate = build_quorate()?;
    let method = detect_rss_method(&dir);
    let jq = which("jq");
    println!("== tools");
    println!("  quorate  {}", quorate.display());
    match &jq {
        Some(p) => {
            let v = Command::new(p)
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            println!("  jq       {} ({v})", p.display());
        }
        None => println!(
            "  jq       NOT FOUND: install it (apt-get install jq) to get the quorate/jq ratio"
        ),
    }
    println!("  RSS      {}", method.describe());
    println!("  runs     {runs} timed runs per command after 1 warm-up run; stdout to /dev/null");

    // 3. Runs.
    let extra: Vec<OsString> = std::env::var("QUORATE_BENCH_EXTRA_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(OsString::from)
        .collect();
    let base = |more: &[&str]| -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "check".into(),
            plan_path.clone().into(),
            "--observed".into(),
            asg_path.clone().into(),
            "--config".into(),
            cfg_path.clone().into(),
        ];
        a.extend(more.iter().map(OsString::from));
        a.extend(
            ["--now", NOW, "--fail-on", "never"]
                .iter()
                .map(OsString::from),
        );
        a.extend(extra.iter().cloned());
        a
    };
    let full = base(&["--format", "json", "--output", "/dev/null"]);
    let ok = [0, 1];
    println!();
    println!(
        "== results: {plan_mb:.1} MB plan, {} changes, {} drift entries",
        g.resources.len(),
        pf.drift_entries
    );
    println!(
        "  {:<44} {:>10} {:>10} {:>10} {:>12}",
        "command", "median", "min", "max", "peak RSS"
    );
    let row = |name: &str, s: &Stats| {
        println!(
            "  {:<44} {:>10} {:>10} {:>10} {:>12}",
            name,
            secs(s.median),
            secs(s.min),
            secs(s.max),
            mb(s.rss_kb)
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    // jq first, so its figures are printed even if quorate fails.
    let js = match &jq {
        Some(p) => {
            let s = stats(&series(
                "jq -c .",
                &method,
                p,
                &["-c".into(), ".".into(), plan_path.clone().into()],
                runs,
                &dir,
                &[0],
            )?);
            row("jq -c . plan.json", &s);
            Some(s)
        }
        None => {
            println!(
                "  {:<44} skipped: jq not installed (apt-get install jq)",
                "jq -c . plan.json"
            );
            None
        }
    };
    let qs = stats(&series(
        "quorate check",
        &method,
        &quorate,
        &full,
        runs,
        &dir,
        &ok,
    )?);
    row("quorate check (full, --format json)", &qs);
    let es = stats(&series(
        "quorate check --emit-input",
        &method,
        &quorate,
        &base(&["--emit-input"]),
        runs,
        &dir,
        &ok,
    )?);
    row("quorate check --emit-input (load+normalize)", &es);
    let ns = stats(&series(
        "quorate check --no-builtin",
        &method,
        &quorate,
        &base(&["--no-builtin", "--format", "json", "--output", "/dev/null"]),
        runs,
        &dir,
        &ok,
    )?);
    row("quorate check --no-builtin (no policies)", &ns);
    // The default format on the one-line plan: quoting must cost O(findings), not O(plan).
    let human_path = dir.join("report.txt");
    let hs = stats(&series(
        "quorate check --format human",
        &method,
        &quorate,
        &base(&[
            "--color",
            "never",
            "--output",
            human_path.to_str().unwrap_or("report.txt"),
        ]),
        runs,
        &dir,
        &ok,
    )?);
    row("quorate check (default human report)", &hs);
    let human_bytes = fs::metadata(&human_path).map_or(0, |m| m.len());

    // Findings, from one run that writes the JSON report.
    let findings_path = dir.join("findings.json");
    let report = measure(
        &method,
        &quorate,
        &base(&[
            "--format",
            "json",
            "--output",
            findings_path.to_str().unwrap_or("findings.json"),
        ]),
        &dir,
    )?;
    if !report.code.is_some_and(|c| ok.contains(&c)) {
        return Err(format!(
            "quorate check (report run) failed:\n{}",
            report.stderr
        ));
    }
    let doc: Value = fs::read_to_string(&findings_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let mut by_rule: std::collections::BTreeMap<String, usize> = Default::default();
    for f in doc["findings"].as_array().into_iter().flatten() {
        *by_rule
            .entry(f["rule"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }

    // 4. Summary.
    println!();
    if let Some(js) = &js {
        let ratio = qs.median.as_secs_f64() / js.median.as_secs_f64().max(1e-9);
        let verdict = if ratio <= TARGET_RATIO {
            "PASS"
        } else {
            "FAIL"
        };
        println!(
            "  quorate / jq (median wall): {ratio:.2}x  (target <= {TARGET_RATIO:.1}x)  {verdict}"
        );
        if let (Some(a), Some(b)) = (qs.rss_kb, js.rss_kb) {
            println!(
                "  quorate / jq (peak RSS):    {:.2}x",
                a as f64 / b.max(1) as f64
            );
        }
    } else {
        println!("  quorate / jq: n/a (jq not installed; apt-get install jq)");
    }
    let d = |a: Duration, b: Duration| a.as_secs_f64() - b.as_secs_f64();
    println!("  breakdown (medians): load+normalize+emit {:.3} s | + serialize input & regorus conversion & report {:.3} s | policy evaluation {:.3} s",
        es.median.as_secs_f64(), d(ns.median, es.median), d(qs.median, ns.median));
    let found = doc["findings"].as_array().map_or(0, Vec::len);
    println!(
        "  human report: {:.1} MB for {found} findings ({} bytes per finding) on a {plan_mb:.1} MB one-line plan",
        human_bytes as f64 / 1e6,
        human_bytes / (found.max(1) as u64)
    );
    println!(
        "  findings: deny {}, warn {}, waived {}, changes {} | {}",
        doc.pointer("/summary/deny").unwrap_or(&Value::Null),
        doc.pointer("/summary/warn").unwrap_or(&Value::Null),
        doc.pointer("/summary/waived").unwrap_or(&Value::Null),
        doc.pointer("/summary/changes").unwrap_or(&Value::Null),
        by_rule
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(tmp);
    Ok(())
}
