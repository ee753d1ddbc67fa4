//! Terraform plan JSON (`terraform show -json`, format 0.1 to 1.2) -> changes and drift.
//! Knows where each resource type keeps its member count and its voter count.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::model::{Action, Capacity, Change, Drift, SourceRef};
use crate::text::{escape_token, SourceText};

const SOURCE_TYPE: &str = "terraform-plan";

/// Where a resource type keeps its counts, as JSON pointers into the resource's values.
struct Counts {
    capacity: &'static [&'static str],
    voters: Option<&'static str>,
    /// Attribute naming the native object (ASG name, domain name...).
    name: &'static [&'static str],
}

fn counts_for(kind: &str) -> Option<Counts> {
    let c = |capacity, voters, name| {
        Some(Counts {
            capacity,
            voters,
            name,
        })
    };
    match kind {
        "aws_autoscaling_group" => c(&["/desired_capacity", "/min_size"], None, &["/name"]),
        "aws_opensearch_domain" | "aws_elasticsearch_domain" => c(
            &["/cluster_config/0/instance_count"],
            Some("/cluster_config/0/dedicated_master_count"),
            &["/domain_name"],
        ),
        "aws_ecs_service" => c(&["/desired_count"], None, &["/name"]),
        "google_compute_instance_group_manager"
        | "google_compute_region_instance_group_manager" => c(&["/target_size"], None, &["/name"]),
        "azurerm_linux_virtual_machine_scale_set"
        | "azurerm_windows_virtual_machine_scale_set"
        | "azurerm_orchestrated_virtual_machine_scale_set" => c(&["/instances"], None, &["/name"]),
        "azurerm_virtual_machine_scale_set" => c(&["/sku/0/capacity"], None, &["/name"]),
        "kubernetes_stateful_set"
        | "kubernetes_stateful_set_v1"
        | "kubernetes_deployment"
        | "kubernetes_deployment_v1" => c(&["/spec/0/replicas"], None, &["/metadata/0/name"]),
        "aws_msk_cluster" => c(&["/number_of_broker_nodes"], None, &["/cluster_name"]),
        "aws_eks_node_group" => c(
            &["/scaling_config/0/desired_size"],
            None,
            &["/node_group_name"],
        ),
        _ => None,
    }
}

fn as_count(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        // kubernetes_* providers keep replicas as a string.
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_unknown(after_unknown: &Value, pointer: &str) -> bool {
    if after_unknown == &Value::Bool(true) {
        return true;
    }
    // Unknown may be flagged at the attribute or at any parent block.
    let mut p = pointer.to_string();
    loop {
        if after_unknown.pointer(&p) == Some(&Value::Bool(true)) {
            return true;
        }
        match p.rfind('/') {
            Some(0) | None => return false,
            Some(i) => p.truncate(i),
        }
    }
}

fn parse_actions(actions: &[Value]) -> Option<Action> {
    let words: Vec<&str> = actions.iter().filter_map(Value::as_str).collect();
    Some(match words.as_slice() {
        ["no-op"] => Action::NoOp,
        ["create"] => Action::Create,
        ["read"] => Action::Read,
        ["update"] => Action::Update,
        ["delete"] => Action::Delete,
        ["delete", "create"] | ["create", "delete"] => Action::Replace,
        ["forget"] | ["create", "forget"] | ["forget", "create"] => Action::Forget,
        _ => return None,
    })
}

fn str_at<'a>(v: &'a Value, pointers: &[&str]) -> Option<&'a str> {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
}

/// Address without the trailing `[index]` of count / for_each instances.
fn base_address(address: &str, index: Option<&Value>) -> String {
    if index.is_some() {
        if let Some(i) = address.rfind('[') {
            if address.ends_with(']') {
                return address.get(..i).unwrap_or(address).to_string();
            }
        }
    }
    address.to_string()
}

/// Flattens tags (map or ASG `tag` blocks) and Kubernetes labels/annotations.
fn labels_of(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put_map = |m: &Value| {
        if let Some(o) = m.as_object() {
            for (k, v) in o {
                if let Some(s) = v.as_str() {
                    out.insert(k.clone(), s.to_string());
                }
            }
        }
    };
    for p in [
        "/tags_all",
        "/tags",
        "/metadata/0/labels",
        "/metadata/0/annotations",
    ] {
        if let Some(m) = v.pointer(p) {
            put_map(m);
        }
    }
    for blocks in ["/tag", "/tags"] {
        if let Some(list) = v.pointer(blocks).and_then(Value::as_array) {
            for t in list {
                if let (Some(k), Some(val)) = (
                    t.get("key").and_then(Value::as_str),
                    t.get("value").and_then(Value::as_str),
                ) {
                    out.insert(k.to_string(), val.to_string());
                }
            }
        }
    }
    out
}

/// Group key of a resource: native name for capacity types, `ns/Kind/name` for
/// Kubernetes workloads, the address without index otherwise.
fn group_of(kind: &str, values: &Value, address: &str, index: Option<&Value>) -> String {
    if kind.starts_with("kubernetes_stateful_set") || kind.starts_with("kubernetes_deployment") {
        let ns = str_at(values, &["/metadata/0/namespace"]).unwrap_or("default");
        let k = if kind.starts_with("kubernetes_stateful_set") {
            "StatefulSet"
        } else {
            "Deployment"
        };
        if let Some(name) = str_at(values, &["/metadata/0/name"]) {
            return format!("{ns}/{k}/{name}");
        }
    }
    if let Some(counts) = counts_for(kind) {
        if let Some(name) = str_at(values, counts.name) {
            return name.to_string();
        }
    }
    base_address(address, index)
}

fn capacity_of(
    before: &Value,
    after: &Value,
    after_unknown: &Value,
    candidates: &[&str],
    action: Action,
) -> Option<Capacity> {
    // The first attribute that is set (or unknown) on either side is the one the resource uses.
    let attribute = candidates.iter().find(|p| {
        before.pointer(p).is_some_and(|v| !v.is_null())
            || after.pointer(p).is_some_and(|v| !v.is_null())
            || is_unknown(after_unknown, p)
    })?;
    let unknown = action != Action::Delete && is_unknown(after_unknown, attribute);
    // A resource being created has no members yet.
    let b = if action == Action::Create {
        Some(0)
    } else {
        before.pointer(attribute).and_then(as_count)
    };
    let a = if unknown {
        None
    } else if action == Action::Delete {
        Some(0)
    } else {
        after.pointer(attribute).and_then(as_count)
    };
    Some(Capacity {
        before: b,
        after: a,
        attribute: attribute.to_string(),
        unknown,
    })
}

/// Leaf attributes that differ between two values, as JSON pointers (bounded).
fn diff_attributes(before: &Value, after: &Value, pointer: &str, out: &mut Vec<String>) {
    const MAX: usize = 64;
    // Providers normalize absent, null and empty collections into each other: not drift.
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if out.len() >= MAX || before == after || (empty(before) && empty(after)) {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let p = format!("{pointer}/{}", escape_token(k));
                diff_attributes(bv, a.get(k).unwrap_or(&Value::Null), &p, out);
            }
            for (k, av) in a {
                if !b.contains_key(k) && !empty(av) {
                    out.push(format!("{pointer}/{}", escape_token(k)));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                diff_attributes(bv, av, &format!("{pointer}/{i}"), out);
            }
        }
        _ => out.push(pointer.to_string()),
    }
}

pub struct Plan {
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
}

pub fn load(src: &SourceText, doc: &Value) -> Result<Plan> {
    let path = src.path.as_str();
    let bad = |pointer: &str, msg: &str| -> Error {
        let spans = crate::text::locate_json(&src.text, &[pointer.to_string()]);
        match spans.get(pointer) {
            Some(&(s, _)) => Error::at(Stage::Input, src, s, msg),
            None => Error::file(Stage::Input, path, format!("{pointer}: {msg}")),
        }
    };
    let empty = Vec::new();
    let rcs = match doc.get("resource_changes") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(bad(
                "/resource_changes",
                "`resource_changes` must be an array",
            ))
        }
    };
    let mut changes = Vec::with_capacity(rcs.len());
    let mut by_address: HashMap<String, usize> = HashMap::new();
    for (i, rc) in rcs.iter().enumerate() {
        let ptr = format!("/resource_changes/{i}");
        let Some(address) = rc.get("address").and_then(Value::as_str) else {
            return Err(bad(&ptr, "resource change has no `address`"));
        };
        let kind = rc.get("type").and_then(Value::as_str).unwrap_or_default();
        let change = rc.get("change").unwrap_or(&Value::Null);
        let Some(actions) = change.get("actions").and_then(Value::as_array) else {
            return Err(bad(&ptr, "resource change has no `change.actions` list"));
        };
        let Some(action) = parse_actions(actions) else {
            return Err(bad(
                &format!("{ptr}/change/actions"),
                &format!(
                    "unknown Terraform action list {}",
                    Value::Array(actions.clone())
                ),
            ));
        };
        let before = change.get("before").cloned().unwrap_or(Value::Null);
        let after = change.get("after").cloned().unwrap_or(Value::Null);
        let after_unknown = change.get("after_unknown").cloned().unwrap_or(Value::Null);
        let index = rc.get("index");
        let values = if after.is_null() { &before } else { &after };
        let counts = counts_for(kind);
        for attribute in counts
            .iter()
            .flat_map(|c| c.capacity.iter().chain(c.voters.iter()))
        {
            for (side, v) in [("before", &before), ("after", &after)] {
                let Some(x) = v.pointer(attribute).filter(|x| !x.is_null()) else {
                    continue;
                };
                if as_count(x).is_none_or(|n| n < 0) {
                    return Err(bad(
                        &format!("{ptr}/change/{side}{attribute}"),
                        &format!(
                            "{} must be a whole number of at least 0, not {x}",
                            attribute.trim_start_matches('/')
                        ),
                    ));
                }
            }
        }
        let capacity = counts
            .as_ref()
            .and_then(|c| capacity_of(&before, &after, &after_unknown, c.capacity, action));
        let voters = counts.as_ref().and_then(|c| c.voters).and_then(|v| {
            // Dedicated masters only vote when they are enabled.
            let enabled = |x: &Value| {
                x.pointer("/cluster_config/0/dedicated_master_enabled") == Some(&Value::Bool(true))
            };
            (enabled(&before) || enabled(&after)).then(|| {
                let mut cap = capacity_of(&before, &after, &after_unknown, &[v], action)?;
                if !enabled(&after) && action != Action::Delete && !cap.unknown {
                    cap.after = Some(0);
                }
                if !enabled(&before) {
                    cap.before = Some(0);
                }
                Some(cap)
            })?
        });
        let deposed = rc.get("deposed").and_then(Value::as_str);
        let id = match deposed {
            Some(key) => format!("{address} (deposed {key})"),
            None => address.to_string(),
        };
        let name = counts
            .as_ref()
            .and_then(|c| str_at(values, c.name))
            .or_else(|| str_at(values, &["/name"]))
            .or_else(|| rc.get("name").and_then(Value::as_str))
            .unwrap_or(address)
            .to_string();
        let mut members_removed = Vec::new();
        if counts.is_none() && matches!(action, Action::Delete | Action::Replace) {
            if let Some(member) = str_at(&before, &["/id", "/arn", "/name"]) {
                members_removed.push(member.to_string());
            }
        }
        // A replace that renames (an ASG's `name` forces one) acts on the live group: the
        // old name is the one observed state knows.
        let current = if before.is_null() { &after } else { &before };
        let group = group_of(kind, current, address, index);
        by_address
            .entry(address.to_string())
            .or_insert(changes.len());
        if let Some(prev) = rc.get("previous_address").and_then(Value::as_str) {
            by_address.entry(prev.to_string()).or_insert(changes.len());
        }
        changes.push(Change {
            id,
            source: SourceRef {
                kind: SOURCE_TYPE.into(),
                path: path.to_string(),
                pointer: ptr.clone(),
                after_pointer: Some(format!(
                    "{ptr}/change/{}",
                    if action == Action::Delete {
                        "before"
                    } else {
                        "after"
                    }
                )),
                document: 0,
            },
            kind: kind.to_string(),
            name,
            group: Some(group),
            action,
            actions: if action == Action::Replace {
                actions
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            } else {
                Vec::new()
            },
            action_reason: rc
                .get("action_reason")
                .and_then(Value::as_str)
                .map(String::from),
            capacity,
            voters,
            members_removed,
            actor: None,
            labels: labels_of(values),
            before,
            after,
            effect: None,
        });
    }

    let rds = match doc.get("resource_drift") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("/resource_drift", "`resource_drift` must be an array")),
    };
    let mut drift = Vec::new();
    for (j, rd) in rds.iter().enumerate() {
        let ptr = format!("/resource_drift/{j}");
        let Some(address) = rd.get("address").and_then(Value::as_str) else {
            return Err(bad(&ptr, "drift entry has no `address`"));
        };
        let kind = rd.get("type").and_then(Value::as_str).unwrap_or_default();
        let change = rd.get("change").unwrap_or(&Value::Null);
        let before = change.get("before").unwrap_or(&Value::Null);
        let after = change.get("after").unwrap_or(&Value::Null);
        let touched = by_address
            .get(address)
            .or_else(|| {
                rd.get("previous_address")
                    .and_then(Value::as_str)
                    .and_then(|p| by_address.get(p))
            })
            .and_then(|&i| changes.get(i));
        let linked = touched
            .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
            .map(|c| c.id.clone());
        let values = if after.is_null() { before } else { after };
        let group = touched
            .and_then(|c| c.group.clone())
            .unwrap_or_else(|| group_of(kind, values, address, rd.get("index")));
        let mut attrs = Vec::new();
        if after.is_null() && !before.is_null() {
            drift.push(Drift {
                change: linked.clone(),
                address: address.to_string(),
                group: Some(group.clone()),
                source: "terraform-resource-drift".into(),
                attribute: String::new(),
                committed: Value::String("present".into()),
                live: Value::String("deleted outside Terraform".into()),
                origin: SourceRef {
                    kind: SOURCE_TYPE.into(),
                    path: path.to_string(),
                    pointer: ptr.clone(),
                    after_pointer: None,
                    document: 0,
                },
                class: "other".into(),
            });
            continue;
        }
        diff_attributes(before, after, "", &mut attrs);
        let invisible = attrs.is_empty();
        if invisible {
            // Terraform reported drift it does not show (sensitive or normalized values).
            attrs.push(String::new());
        }
        for attribute in attrs {
            let value = |v: &Value| match invisible {
                true => Value::Null,
                false => v.pointer(&attribute).cloned().unwrap_or(Value::Null),
            };
            drift.push(Drift {
                change: linked.clone(),
                address: address.to_string(),
                group: Some(group.clone()),
                source: "terraform-resource-drift".into(),
                committed: value(before),
                live: value(after),
                origin: SourceRef {
                    kind: SOURCE_TYPE.into(),
                    path: path.to_string(),
                    pointer: format!("{ptr}/change/after{attribute}"),
                    after_pointer: None,
                    document: 0,
                },
                class: "other".into(),
                attribute,
            });
        }
    }
    Ok(Plan { changes, drift })
}
