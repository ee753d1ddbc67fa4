//! Bad input never panics: exit 2 and a diagnostic naming the file (and position when the
//! file has one). One table, one row per way a user's input can be wrong.

use std::path::Path;

use crate::common::*;

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
    // Hardening: inputs and policies that crashed, hung or grew without bound.
    let deep_block: String = (0..11_000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    let deep_block = write(
        d,
        "deep-block.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{deep_block}")
            .as_bytes(),
    );
    let deep_compact = write(
        d,
        "deep-compact.yaml",
        format!("{}x\n", "- ".repeat(100_000)).as_bytes(),
    );
    let deep_json = write(
        d,
        "deep.json",
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
    );
    let bad_count = write(d, "replicas.yaml", b"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\nspec:\n  replicas: true\n");
    let fifo = d.join("plan-fifo.json");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.display().to_string();
    let policy = |name: &str, text: &str| {
        let dir = d.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "p.rego", text.as_bytes());
        dir.display().to_string()
    };
    let recursive = policy("recursive", "package quorate.user\n\nf(n) := n if n > 100000\n\nf(n) := f(n + 1) if n <= 100000\n\ndeny contains msg if {\n  msg := sprintf(\"%v\", [f(0)])\n}\n");
    let nested = policy("nested", &format!("package quorate.user\n\ndeny contains msg if {{\n  x := {}1{}\n  msg := sprintf(\"%v\", [x])\n}}\n", "[".repeat(24), "]".repeat(24)));
    let cidr = policy("cidr", "package quorate.user\n\ndeny contains msg if {\n  msg := sprintf(\"%d\", [count(net.cidr_expand(\"10.0.0.0/8\"))])\n}\n");
    let width = policy("width", "package quorate.user\n\ndeny contains msg if {\n  msg := sprintf(\"%10000000000d\", [1])\n}\n");
    let replace = policy("replace", "package quorate.user\n\ns := concat(\"\", [format_int(x, 10) | some x in numbers.range(1, 20000)])\n\ndeny contains msg if {\n  msg := replace(s, \"1\", s)\n}\n");
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
            name: "YAML block mappings nested 11,000 deep (stack overflow)",
            args: s(&[&deep_block]),
            expect: s(&["deep-block.yaml:106:101", "nested more than 100 levels"]),
        },
        Case {
            name: "YAML compact sequences nested 100,000 deep (stack overflow)",
            args: s(&[&deep_compact]),
            expect: s(&["deep-compact.yaml:1:201", "nested more than 100 levels"]),
        },
        Case {
            name: "JSON nested 100,000 deep",
            args: s(&[&deep_json]),
            expect: s(&["deep.json:1:101", "nested more than 100 levels"]),
        },
        Case {
            name: "a member count that is not a number",
            args: s(&[&bad_count]),
            expect: s(&["replicas.yaml:6:3", "spec.replicas must be a whole number"]),
        },
        Case {
            name: "a FIFO given directly (blocked forever)",
            args: s(&[&fifo]),
            expect: s(&["plan-fifo.json", "not a regular file"]),
        },
        Case {
            name: "the report would overwrite the plan",
            args: s(&[&plan_path, "-o", &plan_path]),
            expect: s(&["--output", "is also an input"]),
        },
        Case {
            name: "a function that calls itself (stack overflow)",
            args: s(&[&plan_path, "--policy", &recursive]),
            expect: s(&[
                "p.rego:5:1",
                "function calls itself",
                "data.quorate.user.f -> data.quorate.user.f",
            ]),
        },
        Case {
            name: "a literal nested 24 deep (parse time exponential in depth)",
            args: s(&[&plan_path, "--policy", &nested]),
            expect: s(&["p.rego:4:", "brackets nested more than 16 deep"]),
        },
        Case {
            name: "net.cidr_expand of a /8 (one builtin call past the time limit)",
            args: s(&[&plan_path, "--policy", &cidr]),
            expect: s(&["p.rego:4:", "16777216 addresses", "quorate allows at most"]),
        },
        Case {
            name: "a sprintf width of 10^10 (one allocation of gigabytes)",
            args: s(&[&plan_path, "--policy", &width]),
            expect: s(&["p.rego:4:", "format width 10000000000"]),
        },
        Case {
            name: "replace() amplifying a string 100,000-fold",
            args: s(&[&plan_path, "--policy", &replace]),
            expect: s(&[
                "p.rego:",
                "replace would build a string of",
                "quorate allows at most",
            ]),
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

/// Amplification and size cases: refused, and within a bound of memory, measured as the
/// child's own peak RSS.
#[cfg(target_os = "linux")]
#[test]
fn amplification_and_size_cases_stay_within_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let plan = root()
        .join("testdata/scenarios/search-cluster-outage/plan.json")
        .display()
        .to_string();
    let keys: String = (0..3_000)
        .map(|i| format!("  k{i}: {}\n", "v".repeat(60)))
        .collect();
    let refs = "  - *a\n".repeat(5_000);
    let fat = write(
        d,
        "fat.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nbase: &a\n{keys}refs:\n{refs}"
        )
        .as_bytes(),
    );
    let huge = d.join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let huge = huge.display().to_string();
    let grow = d.join("grow");
    std::fs::create_dir_all(&grow).unwrap();
    // Doubles a 1 MB string 14 times: 16 GB if nothing stops it.
    let mut rego = String::from("package quorate.user\n\ns0 := concat(\"\", [\"xxxxxxxxxx\" | some i in numbers.range(1, 100000)])\n");
    for k in 1..15 {
        rego.push_str(&format!("s{k} := concat(\"\", [s{}, s{}])\n", k - 1, k - 1));
    }
    rego.push_str("\ndeny contains msg if {\n  msg := sprintf(\"%d\", [count(s14)])\n}\n");
    write(&grow, "p.rego", rego.as_bytes());
    let grow = grow.display().to_string();
    let cases: [(&str, Vec<&str>, &str, u64); 3] = [
        (
            "fat YAML aliases (3,000 keys x 5,000 references)",
            vec![&fat],
            "aliases expand to more than",
            200 << 10,
        ),
        (
            "a 200 MB file",
            vec![&huge],
            "over the input limit",
            160 << 10,
        ),
        (
            "a policy doubling a string to 16 GB, --max-policy-memory 256MiB",
            vec![&plan, "--policy", &grow, "--max-policy-memory", "256MiB"],
            "memory limit",
            1 << 20,
        ),
    ];
    let mut failures = Vec::new();
    for (name, args, want, max_kib) in cases {
        let mut all = vec!["check"];
        all.extend(args);
        let (out, rss) = run_measured(d, &all);
        let err = stderr(&out);
        eprintln!("{name}: exit {}, peak RSS {} MiB", code(&out), rss >> 10);
        if code(&out) != 2 || !err.contains(want) {
            failures.push(format!(
                "{name}: exit {} (want 2 and {want:?})\n{err}",
                code(&out)
            ));
        }
        if rss > max_kib {
            failures.push(format!(
                "{name}: peak RSS {} MiB, over {} MiB",
                rss >> 10,
                max_kib >> 10
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Directory arguments that hung (a link loop) or blocked (a FIFO) are read to the end, with
/// a notice for what was passed over; a file name that is not UTF-8 no longer aborts the run.
#[cfg(unix)]
#[test]
fn link_loops_fifos_and_odd_names_in_directories_do_not_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("manifests");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::copy(
        root().join("testdata/scenarios/search-cluster-outage/plan.json"),
        d.join("sub/plan.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/loop")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(d.join("pipe.yaml"))
        .status()
        .unwrap()
        .success());
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.json")), "{}").unwrap();
    std::fs::write(d.join("a\u{1b}[31mred.json"), "{}").unwrap();
    let out = run_in(tmp.path(), &["check", "manifests"]);
    // Notices are part of the report (stdout).
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&out), 1, "the plan is still checked\n{err}");
    for want in [
        "pipe.yaml: skipped: not a regular file",
        "skipped: the file name is not UTF-8",
        "a\\u{1b}[31mred.json: skipped: the file name holds control characters",
        "loop: skipped: a link to a directory already read",
    ] {
        assert!(err.contains(want), "stderr lacks {want:?}\n{err}");
    }
    assert!(
        !err.contains('\u{1b}'),
        "a raw escape reached the terminal\n{err}"
    );
}

/// `diff` applies --max-input-bytes to the changed blobs it reads from git, as `check` does to
/// files: an oversized changed manifest is not parsed, and the change is not judged as clean.
#[test]
fn diff_applies_the_input_limit_to_git_blobs() {
    let small = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  a: b\n";
    let repo = repo_with(&[("big.yaml", small)]);
    let big = format!("{small}  blob: {}\n", "x".repeat(300_000));
    commit_all(repo.path(), &[("big.yaml", big.as_str())], "grow");
    let out = run_in(
        repo.path(),
        &["diff", "HEAD~1", "HEAD", "--max-input-bytes", "100000"],
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(code(&out), 0, "{all}");
    assert!(
        all.contains("big.yaml") && all.contains("over the input limit of 100000 bytes"),
        "{all}"
    );
    let out = run_in(repo.path(), &["diff", "HEAD~1", "HEAD"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}
