//! Policy evaluation benchmark: `cargo bench --bench policy_eval`.
//!
//! Builds quorate's normalized input for the same generated 10,000-change plan as large_plan
//! (benches/common/gen.rs) once, then times, on that one input JSON:
//! - regorus: compiling the built-in policy set (`PolicySet::load_with`, what every `quorate
//!   check` pays at start-up) and evaluating it (`PolicySet::evaluate`: JSON -> regorus value,
//!   every deny/warn set, results back to JSON), compiled once and evaluated N times;
//! - real OPA (Go, in-process through the PyPI wheel opa-golib-python-bindings, driven by
//!   `scripts/opa_compare.py bench`): preparing the same policies plus the same aggregate query,
//!   and evaluating it N times on the same JSON text (handed to Go as bytes: OPA parses the JSON,
//!   evaluates, encodes the result; no Python JSON work in the timed loop).
//!
//! Reports per-evaluation medians and the OPA / regorus ratio (target: regorus >= 5x faster).
//!
//! Environment:
//! - `QUORATE_BENCH_RUNS`     timed evaluations per engine (default 5, after one warm-up)
//! - `QUORATE_BENCH_CHANGES`  resource changes to generate (default 10000)
//! - `QUORATE_BENCH_SEED`     PRNG seed (default: large_plan's)
//! - `QUORATE_OPA_BINDINGS`   directory holding the unpacked wheel (`opa_bindings/`); default
//!   `${TMPDIR:-/tmp}/quorate-ci-deps`, where .ci/run puts it. Without it only regorus runs.
//! - `QUORATE_BENCH_KEEP=1`   keep the input and data files (the directory is printed)
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`) it does nothing.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use quorate::check::{self, CheckOptions};
use quorate::config::Config;
use quorate::engine::{PolicyOptions, PolicySet};

#[path = "common/gen.rs"]
mod gen;
use gen::{build_config, build_observed, build_plan, generate, Rng};

const NOW: &str = "2026-11-24T10:00:00Z";
const OBSERVED_AT: &str = "2026-11-24T09:58:30Z";
const TARGET_SPEEDUP: f64 = 5.0;

#[path = "common/harness.rs"]
mod harness;

fn main() -> ExitCode {
    harness::bench_main("policy_eval", run)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn series(v: &[Duration]) -> String {
    v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ")
}

fn run() -> Result<(), String> {
    let runs = harness::env_usize("QUORATE_BENCH_RUNS", 5).max(1);
    let n = harness::env_usize("QUORATE_BENCH_CHANGES", 10_000);
    let seed = std::env::var("QUORATE_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0FC0_FFEE_u64);
    let tmp = harness::GeneratedDir::create("quorate-policy-bench")?;
    let dir = tmp.0.clone();

    // 1. The input: generated files -> quorate's normalized model, as `check --emit-input`.
    let mut rng = Rng::new(seed);
    let g = generate(n, &mut rng);
    let pf = build_plan(&g, &mut rng);
    let (observed, _, _) = build_observed(&g, &mut rng);
    let write = |name: &str, bytes: &[u8]| -> Result<String, String> {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p.display().to_string())
    };
    let plan = write(
        "plan.json",
        &serde_json::to_vec(&pf.plan).map_err(|e| e.to_string())?,
    )?;
    let asg = write(
        "asg.json",
        &serde_json::to_vec(&observed).map_err(|e| e.to_string())?,
    )?;
    let cfg = write("quorate.yaml", build_config(&g).as_bytes())?;
    let opts = CheckOptions {
        paths: vec![plan],
        observed: vec![asg],
        config: Some(cfg.clone()),
        now: Some(NOW.into()),
        observed_at: Some(OBSERVED_AT.into()),
        timeout: Duration::from_secs(300),
        ..CheckOptions::default()
    };
    let (set, _, config) = check::build_input(&opts).map_err(|e| e.to_string())?;
    let input = serde_json::to_string(&set).map_err(|e| e.to_string())?;
    let input_path = write("input.json", input.as_bytes())?;
    let data = serde_json::json!({"quorate": {"config": config.data()}});
    let data_path = write(
        "data.json",
        &serde_json::to_vec(&data).map_err(|e| e.to_string())?,
    )?;
    println!(
        "== input: {} changes, {} drift entries, {} observed groups; {:.1} MB of JSON (seed {seed:#x})",
        set.changes.len(),
        set.drift.len(),
        set.observed.groups.len(),
        input.len() as f64 / 1e6
    );

    // 2. regorus.
    let popts = PolicyOptions {
        timeout: Duration::from_secs(300),
        ..PolicyOptions::default()
    };
    let config =
        Config::load(&cfg, quorate::text::DEFAULT_MAX_INPUT_BYTES).map_err(|e| e.to_string())?;
    let mut compile = Vec::new();
    let mut policies = None;
    for _ in 0..runs {
        let t = Instant::now();
        let p = PolicySet::load_with(&popts, config.data()).map_err(|e| e.to_string())?;
        compile.push(t.elapsed());
        policies = Some(p);
    }
    let policies = policies.ok_or("no policy set")?;
    let mut eval = Vec::new();
    let mut found = std::collections::BTreeSet::new();
    for i in 0..=runs {
        let t = Instant::now();
        let raw = policies.evaluate(&input).map_err(|e| e.to_string())?;
        let dt = t.elapsed();
        found = raw
            .into_iter()
            .map(|f| serde_json::json!([f.rule, f.change, f.group, f.message]).to_string())
            .collect();
        if i > 0 {
            eval.push(dt);
        }
    }
    let r_compile = median(compile.clone());
    let r_eval = median(eval.clone());
    println!("== regorus 0.14.1 (tree-walking interpreter), compiled once");
    println!(
        "  compile policy set   median {}  [{}]",
        ms(r_compile),
        series(&compile)
    );
    println!(
        "  evaluate             median {}  [{}]",
        ms(r_eval),
        series(&eval)
    );
    println!("  findings             {}", found.len());

    // 2b. regorus' bytecode VM, for the record: faster, but not yet faithful (see engine.rs).
    let t = Instant::now();
    let rvm = policies.rvm_program().map_err(|e| e.to_string())?;
    let rvm_compile = t.elapsed();
    let mut rvm_eval = Vec::new();
    let mut rvm_found = std::collections::BTreeSet::new();
    for i in 0..=runs {
        let t = Instant::now();
        let raw = policies
            .evaluate_rvm(&rvm, &input)
            .map_err(|e| e.to_string())?;
        let dt = t.elapsed();
        rvm_found = raw
            .into_iter()
            .map(|f| serde_json::json!([f.rule, f.change, f.group, f.message]).to_string())
            .collect();
        if i > 0 {
            rvm_eval.push(dt);
        }
    }
    println!("== regorus RVM (bytecode VM; experimental, not used by quorate check)");
    println!("  compile to bytecode  {}", ms(rvm_compile));
    println!(
        "  evaluate             median {}  [{}]",
        ms(median(rvm_eval.clone())),
        series(&rvm_eval)
    );
    println!(
        "  findings             {} ({} of the interpreter's missing, {} extra)",
        rvm_found.len(),
        found.difference(&rvm_found).count(),
        rvm_found.difference(&found).count()
    );

    // 3. OPA, through the Python bindings.
    let opa_dir = std::env::var_os("QUORATE_OPA_BINDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("quorate-ci-deps"));
    if !opa_dir.join("opa_bindings/libopabridge.so").is_file() {
        println!(
            "== OPA: skipped, no bindings in {} (.ci/run fetches them)",
            opa_dir.display()
        );
        drop(tmp);
        return Ok(());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("scripts/opa_compare.py"))
        .arg("bench")
        .arg("--opa")
        .arg(&opa_dir)
        .arg("--policies")
        .arg(root.join("policies"))
        .args(["--input", &input_path, "--data", &data_path])
        .args(["--runs", &runs.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "OPA bench output is not JSON ({e}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if let Some(err) = v.get("error") {
        return Err(format!("OPA failed: {err}"));
    }
    let secs = |x: &serde_json::Value| Duration::from_secs_f64(x.as_f64().unwrap_or(0.0));
    let o_eval: Vec<Duration> = v["eval_s"]
        .as_array()
        .into_iter()
        .flatten()
        .map(secs)
        .collect();
    let o_compile = secs(&v["compile_s"]);
    let o_med = median(o_eval.clone());
    println!("== OPA (Go, in-process via opa-golib-python-bindings 0.4.4)");
    println!(
        "  prepare policy set   {}  (parse + compile + first query preparation)",
        ms(o_compile)
    );
    println!(
        "  evaluate             median {}  [{}]",
        ms(o_med),
        series(&o_eval)
    );
    let opa_found: std::collections::BTreeSet<String> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f.to_string())
        .collect();
    println!("  findings             {}", opa_found.len());

    // 4. Verdict.
    let speedup = o_med.as_secs_f64() / r_eval.as_secs_f64().max(1e-9);
    let verdict = if speedup >= TARGET_SPEEDUP {
        "PASS"
    } else {
        "FAIL"
    };
    println!();
    println!(
        "  OPA / regorus (median evaluation): {speedup:.2}x  (target >= {TARGET_SPEEDUP:.1}x)  {verdict}"
    );
    println!(
        "  start-up: regorus compiles the policy set in {}, OPA in {}",
        ms(r_compile),
        ms(o_compile)
    );
    // Same findings, or the comparison is not of the same work (and a divergence to report).
    let only_regorus: Vec<_> = found.difference(&opa_found).collect();
    let only_opa: Vec<_> = opa_found.difference(&found).collect();
    if only_regorus.is_empty() && only_opa.is_empty() {
        println!("  findings: identical ({} from each)", found.len());
    } else {
        println!(
            "  DIVERGENCE: {} findings only from regorus, {} only from OPA; first ones:",
            only_regorus.len(),
            only_opa.len()
        );
        for f in only_regorus.iter().take(3) {
            println!("    regorus only: {f}");
        }
        for f in only_opa.iter().take(3) {
            println!("    OPA only:     {f}");
        }
    }
    drop(tmp);
    Ok(())
}
