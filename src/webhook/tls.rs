//! Serving certificate: loaded once, then reloaded when the files change. Polling (not inotify):
//! Kubernetes updates Secret volumes by swapping a `..data` symlink, which file watches on the
//! old target miss. New connections get the new certificate; open ones keep theirs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use tokio::task::JoinHandle;

/// Installs the ring provider as the process default (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What identifies a version of the files: modification time, size and content.
#[derive(PartialEq, Eq, Clone)]
struct Stamp {
    modified: Option<SystemTime>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(files: &TlsFiles) -> std::io::Result<Stamp> {
    let modified = std::fs::metadata(&files.cert)
        .and_then(|m| m.modified())
        .ok()
        .max(
            std::fs::metadata(&files.key)
                .and_then(|m| m.modified())
                .ok(),
        );
    Ok(Stamp {
        modified,
        cert: std::fs::read(&files.cert)?,
        key: std::fs::read(&files.key)?,
    })
}

fn describe(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

/// Loads the certificate and key (PEM).
pub async fn load(files: &TlsFiles) -> Result<RustlsConfig, String> {
    install_crypto_provider();
    let stamp = read(files).map_err(|e| describe(&files.cert, &e))?;
    RustlsConfig::from_pem(stamp.cert, stamp.key)
        .await
        .map_err(|e| format!("{} / {}: {e}", files.cert.display(), files.key.display()))
}

/// Polls the files every `interval` and reloads them when they change. A broken pair (a
/// half-written rotation) is logged and the current certificate kept; the next poll retries.
pub fn spawn_reloader(config: RustlsConfig, files: TlsFiles, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut current = read(&files).ok();
        loop {
            tokio::time::sleep(interval).await;
            let Ok(seen) = read(&files) else { continue };
            let changed = current.as_ref().is_none_or(|c| {
                c.cert != seen.cert || c.key != seen.key || c.modified != seen.modified
            });
            if !changed {
                continue;
            }
            if current
                .as_ref()
                .is_some_and(|c| c.cert == seen.cert && c.key == seen.key)
            {
                // Touched, same content: nothing to load.
                current = Some(seen);
                continue;
            }
            match config
                .reload_from_pem(seen.cert.clone(), seen.key.clone())
                .await
            {
                Ok(()) => {
                    eprintln!(
                        "quorate serve: reloaded TLS certificate {}",
                        files.cert.display()
                    );
                    current = Some(seen);
                }
                Err(e) => {
                    eprintln!(
                        "quorate serve: keeping the current TLS certificate: {}: {e}",
                        files.cert.display()
                    );
                }
            }
        }
    })
}
