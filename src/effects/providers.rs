//! Provider semantics: how each supported type turns its attributes into a member count after
//! apply (clamps, defaults, owners of the count). One function per question, one arm per type;
//! the README's member/group/quorum section and `docs/effects.md` say the same in words.

use serde_json::Value;

use crate::model::{Action, Change, Group};

/// Effective member counts of one change, and why.
#[derive(Debug, Default)]
pub struct Counts {
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// The attribute that decides the count after (`/max_size` when it clamps).
    pub attribute: String,
    pub notes: Vec<String>,
    /// Members a rolling deployment may stop at once while it replaces them (ECS).
    pub rolling: Option<i64>,
}

fn num(v: &Value, pointer: &str) -> Option<i64> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Counts for a change to a sized resource; `None` when it has no member count.
pub fn counts(
    c: &Change,
    observed: Option<&Group>,
    hpa: Option<&(i64, i64, String)>,
) -> Option<Counts> {
    let cap = c.capacity.as_ref();
    let mut out = Counts {
        before: cap.and_then(|x| x.before),
        after: cap.and_then(|x| if x.unknown { None } else { x.after }),
        attribute: cap.map(|x| x.attribute.clone()).unwrap_or_default(),
        ..Counts::default()
    };
    if cap.is_none() && c.voters.is_none() {
        return None;
    }
    match c.kind.as_str() {
        "aws_autoscaling_group" => asg(c, observed, &mut out),
        "aws_ecs_service" => ecs(c, &mut out),
        k if k.ends_with("/Deployment")
            || k.ends_with("/StatefulSet")
            || k.ends_with("/ReplicaSet") =>
        {
            if let Some(h) = hpa {
                hpa_owned(c, observed, h, &mut out);
            }
        }
        _ => {}
    }
    if c.action == Action::Create {
        out.before = Some(0);
    }
    if c.action == Action::Delete {
        out.after = Some(0);
    }
    Some(out)
}

/// Auto Scaling: UpdateAutoScalingGroup clamps the desired capacity into [MinSize, MaxSize]
/// when DesiredCapacity is not sent, and the AWS provider only sends it when it changes (or
/// never, when `desired_capacity` is not set). A lowered `max_size` is a scale-in.
fn asg(c: &Change, observed: Option<&Group>, out: &mut Counts) {
    let current = num(&c.before, "/desired_capacity").or(observed.and_then(|g| g.desired));
    out.before = current.or(out.before);
    if c.action == Action::Delete || c.capacity.as_ref().is_some_and(|x| x.unknown) {
        return;
    }
    let wanted = num(&c.after, "/desired_capacity").or(current);
    let Some(wanted) = wanted else {
        out.after = None;
        return;
    };
    let min = num(&c.after, "/min_size");
    let max = num(&c.after, "/max_size");
    let mut after = wanted;
    out.attribute = "/desired_capacity".into();
    if let Some(max) = max.filter(|m| wanted > *m) {
        after = max;
        out.attribute = "/max_size".into();
        out.notes.push(format!(
            "max_size {max} is below the desired capacity {wanted}: Auto Scaling sets desired to the new maximum ({wanted} -> {max})"
        ));
    }
    if let Some(min) = min.filter(|m| after < *m) {
        after = min;
        out.attribute = "/min_size".into();
        out.notes.push(format!(
            "min_size {min} is above the desired capacity {wanted}: Auto Scaling raises desired to the new minimum"
        ));
    }
    out.after = Some(after);
}

/// ECS: a new deployment (task definition change or forced) may stop tasks down to
/// `deployment_minimum_healthy_percent` of the desired count (default 100) before their
/// replacements run.
fn ecs(c: &Change, out: &mut Counts) {
    if c.action != Action::Update {
        return;
    }
    let redeploys = c.before.get("task_definition") != c.after.get("task_definition")
        || c.after.get("force_new_deployment") == Some(&Value::Bool(true));
    let (Some(desired), true) = (out.after, redeploys) else {
        return;
    };
    let pct = num(&c.after, "/deployment_minimum_healthy_percent").unwrap_or(100);
    let keep = (desired * pct + 99) / 100;
    if keep < desired {
        out.rolling = Some(desired - keep);
        out.notes.push(format!(
            "the new deployment may stop {} of {desired} tasks at once (deployment_minimum_healthy_percent {pct})",
            desired - keep
        ));
    }
}

/// A workload an HPA targets: the HPA owns `spec.replicas`, so what the manifest says is
/// overwritten; the count after stays within the HPA's bounds.
fn hpa_owned(c: &Change, observed: Option<&Group>, h: &(i64, i64, String), out: &mut Counts) {
    let (min, max, id) = h;
    let current = observed.and_then(|g| g.desired).or(out.before);
    out.before = current;
    if c.action == Action::Delete {
        return;
    }
    if let Some(n) = current {
        out.after = Some(n.clamp(*min, (*max).max(*min)));
        out.notes.push(format!(
            "{id} owns spec.replicas ({min}..{max}): the replicas in the manifest do not decide the count"
        ));
    }
}

/// Attributes whose drift changes a member count (the outage's pattern), per type.
pub fn count_attributes(kind: &str, change: Option<&Change>) -> Vec<String> {
    let mut out: Vec<String> = match kind {
        "aws_autoscaling_group" => vec!["/desired_capacity", "/min_size", "/max_size"],
        "aws_eks_node_group" => vec!["/scaling_config"],
        "aws_ecs_service" => vec!["/desired_count"],
        "aws_opensearch_domain" | "aws_elasticsearch_domain" => vec![
            "/cluster_config/0/instance_count",
            "/cluster_config/0/dedicated_master",
        ],
        "aws_msk_cluster" => vec!["/number_of_broker_nodes"],
        _ => Vec::new(),
    }
    .into_iter()
    .map(String::from)
    .collect();
    if let Some(a) = change
        .and_then(|c| c.capacity.as_ref())
        .map(|c| c.attribute.clone())
        .filter(|a| !a.is_empty())
    {
        out.push(a);
    }
    out
}

/// What waits for the new members of a create-first replace, in words.
pub fn replace_wait(c: &Change) -> String {
    if c.kind == "aws_autoscaling_group" {
        let timeout = c
            .after
            .get("wait_for_capacity_timeout")
            .and_then(Value::as_str)
            .unwrap_or("10m");
        if timeout.trim_start_matches('0').is_empty() || timeout == "0s" || timeout == "0m" {
            return ", and Terraform does not wait for capacity (wait_for_capacity_timeout = 0)"
                .into();
        }
        return format!(
            ", after Terraform waited (wait_for_capacity_timeout {timeout}) for the new instances to be InService, which says nothing of their joining the quorum"
        );
    }
    ", and nothing waits for the new members to serve".into()
}
