package quorate.drift_test

import data.quorate.drift

# ---------------------------------------------------------------- fixtures

asg(before, after) := {
	"id": "aws_autoscaling_group.search",
	"source": {"type": "terraform-plan", "path": "plan.json", "pointer": "/resource_changes/0"},
	"type": "aws_autoscaling_group",
	"name": "search-prod",
	"group": "search-prod",
	"action": "update",
	"capacity": {"before": before, "after": after, "attribute": "/desired_capacity", "unknown": false},
	"voters": null,
	"members_removed": [],
	"actor": null,
	"labels": {},
	"before": {"desired_capacity": before},
	"after": {"desired_capacity": after},
}

# One resource_drift entry. `change` is the id of the change that touches the resource, or
# null when the plan leaves it alone (Terraform no-op / read).
drift_entry(address, change, group, attribute, committed, live) := {
	"change": change,
	"address": address,
	"group": group,
	"source": "terraform-resource-drift",
	"attribute": attribute,
	"committed": committed,
	"live": live,
	"origin": {
		"type": "terraform-plan",
		"path": "plan.json",
		"pointer": sprintf("/resource_drift/0/change/after%s", [attribute]),
	},
	"class": class_of(attribute),
}

# What the effects step says of a drifted attribute: member counts decide, others do not.
class_of(attribute) := "capacity" if {
	attribute in {"/desired_capacity", "/min_size", "/max_size", "/spec/replicas"}
} else := "other"

# The DESIGN.md outage: desired 6 was set by hand, never committed; the plan says 3.
outage_drift := drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/desired_capacity", 3, 6)

# aws_instance.ec2 was resized by hand; the plan does not touch it (its action is no-op).
noop_drift := drift_entry("aws_instance.ec2", null, "aws_instance.ec2", "/instance_type", "t3.medium", "t3.large")

changeset(changes, drift_entries) := {
	"apiVersion": "quorate.dev/v1",
	"mode": "check",
	"now": "2026-11-24T10:00:00Z",
	"changes": changes,
	"drift": drift_entries,
	"observed": {"taken_at": null, "groups": {}},
	"context": {},
}

has_rule(findings, rule) if {
	some f in findings
	f.rule == rule
}

with_rule(findings, rule) := [f | some f in findings; f.rule == rule]

# ---------------------------------------------------------------- drift/change-on-drifted-resource

test_outage_drift_denies_the_change if {
	fs := drift.deny with input as changeset([asg(6, 3)], [outage_drift])
	some f in fs
	f.rule == "drift/change-on-drifted-resource"
	f.change == "aws_autoscaling_group.search"
	f.group == "search-prod"
	contains(f.msg, "aws_autoscaling_group.search was changed outside Terraform")
	contains(f.msg, "/desired_capacity is 6 live but 3 in state")
	contains(f.msg, "this change touches it again")
}

test_drift_deny_points_at_the_drift_entry if {
	fs := drift.deny with input as changeset([asg(6, 3)], [outage_drift])
	[f] := with_rule(fs, "drift/change-on-drifted-resource")
	f.path == "plan.json"
	f.pointer == "/resource_drift/0/change/after/desired_capacity"
}

test_drift_on_a_touched_resource_is_not_a_warning if {
	ws := drift.warn with input as changeset([asg(6, 3)], [outage_drift])
	count(ws) == 0
}

# Drift is about the baseline, not the direction: a scale-up planned on drift is unreviewed too.
test_drift_denies_scale_ups_as_well if {
	fs := drift.deny with input as changeset([asg(6, 9)], [outage_drift])
	has_rule(fs, "drift/change-on-drifted-resource")
}

test_several_drifted_attributes_make_one_finding if {
	entries := [
		outage_drift,
		drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/max_size", 6, 9),
	]
	fs := drift.deny with input as changeset([asg(6, 3)], entries)
	[f] := with_rule(fs, "drift/change-on-drifted-resource")
	contains(f.msg, "/desired_capacity is 6 live but 3 in state; /max_size is 9 live but 6 in state")
}

test_interleaved_drift_entries_are_grouped_by_resource if {
	entries := [
		drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/max_size", 6, 9),
		noop_drift,
		outage_drift,
	]
	fs := drift.deny with input as changeset([asg(6, 3)], entries)
	[f] := with_rule(fs, "drift/change-on-drifted-resource")
	contains(f.msg, "/max_size is 9 live but 6 in state; /desired_capacity is 6 live but 3 in state")
	ws := drift.warn with input as changeset([asg(6, 3)], entries)
	[w] := with_rule(ws, "drift/unmanaged-change")
	w.msg == "aws_instance.ec2 was changed outside Terraform: /instance_type is \"t3.large\" live but \"t3.medium\" in state"
}

test_long_drifted_values_are_shortened if {
	long := concat("", [sprintf("%d", [i % 10]) | some i in numbers.range(1, 60)])
	d := drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/launch_template/0/id", "lt-0", long)
	fs := drift.warn with input as changeset([asg(6, 3)], [d])
	[f] := with_rule(fs, "drift/overrides-manual-change")
	contains(f.msg, "...")
	not contains(f.msg, long)
	contains(f.msg, `live but "lt-0" in state`)
}

# ---------------------------------------------------------------- drift/unmanaged-change

test_noop_drift_is_an_unmanaged_change_warning if {
	ws := drift.warn with input as changeset([asg(5, 5)], [noop_drift])
	some f in ws
	f.rule == "drift/unmanaged-change"
	f.change == null
	f.group == "aws_instance.ec2"
	contains(f.msg, "aws_instance.ec2 was changed outside Terraform")
	contains(f.msg, `/instance_type is "t3.large" live but "t3.medium" in state`)
}

test_noop_drift_is_not_change_on_drifted_resource if {
	fs := drift.deny with input as changeset([asg(5, 5)], [noop_drift])
	not has_rule(fs, "drift/change-on-drifted-resource")
	count(fs) == 0
}

test_deleted_outside_terraform_is_described if {
	d := drift_entry("aws_instance.bastion", null, "aws_instance.bastion", "", "present", "deleted outside Terraform")
	ws := drift.warn with input as changeset([], [d])
	[f] := with_rule(ws, "drift/unmanaged-change")
	f.msg == "aws_instance.bastion was changed outside Terraform: deleted outside Terraform"
}

test_drift_without_visible_attributes_is_still_reported if {
	d := drift_entry("aws_db_instance.main", null, "aws_db_instance.main", "", null, null)
	ws := drift.warn with input as changeset([], [d])
	[f] := with_rule(ws, "drift/unmanaged-change")
	contains(f.msg, "aws_db_instance.main was changed outside Terraform")
	contains(f.msg, "sensitive or normalized")
}

test_touched_and_untouched_drift_are_told_apart if {
	inp := changeset([asg(6, 3)], [outage_drift, noop_drift])
	fs := drift.deny with input as inp
	ws := drift.warn with input as inp
	{f.change | some f in fs} == {"aws_autoscaling_group.search"}
	{f.msg | some f in ws} == {`aws_instance.ec2 was changed outside Terraform: /instance_type is "t3.large" live but "t3.medium" in state`}
}

# ---------------------------------------------------------------- no drift

test_no_drift_no_findings if {
	inp := changeset([asg(6, 3)], [])
	count(drift.deny) == 0 with input as inp
	count(drift.warn) == 0 with input as inp
}

# A `kubectl scale` after the last apply: live 5, committed 3, and the manifest change touches it.
test_live_vs_committed_drift_names_the_manifest if {
	d := object.union(drift_entry("platform/StatefulSet/etcd", "platform/StatefulSet/etcd", "platform/StatefulSet/etcd", "/spec/replicas", 3, 5), {"source": "live-vs-committed"})
	fs := drift.deny with input as changeset([], [d])
	some f in fs
	f.msg == "platform/StatefulSet/etcd was changed outside its committed manifest (/spec/replicas is 5 live but 3 committed) and this change touches it again"
}

# ---------------------------------------------------------------- drift/manual-change-to-managed-object

scale_change(user, gitops) := {
	"id": "search/StatefulSet/es-master",
	"source": {"type": "admission-review", "path": "AdmissionReview u1", "pointer": "/request/object"},
	"type": "autoscaling/v1/Scale",
	"name": "es-master",
	"group": "search/StatefulSet/es-master",
	"action": "update",
	"capacity": {"before": 3, "after": 6, "attribute": "/spec/replicas", "unknown": false},
	"voters": null,
	"members_removed": [],
	"actor": {"username": user, "groups": ["system:authenticated"], "gitops": gitops},
	"labels": {"argocd.argoproj.io/tracking-id": "search:apps/StatefulSet:search/es-master"},
	"before": {},
	"after": {},
}

actor_drift := {
	"change": "search/StatefulSet/es-master",
	"address": "search/StatefulSet/es-master",
	"group": "search/StatefulSet/es-master",
	"source": "admission-actor",
	"attribute": "/spec/replicas",
	"committed": 3,
	"live": 6,
	"origin": {"type": "admission-review", "path": "AdmissionReview u1", "pointer": "/request/object"},
}

admission_changeset(changes, drift_entries) := object.union(changeset(changes, drift_entries), {
	"mode": "admission",
	"context": {"admission": {"managed_by": "Argo CD application search"}},
})

test_manual_scale_of_argo_managed_object_is_denied if {
	fs := drift.deny with input as admission_changeset([scale_change("alice", false)], [actor_drift])
	[f] := with_rule(fs, "drift/manual-change-to-managed-object")
	f.change == "search/StatefulSet/es-master"
	f.msg == "search/StatefulSet/es-master is managed by Argo CD application search, but alice is changing it directly (/spec/replicas 3 -> 6): the change bypasses review and the next sync reverts it"
}

test_manual_change_is_not_also_change_on_drifted_resource if {
	fs := drift.deny with input as admission_changeset([scale_change("alice", false)], [actor_drift])
	not has_rule(fs, "drift/change-on-drifted-resource")
	ws := drift.warn with input as admission_changeset([scale_change("alice", false)], [actor_drift])
	not has_rule(ws, "drift/unmanaged-change")
}

test_manual_change_severity_warn_by_config if {
	inp := admission_changeset([scale_change("alice", false)], [actor_drift])
	fs := drift.deny with input as inp with data.quorate.config.admission.drift_severity as "warn"
	ws := drift.warn with input as inp with data.quorate.config.admission.drift_severity as "warn"
	not has_rule(fs, "drift/manual-change-to-managed-object")
	has_rule(ws, "drift/manual-change-to-managed-object")
}

# The adapter records no actor drift for GitOps controllers; without an entry there is no finding.
test_gitops_controller_change_is_not_drift if {
	inp := admission_changeset([scale_change("system:serviceaccount:argocd:argocd-application-controller", true)], [])
	fs := drift.deny with input as inp
	count(fs) == 0
}

test_manual_delete_of_managed_object_is_described if {
	d := object.union(actor_drift, {"attribute": "", "committed": "present", "live": "deleted"})
	c := object.union(scale_change("bob", false), {"action": "delete"})
	fs := drift.deny with input as admission_changeset([c], [d])
	[f] := with_rule(fs, "drift/manual-change-to-managed-object")
	contains(f.msg, "bob is changing it directly (deletes it)")
}

# ---------------------------------------------------------------- drift/overrides-manual-change

# Terraform's drift_simple: the plan sets a drifted string back. A warning naming the hand
# change, not a denial.
test_plan_resetting_a_drifted_string_is_a_warning if {
	d := drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/tag/0/value", "prod", "hotfix")
	inp := changeset([asg(3, 3)], [d])
	count(drift.deny) == 0 with input as inp
	[w] := with_rule(drift.warn, "drift/overrides-manual-change") with input as inp
	w.msg == `aws_autoscaling_group.search was changed outside Terraform (/tag/0/value is "hotfix" live but "prod" in state); applying this change sets it back`
}

test_count_drift_next_to_other_drift_denies_naming_the_count if {
	tag := drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/tag/0/value", "prod", "hotfix")
	size := drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/desired_capacity", 3, 6)
	inp := changeset([asg(6, 3)], [tag, size])
	[f] := with_rule(drift.deny, "drift/change-on-drifted-resource") with input as inp
	contains(f.msg, "/desired_capacity is 6 live but 3 in state")
	not contains(f.msg, "hotfix")
	count(with_rule(drift.warn, "drift/overrides-manual-change")) == 0 with input as inp
}

test_configured_attribute_drift_denies if {
	d := object.union(drift_entry("aws_autoscaling_group.search", "aws_autoscaling_group.search", "search-prod", "/launch_template/0/version", "7", "9"), {"class": "configured"})
	[_] := with_rule(drift.deny, "drift/change-on-drifted-resource") with input as changeset([asg(3, 3)], [d])
}
