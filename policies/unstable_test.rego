package quorate.unstable_test

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

stable := group(serving_members(5))

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
	"effect": effect_of(before, after),
}

# The effect quorate's effects step computes for a plain in-place resize (no quorum).
effect_of(before, after) := {
	"role": "capacity",
	"members_before": before,
	"members_after": after,
	"members_min": after,
	"removed": {"count": max([before - after, 0]), "ids": [], "exact": false},
	"healthy_now": before,
	"healthy_after": null,
	"protected": 0,
	"quorum": null,
	"order": "in-place",
	"observed": true,
	"attribute": "",
	"notes": [],
	"counted_in": null,
} if {
	is_number(before)
	is_number(after)
} else := null

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

has_rule(findings, rule) if {
	some f in findings
	f.rule == rule
}

with_rule(findings, rule) := [f | some f in findings; f.rule == rule]

# A group that is unstable in every way at once.
chaos := object.union(group(array.concat(serving_members(3), [terminating("i-x1"), member("i-x2", "pending", "Pending", false)])), {
	"health": "red",
	"in_progress": ["instance refresh 0f1e InProgress (40%)"],
	"last_change": "2026-11-24T09:59:00Z",
	"taken_at": "2026-11-24T07:00:00Z",
})

# ---------------------------------------------------------------- every rule, allowed cases

test_safe_scale_down_of_a_stable_group_passes if {
	fs := unstable.deny with input as on(asg(5, 4), stable)
	count(fs) == 0
}

test_scale_up_is_never_blocked_by_instability if {
	fs := unstable.deny with input as on(asg(5, 8), chaos)
	count(fs) == 0
}

test_create_and_unchanged_are_never_blocked if {
	inp := on(object.union(asg(null, 5), {"action": "create"}), chaos)
	count(unstable.deny) == 0 with input as inp
	count(unstable.deny) == 0 with input as on(asg(5, 5), chaos)
}

test_every_instability_is_reported_on_a_scale_down if {
	fs := unstable.deny with input as on(asg(5, 4), chaos)
	{f.rule | some f in fs} == {
		"unstable/members-in-transition",
		"unstable/rollout-in-progress",
		"unstable/health-not-green",
		"unstable/within-stabilization-window",
		"unstable/stale-observation",
	}
}

test_no_observed_state_means_no_unstable_finding if {
	# quorum/unverified-health speaks for this case.
	fs := unstable.deny with input as changeset([asg(5, 4)], {})
	count(fs) == 0
}

# ---------------------------------------------------------------- unstable/members-in-transition

test_outage_members_in_transition if {
	g := group(array.concat([terminating("i-old1"), terminating("i-old2"), member("i-old3", "terminating", "Terminating", false)], serving_members(3)))
	fs := unstable.deny with input as on(asg(6, 3), g)
	some f in fs
	f.rule == "unstable/members-in-transition"
	f.change == "aws_autoscaling_group.search"
	f.attribute == "/desired_capacity"
	contains(f.msg, "3 of 6 members of search-prod are in transition")
	contains(f.msg, "i-old1 Terminating:Wait, i-old2 Terminating:Wait, i-old3 Terminating")
}

test_pending_and_stopping_members_are_in_transition if {
	g := group(array.concat(serving_members(3), [member("p", "pending", "Pending:Wait", false), member("s", "stopping", "stopping", false)]))
	fs := unstable.deny with input as on(asg(5, 4), g)
	[f] := with_rule(fs, "unstable/members-in-transition")
	contains(f.msg, "2 of 5 members of search-prod are in transition (p Pending:Wait, s stopping)")
}

test_settled_states_are_not_in_transition if {
	g := group(array.concat(serving_members(3), [
		member("t", "terminated", "Terminated", false),
		member("s", "standby", "Standby", false),
		member("x", "stopped", "stopped", false),
		member("u", "running", "InService", false),
	]))
	fs := unstable.deny with input as on(asg(4, 3), g)
	not has_rule(fs, "unstable/members-in-transition")
}

# Removing every member is judged by quorum/removes-all-members: instability is about what remains.
test_delete_is_not_judged_on_instability if {
	c := object.union(asg(4, 0), {"action": "delete", "after": null})
	fs := unstable.deny with input as on(c, group(array.concat(serving_members(3), [terminating("i-x")])))
	count(fs) == 0
}

# ---------------------------------------------------------------- unstable/rollout-in-progress

test_rollout_in_progress if {
	g := object.union(stable, {"in_progress": ["instance refresh 0f1e InProgress (40%)", "scaling activity 7c2d"]})
	fs := unstable.deny with input as on(asg(5, 4), g)
	some f in fs
	f.rule == "unstable/rollout-in-progress"
	contains(f.msg, "search-prod has work in progress: instance refresh 0f1e InProgress (40%); scaling activity 7c2d")
}

test_no_work_in_progress_passes if {
	fs := unstable.deny with input as on(asg(5, 4), stable)
	not has_rule(fs, "unstable/rollout-in-progress")
}

test_replace_during_rollout_is_denied if {
	g := object.union(stable, {"in_progress": ["rollout"]})
	e := object.union(effect_of(5, 5), {"order": "create-first", "removed": {"count": 5, "ids": [], "exact": false}})
	c := object.union(asg(5, 5), {"action": "replace", "effect": e})
	fs := unstable.deny with input as on(c, g)
	has_rule(fs, "unstable/rollout-in-progress")
}

# ---------------------------------------------------------------- unstable/health-not-green

test_yellow_health_denies_scale_down if {
	fs := unstable.deny with input as on(asg(5, 4), object.union(stable, {"health": "yellow"}))
	[f] := with_rule(fs, "unstable/health-not-green")
	f.msg == "aws_autoscaling_group.search removes members while search-prod health is yellow"
}

test_red_health_denies_scale_down if {
	fs := unstable.deny with input as on(asg(5, 4), object.union(stable, {"health": "red"}))
	[f] := with_rule(fs, "unstable/health-not-green")
	contains(f.msg, "health is red")
}

test_unknown_health_is_not_not_green if {
	fs := unstable.deny with input as on(asg(5, 4), object.union(stable, {"health": "unknown"}))
	not has_rule(fs, "unstable/health-not-green")
}

test_yellow_health_does_not_block_a_scale_up if {
	fs := unstable.deny with input as on(asg(5, 6), object.union(stable, {"health": "yellow"}))
	not has_rule(fs, "unstable/health-not-green")
}

test_voter_removal_is_a_scale_down if {
	c := {
		"id": "aws_opensearch_domain.search",
		"source": {"type": "terraform-plan", "path": "plan.json", "pointer": "/resource_changes/0"},
		"type": "aws_opensearch_domain",
		"name": "search",
		"group": "search-prod",
		"action": "update",
		"capacity": {"before": 6, "after": 6, "attribute": "/cluster_config/0/instance_count", "unknown": false},
		"voters": {"before": 3, "after": 2, "attribute": "/cluster_config/0/dedicated_master_count", "unknown": false},
		"members_removed": [],
		"actor": null,
		"labels": {},
		"before": {},
		"after": {},
		"effect": object.union(effect_of(3, 2), {"attribute": "/cluster_config/0/dedicated_master_count"}),
	}
	fs := unstable.deny with input as on(c, object.union(stable, {"health": "yellow"}))
	[f] := with_rule(fs, "unstable/health-not-green")
	f.attribute == "/cluster_config/0/dedicated_master_count"
}

# ---------------------------------------------------------------- unstable/within-stabilization-window

test_within_stabilization_window if {
	g := object.union(stable, {"last_change": "2026-11-24T09:57:00Z"})
	fs := unstable.deny with input as on(asg(5, 4), g)
	[f] := with_rule(fs, "unstable/within-stabilization-window")
	contains(f.msg, "removes members 3m00s after the last change to search-prod (at 2026-11-24T09:57:00Z)")
	contains(f.msg, "the stabilization window is 10m00s")
}

test_last_change_older_than_window_passes if {
	g := object.union(stable, {"last_change": "2026-11-24T09:45:00Z"})
	fs := unstable.deny with input as on(asg(5, 4), g)
	not has_rule(fs, "unstable/within-stabilization-window")
}

test_no_last_change_passes if {
	fs := unstable.deny with input as on(asg(5, 4), stable)
	not has_rule(fs, "unstable/within-stabilization-window")
}

test_stabilization_window_from_config if {
	g := object.union(stable, {"last_change": "2026-11-24T09:40:00Z"})
	window_10m := unstable.deny with input as on(asg(5, 4), g) with data.quorate.config as {"stabilization_window": 600}
	window_1h := unstable.deny with input as on(asg(5, 4), g) with data.quorate.config as {"stabilization_window": 3600}
	not has_rule(window_10m, "unstable/within-stabilization-window")
	[f] := with_rule(window_1h, "unstable/within-stabilization-window")
	contains(f.msg, "20m00s after the last change")
	contains(f.msg, "the stabilization window is 1h00m")
}

# AWS reports activity times with fractions of a second.
test_fractional_second_last_change if {
	g := object.union(stable, {"last_change": "2026-11-24T09:57:00.250Z"})
	fs := unstable.deny with input as on(asg(5, 4), g)
	[f] := with_rule(fs, "unstable/within-stabilization-window")
	contains(f.msg, "removes members 2m59s after the last change")
}

test_recent_change_does_not_block_a_scale_up if {
	g := object.union(stable, {"last_change": "2026-11-24T09:59:00Z"})
	fs := unstable.deny with input as on(asg(5, 7), g)
	count(fs) == 0
}

# ---------------------------------------------------------------- unstable/stale-observation

test_stale_group_observation if {
	g := object.union(stable, {"taken_at": "2026-11-24T08:00:00Z"})
	fs := unstable.deny with input as on(asg(5, 4), g)
	[f] := with_rule(fs, "unstable/stale-observation")
	contains(f.msg, "the observed state of search-prod is 2h00m old (taken 2026-11-24T08:00:00Z)")
	contains(f.msg, "the limit is 15m00s")
}

test_stale_snapshot_time_is_used_when_the_group_has_none if {
	g := object.union(stable, {"taken_at": null})
	inp := object.union(on(asg(5, 4), g), {"observed": {"taken_at": "2026-11-24T09:30:00Z"}})
	fs := unstable.deny with input as inp
	[f] := with_rule(fs, "unstable/stale-observation")
	contains(f.msg, "is 30m00s old (taken 2026-11-24T09:30:00Z)")
}

test_fresh_observation_passes if {
	fs := unstable.deny with input as on(asg(5, 4), stable)
	not has_rule(fs, "unstable/stale-observation")
}

test_observation_without_any_time_is_not_stale if {
	g := object.union(stable, {"taken_at": null})
	inp := object.union(on(asg(5, 4), g), {"observed": {"taken_at": null}})
	fs := unstable.deny with input as inp
	not has_rule(fs, "unstable/stale-observation")
}

test_max_observed_age_from_config if {
	g := object.union(stable, {"taken_at": "2026-11-24T08:00:00Z"})
	fs := unstable.deny with input as on(asg(5, 4), g) with data.quorate.config as {"max_observed_age": 10800}
	not has_rule(fs, "unstable/stale-observation")
}

test_stale_observation_does_not_block_a_scale_up if {
	g := object.union(stable, {"taken_at": "2026-11-24T08:00:00Z"})
	fs := unstable.deny with input as on(asg(5, 6), g)
	not has_rule(fs, "unstable/stale-observation")
}

test_long_lists_of_moving_members_are_cut_after_five if {
	g := group(array.concat(serving_members(3), [terminating(sprintf("t%d", [i])) | some i in numbers.range(1, 8)]))
	[f] := with_rule(unstable.deny, "unstable/members-in-transition") with input as on(asg(11, 10), g)
	contains(f.msg, "t5 Terminating:Wait, and 3 more)")
	not contains(f.msg, "t6")
}
