package quorate.quorum_test

import data.quorate.drift
import data.quorate.quorum
import data.quorate.unstable

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

unhealthy(id) := member(id, "running", "InService", false)

terminating(id) := member(id, "terminating", "Terminating:Wait", false)

serving_members(n) := [serving(sprintf("i-%d", [i])) | some i in numbers.range(1, n)]

# A healthy, stable group observed 90 seconds ago.
group(members) := {
	"desired": count(members),
	"members": members,
	"health": "green",
	"in_progress": [],
	"quorum": null,
	"last_change": null,
	"taken_at": "2026-11-24T09:58:30Z",
	"sources": [],
}

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

asg_delete(before) := object.union(asg(before, 0), {"action": "delete", "after": null})

unknown_capacity(before) := object.union(asg(before, null), {"capacity": {"unknown": true}})

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

# One instance of a count resource: aws_instance.etcd[i], tagged as a majority-quorum group.
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
	"before": {"id": sprintf("i-etcd%d", [i])},
	"after": after_of(i, action),
}

removed_ids(i, action) := [sprintf("i-etcd%d", [i])] if action in {"delete", "replace"}

removed_ids(_, action) := [] if not action in {"delete", "replace"}

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

# One change on the search-prod group as observed.
on(change, g) := changeset([change], {"search-prod": g})

majority := {"groups": {"search-prod": {"quorum": "majority", "aliases": []}}}

fixed(n) := {"groups": {"search-prod": {"quorum": n, "aliases": []}}}

has_rule(findings, rule) if {
	some f in findings
	f.rule == rule
}

with_rule(findings, rule) := [f | some f in findings; f.rule == rule]

# ---------------------------------------------------------------- the DESIGN.md outage

outage_members := array.concat(
	[terminating(sprintf("i-old%d", [i])) | some i in numbers.range(1, 3)],
	[serving(sprintf("i-new%d", [i])) | some i in numbers.range(1, 3)],
)

outage := object.union(on(asg(6, 3), group(outage_members)), {"drift": [{
	"change": "aws_autoscaling_group.search",
	"address": "aws_autoscaling_group.search",
	"group": "search-prod",
	"source": "terraform-resource-drift",
	"attribute": "/desired_capacity",
	"committed": 3,
	"live": 6,
	"origin": {"type": "terraform-plan", "path": "plan.json", "pointer": "/resource_drift/0/change/after/desired_capacity"},
}]})

test_outage_is_below_quorum if {
	fs := quorum.deny with input as outage with data.quorate.config as majority
	[f] := with_rule(fs, "quorum/below-quorum")
	f.change == "aws_autoscaling_group.search"
	f.group == "search-prod"
	f.attribute == "/desired_capacity"
	f.msg == "aws_autoscaling_group.search leaves search-prod below quorum in the worst case: 3 healthy - 3 removals = 0 healthy, below a majority of 3 (2)"
}

test_outage_removes_several_voters_at_once if {
	fs := quorum.deny with input as outage with data.quorate.config as majority
	[f] := with_rule(fs, "quorum/multiple-voters-at-once")
	contains(f.msg, "removes 3 voters of search-prod at once (6 -> 3)")
}

test_outage_is_denied_three_times_over if {
	denied := {f.rule |
		some findings in [drift.deny, unstable.deny, quorum.deny]
		some f in findings
	} with input as outage with data.quorate.config as majority
	every rule in {"drift/change-on-drifted-resource", "unstable/members-in-transition", "quorum/below-quorum"} {
		rule in denied
	}
	not "quorum/removes-all-members" in denied
}

# ---------------------------------------------------------------- safe changes

test_safe_five_to_four_passes_every_deny_rule if {
	inp := on(asg(5, 4), group(serving_members(5)))
	count(drift.deny) == 0 with input as inp with data.quorate.config as majority
	count(unstable.deny) == 0 with input as inp with data.quorate.config as majority
	count(quorum.deny) == 0 with input as inp with data.quorate.config as majority
	count(drift.warn) == 0 with input as inp with data.quorate.config as majority
	count(quorum.warn) == 0 with input as inp with data.quorate.config as majority
}

test_safe_four_to_three_is_clean if {
	inp := on(asg(4, 3), group(serving_members(4)))
	count(quorum.deny) == 0 with input as inp with data.quorate.config as majority
	count(quorum.warn) == 0 with input as inp with data.quorate.config as majority
}

test_scale_up_of_an_unhealthy_group_is_allowed if {
	g := group(array.concat([serving("a")], [unhealthy("b"), terminating("c")]))
	fs := quorum.deny with input as on(asg(3, 5), g) with data.quorate.config as majority
	count(fs) == 0
}

# ---------------------------------------------------------------- quorum/below-quorum

test_below_quorum_counts_removals_against_healthy_members if {
	g := group(array.concat(serving_members(3), [unhealthy("sick1"), unhealthy("sick2")]))
	fs := quorum.deny with input as on(asg(5, 4), g) with data.quorate.config as majority
	[f] := with_rule(fs, "quorum/below-quorum")
	contains(f.msg, "3 healthy - 1 removals = 2 healthy, below a majority of 4 (3)")
}

test_below_a_fixed_quorum if {
	g := group(array.concat(serving_members(3), [unhealthy("sick")]))
	fs := quorum.deny with input as on(asg(4, 3), g) with data.quorate.config as fixed(3)
	[f] := with_rule(fs, "quorum/below-quorum")
	contains(f.msg, "3 healthy - 1 removals = 2 healthy, below its quorum of 3")
}

test_fixed_quorum_that_holds_passes if {
	fs := quorum.deny with input as on(asg(5, 3), group(serving_members(5))) with data.quorate.config as fixed(3)
	not has_rule(fs, "quorum/below-quorum")
}

test_below_quorum_from_the_label if {
	c := object.union(asg(5, 4), {"labels": {"quorate.dev/quorum": "majority"}})
	g := group(array.concat(serving_members(2), [unhealthy("x"), unhealthy("y"), unhealthy("z")]))
	fs := quorum.deny with input as on(c, g) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/below-quorum")
	contains(f.msg, "2 healthy - 1 removals = 1 healthy, below a majority of 4 (3)")
}

test_below_quorum_from_the_observed_minimum if {
	g := object.union(group(serving_members(3)), {"quorum": {"mode": "count", "min": 3, "source": "pdb"}})
	fs := quorum.deny with input as on(asg(3, 2), g) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/below-quorum")
	contains(f.msg, "3 healthy - 1 removals = 2 healthy, below its quorum of 3")
}

test_below_quorum_without_observation_assumes_the_plan if {
	fs := quorum.deny with input as changeset([asg(4, 2)], {}) with data.quorate.config as fixed(3)
	[f] := with_rule(fs, "quorum/below-quorum")
	contains(f.msg, "4 healthy - 2 removals = 2 healthy, below its quorum of 3")
}

test_terminated_members_are_not_removals if {
	g := group(array.concat(serving_members(4), [member("gone1", "terminated", "Terminated", false), member("gone2", "terminated", "Terminated", false)]))
	fs := quorum.deny with input as on(asg(4, 3), g) with data.quorate.config as majority
	count(fs) == 0
}

test_no_quorum_no_quorum_findings if {
	g := group(array.concat([serving("a")], [unhealthy("b"), unhealthy("c"), unhealthy("d")]))
	fs := quorum.deny with input as on(asg(4, 2), g) with data.quorate.config as {}
	count(fs) == 0
}

# ---------------------------------------------------------------- quorum/removes-all-members

test_scale_to_zero_removes_all_members if {
	fs := quorum.deny with input as on(asg(3, 0), group(serving_members(3))) with data.quorate.config as majority
	[f] := with_rule(fs, "quorum/removes-all-members")
	f.msg == "aws_autoscaling_group.search removes every member of search-prod (3 -> 0)"
	not has_rule(fs, "quorum/below-quorum")
	not has_rule(fs, "quorum/multiple-voters-at-once")
}

test_delete_removes_all_observed_members if {
	fs := quorum.deny with input as on(asg_delete(3), group(serving_members(4))) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/removes-all-members")
	contains(f.msg, "removes every member of search-prod (4 -> 0)")
}

test_partial_scale_down_keeps_members if {
	fs := quorum.deny with input as on(asg(3, 2), group(serving_members(3))) with data.quorate.config as {}
	not has_rule(fs, "quorum/removes-all-members")
}

test_deleting_an_empty_group_is_not_reported if {
	fs := quorum.deny with input as changeset([asg_delete(0)], {}) with data.quorate.config as {}
	count(fs) == 0
}

# ---------------------------------------------------------------- quorum/multiple-voters-at-once

test_opensearch_masters_three_to_one if {
	inp := changeset([domain(6, 6, 3, 1)], {})
	fs := quorum.deny with input as inp with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/multiple-voters-at-once")
	f.msg == "aws_opensearch_domain.search removes 2 voters of search at once (3 -> 1)"
	f.attribute == "/cluster_config/0/dedicated_master_count"
	# 3 healthy - 2 removals = 1, a majority of 1.
	not has_rule(fs, "quorum/below-quorum")
}

test_one_voter_at_a_time_passes if {
	fs := quorum.deny with input as on(asg(5, 4), group(serving_members(5))) with data.quorate.config as majority
	not has_rule(fs, "quorum/multiple-voters-at-once")
	count(quorum.deny) == 0 with input as changeset([domain(6, 6, 5, 4)], {}) with data.quorate.config as {}
}

test_multiple_removals_outside_quorum_groups_pass if {
	fs := quorum.deny with input as on(asg(6, 3), group(serving_members(6))) with data.quorate.config as {}
	not has_rule(fs, "quorum/multiple-voters-at-once")
}

# ---------------------------------------------------------------- count/for_each member groups

etcd_plan := [instance(0, "no-op"), instance(1, "no-op"), instance(2, "no-op"), instance(3, "delete"), instance(4, "delete")]

test_count_group_deletes_are_counted_together if {
	fs := quorum.deny with input as changeset(etcd_plan, {}) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/multiple-voters-at-once")
	f.msg == "aws_instance.etcd[3] removes 2 voters of aws_instance.etcd at once (5 -> 3)"
	f.group == "aws_instance.etcd"
	not has_rule(fs, "quorum/removes-all-members")
	not has_rule(fs, "quorum/below-quorum")
}

test_count_group_single_delete_passes if {
	plan := [instance(0, "no-op"), instance(1, "no-op"), instance(2, "no-op"), instance(3, "no-op"), instance(4, "delete")]
	ms := [serving(sprintf("i-etcd%d", [i])) | some i in numbers.range(0, 4)]
	fs := quorum.deny with input as changeset(plan, {"aws_instance.etcd": group(ms)}) with data.quorate.config as {}
	count(fs) == 0
}

test_count_group_below_quorum_with_observed_members if {
	ms := [serving("i-etcd0"), unhealthy("i-etcd1"), unhealthy("i-etcd2"), serving("i-etcd3"), serving("i-etcd4")]
	fs := quorum.deny with input as changeset(etcd_plan, {"aws_instance.etcd": group(ms)}) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/below-quorum")
	f.msg == "aws_instance.etcd[3] leaves aws_instance.etcd below quorum in the worst case: 3 healthy - 2 removals = 1 healthy, below a majority of 3 (2)"
}

test_deleting_every_instance_of_a_count_group_removes_all_members if {
	plan := [instance(0, "delete"), instance(1, "delete"), instance(2, "delete")]
	fs := quorum.deny with input as changeset(plan, {}) with data.quorate.config as {}
	[f] := with_rule(fs, "quorum/removes-all-members")
	f.msg == "aws_instance.etcd[0] removes every member of aws_instance.etcd (3 -> 0)"
}

# ---------------------------------------------------------------- quorum/unknown-capacity

test_unknown_capacity_warns if {
	ws := quorum.warn with input as changeset([unknown_capacity(3)], {}) with data.quorate.config as majority
	[f] := with_rule(ws, "quorum/unknown-capacity")
	f.msg == "aws_autoscaling_group.search: /desired_capacity is unknown until apply, so the quorum of search-prod cannot be checked"
	count(quorum.deny) == 0 with input as changeset([unknown_capacity(3)], {}) with data.quorate.config as majority
}

test_unknown_voters_warn if {
	c := object.union(domain(6, 6, 3, null), {"voters": {"unknown": true}})
	ws := quorum.warn with input as changeset([c], {}) with data.quorate.config as {}
	[f] := with_rule(ws, "quorum/unknown-capacity")
	contains(f.msg, "/cluster_config/0/dedicated_master_count is unknown until apply, so the quorum of search cannot be checked")
}

test_known_capacity_does_not_warn if {
	ws := quorum.warn with input as on(asg(5, 4), group(serving_members(5))) with data.quorate.config as majority
	not has_rule(ws, "quorum/unknown-capacity")
}

# ---------------------------------------------------------------- quorum/even-voters

test_growing_to_an_even_count_warns if {
	ws := quorum.warn with input as on(asg(3, 4), group(serving_members(3))) with data.quorate.config as majority
	[f] := with_rule(ws, "quorum/even-voters")
	f.msg == "aws_autoscaling_group.search grows search-prod to 4 voters; an even count tolerates no more failures than 3"
}

test_growing_masters_to_an_even_count_warns if {
	ws := quorum.warn with input as changeset([domain(6, 6, 3, 4)], {}) with data.quorate.config as {}
	[f] := with_rule(ws, "quorum/even-voters")
	contains(f.msg, "grows search to 4 voters")
	f.attribute == "/cluster_config/0/dedicated_master_count"
}

test_even_data_node_count_is_not_even_voters if {
	# Dedicated masters vote; data nodes 3 -> 4 do not change the voters.
	ws := quorum.warn with input as changeset([domain(3, 4, 3, 3)], {}) with data.quorate.config as {}
	not has_rule(ws, "quorum/even-voters")
}

test_odd_counts_do_not_warn if {
	ws := quorum.warn with input as on(asg(3, 5), group(serving_members(3))) with data.quorate.config as majority
	not has_rule(ws, "quorum/even-voters")
}

test_even_count_on_the_way_down_does_not_warn if {
	ws := quorum.warn with input as on(asg(5, 4), group(serving_members(5))) with data.quorate.config as majority
	not has_rule(ws, "quorum/even-voters")
}

test_even_count_with_a_fixed_quorum_does_not_warn if {
	ws := quorum.warn with input as on(asg(3, 4), group(serving_members(3))) with data.quorate.config as fixed(2)
	not has_rule(ws, "quorum/even-voters")
}

test_even_count_outside_quorum_groups_does_not_warn if {
	ws := quorum.warn with input as on(asg(3, 4), group(serving_members(3))) with data.quorate.config as {}
	not has_rule(ws, "quorum/even-voters")
}

# ---------------------------------------------------------------- quorum/unverified-health

test_scale_down_without_observed_state_warns if {
	ws := quorum.warn with input as changeset([asg(5, 4)], {}) with data.quorate.config as majority
	[f] := with_rule(ws, "quorum/unverified-health")
	f.msg == "aws_autoscaling_group.search shrinks search-prod, a quorum group, but no observed state was given for it; members are assumed healthy"
}

test_scale_down_with_observed_state_is_verified if {
	ws := quorum.warn with input as on(asg(5, 4), group(serving_members(5))) with data.quorate.config as majority
	not has_rule(ws, "quorum/unverified-health")
}

test_scale_up_without_observed_state_is_not_unverified if {
	ws := quorum.warn with input as changeset([asg(3, 5)], {}) with data.quorate.config as majority
	not has_rule(ws, "quorum/unverified-health")
}

test_non_quorum_group_without_observed_state_is_not_unverified if {
	ws := quorum.warn with input as changeset([asg(5, 4)], {}) with data.quorate.config as {}
	not has_rule(ws, "quorum/unverified-health")
}

# ProtectedFromScaleIn members are never picked. Quorum 2 of 3; 3 -> 1 removes 2: with two
# healthy members protected only one can go (2 left, allowed); without protection 1 is left.
zk_input(protected) := {"apiVersion": "quorate.dev/v1", "mode": "check", "now": "2026-11-24T10:00:00Z", "changes": [zk_change], "drift": [], "observed": {"taken_at": "2026-11-24T09:59:00Z", "groups": {"zk": {"desired": 3, "members": [
	{"id": "i-1", "state": "running", "raw_state": "InService", "healthy": true, "protected": protected},
	{"id": "i-2", "state": "running", "raw_state": "InService", "healthy": true, "protected": protected},
	{"id": "i-3", "state": "running", "raw_state": "InService", "healthy": true, "protected": false},
], "health": "unknown", "in_progress": [], "activities": [], "quorum": {"mode": "count", "min": 2, "source": "observed"}, "last_change": null, "taken_at": null, "sources": []}}}, "context": {}}

zk_change := {"id": "aws_autoscaling_group.zk", "group": "zk", "action": "update", "type": "aws_autoscaling_group", "capacity": {"before": 3, "after": 1, "attribute": "/desired_capacity", "unknown": false}, "voters": null, "members_removed": [], "labels": {}, "before": {}, "after": {}}

below_messages(inp) := [f.msg | some f in quorum.deny with input as inp; f.rule == "quorum/below-quorum"]

test_protected_members_are_not_removed_in_the_worst_case if {
	count(below_messages(zk_input(true))) == 0
}

test_unprotected_members_count_as_removable if {
	msgs := below_messages(zk_input(false))
	count(msgs) == 1
	contains(msgs[0], "3 healthy - 2 removals = 1 healthy, below its quorum of 2")
}
