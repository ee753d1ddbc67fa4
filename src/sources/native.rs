//! quorate's own observed-state format (apiVersion quorate.dev/v1, kind Observed), for groups
//! no built-in adapter reads. Validated against `quorate schema observed`.

use serde_json::Value;

use super::ObservedPart;
use crate::error::{Result, Stage};
use crate::model::{Health, Member, MemberState, SourceRef};
use crate::schema::{self, Which};
use crate::text::{SourceText, YamlDoc};

pub fn load(
    doc: &YamlDoc,
    src: &SourceText,
    source: SourceRef,
    part: &mut ObservedPart,
) -> Result<()> {
    schema::validate(Which::Observed, doc, src, Stage::Observed)?;
    let v = &doc.value;
    if let Some(t) = v.get("taken_at").and_then(Value::as_str) {
        part.taken_at = Some(t.to_string());
    }
    let groups = v.get("groups").and_then(Value::as_object);
    for (name, g) in groups.into_iter().flatten() {
        let group = part.group(name);
        group.desired = g.get("desired").and_then(Value::as_i64);
        group.health = match g.get("health").and_then(Value::as_str) {
            Some("green") => Health::Green,
            Some("yellow") => Health::Yellow,
            Some("red") => Health::Red,
            _ => Health::Unknown,
        };
        for work in g
            .get("in_progress")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            group.add_work(work, "in-progress", work);
        }
        group.last_change = g
            .get("last_change")
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(q) = g.get("quorum") {
            let text = match q {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            group.quorum = super::parse_quorum(&text, "observed");
        }
        for m in g
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let state: MemberState = m
                .get("state")
                .cloned()
                .and_then(|s| serde_json::from_value(s).ok())
                .unwrap_or_default();
            let get = |k: &str| m.get(k).and_then(Value::as_str).map(String::from);
            group.members.push(Member {
                id: get("id").unwrap_or_default(),
                state,
                raw_state: get("raw_state")
                    .or_else(|| get("state"))
                    .unwrap_or_default(),
                healthy: m
                    .get("healthy")
                    .and_then(Value::as_bool)
                    .unwrap_or(state == MemberState::Running),
                version: get("version"),
                since: get("since"),
                protected: m.get("protected").and_then(Value::as_bool).unwrap_or(false),
                voter: m.get("voter").and_then(Value::as_bool),
            });
        }
        let mut s = source.clone();
        s.pointer = format!("/groups/{}", crate::text::escape_token(name));
        group.sources.push(s);
    }
    Ok(())
}
