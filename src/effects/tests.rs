use serde_json::json;

use super::*;
use crate::model::{Capacity, Quorum, SourceRef};

fn change(id: &str, kind: &str, group: &str, action: Action) -> Change {
    Change {
        id: id.into(),
        source: SourceRef {
            kind: "terraform-plan".into(),
            path: "plan.json".into(),
            pointer: String::new(),
            after_pointer: None,
            document: 0,
        },
        kind: kind.into(),
        name: group.into(),
        group: Some(group.into()),
        action,
        actions: Vec::new(),
        action_reason: None,
        capacity: None,
        voters: None,
        members_removed: Vec::new(),
        actor: None,
        labels: Default::default(),
        before: Value::Null,
        after: Value::Null,
        effect: None,
    }
}

fn cap(before: i64, after: i64, attribute: &str) -> Option<Capacity> {
    Some(Capacity {
        before: Some(before),
        after: Some(after),
        attribute: attribute.into(),
        unknown: false,
    })
}

fn asg(before: i64, after: i64) -> Change {
    let mut c = change(
        "aws_autoscaling_group.search",
        "aws_autoscaling_group",
        "search-prod",
        Action::Update,
    );
    c.capacity = cap(before, after, "/desired_capacity");
    c.before = json!({"desired_capacity": before, "min_size": 0, "max_size": 9});
    c.after = json!({"desired_capacity": after, "min_size": 0, "max_size": 9});
    c
}

fn member(id: &str, state: MemberState, healthy: bool) -> Member {
    Member {
        id: id.into(),
        state,
        raw_state: format!("{state:?}"),
        healthy,
        ..Member::default()
    }
}

fn majority_config(group: &str) -> Config {
    let mut cfg = Config::default();
    cfg.groups.insert(
        group.into(),
        crate::config::GroupConfig {
            quorum: crate::sources::parse_quorum("majority", "config"),
            aliases: Vec::new(),
        },
    );
    cfg
}

fn run(changes: Vec<Change>, groups: Vec<(&str, Group)>, config: &Config) -> ChangeSet {
    let mut set = ChangeSet {
        changes,
        ..ChangeSet::default()
    };
    for (name, g) in groups {
        set.observed.groups.insert(name.into(), g);
    }
    apply(&mut set, config, &BTreeMap::new());
    set
}

fn effect(set: &ChangeSet, i: usize) -> &Effect {
    set.changes[i].effect.as_ref().expect("effect")
}

#[test]
fn outage_counts_terminating_members_and_the_old_majority() {
    let mut g = Group::default();
    for i in 0..3 {
        g.members
            .push(member(&format!("old{i}"), MemberState::Terminating, false));
        g.members
            .push(member(&format!("new{i}"), MemberState::Running, true));
    }
    let set = run(
        vec![asg(6, 3)],
        vec![("search-prod", g)],
        &majority_config("search-prod"),
    );
    let e = effect(&set, 0);
    assert_eq!((e.members_before, e.members_after), (Some(6), Some(3)));
    assert_eq!((e.healthy_now, e.healthy_after), (Some(3), Some(0)));
    assert_eq!(e.removed.count, Some(3));
    let q = e.quorum.as_ref().unwrap();
    assert_eq!(
        (q.required_before, q.required_after, q.required),
        (Some(4), Some(2), Some(4))
    );
    assert_eq!(e.role, Role::Quorum);
}

#[test]
fn halving_a_healthy_group_keeps_fewer_than_the_old_majority() {
    let mut g = Group::default();
    for i in 0..6 {
        g.members
            .push(member(&format!("m{i}"), MemberState::Running, true));
    }
    let set = run(
        vec![asg(6, 3)],
        vec![("search-prod", g)],
        &majority_config("search-prod"),
    );
    let e = effect(&set, 0);
    assert_eq!(e.healthy_after, Some(3));
    assert!(e.healthy_after < e.quorum.as_ref().unwrap().required);
}

#[test]
fn lowered_max_size_clamps_desired() {
    let mut c = asg(3, 3);
    c.after["max_size"] = json!(1);
    let set = run(vec![c], vec![], &majority_config("search-prod"));
    let e = effect(&set, 0);
    assert_eq!((e.members_before, e.members_after), (Some(3), Some(1)));
    assert_eq!(e.removed.count, Some(2));
    assert_eq!(e.attribute, "/max_size");
    assert!(e.notes[0].contains("max_size 1"), "{:?}", e.notes);
}

#[test]
fn unset_desired_capacity_keeps_the_live_desired_within_new_bounds() {
    let mut c = asg(4, 4);
    c.before = json!({"desired_capacity": null, "min_size": 1, "max_size": 9});
    c.after = json!({"desired_capacity": null, "min_size": 1, "max_size": 2});
    let g = Group {
        desired: Some(4),
        ..Group::default()
    };
    let set = run(vec![c], vec![("search-prod", g)], &Config::default());
    let e = effect(&set, 0);
    assert_eq!((e.members_before, e.members_after), (Some(4), Some(2)));
    assert_eq!(e.role, Role::Capacity);
}

#[test]
fn replace_orders() {
    let mut delete_first = asg(3, 3);
    delete_first.action = Action::Replace;
    delete_first.actions = vec!["delete".into(), "create".into()];
    let mut create_first = delete_first.clone();
    create_first.actions = vec!["create".into(), "delete".into()];
    let set = run(
        vec![delete_first, create_first],
        vec![],
        &majority_config("search-prod"),
    );
    let d = effect(&set, 0);
    assert_eq!(
        (d.order, d.members_min, d.healthy_after),
        (Order::DeleteFirst, Some(0), Some(0))
    );
    assert_eq!(d.removed.count, Some(3));
    let c = effect(&set, 1);
    assert_eq!(
        (c.order, c.members_min, c.healthy_after),
        (Order::CreateFirst, Some(3), None)
    );
    assert!(
        c.notes[0].contains("wait_for_capacity_timeout"),
        "{:?}",
        c.notes
    );
}

#[test]
fn statefulset_removes_its_highest_ordinals_exactly() {
    let mut c = change(
        "platform/StatefulSet/zk",
        "apps/v1/StatefulSet",
        "platform/StatefulSet/zk",
        Action::Update,
    );
    c.name = "zk".into();
    c.capacity = cap(5, 3, "/spec/replicas");
    let mut g = Group::default();
    for i in 0..5 {
        // zk-1 is not ready: it stays, so the two removed are both serving.
        g.members
            .push(member(&format!("zk-{i}"), MemberState::Running, i != 1));
    }
    let set = run(
        vec![c],
        vec![("platform/StatefulSet/zk", g)],
        &majority_config("platform/StatefulSet/zk"),
    );
    let e = effect(&set, 0);
    assert_eq!(e.removed.ids, vec!["zk-4".to_string(), "zk-3".to_string()]);
    assert!(e.removed.exact);
    assert_eq!((e.healthy_now, e.healthy_after), (Some(4), Some(2)));
}

#[test]
fn statefulset_removing_an_unready_ordinal_keeps_the_serving_ones() {
    let mut c = change(
        "p/StatefulSet/zk",
        "apps/v1/StatefulSet",
        "p/StatefulSet/zk",
        Action::Update,
    );
    c.name = "zk".into();
    c.capacity = cap(3, 2, "/spec/replicas");
    let mut g = Group::default();
    g.members.push(member("zk-0", MemberState::Running, true));
    g.members.push(member("zk-1", MemberState::Running, true));
    g.members.push(member("zk-2", MemberState::Pending, false));
    let set = run(
        vec![c],
        vec![("p/StatefulSet/zk", g)],
        &majority_config("p/StatefulSet/zk"),
    );
    let e = effect(&set, 0);
    assert_eq!(e.healthy_after, Some(2), "the removed zk-2 was not serving");
}

#[test]
fn pdb_is_judged_at_the_current_size_and_consensus_still_needs_a_majority() {
    let mut c = change(
        "p/StatefulSet/zk",
        "apps/v1/StatefulSet",
        "p/StatefulSet/zk",
        Action::Update,
    );
    c.capacity = cap(3, 1, "/spec/replicas");
    c.after = json!({"spec": {"template": {"spec": {"containers": [{"image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10"}]}}}});
    let g = Group {
        quorum: Some(Quorum {
            mode: "count".into(),
            min: Some(2),
            source: "pdb p/zk".into(),
        }),
        ..Group::default()
    };
    let set = run(vec![c], vec![("p/StatefulSet/zk", g)], &Config::default());
    let e = effect(&set, 0);
    let q = e.quorum.as_ref().unwrap();
    assert_eq!(q.spec, "pdb");
    assert_eq!(q.allowed_disruptions, Some(1));
    assert!(q.voting, "ZooKeeper is in the catalog");
    assert_eq!(q.required, Some(2));
    assert!(q.system.as_deref().unwrap().starts_with("ZooKeeper"));
    assert_eq!(e.healthy_after, Some(1));
}

#[test]
fn count_groups_are_members_only_for_member_types() {
    let mut a = change(
        "aws_route53_record.www[0]",
        "aws_route53_record",
        "aws_route53_record.www",
        Action::Delete,
    );
    a.before = json!({"id": "a"});
    let mut b = a.clone();
    b.id = "aws_route53_record.www[1]".into();
    let set = run(vec![a, b], vec![], &Config::default());
    assert!(set.changes.iter().all(|c| c.effect.is_none()));
}

#[test]
fn count_group_size_after_counts_the_instances_created() {
    let mut changes = Vec::new();
    for (i, action) in [(0, Action::Delete), (1, Action::NoOp), (2, Action::Create)] {
        let mut c = change(
            &format!("aws_instance.zk[{i}]"),
            "aws_instance",
            "aws_instance.zk",
            action,
        );
        if action != Action::Create {
            c.before = json!({"id": format!("i-{i}")});
        }
        if action != Action::Delete {
            c.after = json!({"id": format!("i-{i}")});
        }
        if action == Action::Delete {
            c.members_removed = vec![format!("i-{i}")];
        }
        changes.push(c);
    }
    let set = run(changes, vec![], &majority_config("aws_instance.zk"));
    let e = effect(&set, 0);
    assert_eq!(
        (e.members_before, e.members_after, e.members_min),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(e.removed.ids, vec!["i-0".to_string()]);
    assert_eq!(
        effect(&set, 1).counted_in.as_deref(),
        Some("aws_instance.zk[0]")
    );
    assert_eq!(effect(&set, 1).removed.count, None);
}

#[test]
fn hpa_owns_the_replicas_of_its_target() {
    let mut d = change(
        "shop/Deployment/web",
        "apps/v1/Deployment",
        "shop/Deployment/web",
        Action::Update,
    );
    d.capacity = cap(6, 4, "/spec/replicas");
    let mut hpa = change(
        "shop/HorizontalPodAutoscaler/web",
        "autoscaling/v2/HorizontalPodAutoscaler",
        "shop/Deployment/web",
        Action::NoOp,
    );
    let h = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 3, "maxReplicas": 10}});
    hpa.before = h.clone();
    hpa.after = h;
    let set = run(vec![d, hpa], vec![], &Config::default());
    let e = effect(&set, 0);
    assert_eq!((e.members_before, e.members_after), (Some(6), Some(6)));
    assert!(set.changes[1].effect.is_none(), "an HPA has no members");
}

#[test]
fn lowering_an_hpa_maximum_scales_its_target_down() {
    let mut hpa = change(
        "shop/HorizontalPodAutoscaler/web",
        "autoscaling/v2/HorizontalPodAutoscaler",
        "shop/Deployment/web",
        Action::Update,
    );
    let h = |max: i64| {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": max}})
    };
    hpa.before = h(10);
    hpa.after = h(2);
    let g = Group {
        desired: Some(6),
        ..Group::default()
    };
    let set = run(
        vec![hpa],
        vec![("shop/Deployment/web", g)],
        &Config::default(),
    );
    let e = effect(&set, 0);
    assert_eq!(
        (e.members_before, e.members_after, e.removed.count),
        (Some(6), Some(2), Some(4))
    );
}

#[test]
fn ecs_deployments_stop_tasks_down_to_the_minimum_healthy_percent() {
    let mut c = change(
        "aws_ecs_service.api",
        "aws_ecs_service",
        "api",
        Action::Update,
    );
    c.capacity = cap(4, 4, "/desired_count");
    c.before = json!({"task_definition": "api:7", "deployment_minimum_healthy_percent": 50});
    c.after = json!({"task_definition": "api:8", "deployment_minimum_healthy_percent": 50});
    let set = run(vec![c], vec![], &Config::default());
    let e = effect(&set, 0);
    assert_eq!((e.removed.count, e.members_min), (Some(2), Some(2)));
}

#[test]
fn drift_on_counts_is_told_from_other_drift() {
    let mut set = ChangeSet {
        changes: vec![asg(6, 3)],
        ..ChangeSet::default()
    };
    for attribute in [
        "/desired_capacity",
        "/tag/0/value",
        "/launch_template/0/version",
    ] {
        set.drift.push(crate::model::Drift {
            change: Some("aws_autoscaling_group.search".into()),
            address: "aws_autoscaling_group.search".into(),
            group: None,
            source: "terraform-resource-drift".into(),
            attribute: attribute.into(),
            committed: Value::Null,
            live: Value::Null,
            origin: set.changes[0].source.clone(),
            class: "other".into(),
        });
    }
    let cfg = Config {
        drift_deny_attributes: vec!["version".into()],
        ..Config::default()
    };
    apply(&mut set, &cfg, &BTreeMap::new());
    let classes: Vec<&str> = set.drift.iter().map(|d| d.class.as_str()).collect();
    assert_eq!(classes, vec!["capacity", "other", "configured"]);
}

#[test]
fn keda_scaled_objects_own_replicas_too() {
    let mut d = change(
        "shop/Deployment/worker",
        "apps/v1/Deployment",
        "shop/Deployment/worker",
        Action::Update,
    );
    d.source.kind = "kubernetes-manifest".into();
    d.capacity = cap(5, 1, "/spec/replicas");
    let mut live = BTreeMap::new();
    live.insert(
        "shop/ScaledObject/worker".to_string(),
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "worker", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"name": "worker"}, "maxReplicaCount": 20}}),
    );
    let g = Group {
        desired: Some(5),
        ..Group::default()
    };
    let mut set = ChangeSet {
        changes: vec![d],
        ..ChangeSet::default()
    };
    set.observed
        .groups
        .insert("shop/Deployment/worker".into(), g);
    apply(&mut set, &Config::default(), &live);
    let e = effect(&set, 0);
    assert_eq!((e.members_before, e.members_after), (Some(5), Some(5)));
    assert!(
        e.notes[0].contains("owns spec.replicas (0..20)"),
        "{:?}",
        e.notes
    );
}
