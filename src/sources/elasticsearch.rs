//! Elasticsearch `_cluster/health` and `_cat/nodes?format=json` -> group health and members.

use serde_json::Value;

use super::ObservedPart;
use crate::model::{Health, Member, MemberState, SourceRef};

pub fn health(doc: &Value, src: SourceRef, part: &mut ObservedPart, name: Option<&str>) {
    let Some(cluster) = name.or_else(|| doc.get("cluster_name").and_then(Value::as_str)) else {
        return;
    };
    let group = part.group(cluster);
    group.health = match doc.get("status").and_then(Value::as_str) {
        Some("green") => Health::Green,
        Some("yellow") => Health::Yellow,
        Some("red") => Health::Red,
        _ => Health::Unknown,
    };
    for (key, kind, what) in [
        ("relocating_shards", "shard-relocation", "shards relocating"),
        (
            "initializing_shards",
            "shard-initialization",
            "shards initializing",
        ),
    ] {
        if let Some(n) = doc.get(key).and_then(Value::as_i64).filter(|&n| n > 0) {
            group.add_work(kind, "in-progress", format!("{n} {what}"));
        }
    }
    if doc.get("timed_out") == Some(&Value::Bool(true)) {
        group.health = Health::Unknown;
    }
    group.sources.push(src);
}

/// `_cat/nodes` has no cluster name: the group comes from `--observed GROUP=PATH`.
pub fn nodes(doc: &Value, src: SourceRef, part: &mut ObservedPart, group: &str) {
    let g = part.group(group);
    for node in doc.as_array().into_iter().flatten() {
        let id = ["name", "id", "ip"]
            .iter()
            .find_map(|k| node.get(*k).and_then(Value::as_str))
            .unwrap_or("unknown");
        let role = node
            .get("node.role")
            .or_else(|| node.get("r"))
            .and_then(Value::as_str);
        g.members.push(Member {
            id: id.to_string(),
            state: MemberState::Running,
            raw_state: "joined".into(),
            healthy: true,
            version: node
                .get("v")
                .or_else(|| node.get("version"))
                .and_then(Value::as_str)
                .map(String::from),
            since: None,
            protected: false,
            // A node votes when it is master-eligible (`m` in its roles).
            voter: role.map(|r| r.contains('m')),
        });
    }
    g.sources.push(src);
}
