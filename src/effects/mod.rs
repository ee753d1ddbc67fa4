//! Effects: per change, what the provider will really do to a group's members, computed once
//! from the model and the observed state and published as `changes[i].effect`. Facts, not
//! policy: the built-in Rego reads them and decides. Pure; no I/O.

pub mod catalog;
mod providers;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::config::Config;
use crate::model::{
    Action, Change, ChangeSet, Effect, Group, Member, MemberState, Order, QuorumFact, Removed, Role,
};
use crate::sources::QUORUM_LABEL;

/// Fills `effect` on every change that touches the members of a serving group, and `class`
/// on every drift entry. `live` holds live Kubernetes objects (HPAs among them) by id.
pub fn apply(set: &mut ChangeSet, config: &Config, live: &BTreeMap<String, Value>) {
    let hpas = hpa_bounds(set, live);
    // An HPA owns its target's replicas: a live count that differs from the manifest is the
    // HPA at work, not a hand-made change.
    set.drift.retain(|d| {
        !(d.source == "live-vs-committed"
            && d.group.as_deref().is_some_and(|g| hpas.contains_key(g)))
    });
    let groups = instance_groups(&set.changes, config);
    let mut effects: Vec<Option<Effect>> = Vec::with_capacity(set.changes.len());
    for c in &set.changes {
        effects.push(
            if groups.contains_key(c.group.as_deref().unwrap_or_default()) {
                None
            } else {
                sized(c, set, config, &hpas)
            },
        );
    }
    for (group, members) in &groups {
        let (primary, effect) = instance_group(group, members, set, config);
        for &i in members {
            let Some(slot) = effects.get_mut(i) else {
                continue;
            };
            if i == primary {
                *slot = Some(effect.clone());
            } else if let Some(id) = set.changes.get(primary).map(|c| c.id.clone()) {
                *slot = Some(Effect {
                    counted_in: Some(id),
                    role: effect.role,
                    ..Effect::default()
                });
            }
        }
    }
    for (c, e) in set.changes.iter_mut().zip(effects) {
        c.effect = e;
    }
    classify_drift(set, config);
}

// ---------------------------------------------------------------- HPAs

/// HPA bounds by target id: live HPAs, overridden by the HPAs the change set leaves.
fn hpa_bounds(
    set: &ChangeSet,
    live: &BTreeMap<String, Value>,
) -> HashMap<String, (i64, i64, String)> {
    let mut out = HashMap::new();
    for (id, v) in live {
        if let Some((target, min, max)) = crate::sources::kubernetes::hpa(v) {
            out.insert(target, (min, max, id.clone()));
        }
    }
    for c in &set.changes {
        if !is_autoscaler_change(c) {
            continue;
        }
        // An HPA the change deletes no longer owns its target's replicas.
        match crate::sources::kubernetes::hpa(&c.after) {
            Some((target, min, max)) => {
                out.insert(target, (min, max, c.id.clone()));
            }
            None => {
                if let Some((target, _, _)) = crate::sources::kubernetes::hpa(&c.before) {
                    out.remove(&target);
                }
            }
        }
    }
    out
}

fn is_autoscaler_change(c: &Change) -> bool {
    c.kind
        .rsplit('/')
        .next()
        .is_some_and(crate::sources::kubernetes::is_autoscaler)
}

// ---------------------------------------------------------------- sized resources

/// The effect of a change to a resource with its own member count (ASG, StatefulSet, domain...).
fn sized(
    c: &Change,
    set: &ChangeSet,
    config: &Config,
    hpas: &HashMap<String, (i64, i64, String)>,
) -> Option<Effect> {
    let group = c.group.as_deref().unwrap_or_default();
    let observed = set.observed.groups.get(group);
    if is_autoscaler_change(c) {
        return hpa_change(c, set, config, observed);
    }
    let counts = match providers::counts(c, observed, hpas.get(group)) {
        Some(counts) => counts,
        None => lone_declared(c, config)?,
    };
    let rolling = counts.rolling;
    let uses_voters = c
        .voters
        .as_ref()
        .is_some_and(|v| v.before.is_some() || v.after.is_some());
    let members = observed.map(|g| g.members.as_slice()).unwrap_or_default();
    let counted = members
        .iter()
        .filter(|m| m.state != MemberState::Terminated)
        .count() as i64;
    let has_members = counted > 0;
    let (plan_before, plan_after) = match (&c.voters, uses_voters) {
        (Some(v), true) => (v.before, v.after),
        _ => (counts.before, counts.after),
    };
    // The provider counts every member not already gone.
    let before = if has_members && !uses_voters {
        Some(counted)
    } else {
        plan_before
    };
    let after = if c.action == Action::Delete {
        Some(0)
    } else {
        plan_after
    };
    let mut e = Effect {
        members_before: before,
        members_after: after,
        observed: has_members,
        attribute: counts.attribute,
        notes: counts.notes,
        ..Effect::default()
    };
    let voters = voting_members(members);
    e.healthy_now = healthy_voters(members).or(plan_before);
    e.protected = if has_members {
        voters.iter().filter(|m| serving(m) && m.protected).count() as i64
    } else {
        0
    };
    e.order = order(c);
    let removals = match (before, after) {
        (Some(b), Some(a)) => Some((b - a).max(c.members_removed.len() as i64).max(0)),
        _ => None,
    };
    e.removed = Removed {
        count: removals,
        ids: Vec::new(),
        exact: false,
    };
    e.members_min = after;
    if let (Some(r), Some(a)) = (rolling, after) {
        if r > removals.unwrap_or(0) {
            e.removed.count = Some(r);
            e.members_min = Some(a - r);
        }
    }
    // Named removals (a pod deleted or evicted): exactly those members, replaced meanwhile.
    if !c.members_removed.is_empty() && before == after {
        e.removed = Removed {
            count: Some(c.members_removed.len() as i64),
            ids: c.members_removed.clone(),
            exact: true,
        };
        e.members_min = before.map(|b| b - c.members_removed.len() as i64);
    }
    if let Some(ids) = statefulset_ordinals(c, members, before, after) {
        e.removed = Removed {
            count: Some(ids.len() as i64),
            ids,
            exact: true,
        };
    }
    worst_case(&mut e, members);
    replace(&mut e, c, before);
    quorum(&mut e, c, observed, config);
    Some(e)
}

/// A resource without a member count that is declared a quorum group (config or label) on
/// its own: one member, which a delete or replace removes.
fn lone_declared(c: &Change, config: &Config) -> Option<providers::Counts> {
    let group = c.group.as_deref().unwrap_or_default();
    let declared = config.groups.get(group).is_some_and(|g| g.quorum.is_some())
        || c.labels.contains_key(QUORUM_LABEL);
    if !declared || !matches!(c.action, Action::Delete | Action::Replace) {
        return None;
    }
    Some(providers::Counts {
        before: Some(1),
        after: Some(if c.action == Action::Delete { 0 } else { 1 }),
        ..providers::Counts::default()
    })
}

/// Members that vote: those flagged as voters when the source says, else all of them.
fn voting_members(members: &[Member]) -> Vec<&Member> {
    let flagged: Vec<&Member> = members.iter().filter(|m| m.voter == Some(true)).collect();
    if flagged.is_empty() {
        members.iter().collect()
    } else {
        flagged
    }
}

/// Serving voters among observed members; `None` when no member is observed (every member is
/// gone or none was listed), so callers fall back to the plan's count.
fn healthy_voters(members: &[Member]) -> Option<i64> {
    members
        .iter()
        .any(|m| m.state != MemberState::Terminated)
        .then(|| {
            voting_members(members)
                .iter()
                .filter(|m| serving(m))
                .count() as i64
        })
}

fn serving(m: &Member) -> bool {
    m.state == MemberState::Running && m.healthy
}

/// Healthy members after: exact when the removed members are known, else the provider may
/// pick the healthy, unprotected members first.
fn worst_case(e: &mut Effect, members: &[Member]) {
    let (Some(now), Some(removed)) = (e.healthy_now, e.removed.count) else {
        e.healthy_after = None;
        return;
    };
    e.healthy_after = Some(if e.removed.exact && e.observed {
        let lost = e
            .removed
            .ids
            .iter()
            .filter(|id| members.iter().find(|m| &&m.id == id).is_none_or(serving))
            .count() as i64;
        (now - lost).max(0)
    } else if e.removed.exact {
        (now - removed).max(0)
    } else {
        now - removed.min((now - e.protected).max(0))
    });
}

/// A StatefulSet removes its highest ordinals: with observed pods, exactly which ones.
fn statefulset_ordinals(
    c: &Change,
    members: &[Member],
    before: Option<i64>,
    after: Option<i64>,
) -> Option<Vec<String>> {
    let is_sts = c.kind.ends_with("/StatefulSet") || c.kind.starts_with("kubernetes_stateful_set");
    let (Some(b), Some(a)) = (before, after) else {
        return None;
    };
    if !is_sts || members.is_empty() || a >= b || c.action != Action::Update {
        return None;
    }
    let prefix = format!("{}-", c.name);
    let ordinal = |m: &Member| -> Option<i64> { m.id.strip_prefix(&prefix)?.parse().ok() };
    let live: Vec<&Member> = members
        .iter()
        .filter(|m| m.state != MemberState::Terminated)
        .collect();
    // Only pods named by ordinal say which ones go (status counts do not).
    if live.is_empty() || live.iter().any(|m| ordinal(m).is_none()) {
        return None;
    }
    let mut ids: Vec<(i64, String)> = live
        .iter()
        .filter_map(|m| {
            let n = ordinal(m)?;
            (n >= a).then(|| (n, m.id.clone()))
        })
        .collect();
    ids.sort();
    ids.reverse();
    Some(ids.into_iter().map(|(_, id)| id).collect())
}

fn order(c: &Change) -> Order {
    if c.action != Action::Replace {
        return Order::InPlace;
    }
    match c.actions.first().map(String::as_str) {
        Some("create") => Order::CreateFirst,
        _ => Order::DeleteFirst,
    }
}

/// A replace removes every old member: before the new group exists (delete first), or once
/// it exists but before anything waits for its members to serve (create first).
fn replace(e: &mut Effect, c: &Change, before: Option<i64>) {
    match e.order {
        Order::InPlace => {}
        Order::DeleteFirst => {
            e.removed.count = before;
            e.members_min = Some(0);
            e.healthy_after = Some(0);
            e.notes.push(format!(
                "{} is replaced delete-first (Terraform's default): every old member is destroyed before the new group is created",
                c.id
            ));
        }
        Order::CreateFirst => {
            e.removed.count = before;
            e.members_min = e.members_after;
            e.healthy_after = None;
            let wait = providers::replace_wait(c);
            e.notes.push(format!(
                "{} is replaced create-first (create_before_destroy): the old members are destroyed once the new group exists{wait}",
                c.id
            ));
        }
    }
}

// ---------------------------------------------------------------- quorum

/// The group's quorum and where it came from: config, the resource's label or tag, the
/// observed state (annotation, PDB), a distinct voter count, or the consensus catalog.
fn quorum_spec(
    c: &Change,
    observed: Option<&Group>,
    config: &Config,
) -> Option<(String, Option<i64>, String)> {
    let group = c.group.as_deref().unwrap_or_default();
    let from = |q: &crate::model::Quorum, source: &str| {
        let spec = if q.source.starts_with("pdb ") {
            "pdb"
        } else if q.mode == "majority" {
            "majority"
        } else {
            "count"
        };
        let source = if q.source.starts_with("pdb ") {
            q.source.clone()
        } else {
            source.to_string()
        };
        (spec.to_string(), q.min, source)
    };
    if let Some(q) = config.groups.get(group).and_then(|g| g.quorum.as_ref()) {
        return Some(from(q, "config"));
    }
    if let Some(q) = c
        .labels
        .get(QUORUM_LABEL)
        .and_then(|v| crate::sources::parse_quorum(v, "label"))
    {
        return Some(from(&q, "label"));
    }
    if let Some(q) = observed.and_then(|g| g.quorum.as_ref()) {
        return Some(from(q, &q.source));
    }
    if c.voters.as_ref().is_some_and(|v| v.before.is_some()) {
        return Some(("majority".into(), None, "voters".into()));
    }
    catalog_system(c).map(|s| ("majority".into(), None, format!("catalog: {s}")))
}

/// The consensus system a change's object runs, from the catalog.
fn catalog_system(c: &Change) -> Option<String> {
    let obj = if c.after.is_object() {
        &c.after
    } else {
        &c.before
    };
    let is_sts = c.kind.ends_with("/StatefulSet") || c.kind.starts_with("kubernetes_stateful_set");
    if is_sts {
        return catalog::consensus_image(obj);
    }
    let r = crate::sources::kubernetes::object_ref(obj)?;
    let (system, _) = catalog::consensus_resource(r.group(), &r.kind)?;
    catalog::resource_votes(&r.kind, obj).then(|| system.to_string())
}

fn majority(n: i64) -> i64 {
    n / 2 + 1
}

fn quorum(e: &mut Effect, c: &Change, observed: Option<&Group>, config: &Config) {
    let Some((spec, min, source)) = quorum_spec(c, observed, config) else {
        e.role = Role::Capacity;
        return;
    };
    e.role = Role::Quorum;
    let mut q = QuorumFact {
        spec: spec.clone(),
        min,
        source,
        ..QuorumFact::default()
    };
    q.system = catalog_system(c);
    q.voting = spec == "majority"
        || q.system.is_some()
        || c.voters.as_ref().is_some_and(|v| v.before.is_some());
    if q.voting {
        // The change is committed by the old configuration and must leave the new one
        // working: the worst case keeps a majority of both.
        q.required_before = e.members_before.filter(|n| *n > 0).map(majority);
        q.required_after = e.members_after.filter(|n| *n > 0).map(majority);
    }
    if spec != "majority" {
        // A declared minimum (or a PDB's) holds as well; the larger requirement binds.
        let keep = |x: Option<i64>| match (x, min) {
            (Some(a), Some(m)) => Some(a.max(m)),
            (a, m) => a.or(m),
        };
        q.required_before = keep(q.required_before);
        q.required_after =
            keep(q.required_after).filter(|_| e.members_after.is_some_and(|n| n > 0));
    }
    q.required = match (q.required_before, q.required_after) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if spec == "pdb" {
        q.allowed_disruptions = match (e.healthy_now, min) {
            (Some(h), Some(m)) => Some((h - m).max(0)),
            _ => None,
        };
    }
    e.quorum = Some(q);
}

// ---------------------------------------------------------------- count/for_each groups

/// Count/for_each instances that form a group: member types, or groups declared in config.
fn instance_groups(changes: &[Change], config: &Config) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        let Some(g) = c.group.as_deref() else {
            continue;
        };
        if c.capacity.is_some() || g == c.id || c.source.kind != "terraform-plan" {
            continue;
        }
        let declared = config.groups.get(g).is_some_and(|x| x.quorum.is_some())
            || c.labels.contains_key(QUORUM_LABEL);
        if catalog::is_member_type(&c.kind) || declared {
            out.entry(g.to_string()).or_default().push(i);
        }
    }
    out
}

/// One effect for a whole count/for_each group, carried by its first removing instance (or
/// its first instance when none removes).
fn instance_group(
    group: &str,
    members: &[usize],
    set: &ChangeSet,
    config: &Config,
) -> (usize, Effect) {
    let changes: Vec<(usize, &Change)> = members
        .iter()
        .filter_map(|&i| set.changes.get(i).map(|c| (i, c)))
        .collect();
    let exists = |v: &Value| !v.is_null();
    let before = changes.iter().filter(|(_, c)| exists(&c.before)).count() as i64;
    let after = changes
        .iter()
        .filter(|(_, c)| exists(&c.after) && c.action != Action::Delete)
        .count() as i64;
    // Deletes and delete-first replaces take a member away while the apply runs (Terraform
    // applies them in parallel); creates add members nobody has seen serve yet.
    let removing: Vec<&(usize, &Change)> = changes
        .iter()
        .filter(|(_, c)| {
            c.action == Action::Delete
                || (c.action == Action::Replace && order(c) == Order::DeleteFirst)
        })
        .collect();
    let ids: Vec<String> = removing
        .iter()
        .map(|(_, c)| {
            c.members_removed
                .first()
                .cloned()
                .unwrap_or_else(|| c.id.clone())
        })
        .collect();
    let primary = removing
        .iter()
        .min_by(|a, b| a.1.id.cmp(&b.1.id))
        .map(|(i, _)| *i)
        .or_else(|| {
            changes
                .iter()
                .min_by(|a, b| a.1.id.cmp(&b.1.id))
                .map(|(i, _)| *i)
        })
        .unwrap_or_default();
    let observed = set.observed.groups.get(group);
    let members_seen = observed.map(|g| g.members.as_slice()).unwrap_or_default();
    let healthy = healthy_voters(members_seen);
    let mut e = Effect {
        members_before: Some(before),
        members_after: Some(after),
        members_min: Some(before - ids.len() as i64),
        removed: Removed {
            count: Some(ids.len() as i64),
            exact: true,
            ids,
        },
        healthy_now: Some(healthy.unwrap_or(before)),
        observed: healthy.is_some(),
        ..Effect::default()
    };
    worst_case(&mut e, members_seen);
    if let Some(c) = set.changes.get(primary) {
        quorum(&mut e, c, observed, config);
    }
    (primary, e)
}

// ---------------------------------------------------------------- HPA changes

/// An HPA has no members, but lowering its maximum below its target's replicas scales the
/// target down to the new maximum.
fn hpa_change(
    c: &Change,
    set: &ChangeSet,
    config: &Config,
    observed: Option<&Group>,
) -> Option<Effect> {
    let (_, _, new_max) = crate::sources::kubernetes::hpa(&c.after)?;
    let group = c.group.as_deref().unwrap_or_default();
    let current = observed
        .and_then(|g| g.desired)
        .or_else(|| {
            set.changes
                .iter()
                .find(|x| x.id == group)
                .and_then(|x| x.capacity.as_ref()?.before)
        })
        // Unobserved: the target runs at least the old minimum.
        .or_else(|| crate::sources::kubernetes::hpa(&c.before).map(|(_, min, _)| min))?;
    if new_max >= current {
        return None;
    }
    let members = observed.map(|g| g.members.as_slice()).unwrap_or_default();
    let healthy = healthy_voters(members);
    let mut e = Effect {
        members_before: Some(current),
        members_after: Some(new_max),
        members_min: Some(new_max),
        removed: Removed {
            count: Some(current - new_max),
            ..Removed::default()
        },
        healthy_now: Some(healthy.unwrap_or(current)),
        observed: healthy.is_some(),
        attribute: "/spec/maxReplicas".into(),
        notes: vec![format!(
            "{} lowers maxReplicas to {new_max}: the HPA scales {group} from {current} to {new_max}",
            c.id
        )],
        ..Effect::default()
    };
    worst_case(&mut e, members);
    // The quorum is the target's: its label and its observed state.
    let target = set.changes.iter().find(|x| x.id == group).unwrap_or(c);
    quorum(&mut e, target, observed, config);
    Some(e)
}

// ---------------------------------------------------------------- drift

/// Drift on a member or voter count (or on an attribute the config names) is the outage's
/// pattern; drift on anything else is not.
fn classify_drift(set: &mut ChangeSet, config: &Config) {
    let by_id: HashMap<&str, &Change> = set.changes.iter().map(|c| (c.id.as_str(), c)).collect();
    for d in &mut set.drift {
        if d.source == "admission-actor" {
            continue;
        }
        let change = by_id.get(d.address.as_str()).copied();
        let kind = change.map(|c| c.kind.as_str()).unwrap_or_default();
        let voters = change
            .and_then(|c| c.voters.as_ref())
            .is_some_and(|v| !v.attribute.is_empty() && d.attribute.starts_with(&v.attribute));
        let capacity = d.source == "live-vs-committed"
            || providers::count_attributes(kind, change)
                .iter()
                .any(|a| !d.attribute.is_empty() && d.attribute.starts_with(a.as_str()));
        let named = config.drift_deny_attributes.iter().any(|a| {
            if a.starts_with('/') {
                d.attribute.starts_with(a.as_str())
            } else {
                d.attribute.split('/').any(|t| t == a)
            }
        });
        d.class = if voters {
            "voters"
        } else if capacity {
            "capacity"
        } else if named {
            "configured"
        } else {
            "other"
        }
        .into();
    }
}

#[cfg(test)]
mod tests;
