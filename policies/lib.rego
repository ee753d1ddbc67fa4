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

# Whether a count is known after the change. Test these with `not capacity_known(c)`, never
# `not is_num(c.capacity.after)`: OPA evaluates a call's arguments outside the `not`, so with
# c.capacity null the latter is undefined in OPA (while regorus takes it as true).
capacity_known(c) if is_num(c.capacity.after)

voters_known(c) if is_num(c.voters.after)

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

# Changes that remove members (see removes_members), found in one pass per condition with no
# function call per change: most changes of a large plan remove nothing.
removing_index contains i if {
	some i, c in input.changes
	is_number(c.capacity.before)
	is_number(c.capacity.after)
	c.capacity.after < c.capacity.before
}

removing_index contains i if {
	some i, c in input.changes
	is_number(c.voters.before)
	is_number(c.voters.after)
	c.voters.after < c.voters.before
}

removing_index contains i if {
	some i, c in input.changes
	count(c.members_removed) > 0
}

removing_index contains i if {
	some i, c in input.changes
	c.action in {"delete", "replace"}
}

# Changes that shrink a group, one per group for count/for_each instances (the first
# removing instance speaks for its group, so a group gets one finding, not one per member).
# Kept as indexes into input.changes: sets of whole change objects are costly to build.
scale_down_index contains i if {
	some i in removing_index
	input.changes[i].capacity != null
}

scale_down_index contains i if {
	some i in removing_index
	c := input.changes[i]
	c.capacity == null
	is_member_of_group(c)
	c.id == first_removing_id(c)
}

first_removing_id(c) := first_removing[c.group] if c.group in instance_groups

first_removing_id(c) := min([x.id | some x in group_changes(c); x.capacity == null; removes_members(x)]) if {
	not c.group in instance_groups
}

# Per count/for_each group, the id of its first instance without a count that removes members.
first_removing[g] := min(ids) if {
	some g, indexes in indexes_by_group
	removing := removing_index
	ids := [x.id | some i in indexes; i in removing; x := input.changes[i]; x.capacity == null]
	count(ids) > 0
}

scale_downs contains input.changes[i] if some i in scale_down_index

# What the rules need to know about each scale-down, computed once per change: rules are
# evaluated once, functions on every call. Values that do not apply are null.
facts[i] := {
	"quorum": spec_or_null(c),
	"size_before": before,
	"size_after": after,
	"healthy_now": now,
	"healthy_after": healthy_after_or_null(now, removed, protected),
	"removals": removed,
	"protected": protected,
	"has_members": has_members_bool(c),
} if {
	some i in scale_down_index
	c := input.changes[i]
	before := size_before_or_null(c)
	after := size_after_or_null(c)
	now := healthy_now_or_null(c)
	removed := removals_or_null(before, after, c)
	protected := protected_healthy(c)
}

spec_or_null(c) := s if s := quorum_spec(c)
else := null

size_after_or_null(c) := n if n := size_after(c)
else := null

healthy_now_or_null(c) := n if n := healthy_now(c)
else := null

healthy_after_or_null(now, removed, protected) := healthy_after_of(now, removed, protected) if {
	is_number(now)
	is_number(removed)
} else := null

removals_or_null(before, after, c) := removals_of(before, after, c) if {
	is_number(before)
	is_number(after)
} else := null

size_before_or_null(c) := n if n := size_before(c)
else := null

has_members_bool(c) if has_members(c)
else := false

# A resource without a count is a member of a group when it is one of count/for_each
# instances (its group is its address without the index) or declared a quorum group.
# Deleting a lone bucket or DNS record is not a scale-down.
is_member_of_group(c) if c.group != c.id

is_member_of_group(c) if is_quorum_group(c)

# ---------------------------------------------------------------- groups

observed(c) := input.observed.groups[c.group]

members(c) := observed(c).members

# Members the provider counts toward its size: everything not already gone.
counted_members(c) := [m | some m in members(c); not m.state in {"terminated"}]

serving(m) if {
	m.state == "running"
	m.healthy == true
}

healthy_members(c) := [m | some m in members(c); m.state == "running"; m.healthy == true]

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
} else := "majority" if {
	consensus_workload(c)
}

# Well-known consensus systems run as StatefulSets need a majority without any declaration.
consensus_images := `(^|/)(etcd|zookeeper|consul|vault|rabbitmq|nats)(:|@|$)`

consensus_workload(c) if {
	endswith(c.type, "/StatefulSet")
	some obj in [c.after, c.before]
	is_object(obj)
	some container in object.get(obj, ["spec", "template", "spec", "containers"], [])
	regex.match(consensus_images, container.image)
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
# Resources with a distinct voter count (dedicated masters) are judged on their voters:
# their other members (data nodes) do not vote.
# (The helpers below are else-chains: the first branch that holds decides, and the later
# ones are not evaluated at all, which matters on plans with thousands of changes.)
uses_voters(c) if {
	is_number(c.voters.before)
} else := true if {
	is_number(c.voters.after)
}

# Size after the change.
size_after(c) := c.voters.after if {
	uses_voters(c)
} else := 0 if {
	c.action == "delete"
	c.capacity != null
} else := c.capacity.after if {
	c.action != "delete"
	is_number(c.capacity.after)
} else := member_group_size(c) - count(group_removed(c)) if {
	c.capacity == null
}

# Size before, as the provider sees it: observed members it counts, else the plan's number.
has_members(c) if count(observed(c).members) > 0

size_before(c) := c.voters.before if {
	uses_voters(c)
} else := count(counted_members(c)) if {
	has_members(c)
} else := plan_size_before(c)

plan_size_before(c) := c.voters.before if {
	uses_voters(c)
} else := c.capacity.before if {
	is_number(c.capacity.before)
} else := member_group_size(c) if {
	c.capacity == null
}

# Count/for_each groups: every instance is a change of its own.
# Groups of count/for_each instances, indexed once (rules are cached, functions are not).
instance_groups contains c.group if {
	some c in input.changes
	c.capacity == null
	c.group != c.id
}

# The instances' [group, index] pairs sorted, so each group is one run: one sort instead of
# one scan of every change per group.
instance_pairs := sort([[c.group, i] | some i, c in input.changes; c.group in instance_groups])

instance_run_starts := run_starts(instance_pairs)

# Where each run of equal keys starts in sorted [key, ...] pairs: where the key differs from
# the one before (the first pair follows a null key). No function call per pair.
# (`before := previous[k]; before[0]`, not `previous[k][0]`: regorus handles a chained index
# on a computed element by building and dropping an error value every time.)
run_starts(pairs) := [k | some k, p in pairs; before := previous[k]; before[0] != p[0]] if {
	previous := array.concat([[null]], pairs)
}

run_end(starts, j, _) := starts[j + 1] if j + 1 < count(starts)

run_end(starts, j, n) := n if j + 1 == count(starts)

indexes_by_group[g] := [p[1] | some p in array.slice(instance_pairs, start, end)] if {
	some j, start in instance_run_starts
	first := instance_pairs[start]
	g := first[0]
	end := run_end(instance_run_starts, j, count(instance_pairs))
}

changes_by_group[g] := [input.changes[i] | some i in indexes] if some g, indexes in indexes_by_group

group_changes(c) := changes_by_group[c.group] if {
	c.group in instance_groups
} else := [x | some x in input.changes; x.group == c.group]

member_group_size(c) := count([x | some x in group_changes(c); x.before != null])

# Members the group's changes remove: the ids they name, else the instance itself when a
# delete or replace names none (a resource without id/arn/name in its state).
group_removed(c) := {m | some x in group_changes(c); some m in removed_by(x)}

removed_by(x) := x.members_removed if count(x.members_removed) > 0

removed_by(x) := [x.id] if {
	count(x.members_removed) == 0
	x.action in {"delete", "replace"}
}

# Members that vote: those flagged as voters when the source says, else all of them.
voter_flags(c) := [m | some m in members(c); m.voter == true]

# (serving(m), inlined.)
healthy_voters(c) := [m | some m in flags; m.state == "running"; m.healthy == true] if {
	flags := voter_flags(c)
	count(flags) > 0
} else := healthy_members(c)

# Healthy voters now: observed serving members, else (no observation) the plan's count.
healthy_now(c) := count(healthy_voters(c)) if {
	has_members(c)
} else := plan_size_before(c)

# The provider may remove the healthy members first: every removal is a healthy one.
# A change that names the members it removes while the count stays (a pod deleted or evicted
# at admission: its workload replaces it) removes those members meanwhile.
removals(c) := removals_of(size_before(c), size_after(c), c)

removals_of(before, after, c) := max([0, before - after, count(c.members_removed)])

# Members protected from scale-in (ProtectedFromScaleIn) cannot be picked by the provider,
# so the worst case removes only unprotected healthy members.
protected_healthy(c) := count([m | some m in healthy_voters(c); m.protected == true]) if {
	has_members(c)
} else := 0

healthy_after(c) := healthy_after_of(healthy_now(c), removals(c), protected_healthy(c))

healthy_after_of(now, removed, protected) := now - min([removed, now - protected])

# Voters after the change: the explicit voter count when the resource has one.
voters_after(c) := c.voters.after if {
	voters_known(c)
} else := size_after(c)

voters_before(c) := c.voters.before if {
	voters_known(c)
} else := plan_size_before(c)

# Where the voter count lives, for pointing at the line: the explicit voter attribute when
# the resource has one, else where its member count lives.
voters_attribute(c) := c.voters.attribute if voters_known(c)

voters_attribute(c) := attribute(c) if not voters_known(c)

# ---------------------------------------------------------------- findings

# Where a change's count lives, for pointing at the line: the voters when they drop, else
# the member count, else the voters.
attribute(c) := c.voters.attribute if voters_drop(c)

attribute(c) := c.capacity.attribute if {
	not voters_drop(c)
	c.capacity.attribute
}

attribute(c) := c.voters.attribute if {
	not voters_drop(c)
	not c.capacity.attribute
	c.voters.attribute
}

attribute(c) := "" if {
	not c.capacity.attribute
	not c.voters.attribute
}

# How messages name a change's group: Kubernetes workloads are their own group.
group_name(c) := "its group" if c.group == c.id

group_name(c) := c.group if c.group != c.id

finding(rule, c, msg) := {
	"rule": rule,
	"msg": msg,
	"change": c.id,
	"group": c.group,
	"attribute": attribute(c),
}

age_seconds(t) := (now_ns - time.parse_rfc3339_ns(t)) / 1000000000

# Whole seconds before `%`: provider timestamps carry fractions of a second, and modulo on a
# non-integer is an error in OPA and regorus alike.
human_duration(s) := sprintf("%dh%02dm", [floor(s / 3600), floor((floor(s) % 3600) / 60)]) if s >= 3600

human_duration(s) := sprintf("%dm%02ds", [floor(s / 60), floor(s) % 60]) if {
	s < 3600
	s >= 60
}

human_duration(s) := sprintf("%ds", [floor(s)]) if s < 60
