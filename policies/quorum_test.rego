package quorate.quorum_test

import data.quorate.quorum

# The arithmetic (effective sizes, removals, worst case, quorum of the old and new
# configuration) is computed and unit-tested in Rust (src/effects); these tests feed effects
# as quorate publishes them and check each rule's decision and message.

# ---------------------------------------------------------------- fixtures

now := "2026-11-24T10:00:00Z"

majority(before, after) := {
	"spec": "majority",
	"min": null,
	"source": "config",
	"required_before": floor(before / 2) + 1,
	"required_after": req_after(after),
	"required": max([floor(before / 2) + 1, req_after(after)]),
	"allowed_disruptions": null,
	"voting": true,
	"system": null,
}

req_after(n) := floor(n / 2) + 1 if n > 0

req_after(n) := 0 if n == 0

pdb(min, before, healthy) := {
	"spec": "pdb",
	"min": min,
	"source": "pdb shop/web",
	"required_before": min,
	"required_after": min,
	"required": min,
	"allowed_disruptions": healthy - min,
	"voting": false,
	"system": null,
}

effect(before, after, healthy_now, healthy_after, q) := {
	"role": role(q),
	"members_before": before,
	"members_after": after,
	"members_min": after,
	"removed": {"count": max([before - after, 0]), "ids": [], "exact": false},
	"healthy_now": healthy_now,
	"healthy_after": healthy_after,
	"protected": 0,
	"quorum": q,
	"order": "in-place",
	"observed": true,
	"attribute": "",
	"notes": [],
	"counted_in": null,
}

role(q) := "capacity" if q == null

role(q) := "quorum" if q != null

asg(e) := {
	"id": "aws_autoscaling_group.search",
	"source": {"type": "terraform-plan", "path": "plan.json", "pointer": "/resource_changes/0"},
	"type": "aws_autoscaling_group",
	"name": "search-prod",
	"group": "search-prod",
	"action": "update",
	"capacity": {"before": e.members_before, "after": e.members_after, "attribute": "/desired_capacity", "unknown": false},
	"voters": null,
	"members_removed": [],
	"actor": null,
	"labels": {},
	"before": {},
	"after": {},
	"effect": e,
}

changeset(changes, groups) := {
	"apiVersion": "quorate.dev/v1",
	"mode": "check",
	"now": now,
	"changes": changes,
	"drift": [],
	"observed": {"taken_at": null, "groups": groups},
	"context": {},
}

one(c) := changeset([c], {"search-prod": {}})

with_rule(findings, rule) := [f | some f in findings; f.rule == rule]

rules(findings) := {f.rule | some f in findings}

# ---------------------------------------------------------------- quorum/below-quorum

# The outage: 6 members (3 terminating), desired 6 -> 3, worst case 3 healthy - 3 = 0.
test_outage_is_below_quorum_of_the_old_configuration if {
	c := asg(effect(6, 3, 3, 0, majority(6, 3)))
	[f] := with_rule(quorum.deny, "quorum/below-quorum") with input as one(c)
	f.msg == "aws_autoscaling_group.search leaves search-prod below quorum in the worst case: 3 healthy - 3 removals = 0 healthy, below a majority of the old 6 voters (4): the change is committed by the old configuration"
	f.attribute == "/desired_capacity"
}

# 6 -> 3 with all healthy keeps 3, below a majority of the 6 that commit the change.
test_halving_a_healthy_majority_group_is_below_the_old_majority if {
	c := asg(effect(6, 3, 6, 3, majority(6, 3)))
	[_] := with_rule(quorum.deny, "quorum/below-quorum") with input as one(c)
}

test_one_step_down_of_a_healthy_group_passes if {
	c := asg(effect(5, 4, 5, 4, majority(5, 4)))
	count(with_rule(quorum.deny, "quorum/below-quorum")) == 0 with input as one(c)
}

test_pdb_is_judged_at_the_current_size if {
	# ZooKeeper 3 -> 1 under maxUnavailable 1: the PDB keeps 2 of 3, allowing 1 disruption.
	e := effect(3, 1, 3, 1, pdb(2, 3, 3))
	[f] := with_rule(quorum.deny, "quorum/below-quorum") with input as one(asg(e))
	contains(f.msg, "below the 2 that pdb shop/web keeps available at the current size of 3 (it allows 1 disruptions at once)")
}

test_exact_removals_name_the_members if {
	e := object.union(effect(5, 3, 4, 2, majority(5, 3)), {"removed": {"count": 2, "ids": ["etcd-4", "etcd-3"], "exact": true}})
	[f] := with_rule(quorum.deny, "quorum/below-quorum") with input as one(asg(e))
	contains(f.msg, "etcd-4, etcd-3 go: 4 healthy -> 2 healthy")
}

test_capacity_groups_have_no_quorum_to_fall_below if {
	c := asg(effect(6, 1, 6, 1, null))
	count(quorum.deny) == 0 with input as one(c)
}

test_notes_explain_provider_semantics if {
	e := object.union(effect(3, 1, 3, 1, majority(3, 1)), {"attribute": "/max_size", "notes": ["max_size 1 is below the desired capacity 3"]})
	[f] := with_rule(quorum.deny, "quorum/below-quorum") with input as one(asg(e))
	endswith(f.msg, "(max_size 1 is below the desired capacity 3)")
	f.attribute == "/max_size"
}

# ---------------------------------------------------------------- quorum/removes-all-members

test_removing_every_member_of_a_quorum_group_is_denied if {
	c := asg(effect(3, 0, 3, 0, majority(3, 0)))
	[f] := with_rule(quorum.deny, "quorum/removes-all-members") with input as one(c)
	f.msg == "aws_autoscaling_group.search removes every member of search-prod (3 -> 0); it needs 2 healthy (config)"
	count(quorum.warn) == 0 with input as one(c)
}

test_removing_every_member_of_an_undeclared_group_is_a_warning if {
	c := asg(effect(4, 0, 4, 0, null))
	count(quorum.deny) == 0 with input as one(c)
	[f] := with_rule(quorum.warn, "quorum/removes-all-members") with input as one(c)
	contains(f.msg, "no quorum is declared for it, so this is a warning")
}

test_resources_without_an_effect_are_not_judged if {
	c := object.union(asg(effect(2, 0, 2, 0, null)), {"type": "aws_route53_record", "effect": null})
	count(quorum.deny) == 0 with input as one(c)
	count(quorum.warn) == 0 with input as one(c)
}

test_delete_first_replace_removes_every_member_first if {
	e := object.union(effect(3, 3, 3, 0, majority(3, 3)), {"order": "delete-first", "members_min": 0, "removed": {"count": 3, "ids": [], "exact": false}})
	inp := one(object.union(asg(e), {"action": "replace"}))
	[f] := with_rule(quorum.deny, "quorum/removes-all-members") with input as inp
	f.msg == "aws_autoscaling_group.search replaces search-prod delete-first: all 3 members are destroyed before the new group is created (set create_before_destroy)"
	not contains(f.msg, "scale")
	count(with_rule(quorum.deny, "quorum/multiple-voters-at-once")) == 0 with input as inp
}

# ---------------------------------------------------------------- quorum/replace-before-healthy

test_create_first_replace_of_a_quorum_group_warns if {
	e := object.union(effect(3, 3, 3, null, majority(3, 3)), {
		"order": "create-first",
		"removed": {"count": 3, "ids": [], "exact": false},
		"notes": ["aws_autoscaling_group.search is replaced create-first (create_before_destroy): the old members are destroyed once the new group exists"],
	})
	inp := one(object.union(asg(e), {"action": "replace"}))
	count(quorum.deny) == 0 with input as inp
	[f] := with_rule(quorum.warn, "quorum/replace-before-healthy") with input as inp
	contains(f.msg, "(3 members of search-prod, a quorum group)")
}

# ---------------------------------------------------------------- quorum/multiple-voters-at-once

test_two_voters_at_once_is_denied if {
	c := asg(effect(5, 3, 5, 3, majority(5, 3)))
	[f] := with_rule(quorum.deny, "quorum/multiple-voters-at-once") with input as one(c)
	f.msg == "aws_autoscaling_group.search removes 2 voters of search-prod at once (5 -> 3)"
}

test_pdb_groups_that_do_not_vote_may_lose_several_members if {
	# A web Deployment with a PDB allowing 3 disruptions: 10 -> 8 is within it.
	c := asg(effect(10, 8, 10, 8, pdb(7, 10, 10)))
	count(quorum.deny) == 0 with input as one(c)
}

# ---------------------------------------------------------------- warnings

test_unknown_capacity_warns_for_member_groups_only if {
	e := effect(3, 3, 3, 3, null)
	c := object.union(asg(e), {"capacity": {"before": 3, "after": null, "attribute": "/desired_capacity", "unknown": true}})
	[_] := with_rule(quorum.warn, "quorum/unknown-capacity") with input as one(c)
	plain := object.union(c, {"effect": null})
	count(quorum.warn) == 0 with input as one(plain)
}

test_growing_to_an_even_voter_count_warns if {
	c := asg(effect(3, 4, 3, 3, majority(3, 4)))
	[f] := with_rule(quorum.warn, "quorum/even-voters") with input as one(c)
	f.msg == "aws_autoscaling_group.search grows search-prod to 4 voters; an even count tolerates no more failures than 3"
	count(with_rule(quorum.warn, "quorum/even-voters")) == 0 with input as one(asg(effect(5, 4, 5, 4, majority(5, 4))))
}

test_unverified_health_says_whether_any_state_was_given if {
	e := object.union(effect(5, 4, 5, 4, majority(5, 4)), {"observed": false})
	none := changeset([asg(e)], {})
	[f] := with_rule(quorum.warn, "quorum/unverified-health") with input as none
	contains(f.msg, "but no observed state was given;")
	other := changeset([asg(e)], {"other-group": {"members": [{"id": "i-1"}]}, "search-prod": {"members": []}})
	[g] := with_rule(quorum.warn, "quorum/unverified-health") with input as other
	contains(g.msg, "but the observed state has no members of search-prod;")
}

test_every_rule_quiet_on_a_safe_step if {
	c := asg(effect(5, 4, 5, 4, majority(5, 4)))
	count(quorum.deny) == 0 with input as one(c)
	count(quorum.warn) == 0 with input as one(c)
}

test_rules_fire_once_per_count_group if {
	primary := asg(effect(3, 0, 3, 0, majority(3, 0)))
	other := object.union(primary, {"id": "aws_autoscaling_group.search[1]", "effect": {"role": "quorum", "counted_in": "aws_autoscaling_group.search", "removed": {"count": null, "ids": [], "exact": false}, "members_before": null, "members_after": null, "members_min": null}})
	fs := quorum.deny with input as changeset([primary, other], {})
	count(fs) == 1
	rules(fs) == {"quorum/removes-all-members"}
}
