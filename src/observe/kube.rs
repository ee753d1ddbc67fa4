//! `--observe kube`: the workloads the changes touch, their pods, PDBs and HPAs, read from the
//! API server (kubeconfig or in-cluster) by the webhook's lookups, as `kubectl get -o json`
//! Lists for the same adapter.

use serde_json::json;

use super::{Fetched, ObserveOptions, Targets};
use crate::error::{Error, Result, Stage};
use crate::webhook::lookup::{self, LookupSource};

pub async fn fetch(opts: &ObserveOptions, targets: &Targets) -> Result<Vec<Fetched>> {
    if targets.workloads.is_empty() {
        return Ok(Vec::new());
    }
    let source = match &opts.kubeconfig {
        Some(path) => LookupSource::Kubeconfig(path.clone()),
        None => LookupSource::Infer,
    };
    let lists = lookup::fetch_workloads(&source, &targets.workloads)
        .await
        .map_err(|e| {
            Error::file(Stage::Observed, "kube", format!("Kubernetes API: {e}")).with_help(
                "run in a cluster, pass --kubeconfig, or check the context's server and credentials",
            )
        })?;
    Ok(lists
        .into_iter()
        .map(|(id, items)| Fetched {
            label: format!("kube:{id}"),
            value: json!({"apiVersion": "v1", "kind": "List", "items": items}),
            group: None,
        })
        .collect())
}
