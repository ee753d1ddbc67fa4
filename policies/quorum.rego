# quorum/: after the change, in the worst case, a quorum group must keep enough healthy
# voters; no change may remove every member or more than one voter at a time.
package quorate.quorum

import data.quorate.lib

protected_note(n) := sprintf(" (%d protected from scale-in)", [n]) if n > 0

protected_note(n) := "" if n == 0

describe_required(spec, n) := sprintf("a majority of %d (%d)", [n, lib.required(spec, n)]) if {
	lower(sprintf("%v", [spec])) == "majority"
}

describe_required(spec, n) := sprintf("its quorum of %v", [spec]) if {
	lower(sprintf("%v", [spec])) != "majority"
}

# METADATA
# title: Below quorum in the worst case
# description: After the change, if the provider removes healthy members first, the group keeps fewer healthy voters than its quorum.
# custom:
#   id: quorum/below-quorum
#   severity: deny
#   why: >-
#     Providers do not promise to remove the unhealthy members: AWS picks by AZ balance and
#     launch template age. Counting removals against healthy members is the only bound that
#     holds, and a quorum group below quorum stops accepting writes (or loses data).
#   example: >-
#     6 members, 3 of them Terminating; desired 6 -> 3 removes 3 more. Worst case:
#     3 healthy - 3 removals = 0 healthy, below a majority of 3 (2).
#   fix: >-
#     Scale down one member at a time, each step after the group is stable and healthy, or
#     replace unhealthy members before removing any.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	x := lib.facts[i]
	spec := x.quorum
	spec != null
	after := x.size_after
	is_number(after)
	after > 0
	need := lib.required(spec, after)
	left := x.healthy_after
	is_number(left)
	left < need
	f := lib.finding("quorum/below-quorum", c, sprintf("%s leaves %s below quorum in the worst case: %d healthy - %d removals = %d healthy%s, below %s", [c.id, lib.group_name(c), x.healthy_now, x.removals, max([left, 0]), protected_note(x.protected), describe_required(spec, after)]))
}

# METADATA
# title: Removes every member
# description: The change scales a group to zero or deletes it.
# custom:
#   id: quorum/removes-all-members
#   severity: deny
#   why: Zero members is an outage, whatever the health of the group before.
#   example: desired_capacity 3 -> 0, or destroying the Auto Scaling group of a search cluster.
#   fix: >-
#     If the service is really being retired, waive this rule for the change with a reason and
#     an expiry; otherwise keep at least a quorum of members.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	x := lib.facts[i]
	x.size_after == 0
	is_number(x.size_before)
	x.size_before > 0
	f := lib.finding("quorum/removes-all-members", c, sprintf("%s removes every member of %s (%d -> 0)", [c.id, lib.group_name(c), x.size_before]))
}

# METADATA
# title: More than one voter at once
# description: The change removes more than one member of a quorum group in one step.
# custom:
#   id: quorum/multiple-voters-at-once
#   severity: deny
#   why: >-
#     Consensus systems (etcd, ZooKeeper, Elasticsearch masters, Kafka controllers) must shrink
#     their voting configuration one member at a time; removing two at once can leave the old
#     and new configurations without a common majority.
#   example: dedicated_master_count 5 -> 3, or an etcd StatefulSet 5 -> 3 replicas.
#   fix: Remove one voter, wait until the group is stable and healthy, then remove the next.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	x := lib.facts[i]
	x.quorum != null
	is_number(x.size_after)
	is_number(x.size_before)
	is_number(x.removals)
	n := max([x.removals, x.size_before - x.size_after])
	n > 1
	x.size_after > 0
	f := lib.finding("quorum/multiple-voters-at-once", c, sprintf("%s removes %d voters of %s at once (%d -> %d)", [c.id, n, lib.group_name(c), x.size_before, x.size_after]))
}

# METADATA
# title: Capacity unknown until apply
# description: The new member count of a quorum-relevant resource is only known after apply.
# custom:
#   id: quorum/unknown-capacity
#   severity: warn
#   why: quorate cannot bound the worst case of a number it cannot see; Terraform will decide it during apply.
#   example: desired_capacity = var.size where var.size comes from another resource's output.
#   fix: Make the count a known value in the plan (a variable or literal), or review the applied value by hand.
warn contains f if {
	some c in input.changes
	c.capacity.unknown == true
	f := lib.finding("quorum/unknown-capacity", c, sprintf("%s: %s is unknown until apply, so the quorum of %s cannot be checked", [c.id, c.capacity.attribute, lib.group_name(c)]))
}

warn contains f if {
	some c in input.changes
	c.voters.unknown == true
	f := lib.finding("quorum/unknown-capacity", c, sprintf("%s: %s is unknown until apply, so the quorum of %s cannot be checked", [c.id, c.voters.attribute, lib.group_name(c)]))
}

# METADATA
# title: Even number of voters
# description: The change grows a majority-quorum group to an even number of voters.
# custom:
#   id: quorum/even-voters
#   severity: warn
#   why: >-
#     With majority quorum, 4 voters tolerate one failure, like 3; the fourth adds cost and a
#     split-brain-prone tie, not resilience.
#   example: dedicated_master_count 3 -> 4, or an etcd cluster scaled from 3 to 4.
#   fix: Use an odd number of voters (3, 5, 7).
warn contains f if {
	some i in growing_index
	c := input.changes[i]
	lib.is_quorum_group(c)
	lower(sprintf("%v", [lib.quorum_spec(c)])) == "majority"
	after := lib.voters_after(c)
	after > 0
	after % 2 == 0
	# Scale-downs pass through even counts on the way (5 -> 4 -> 3); growing to one does not.
	after > lib.voters_before(c)
	msg := sprintf("%s grows %s to %d voters; an even count tolerates no more failures than %d", [c.id, lib.group_name(c), after, after - 1])
	f := object.union(lib.finding("quorum/even-voters", c, msg), {"attribute": lib.voters_attribute(c)})
}

# METADATA
# title: Scale-down of a quorum group without observed state
# description: A quorum group shrinks and quorate was given no live state for it.
# custom:
#   id: quorum/unverified-health
#   severity: warn
#   why: >-
#     Without observed state the check assumes every member is healthy and stable, which is
#     exactly the assumption that failed in the outages quorate exists to stop.
#   example: quorate check plan.json with no --observed for the group being scaled down.
#   fix: Pass the live state with --observed (kubectl get statefulsets,deployments,pods,poddisruptionbudgets -A -o json, or aws autoscaling describe-auto-scaling-groups output).
warn contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	x := lib.facts[i]
	x.quorum != null
	x.has_members == false
	f := lib.finding("quorum/unverified-health", c, sprintf("%s shrinks %s, a quorum group, but no observed state was given for it; members are assumed healthy", [c.id, lib.group_name(c)]))
}

# Changes whose voter or member count grows: the only ones even-voters can flag (a count/for_each
# group never grows by an instance's change: its size after is its size before less removals).
# One pass with no function call per change, so the quorum lookups run only for these.
growing_index contains i if {
	some i, c in input.changes
	is_number(c.voters.after)
	c.voters.after > c.voters.before
}

growing_index contains i if {
	some i, c in input.changes
	is_number(c.capacity.after)
	c.capacity.after > c.capacity.before
}
