package quorate.lib_test

import data.quorate.lib

# ---------------------------------------------------------------- fixtures

now := "2026-11-24T10:00:00Z"

member(id, state, raw, healthy) := {
	"id": id,
	"state": state,
	"raw_state": raw,
	"healthy": healthy,
	"version": null,
	"since": null,
	"protected": false,
	"voter": null,
}

serving(id) := member(id, "running", "InService", true)

terminating(id) := member(id, "terminating", "Terminating:Wait", false)

voter(m) := object.union(m, {"voter": true})

non_voter(m) := object.union(m, {"voter": false})

serving_members(n) := [serving(sprintf("i-%d", [i])) | some i in numbers.range(1, n)]

group(members) := {
	"desired": count(members),
	"members": members,
	"health": "green",
	"in_progress": [],
	"quorum": null,
	"last_change": null,
	"taken_at": null,
	"sources": [],
}

# An Auto Scaling group change: desired capacity before -> after.
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

# An OpenSearch domain: data nodes and dedicated masters (the voters).
domain(data_before, data_after, masters_before, masters_after) := {
	"id": "aws_opensearch_domain.search",
	"source": {"type": "terraform-plan", "path": "plan.json", "pointer": "/resource_changes/0"},
	"type": "aws_opensearch_domain",
	"name": "search",
	"group": "search",
	"action": "update",
	"capacity": {"before": data_before, "after": data_after, "attribute": "/cluster_config/0/instance_count", "unknown": false},
	"voters": {"before": masters_before, "after": masters_after, "attribute": "/cluster_config/0/dedicated_master_count", "unknown": false},
	"members_removed": [],
	"actor": null,
	"labels": {},
	"before": {},
	"after": {},
}

# One instance of a count/for_each resource: aws_instance.etcd[i], group aws_instance.etcd.
instance(i, action) := {
	"id": sprintf("aws_instance.etcd[%d]", [i]),
	"source": {"type": "terraform-plan", "path": "plan.json", "pointer": sprintf("/resource_changes/%d", [i])},
	"type": "aws_instance",
	"name": "etcd",
	"group": "aws_instance.etcd",
	"action": action,
	"capacity": null,
	"voters": null,
	"members_removed": removed_ids(i, action),
	"actor": null,
	"labels": {"quorate.dev/quorum": "majority"},
	"before": before_of(i, action),
	"after": after_of(i, action),
}

removed_ids(i, action) := [sprintf("i-etcd%d", [i])] if action in {"delete", "replace"}

removed_ids(_, action) := [] if not action in {"delete", "replace"}

before_of(_, action) := null if action == "create"

before_of(i, action) := {"id": sprintf("i-etcd%d", [i])} if action != "create"

after_of(_, action) := null if action == "delete"

after_of(i, action) := {"id": sprintf("i-etcd%d", [i])} if action != "delete"

changeset(changes, groups) := {
	"apiVersion": "quorate.dev/v1",
	"mode": "check",
	"now": now,
	"changes": changes,
	"drift": [],
	"observed": {"taken_at": "2026-11-24T09:58:30Z", "groups": groups},
	"context": {},
}

# The DESIGN.md outage: 6 members, 3 of them terminating, desired 6 -> 3.
outage_members := array.concat(
	[terminating(sprintf("i-old%d", [i])) | some i in numbers.range(1, 3)],
	[serving(sprintf("i-new%d", [i])) | some i in numbers.range(1, 3)],
)

outage := changeset([asg(6, 3)], {"search-prod": group(outage_members)})

majority_config := {"groups": {"search-prod": {"quorum": "majority", "aliases": []}}}

# ---------------------------------------------------------------- required()

test_majority_of_three_is_two if lib.required("majority", 3) == 2

test_required_majority_table if {
	lib.required("majority", 1) == 1
	lib.required("majority", 2) == 2
	lib.required("majority", 4) == 3
	lib.required("majority", 5) == 3
	lib.required("majority", 6) == 4
	lib.required("majority", 7) == 4
}

test_required_majority_ignores_case if lib.required("Majority", 5) == 3

test_required_fixed_number_ignores_size if {
	lib.required(2, 7) == 2
	lib.required(2, 1) == 2
}

test_required_numeric_string if lib.required("3", 5) == 3

test_required_unknown_word_is_undefined if {
	not lib.required("most", 5)
	not lib.required("-1", 5)
}

# ---------------------------------------------------------------- what a change does

test_scale_down_is_a_scale_down if {
	ids := {c.id | some c in lib.scale_downs} with input as changeset([asg(5, 4)], {})
	ids == {"aws_autoscaling_group.search"}
}

test_scale_up_and_unchanged_are_not_scale_downs if {
	count(lib.scale_downs) == 0 with input as changeset([asg(3, 6), asg(4, 4)], {})
}

test_delete_replace_and_named_members_remove_members if {
	lib.removes_members(object.union(asg(3, 0), {"action": "delete"}))
	lib.removes_members(object.union(asg(3, 3), {"action": "replace"}))
	lib.removes_members(object.union(asg(3, 3), {"members_removed": ["i-1"]}))
}

test_create_noop_and_unknown_remove_nothing if {
	not lib.removes_members(object.union(asg(null, 3), {"action": "create"}))
	not lib.removes_members(object.union(asg(3, 3), {"action": "no-op"}))
	not lib.removes_members(object.union(asg(3, null), {"capacity": {"before": 3, "after": null, "attribute": "/desired_capacity", "unknown": true}}))
}

test_voter_drop_removes_members_even_when_capacity_stays if {
	lib.removes_members(domain(6, 6, 3, 1))
	not lib.removes_members(domain(6, 6, 3, 5))
}

# ---------------------------------------------------------------- groups and members

test_serving_needs_running_and_healthy if {
	c := asg(4, 3)
	ms := [
		serving("a"),
		member("b", "running", "InService", false),
		member("c", "pending", "Pending", true),
		member("d", "standby", "Standby", true),
	]
	hs := lib.healthy_members(c) with input as changeset([c], {"search-prod": group(ms)})
	[m.id | some m in hs] == ["a"]
}

test_in_transition_states if {
	c := asg(6, 5)
	ms := [
		serving("a"),
		member("b", "pending", "Pending:Wait", false),
		member("c", "terminating", "Terminating:Proceed", false),
		member("d", "stopping", "stopping", false),
		member("e", "stopped", "stopped", false),
		member("f", "standby", "Standby", false),
		member("g", "terminated", "Terminated", false),
	]
	moving := lib.in_transition(c) with input as changeset([c], {"search-prod": group(ms)})
	{m.id | some m in moving} == {"b", "c", "d"}
}

# ---------------------------------------------------------------- worst-case arithmetic

test_outage_arithmetic if {
	c := asg(6, 3)
	lib.size_before(c) == 6 with input as outage
	lib.size_after(c) == 3 with input as outage
	lib.removals(c) == 3 with input as outage
	lib.healthy_now(c) == 3 with input as outage
	lib.healthy_after(c) == 0 with input as outage
	lib.required(lib.quorum_spec(c), lib.size_after(c)) == 2 with input as outage with data.quorate.config as majority_config
}

test_size_before_counts_observed_members_over_the_plan if {
	# The provider counts terminating members; the plan said 4.
	c := asg(4, 3)
	ms := array.concat(serving_members(4), [terminating("x1"), terminating("x2")])
	lib.size_before(c) == 6 with input as changeset([c], {"search-prod": group(ms)})
	lib.removals(c) == 3 with input as changeset([c], {"search-prod": group(ms)})
}

test_size_before_ignores_terminated_members if {
	c := asg(4, 3)
	ms := array.concat(serving_members(4), [member("gone", "terminated", "Terminated", false)])
	lib.size_before(c) == 4 with input as changeset([c], {"search-prod": group(ms)})
}

test_size_before_without_observed_members_uses_the_plan if {
	c := asg(5, 4)
	lib.size_before(c) == 5 with input as changeset([c], {})
	lib.size_before(c) == 5 with input as changeset([c], {"search-prod": group([])})
	not lib.has_members(c) with input as changeset([c], {})
}

test_healthy_now_without_observed_members_assumes_all_healthy if {
	c := asg(5, 4)
	lib.healthy_now(c) == 5 with input as changeset([c], {})
	lib.healthy_after(c) == 4 with input as changeset([c], {})
}

test_removals_are_never_negative if {
	c := asg(3, 6)
	lib.removals(c) == 0 with input as changeset([c], {"search-prod": group(serving_members(3))})
	lib.healthy_after(c) == 3 with input as changeset([c], {"search-prod": group(serving_members(3))})
}

test_delete_of_a_capacity_resource_leaves_zero if {
	c := object.union(asg(3, 0), {"action": "delete", "after": null})
	lib.size_after(c) == 0 with input as changeset([c], {})
	lib.size_before(c) == 3 with input as changeset([c], {})
}

test_unknown_capacity_has_no_size_after if {
	c := object.union(asg(3, null), {"capacity": {"before": 3, "after": null, "attribute": "/desired_capacity", "unknown": true}})
	not lib.size_after(c) with input as changeset([c], {})
}

# ---------------------------------------------------------------- count/for_each member groups

etcd_plan := [instance(0, "no-op"), instance(1, "no-op"), instance(2, "no-op"), instance(3, "delete"), instance(4, "delete")]

test_member_group_deletes_are_counted_together if {
	some i in [3, 4]
	c := instance(i, "delete")
	lib.member_group_size(c) == 5 with input as changeset(etcd_plan, {})
	lib.group_removed(c) == {"i-etcd3", "i-etcd4"} with input as changeset(etcd_plan, {})
	lib.size_before(c) == 5 with input as changeset(etcd_plan, {})
	lib.size_after(c) == 3 with input as changeset(etcd_plan, {})
	lib.removals(c) == 2 with input as changeset(etcd_plan, {})
}

test_count_group_has_one_scale_down if {
	# The first removing instance speaks for its group: one finding per group, not per member.
	ids := {c.id | some c in lib.scale_downs} with input as changeset(array.concat(etcd_plan, [asg(5, 4)]), {})
	ids == {"aws_instance.etcd[3]", "aws_autoscaling_group.search"}
}

# Instances of several groups, interleaved and out of order in the plan: each group is still
# counted on its own (the groups are runs of a sorted index, not contiguous plan entries).
other_instance(i, action) := object.union(instance(i, action), {
	"id": sprintf("aws_instance.zk[%d]", [i]),
	"name": "zk",
	"group": "aws_instance.zk",
	"members_removed": [sprintf("i-zk%d", [i]) | action == "delete"],
})

interleaved_plan := [
	instance(4, "delete"), other_instance(0, "no-op"), instance(0, "no-op"), other_instance(2, "delete"),
	instance(3, "delete"), other_instance(1, "no-op"), instance(1, "no-op"), instance(2, "no-op"),
]

test_interleaved_groups_are_counted_apart if {
	etcd := instance(3, "delete")
	zk := other_instance(2, "delete")
	[x.id | some x in lib.group_changes(etcd)] == ["aws_instance.etcd[4]", "aws_instance.etcd[0]", "aws_instance.etcd[3]", "aws_instance.etcd[1]", "aws_instance.etcd[2]"] with input as changeset(interleaved_plan, {})
	lib.size_before(etcd) == 5 with input as changeset(interleaved_plan, {})
	lib.size_after(etcd) == 3 with input as changeset(interleaved_plan, {})
	lib.size_before(zk) == 3 with input as changeset(interleaved_plan, {})
	lib.size_after(zk) == 2 with input as changeset(interleaved_plan, {})
	ids := {c.id | some c in lib.scale_downs} with input as changeset(interleaved_plan, {})
	ids == {"aws_instance.etcd[3]", "aws_instance.zk[2]"}
}

test_member_group_every_delete_is_counted if {
	every i in [3, 4] {
		lib.size_after(instance(i, "delete")) == 3 with input as changeset(etcd_plan, {})
	}
}

test_member_group_replace_removes_one if {
	plan := [instance(0, "no-op"), instance(1, "replace"), instance(2, "no-op")]
	c := instance(1, "replace")
	lib.size_before(c) == 3 with input as changeset(plan, {})
	lib.size_after(c) == 2 with input as changeset(plan, {})
	lib.removals(c) == 1 with input as changeset(plan, {})
}

test_member_group_size_ignores_creates if {
	plan := [instance(0, "no-op"), instance(1, "no-op"), instance(2, "create")]
	lib.member_group_size(instance(2, "create")) == 2 with input as changeset(plan, {})
}

test_single_resource_delete_removes_its_only_member if {
	c := instance(0, "delete")
	lib.size_before(c) == 1 with input as changeset([c], {})
	lib.size_after(c) == 0 with input as changeset([c], {})
}

test_member_group_delete_without_member_ids_still_counts if {
	c := object.union(instance(2, "delete"), {"members_removed": []})
	plan := [instance(0, "no-op"), instance(1, "no-op"), c]
	lib.size_before(c) == 3 with input as changeset(plan, {})
	lib.size_after(c) == 2 with input as changeset(plan, {})
}

test_member_group_with_observed_members if {
	ms := [serving("i-etcd0"), serving("i-etcd1"), serving("i-etcd2"), serving("i-etcd3"), serving("i-etcd4")]
	inp := changeset(etcd_plan, {"aws_instance.etcd": group(ms)})
	c := instance(3, "delete")
	lib.size_before(c) == 5 with input as inp
	lib.healthy_now(c) == 5 with input as inp
	lib.healthy_after(c) == 3 with input as inp
}

# ---------------------------------------------------------------- voters (dedicated masters)

test_opensearch_masters_three_to_one if {
	c := domain(6, 6, 3, 1)
	lib.uses_voters(c)
	lib.size_before(c) == 3 with input as changeset([c], {})
	lib.size_after(c) == 1 with input as changeset([c], {})
	lib.removals(c) == 2 with input as changeset([c], {})
	lib.healthy_now(c) == 3 with input as changeset([c], {})
	lib.healthy_after(c) == 1 with input as changeset([c], {})
	lib.attribute(c) == "/cluster_config/0/dedicated_master_count"
}

# Data nodes do not vote: a domain with dedicated masters is judged on its masters, even when
# only the data nodes shrink. The finding still points at the count that changed.
test_domain_with_masters_is_judged_on_voters if {
	c := domain(6, 4, 3, 5)
	lib.uses_voters(c)
	lib.size_after(c) == 5 with input as changeset([c], {})
	lib.removals(c) == 0 with input as changeset([c], {})
	lib.attribute(c) == "/cluster_config/0/instance_count"
}

test_lone_resource_delete_is_not_a_scale_down if {
	c := {"id": "aws_s3_bucket.logs", "group": "aws_s3_bucket.logs", "action": "delete", "type": "aws_s3_bucket", "capacity": null, "voters": null, "members_removed": ["logs"], "labels": {}, "before": {"id": "logs"}, "after": null}
	count(lib.scale_downs) == 0 with input as changeset([c], {})
}

test_voters_used_when_capacity_is_unknown if {
	c := object.union(domain(6, null, 3, 3), {"capacity": {"before": 6, "after": null, "attribute": "/cluster_config/0/instance_count", "unknown": true}})
	lib.uses_voters(c)
	lib.size_after(c) == 3 with input as changeset([c], {})
}

test_healthy_voters_count_only_flagged_voters if {
	c := domain(6, 6, 3, 2)
	ms := [
		voter(serving("m1")),
		voter(serving("m2")),
		voter(member("m3", "running", "running", false)),
		non_voter(serving("d1")),
		non_voter(serving("d2")),
		non_voter(serving("d3")),
	]
	inp := changeset([c], {"search": group(ms)})
	lib.healthy_now(c) == 2 with input as inp
	lib.size_before(c) == 3 with input as inp
	lib.healthy_after(c) == 1 with input as inp
}

test_without_voter_flags_every_member_votes if {
	c := asg(3, 2)
	ms := [serving("a"), serving("b"), member("c", "running", "InService", false)]
	lib.healthy_now(c) == 2 with input as changeset([c], {"search-prod": group(ms)})
}

# ---------------------------------------------------------------- quorum_spec precedence

labelled(c, q) := object.union(c, {"labels": {"quorate.dev/quorum": q}})

with_quorum(g, q) := object.union(g, {"quorum": q})

test_quorum_spec_config_wins_over_label_and_observed if {
	c := labelled(asg(5, 4), "majority")
	inp := changeset([c], {"search-prod": with_quorum(group(serving_members(5)), {"mode": "majority", "source": "pdb"})})
	lib.quorum_spec(c) == 3 with input as inp with data.quorate.config as {"groups": {"search-prod": {"quorum": 3}}}
}

test_quorum_spec_null_config_falls_through_to_label if {
	c := labelled(asg(5, 4), "2")
	lib.quorum_spec(c) == "2" with input as changeset([c], {}) with data.quorate.config as {"groups": {"search-prod": {"quorum": null}}}
	lib.required(lib.quorum_spec(c), 4) == 2 with input as changeset([c], {}) with data.quorate.config as {"groups": {"search-prod": {"quorum": null}}}
}

test_quorum_spec_label_wins_over_observed if {
	c := labelled(asg(5, 4), "4")
	inp := changeset([c], {"search-prod": with_quorum(group(serving_members(5)), {"mode": "majority", "source": "pdb"})})
	lib.quorum_spec(c) == "4" with input as inp with data.quorate.config as {}
}

test_quorum_spec_observed_majority if {
	c := asg(5, 4)
	inp := changeset([c], {"search-prod": with_quorum(group(serving_members(5)), {"mode": "majority", "source": "pdb"})})
	lib.quorum_spec(c) == "majority" with input as inp with data.quorate.config as {}
}

test_quorum_spec_observed_minimum if {
	c := asg(5, 4)
	inp := changeset([c], {"search-prod": with_quorum(group(serving_members(5)), {"mode": "count", "min": 2, "source": "pdb"})})
	lib.quorum_spec(c) == 2 with input as inp with data.quorate.config as {}
}

test_quorum_spec_observed_wins_over_dedicated_masters if {
	c := domain(6, 6, 3, 2)
	inp := changeset([c], {"search": with_quorum(group(serving_members(3)), {"mode": "count", "min": 1, "source": "label"})})
	lib.quorum_spec(c) == 1 with input as inp with data.quorate.config as {}
}

test_quorum_spec_dedicated_masters_default_to_majority if {
	c := domain(6, 6, 3, 2)
	lib.quorum_spec(c) == "majority" with input as changeset([c], {}) with data.quorate.config as {}
	lib.is_quorum_group(c) with input as changeset([c], {}) with data.quorate.config as {}
}

test_plain_group_is_not_a_quorum_group if {
	c := asg(5, 4)
	not lib.quorum_spec(c) with input as changeset([c], {"search-prod": group(serving_members(5))}) with data.quorate.config as {}
	not lib.is_quorum_group(c) with input as changeset([c], {"search-prod": group(serving_members(5))}) with data.quorate.config as {"groups": {"other": {"quorum": "majority"}}}
}

# ---------------------------------------------------------------- configuration and time

test_stabilization_window_default_and_config if {
	lib.stabilization_window == 600 with data.quorate.config as {}
	lib.stabilization_window == 120 with data.quorate.config as {"stabilization_window": 120}
}

test_max_observed_age_default_and_config if {
	lib.max_observed_age == 900 with data.quorate.config as {}
	lib.max_observed_age == 3600 with data.quorate.config as {"max_observed_age": 3600}
}

test_age_seconds if {
	lib.age_seconds("2026-11-24T09:58:30Z") == 90 with input as {"now": now}
	lib.age_seconds("2026-11-24T08:00:00Z") == 7200 with input as {"now": now}
}

test_human_duration if {
	lib.human_duration(0) == "0s"
	lib.human_duration(45) == "45s"
	lib.human_duration(90) == "1m30s"
	lib.human_duration(600) == "10m00s"
	lib.human_duration(3600) == "1h00m"
	lib.human_duration(3725) == "1h02m"
	lib.human_duration(7200) == "2h00m"
}

# Provider timestamps carry fractions of a second (AWS: 2026-11-24T09:57:00.250Z).
test_human_duration_of_fractional_seconds if {
	lib.human_duration(179.75) == "2m59s"
	lib.human_duration(3725.5) == "1h02m"
	lib.human_duration(12.5) == "12s"
	lib.human_duration(lib.age_seconds("2026-11-24T09:57:00.250Z")) == "2m59s" with input as {"now": now}
}

# ---------------------------------------------------------------- findings

test_finding_shape if {
	lib.finding("quorum/below-quorum", asg(6, 3), "m") == {
		"rule": "quorum/below-quorum",
		"msg": "m",
		"change": "aws_autoscaling_group.search",
		"group": "search-prod",
		"attribute": "/desired_capacity",
	}
}

test_finding_attribute_empty_without_a_count if {
	lib.finding("x/y", instance(0, "delete"), "m").attribute == ""
}

sts_change(image, before, after) := {
	"id": "platform/StatefulSet/etcd", "group": "platform/StatefulSet/etcd", "action": "update", "type": "apps/v1/StatefulSet",
	"capacity": {"before": before, "after": after, "attribute": "/spec/replicas", "unknown": false}, "voters": null,
	"members_removed": [], "labels": {}, "before": {},
	"after": {"spec": {"replicas": after, "template": {"spec": {"containers": [{"name": "main", "image": image}]}}}},
}

test_etcd_statefulset_is_a_majority_group_without_config if {
	lib.quorum_spec(sts_change("quay.io/coreos/etcd:v3.5.17", 5, 2)) == "majority" with input as changeset([], {})
}

test_plain_web_statefulset_is_not_a_quorum_group if {
	not lib.is_quorum_group(sts_change("nginx:1.27", 5, 2)) with input as changeset([], {})
}
