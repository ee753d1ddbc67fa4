//! `quorate serve`: the router driven in-process (`oneshot`) over every fixture in
//! testdata/admission/ and the real AdmissionReviews of the shared corpus; failure modes, load
//! shedding, probes and metrics; then real sockets: HTTPS with a generated CA and a hyper
//! client, certificate rotation, graceful shutdown, SIGTERM on the binary, cluster lookups
//! against a fake API server serving recorded list and watch responses, connection limits
//! (idle and header timeouts, the cap) and deeply nested objects. Thousands of connections
//! against the binary are in tests/webhook_load.rs, a binary of their own so that their load
//! does not slow the timed tests here.
//!
//! `UPDATE_EXPECT=1 cargo test --test webhook` rewrites the `*.expected.json` files.

mod common;

use common::serve::{closed, connect, leaf, metrics_over, pki, send, tls_files};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use quorate::config::Config;
use quorate::engine::PolicySet;
use quorate::text::SourceText;
use quorate::webhook::{self, AppState, Cache, LookupSource, ServeOptions};
use serde_json::{json, Value};
use tower::ServiceExt;

fn fixtures() -> PathBuf {
    common::root().join("testdata/admission")
}

fn config(yaml: &str) -> Config {
    Config::parse(&SourceText::new("quorate.yaml", yaml)).unwrap()
}

fn state_with(cfg: Config, extra_policies: &[String], opts: &ServeOptions) -> AppState {
    let policies = PolicySet::load(true, extra_policies, cfg.data(), opts.eval_timeout).unwrap();
    AppState::new(policies, cfg, opts, None)
}

fn offline() -> ServeOptions {
    ServeOptions {
        lookups: None,
        ..ServeOptions::default()
    }
}

async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Value, String) {
    let app = webhook::router(state.clone(), Duration::from_secs(8));
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn load_cluster(path: &Path) -> Option<Arc<Cache>> {
    let text = std::fs::read_to_string(path).ok()?;
    let list: Value = serde_json::from_str(&text).unwrap();
    let items = list["items"].as_array().unwrap().clone();
    Some(Arc::new(Cache::from_objects(items)))
}

/// Checks what every answer must satisfy, whatever the policies say.
fn assert_well_formed(name: &str, review: &Value, answer: &Value) {
    assert_eq!(
        answer["apiVersion"], review["apiVersion"],
        "{name}: apiVersion echoed"
    );
    assert_eq!(answer["kind"], "AdmissionReview", "{name}");
    assert_eq!(
        answer["response"]["uid"], review["request"]["uid"],
        "{name}: uid echoed"
    );
    let allowed = answer["response"]["allowed"]
        .as_bool()
        .expect("allowed is a boolean");
    if !allowed {
        assert!(
            answer["response"]["status"]["code"].is_u64(),
            "{name}: denial has a code"
        );
        assert!(
            answer["response"]["status"]["message"].is_string(),
            "{name}: denial has a message"
        );
    }
}

#[tokio::test]
async fn every_fixture_gets_its_expected_answer() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let base = state_with(Config::default(), &[], &offline());
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".expected.json") && !n.ends_with(".cluster.json")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 25, "fixtures missing: {}", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(path).unwrap();
        let state = match load_cluster(&fixtures().join(format!("{name}.cluster.json"))) {
            Some(cache) => base.clone().with_lookups(cache),
            None => base.clone(),
        };
        let (status, answer, _) = call(&state, "POST", "/validate", body.clone()).await;
        let got = json!({"status": status.as_u16(), "body": answer});
        let expected_path = fixtures().join(format!("{name}.expected.json"));
        if update {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&got).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap_or_default())
                .unwrap_or(Value::Null);
        if got != expected {
            failures.push(format!("{name}:\n  got      {got}\n  expected {expected}"));
            continue;
        }
        // The file name says what the answer must be.
        if status == StatusCode::OK {
            let review: Value = serde_json::from_slice(&body).unwrap();
            assert_well_formed(&name, &review, &answer);
            let allowed = answer["response"]["allowed"].as_bool().unwrap();
            assert_eq!(allowed, !name.ends_with("-denied"), "{name}: verdict");
            if name.ends_with("-warned") {
                assert!(
                    answer["response"]["warnings"]
                        .as_array()
                        .is_some_and(|w| !w.is_empty()),
                    "{name}"
                );
            }
            if !allowed {
                assert_eq!(answer["response"]["status"]["code"], 403, "{name}");
                let message = answer["response"]["status"]["message"].as_str().unwrap();
                let rules = answer["response"]["auditAnnotations"]["deny-rules"]
                    .as_str()
                    .unwrap();
                for rule in rules.split(',') {
                    assert!(
                        message.contains(rule),
                        "{name}: message names {rule}: {message}"
                    );
                }
            }
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
            assert!(answer["error"].is_string(), "{name}: JSON error");
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures differ (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn dry_run_is_answered_like_the_real_request() {
    let state = state_with(Config::default(), &[], &offline());
    let cache = load_cluster(&fixtures().join("scale-to-zero-denied.cluster.json")).unwrap();
    let state = state.with_lookups(cache);
    let real = std::fs::read(fixtures().join("scale-to-zero-denied.json")).unwrap();
    let mut dry: Value = serde_json::from_slice(&real).unwrap();
    dry["request"]["dryRun"] = json!(true);
    let (_, a, _) = call(&state, "POST", "/validate", real).await;
    let (_, b, _) = call(
        &state,
        "POST",
        "/validate",
        serde_json::to_vec(&dry).unwrap(),
    )
    .await;
    assert_eq!(a["response"]["allowed"], false);
    assert_eq!(a["response"]["status"], b["response"]["status"]);
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let opts = ServeOptions {
        max_body_bytes: webhook::DEFAULT_MAX_BODY_BYTES,
        ..offline()
    };
    let state = state_with(Config::default(), &[], &opts);
    let mut review: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("scale-to-zero-denied.json")).unwrap(),
    )
    .unwrap();
    review["request"]["object"]["metadata"]["annotations"] =
        json!({"padding": "x".repeat(webhook::DEFAULT_MAX_BODY_BYTES)});
    let body = serde_json::to_vec(&review).unwrap();
    // Without a Content-Length the limit applies while reading; oneshot sends none for a stream.
    let app = webhook::router(state, Duration::from_secs(8));
    let stream = futures::stream::iter(
        body.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let req = Request::post("/validate")
        .body(Body::from_stream(stream))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("8388608-byte limit"),
        "{v}"
    );
}

/// The real AdmissionReviews in the shared corpus: each gets a well-formed answer.
#[tokio::test]
async fn corpus_reviews_get_well_formed_answers() {
    let state = state_with(Config::default(), &[], &offline());
    for path in [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/kubewarden__policy-server/tests/data/pod_with_privileged_containers.json"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/kubewarden__policy-server/tests/data/pod_without_privileged_containers.json"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/kubewarden__policy-server/tests/data/pod_sleep_100ms.json"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/kubernetes__api/testdata/HEAD/admission.k8s.io.v1.AdmissionReview.json"),
    ] {
        let body = std::fs::read(path).unwrap();
        let review: Value = serde_json::from_slice(&body).unwrap();
        let (status, answer, text) = call(&state, "POST", "/validate", body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert_well_formed(path, &review, &answer);
        assert_eq!(answer["response"]["allowed"], true, "{path}: nothing quorate judges");
    }
}

#[tokio::test]
async fn lookup_cache_not_synced_applies_the_failure_mode() {
    let review = std::fs::read(fixtures().join("scale-to-zero-denied.json")).unwrap();
    // Fail closed (default).
    let state = state_with(Config::default(), &[], &offline()).with_lookups(Arc::new(Cache::new()));
    let (_, answer, _) = call(&state, "POST", "/validate", review.clone()).await;
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 503);
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("not synced"));
    let (ready, _, _) = call(&state, "GET", "/readyz", vec![]).await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
    // Allow with a warning when configured.
    let cfg = config("admission:\n  failure_mode: allow\n");
    let state = state_with(cfg, &[], &offline()).with_lookups(Arc::new(Cache::new()));
    let (_, answer, _) = call(&state, "POST", "/validate", review).await;
    assert_eq!(answer["response"]["allowed"], true);
    assert!(answer["response"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("failure_mode is allow"));
    // A workload update carries its own state: judged even without the cache.
    let update = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
    let (_, answer, _) = call(&state, "POST", "/validate", update).await;
    assert_eq!(answer["response"]["status"]["code"], 403, "{answer}");
}

fn policy_dir(rego: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), rego).unwrap();
    let p = dir.path().display().to_string();
    (dir, p)
}

#[tokio::test]
async fn evaluation_errors_fail_closed_unless_configured() {
    let (_dir, p) = policy_dir("package quorate.custom\n\ndeny contains msg if {\n\tn := to_number(input.context.admission.name)\n\tmsg := sprintf(\"%v\", [n])\n}\n");
    let review = std::fs::read(fixtures().join("statefulset-5-to-4-allowed.json")).unwrap();
    let state = state_with(Config::default(), std::slice::from_ref(&p), &offline());
    let (_, answer, _) = call(&state, "POST", "/validate", review.clone()).await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert_eq!(answer["response"]["status"]["code"], 500);
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("policy evaluation failed"));
    let state = state_with(
        config("admission:\n  failure_mode: allow\n"),
        &[p],
        &offline(),
    );
    let (_, answer, _) = call(&state, "POST", "/validate", review).await;
    assert_eq!(answer["response"]["allowed"], true);
    let (_, _, metrics) = call(&state, "GET", "/metrics", vec![]).await;
    assert!(
        metrics.contains("quorate_evaluation_errors_total{reason=\"evaluation\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn overload_is_shed_with_an_answer_not_a_queue() {
    // A policy slow enough to hold the only evaluation slot.
    let (_dir, p) = policy_dir("package quorate.slow\n\ndeny contains msg if {\n\tcount([x | some x in numbers.range(1, 400000)]) < 0\n\tmsg := \"never\"\n}\n");
    let opts = ServeOptions {
        max_concurrent: 1,
        queue_timeout: Duration::from_millis(20),
        eval_timeout: Duration::from_secs(20),
        ..offline()
    };
    let state = state_with(Config::default(), &[p], &opts);
    let review = std::fs::read(fixtures().join("statefulset-5-to-4-allowed.json")).unwrap();
    let slow = tokio::spawn({
        let state = state.clone();
        let review = review.clone();
        async move { call(&state, "POST", "/validate", review).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, answer, _) = call(&state, "POST", "/validate", review).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 429, "{answer}");
    let (_, first, _) = slow.await.unwrap();
    assert_eq!(
        first["response"]["allowed"], true,
        "the first review was judged: {first}"
    );
    let (_, _, metrics) = call(&state, "GET", "/metrics", vec![]).await;
    assert!(metrics.contains("verdict=\"shed\""), "{metrics}");
}

#[tokio::test]
async fn probes_and_metrics() {
    let state = state_with(Config::default(), &[], &offline());
    assert_eq!(
        call(&state, "GET", "/healthz", vec![]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&state, "GET", "/readyz", vec![]).await.0,
        StatusCode::OK
    );
    let body = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
    call(&state, "POST", "/validate", body).await;
    call(&state, "POST", "/validate", b"{".to_vec()).await;
    let (status, _, text) = call(&state, "GET", "/metrics", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "quorate_admission_requests_total{operation=\"UPDATE\",subresource=\"\",resource_kind=\"statefulsets\",dry_run=\"false\",verdict=\"denied\"} 1",
        "quorate_admission_requests_total{operation=\"unknown\",subresource=\"\",resource_kind=\"\",dry_run=\"false\",verdict=\"error\"} 1",
        "quorate_evaluation_errors_total{reason=\"lookup-unavailable\"} 0",
        "quorate_admission_request_duration_seconds_bucket{",
        "quorate_findings_total{rule=\"quorum/multiple-voters-at-once\",severity=\"deny\"} 1",
        // The Prometheus text format (no Accept for OpenMetrics): a counter's HELP names its samples.
        "# HELP quorate_admission_requests_total AdmissionReviews answered",
        "# TYPE quorate_admission_requests_total counter",
    ] {
        assert!(text.contains(want), "metrics lack {want}:\n{text}");
    }
    assert!(!text.contains("# EOF"), "{text}");
    promtool_accepts(&text);
    state.stop();
    assert_eq!(
        call(&state, "GET", "/readyz", vec![]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// `promtool check metrics` (Debian's prometheus package; `.ci/run` installs it and sets
/// QUORATE_REQUIRE_PROMTOOL) accepts the exposition.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let spawned = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("QUORATE_REQUIRE_PROMTOOL").is_none(),
                "promtool is required but does not run: {e}"
            );
            eprintln!("promtool not installed: skipping the promtool check");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- real sockets and TLS

/// Break-glass over the real TLS server: an allowed identity goes through with a warning and
/// audit annotations, any other is refused and told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_through_the_tls_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (files, _) = tls_files(dir.path(), &pki, "glass");
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(files),
        shutdown_grace: Duration::from_secs(2),
        ..offline()
    };
    let state = state_with(
        config("break_glass:\n  allowed: [oncall-leads]\n"),
        &[],
        &opts,
    );
    let running = webhook::start_with(opts, state).await.unwrap();
    let (mut conn, _) = connect(running.addr, &pki.ca_pem).await;
    let fixture = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
    let mut review: Value = serde_json::from_slice(&fixture).unwrap();
    review["request"]["object"]["metadata"]["annotations"]["quorate.dev/break-glass"] =
        json!("INC-4711: members on the failed rack");
    for (user, groups, allowed) in [
        (
            "carol",
            json!(["system:authenticated", "oncall-leads"]),
            true,
        ),
        ("mallory", json!(["system:authenticated"]), false),
    ] {
        review["request"]["userInfo"] = json!({"username": user, "groups": groups});
        let body = serde_json::to_vec(&review).unwrap();
        let (status, text) = send(&mut conn, "POST", "/validate", body).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let r = &answer["response"];
        assert_eq!(r["allowed"], allowed, "{user}: {answer}");
        if allowed {
            assert!(
                r["warnings"][0]
                    .as_str()
                    .unwrap()
                    .contains("break-glass by carol"),
                "{answer}"
            );
            assert!(
                r["auditAnnotations"]["overridden-rules"].is_string(),
                "{answer}"
            );
        } else {
            assert!(
                r["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("break-glass refused: mallory"),
                "{answer}"
            );
        }
    }
    let (_, metrics) = send(&mut conn, "GET", "/metrics", Vec::new()).await;
    assert!(metrics.contains("verdict=\"break-glass\"} 1"), "{metrics}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_reviews_and_reloads_rotated_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (files, der1) = tls_files(dir.path(), &pki, "first");
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(files.clone()),
        tls_reload_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
        ..offline()
    };
    let running = webhook::start(opts).await.unwrap();
    let (mut conn, peer) = connect(running.addr, &pki.ca_pem).await;
    assert_eq!(peer, der1);
    let body = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
    let (status, text) = send(&mut conn, "POST", "/validate", body.clone()).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("quorum/"));

    // Rotate the way a Secret volume does: write new files, swap them in by rename.
    let (cert2, key2, der2) = leaf(&pki, "second");
    std::fs::write(dir.path().join("new.crt"), &cert2).unwrap();
    std::fs::write(dir.path().join("new.key"), &key2).unwrap();
    std::fs::rename(dir.path().join("new.key"), &files.key).unwrap();
    std::fs::rename(dir.path().join("new.crt"), &files.cert).unwrap();
    let mut rotated = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, peer) = connect(running.addr, &pki.ca_pem).await;
        if peer == der2 {
            rotated = true;
            break;
        }
    }
    assert!(rotated, "new connections never saw the new certificate");
    // The connection opened before the rotation still works.
    let (status, _) = send(&mut conn, "GET", "/healthz", vec![]).await;
    assert_eq!(status, 200);

    // A broken rotation (key of another certificate) keeps the current certificate.
    let (_, other_key, _) = leaf(&pki, "third");
    std::fs::write(&files.key, other_key).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (mut conn3, peer) = connect(running.addr, &pki.ca_pem).await;
    assert_eq!(peer, der2);
    assert_eq!(send(&mut conn3, "GET", "/healthz", vec![]).await.0, 200);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_open_requests_and_refuses_new_ones() {
    let (_dir, p) = policy_dir("package quorate.slow\n\ndeny contains msg if {\n\tcount([x | some x in numbers.range(1, 400000)]) < 0\n\tmsg := \"never\"\n}\n");
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        policies: vec![p],
        shutdown_grace: Duration::from_secs(5),
        eval_timeout: Duration::from_secs(20),
        ..offline()
    };
    let running = webhook::start(opts).await.unwrap();
    let addr = running.addr;
    let body = std::fs::read(fixtures().join("statefulset-5-to-4-allowed.json")).unwrap();
    let slow = tokio::spawn(async move {
        let client = reqwest_like(addr);
        client.post(body).await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    running.shutdown().await.unwrap();
    let (status, text) = slow.await.unwrap();
    assert_eq!(status, 200, "the open request finished: {text}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "drain is bounded"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

/// A plain-HTTP hyper client for the `--insecure-http` server.
struct PlainClient(SocketAddr);

fn reqwest_like(addr: SocketAddr) -> PlainClient {
    PlainClient(addr)
}

impl PlainClient {
    async fn post(&self, body: Vec<u8>) -> (u16, String) {
        let tcp = tokio::net::TcpStream::connect(self.0).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(conn);
        send(&mut sender, "POST", "/validate", body).await
    }
}

#[test]
fn serve_requires_tls_files_or_insecure_http() {
    let home = tempfile::tempdir().unwrap();
    let out = common::run_in(home.path(), &["serve", "--no-lookups"]);
    assert_eq!(common::code(&out), 2, "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("--tls-cert"),
        "{}",
        common::stderr(&out)
    );
    let out = common::run_in(
        home.path(),
        &[
            "serve",
            "--no-lookups",
            "--tls-cert",
            "missing.crt",
            "--tls-key",
            "missing.key",
            "--addr",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(common::code(&out), 2);
    assert!(
        common::stderr(&out).contains("missing.crt"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn the_binary_drains_and_exits_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::bin())
        .args([
            "serve",
            "--insecure-http",
            "--no-lookups",
            "--addr",
            "127.0.0.1:0",
            "--shutdown-grace",
            "2s",
        ])
        .current_dir(home.path())
        .env("HOME", home.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("listening on 127.0.0.1:"), "{first}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

// ---------------------------------------------------------------- cluster lookups

/// A fake API server: list and watch endpoints serving recorded JSON from testdata/cluster/.
async fn fake_api_server() -> SocketAddr {
    use axum::extract::{Path as UrlPath, RawQuery};
    use axum::routing::get;
    async fn serve(resource: String, query: Option<String>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let dir = common::root().join("testdata/cluster");
        let watching = query
            .unwrap_or_default()
            .split('&')
            .any(|kv| kv == "watch=true");
        if !watching {
            let text = std::fs::read_to_string(dir.join(format!("{resource}.list.json"))).unwrap();
            return ([("content-type", "application/json")], text).into_response();
        }
        // Recorded watch events, then the stream stays open like a real watch.
        let events = std::fs::read_to_string(dir.join(format!("{resource}.watch.jsonl")))
            .unwrap_or_default();
        let chunks: Vec<Result<String, std::io::Error>> =
            events.lines().map(|l| Ok(format!("{l}\n"))).collect();
        let stream =
            futures::StreamExt::chain(futures::stream::iter(chunks), futures::stream::pending());
        (
            [("content-type", "application/json")],
            Body::from_stream(stream),
        )
            .into_response()
    }
    let app = axum::Router::new()
        .route(
            "/api/v1/{resource}",
            get(|UrlPath(r): UrlPath<String>, RawQuery(q): RawQuery| serve(r, q)),
        )
        .route(
            "/apis/{group}/{version}/{resource}",
            get(
                |UrlPath((_, _, r)): UrlPath<(String, String, String)>, RawQuery(q): RawQuery| {
                    serve(r, q)
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_list_and_watch_a_fake_api_server() {
    let api = fake_api_server().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{api}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: quorate\ncurrent-context: fake\nusers:\n- name: quorate\n  user:\n    token: test-token\n"
        ),
    )
    .unwrap();
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        lookups: Some(LookupSource::Kubeconfig(kubeconfig)),
        shutdown_grace: Duration::from_secs(1),
        ..ServeOptions::default()
    };
    let running = webhook::start(opts).await.unwrap();
    let client = reqwest_like(running.addr);
    let mut synced = false;
    for _ in 0..100 {
        if running.state.is_ready() {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        synced,
        "the lookup cache never synced against the fake API server"
    );
    // Listed state: three ready masters and a PDB; scale 3 -> 0 is refused.
    let (_, text) = client
        .post(std::fs::read(fixtures().join("scale-to-zero-no-lookups-warned.json")).unwrap())
        .await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("removes-all-members"),
        "{answer}"
    );
    // Watched state: the recorded watch marks es-master-2 terminating, so 3 -> 2 is refused
    // as unstable (the Scale alone says nothing about the pods).
    let review = std::fs::read(fixtures().join("scale-down-one-healthy-allowed.json")).unwrap();
    let mut answer = Value::Null;
    for _ in 0..60 {
        let (_, text) = client.post(review.clone()).await;
        answer = serde_json::from_str(&text).unwrap();
        if answer["response"]["allowed"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        answer["response"]["allowed"], false,
        "the watched change never arrived: {answer}"
    );
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("unstable/members-in-transition") && message.contains("es-master-2"),
        "{message}"
    );
    running.shutdown().await.unwrap();
}

/// The admission model is the published policy input: every fixture's input matches
/// schemas/input.schema.json (`quorate schema input`).
#[test]
fn admission_input_matches_the_published_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/input.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let now = chrono::Utc::now();
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".expected.json") || name.ends_with(".cluster.json") {
            continue;
        }
        let Ok(review) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
        else {
            continue;
        };
        let cache = load_cluster(&fixtures().join(name.replace(".json", ".cluster.json")));
        let view = cache.and_then(|c| {
            let req = quorate::sources::admission::Request::parse(&review["request"])?;
            Some(c.view(&quorate::sources::admission::target(&req)?))
        });
        let set = quorate::sources::admission::build(
            &review["request"],
            view.as_ref(),
            &Config::default(),
            now,
        );
        let input = serde_json::to_value(&set).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&input)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        checked += 1;
    }
    assert!(checked >= 25);
}

/// Bad input never crashes the adapter: every node of every fixture's request replaced in turn
/// by null, a number, a string, an array and an empty object.
#[test]
fn mangled_requests_never_panic() {
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.push(p.clone());
                    pointers(x, p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    pointers(x, p, out);
                }
            }
            _ => {}
        }
    }
    let now = chrono::Utc::now();
    let cfg = Config::default();
    let cache = load_cluster(&fixtures().join("scale-to-zero-denied.cluster.json")).unwrap();
    let mut runs = 0;
    for name in [
        "scale-to-zero-denied.json",
        "delete-pod-while-another-not-ready-denied.json",
        "statefulset-5-to-3-denied.json",
        "elasticsearch-masters-3-to-1-denied.json",
    ] {
        let review: Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap();
        let mut paths = Vec::new();
        pointers(&review["request"], String::new(), &mut paths);
        for p in paths {
            for replacement in [Value::Null, json!(-1), json!("x"), json!([1]), json!({})] {
                let mut req = review["request"].clone();
                *req.pointer_mut(&p).unwrap() = replacement;
                let view = quorate::sources::admission::Request::parse(&req)
                    .and_then(|r| quorate::sources::admission::target(&r))
                    .map(|t| cache.view(&t));
                let set = quorate::sources::admission::build(&req, view.as_ref(), &cfg, now);
                assert!(serde_json::to_string(&set).is_ok());
                runs += 1;
            }
        }
    }
    assert!(runs > 500, "{runs}");
}

/// conftest-style policies (package `main`) see the admitted object as `input`, like
/// `conftest test` sees a manifest; a DELETE carries no object and is not judged by them.
#[tokio::test]
async fn conftest_policies_judge_the_admitted_object() {
    let (_dir, p) = policy_dir("package main\n\ndeny contains msg if {\n\tinput.kind == \"StatefulSet\"\n\tnot input.metadata.labels.team\n\tmsg := sprintf(\"%s has no team label\", [input.metadata.name])\n}\n");
    let state = state_with(Config::default(), std::slice::from_ref(&p), &offline());
    let review = std::fs::read(fixtures().join("statefulset-5-to-4-allowed.json")).unwrap();
    let (_, answer, _) = call(&state, "POST", "/validate", review).await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert_eq!(answer["response"]["status"]["code"], 403);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("etcd has no team label"), "{answer}");
    assert!(
        answer["response"]["auditAnnotations"]["deny-rules"]
            .as_str()
            .unwrap_or_default()
            .contains("main/deny"),
        "{answer}"
    );

    let delete = std::fs::read(fixtures().join("delete-statefulset-denied.json")).unwrap();
    let (_, answer, _) = call(&state, "POST", "/validate", delete).await;
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(!message.contains("team label"), "{answer}");
    assert!(message.contains("quorum/removes-all-members"), "{answer}");
}

// ---------------------------------------------------------------- connection limits

/// A TLS server on 127.0.0.1 with `opts` and `cfg` (address and certificate set here).
async fn tls_server(
    opts: ServeOptions,
    cfg: Config,
) -> (webhook::Running, common::serve::Pki, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (files, _) = tls_files(dir.path(), &pki, "limits");
    let opts = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(files),
        shutdown_grace: Duration::from_secs(1),
        ..opts
    };
    let state = state_with(cfg, &opts.policies.clone(), &opts);
    let running = webhook::start_with(opts, state).await.unwrap();
    (running, pki, dir)
}

/// Reads until `want` has arrived, the connection ends, or (a hang) 30 s pass.
async fn read_until(stream: &mut common::serve::TlsStream, want: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while !got.windows(want.len()).any(|w| w == want) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let opts = ServeOptions {
        idle_timeout: Duration::from_millis(800),
        header_timeout: Duration::from_secs(60),
        ..offline()
    };
    let (running, pki, _dir) = tls_server(opts, Config::default()).await;
    let (mut conn, _) = connect(running.addr, &pki.ca_pem).await;
    // Requests closer together than the idle timeout keep the connection open.
    for _ in 0..5 {
        assert_eq!(send(&mut conn, "GET", "/healthz", vec![]).await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!conn.is_closed(), "closed while in use");
    // Then nothing: the server closes it (the deadline only detects a hang).
    assert!(
        common::serve::closed_within(&conn, Duration::from_secs(30)).await,
        "an idle keep-alive connection was still open after 30 s"
    );
    let (mut other, _) = connect(running.addr, &pki.ca_pem).await;
    let metrics = metrics_over(&mut other).await;
    assert_eq!(closed(&metrics, "idle-timeout"), Some(1.0), "{metrics}");
    assert_eq!(closed(&metrics, "header-timeout"), Some(0.0), "{metrics}");
    running.shutdown().await.unwrap();
}

/// The same over HTTP/2 (what the API server negotiates when offered): a connection without a
/// stream in progress is closed after the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let opts = ServeOptions {
        idle_timeout: Duration::from_millis(800),
        header_timeout: Duration::from_secs(60),
        ..offline()
    };
    let (running, pki, _dir) = tls_server(opts, Config::default()).await;
    let mut conn = common::serve::connect_h2(running.addr, &pki.ca_pem).await;
    for _ in 0..5 {
        assert_eq!(
            common::serve::get_h2(&mut conn, "/healthz").await,
            (200, "ok\n".to_string())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!conn.is_closed(), "closed while in use");
    let started = tokio::time::Instant::now();
    while !conn.is_closed() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "an idle HTTP/2 connection was still open after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut other, _) = connect(running.addr, &pki.ca_pem).await;
    let metrics = metrics_over(&mut other).await;
    assert_eq!(closed(&metrics, "idle-timeout"), Some(1.0), "{metrics}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_dribbled_on_a_keep_alive_connection_is_cut_after_the_header_timeout() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;
    let opts = ServeOptions {
        idle_timeout: Duration::from_secs(60),
        header_timeout: Duration::from_secs(1),
        ..offline()
    };
    let (running, pki, _dir) = tls_server(opts, Config::default()).await;
    let mut tls = common::serve::tls_stream(running.addr, &pki.ca_pem).await;
    // The first request, at full speed: answered, and the connection kept alive.
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let first = read_until(&mut tls, b"\r\n\r\nok\n").await;
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.starts_with("HTTP/1.1 200") && first.ends_with("ok\n"),
        "{first}"
    );
    // The second, one byte a second: it would take 90 s to send.
    let head: &'static [u8] = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-slow: 01234567890123456789012345678901234567\r\n\r\n";
    assert_eq!(head.len(), 90);
    let (mut rd, mut wr) = tokio::io::split(tls);
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let sent = sent.clone();
        async move {
            for b in head {
                if wr.write_all(&[*b]).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let cut = tokio::time::timeout(Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    let got = cut.expect("the dribbled request head was not cut within 30 s");
    assert!(
        got.is_empty(),
        "an incomplete head got an answer: {}",
        String::from_utf8_lossy(&got)
    );
    let sent = sent.load(Ordering::SeqCst);
    assert!(
        (1..head.len()).contains(&sent),
        "cut after {sent} of {} bytes",
        head.len()
    );
    let (mut other, _) = connect(running.addr, &pki.ca_pem).await;
    let metrics = metrics_over(&mut other).await;
    assert_eq!(closed(&metrics, "header-timeout"), Some(1.0), "{metrics}");
    assert_eq!(closed(&metrics, "idle-timeout"), Some(0.0), "{metrics}");
    running.shutdown().await.unwrap();
}

/// A request head is held to 64 KiB (hyper's default buffer is ~400 KiB per connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused_with_431() {
    use tokio::io::AsyncWriteExt;
    let (running, pki, _dir) = tls_server(offline(), Config::default()).await;
    let mut tls = common::serve::tls_stream(running.addr, &pki.ca_pem).await;
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    // The server may stop reading before the whole head is in: a failed write is fine.
    let _ = tls.write_all(head.as_bytes()).await;
    let answer = read_until(&mut tls, b"\r\n\r\n").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_the_longest_idle_connection_makes_room() {
    let opts = ServeOptions {
        max_connections: 3,
        idle_timeout: Duration::from_secs(60),
        header_timeout: Duration::from_secs(60),
        ..offline()
    };
    let (running, pki, _dir) = tls_server(opts, Config::default()).await;
    let mut conns = Vec::new();
    for _ in 0..3 {
        let (mut c, _) = connect(running.addr, &pki.ca_pem).await;
        assert_eq!(send(&mut c, "GET", "/healthz", vec![]).await.0, 200);
        conns.push(c);
    }
    // A fourth connection is served; the one idle longest is closed to make room.
    let (mut fourth, _) = connect(running.addr, &pki.ca_pem).await;
    assert_eq!(send(&mut fourth, "GET", "/healthz", vec![]).await.0, 200);
    assert!(
        common::serve::closed_within(&conns[0], Duration::from_secs(30)).await,
        "the longest-idle connection was not closed"
    );
    for c in &mut conns[1..] {
        assert!(!c.is_closed());
        assert_eq!(send(c, "GET", "/healthz", vec![]).await.0, 200);
    }
    assert_eq!(running.open_connections(), 3);
    let metrics = metrics_over(&mut fourth).await;
    assert_eq!(closed(&metrics, "evicted"), Some(1.0), "{metrics}");
    assert_eq!(
        common::serve::metric(&metrics, "quorate_connections_open"),
        Some(3.0),
        "{metrics}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_with_every_connection_busy_a_new_one_is_refused() {
    use tokio::io::AsyncWriteExt;
    let opts = ServeOptions {
        max_connections: 2,
        request_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        header_timeout: Duration::from_secs(60),
        ..offline()
    };
    let (running, pki, _dir) = tls_server(opts, Config::default()).await;
    // Two requests in progress: their heads are in, their bodies never come.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut tls = common::serve::tls_stream(running.addr, &pki.ca_pem).await;
        tls.write_all(b"POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{")
            .await
            .unwrap();
        busy.push(tls);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let refused = common::serve::tls_connector(&pki.ca_pem)
        .connect(name, tcp)
        .await;
    assert!(
        refused.is_err(),
        "a third connection was accepted while both slots were busy"
    );
    // The busy requests are still served: finish one, and a new connection gets in.
    let rest = vec![b' '; 99];
    busy[0].write_all(&rest).await.unwrap();
    let answer = read_until(&mut busy[0], b"\"error\"").await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (mut conn, _) = connect(running.addr, &pki.ca_pem).await;
    let metrics = metrics_over(&mut conn).await;
    assert_eq!(closed(&metrics, "refused"), Some(1.0), "{metrics}");
    assert_eq!(closed(&metrics, "evicted"), Some(1.0), "{metrics}");
    running.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- deeply nested objects

/// `levels` nested objects around `leaf` (JSON text: serializing a value this deep would
/// recurse once per level).
fn nested(levels: usize, leaf: &str) -> String {
    format!("{}{leaf}{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

/// `fixture` with `value` (JSON text) as `spec.deep` of its object (or old object): the object
/// then nests 2 levels more than `value` does.
fn with_deep_value(fixture: &str, side: &str, value: &str) -> Vec<u8> {
    let mut review: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(fixture)).unwrap()).unwrap();
    review["request"][side]["spec"]["deep"] = json!("@DEEP@");
    serde_json::to_string(&review)
        .unwrap()
        .replace("\"@DEEP@\"", value)
        .into_bytes()
}

/// An ECK `Elasticsearch` as it looks in a real cluster: every node set carries a full pod
/// template and volume claim templates (from the every-field StatefulSet of the Kubernetes API
/// round-trip fixtures), 16 levels deep.
fn deep_eck(fixture: &str) -> Vec<u8> {
    let sts: Value = serde_json::from_slice(
        &std::fs::read(
            common::corpus().join("kubernetes__api/testdata/HEAD/apps.v1.StatefulSet.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut review: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(fixture)).unwrap()).unwrap();
    for side in ["object", "oldObject"] {
        for set in review["request"][side]["spec"]["nodeSets"]
            .as_array_mut()
            .unwrap()
        {
            set["podTemplate"] = sts["spec"]["template"].clone();
            set["volumeClaimTemplates"] = sts["spec"]["volumeClaimTemplates"].clone();
        }
    }
    serde_json::to_vec(&review).unwrap()
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Deep objects through the real TLS server, with `failure_mode: allow`: up to the limit they
/// are judged (a policy that walks the whole object finds a value at the bottom); beyond it
/// (123 levels inside the spec, as in the report that found it, or 10,000) they are denied
/// with the depth and the limit, not allowed as "could not judge"; an ECK Elasticsearch
/// with full pod templates is judged like its shallow original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_objects_are_judged_up_to_the_limit_and_denied_beyond_it() {
    let (_pdir, p) = policy_dir("package quorate.needle\n\ndeny contains msg if {\n\twalk(input.changes[_].after, [path, value])\n\tvalue == \"needle\"\n\tmsg := sprintf(\"needle found %d levels down\", [count(path)])\n}\n");
    let opts = ServeOptions {
        policies: vec![p],
        ..offline()
    };
    let cfg = || config("admission:\n  failure_mode: allow\n");
    let (running, pki, _dir) = tls_server(opts, cfg()).await;
    let (mut conn, _) = connect(running.addr, &pki.ca_pem).await;
    let limit = webhook::review::MAX_OBJECT_DEPTH;
    let mut ask = async |body: Vec<u8>| {
        let (status, text) = send(&mut conn, "POST", "/validate", body).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        answer["response"].clone()
    };

    // At the limit: judged, all the way down.
    let at_limit = with_deep_value(
        "statefulset-5-to-4-allowed.json",
        "object",
        &nested(limit - 2, "\"needle\""),
    );
    let object = &serde_json::from_slice::<Value>(&at_limit).unwrap()["request"]["object"];
    assert_eq!(depth(object), limit);
    let r = ask(at_limit).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(
        r["status"]["message"],
        format!("quorate: quorate.needle: needle found {limit} levels down")
    );

    // Beyond it: denied, whatever the failure mode says.
    for (side, levels, fixture) in [
        ("object", limit - 1, "statefulset-5-to-4-allowed.json"),
        ("object", 123, "statefulset-5-to-4-allowed.json"),
        ("object", 10_000, "statefulset-5-to-4-allowed.json"),
        ("oldObject", 10_000, "delete-statefulset-denied.json"),
    ] {
        let review = with_deep_value(fixture, side, &nested(levels, "\"needle\""));
        let original: Value =
            serde_json::from_slice(&std::fs::read(fixtures().join(fixture)).unwrap()).unwrap();
        let uid = &original["request"]["uid"];
        let r = ask(review).await;
        let what = if side == "object" {
            "the object"
        } else {
            "the old object"
        };
        assert_eq!(&r["uid"], uid, "{r}");
        assert_eq!(r["allowed"], false, "{side} {levels}: {r}");
        assert_eq!(r["status"]["code"], 422, "{r}");
        assert_eq!(
            r["status"]["message"],
            format!(
                "quorate: {what} is nested {} levels deep; quorate judges objects nested up to {limit} levels and denies deeper ones, whatever admission.failure_mode says",
                levels + 2
            ),
            "{r}"
        );
        assert!(r.get("warnings").is_none(), "{r}");
    }

    // A realistic deep CRD object is judged like its shallow original.
    for fixture in [
        "elasticsearch-masters-3-to-1-denied.json",
        "elasticsearch-data-4-to-5-allowed.json",
    ] {
        let deep = deep_eck(fixture);
        let object = &serde_json::from_slice::<Value>(&deep).unwrap()["request"]["object"];
        assert_eq!(depth(object), 16, "{fixture}");
        let shallow = ask(std::fs::read(fixtures().join(fixture)).unwrap()).await;
        let r = ask(deep).await;
        assert_eq!(r, shallow, "{fixture}");
        assert_eq!(r["allowed"], !fixture.ends_with("-denied.json"), "{r}");
        assert!(!r.to_string().contains("could not judge"), "{r}");
        if r["allowed"] == false {
            assert!(
                r["status"]["message"].as_str().unwrap().contains("quorum/"),
                "{r}"
            );
        }
    }
    running.shutdown().await.unwrap();
}

/// A policy that grows a string without bound is stopped at `--max-policy-memory` and answered
/// by the failure mode, while reviews beside it and after it are judged as usual; the server's
/// peak memory stays near the budget (measured from the binary's own VmHWM).
#[test]
fn a_policy_stopped_at_its_memory_limit_leaves_other_reviews_judged() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    // Only for the StatefulSet named "hog": a 1 MB string doubled 14 times (16 GB).
    let mut rego = String::from(
        "package quorate.user\n\nhog if {\n  some c in input.changes\n  c.name == \"hog\"\n}\n\ns0 := concat(\"\", [\"xxxxxxxxxx\" | hog; some i in numbers.range(1, 100000)])\n",
    );
    for k in 1..15 {
        rego.push_str(&format!("s{k} := concat(\"\", [s{}, s{}])\n", k - 1, k - 1));
    }
    rego.push_str("\ndeny contains msg if {\n  hog\n  msg := sprintf(\"%d\", [count(s14)])\n}\n");
    std::fs::write(policy.join("hog.rego"), rego).unwrap();
    let pki = pki();
    let (files, _) = tls_files(dir.path(), &pki, "hog");
    let (cert, key, policy) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
        policy.display().to_string(),
    );
    let server = common::serve::ServeChild::start(
        dir.path(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--no-lookups",
            "--addr",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--policy",
            &policy,
            "--max-policy-memory",
            "256MiB",
            "--max-concurrent",
            "2",
            "--eval-timeout",
            "20s",
            "--request-timeout",
            "30s",
        ],
    );
    let addr = server.addr;
    let normal = std::fs::read(fixtures().join("statefulset-5-to-3-denied.json")).unwrap();
    let mut hog: Value = serde_json::from_slice(&normal).unwrap();
    hog["request"]["name"] = json!("hog");
    for side in ["object", "oldObject"] {
        hog["request"][side]["metadata"]["name"] = json!("hog");
    }
    let hog = serde_json::to_vec(&hog).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let message = |body: &str| {
        let v: Value = serde_json::from_str(body).unwrap();
        (
            v["response"]["allowed"].as_bool(),
            v["response"]["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    let (hogged, beside, after) = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), async {
            let ca = pki.ca_pem.clone();
            let (mut a, _) = connect(addr, &ca).await;
            let (mut b, _) = connect(addr, &ca).await;
            let (hogged, beside) = tokio::join!(
                send(&mut a, "POST", "/validate", hog.clone()),
                send(&mut b, "POST", "/validate", normal.clone()),
            );
            let after = send(&mut b, "POST", "/validate", normal.clone()).await;
            (hogged, beside, after)
        })
        .await
        .expect("the reviews were not answered within 120 s")
    });
    let (allowed, msg) = message(&hogged.1);
    assert_eq!(
        allowed,
        Some(false),
        "the failure mode (deny) answers the hog: {}",
        hogged.1
    );
    assert!(msg.contains("memory limit"), "{msg}");
    for (what, answer) in [("beside", &beside), ("after", &after)] {
        let (allowed, msg) = message(&answer.1);
        assert_eq!(allowed, Some(false), "{what}: {}", answer.1);
        assert!(
            msg.contains("quorum/") && !msg.contains("memory"),
            "{what}: judged as usual, not failed: {msg}"
        );
    }
    let peak = server.status_kib("VmHWM");
    eprintln!("peak RSS with a 256 MiB policy budget: {} MiB", peak >> 10);
    assert!(peak < 1 << 20, "peak RSS {} MiB, over 1 GiB", peak >> 10);
}
