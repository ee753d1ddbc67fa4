//! Shared helpers for the integration tests: run the real binary, sealed from the machine.
#![allow(dead_code)]

pub mod aws;
pub mod release;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_quorate")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory the suite's binary was built in (`<target>/debug/quorate`).
pub fn suite_target_dir() -> PathBuf {
    let bin = Path::new(bin());
    bin.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root().join("target"))
}

/// Points a nested cargo build (the wheel, the quorate-src hook) at the suite's own build
/// directory, so it reuses the dependencies the suite compiled instead of building the tree a
/// second time, with its binaries in `<suite target>/<name>`, so the suite's own binary is never
/// replaced by one built with other flags.
pub fn share_suite_build<'a>(
    cmd: &'a mut Command,
    target_env: &str,
    name: &str,
) -> &'a mut Command {
    if std::env::var_os("CARGO_BUILD_BUILD_DIR").is_none() {
        cmd.env("CARGO_BUILD_BUILD_DIR", suite_target_dir());
    }
    cmd.env(target_env, suite_target_dir().join(name))
}

/// Runs `program args` on the slave side of a new pseudo-terminal (120x30; Python's `pty`
/// module), so it sees a terminal on stdin, stdout and stderr; the command's stdout is every
/// byte drawn on the terminal and its exit code is the program's.
pub fn in_pty(program: &str, args: &[&str]) -> Command {
    const PTY: &str = r#"
import fcntl, os, struct, subprocess, sys, termios
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
child = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
os.close(slave)
drawn = b""
while True:
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    drawn += data
sys.stdout.buffer.write(drawn)
sys.exit(child.wait())
"#;
    let mut c = Command::new("python3");
    c.args(["-c", PTY, program]).args(args);
    c
}

/// The shared corpus, at the same relative path in CI and here.
pub fn corpus() -> PathBuf {
    root().join("../shared/corpus")
}

/// Runs quorate in `dir` with a sealed environment (own HOME, no color).
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let home = std::env::temp_dir().join("quorate-test-home");
    let _ = std::fs::create_dir_all(&home);
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("quorate runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Runs `git` sealed from the machine's configuration, failing the test on error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `text` at `path` under `dir`, creating the directories above it.
pub fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A git repository in a temp dir with `files` committed as `base`.
pub fn repo_with<S: AsRef<str>>(files: &[(&str, S)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    commit_all(tmp.path(), files, "base");
    tmp
}

/// Writes `files` and commits every change in the work tree.
pub fn commit_all<S: AsRef<str>>(dir: &Path, files: &[(&str, S)], msg: &str) {
    for (path, text) in files {
        write(dir, path, text.as_ref());
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", msg]);
}

/// Runs quorate in `dir` like [`run_in`], and its peak resident memory in KiB, as the kernel
/// counted it (`wait4`'s `ru_maxrss`): the process's own figure, not a timer's. A small parent
/// (python3's `os.wait4`) starts it: Linux counts into a child's `ru_maxrss` the memory of the
/// process it was spawned from until its exec, and a child spawned straight from this test
/// binary, which runs the whole suite's tests at once, would carry the suite's own peak.
pub fn run_measured(dir: &Path, args: &[&str]) -> (Output, u64) {
    const WAIT4: &str = r#"
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"#;
    let home = std::env::temp_dir().join("quorate-test-home");
    let _ = std::fs::create_dir_all(&home);
    let report = tempfile::NamedTempFile::new().expect("a file for the RSS");
    let output = Command::new("python3")
        .args(["-c", WAIT4])
        .arg(report.path())
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("python3 runs quorate");
    let rss = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no peak RSS reported: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (output, rss)
}
