//! Kubernetes AdmissionReview requests -> the model (mode `admission`). Pure: the cluster state
//! the webhook looked up is handed in as a [`ClusterView`]; this module does no I/O.
//!
//! Understood: UPDATE / DELETE of StatefulSet, Deployment, ReplicaSet and ECK `Elasticsearch`;
//! UPDATE of their `scale` subresource; DELETE of pods and CREATE of `pods/eviction` for members
//! of quorum groups. Anything else becomes an empty change set (allowed unless a user policy
//! says otherwise). GitOps-managed objects changed by someone else are `admission-actor` drift.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::kubernetes::{self, ObjectRef, Pdb};
use crate::config::Config;
use crate::model::{
    Action, Actor, Capacity, Change, ChangeSet, Drift, Group, MemberState, Mode, Observed,
    SourceRef, API_VERSION,
};

/// The only AdmissionReview version quorate answers.
pub const REVIEW_API_VERSION: &str = "admission.k8s.io/v1";
pub const SOURCE_TYPE: &str = "admission-review";

/// Identities used when `gitops.controllers` is empty: the stock Argo CD and Flux controllers.
pub const DEFAULT_GITOPS_CONTROLLERS: &[&str] = &[
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:serviceaccount:flux-system:kustomize-controller",
    "system:serviceaccount:flux-system:helm-controller",
];

/// What a request is, once classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// CREATE / UPDATE / DELETE of a workload object.
    Workload,
    /// UPDATE of a workload's `scale` subresource (`kubectl scale`, HPA).
    Scale,
    /// DELETE of a pod.
    PodDelete,
    /// CREATE of `pods/eviction` (drain, cluster autoscaler).
    PodEviction,
    /// Anything else: no change quorate understands.
    Other,
}

/// What the webhook must look up in the cluster for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A workload, by its group id `<namespace>/<Kind>/<name>`.
    Workload(String),
    /// A pod (and then the workload that owns it).
    Pod { namespace: String, name: String },
}

/// Cluster state looked up for one request.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// The workload the request is about (or the evicted/deleted pod's owner).
    pub workload: Option<Value>,
    /// The evicted or deleted pod, when the request does not carry it.
    pub pod: Option<Value>,
    /// Pods of that workload.
    pub pods: Vec<Value>,
    /// PodDisruptionBudgets of the namespace.
    pub pdbs: Vec<Pdb>,
}

/// The interesting fields of `request`.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub uid: &'a str,
    pub operation: &'a str,
    pub resource: &'a str,
    pub resource_group: &'a str,
    pub sub_resource: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
    pub username: &'a str,
    pub groups: Vec<&'a str>,
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|x| x.is_object())
}

impl<'a> Request<'a> {
    /// Reads `request` of an AdmissionReview; `None` when it has no uid.
    pub fn parse(request: &'a Value) -> Option<Self> {
        let uid = request.get("uid")?.as_str()?;
        Some(Request {
            uid,
            operation: str_at(request, "/operation"),
            resource: str_at(request, "/resource/resource"),
            resource_group: str_at(request, "/resource/group"),
            sub_resource: str_at(request, "/subResource"),
            name: str_at(request, "/name"),
            namespace: str_at(request, "/namespace"),
            object: present(request.get("object")),
            old_object: present(request.get("oldObject")),
            dry_run: request
                .get("dryRun")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            username: str_at(request, "/userInfo/username"),
            groups: request
                .pointer("/userInfo/groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect(),
        })
    }

    /// The workload kind a resource name stands for (`statefulsets` -> `StatefulSet`).
    fn workload_kind(&self) -> Option<&'static str> {
        match (self.resource_group, self.resource) {
            ("apps", "statefulsets") => Some("StatefulSet"),
            ("apps", "deployments") => Some("Deployment"),
            ("apps", "replicasets") => Some("ReplicaSet"),
            ("elasticsearch.k8s.elastic.co", "elasticsearches") => Some("Elasticsearch"),
            _ => None,
        }
    }

    pub fn shape(&self) -> Shape {
        let pods = self.resource_group.is_empty() && self.resource == "pods";
        match (self.operation, self.sub_resource) {
            ("CREATE" | "UPDATE" | "DELETE", "") if self.workload_kind().is_some() => {
                Shape::Workload
            }
            ("UPDATE", "scale") if self.workload_kind().is_some_and(|k| k != "Elasticsearch") => {
                Shape::Scale
            }
            ("DELETE", "") if pods => Shape::PodDelete,
            ("CREATE", "eviction") if pods => Shape::PodEviction,
            _ => Shape::Other,
        }
    }

    fn namespace_or(&self, v: Option<&Value>) -> String {
        let ns = v
            .map(|v| str_at(v, "/metadata/namespace"))
            .unwrap_or_default();
        if !ns.is_empty() {
            ns.to_string()
        } else if !self.namespace.is_empty() {
            self.namespace.to_string()
        } else {
            "default".to_string()
        }
    }

    /// The group id of the workload a workload or scale request is about.
    fn workload_id(&self) -> Option<String> {
        let kind = self.workload_kind()?;
        let obj = self.object.or(self.old_object);
        let name = obj
            .map(|v| str_at(v, "/metadata/name"))
            .filter(|n| !n.is_empty())
            .unwrap_or(self.name);
        (!name.is_empty()).then(|| format!("{}/{kind}/{name}", self.namespace_or(obj)))
    }

    /// Who is asking, and whether they are a GitOps controller.
    pub fn actor(&self, controllers: &[String]) -> Actor {
        let gitops = if controllers.is_empty() {
            DEFAULT_GITOPS_CONTROLLERS.contains(&self.username)
        } else {
            controllers
                .iter()
                .any(|c| c == self.username || self.groups.iter().any(|g| g == c))
        };
        Actor {
            username: self.username.to_string(),
            groups: self.groups.iter().map(|g| g.to_string()).collect(),
            gitops,
        }
    }

    /// Deletes by Kubernetes itself carry out changes already admitted (a scale-down, a
    /// cascading delete, a node's final removal of a terminated pod): judging them again
    /// would only wedge the controllers.
    fn is_cluster_housekeeping(&self) -> bool {
        self.operation == "DELETE"
            && (self.username == "system:kube-controller-manager"
                || self
                    .username
                    .starts_with("system:serviceaccount:kube-system:")
                || self.username.starts_with("system:node:")
                || self.groups.contains(&"system:nodes"))
    }
}

/// What to look up for a request, if anything.
pub fn target(req: &Request) -> Option<Target> {
    match req.shape() {
        Shape::Workload | Shape::Scale => req.workload_id().map(Target::Workload),
        Shape::PodDelete | Shape::PodEviction => {
            let obj = req.old_object.or(req.object);
            let name = obj
                .filter(|_| req.shape() == Shape::PodDelete)
                .map(|v| str_at(v, "/metadata/name"))
                .filter(|n| !n.is_empty())
                .unwrap_or(req.name);
            (!name.is_empty()).then(|| Target::Pod {
                namespace: req.namespace_or(obj),
                name: name.to_string(),
            })
        }
        Shape::Other => None,
    }
}

/// Whether answering this request needs cluster lookups (it cannot be judged from the review).
pub fn needs_lookup(req: &Request) -> bool {
    matches!(
        req.shape(),
        Shape::Scale | Shape::PodDelete | Shape::PodEviction
    ) && !req.is_cluster_housekeeping()
}

/// Who manages an object in GitOps, from its annotations and labels (flattened).
pub fn gitops_manager(labels: &BTreeMap<String, String>) -> Option<String> {
    let get = |k: &str| labels.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(id) = get("argocd.argoproj.io/tracking-id") {
        let app = id.split(':').next().unwrap_or(id);
        return Some(format!("Argo CD application {app}"));
    }
    if let Some(app) = get("argocd.argoproj.io/instance") {
        return Some(format!("Argo CD application {app}"));
    }
    // Helm puts app.kubernetes.io/instance on everything it renders; it names an Argo CD
    // application only next to Argo CD's own keys.
    if let Some(app) = get("app.kubernetes.io/instance") {
        if labels.keys().any(|k| k.starts_with("argocd.argoproj.io/")) {
            return Some(format!("Argo CD application {app}"));
        }
    }
    for (kind, prefix) in [
        ("Kustomization", "kustomize.toolkit.fluxcd.io"),
        ("HelmRelease", "helm.toolkit.fluxcd.io"),
    ] {
        if let Some(name) = get(&format!("{prefix}/name")) {
            let ns = get(&format!("{prefix}/namespace")).unwrap_or("flux-system");
            return Some(format!("Flux {kind} {ns}/{name}"));
        }
    }
    None
}

/// The Rego input for one admission request.
pub fn build(
    request: &Value,
    view: Option<&ClusterView>,
    config: &Config,
    now: DateTime<Utc>,
) -> ChangeSet {
    let mut set = ChangeSet {
        api_version: API_VERSION.into(),
        mode: Mode::Admission,
        now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        changes: Vec::new(),
        drift: Vec::new(),
        observed: Observed::default(),
        context: json!({}),
    };
    let Some(req) = Request::parse(request) else {
        return set;
    };
    let actor = req.actor(&config.gitops_controllers);
    let mut context = json!({
        "uid": req.uid,
        "operation": req.operation,
        "resource": req.resource,
        "subResource": req.sub_resource,
        "name": req.name,
        "namespace": req.namespace,
        "dryRun": req.dry_run,
        "userInfo": {"username": actor.username, "groups": actor.groups},
        "managed_by": Value::Null,
        "note": Value::Null,
    });
    let outcome = if req.is_cluster_housekeeping() {
        Err("a delete by Kubernetes itself carries out a change already admitted")
    } else {
        match req.shape() {
            Shape::Workload => workload(&req, view),
            Shape::Scale => scale(&req, view),
            Shape::PodDelete | Shape::PodEviction => pod(&req, view, config),
            Shape::Other => Err("not a change quorate judges"),
        }
    };
    match outcome {
        Ok((mut change, group, manager_labels)) => {
            change.actor = Some(actor.clone());
            let manager = gitops_manager(&manager_labels);
            if let (Some(m), false) = (&manager, actor.gitops) {
                if change.action != Action::NoOp {
                    set.drift.push(actor_drift(&change));
                }
                set_key(&mut context, "managed_by", Value::from(m.clone()));
            } else if let Some(m) = manager {
                set_key(&mut context, "managed_by", Value::from(m));
            }
            if let (Some(g), Some(name)) = (group, change.group.clone()) {
                set.observed.groups.insert(name, g);
            }
            set.changes.push(change);
        }
        Err(note) => set_key(&mut context, "note", Value::from(note)),
    }
    set.context = json!({ "admission": context });
    crate::effects::apply(&mut set, config, &BTreeMap::new());
    crate::freeze::publish(&mut set, &config.freezes);
    set
}

type Built = (Change, Option<Group>, BTreeMap<String, String>);

fn source(req: &Request, pointer: &str) -> SourceRef {
    SourceRef {
        kind: SOURCE_TYPE.into(),
        path: format!("AdmissionReview {}", req.uid),
        pointer: pointer.into(),
        after_pointer: Some(pointer.into()),
        document: 0,
    }
}

/// Workload CREATE / UPDATE / DELETE: capacity from the object pair, instability from the old
/// object's status (or the cached live object), members from cached pods or the status counts.
fn workload(req: &Request, view: Option<&ClusterView>) -> Result<Built, &'static str> {
    let live = view.and_then(|v| v.workload.as_ref());
    let before = req.old_object.or(if req.operation == "CREATE" {
        None
    } else {
        live
    });
    let after = if req.operation == "DELETE" {
        None
    } else {
        req.object
    };
    let obj = after.or(before).ok_or("the request carries no object")?;
    let mut r = kubernetes::object_ref(obj).ok_or("the object has no apiVersion/kind")?;
    r.namespace = req.namespace_or(Some(obj));
    let pointer = if after.is_some() {
        "/request/object"
    } else {
        "/request/oldObject"
    };
    let change = kubernetes::change(&r, source(req, pointer), before, after);
    let status = before
        .filter(|b| {
            b.get("status")
                .is_some_and(|s| s.as_object().is_some_and(|o| !o.is_empty()))
        })
        .or(live);
    let group = status.map(|s| observed_group(&r, s, view));
    let labels = kubernetes::labels(after.or(before).unwrap_or(obj));
    Ok((change, group, labels))
}

/// `scale` subresource: the object is an `autoscaling/v1` Scale; the group is its workload.
fn scale(req: &Request, view: Option<&ClusterView>) -> Result<Built, &'static str> {
    let kind = req.workload_kind().ok_or("not a workload")?;
    let id = req.workload_id().ok_or("the request names no object")?;
    let obj = req.object.ok_or("the request carries no Scale")?;
    let ns = req.namespace_or(Some(obj));
    let name = id.rsplit('/').next().unwrap_or(req.name).to_string();
    let r = ObjectRef {
        api_version: "autoscaling/v1".into(),
        kind: "Scale".into(),
        namespace: ns.clone(),
        name: name.clone(),
    };
    let live = view.and_then(|v| v.workload.as_ref());
    let mut change = kubernetes::change(
        &r,
        source(req, "/request/object"),
        req.old_object,
        Some(obj),
    );
    change.id = id.clone();
    change.group = Some(id.clone());
    if req.old_object.is_none() {
        change.action = Action::Update;
    }
    let parent = ObjectRef {
        api_version: if kind == "Elasticsearch" {
            String::new()
        } else {
            "apps/v1".into()
        },
        kind: kind.into(),
        namespace: ns,
        name,
    };
    if let Some(cap) = change.capacity.as_mut() {
        if cap.before.is_none() {
            cap.before = live
                .and_then(|w| kubernetes::replicas(&parent, w))
                .map(|x| x.0);
        }
    }
    // The Scale has no labels: the workload's carry the quorum annotation and GitOps keys.
    let labels = live.map(kubernetes::labels).unwrap_or_default();
    change.labels = labels.clone();
    let group = live.map(|w| observed_group(&parent, w, view));
    Ok((change, group, labels))
}

/// Pod DELETE or eviction: one member leaves its owner's group while the desired count stays.
/// Only members of quorum groups are judged; deleting a member that is not serving (pending,
/// crash-looping, already terminating) cannot lower the healthy count and is let through.
fn pod(req: &Request, view: Option<&ClusterView>, config: &Config) -> Result<Built, &'static str> {
    let pod = match req.shape() {
        Shape::PodDelete => req.old_object.or(view.and_then(|v| v.pod.as_ref())),
        _ => view.and_then(|v| v.pod.as_ref()),
    }
    .ok_or("the pod is not known (no oldObject and no cluster lookup)")?;
    let (group_id, member) = kubernetes::pod_member(pod).ok_or("the pod has no owning workload")?;
    if member.state != MemberState::Running || !member.healthy {
        return Err("the pod is not serving, so removing it cannot lower the healthy count");
    }
    let live = view.and_then(|v| v.workload.as_ref());
    let workload_labels = live.map(kubernetes::labels).unwrap_or_default();
    let workload_ref = live.and_then(kubernetes::object_ref);
    let pdb_quorum = match (live, &workload_ref) {
        (Some(w), Some(r)) => view.and_then(|v| {
            let n = kubernetes::replicas(r, w)?.0;
            v.pdbs
                .iter()
                .filter(|p| p.selects(&r.namespace, w))
                .find_map(|p| p.quorum(n))
        }),
        _ => None,
    };
    let quorum_group = config
        .groups
        .get(&group_id)
        .is_some_and(|g| g.quorum.is_some())
        || workload_labels.contains_key(super::QUORUM_LABEL)
        || pdb_quorum.is_some()
        || member.voter == Some(true);
    if !quorum_group {
        return Err("the pod's workload is not a quorum group");
    }
    let r = kubernetes::object_ref(pod).ok_or("the pod has no apiVersion/kind")?;
    let mut group = match (live, &workload_ref) {
        (Some(w), Some(wr)) => observed_group(wr, w, view),
        _ => Group::default(),
    };
    if let (None, Some(v)) = (live, view) {
        // No workload object (ECK clusters): the pods are the group.
        add_pods(&mut group, &group_id, v);
    }
    if group.quorum.is_none() {
        group.quorum = pdb_quorum;
    }
    let known = group
        .members
        .iter()
        .filter(|m| m.state != MemberState::Terminated)
        .count() as i64;
    let desired = live
        .zip(workload_ref.as_ref())
        .and_then(|(w, wr)| kubernetes::replicas(wr, w))
        .map(|x| x.0)
        .or((known > 0).then_some(known));
    let count = |n: Option<i64>, attribute: &str| Capacity {
        before: n,
        after: n,
        attribute: attribute.into(),
        unknown: false,
    };
    let voters = (member.voter == Some(true)).then(|| {
        let n = group
            .members
            .iter()
            .filter(|m| m.voter == Some(true) && m.state != MemberState::Terminated)
            .count() as i64;
        count((n > 0).then_some(n), "")
    });
    let mut labels = kubernetes::labels(pod);
    labels.extend(workload_labels.clone());
    let change = Change {
        id: r.id(),
        source: source(
            req,
            if req.old_object.is_some() {
                "/request/oldObject"
            } else {
                ""
            },
        ),
        kind: format!("{}/{}", r.api_version, r.kind),
        name: r.name.clone(),
        group: Some(group_id),
        // For its group this is an update: one member leaves, the desired count stays.
        action: Action::Update,
        actions: Vec::new(),
        action_reason: Some(match req.shape() {
            Shape::PodEviction => "eviction".into(),
            _ => "pod-delete".into(),
        }),
        capacity: Some(count(desired, "/spec/replicas")),
        voters,
        members_removed: vec![member.id.clone()],
        actor: None,
        labels,
        before: pod.clone(),
        after: Value::Null,
        effect: None,
    };
    Ok((change, Some(group), BTreeMap::new()))
}

/// The observed group of a workload: its status, its pods (or its status counts when the pods
/// were not looked up), and the quorum its PodDisruptionBudgets promise.
fn observed_group(r: &ObjectRef, workload: &Value, view: Option<&ClusterView>) -> Group {
    let mut g = kubernetes::status_group(r, workload);
    match view {
        Some(v) if !v.pods.is_empty() => add_pods(&mut g, &r.id(), v),
        _ => kubernetes::status_members(r, workload, &mut g),
    }
    if g.quorum.is_none() {
        if let (Some(v), Some((n, _))) = (view, kubernetes::replicas(r, workload)) {
            g.quorum = v
                .pdbs
                .iter()
                .filter(|p| p.selects(&r.namespace, workload))
                .find_map(|p| p.quorum(n));
        }
    }
    g
}

fn add_pods(g: &mut Group, group_id: &str, view: &ClusterView) {
    for pod in &view.pods {
        if let Some((gid, m)) = kubernetes::pod_member(pod) {
            if gid == group_id && !g.members.iter().any(|x| x.id == m.id) {
                g.members.push(m);
            }
        }
    }
}

/// A GitOps-managed object changed by someone who is not a GitOps controller.
fn actor_drift(change: &Change) -> Drift {
    let (attribute, committed, live) = match (&change.capacity, change.action) {
        (_, Action::Delete) if change.members_removed.is_empty() => (
            String::new(),
            Value::from("present"),
            Value::from("deleted"),
        ),
        (Some(c), _) if c.before != c.after => (
            c.attribute.clone(),
            c.before.map_or(Value::Null, Value::from),
            c.after.map_or(Value::Null, Value::from),
        ),
        _ => (String::new(), Value::Null, Value::Null),
    };
    Drift {
        change: Some(change.id.clone()),
        address: change.id.clone(),
        group: change.group.clone(),
        source: "admission-actor".into(),
        attribute,
        committed,
        live,
        origin: change.source.clone(),
        class: "other".into(),
    }
}

/// Sets a key of a JSON object (no-op on other values).
fn set_key(v: &mut Value, key: &str, x: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(request: Value) -> Value {
        request
    }

    fn sts(replicas: i64, ready: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "es-master", "namespace": "search", "generation": 3,
                "annotations": {"quorate.dev/quorum": "majority", "argocd.argoproj.io/tracking-id": "search:apps/StatefulSet:search/es-master"}},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "es-master"}}}},
            "status": {"observedGeneration": 3, "replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                "currentRevision": "r1", "updateRevision": "r1"}})
    }

    fn now() -> DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn scale_subresource_maps_to_the_workload_group() {
        let req = review(json!({"uid": "u1", "operation": "UPDATE",
            "resource": {"group": "apps", "version": "v1", "resource": "statefulsets"}, "subResource": "scale",
            "name": "es-master", "namespace": "search", "userInfo": {"username": "alice"},
            "object": {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "es-master", "namespace": "search"}, "spec": {}},
            "oldObject": {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "es-master", "namespace": "search"}, "spec": {"replicas": 3}}}));
        let view = ClusterView {
            workload: Some(sts(3, 3)),
            ..ClusterView::default()
        };
        let set = build(&req, Some(&view), &Config::default(), now());
        let c = &set.changes[0];
        assert_eq!(c.id, "search/StatefulSet/es-master");
        assert_eq!(c.group.as_deref(), Some("search/StatefulSet/es-master"));
        let cap = c.capacity.as_ref().unwrap();
        assert_eq!((cap.before, cap.after), (Some(3), Some(0)));
        assert_eq!(c.labels["quorate.dev/quorum"], "majority");
        assert_eq!(set.drift.len(), 1, "alice is not a GitOps controller");
        assert_eq!(
            set.observed.groups["search/StatefulSet/es-master"]
                .members
                .len(),
            3
        );
    }

    #[test]
    fn unready_status_becomes_members_not_ready() {
        let req = json!({"uid": "u", "operation": "UPDATE", "resource": {"group": "apps", "resource": "statefulsets"},
            "namespace": "search", "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
            "object": sts(2, 2), "oldObject": sts(3, 1)});
        let set = build(&req, None, &Config::default(), now());
        assert!(
            set.drift.is_empty(),
            "the Argo CD controller applies committed state"
        );
        let g = &set.observed.groups["search/StatefulSet/es-master"];
        assert_eq!(g.members.iter().filter(|m| m.healthy).count(), 1);
        assert_eq!(g.members.len(), 3);
    }

    #[test]
    fn housekeeping_deletes_and_unserving_pods_are_not_judged() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "es-master-0", "namespace": "search",
            "ownerReferences": [{"kind": "StatefulSet", "name": "es-master", "controller": true}]},
            "status": {"phase": "Pending"}});
        let req = json!({"uid": "u", "operation": "DELETE", "resource": {"group": "", "resource": "pods"}, "namespace": "search",
            "userInfo": {"username": "alice"}, "oldObject": pod});
        assert!(build(&req, None, &Config::default(), now())
            .changes
            .is_empty());
        let mut by_node = req.clone();
        by_node["userInfo"] = json!({"username": "system:node:n1", "groups": ["system:nodes"]});
        assert!(!needs_lookup(&Request::parse(&by_node).unwrap()));
    }

    #[test]
    fn hostile_status_counts_do_not_panic() {
        for (replicas, ready) in [(-5, 3), (3, -1), (i64::MAX, i64::MIN), (2, 9)] {
            let mut old = sts(3, 3);
            old["status"]["replicas"] = json!(replicas);
            old["status"]["readyReplicas"] = json!(ready);
            let req = json!({"uid": "u", "operation": "UPDATE", "resource": {"group": "apps", "resource": "statefulsets"},
                "namespace": "search", "userInfo": {"username": "alice"}, "object": sts(2, 2), "oldObject": old});
            let set = build(&req, None, &Config::default(), now());
            assert_eq!(set.changes.len(), 1);
        }
    }

    #[test]
    fn managers_are_recognized() {
        let l = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            gitops_manager(&l(&[("app.kubernetes.io/instance", "x")])),
            None
        );
        assert_eq!(
            gitops_manager(&l(&[
                ("kustomize.toolkit.fluxcd.io/name", "apps"),
                ("kustomize.toolkit.fluxcd.io/namespace", "flux-system")
            ]))
            .as_deref(),
            Some("Flux Kustomization flux-system/apps")
        );
        assert_eq!(
            gitops_manager(&l(&[
                ("app.kubernetes.io/instance", "search"),
                ("argocd.argoproj.io/sync-options", "Prune=false")
            ]))
            .as_deref(),
            Some("Argo CD application search")
        );
    }
}
