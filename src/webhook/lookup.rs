//! Cluster lookups for admission (the only user of kube-rs): watch-backed caches of workloads,
//! pods and PodDisruptionBudgets, indexed by group id so an admission request reads memory,
//! never the API server. kube's watcher lists, then watches, resumes on disconnects, relists on
//! `410 Gone` and backs off on errors; we keep our own index instead of reflector stores because
//! requests ask "the pods of group X", which a store keyed by object could only answer by a scan.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::sources::admission::{ClusterView, Target};
use crate::sources::kubernetes;

/// Where the API server and credentials come from.
#[derive(Debug, Clone)]
pub enum LookupSource {
    /// In-cluster service account, else `$KUBECONFIG` / `~/.kube/config`.
    Infer,
    /// An explicit kubeconfig file (its current context).
    Kubeconfig(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workload,
    Pod,
    Pdb,
}

/// Resources watched; the cache is synced when each has been listed once.
const WATCHED: usize = 5;

#[derive(Default)]
struct Index {
    workloads: HashMap<String, Value>,
    /// group id -> pod name -> pod
    pods: HashMap<String, BTreeMap<String, Value>>,
    /// (namespace, pod name) -> group id
    pod_groups: HashMap<(String, String), String>,
    /// namespace -> name -> PDB
    pdbs: HashMap<String, BTreeMap<String, kubernetes::Pdb>>,
}

/// The watch-backed cache. Cheap to share (`Arc`); reads take a read lock for microseconds.
#[derive(Default)]
pub struct Cache {
    index: RwLock<Index>,
    synced: AtomicUsize,
    synced_kinds: std::sync::Mutex<Vec<&'static str>>,
}

fn strip(mut v: Value, kind: Kind) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if kind == Kind::Pod {
        // Members are read from metadata and status; pod specs are most of a pod's size.
        if let Some(o) = v.as_object_mut() {
            o.remove("spec");
        }
    }
    v
}

fn key(v: &Value) -> Option<(String, String)> {
    let r = kubernetes::object_ref(v)?;
    Some((r.namespace, r.name))
}

impl Cache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every watched resource has been listed at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst) >= WATCHED
    }

    fn mark_synced(&self, what: &'static str) {
        if let Ok(mut done) = self.synced_kinds.lock() {
            if !done.contains(&what) {
                done.push(what);
                self.synced.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(ix: &mut Index, kind: Kind, v: Value) {
        match kind {
            Kind::Workload => {
                if let Some(r) = kubernetes::object_ref(&v) {
                    ix.workloads.insert(r.id(), v);
                }
            }
            Kind::Pod => {
                let Some(k) = key(&v) else { return };
                Self::remove_pod(ix, &k);
                if let Some((group, _)) = kubernetes::pod_member(&v) {
                    ix.pods
                        .entry(group.clone())
                        .or_default()
                        .insert(k.1.clone(), v);
                    ix.pod_groups.insert(k, group);
                }
            }
            Kind::Pdb => {
                if let Some(p) = kubernetes::pdb(&v) {
                    ix.pdbs
                        .entry(p.namespace.clone())
                        .or_default()
                        .insert(p.name.clone(), p);
                }
            }
        }
    }

    fn remove_pod(ix: &mut Index, k: &(String, String)) {
        if let Some(group) = ix.pod_groups.remove(k) {
            if let Some(pods) = ix.pods.get_mut(&group) {
                pods.remove(&k.1);
                if pods.is_empty() {
                    ix.pods.remove(&group);
                }
            }
        }
    }

    fn delete(ix: &mut Index, kind: Kind, v: &Value) {
        match kind {
            Kind::Workload => {
                if let Some(r) = kubernetes::object_ref(v) {
                    ix.workloads.remove(&r.id());
                }
            }
            Kind::Pod => {
                if let Some(k) = key(v) {
                    Self::remove_pod(ix, &k);
                }
            }
            Kind::Pdb => {
                if let Some((ns, name)) = key(v) {
                    if let Some(m) = ix.pdbs.get_mut(&ns) {
                        m.remove(&name);
                    }
                }
            }
        }
    }

    /// Replaces everything of one resource with a fresh list (after a (re)list).
    fn replace(&self, kind: Kind, resource: &str, items: Vec<Value>) {
        let mut ix = self.write();
        match kind {
            Kind::Workload => {
                let k8s_kind = resource_kind(resource);
                ix.workloads
                    .retain(|id, _| id.split('/').nth(1) != Some(k8s_kind));
            }
            Kind::Pod => {
                ix.pods.clear();
                ix.pod_groups.clear();
            }
            Kind::Pdb => ix.pdbs.clear(),
        }
        for v in items {
            Self::apply(&mut ix, kind, v);
        }
    }

    /// A cache filled from a snapshot of objects (a `List`'s items), marked synced.
    pub fn from_objects(items: impl IntoIterator<Item = Value>) -> Self {
        let cache = Cache::new();
        for v in items {
            cache.insert(v);
        }
        cache.synced.store(WATCHED, Ordering::SeqCst);
        cache
    }

    /// Fills the cache directly (tests, or a snapshot): objects of any watched kind.
    pub fn insert(&self, v: Value) {
        let kind = match v.get("kind").and_then(Value::as_str) {
            Some("Pod") => Kind::Pod,
            Some("PodDisruptionBudget") => Kind::Pdb,
            Some(_) => Kind::Workload,
            None => return,
        };
        let v = strip(v, kind);
        Self::apply(&mut self.write(), kind, v);
    }

    /// The cluster state one request needs.
    pub fn view(&self, target: &Target) -> ClusterView {
        let ix = self.read();
        let (group, pod) = match target {
            Target::Workload(id) => (Some(id.clone()), None),
            Target::Pod { namespace, name } => {
                let k = (namespace.clone(), name.clone());
                let group = ix.pod_groups.get(&k).cloned();
                let pod = group
                    .as_ref()
                    .and_then(|g| ix.pods.get(g))
                    .and_then(|p| p.get(name))
                    .cloned();
                (group, pod)
            }
        };
        let Some(group) = group else {
            return ClusterView {
                pod,
                ..ClusterView::default()
            };
        };
        let namespace = group.split('/').next().unwrap_or_default();
        ClusterView {
            workload: ix.workloads.get(&group).cloned(),
            pod,
            pods: ix
                .pods
                .get(&group)
                .map(|p| p.values().cloned().collect())
                .unwrap_or_default(),
            pdbs: ix
                .pdbs
                .get(namespace)
                .map(|p| p.values().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

fn resource_kind(resource: &str) -> &'static str {
    match resource {
        "statefulsets" => "StatefulSet",
        "deployments" => "Deployment",
        "replicasets" => "ReplicaSet",
        "pods" => "Pod",
        _ => "PodDisruptionBudget",
    }
}

/// Connects to the API server (no request is made yet).
pub async fn client(source: &LookupSource) -> Result<Client, String> {
    let config = match source {
        LookupSource::Infer => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration (in-cluster or kubeconfig): {e}"))?,
        LookupSource::Kubeconfig(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
}

/// Starts the watchers; the cache fills in the background. Abort the handles to stop them.
pub fn start(client: Client, cache: Arc<Cache>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(watch::<StatefulSet>(
            Api::all(client.clone()),
            cache.clone(),
            Kind::Workload,
            "statefulsets",
        )),
        tokio::spawn(watch::<Deployment>(
            Api::all(client.clone()),
            cache.clone(),
            Kind::Workload,
            "deployments",
        )),
        tokio::spawn(watch::<ReplicaSet>(
            Api::all(client.clone()),
            cache.clone(),
            Kind::Workload,
            "replicasets",
        )),
        tokio::spawn(watch::<Pod>(
            Api::all(client.clone()),
            cache.clone(),
            Kind::Pod,
            "pods",
        )),
        tokio::spawn(watch::<PodDisruptionBudget>(
            Api::all(client),
            cache,
            Kind::Pdb,
            "poddisruptionbudgets",
        )),
    ]
}

async fn watch<K>(api: Api<K>, cache: Arc<Cache>, kind: Kind, resource: &'static str)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Serialize + 'static,
{
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut buffer: Vec<Value> = Vec::new();
    let mut last_error = String::new();
    while let Some(event) = stream.next().await {
        let value = |o: &K| serde_json::to_value(o).ok().map(|v| strip(v, kind));
        match event {
            Ok(Event::Init) => buffer.clear(),
            Ok(Event::InitApply(o)) => buffer.extend(value(&o)),
            Ok(Event::InitDone) => {
                cache.replace(kind, resource, std::mem::take(&mut buffer));
                cache.mark_synced(resource);
                last_error.clear();
            }
            Ok(Event::Apply(o)) => {
                if let Some(v) = value(&o) {
                    Cache::apply(&mut cache.write(), kind, v);
                }
            }
            Ok(Event::Delete(o)) => {
                if let Some(v) = value(&o) {
                    Cache::delete(&mut cache.write(), kind, &v);
                }
            }
            Err(e) => {
                // The stream backs off and retries by itself; say each distinct error once.
                let msg = e.to_string();
                if msg != last_error {
                    eprintln!("quorate serve: watching {resource}: {msg}");
                    last_error = msg;
                }
            }
        }
    }
}

/// A workload the CLI observes (`--observe kube`): `<ns>/<Kind>/<name>` and the live objects
/// read for it (the workload, the pods its selector picks, the namespace's PDBs and HPAs).
pub type WorkloadObjects = (String, Vec<Value>);

async fn get_one<K>(client: &Client, ns: &str, name: &str) -> Result<Option<Value>, String>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Serialize,
    <K as Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let plural = K::plural(&Default::default()).to_string();
    let got = api
        .get_opt(name)
        .await
        .map_err(|e| format!("GET {plural} {ns}/{name}: {e}"))?;
    Ok(got.and_then(|o| serde_json::to_value(&o).ok()))
}

async fn list_in<K>(client: &Client, ns: &str, selector: Option<&str>) -> Result<Vec<Value>, String>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Serialize,
    <K as Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let plural = K::plural(&Default::default()).to_string();
    let mut params = kube::api::ListParams::default();
    if let Some(s) = selector {
        params = params.labels(s);
    }
    let list = api
        .list(&params)
        .await
        .map_err(|e| format!("LIST {plural} in {ns}: {e}"))?;
    Ok(list
        .items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect())
}

/// The label selector of a workload's `spec.selector.matchLabels`, as `k=v,k2=v2`.
fn match_labels(workload: &Value) -> Option<String> {
    let labels = workload
        .pointer("/spec/selector/matchLabels")?
        .as_object()?;
    let parts: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// One-shot reads for `--observe kube`: what the watchers would hold for these workloads
/// ((namespace, kind, name)), read with namespaced GETs and LISTs instead of cluster-wide
/// watches. A workload that does not exist yet has no objects of its own.
pub async fn fetch_workloads(
    source: &LookupSource,
    workloads: &[(String, String, String)],
) -> Result<Vec<WorkloadObjects>, String> {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let client = client(source).await?;
    let mut out = Vec::new();
    for (ns, kind, name) in workloads {
        let workload = match kind.as_str() {
            "StatefulSet" => get_one::<StatefulSet>(&client, ns, name).await?,
            "Deployment" => get_one::<Deployment>(&client, ns, name).await?,
            "ReplicaSet" => get_one::<ReplicaSet>(&client, ns, name).await?,
            _ => continue,
        };
        let mut items = Vec::new();
        if let Some(w) = workload {
            let pods = match match_labels(&w) {
                Some(selector) => list_in::<Pod>(&client, ns, Some(&selector)).await?,
                None => Vec::new(),
            };
            // The workload keeps its last-applied configuration: drift is judged from it.
            items.push(w);
            items.extend(pods.into_iter().map(|p| strip(p, Kind::Pod)));
        }
        items.extend(list_in::<PodDisruptionBudget>(&client, ns, None).await?);
        items.extend(
            list_in::<HorizontalPodAutoscaler>(&client, ns, None)
                .await?
                .into_iter()
                .map(|h| strip(h, Kind::Workload)),
        );
        out.push((format!("{ns}/{kind}/{name}"), items));
    }
    Ok(out)
}
