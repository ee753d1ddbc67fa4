//! Build script: the `--version` line, `quorate 0.1.0 (<commit> <target>)`.
//!
//! The commit comes from, in order: `QUORATE_BUILD_COMMIT` (release and container builds set it),
//! the `.cargo_vcs_info.json` that `cargo package` writes (so `cargo install quorate` reports the
//! published commit), or `git rev-parse` when the crate is the top of a git work tree. Without
//! any of them it says `unknown commit`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=QUORATE_BUILD_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("QUORATE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| short(c.trim()))
        .or_else(|| vcs_info(&dir))
        .or_else(|| git_commit(&dir))
        .unwrap_or_else(|| "unknown commit".to_string());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown target".to_string());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=QUORATE_VERSION_LINE={version} ({commit} {target})");
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// `{"git": {"sha1": "...", "dirty": true}, "path_in_vcs": ""}`, written by `cargo package`.
fn vcs_info(dir: &Path) -> Option<String> {
    let path = dir.join(".cargo_vcs_info.json");
    let text = std::fs::read_to_string(&path).ok()?;
    watch(&path);
    let sha = text.split("\"sha1\"").nth(1)?.split('"').nth(1)?;
    let dirty = text.contains("\"dirty\": true") || text.contains("\"dirty\":true");
    Some(format!(
        "{}{}",
        short(sha),
        if dirty { "-dirty" } else { "" }
    ))
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn git_commit(dir: &Path) -> Option<String> {
    // Only this crate's own repository, not one it happens to be vendored inside.
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    // Rebuild when HEAD moves (checkout, commit), not on every index change.
    for rel in ["HEAD", "packed-refs"] {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", rel]) {
            watch(&dir.join(p));
        }
    }
    if let Some(head_ref) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &head_ref]) {
            let file = dir.join(p);
            // A branch only in packed-refs (a fresh clone) gets its own file at the next
            // commit: watch the directory it will appear in.
            if file.exists() {
                watch(&file);
            } else if let Some(parent) = file.parent().filter(|p| p.is_dir()) {
                watch(parent);
            }
        }
    }
    git(dir, &["rev-parse", "--short=12", "HEAD"])
}

/// `rerun-if-changed` for a path that exists. Cargo takes a missing path as changed and would
/// rerun this script, and so rebuild the crate, on every build (every `cargo fuzz run`, every
/// nested build in the tests).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
