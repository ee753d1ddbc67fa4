//! Golden tests: every `testdata/scenarios/<name>/` holds inputs, an `args` file (one line,
//! relative to the scenario) and the expected JSON report; some also the human report.
//! Review changes with `UPDATE_EXPECT=1 cargo test --test integration scenarios::` and `git diff`.

use std::path::Path;

use crate::common::*;

fn scenarios() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("args").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn args_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args"))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn compare(dir: &Path, file: &str, actual: &str, failures: &mut Vec<String>) {
    let path = dir.join(file);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{}: output differs from {file}\n--- expected\n{expected}\n--- actual\n{actual}",
            dir.display()
        )),
        Err(_) => failures.push(format!(
            "{}: missing {file} (run with UPDATE_EXPECT=1)",
            dir.display()
        )),
    }
}

#[test]
fn every_scenario_matches_its_expected_reports() {
    let dirs = scenarios();
    assert!(dirs.len() >= 14, "scenarios missing: {dirs:?}");
    let mut failures = Vec::new();
    for dir in &dirs {
        let mut args = vec!["check".to_string()];
        args.extend(args_of(dir));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();

        let mut json_args = refs.clone();
        json_args.extend(["--format", "json"]);
        let out = run_in(dir, &json_args);
        let text = stdout(&out);
        let report: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: not JSON ({e}); stderr: {}",
                    dir.display(),
                    stderr(&out)
                ));
                continue;
            }
        };
        let deny = report["summary"]["deny"].as_u64().unwrap();
        let expected_code = if deny > 0 { 1 } else { 0 };
        if code(&out) != expected_code {
            failures.push(format!(
                "{}: exit {} but {deny} deny findings; stderr: {}",
                dir.display(),
                code(&out),
                stderr(&out)
            ));
        }
        compare(dir, "expected.json", &text, &mut failures);

        if dir.join("expected.txt").exists() || dir.ends_with("search-cluster-outage") {
            let mut human = refs.clone();
            human.extend(["--color", "never"]);
            compare(
                dir,
                "expected.txt",
                &stdout(&run_in(dir, &human)),
                &mut failures,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The story in DESIGN.md: denied three times over, by all three families.
#[test]
fn search_cluster_outage_is_denied_by_drift_unstable_and_quorum() {
    let dir = root().join("testdata/scenarios/search-cluster-outage");
    let mut args = vec!["check".to_string()];
    args.extend(args_of(&dir));
    args.extend(["--format".into(), "json".into()]);
    let out = run_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "deny")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "drift/change-on-drifted-resource",
        "unstable/members-in-transition",
        "quorum/below-quorum",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let below = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "quorum/below-quorum")
        .unwrap();
    assert!(
        below["message"]
            .as_str()
            .unwrap()
            .contains("3 healthy - 3 removals = 0 healthy"),
        "{below}"
    );
    assert_eq!(below["location"]["path"], "plan.json");
    let line = below["location"]["line"].as_u64().unwrap() as usize;
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(
        plan.lines()
            .nth(line - 1)
            .unwrap()
            .contains("\"desired_capacity\": 3"),
        "line {line} is not the new desired capacity"
    );
}

#[test]
fn fail_on_controls_the_exit_code() {
    let dir = root().join("testdata/scenarios/unknown-capacity");
    let base = args_of(&dir);
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["check"];
        a.extend(base.iter().map(String::as_str));
        a.extend(extra);
        code(&run_in(&dir, &a))
    };
    assert_eq!(run(&[]), 0, "a warning does not fail by default");
    assert_eq!(run(&["--fail-on", "warn"]), 1);
    let outage = root().join("testdata/scenarios/search-cluster-outage");
    let mut a: Vec<String> = vec!["check".into()];
    a.extend(args_of(&outage));
    a.extend(["--fail-on".into(), "never".into()]);
    assert_eq!(
        code(&run_in(
            &outage,
            &a.iter().map(String::as_str).collect::<Vec<_>>()
        )),
        0
    );
}

#[test]
fn every_format_renders_the_outage() {
    let dir = root().join("testdata/scenarios/search-cluster-outage");
    let tmp = tempfile::tempdir().unwrap();
    for format in ["human", "json", "sarif", "junit", "github", "markdown"] {
        let out_file = tmp.path().join(format!("report.{format}"));
        let mut a: Vec<String> = vec!["check".into()];
        a.extend(args_of(&dir));
        a.extend([
            "--format".into(),
            format.into(),
            "--output".into(),
            out_file.display().to_string(),
        ]);
        let out = run_in(&dir, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        assert!(
            stdout(&out).is_empty(),
            "{format}: --output must keep stdout empty"
        );
        let text = std::fs::read_to_string(&out_file).unwrap();
        assert!(
            text.contains("quorum/below-quorum"),
            "{format} output lacks the rule id:\n{text}"
        );
    }
    let github = std::fs::read_to_string(tmp.path().join("report.github")).unwrap();
    assert!(
        github
            .lines()
            .any(|l| l.starts_with("::error file=plan.json,line=240,")),
        "{github}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
}

#[test]
fn closed_stdout_pipe_is_not_an_error() {
    use std::process::{Command, Stdio};
    let dir = root().join("testdata/scenarios/search-cluster-outage");
    let mut child = Command::new(bin())
        .arg("check")
        .args(args_of(&dir))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
