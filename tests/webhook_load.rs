//! `quorate serve` under thousands of idle keep-alive connections: the real binary as a child
//! process, real TLS, held to the open-file limits containers give it; `/healthz` and reviews
//! must still be answered, and the peak RSS under the load is printed
//! (`cargo test --test webhook_load -- --nocapture`). A binary of its own: its load would slow
//! the timed tests of tests/webhook.rs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::serve::{closed, connect, metrics_over, pki, send, tls_files};
use quorate::webhook;
use serde_json::Value;

fn fixtures() -> std::path::PathBuf {
    common::root().join("testdata/admission")
}

/// What an idle-connection load did to the `quorate serve` binary.
struct IdleLoad {
    closed_by_server: usize,
    open_after: f64,
    evicted: f64,
    peak_rss_kib: u64,
    /// The binary's stderr before it listened (warnings about its limits).
    before: Vec<String>,
}

/// Runs the binary with `args` and the open-file limit `nofile` (soft, hard; `None`: this
/// process's), opens `n` TLS connections that each make one request and then stay idle
/// (keep-alive), and checks that `/healthz` and a review are still answered on a new
/// connection while they are held. The deadlines only detect a wedged server.
fn idle_load(n: usize, args: &[&str], nofile: Option<(u64, u64)>) -> IdleLoad {
    let (soft, _) = common::serve::raise_nofile_limit();
    assert!(
        soft as usize > n + 200,
        "the open-file limit ({soft}) is too low for {n} client connections"
    );
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (files, _) = tls_files(dir.path(), &pki, "load");
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let mut all = vec![
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--no-lookups",
        "--addr",
        "127.0.0.1:0",
        "--log-level",
        "warn",
    ];
    all.extend_from_slice(args);
    let server = common::serve::ServeChild::start_with(dir.path(), &all, nofile);
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let ca = Arc::new(pki.ca_pem.clone());
        let mut idle = Vec::with_capacity(n);
        let opened = tokio::time::timeout(Duration::from_secs(120), async {
            while idle.len() < n {
                let batch: Vec<_> = (0..50.min(n - idle.len()))
                    .map(|_| {
                        let ca = ca.clone();
                        tokio::spawn(async move {
                            let (mut c, _) = connect(addr, &ca).await;
                            assert_eq!(send(&mut c, "GET", "/healthz", vec![]).await.0, 200);
                            c
                        })
                    })
                    .collect();
                for t in batch {
                    idle.push(t.await.unwrap());
                }
            }
        })
        .await;
        assert!(
            opened.is_ok(),
            "the server stopped answering after {} connections",
            idle.len()
        );
        // While they are held: a probe and a review on a new connection.
        let body = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
        let (health, answer, metrics) = tokio::time::timeout(Duration::from_secs(60), async {
            let (mut c, _) = connect(addr, &ca).await;
            let health = send(&mut c, "GET", "/healthz", vec![]).await;
            let (_, answer) = send(&mut c, "POST", "/validate", body).await;
            // Evictions finish asynchronously: wait until the counts have settled.
            let mut metrics = metrics_over(&mut c).await;
            for _ in 0..100 {
                let open = common::serve::metric(&metrics, "quorate_connections_open");
                let evicted = closed(&metrics, "evicted").unwrap_or(0.0);
                if open.unwrap_or(0.0) + evicted >= (n + 1) as f64 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                metrics = metrics_over(&mut c).await;
            }
            (health, answer, metrics)
        })
        .await
        .expect("/healthz and a review were not answered within 60 s");
        assert_eq!(health, (200, "ok\n".to_string()));
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
        assert!(
            answer["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains("quorum/"),
            "{answer}"
        );
        IdleLoad {
            closed_by_server: idle.iter().filter(|c| c.is_closed()).count(),
            open_after: common::serve::metric(&metrics, "quorate_connections_open").unwrap(),
            evicted: closed(&metrics, "evicted").unwrap(),
            peak_rss_kib: server.status_kib("VmHWM"),
            before: server.before.clone(),
        }
    })
}

/// 2,000 idle keep-alive connections against the default `--max-connections` (900), in a
/// process held to the common container limit of 1,024 open files (which 2,000 connections
/// exhaust without a cap): the longest-idle ones are closed to make room, and the webhook
/// keeps answering.
#[test]
fn two_thousand_idle_connections_under_the_default_limit() {
    let load = idle_load(2000, &[], Some((1024, 1024)));
    eprintln!(
        "2,000 idle connections, default limit: {} closed by the server, {} open, peak RSS {} KiB",
        load.closed_by_server, load.open_after, load.peak_rss_kib
    );
    assert!(load.before.is_empty(), "{:?}", load.before);
    assert_eq!(load.open_after, webhook::DEFAULT_MAX_CONNECTIONS as f64);
    // 2,000 idle + the probe, at most 900 open: 1,101 closed to make room.
    assert_eq!(load.evicted, 1101.0);
    assert!(load.closed_by_server >= 1100, "{}", load.closed_by_server);
}

/// 2,000 idle keep-alive connections all held open (`--max-connections 2100`), the binary
/// started with a soft open-file limit of 1,024 that it raises to the hard limit: `/healthz`
/// and reviews are still answered. Prints the peak RSS under that load.
#[test]
fn two_thousand_idle_connections_held_open() {
    let (_, hard) = common::serve::raise_nofile_limit();
    let load = idle_load(2000, &["--max-connections", "2100"], Some((1024, hard)));
    eprintln!(
        "2,000 idle connections held open: peak RSS {} KiB ({} MiB)",
        load.peak_rss_kib,
        load.peak_rss_kib / 1024
    );
    assert!(load.before.is_empty(), "{:?}", load.before);
    assert_eq!(load.closed_by_server, 0);
    assert_eq!(load.evicted, 0.0);
    assert_eq!(load.open_after, 2001.0);
    // The Deployment's memory limit (deploy/base/deployment.yaml) is 512 MiB.
    assert!(load.peak_rss_kib < 512 * 1024, "{} KiB", load.peak_rss_kib);
}

/// With fewer open files than `--max-connections` needs, the limit is lowered to fit (and
/// said so), and the webhook keeps answering past it.
#[test]
fn max_connections_is_lowered_to_fit_the_open_file_limit() {
    let load = idle_load(400, &[], Some((256, 256)));
    assert_eq!(
        load.before,
        ["quorate serve: --max-connections 900 lowered to 192: the open-file limit is 256"]
    );
    assert_eq!(load.open_after, 192.0);
    assert_eq!(load.evicted, 401.0 - 192.0);
}
