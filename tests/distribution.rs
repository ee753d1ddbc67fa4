//! The distribution channels, tested as far as this machine allows: the crate package
//! (`cargo install quorate --locked`), `--version`, scripts/install.sh against a release
//! served on loopback, the quorate-cli wheel built with maturin and run from a fresh venv,
//! and the release/CI workflows under actionlint.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::common::release::{assemble, asset, clean_path, older_quorate, version, Server};
use crate::common::*;

fn sh(script: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg(script)
        .env_remove("QUORATE_VERSION")
        .env_remove("QUORATE_INSTALL_DIR")
        .env_remove("QUORATE_BASE_URL");
    cmd
}

fn etcd(replicas: u32) -> String {
    format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\nspec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n")
}

#[test]
fn version_line_names_the_commit_and_the_target() {
    let out = Command::new(bin()).arg("--version").output().unwrap();
    let line = stdout(&out);
    let re =
        regex::Regex::new(r"^quorate (\S+) \(([0-9a-f]{12}(-dirty)?|unknown commit) (\S+)\)\n$")
            .unwrap();
    let caps = re.captures(&line).unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(&caps[1], version());
    let target = &caps[4];
    assert!(
        target.starts_with(std::env::consts::ARCH) && target.contains(std::env::consts::OS),
        "{line}"
    );
    // In a git checkout it is this checkout's commit.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .unwrap();
    if head.status.success() && std::env::var_os("QUORATE_BUILD_COMMIT").is_none() {
        assert_eq!(
            &caps[2],
            String::from_utf8_lossy(&head.stdout).trim(),
            "{line}"
        );
    }
}

#[test]
fn the_crate_packages_its_policies_and_schemas_and_no_fixtures() {
    let out = Command::new(env!("CARGO"))
        .args([
            "package",
            "--list",
            "--locked",
            "--allow-dirty",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let files: Vec<String> = stdout(&out).lines().map(String::from).collect();
    for want in [
        "Cargo.lock",
        "LICENSE",
        "README.md",
        "build.rs",
        "policies/lib.rego",
        "policies/quorum.rego",
        "schemas/input.schema.json",
        "schemas/config.schema.json",
        "src/main.rs",
    ] {
        assert!(
            files.iter().any(|f| f == want),
            "{want} not packaged: {files:?}"
        );
    }
    for f in &files {
        assert!(
            ![
                "testdata/",
                "tests/",
                "fuzz/",
                "deploy/",
                "benches/",
                "docs/",
                ".github/"
            ]
            .iter()
            .any(|p| f.starts_with(p)),
            "{f} is packaged"
        );
    }
    // Every file the code compiles in is in the package.
    for entry in std::fs::read_dir(root().join("policies")).unwrap() {
        let name = format!("policies/{}", entry.unwrap().file_name().to_string_lossy());
        if name.ends_with(".rego") {
            assert!(files.contains(&name), "{name} not packaged");
        }
    }
}

/// The versions every channel names agree with Cargo.toml's.
#[test]
fn every_channel_names_the_crate_version() {
    let v = version();
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    let shim = read("pyproject.toml");
    assert!(
        shim.contains(&format!("version = \"{v}\"")),
        "pyproject.toml: {shim}"
    );
    assert!(
        shim.contains(&format!("\"quorate-cli=={v}\"")),
        "the hook shim pins the wheel of this version"
    );
    let wheel = read("packaging/pypi/pyproject.toml");
    assert!(wheel.contains("dynamic = [\"version\"]") && wheel.contains("bindings = \"bin\""));
    let hooks = read(".pre-commit-hooks.yaml");
    assert!(
        hooks.contains(&format!("ghcr.io/quorate-dev/quorate:{v} ")),
        "the docker hook's image"
    );
}

#[test]
fn install_script_downloads_verifies_and_installs_a_release() {
    let release = tempfile::tempdir().unwrap();
    assemble(release.path(), Path::new(bin()));
    let server = Server::start(release.path());
    let dest = tempfile::tempdir().unwrap();
    let bin_dir = dest.path().join("bin");
    let script = root().join("scripts/install.sh");

    // A good download: from nothing to the first `quorate diff` result, timed.
    let repo = tempfile::tempdir().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "k8s/etcd.yaml", &etcd(5));
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "base"]);
    write(d, "k8s/etcd.yaml", &etcd(2));
    git(d, &["commit", "-qam", "scale down"]);
    let started = Instant::now();
    let out = sh(&script)
        .args(["--version", version(), "--to"])
        .arg(&bin_dir)
        .args(["--base-url", &server.url()])
        .env("PATH", clean_path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("installed quorate {} (", version())),
        "{}",
        stdout(&out)
    );
    let installed = bin_dir.join("quorate");
    let diff = Command::new(&installed)
        .args(["diff", "HEAD~1", "HEAD"])
        .current_dir(d)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(code(&diff), 1, "{}", stdout(&diff));
    assert!(stdout(&diff).contains("quorum/"), "{}", stdout(&diff));
    eprintln!(
        "install.sh from a loopback release to the first `quorate diff` result: {:.2} s",
        elapsed.as_secs_f64()
    );

    // Another quorate earlier on PATH with a different version: said, not silently used.
    let other = tempfile::tempdir().unwrap();
    let fake = older_quorate(other.path());
    let out = sh(&script)
        .args(["--version", version(), "--to"])
        .arg(&bin_dir)
        .args(["--base-url", &server.url()])
        .env(
            "PATH",
            format!("{}:{}", other.path().display(), clean_path()),
        )
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "note: {} (quorate 0.0.1 (0123456789ab x86_64-unknown-linux-gnu)) comes first on PATH, not {}",
            fake.display(),
            installed.display()
        )),
        "{}",
        stderr(&out)
    );

    // An unknown version: a clear error naming the version and where it looked.
    let out = sh(&script)
        .args(["--version", "9.9.9", "--to"])
        .arg(dest.path().join("none"))
        .args(["--base-url", &server.url()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "quorate install: no release 9.9.9 at {}/download/v9.9.9 (HTTP 404)",
            server.url()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!dest.path().join("none/quorate").exists());
}

#[test]
fn install_script_refuses_a_download_whose_checksum_does_not_match() {
    let release = tempfile::tempdir().unwrap();
    let dir = assemble(release.path(), Path::new(bin()));
    // The archive changed after checksums.txt was written (a tampered or truncated download).
    let archive = dir.join(asset());
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let server = Server::start(release.path());
    let dest = tempfile::tempdir().unwrap();
    let out = sh(&root().join("scripts/install.sh"))
        .args(["--version", &format!("v{}", version()), "--to"])
        .arg(dest.path())
        .args(["--base-url", &server.url()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "checksum mismatch for {}: checksums.txt says ",
            asset()
        )) && err.ends_with("; not installed\n"),
        "{err}"
    );
    assert!(!dest.path().join("quorate").exists(), "nothing installed");

    // A release without this platform's archive says so.
    std::fs::write(
        dir.join("checksums.txt"),
        "00  quorate-sparc-unknown-linux-musl.tar.gz\n",
    )
    .unwrap();
    let out = sh(&root().join("scripts/install.sh"))
        .args(["--version", version(), "--to"])
        .arg(dest.path())
        .args(["--base-url", &server.url()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!("release {} has no {}", version(), asset())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wheel_builds_installs_into_a_fresh_venv_and_runs() {
    let wheels = tempfile::tempdir().unwrap();
    let mut build = Command::new("bash");
    build
        .arg(root().join("scripts/build-wheel.sh"))
        .arg(wheels.path())
        // The same wheel with the dev profile's binary (the suite's build time); the release
        // workflow builds the release profile.
        .env("QUORATE_WHEEL_PROFILE", "dev");
    let out = share_suite_build(&mut build, "QUORATE_WHEEL_TARGET_DIR", "wheel-build")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "maturin build failed:\n{}",
        stderr(&out)
    );
    let wheel = stdout(&out).trim().to_string();
    let name = Path::new(&wheel)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        name.starts_with(&format!("quorate_cli-{}-py3-none-", version())),
        "{name}"
    );
    let size = std::fs::metadata(&wheel).unwrap().len();
    eprintln!("wheel {name}: {size} bytes");

    let venv = tempfile::tempdir().unwrap();
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let pip = Command::new(venv.path().join("bin/pip"))
        .args(["install", "--quiet", "--no-index"])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(pip.status.success(), "{}", stderr(&pip));
    let quorate = venv.path().join("bin/quorate");
    let v = Command::new(&quorate).arg("--version").output().unwrap();
    assert!(
        stdout(&v).starts_with(&format!("quorate {} (", version())),
        "{}",
        stdout(&v)
    );
    // The wheel's binary gives the same verdict as the binary under test.
    let dir = root().join("testdata/scenarios/search-cluster-outage");
    let args: Vec<String> = [
        "check",
        "plan.json",
        "--observed",
        "asg.json",
        "--config",
        "quorate.yaml",
        "--now",
        "2026-11-24T10:00:00Z",
        "--observed-at",
        "2026-11-24T09:58:30Z",
        "--format",
        "json",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let ours = Command::new(bin())
        .args(&args)
        .current_dir(&dir)
        .output()
        .unwrap();
    let theirs = Command::new(&quorate)
        .args(&args)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&theirs), code(&ours));
    assert_eq!(
        code(&theirs),
        1,
        "the outage is refused: {}",
        stdout(&theirs)
    );
    let rules = |o: &std::process::Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rules(&theirs), rules(&ours));
}
