//! `--observe kube`: the workload a manifest changes, its pods, PDBs and HPAs, read from a fake
//! API server serving the recorded objects of testdata/cluster/ (the webhook's lookup
//! fixtures; the recorded watch event that marks es-master-2 terminating is applied).

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{json, Value};

const NOW: &str = "2026-11-24T10:00:00Z";

fn recorded(resource: &str) -> Vec<Value> {
    let dir = common::root().join("testdata/cluster");
    let list: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{resource}.list.json"))).unwrap(),
    )
    .unwrap();
    let mut items = list["items"].as_array().unwrap().clone();
    // The recorded watch's changes, as a later list would show them.
    if let Ok(events) = std::fs::read_to_string(dir.join(format!("{resource}.watch.jsonl"))) {
        for e in events
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
        {
            if e["type"] != "MODIFIED" {
                continue;
            }
            let name = &e["object"]["metadata"]["name"];
            if let Some(i) = items.iter_mut().find(|i| &i["metadata"]["name"] == name) {
                *i = e["object"].clone();
            }
        }
    }
    items
}

type Log = Arc<Mutex<Vec<String>>>;

async fn api_server() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    async fn one(
        State(log): State<Log>,
        UrlPath((_, _, ns, resource, name)): UrlPath<(String, String, String, String, String)>,
    ) -> axum::response::Response {
        log.lock()
            .unwrap()
            .push(format!("GET {resource} {ns}/{name}"));
        match recorded(&resource)
            .into_iter()
            .find(|i| i["metadata"]["namespace"] == ns && i["metadata"]["name"] == name)
        {
            Some(o) => axum::Json(o).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": format!("{resource} \"{name}\" not found"), "reason": "NotFound", "code": 404})),
            )
                .into_response(),
        }
    }
    fn list(
        log: &Log,
        ns: &str,
        resource: &str,
        query: Option<String>,
    ) -> axum::response::Response {
        let query = query.unwrap_or_default();
        log.lock()
            .unwrap()
            .push(format!("LIST {resource} {ns} {query}"));
        let selector: Vec<(String, String)> = query
            .split('&')
            .filter_map(|kv| kv.strip_prefix("labelSelector="))
            .flat_map(|s| {
                s.replace("%3D", "=")
                    .replace("%2C", ",")
                    .split(',')
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let items: Vec<Value> = if resource == "horizontalpodautoscalers" {
            Vec::new()
        } else {
            recorded(resource)
                .into_iter()
                .filter(|i| i["metadata"]["namespace"] == ns)
                .filter(|i| {
                    selector
                        .iter()
                        .all(|(k, v)| i["metadata"]["labels"][k] == v.as_str())
                })
                .collect()
        };
        axum::Json(json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "184510"}, "items": items})).into_response()
    }
    let app = axum::Router::new()
        .route(
            "/apis/{group}/{version}/namespaces/{ns}/{resource}/{name}",
            get(one),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{ns}/{resource}",
            get(
                |State(log): State<Log>,
                 UrlPath((_, _, ns, r)): UrlPath<(String, String, String, String)>,
                 RawQuery(q): RawQuery| async move { list(&log, &ns, &r, q) },
            ),
        )
        .route(
            "/api/v1/namespaces/{ns}/{resource}",
            get(
                |State(log): State<Log>,
                 UrlPath((ns, r)): UrlPath<(String, String)>,
                 RawQuery(q): RawQuery| async move { list(&log, &ns, &r, q) },
            ),
        )
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, log)
}

fn kubeconfig(dir: &std::path::Path, server: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: quorate\ncurrent-context: fake\nusers:\n- name: quorate\n  user:\n    token: test-token\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: es-master
  namespace: search
spec:
  replicas: 2
  serviceName: es-master
  selector:
    matchLabels:
      app: es-master
  template:
    metadata:
      labels:
        app: es-master
    spec:
      containers:
        - name: elasticsearch
          image: docker.elastic.co/elasticsearch/elasticsearch:8.15.3
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_kube_reads_the_changed_workload_its_pods_and_pdbs() {
    let (addr, log) = api_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es-master.yaml"), MANIFEST).unwrap();
    let kc = kubeconfig(dir.path(), &format!("http://{addr}"));
    let d = dir.path().to_path_buf();
    let (emitted, judged) = tokio::task::spawn_blocking(move || {
        let args = [
            "check",
            "es-master.yaml",
            "--observe",
            "kube",
            "--kubeconfig",
            kc.as_str(),
            "--now",
            NOW,
        ];
        let mut emit = args.to_vec();
        emit.push("--emit-input");
        (common::run_in(&d, &emit), common::run_in(&d, &args))
    })
    .await
    .unwrap();
    assert_eq!(common::code(&emitted), 0, "{}", common::stderr(&emitted));
    let set: Value = serde_json::from_str(&common::stdout(&emitted)).unwrap();
    let g = &set["observed"]["groups"]["search/StatefulSet/es-master"];
    let states: Vec<(&str, &str)> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("es-master-0", "running"),
            ("es-master-1", "running"),
            ("es-master-2", "terminating")
        ],
        "{g:#}"
    );
    assert_eq!(g["taken_at"], NOW);
    // The change is what `kubectl apply` would do to the live object: 3 -> 2.
    let c = &set["changes"][0];
    assert_eq!(c["capacity"]["before"], 3);
    assert_eq!(c["capacity"]["after"], 2);
    let requests = log.lock().unwrap().clone();
    assert!(
        requests.contains(&"GET statefulsets search/es-master".to_string()),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("LIST pods search")
                && r.contains("labelSelector=app%3Des-master")),
        "pods by the workload's selector: {requests:?}"
    );
    assert!(requests
        .iter()
        .any(|r| r.starts_with("LIST poddisruptionbudgets search")));
    assert!(requests
        .iter()
        .any(|r| r.starts_with("LIST horizontalpodautoscalers search")));
    assert!(
        requests.iter().all(|r| r.contains(" search")),
        "only the changed workload's namespace: {requests:?}"
    );

    assert_eq!(common::code(&judged), 1, "{}", common::stderr(&judged));
    let report = common::stdout(&judged);
    assert!(
        report.contains("unstable/members-in-transition"),
        "{report}"
    );
    assert!(report.contains("es-master-2"), "{report}");
}

#[test]
fn observe_kube_unreachable_api_server_exits_2_naming_the_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es-master.yaml"), MANIFEST).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let kc = kubeconfig(dir.path(), &server);
    let out = common::run_in(
        dir.path(),
        &[
            "check",
            "es-master.yaml",
            "--observe",
            "kube",
            "--kubeconfig",
            &kc,
        ],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 2, "{err}");
    assert!(err.contains("GET statefulsets search/es-master"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
