# quorum/: after the change, in the worst case, a quorum group must keep enough healthy
# voters; no change may remove every member of a group that needs them, nor more than one
# voter at a time. The numbers come from the effects step (`changes[i].effect`).
package quorate.quorum

import data.quorate.lib

protected_note(n) := sprintf(" (%d protected from scale-in)", [n]) if n > 0

protected_note(n) := "" if n == 0

# What the worst case had to keep, in words: which configuration binds, or the PDB.
describe_required(e) := sprintf("a majority of the old %d voters (%d): the change is committed by the old configuration", [e.members_before, e.quorum.required]) if {
	e.quorum.spec == "majority"
	e.quorum.required == e.quorum.required_before
	e.quorum.required_before != e.quorum.required_after
} else := sprintf("a majority of %d (%d)", [e.members_after, e.quorum.required]) if {
	e.quorum.spec == "majority"
} else := sprintf("the %d that %s keeps available at the current size of %d (it allows %d disruptions at once)", [e.quorum.min, e.quorum.source, e.members_before, e.quorum.allowed_disruptions]) if {
	e.quorum.spec == "pdb"
	e.quorum.required == e.quorum.min
} else := sprintf("a majority of the old %d voters (%d): the change is committed by the old configuration", [e.members_before, e.quorum.required]) if {
	e.quorum.voting == true
	e.quorum.required == e.quorum.required_before
} else := sprintf("its quorum of %d (%s)", [e.quorum.required, e.quorum.source])

# How the removals are counted: exactly (named members, StatefulSet ordinals) or worst case.
describe_removals(e) := sprintf("%s go: %d healthy -> %d healthy", [concat(", ", e.removed.ids), e.healthy_now, e.healthy_after]) if {
	e.removed.exact
	count(e.removed.ids) > 0
} else := sprintf("%d healthy - %d removals = %d healthy%s", [e.healthy_now, e.removed.count, max([e.healthy_after, 0]), protected_note(e.protected)])

# METADATA
# title: Below quorum in the worst case
# description: After the change, if the provider removes healthy members first (or exactly the members it will remove, where that is known), the group keeps fewer healthy voters than its quorum.
# custom:
#   id: quorum/below-quorum
#   severity: deny
#   why: >-
#     Providers do not promise to remove the unhealthy members: AWS picks by AZ balance and
#     launch template age. Counting removals against healthy members is the only bound that
#     holds, and a quorum group below quorum stops accepting writes (or loses data). A
#     majority must hold in the old configuration too, since it commits the change; a
#     PodDisruptionBudget is judged at the current size, as the eviction API judges it.
#   example: >-
#     6 members, 3 of them Terminating; desired 6 -> 3 removes 3 more. Worst case:
#     3 healthy - 3 removals = 0 healthy, below a majority of 3 (2).
#   fix: >-
#     Scale down one member at a time, each step after the group is stable and healthy, or
#     replace unhealthy members before removing any.
deny contains f if {
	some i in lib.scale_down_index
	c := input.changes[i]
	e := c.effect
	e.role == "quorum"
	is_number(e.quorum.required)
	is_number(e.healthy_after)
	e.healthy_after < e.quorum.required
	f := lib.finding("quorum/below-quorum", c, sprintf("%s leaves %s below quorum in the worst case: %s, below %s%s", [c.id, lib.group_name(c), describe_removals(e), describe_required(e), lib.notes(c)]))
}

# METADATA
# title: Removes every member
# description: >-
#   The change scales a group to zero, deletes it, or replaces it delete-first. Deny for groups
#   that need members (a quorum from config, label, PDB, voters or a known consensus system);
#   warn for other serving groups (an undeclared ASG, ECS service, Deployment). Resources that
#   are not members of a serving group (DNS records, IAM users, objects) are not judged.
# custom:
#   id: quorum/removes-all-members
#   severity: deny
#   why: >-
#     Zero members is an outage, whatever the health of the group before. Terraform's default
#     replace destroys the old resource before it creates the new one, so a renamed Auto
#     Scaling group loses every instance first.
#   example: >-
#     desired_capacity 3 -> 0 on a declared quorum group, or a rename of the search cluster's
#     Auto Scaling group without create_before_destroy.
#   fix: >-
#     If the service is really being retired, waive this rule for the change with a reason and
#     an expiry; for a replace, set create_before_destroy; otherwise keep a quorum of members.
deny contains f if {
	some f in removes_all
	f.role == "quorum"
}

warn contains f if {
	some f in removes_all
	f.role == "capacity"
}

removes_all contains object.union(lib.finding("quorum/removes-all-members", c, msg), {"role": e.role}) if {
	some i in lib.removing_index
	c := input.changes[i]
	e := c.effect
	e.members_min == 0
	e.members_before > 0
	msg := removes_all_message(c, e)
}

removes_all_message(c, e) := sprintf("%s replaces %s delete-first: all %d members are destroyed before the new group is created (set create_before_destroy)", [c.id, lib.group_name(c), e.members_before]) if {
	e.order == "delete-first"
} else := sprintf("%s removes every member of %s (%d -> 0)%s", [c.id, lib.group_name(c), e.members_before, need(e)])

need(e) := sprintf("; it needs %d healthy (%s)", [e.quorum.required_before, e.quorum.source]) if {
	e.role == "quorum"
	is_number(e.quorum.required_before)
} else := "; no quorum is declared for it, so this is a warning" if {
	e.role == "capacity"
} else := ""

# METADATA
# title: More than one voter at once
# description: The change removes more than one voter of a majority-quorum group in one step.
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
	e := c.effect
	e.quorum.voting == true
	e.order == "in-place"
	e.removed.count > 1
	f := lib.finding("quorum/multiple-voters-at-once", c, sprintf("%s removes %d voters of %s at once (%d -> %d)", [c.id, e.removed.count, lib.group_name(c), e.members_before, e.members_after]))
}

# METADATA
# title: Replaced before the new members serve
# description: A quorum group is replaced create-first (create_before_destroy); its old members are destroyed once the new group exists, but nothing waits for the new members to serve.
# custom:
#   id: quorum/replace-before-healthy
#   severity: warn
#   why: >-
#     create_before_destroy keeps capacity during the replace, but Terraform only waits for the
#     new resource to exist (an Auto Scaling group: for its instances to be InService), not for
#     them to join the cluster; destroying the old members then can leave no voter that serves.
#   example: The search cluster's Auto Scaling group is renamed with create_before_destroy.
#   fix: >-
#     Add the new members first and let them join (or replicate), then retire the old group
#     in a later change; or gate the apply on the new group's health.
warn contains f if {
	some c in input.changes
	e := c.effect
	e.role == "quorum"
	e.order == "create-first"
	e.members_before > 0
	f := lib.finding("quorum/replace-before-healthy", c, sprintf("%s (%d members of %s, a quorum group)", [concat("; ", e.notes), e.members_before, lib.group_name(c)]))
}

# METADATA
# title: Capacity unknown until apply
# description: The new member count of a group is only known after apply.
# custom:
#   id: quorum/unknown-capacity
#   severity: warn
#   why: quorate cannot bound the worst case of a number it cannot see; Terraform will decide it during apply.
#   example: desired_capacity = var.size where var.size comes from another resource's output.
#   fix: Make the count a known value in the plan (a variable or literal), or review the applied value by hand.
warn contains f if {
	some c in input.changes
	c.effect != null
	some count_of in [c.capacity, c.voters]
	count_of.unknown == true
	f := lib.finding("quorum/unknown-capacity", c, sprintf("%s: %s is unknown until apply, so the quorum of %s cannot be checked", [c.id, count_of.attribute, lib.group_name(c)]))
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
	some i in lib.growing_index
	c := input.changes[i]
	e := c.effect
	e.quorum.voting == true
	e.members_after % 2 == 0
	msg := sprintf("%s grows %s to %d voters; an even count tolerates no more failures than %d", [c.id, lib.group_name(c), e.members_after, e.members_after - 1])
	f := lib.finding("quorum/even-voters", c, msg)
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
	e := c.effect
	e.role == "quorum"
	e.observed == false
	f := lib.finding("quorum/unverified-health", c, sprintf("%s shrinks %s, a quorum group, but %s; members are assumed healthy", [c.id, lib.group_name(c), unobserved(c)]))
}

unobserved(c) := sprintf("the observed state has no members of %s", [c.group]) if {
	some g in input.observed.groups
	count(g.members) > 0
} else := "no observed state was given"
