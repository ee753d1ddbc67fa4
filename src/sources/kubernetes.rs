//! Kubernetes objects -> the model. Workloads (StatefulSet, Deployment, ReplicaSet, the ECK
//! `Elasticsearch` resource, the `scale` subresource, HPAs) become changes with member and voter
//! counts; `kubectl get ... -o json` lists become observed groups (status, pods, PDBs).
//! Shared by `check` (manifests), `diff` (git revisions) and admission reviews.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ObservedPart;
use crate::model::{Action, Capacity, Change, Group, Member, MemberState, Quorum, SourceRef};

/// Identity of an object: apiVersion, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// `<namespace>/<Kind>/<name>`: change id and group id.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind, self.name)
    }

    /// The API group without version (`apps`, `` for core).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

fn s<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

/// Reads apiVersion/kind/metadata; `None` when the document is not a Kubernetes object.
pub fn object_ref(v: &Value) -> Option<ObjectRef> {
    let api_version = s(v, "/apiVersion")?.to_string();
    let kind = s(v, "/kind")?.to_string();
    let name = s(v, "/metadata/name")
        .or_else(|| s(v, "/metadata/generateName"))
        .unwrap_or_default()
        .to_string();
    let namespace = s(v, "/metadata/namespace").unwrap_or("default").to_string();
    Some(ObjectRef {
        api_version,
        kind,
        namespace,
        name,
    })
}

pub fn is_list(v: &Value) -> bool {
    s(v, "/kind").is_some_and(|k| k == "List" || k.ends_with("List"))
        && v.get("items").is_some_and(Value::is_array)
}

fn is_eck(r: &ObjectRef) -> bool {
    r.kind == "Elasticsearch" && r.group() == "elasticsearch.k8s.elastic.co"
}

fn is_workload(r: &ObjectRef) -> bool {
    matches!(r.kind.as_str(), "StatefulSet" | "Deployment" | "ReplicaSet")
        || is_eck(r)
        || crate::effects::catalog::consensus_resource(r.group(), &r.kind).is_some()
}

/// Whether a kind scales another workload: an HPA, or a KEDA ScaledObject (which drives an
/// HPA of its own and scales to zero itself).
pub fn is_autoscaler(kind: &str) -> bool {
    kind == "HorizontalPodAutoscaler" || kind == "ScaledObject"
}

/// An autoscaler's bounds and target (`<ns>/<Kind>/<name>`): it owns its target's
/// `spec.replicas`. HPA: minReplicas defaults to 1; KEDA: minReplicaCount 0, maxReplicaCount 100,
/// and the target kind defaults to Deployment.
pub fn hpa(v: &Value) -> Option<(String, i64, i64)> {
    let r = object_ref(v)?;
    let (kind, min, max) = match r.kind.as_str() {
        "HorizontalPodAutoscaler" => (
            s(v, "/spec/scaleTargetRef/kind")?,
            int(v.pointer("/spec/minReplicas")).unwrap_or(1),
            int(v.pointer("/spec/maxReplicas"))?,
        ),
        "ScaledObject" if r.group() == "keda.sh" => (
            s(v, "/spec/scaleTargetRef/kind").unwrap_or("Deployment"),
            int(v.pointer("/spec/minReplicaCount")).unwrap_or(0),
            int(v.pointer("/spec/maxReplicaCount")).unwrap_or(100),
        ),
        _ => return None,
    };
    let name = s(v, "/spec/scaleTargetRef/name")?;
    Some((format!("{}/{kind}/{name}", r.namespace), min, max))
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether an ECK node set holds master-eligible nodes (no roles configured: all roles).
fn master_eligible(node_set: &Value) -> bool {
    let roles = node_set
        .pointer("/config/node.roles")
        .or_else(|| node_set.pointer("/config/node/roles"));
    match roles.and_then(Value::as_array) {
        Some(roles) => roles.iter().any(|r| r.as_str() == Some("master")),
        None => true,
    }
}

/// Member count of a workload (`spec.replicas`, defaulting to 1 as the API server does; ECK:
/// the sum of node set counts) with the pointer to point findings at.
pub fn replicas(r: &ObjectRef, v: &Value) -> Option<(i64, String)> {
    if is_eck(r) {
        let sets = v.pointer("/spec/nodeSets")?.as_array()?;
        let total = sets.iter().filter_map(|n| int(n.get("count"))).sum();
        return Some((total, "/spec/nodeSets".into()));
    }
    match r.kind.as_str() {
        "StatefulSet" | "Deployment" | "ReplicaSet" => Some((
            int(v.pointer("/spec/replicas")).unwrap_or(1),
            "/spec/replicas".into(),
        )),
        // autoscaling/v1 Scale: a missing spec.replicas means 0.
        "Scale" => Some((
            int(v.pointer("/spec/replicas")).unwrap_or(0),
            "/spec/replicas".into(),
        )),
        // Operator resources of consensus systems keep their count where the catalog says.
        _ => {
            let (_, pointer) = crate::effects::catalog::consensus_resource(r.group(), &r.kind)?;
            Some((int(v.pointer(pointer)).unwrap_or(0), pointer.to_string()))
        }
    }
}

/// Voter count of an ECK cluster: members of master-eligible node sets.
pub fn voters(r: &ObjectRef, v: &Value) -> Option<(i64, String)> {
    if !is_eck(r) {
        return None;
    }
    let sets = v.pointer("/spec/nodeSets")?.as_array()?;
    let mut pointer = None;
    let mut total = 0;
    for (i, set) in sets.iter().enumerate() {
        if master_eligible(set) {
            total += int(set.get("count")).unwrap_or(0);
            pointer.get_or_insert_with(|| format!("/spec/nodeSets/{i}/count"));
        }
    }
    Some((total, pointer.unwrap_or_else(|| "/spec/nodeSets".into())))
}

/// Group of an object: workloads are their own group, HPAs and Scales belong to their target.
pub fn group_of(r: &ObjectRef, v: &Value) -> String {
    match r.kind.as_str() {
        k if is_autoscaler(k) => hpa(v).map_or_else(|| r.id(), |(target, _, _)| target),
        _ => r.id(),
    }
}

/// Annotations and labels, flattened (annotations win: they carry `quorate.dev/quorum`).
pub fn labels(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in ["/metadata/labels", "/metadata/annotations"] {
        for (k, val) in v
            .pointer(p)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(text) = val.as_str() {
                out.insert(k.clone(), text.to_string());
            }
        }
    }
    out
}

/// A change between two versions of one object (`None`: absent on that side).
pub fn change(
    r: &ObjectRef,
    source: SourceRef,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Change {
    let action = match (before, after) {
        (None, Some(_)) => Action::Create,
        (Some(_), None) => Action::Delete,
        (Some(b), Some(a))
            if b.get("spec") == a.get("spec")
                && b.get("metadata").and_then(|m| m.get("labels"))
                    == a.get("metadata").and_then(|m| m.get("labels")) =>
        {
            Action::NoOp
        }
        _ => Action::Update,
    };
    let count = |v: Option<&Value>, f: fn(&ObjectRef, &Value) -> Option<(i64, String)>| {
        v.and_then(|v| f(r, v))
    };
    let capacity = |f: fn(&ObjectRef, &Value) -> Option<(i64, String)>| {
        let b = count(before, f);
        let a = count(after, f);
        let attribute = a.as_ref().or(b.as_ref())?.1.clone();
        Some(Capacity {
            before: match action {
                Action::Create => Some(0),
                _ => b.map(|x| x.0),
            },
            after: match action {
                Action::Delete => Some(0),
                _ => a.map(|x| x.0),
            },
            attribute,
            unknown: false,
        })
    };
    let current = after.or(before).unwrap_or(&Value::Null);
    Change {
        id: r.id(),
        source,
        kind: format!("{}/{}", r.api_version, r.kind),
        name: r.name.clone(),
        group: Some(group_of(r, current)),
        action,
        actions: Vec::new(),
        action_reason: None,
        capacity: capacity(replicas),
        voters: capacity(voters),
        members_removed: Vec::new(),
        actor: None,
        labels: labels(current),
        before: before.cloned().unwrap_or(Value::Null),
        after: after.cloned().unwrap_or(Value::Null),
        effect: None,
    }
}

/// Instability a workload's status shows: rollout not finished, members not ready.
pub fn status_group(r: &ObjectRef, v: &Value) -> Group {
    let mut g = Group::default();
    let desired = replicas(r, v).map(|x| x.0);
    g.desired = desired;
    let st = |k: &str| int(v.pointer(&format!("/status/{k}")));
    let generation = int(v.pointer("/metadata/generation"));
    let observed = st("observedGeneration");
    if let (Some(gen), Some(obs)) = (generation, observed) {
        if obs < gen {
            g.add_work("rollout", "pending", format!("spec generation {gen} not yet observed by the controller (observedGeneration {obs})"));
        }
    }
    if let (Some(cur), Some(upd)) = (
        s(v, "/status/currentRevision"),
        s(v, "/status/updateRevision"),
    ) {
        if cur != upd {
            g.add_work(
                "rollout",
                "in-progress",
                format!("revision {upd} rolling out over {cur}"),
            );
        }
    }
    if let (Some(want), Some(updated)) = (desired, st("updatedReplicas")) {
        if updated < want && !is_eck(r) {
            g.add_work(
                "rollout",
                "in-progress",
                format!("{updated} of {want} replicas updated"),
            );
        }
    }
    if let Some(t) = st("terminatingReplicas").filter(|&t| t > 0) {
        g.add_work(
            "termination",
            "in-progress",
            format!("{t} replicas terminating"),
        );
    }
    if is_eck(r) {
        g.health = match s(v, "/status/health") {
            Some("green") => crate::model::Health::Green,
            Some("yellow") => crate::model::Health::Yellow,
            Some("red") => crate::model::Health::Red,
            _ => crate::model::Health::Unknown,
        };
        if let Some(phase) = s(v, "/status/phase").filter(|p| *p != "Ready") {
            g.add_work("eck-phase", phase, format!("Elasticsearch phase {phase}"));
        }
    }
    if let Some(q) = labels(v).get(super::QUORUM_LABEL) {
        g.quorum = super::parse_quorum(q, "annotation");
    }
    g
}

/// A pod as a group member, with the group of the workload that owns it.
pub fn pod_member(v: &Value) -> Option<(String, Member)> {
    let r = object_ref(v)?;
    let owner = v
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|o| {
            o.iter()
                .find(|x| x.get("controller") == Some(&Value::Bool(true)))
                .or(o.first())
        });
    let lab = labels(v);
    let group = if let Some(cluster) = lab.get("elasticsearch.k8s.elastic.co/cluster-name") {
        format!("{}/Elasticsearch/{cluster}", r.namespace)
    } else {
        let kind = owner.and_then(|o| o.get("kind")).and_then(Value::as_str)?;
        let name = owner.and_then(|o| o.get("name")).and_then(Value::as_str)?;
        match (kind, lab.get("pod-template-hash")) {
            // Deployment pods are owned by a ReplicaSet named <deployment>-<hash>.
            ("ReplicaSet", Some(hash)) => match name.strip_suffix(&format!("-{hash}")) {
                Some(deployment) => format!("{}/Deployment/{deployment}", r.namespace),
                None => format!("{}/ReplicaSet/{name}", r.namespace),
            },
            (kind, _) => format!("{}/{kind}/{name}", r.namespace),
        }
    };
    let phase = s(v, "/status/phase").unwrap_or("Unknown");
    let ready = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        });
    let deleting = v
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let (state, raw) = if deleting {
        (
            MemberState::Terminating,
            format!("{phase} (deletionTimestamp set)"),
        )
    } else {
        let state = match phase {
            "Pending" => MemberState::Pending,
            "Running" => MemberState::Running,
            "Succeeded" | "Failed" => MemberState::Terminated,
            _ => MemberState::Unknown,
        };
        (state, phase.to_string())
    };
    let voter = lab
        .get("elasticsearch.k8s.elastic.co/node-master")
        .map(|m| m == "true");
    Some((
        group,
        Member {
            id: r.name.clone(),
            state,
            raw_state: raw,
            healthy: ready && !deleting,
            version: lab
                .get("controller-revision-hash")
                .or_else(|| lab.get("pod-template-hash"))
                .cloned(),
            since: s(v, "/status/startTime").map(String::from),
            protected: false,
            voter,
        },
    ))
}

/// A PodDisruptionBudget, kept until the workloads it selects are known.
#[derive(Debug, Clone)]
pub struct Pdb {
    pub namespace: String,
    pub name: String,
    pub match_labels: BTreeMap<String, String>,
    pub min_available: Option<Value>,
    pub max_unavailable: Option<Value>,
}

pub fn pdb(v: &Value) -> Option<Pdb> {
    let r = object_ref(v)?;
    if r.kind != "PodDisruptionBudget" {
        return None;
    }
    let match_labels = v
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), x.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(Pdb {
        namespace: r.namespace,
        name: r.name,
        match_labels,
        min_available: v.pointer("/spec/minAvailable").cloned(),
        max_unavailable: v.pointer("/spec/maxUnavailable").cloned(),
    })
}

impl Pdb {
    /// Whether this PDB selects the pods of a workload (its pod template labels).
    pub fn selects(&self, namespace: &str, workload: &Value) -> bool {
        if namespace != self.namespace || self.match_labels.is_empty() {
            return false;
        }
        let template = workload
            .pointer("/spec/template/metadata/labels")
            .or_else(|| workload.pointer("/spec/selector/matchLabels"));
        let Some(template) = template.and_then(Value::as_object) else {
            return false;
        };
        self.match_labels
            .iter()
            .all(|(k, v)| template.get(k).and_then(Value::as_str) == Some(v.as_str()))
    }

    /// The quorum the PDB promises for a workload of `replicas` members.
    pub fn quorum(&self, replicas: i64) -> Option<Quorum> {
        let resolve = |v: &Value, round_up: bool| -> Option<i64> {
            match v {
                Value::Number(n) => n.as_i64(),
                Value::String(p) => {
                    let pct: f64 = p.trim().strip_suffix('%')?.parse().ok()?;
                    let raw = pct / 100.0 * replicas as f64;
                    Some(if round_up { raw.ceil() } else { raw.floor() } as i64)
                }
                _ => None,
            }
        };
        // Kubernetes rounds minAvailable percentages up and maxUnavailable percentages up too.
        let min = match (&self.min_available, &self.max_unavailable) {
            (Some(m), _) => resolve(m, true)?,
            (None, Some(m)) => replicas - resolve(m, true)?,
            (None, None) => return None,
        };
        (min > 0).then(|| Quorum {
            mode: "count".into(),
            min: Some(min),
            source: format!("pdb {}/{}", self.namespace, self.name),
        })
    }
}

/// `kubectl get statefulsets,deployments,pods,poddisruptionbudgets -A -o json`.
pub fn observed_list(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    for (i, item) in doc
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        observed_object(item, &format!("/items/{i}"), &src, part);
    }
}

/// One live object (`kubectl get statefulset etcd -o json`, or an item of a list).
pub fn observed_object(item: &Value, pointer: &str, src: &SourceRef, part: &mut ObservedPart) {
    let Some(r) = object_ref(item) else { return };
    let mut source = src.clone();
    source.pointer = pointer.to_string();
    if is_workload(&r) {
        let mut g = status_group(&r, item);
        g.sources.push(source);
        let target = part.group(&r.id());
        super::merge_into(target, g);
        part.live.insert(r.id(), item.clone());
    } else if r.kind == "Pod" {
        if let Some((group, member)) = pod_member(item) {
            let g = part.group(&group);
            g.members.push(member);
            if !g.sources.iter().any(|s| s.path == source.path) {
                g.sources.push(src.clone());
            }
        }
    } else if let Some(p) = pdb(item) {
        part.pdbs.push(p);
    } else if is_autoscaler(&r.kind) {
        // An HPA owns its target's replicas: the effects step reads its bounds.
        part.live.insert(r.id(), item.clone());
    }
}

/// Members from `status` counts when the pods themselves are not known: ready replicas serve,
/// the rest are not ready, `terminatingReplicas` are on their way out.
pub fn status_members(r: &ObjectRef, v: &Value, g: &mut Group) {
    if !matches!(r.kind.as_str(), "StatefulSet" | "Deployment" | "ReplicaSet") {
        return;
    }
    let n = |k: &str| v.pointer(&format!("/status/{k}")).and_then(Value::as_i64);
    let Some(total) = n("replicas").map(|t| t.clamp(0, 10_000)) else {
        return;
    };
    // clamp(0, total) is safe: total >= 0 here. Bad input (ready > replicas) is cut down.
    let ready = n("readyReplicas").unwrap_or(0).clamp(0, total);
    let terminating = n("terminatingReplicas").unwrap_or(0).max(0);
    let mut push = |what: &str, count: i64, state: MemberState, raw: String, healthy: bool| {
        for i in 1..=count.min(10_000) {
            g.members.push(Member {
                id: format!("{}#{what}-{i}", r.name),
                state,
                raw_state: raw.clone(),
                healthy,
                ..Member::default()
            });
        }
    };
    push(
        "ready",
        ready,
        MemberState::Running,
        "Ready (status.readyReplicas)".to_string(),
        true,
    );
    push(
        "not-ready",
        total - ready,
        MemberState::Pending,
        "NotReady (status.readyReplicas)".to_string(),
        false,
    );
    push(
        "terminating",
        terminating,
        MemberState::Terminating,
        "Terminating (status.terminatingReplicas)".into(),
        false,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn src() -> SourceRef {
        SourceRef {
            kind: "kubernetes-manifest".into(),
            path: "m.yaml".into(),
            pointer: String::new(),
            after_pointer: Some(String::new()),
            document: 0,
        }
    }

    #[test]
    fn statefulset_scale_down_is_an_update_with_capacity() {
        let old = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "etcd", "namespace": "platform"}, "spec": {"replicas": 5}});
        let new = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "etcd", "namespace": "platform", "annotations": {"quorate.dev/quorum": "majority"}}, "spec": {"replicas": 2}});
        let r = object_ref(&new).unwrap();
        let c = change(&r, src(), Some(&old), Some(&new));
        assert_eq!(c.id, "platform/StatefulSet/etcd");
        assert_eq!(c.kind, "apps/v1/StatefulSet");
        assert_eq!(c.action, Action::Update);
        let cap = c.capacity.unwrap();
        assert_eq!(
            (cap.before, cap.after, cap.attribute.as_str()),
            (Some(5), Some(2), "/spec/replicas")
        );
        assert_eq!(c.labels["quorate.dev/quorum"], "majority");
    }

    #[test]
    fn eck_master_node_sets_are_voters() {
        let es = json!({"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": "logs", "namespace": "search"},
            "spec": {"nodeSets": [
                {"name": "masters", "count": 3, "config": {"node.roles": ["master"]}},
                {"name": "data", "count": 4, "config": {"node.roles": ["data", "ingest"]}}]}});
        let r = object_ref(&es).unwrap();
        assert_eq!(replicas(&r, &es), Some((7, "/spec/nodeSets".into())));
        assert_eq!(voters(&r, &es), Some((3, "/spec/nodeSets/0/count".into())));
    }

    #[test]
    fn pdb_quorum_from_min_available_and_max_unavailable() {
        let p = pdb(&json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "etcd", "namespace": "platform"},
            "spec": {"minAvailable": "51%", "selector": {"matchLabels": {"app": "etcd"}}}})).unwrap();
        assert_eq!(p.quorum(5).unwrap().min, Some(3));
        let sts =
            json!({"spec": {"template": {"metadata": {"labels": {"app": "etcd", "tier": "db"}}}}});
        assert!(p.selects("platform", &sts));
        assert!(!p.selects("other", &sts));
        let q = pdb(&json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"a": "b"}}}})).unwrap();
        assert_eq!(q.quorum(5).unwrap().min, Some(4));
    }

    #[test]
    fn pods_map_to_their_workload_and_state() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-7d4b9c-abcde", "namespace": "shop", "deletionTimestamp": "2026-11-24T09:59:00Z",
            "labels": {"pod-template-hash": "7d4b9c"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d4b9c", "controller": true}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let (group, m) = pod_member(&pod).unwrap();
        assert_eq!(group, "shop/Deployment/web");
        assert_eq!(m.state, MemberState::Terminating);
        assert!(!m.healthy);
    }

    #[test]
    fn status_shows_rollouts() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "etcd", "namespace": "p", "generation": 7},
            "spec": {"replicas": 5}, "status": {"observedGeneration": 7, "currentRevision": "etcd-1", "updateRevision": "etcd-2", "updatedReplicas": 2, "readyReplicas": 5, "replicas": 5}});
        let g = status_group(&object_ref(&sts).unwrap(), &sts);
        assert_eq!(g.in_progress, vec!["rollout".to_string()]);
        assert_eq!(g.desired, Some(5));
    }
}
