//! Bad input never panics: exit 2 and a diagnostic naming the file (and position when the
//! file has one). One table, one row per way a user's input can be wrong.

mod common;

use std::path::Path;

use common::*;

struct Case {
    name: &'static str,
    /// Arguments after `check`; `{d}` is the temp dir, `{outage}` the outage scenario dir.
    args: Vec<String>,
    /// Texts stderr must contain (file name, position, what is wrong).
    expect: Vec<String>,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn bad_inputs_exit_2_with_file_and_position() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let outage = root().join("testdata/scenarios/search-cluster-outage");
    let plan = std::fs::read(outage.join("plan.json")).unwrap();
    let asg = outage.join("asg.json").display().to_string();
    let plan_path = outage.join("plan.json").display().to_string();

    let truncated = write(d, "truncated.json", &plan[..plan.len() / 2]);
    let yaml_plan = write(d, "plan.yaml", b"format_version: '1.2'\nresource_changes:\n  - address: a.b\n    change: {actions: [update]\n");
    let not_a_plan = corpus()
        .join("SchemaStore__schemastore/src/test/github-action/docker.json")
        .display()
        .to_string();
    let empty = write(d, "empty.json", b"");
    let latin1 = write(d, "latin1.json", b"{\"name\": \"caf\xe9\"}\n");
    let missing = d.join("does-not-exist.json").display().to_string();
    let huge = d.join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 * 1024 * 1024)
        .unwrap();
    let huge = huge.display().to_string();
    let trailing = corpus()
        .join("hashicorp__terraform-json/testdata/invalid/plan.json")
        .display()
        .to_string();
    let bad_action = write(
        d,
        "bad-action.json",
        br#"{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"x","change":{"actions":["explode"]}}]}"#,
    );
    let bad_config = write(
        d,
        "bad-config.yaml",
        b"groups:\n  search-prod:\n    quorum: most\n",
    );
    let bad_policy_dir = d.join("policy");
    std::fs::create_dir_all(&bad_policy_dir).unwrap();
    write(
        &bad_policy_dir,
        "broken.rego",
        b"package quorate.user\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    let slow_policy_dir = d.join("slow");
    std::fs::create_dir_all(&slow_policy_dir).unwrap();
    write(
        &slow_policy_dir,
        "slow.rego",
        b"package quorate.slow\n\ndeny contains msg if {\n  n := count([1 | some i in numbers.range(1, 20000); some j in numbers.range(1, 20000)])\n  msg := sprintf(\"%d\", [n])\n}\n",
    );
    let huge_policy_dir = d.join("huge");
    std::fs::create_dir_all(&huge_policy_dir).unwrap();
    write(
        &huge_policy_dir,
        "huge.rego",
        b"package quorate.huge\n\ndeny contains msg if {\n  n := count(numbers.range(1, 100000000000000))\n  msg := sprintf(\"%d\", [n])\n}\n",
    );
    let bad_observed = write(d, "observed.yaml", b"apiVersion: quorate.dev/v1\nkind: Observed\ngroups:\n  g:\n    members:\n      - {id: a, state: sleeping}\n");

    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases = vec![
        Case {
            name: "truncated JSON",
            args: s(&[&truncated]),
            expect: s(&["truncated.json:", "invalid JSON: EOF"]),
        },
        Case {
            name: "broken YAML where JSON is expected",
            args: s(&[&yaml_plan]),
            expect: s(&["plan.yaml:5:1", "invalid YAML"]),
        },
        Case {
            name: "a GitHub Action definition is not a plan",
            args: s(&[&not_a_plan]),
            expect: s(&["docker.json:1:1", "unrecognized document", "keys"]),
        },
        Case {
            name: "a plan given as observed state",
            args: s(&[&plan_path, "--observed", &plan_path]),
            expect: s(&["plan.json:1:1", "given as --observed"]),
        },
        Case {
            name: "observed state given where a plan belongs is fine but a config is not",
            args: s(&[&bad_config]),
            expect: s(&["bad-config.yaml:1:1", "unrecognized document"]),
        },
        Case {
            name: "0-byte file",
            args: s(&[&empty]),
            expect: s(&["empty.json", "file is empty"]),
        },
        Case {
            name: "missing file",
            args: s(&[&missing]),
            expect: s(&["does-not-exist.json", "cannot open"]),
        },
        Case {
            name: "not UTF-8",
            args: s(&[&latin1]),
            expect: s(&["latin1.json:1:14", "not UTF-8"]),
        },
        Case {
            name: "200 MB file",
            args: s(&[&huge]),
            expect: s(&["huge.json", "over the input limit"]),
        },
        Case {
            name: "trailing data after the plan",
            args: s(&[&trailing]),
            expect: s(&["invalid/plan.json:676:", "trailing characters"]),
        },
        Case {
            name: "unknown Terraform action",
            args: s(&[&bad_action]),
            expect: s(&["bad-action.json:1:", "unknown Terraform action"]),
        },
        Case {
            name: "config value not in schema",
            args: s(&[&plan_path, "--config", &bad_config]),
            expect: s(&["bad-config.yaml:3:5", "/groups/search-prod/quorum"]),
        },
        Case {
            name: "observed state with an unknown member state",
            args: s(&[&plan_path, "--observed", &bad_observed]),
            expect: s(&["observed.yaml:6:", "state"]),
        },
        Case {
            name: "policy that does not parse",
            args: s(&[
                &plan_path,
                "--policy",
                &bad_policy_dir.display().to_string(),
            ]),
            expect: s(&["broken.rego:4:7", "expecting"]),
        },
        Case {
            name: "policy that runs too long",
            args: s(&[
                &plan_path,
                "--observed",
                &asg,
                "--policy",
                &slow_policy_dir.display().to_string(),
                "--timeout",
                "300ms",
            ]),
            expect: s(&["time limit"]),
        },
        Case {
            // One builtin call the time limit cannot interrupt: regorus would size a
            // 2.4 PB array and the process would abort.
            name: "policy that asks for 10^14 numbers",
            args: s(&[
                &plan_path,
                "--policy",
                &huge_policy_dir.display().to_string(),
            ]),
            expect: s(&["huge.rego:4:27", "quorate allows at most 10000000"]),
        },
        Case {
            name: "bad --now",
            args: s(&[&plan_path, "--now", "yesterday"]),
            expect: s(&["--now", "RFC 3339"]),
        },
        Case {
            name: "nothing to check",
            args: s(&[]),
            expect: s(&["nothing to check"]),
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let mut args = vec!["check"];
        args.extend(case.args.iter().map(String::as_str));
        let out = run_in(d, &args);
        let err = stderr(&out);
        if code(&out) != 2 {
            failures.push(format!(
                "{}: exit {} (want 2)\nstderr: {err}\nstdout: {}",
                case.name,
                code(&out),
                stdout(&out)
            ));
            continue;
        }
        if err.contains("panicked") {
            failures.push(format!("{}: panicked\n{err}", case.name));
        }
        for want in &case.expect {
            if !err.contains(want.as_str()) {
                failures.push(format!("{}: stderr lacks {want:?}\n{err}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn stdin_is_read_with_dash() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let outage = root().join("testdata/scenarios/search-cluster-outage");
    let mut child = Command::new(bin())
        .args([
            "check",
            "-",
            "--format",
            "json",
            "--observed",
            "asg.json",
            "--config",
            "quorate.yaml",
            "--now",
            "2026-11-24T10:00:00Z",
            "--observed-at",
            "2026-11-24T09:58:30Z",
        ])
        .current_dir(&outage)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(outage.join("plan.json")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["deny"], 4);
    assert_eq!(report["findings"][0]["location"]["path"], "<stdin>");
}
