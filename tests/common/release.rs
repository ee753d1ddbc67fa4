//! A release directory laid out as GitHub serves one (`download/vX.Y.Z/<asset>`, with
//! `checksums.txt`), assembled from the built binary, and a real HTTP server on loopback
//! (Python's http.server) serving it: what scripts/install.sh and the Action download from.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The asset name install.sh asks for on this machine.
pub fn asset() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no release asset for {other}"),
    };
    let os = match std::env::consts::OS {
        "linux" => "unknown-linux-musl",
        "macos" => "apple-darwin",
        other => panic!("no release asset for {other}"),
    };
    format!("quorate-{arch}-{os}.tar.gz")
}

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `root/download/v<version>/{<asset>, checksums.txt}` holding `binary` as the release
/// workflow archives it (the binary at the top, with LICENSE and README.md).
pub fn assemble(root: &Path, binary: &Path) -> PathBuf {
    let dir = root.join("download").join(format!("v{}", version()));
    std::fs::create_dir_all(&dir).unwrap();
    let stage = tempfile::tempdir().unwrap();
    std::fs::copy(binary, stage.path().join("quorate")).unwrap();
    for f in ["LICENSE", "README.md"] {
        std::fs::copy(super::root().join(f), stage.path().join(f)).unwrap();
    }
    let asset = asset();
    let status = Command::new("tar")
        .arg("-czf")
        .arg(dir.join(&asset))
        .args(["-C"])
        .arg(stage.path())
        .args(["quorate", "LICENSE", "README.md"])
        .status()
        .unwrap();
    assert!(status.success(), "tar");
    let sums = Command::new("sha256sum")
        .arg(&asset)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(sums.status.success(), "sha256sum");
    std::fs::write(dir.join("checksums.txt"), &sums.stdout).unwrap();
    dir
}

/// `python3 -m http.server` on a free loopback port, stopped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("http.server did not say its port: {line:?}"));
        Server { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PATH without the directory of the binary under test: a runner that has no quorate.
pub fn clean_path() -> String {
    let ours = Path::new(super::bin()).parent().unwrap().to_path_buf();
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|p| *p != ours)
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Another program called `quorate` in `dir`, of version 0.0.1 (an older install on PATH).
pub fn older_quorate(dir: &Path) -> PathBuf {
    let fake = dir.join("quorate");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'quorate 0.0.1 (0123456789ab x86_64-unknown-linux-gnu)'\n",
    )
    .unwrap();
    let ok = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    assert!(ok.success());
    fake
}
