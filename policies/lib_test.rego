package quorate.lib_test

import data.quorate.lib

# The arithmetic lives in quorate's effects step (src/effects, unit-tested in Rust); these test
# the helpers the rules share: selection of changes by their effect, time, and finding shape.

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

effect(before, after, min, removed) := {
	"role": "capacity",
	"members_before": before,
	"members_after": after,
	"members_min": min,
	"removed": {"count": removed, "ids": [], "exact": false},
	"attribute": "",
	"notes": [],
}

asg(before, after) := {
	"id": "aws_autoscaling_group.search",
	"type": "aws_autoscaling_group",
	"group": "search-prod",
	"action": "update",
	"capacity": {"before": before, "after": after, "attribute": "/desired_capacity", "unknown": false},
	"voters": null,
	"members_removed": [],
	"labels": {},
	"effect": effect(before, after, after, max([before - after, 0])),
}

changeset(changes, groups) := {
	"now": now,
	"changes": changes,
	"drift": [],
	"observed": {"taken_at": null, "groups": groups},
}

test_removing_and_scale_down_indexes_follow_the_effect if {
	shrink := asg(5, 4)
	grow := asg(3, 5)
	gone := object.union(asg(3, 0), {"action": "delete"})
	plain := object.union(asg(2, 0), {"effect": null})
	inp := changeset([shrink, grow, gone, plain], {})
	lib.removing_index == {0, 2} with input as inp
	lib.scale_down_index == {0} with input as inp
	lib.growing_index == {1} with input as inp
}

test_attribute_prefers_the_deciding_attribute if {
	c := asg(3, 3)
	lib.attribute(c) == "/desired_capacity"
	clamped := object.union(c, {"effect": object.union(c.effect, {"attribute": "/max_size"})})
	lib.attribute(clamped) == "/max_size"
	lib.attribute({"effect": null, "capacity": null, "voters": null}) == ""
}

test_finding_shape if {
	lib.finding("quorum/below-quorum", asg(6, 3), "m") == {
		"rule": "quorum/below-quorum",
		"msg": "m",
		"change": "aws_autoscaling_group.search",
		"group": "search-prod",
		"attribute": "/desired_capacity",
	}
}

test_notes_suffix if {
	lib.notes(asg(3, 3)) == ""
	c := object.union(asg(3, 1), {"effect": {"notes": ["a", "b"]}})
	lib.notes(c) == " (a; b)"
}

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
