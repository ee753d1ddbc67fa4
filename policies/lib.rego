# Shared helpers for the built-in rules: what counts as a scale-down, which groups need a
# quorum, and the worst-case arithmetic. Plain Rego v1; runs unchanged in OPA.
package quorate.lib

# ---------------------------------------------------------------- configuration

default stabilization_window := 600

stabilization_window := data.quorate.config.stabilization_window

default max_observed_age := 900

max_observed_age := data.quorate.config.max_observed_age

now_ns := time.parse_rfc3339_ns(input.now)

# ---------------------------------------------------------------- what a change does

is_num(x) if is_number(x)

capacity_drops(c) if {
	is_num(c.capacity.before)
	is_num(c.capacity.after)
	c.capacity.after < c.capacity.before
}

voters_drop(c) if {
	is_num(c.voters.before)
	is_num(c.voters.after)
	c.voters.after < c.voters.before
}

# A change removes members when it shrinks a count, deletes or replaces the resource, or
# names members it removes. Scale-ups and creates do not.
removes_members(c) if capacity_drops(c)

removes_members(c) if voters_drop(c)

removes_members(c) if count(c.members_removed) > 0

removes_members(c) if c.action in {"delete", "replace"}

# Changes that shrink a group, one per group for count/for_each instances (the first
# removing instance speaks for its group, so a group gets one finding, not one per member).
scale_downs contains c if {
	some c in input.changes
	removes_members(c)
	c.capacity != null
}

scale_downs contains c if {
	some c in input.changes
	removes_members(c)
	c.capacity == null
	ids := [x.id | some x in input.changes; x.group == c.group; x.capacity == null; removes_members(x)]
	c.id == min(ids)
}

# ---------------------------------------------------------------- groups

observed(c) := input.observed.groups[c.group]

members(c) := observed(c).members

# Members the provider counts toward its size: everything not already gone.
counted_members(c) := [m | some m in members(c); not m.state in {"terminated"}]

serving(m) if {
	m.state == "running"
	m.healthy == true
}

healthy_members(c) := [m | some m in members(c); serving(m)]

transitional := {"pending", "terminating", "stopping"}

in_transition(c) := [m | some m in members(c); m.state in transitional]

# Quorum declared for the change's group: config, then the resource's label/tag, then what
# the observed state says, then well-known voter counts (dedicated masters).
quorum_spec(c) := q if {
	q := data.quorate.config.groups[c.group].quorum
	q != null
} else := q if {
	q := c.labels["quorate.dev/quorum"]
} else := q if {
	q := observed(c).quorum.mode
	q == "majority"
} else := q if {
	q := observed(c).quorum.min
	is_num(q)
} else := "majority" if {
	is_num(c.voters.before)
}

is_quorum_group(c) if quorum_spec(c)

# Healthy voters required with `n` voters.
required(spec, n) := (floor(n / 2) + 1) if lower(sprintf("%v", [spec])) == "majority"

required(spec, _) := spec if is_num(spec)

required(spec, _) := to_number(spec) if {
	is_string(spec)
	regex.match(`^[0-9]+$`, spec)
}

# ---------------------------------------------------------------- worst-case arithmetic

# Voter-count changes (dedicated masters) are judged on the voters; everything else on capacity.
uses_voters(c) if voters_drop(c)

uses_voters(c) if {
	not is_num(c.capacity.after)
	is_num(c.voters.after)
}

# Size after the change.
size_after(c) := c.voters.after if uses_voters(c)

size_after(c) := 0 if {
	not uses_voters(c)
	c.action == "delete"
	c.capacity != null
}

size_after(c) := c.capacity.after if {
	not uses_voters(c)
	c.action != "delete"
	is_num(c.capacity.after)
}

size_after(c) := member_group_size(c) - count(group_removed(c)) if {
	not uses_voters(c)
	c.capacity == null
}

# Size before, as the provider sees it: observed members it counts, else the plan's number.
has_members(c) if count(observed(c).members) > 0

size_before(c) := c.voters.before if uses_voters(c)

size_before(c) := count(counted_members(c)) if {
	not uses_voters(c)
	has_members(c)
}

size_before(c) := plan_size_before(c) if {
	not uses_voters(c)
	not has_members(c)
}

plan_size_before(c) := c.voters.before if uses_voters(c)

plan_size_before(c) := c.capacity.before if {
	not uses_voters(c)
	is_num(c.capacity.before)
}

plan_size_before(c) := member_group_size(c) if {
	not uses_voters(c)
	c.capacity == null
}

# Count/for_each groups: every instance is a change of its own.
group_changes(c) := [x | some x in input.changes; x.group == c.group]

member_group_size(c) := count([x | some x in group_changes(c); x.before != null])

group_removed(c) := {m | some x in group_changes(c); some m in x.members_removed}

# Members that vote: those flagged as voters when the source says, else all of them.
voter_flags(c) := [m | some m in members(c); m.voter == true]

healthy_voters(c) := [m | some m in voter_flags(c); serving(m)] if count(voter_flags(c)) > 0

healthy_voters(c) := healthy_members(c) if count(voter_flags(c)) == 0

# Healthy voters now: observed serving members, else (no observation) the plan's count.
healthy_now(c) := count(healthy_voters(c)) if has_members(c)

healthy_now(c) := plan_size_before(c) if not has_members(c)

# The provider may remove the healthy members first: every removal is a healthy one.
removals(c) := max([0, size_before(c) - size_after(c)])

healthy_after(c) := healthy_now(c) - removals(c)

# Voters after the change: the explicit voter count when the resource has one.
voters_after(c) := c.voters.after if is_num(c.voters.after)

voters_after(c) := size_after(c) if not is_num(c.voters.after)

voters_before(c) := c.voters.before if is_num(c.voters.after)

voters_before(c) := plan_size_before(c) if not is_num(c.voters.after)

# ---------------------------------------------------------------- findings

# Where a change's count lives, for pointing at the line.
attribute(c) := c.voters.attribute if uses_voters(c)

attribute(c) := c.capacity.attribute if {
	not uses_voters(c)
	c.capacity.attribute
}

attribute(c) := "" if {
	not uses_voters(c)
	not c.capacity.attribute
}

finding(rule, c, msg) := {
	"rule": rule,
	"msg": msg,
	"change": c.id,
	"group": c.group,
	"attribute": attribute(c),
}

age_seconds(t) := (now_ns - time.parse_rfc3339_ns(t)) / 1000000000

human_duration(s) := sprintf("%dh%02dm", [floor(s / 3600), floor((s % 3600) / 60)]) if s >= 3600

human_duration(s) := sprintf("%dm%02ds", [floor(s / 60), floor(s % 60)]) if {
	s < 3600
	s >= 60
}

human_duration(s) := sprintf("%ds", [floor(s)]) if s < 60
