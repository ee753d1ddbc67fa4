# A team rule over quorate's normalized change set: packages under `quorate.` see `input`
# as `quorate check --emit-input` prints it.
package quorate.acme.capacity

# METADATA
# title: Fewer than two members
# description: A scaling group would run with fewer than two members after the change.
# custom:
#   id: acme/min-capacity
#   severity: deny
#   why: One member is a single point of failure.
#   example: desired_capacity 3 -> 1
#   fix: Keep at least two members, or delete the group on purpose with a waiver.
deny contains f if {
	some c in input.changes
	c.capacity.after != null
	c.capacity.after < 2
	c.capacity.after > 0
	f := {
		"rule": "acme/min-capacity",
		"msg": sprintf("%s would run %d member(s), fewer than 2", [c.id, c.capacity.after]),
		"change": c.id,
		"group": c.group,
		"attribute": c.capacity.attribute,
	}
}
