//! `quorate diff` benchmark: `cargo bench --bench diff_repo`.
//!
//! Builds a repository of 20,000 manifest files with git2 (no work tree), commits a second
//! revision in which 1,000 of them change (StatefulSets scaled, Deployments re-imaged), then
//! times `quorate diff BASE HEAD` (release binary) and reads its peak RSS with GNU time.
//! Targets from the issue: under 1 s, under 200 MB.
//!
//! Environment: QUORATE_BENCH_RUNS (default 5), QUORATE_BENCH_FILES (20000),
//! QUORATE_BENCH_CHANGED (1000), QUORATE_BENCH_KEEP=1 keeps the repository.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use git2::{Repository, Signature};

fn manifest(i: usize, replicas: usize, image: &str) -> String {
    if i % 2 == 0 {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db-{i}\n  namespace: team-{ns}\n  labels:\n    app: db-{i}\n  annotations:\n    quorate.dev/quorum: majority\nspec:\n  replicas: {replicas}\n  serviceName: db-{i}\n  selector:\n    matchLabels:\n      app: db-{i}\n  template:\n    metadata:\n      labels:\n        app: db-{i}\n    spec:\n      containers:\n        - name: db\n          image: {image}\n          ports:\n            - containerPort: 2379\n          resources:\n            requests:\n              cpu: 500m\n              memory: 1Gi\n",
            ns = i % 50
        )
    } else {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: team-{ns}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web-{i}\n  template:\n    metadata:\n      labels:\n        app: web-{i}\n    spec:\n      containers:\n        - name: web\n          image: {image}\n",
            ns = i % 50
        )
    }
}

/// Writes one commit whose tree is `files` (path -> content), spread over directories.
fn commit(
    repo: &Repository,
    files: &[(String, String)],
    parent: Option<git2::Oid>,
    msg: &str,
) -> Result<git2::Oid, git2::Error> {
    let mut dirs: std::collections::BTreeMap<String, git2::TreeBuilder<'_>> =
        std::collections::BTreeMap::new();
    for (path, text) in files {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let blob = repo.blob(text.as_bytes())?;
        if !dirs.contains_key(dir) {
            dirs.insert(dir.to_string(), repo.treebuilder(None)?);
        }
        if let Some(b) = dirs.get_mut(dir) {
            b.insert(name, blob, 0o100644)?;
        }
    }
    let mut root = repo.treebuilder(None)?;
    let mut k8s = repo.treebuilder(None)?;
    for (dir, builder) in dirs {
        let id = builder.write()?;
        k8s.insert(dir.trim_start_matches("k8s/"), id, 0o040000)?;
    }
    root.insert("k8s", k8s.write()?, 0o040000)?;
    let tree = repo.find_tree(root.write()?)?;
    let sig = Signature::now("bench", "bench@example.com")?;
    let parents: Vec<git2::Commit<'_>> = parent
        .into_iter()
        .map(|p| repo.find_commit(p))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
}

#[path = "common/harness.rs"]
mod harness;

fn main() -> ExitCode {
    harness::bench_main("diff_repo", run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (n, changed, runs) = (
        harness::env_usize("QUORATE_BENCH_FILES", 20_000),
        harness::env_usize("QUORATE_BENCH_CHANGED", 1_000),
        harness::env_usize("QUORATE_BENCH_RUNS", 5),
    );
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "quorate"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if !status.success() {
        return Err("cargo build --release failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    let bin = format!("{target}/release/quorate");

    let dir = std::env::temp_dir().join(format!("quorate-diff-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let repo = Repository::init_bare(&dir)?;
    let t = Instant::now();
    let path = |i: usize| {
        format!(
            "k8s/team-{:03}/{}-{i}.yaml",
            i % 200,
            if i % 2 == 0 { "db" } else { "web" }
        )
    };
    let mut files: Vec<(String, String)> = (0..n)
        .map(|i| (path(i), manifest(i, 5, "registry.example.com/app:1.0.0")))
        .collect();
    let base = commit(&repo, &files, None, "base")?;
    // Every (n / changed)-th file changes: StatefulSets lose a member, Deployments get a new image.
    let step = (n / changed.max(1)).max(1);
    let mut touched = 0;
    // Alternate the offset so both kinds change: even indexes are StatefulSets, odd Deployments.
    for k in 0..changed {
        let i = k * step + (k % 2);
        let Some(f) = files.get_mut(i) else { break };
        f.1 = if i % 2 == 0 {
            manifest(i, 4, "registry.example.com/app:1.0.0")
        } else {
            manifest(i, 5, "registry.example.com/app:1.1.0")
        };
        touched += 1;
    }
    let head = commit(&repo, &files, Some(base), "change")?;
    println!("== repository: {n} files, {touched} changed between {:.7} and {:.7} (built in {:.1} s) at {}", base.to_string(), head.to_string(), t.elapsed().as_secs_f64(), dir.display());

    let time = Path::new("/usr/bin/time");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    let mut summary = String::new();
    for run in 0..=runs {
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.args(["-f", "%e %M", &bin]);
            c
        } else {
            Command::new(&bin)
        };
        let t = Instant::now();
        let out = cmd
            .args([
                "diff",
                &base.to_string(),
                &head.to_string(),
                "--repo",
                &dir.display().to_string(),
                "--format",
                "json",
                "--now",
                "2026-11-24T10:00:00Z",
                "--fail-on",
                "never",
            ])
            .output()?;
        let wall = t.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("quorate diff failed: {stderr}").into());
        }
        if run == 0 {
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            summary = report["summary"].to_string();
            continue; // warm-up
        }
        walls.push(wall);
        if let Some(kb) = stderr
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|k| k.parse::<f64>().ok())
        {
            rss.push(kb / 1024.0);
        }
    }
    walls.sort_by(|a, b| a.total_cmp(b));
    let median = walls.get(walls.len() / 2).copied().unwrap_or_default();
    let peak = rss.iter().copied().fold(0.0, f64::max);
    println!("== quorate diff BASE HEAD ({runs} runs after a warm-up)");
    println!(
        "  wall  median {median:.3} s  min {:.3} s  max {:.3} s   (target < 1 s: {})",
        walls.first().unwrap_or(&0.0),
        walls.last().unwrap_or(&0.0),
        if median < 1.0 { "PASS" } else { "FAIL" }
    );
    if time.exists() {
        println!(
            "  peak RSS {peak:.1} MB (GNU time)   (target < 200 MB: {})",
            if peak < 200.0 { "PASS" } else { "FAIL" }
        );
    } else {
        println!("  peak RSS not measured: /usr/bin/time missing (apt-get install time)");
    }
    println!("  summary {summary}");
    if std::env::var_os("QUORATE_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
