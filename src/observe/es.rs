//! `--observe es=URL`: `_cluster/health` and `_cat/nodes?format=json` of an Elasticsearch or
//! OpenSearch cluster, for the group quorate.yaml declares with the cluster's name among its
//! `aliases` (or as its name). Credentials from the environment: `ES_API_KEY` (API key), or
//! `ES_USERNAME` + `ES_PASSWORD` (basic); `ES_CA_CERT` adds a PEM CA to the system roots.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{Fetched, Targets};
use crate::config::Config;
use crate::error::{Error, Result, Stage};

type Https = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

fn fail(what: &str, msg: impl Into<String>) -> Error {
    Error::file(Stage::Observed, format!("es:{what}"), msg)
}

fn client(base: &str) -> Result<Https> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = std::env::var_os("ES_CA_CERT") {
        use rustls_pki_types::pem::PemObject;
        let shown = std::path::Path::new(&path).display().to_string();
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(&path)
            .map_err(|e| Error::file(Stage::Observed, &shown, format!("ES_CA_CERT: {e}")))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| Error::file(Stage::Observed, &shown, format!("ES_CA_CERT: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::file(Stage::Observed, &shown, format!("ES_CA_CERT: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(base, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

fn auth() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(key) = var("ES_API_KEY") {
        return Some(format!("ApiKey {key}"));
    }
    let user = var("ES_USERNAME")?;
    let pass = var("ES_PASSWORD").unwrap_or_default();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    Some(format!("Basic {token}"))
}

async fn get(client: &Https, url: &str) -> Result<Value> {
    let mut req = http::Request::get(url).header("accept", "application/json");
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail(url, format!("bad request: {e}")))?;
    let resp = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| fail(url, "no answer within 30s"))?
        .map_err(|e| fail(url, format!("GET failed: {}", chain(&e))))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| fail(url, format!("reading the answer: {e}")))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(300).collect();
        let help = if status.as_u16() == 401 || status.as_u16() == 403 {
            "set ES_API_KEY, or ES_USERNAME and ES_PASSWORD"
        } else {
            "check the URL given to --observe es="
        };
        return Err(fail(url, format!("HTTP {status}: {text}")).with_help(help));
    }
    serde_json::from_slice(&body).map_err(|e| fail(url, format!("the answer is not JSON: {e}")))
}

/// The error and its sources (a TLS failure is several levels down).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

pub async fn fetch(base: &str, targets: &Targets, config: &Config) -> Result<Vec<Fetched>> {
    let client = client(base)?;
    let health_url = format!("{base}/_cluster/health");
    let health = get(&client, &health_url).await?;
    let Some(cluster) = health.get("cluster_name").and_then(Value::as_str) else {
        return Err(fail(&health_url, "the answer has no cluster_name"));
    };
    let aliases = config.aliases();
    let named = |g: &String, names: &[String]| g == cluster || names.iter().any(|n| n == cluster);
    // A group the changes touch first, else any group declared with the cluster's name.
    let group = targets
        .es_groups
        .iter()
        .find(|g| named(g, aliases.get(*g).map_or(&[][..], |a| a.as_slice())))
        .cloned()
        .or_else(|| {
            aliases
                .iter()
                .find(|(g, names)| named(g, names))
                .map(|(g, _)| g.clone())
        });
    let Some(group) = group else {
        return Err(fail(
            &health_url,
            format!("cluster `{cluster}` is no group of quorate.yaml"),
        )
        .with_help(format!(
            "declare it: groups: {{<group>: {{aliases: [{cluster}]}}}} with the group the changes touch"
        )));
    };
    let nodes_url = format!("{base}/_cat/nodes?format=json&h=name,id,ip,node.role,version,master");
    let nodes = get(&client, &nodes_url).await?;
    Ok(vec![
        Fetched {
            label: format!("es:{health_url}"),
            value: health,
            group: Some(group.clone()),
        },
        Fetched {
            label: format!("es:{nodes_url}"),
            value: nodes,
            group: Some(group),
        },
    ])
}
