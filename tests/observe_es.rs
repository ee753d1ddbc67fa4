//! `--observe es=URL`: `_cluster/health` and `_cat/nodes` over HTTPS (a local server with a
//! generated CA), with API-key or basic auth from the environment, for the group quorate.yaml
//! declares with the cluster's name among its `aliases`.

use crate::common;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{json, Value};

const NOW: &str = "2026-11-24T10:00:00Z";
// "elastic:changeme"
const BASIC: &str = "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==";

fn authorized(h: &HeaderMap) -> bool {
    let a = h.get("authorization").and_then(|v| v.to_str().ok());
    a == Some("ApiKey test-key") || a == Some(BASIC)
}

async fn es_server(cert: String, key: String) -> SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let health = |h: HeaderMap| async move {
        if !authorized(&h) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"type": "security_exception", "reason": "missing authentication credentials for REST request [/_cluster/health]"}, "status": 401})),
            )
                .into_response();
        }
        axum::Json(json!({
            "cluster_name": "search-prod-es", "status": "yellow", "timed_out": false,
            "number_of_nodes": 3, "number_of_data_nodes": 3, "active_primary_shards": 40,
            "active_shards": 78, "relocating_shards": 2, "initializing_shards": 0,
            "unassigned_shards": 2
        }))
        .into_response()
    };
    let nodes = |h: HeaderMap| async move {
        if !authorized(&h) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        axum::Json(json!([
            {"name": "es-0", "id": "aB3d", "ip": "10.0.1.10", "node.role": "cdfhilmrstw", "version": "8.15.3", "master": "*"},
            {"name": "es-1", "id": "Xy9z", "ip": "10.0.2.10", "node.role": "cdfhilmrstw", "version": "8.15.3", "master": "-"},
            {"name": "es-2", "id": "Qw7e", "ip": "10.0.3.10", "node.role": "cdfhilmrstw", "version": "8.15.3", "master": "-"}
        ]))
        .into_response()
    };
    let app = axum::Router::new()
        .route("/_cluster/health", get(health))
        .route("/_cat/nodes", get(nodes));
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(cert.into_bytes(), key.into_bytes())
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .unwrap()
            .serve(app.into_make_service())
            .await
            .unwrap()
    });
    addr
}

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(common::bin());
    c.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("ES_API_KEY")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .env("ES_CA_CERT", dir.join("ca.pem"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_es_reads_health_and_nodes_over_https_for_the_aliased_group() {
    let pki = common::serve::pki();
    let (cert, key, _) = common::serve::leaf(&pki, "es");
    let addr = es_server(cert, key).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        common::aws::asg_plan(&[("search", "search-prod", 3, 2)]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("quorate.yaml"),
        "groups:\n  search-prod:\n    quorum: majority\n    aliases: [search-prod-es]\n",
    )
    .unwrap();
    let url = format!("es=https://127.0.0.1:{}", addr.port());
    let dir_path = dir.path().to_path_buf();

    let (emitted, judged, basic, anonymous) = tokio::task::spawn_blocking(move || {
        let base = [
            "check",
            "plan.json",
            "--observe",
            url.as_str(),
            "--now",
            NOW,
        ];
        let d = dir_path.as_path();
        let mut emit = base.to_vec();
        emit.push("--emit-input");
        (
            run(d, &emit, &[("ES_API_KEY", "test-key")]),
            run(d, &base, &[("ES_API_KEY", "test-key")]),
            run(
                d,
                &base,
                &[("ES_USERNAME", "elastic"), ("ES_PASSWORD", "changeme")],
            ),
            run(d, &base, &[]),
        )
    })
    .await
    .unwrap();

    assert_eq!(common::code(&emitted), 0, "{}", common::stderr(&emitted));
    let set: Value = serde_json::from_str(&common::stdout(&emitted)).unwrap();
    let g = &set["observed"]["groups"]["search-prod"];
    assert_eq!(g["health"], "yellow", "{g:#}");
    assert_eq!(g["in_progress"], json!(["shard-relocation"]));
    let names: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["es-0", "es-1", "es-2"]);
    assert!(g["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["voter"] == true));
    assert_eq!(g["taken_at"], NOW, "observed when fetched");
    assert!(set["observed"]["groups"].get("search-prod-es").is_none());

    assert_eq!(common::code(&judged), 1, "{}", common::stderr(&judged));
    let report = common::stdout(&judged);
    assert!(report.contains("unstable/health-not-green"), "{report}");
    assert!(report.contains("search-prod health is yellow"), "{report}");
    assert_eq!(
        common::code(&basic),
        1,
        "basic auth works too: {}",
        common::stderr(&basic)
    );

    let err = common::stderr(&anonymous);
    assert_eq!(common::code(&anonymous), 2, "{err}");
    assert!(err.contains("/_cluster/health: HTTP 401"), "{err}");
    assert!(err.contains("ES_API_KEY"), "{err}");
}

#[test]
fn observe_es_refuses_urls_that_are_not_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        common::aws::asg_plan(&[("search", "search-prod", 3, 2)]),
    )
    .unwrap();
    let out = common::run_in(
        dir.path(),
        &["check", "plan.json", "--observe", "es=search.internal:9200"],
    );
    assert_eq!(common::code(&out), 2);
    assert!(common::stderr(&out).contains("is not an http(s) URL"));
}
