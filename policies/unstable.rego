# unstable/: a scale-down (or member removal, or replace) while the group is not stable.
# Scale-ups are never blocked by instability: adding capacity is how a group recovers.
package quorate.unstable

import data.quorate.lib

# METADATA
# title: Members still starting or stopping
# description: A scale-down while members of the group are pending, terminating or stopping.
# custom:
#   id: unstable/members-in-transition
#   severity: deny
#   why: >-
#     The provider counts members that are on their way out. Asked for fewer, it removes
#     healthy members to reach the number, and the group ends up with fewer serving members
#     than anyone planned.
#   example: >-
#     Three of six Auto Scaling members are Terminating:Wait and the plan lowers
#     desired_capacity from 6 to 3: AWS terminates the three healthy ones.
#   fix: Wait until every member is running (or gone), refresh the observed state, and plan again.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	moving := lib.in_transition(c)
	count(moving) > 0
	states := concat(", ", array.concat([sprintf("%s %s", [m.id, m.raw_state]) | some m in array.slice(moving, 0, 5)], more(count(moving) - 5)))
	f := lib.finding("unstable/members-in-transition", c, sprintf("%s removes members while %d of %d members of %s are in transition (%s)", [c.id, count(moving), count(lib.members(c)), lib.group_name(c), states]))
}

# Long lists of members are cut after five, with how many more.
more(n) := [sprintf("and %d more", [n])] if n > 0

more(n) := [] if n <= 0

# METADATA
# title: Rollout in progress
# description: A scale-down while a rollout, instance refresh or scaling activity is running.
# custom:
#   id: unstable/rollout-in-progress
#   severity: deny
#   why: >-
#     Mid-rollout the group has members of two versions and members being replaced; removing
#     more can take out the only members of the version that works.
#   example: An instance refresh is InProgress on the group and the plan lowers its desired capacity.
#   fix: Let the rollout finish (or cancel it), then plan the scale-down.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	g := lib.observed(c)
	count(g.in_progress) > 0
	details := [a.detail | some a in object.get(g, "activities", [])]
	work := concat("; ", array.concat(details, [k | count(details) == 0; some k in g.in_progress]))
	f := lib.finding("unstable/rollout-in-progress", c, sprintf("%s removes members while %s has work in progress: %s", [c.id, lib.group_name(c), work]))
}

# METADATA
# title: Health is not green
# description: A scale-down while the group's health is yellow or red.
# custom:
#   id: unstable/health-not-green
#   severity: deny
#   why: >-
#     Yellow means some data has fewer copies than configured; removing members now can remove
#     the last copy.
#   example: Elasticsearch _cluster/health says yellow (1 unassigned shard) and the plan removes a node.
#   fix: Wait for green (shards assigned, nothing relocating), then scale down.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	health := lib.observed(c).health
	health in {"yellow", "red"}
	f := lib.finding("unstable/health-not-green", c, sprintf("%s removes members while %s health is %s", [c.id, lib.group_name(c), health]))
}

# METADATA
# title: Within the stabilization window
# description: A scale-down sooner after the group's last change than the stabilization window.
# custom:
#   id: unstable/within-stabilization-window
#   severity: deny
#   why: >-
#     Right after a change, members are still joining, rebalancing and warming caches; the group
#     looks healthy before it is.
#   example: The last scaling activity ended 3 minutes ago and the window is 10 minutes.
#   fix: Wait out the window (stabilization_window in quorate.yaml) and plan again.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	last := lib.observed(c).last_change
	last != null
	age := lib.age_seconds(last)
	age < lib.stabilization_window
	f := lib.finding("unstable/within-stabilization-window", c, sprintf("%s removes members %s after the last change to %s (at %s); the stabilization window is %s", [c.id, lib.human_duration(max([age, 0])), lib.group_name(c), last, lib.human_duration(lib.stabilization_window)]))
}

# METADATA
# title: Observed state too old
# description: A scale-down judged on observed state older than max_observed_age.
# custom:
#   id: unstable/stale-observation
#   severity: deny
#   why: >-
#     Every other check reads the observed state; if it is old, members may have started
#     terminating since, and the checks pass on a picture of a group that no longer exists.
#   example: asg.json was captured 2 hours ago and max_observed_age is 15 minutes.
#   fix: Capture the live state again right before the check (or raise max_observed_age).
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	g := lib.observed(c)
	taken := object.get(g, "taken_at", null)
	t := taken_at(taken)
	age := lib.age_seconds(t)
	age > lib.max_observed_age
	f := lib.finding("unstable/stale-observation", c, sprintf("%s removes members but the observed state of %s is %s old (taken %s); the limit is %s", [c.id, lib.group_name(c), lib.human_duration(age), t, lib.human_duration(lib.max_observed_age)]))
}

taken_at(t) := t if t != null

taken_at(t) := input.observed.taken_at if {
	t == null
	input.observed.taken_at != null
}
