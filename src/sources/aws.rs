//! AWS CLI output: Auto Scaling groups, instances, instance refreshes, scaling activities, and
//! EC2 instances -> observed groups and members. Every provider state keeps its raw word.

use serde_json::Value;

use super::ObservedPart;
use crate::model::{Group, Member, MemberState, Quorum, SourceRef};

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Every Auto Scaling `LifecycleState` mapped onto the model's states.
pub fn asg_state(raw: &str) -> MemberState {
    match raw {
        "InService" => MemberState::Running,
        "Pending" | "Pending:Wait" | "Pending:Proceed" => MemberState::Pending,
        "Terminating" | "Terminating:Wait" | "Terminating:Proceed" | "Detaching" => {
            MemberState::Terminating
        }
        "Terminated" | "Detached" => MemberState::Terminated,
        "EnteringStandby" => MemberState::Stopping,
        "Standby" => MemberState::Standby,
        "Warmed:Pending" | "Warmed:Pending:Wait" | "Warmed:Pending:Proceed" => MemberState::Pending,
        "Warmed:Terminating" | "Warmed:Terminating:Wait" | "Warmed:Terminating:Proceed" => {
            MemberState::Terminating
        }
        "Warmed:Terminated" => MemberState::Terminated,
        "Warmed:Stopped" | "Warmed:Hibernated" => MemberState::Stopped,
        "Warmed:Running" => MemberState::Standby,
        _ => MemberState::Unknown,
    }
}

/// EC2 `State.Name` mapped onto the model's states.
pub fn ec2_state(raw: &str) -> MemberState {
    match raw {
        "pending" => MemberState::Pending,
        "running" => MemberState::Running,
        "shutting-down" => MemberState::Terminating,
        "terminated" => MemberState::Terminated,
        "stopping" => MemberState::Stopping,
        "stopped" => MemberState::Stopped,
        _ => MemberState::Unknown,
    }
}

fn version_of(v: &Value) -> Option<String> {
    if let Some(lt) = v.get("LaunchTemplate") {
        let id = s(lt, "LaunchTemplateId").or_else(|| s(lt, "LaunchTemplateName"))?;
        return Some(match s(lt, "Version") {
            Some(ver) => format!("{id}:{ver}"),
            None => id.to_string(),
        });
    }
    s(v, "LaunchConfigurationName").map(String::from)
}

fn asg_member(inst: &Value) -> Option<Member> {
    let id = s(inst, "InstanceId")?;
    let raw = s(inst, "LifecycleState").unwrap_or("unknown");
    Some(Member {
        id: id.to_string(),
        state: asg_state(raw),
        raw_state: raw.to_string(),
        healthy: s(inst, "HealthStatus").is_some_and(|h| h.eq_ignore_ascii_case("healthy")),
        version: version_of(inst),
        since: None,
        protected: inst.get("ProtectedFromScaleIn") == Some(&Value::Bool(true)),
        voter: None,
    })
}

fn tag_quorum(tags: Option<&Value>) -> Option<Quorum> {
    let tags = tags?.as_array()?;
    let value = tags.iter().find_map(|t| {
        (s(t, "Key") == Some(super::QUORUM_LABEL))
            .then(|| s(t, "Value"))
            .flatten()
    })?;
    super::parse_quorum(value, "tag")
}

pub fn groups(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    let list = doc.get("AutoScalingGroups").and_then(Value::as_array);
    for (i, g) in list.into_iter().flatten().enumerate() {
        let mut source = src.clone();
        source.pointer = format!("/AutoScalingGroups/{i}");
        let Some(name) = s(g, "AutoScalingGroupName") else {
            part.notices.push(format!(
                "{}: Auto Scaling group #{i} has no AutoScalingGroupName; it was skipped",
                src.path
            ));
            continue;
        };
        let group = part.group(name);
        group.desired = g
            .get("DesiredCapacity")
            .and_then(Value::as_i64)
            .or(group.desired);
        group.members.extend(
            g.get("Instances")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(asg_member),
        );
        if let Some(status) = s(g, "Status") {
            group.add_work("group-status", status, format!("group status is {status}"));
        }
        if let Some(q) = tag_quorum(g.get("Tags")) {
            group.quorum = Some(q);
        }
        group.sources.push(source);
    }
}

pub fn instances(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    let list = doc.get("AutoScalingInstances").and_then(Value::as_array);
    for inst in list.into_iter().flatten() {
        let (Some(name), Some(member)) = (s(inst, "AutoScalingGroupName"), asg_member(inst)) else {
            continue;
        };
        let group = part.group(name);
        group.members.push(member);
        if !group.sources.contains(&src) {
            group.sources.push(src.clone());
        }
    }
}

const REFRESH_ACTIVE: &[&str] = &[
    "Pending",
    "InProgress",
    "Cancelling",
    "RollbackInProgress",
    "Baking",
];
const ACTIVITY_DONE: &[&str] = &["Successful", "Failed", "Cancelled"];

fn later(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if super::parse_time(b) > super::parse_time(&a) {
            b.to_string()
        } else {
            a
        }),
        (a, b) => a.or_else(|| b.map(String::from)),
    }
}

pub fn refreshes(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    let list = doc.get("InstanceRefreshes").and_then(Value::as_array);
    for r in list.into_iter().flatten() {
        let Some(name) = s(r, "AutoScalingGroupName") else {
            continue;
        };
        let status = s(r, "Status").unwrap_or("unknown");
        let group = part.group(name);
        if REFRESH_ACTIVE.contains(&status) {
            let pct = r.get("PercentageComplete").and_then(Value::as_i64);
            let detail = match pct {
                Some(p) => format!("instance refresh {status} ({p}% complete)"),
                None => format!("instance refresh {status}"),
            };
            group.add_work("instance-refresh", status, detail);
        }
        group.last_change = later(
            group.last_change.take(),
            s(r, "EndTime").or_else(|| s(r, "StartTime")),
        );
        if !group.sources.contains(&src) {
            group.sources.push(src.clone());
        }
    }
}

pub fn activities(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    let list = doc.get("Activities").and_then(Value::as_array);
    for a in list.into_iter().flatten() {
        let Some(name) = s(a, "AutoScalingGroupName") else {
            continue;
        };
        let status = s(a, "StatusCode").unwrap_or("unknown");
        let group = part.group(name);
        if !ACTIVITY_DONE.contains(&status) {
            let what = s(a, "Description").unwrap_or("scaling activity");
            group.add_work(
                "scaling-activity",
                status,
                format!("scaling activity {status}: {what}"),
            );
        }
        group.last_change = later(
            group.last_change.take(),
            s(a, "EndTime").or_else(|| s(a, "StartTime")),
        );
        if !group.sources.contains(&src) {
            group.sources.push(src.clone());
        }
    }
}

pub fn ec2(doc: &Value, src: SourceRef, part: &mut ObservedPart) {
    let reservations = doc.get("Reservations").and_then(Value::as_array);
    for inst in reservations
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("Instances").and_then(Value::as_array))
        .flatten()
    {
        let Some(id) = s(inst, "InstanceId") else {
            continue;
        };
        let raw = inst
            .pointer("/State/Name")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let state = ec2_state(raw);
        let member = Member {
            id: id.to_string(),
            state,
            raw_state: raw.to_string(),
            healthy: state == MemberState::Running,
            version: s(inst, "ImageId").map(String::from),
            since: s(inst, "LaunchTime").map(String::from),
            protected: false,
            voter: None,
        };
        let tags = inst.get("Tags").and_then(Value::as_array);
        let asg = tags.into_iter().flatten().find_map(|t| {
            (s(t, "Key") == Some("aws:autoscaling:groupName"))
                .then(|| s(t, "Value"))
                .flatten()
        });
        match asg {
            Some(name) => {
                let group = part.group(name);
                group.members.push(member);
                if !group.sources.contains(&src) {
                    group.sources.push(src.clone());
                }
            }
            None => part.loose.push((member, src.clone())),
        }
    }
}

pub fn new_group() -> Group {
    Group::default()
}
