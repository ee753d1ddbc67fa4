//! Recognizes what a parsed document is from its content, never from its file name.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    TerraformPlan,
    AsgGroups,
    AsgInstances,
    InstanceRefreshes,
    ScalingActivities,
    Ec2Instances,
    EsClusterHealth,
    EsCatNodes,
    NativeObserved,
    KubernetesObject,
    KubernetesList,
}

impl DocKind {
    pub fn is_observed(self) -> bool {
        !matches!(self, DocKind::TerraformPlan | DocKind::KubernetesObject)
    }

    pub fn source_type(self) -> &'static str {
        match self {
            DocKind::TerraformPlan => "terraform-plan",
            DocKind::AsgGroups => "aws-describe-auto-scaling-groups",
            DocKind::AsgInstances => "aws-describe-auto-scaling-instances",
            DocKind::InstanceRefreshes => "aws-describe-instance-refreshes",
            DocKind::ScalingActivities => "aws-describe-scaling-activities",
            DocKind::Ec2Instances => "aws-ec2-describe-instances",
            DocKind::EsClusterHealth => "elasticsearch-cluster-health",
            DocKind::EsCatNodes => "elasticsearch-cat-nodes",
            DocKind::NativeObserved => "quorate-observed",
            DocKind::KubernetesObject => "kubernetes-manifest",
            DocKind::KubernetesList => "kubectl-list",
        }
    }
}

/// The formats quorate reads, for "unrecognized document" errors.
pub const KNOWN_FORMATS: &str = "a Terraform plan (`terraform show -json`), \
`aws autoscaling describe-auto-scaling-groups|describe-auto-scaling-instances|describe-instance-refreshes|describe-scaling-activities`, \
`aws ec2 describe-instances`, Elasticsearch `_cluster/health` or `_cat/nodes?format=json`, \
Kubernetes manifests, `kubectl get ... -o json` lists, \
or a quorate observed-state file (apiVersion: quorate.dev/v1, kind: Observed)";

pub fn detect(doc: &Value) -> Option<DocKind> {
    match doc {
        Value::Object(o) => {
            let has = |k: &str| o.contains_key(k);
            if o.get("apiVersion").and_then(Value::as_str) == Some(crate::model::API_VERSION)
                && o.get("kind").and_then(Value::as_str) == Some("Observed")
            {
                Some(DocKind::NativeObserved)
            } else if super::kubernetes::is_list(doc) {
                Some(DocKind::KubernetesList)
            } else if o.contains_key("apiVersion")
                && o.contains_key("kind")
                && o.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
                && o.get("metadata").is_some_and(Value::is_object)
            {
                Some(DocKind::KubernetesObject)
            } else if has("resource_changes")
                || has("resource_drift")
                || has("plan_format_version")
                || (has("format_version") && (has("planned_values") || has("prior_state")))
            {
                Some(DocKind::TerraformPlan)
            } else if has("AutoScalingGroups") {
                Some(DocKind::AsgGroups)
            } else if has("AutoScalingInstances") {
                Some(DocKind::AsgInstances)
            } else if has("InstanceRefreshes") {
                Some(DocKind::InstanceRefreshes)
            } else if has("Activities") {
                Some(DocKind::ScalingActivities)
            } else if has("Reservations") {
                Some(DocKind::Ec2Instances)
            } else if has("cluster_name") && has("status") && has("number_of_nodes") {
                Some(DocKind::EsClusterHealth)
            } else {
                None
            }
        }
        Value::Array(items) => {
            let looks_like_node = |v: &Value| {
                v.as_object().is_some_and(|o| {
                    o.contains_key("ip")
                        && (o.contains_key("name")
                            || o.contains_key("id")
                            || o.contains_key("node.role"))
                })
            };
            (!items.is_empty() && items.iter().all(looks_like_node)).then_some(DocKind::EsCatNodes)
        }
        _ => None,
    }
}

/// A short description of what a document seems to be, for error messages.
pub fn describe(doc: &Value) -> String {
    match doc {
        Value::Object(o) => {
            if let (Some(api), Some(kind)) = (
                o.get("apiVersion").and_then(Value::as_str),
                o.get("kind").and_then(Value::as_str),
            ) {
                return format!("a `{kind}` ({api}) document");
            }
            let keys: Vec<&str> = o.keys().take(4).map(String::as_str).collect();
            if keys.is_empty() {
                "an empty object".into()
            } else {
                format!("an object with keys {}", keys.join(", "))
            }
        }
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Null => "an empty document".into(),
        Value::String(_) => "a plain string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
    }
}
