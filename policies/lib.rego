# Shared helpers for the built-in rules. The arithmetic (effective sizes, removals, worst-case
# healthy members, quorum required) is computed by quorate's effects step and published as
# `changes[i].effect`; these helpers only select and describe. Plain Rego v1; runs in OPA.
package quorate.lib

# ---------------------------------------------------------------- configuration

default stabilization_window := 600

stabilization_window := data.quorate.config.stabilization_window

default max_observed_age := 900

max_observed_age := data.quorate.config.max_observed_age

now_ns := time.parse_rfc3339_ns(input.now)

# ---------------------------------------------------------------- what a change does

# Changes that remove members of a group, as indexes into input.changes (one per group: a
# count/for_each group's effect is carried by one of its instances).
removing_index contains i if {
	some i, c in input.changes
	c.effect.removed.count > 0
}

# Removals that leave members behind: instability and quorum are about what remains. A change
# that removes every member has a rule of its own.
scale_down_index contains i if {
	some i in removing_index
	input.changes[i].effect.members_min > 0
}

# Changes whose group grows.
growing_index contains i if {
	some i, c in input.changes
	c.effect.members_after > c.effect.members_before
}

is_quorum_group(c) if c.effect.role == "quorum"

# ---------------------------------------------------------------- groups

observed(c) := input.observed.groups[c.group]

members(c) := observed(c).members

transitional := {"pending", "terminating", "stopping"}

in_transition(c) := [m | some m in members(c); m.state in transitional]

# ---------------------------------------------------------------- findings

# Where a change's count lives, for pointing at the line: the attribute that decides the count
# (`/max_size` when it clamps), else the voters, else the member count.
attribute(c) := c.effect.attribute if {
	c.effect.attribute != ""
} else := c.voters.attribute if {
	c.voters.attribute
} else := c.capacity.attribute if {
	c.capacity.attribute
} else := ""

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

# The provider semantics that applied, as a suffix for messages.
notes(c) := sprintf(" (%s)", [concat("; ", c.effect.notes)]) if {
	count(c.effect.notes) > 0
} else := ""

age_seconds(t) := (now_ns - time.parse_rfc3339_ns(t)) / 1000000000

# Whole seconds before `%`: provider timestamps carry fractions of a second, and modulo on a
# non-integer is an error in OPA and regorus alike.
human_duration(s) := sprintf("%dh%02dm", [floor(s / 3600), floor((floor(s) % 3600) / 60)]) if s >= 3600

human_duration(s) := sprintf("%dm%02ds", [floor(s / 60), floor(s) % 60]) if {
	s < 3600
	s >= 60
}

human_duration(s) := sprintf("%ds", [floor(s)]) if s < 60

# Shared by drift's message and run index helpers: where each run of equal keys starts in
# sorted [key, ...] pairs (the first pair follows a null key). No function call per pair.
# (`before := previous[k]; before[0]`, not `previous[k][0]`: regorus handles a chained index
# on a computed element by building and dropping an error value every time.)
run_starts(pairs) := [k | some k, p in pairs; before := previous[k]; before[0] != p[0]] if {
	previous := array.concat([[null]], pairs)
}

run_end(starts, j, _) := starts[j + 1] if j + 1 < count(starts)

run_end(starts, j, n) := n if j + 1 == count(starts)
