# drift/: the live infrastructure was changed by hand and the change never reached the
# source of truth. A change planned against a drifted baseline does something nobody reviewed.
package quorate.drift

import data.quorate.lib

# Drift entries by address, for one finding per resource. Admission-actor drift (someone
# changing a GitOps-managed object by hand) has a rule of its own below.
baseline_drift := [d | some d in input.drift; d.source != "admission-actor"]

drifted_addresses contains d.address if some d in baseline_drift

# The entries' [address, index] pairs sorted, so each address is one run: one sort instead of
# one scan of every entry per address.
drift_pairs := sort([[d.address, i] | some i, d in baseline_drift])

drift_run_starts := lib.run_starts(drift_pairs)

entries_by_address[address] := [baseline_drift[p[1]] | some p in array.slice(drift_pairs, start, end)] if {
	some j, start in drift_run_starts
	first := drift_pairs[start]
	address := first[0]
	end := lib.run_end(drift_run_starts, j, count(drift_pairs))
}

entries(address) := entries_by_address[address]

# Values as short text: whole blocks would drown the message.
short(v) := shortened(json.marshal(v))

shortened(s) := s if {
	count(s) <= 40
} else := concat("", [substring(s, 0, 37), "..."])

# Where the reviewed state lives, by drift source.
truth(d) := "Terraform" if {
	d.source == "terraform-resource-drift"
} else := "its committed manifest" if {
	d.source == "live-vs-committed"
} else := "GitOps" if {
	d.source == "admission-actor"
} else := "its source of truth"

committed_word(d) := "in state" if {
	d.source == "terraform-resource-drift"
} else := "committed"

describe(d) := sprintf("%s is %s live but %s %s", [d.attribute, short(d.live), short(d.committed), committed_word(d)]) if {
	d.attribute != ""
} else := d.live if {
	d.attribute == ""
	is_string(d.live)
} else := "no attribute difference Terraform shows (sensitive or normalized values)" if {
	d.attribute == ""
	d.live == null
}

summary(address) := concat("; ", [describe(d) | some d in entries(address)])

# Addresses whose drift touches a member or voter count (or an attribute the config names):
# the outage's pattern. Other drift the change overrides is a warning.
count_drift contains d.address if {
	some d in baseline_drift
	d.class != "other"
}

# Only the entries that decide the verdict, in the message.
deciding(address) := [d | some d in entries(address); d.class != "other"]

# METADATA
# title: Change planned on top of drift
# description: >-
#   The change touches a resource whose member or voter count (or an attribute listed in
#   drift.deny_attributes) was changed outside its source of truth.
# custom:
#   id: drift/change-on-drifted-resource
#   severity: deny
#   why: >-
#     The plan was computed from the drifted live state, so it does something nobody reviewed:
#     an Auto Scaling group scaled 6 by hand and "scaled to 3" in code removes three members,
#     while the diff shows only a one-line edit.
#   example: >-
#     resource_drift shows desired_capacity 3 -> 6 for aws_autoscaling_group.search, and the
#     plan updates the same group.
#   fix: >-
#     Reconcile first: commit the live value (or revert the live change) so the plan starts from
#     a reviewed baseline, then make the intended change as its own step.
deny contains f if {
	some address in count_drift
	d := deciding(address)[0]
	d.change != null
	f := {
		"rule": "drift/change-on-drifted-resource",
		"msg": sprintf("%s was changed outside %s (%s) and this change touches it again", [d.change, truth(d), concat("; ", [describe(x) | some x in deciding(address)])]),
		"change": d.change,
		"group": d.group,
		"path": d.origin.path,
		"pointer": d.origin.pointer,
	}
}

# METADATA
# title: Change overrides a manual change
# description: >-
#   The change touches a resource that was changed outside its source of truth, on attributes
#   that do not decide its member count (tags, strings, settings): applying it sets them back.
# custom:
#   id: drift/overrides-manual-change
#   severity: warn
#   why: >-
#     Somebody changed the resource by hand, perhaps to fix an incident; the apply silently
#     reverts it. That is usually what the code intends, but the person who made the change
#     should know.
#   example: resource_drift shows a tag changed by hand and the plan updates the same resource.
#   fix: >-
#     Confirm the hand-made change may go (or commit it to code first); add the attribute to
#     drift.deny_attributes in quorate.yaml to make such changes a denial.
warn contains f if {
	some address in drifted_addresses
	not address in count_drift
	d := entries(address)[0]
	d.change != null
	f := {
		"rule": "drift/overrides-manual-change",
		"msg": sprintf("%s was changed outside %s (%s); applying this change sets it back", [d.change, truth(d), summary(address)]),
		"change": d.change,
		"group": d.group,
		"path": d.origin.path,
		"pointer": d.origin.pointer,
	}
}

# METADATA
# title: Unmanaged change in live state
# description: Live state differs from the source of truth on a resource this change does not touch.
# custom:
#   id: drift/unmanaged-change
#   severity: warn
#   why: >-
#     Hand-made changes are invisible to review and get silently reverted (or silently kept) by
#     the next apply; they are how the next outage's baseline goes wrong.
#   example: resource_drift lists aws_instance.ec2 with a changed instance_type; the plan does not touch it.
#   fix: Commit the live change to code, or revert it in the live system, and say which in the PR.
warn contains f if {
	some address in drifted_addresses
	d := entries(address)[0]
	d.change == null
	f := {
		"rule": "drift/unmanaged-change",
		"msg": sprintf("%s was changed outside %s: %s", [address, truth(d), summary(address)]),
		"change": null,
		"group": d.group,
		"path": d.origin.path,
		"pointer": d.origin.pointer,
	}
}

# ---------------------------------------------------------------- admission: manual changes

default manual_change_severity := "deny"

manual_change_severity := data.quorate.config.admission.drift_severity

manager := m if {
	m := input.context.admission.managed_by
	is_string(m)
} else := "GitOps"

actor_name(c) := c.actor.username if c.actor.username != ""

actor_name(c) := "an unknown user" if not c.actor.username

actor_name(c) := "an unknown user" if c.actor.username == ""

manual_detail(d) := sprintf(" (%s %s -> %s)", [d.attribute, short(d.committed), short(d.live)]) if d.attribute != ""

manual_detail(d) := " (deletes it)" if {
	d.attribute == ""
	d.live == "deleted"
}

manual_detail(d) := "" if {
	d.attribute == ""
	d.live != "deleted"
}

manual_changes contains f if {
	some d in input.drift
	d.source == "admission-actor"
	some c in input.changes
	c.id == d.change
	f := {
		"rule": "drift/manual-change-to-managed-object",
		"msg": sprintf("%s is managed by %s, but %s is changing it directly%s: the change bypasses review and the next sync reverts it", [c.id, manager, actor_name(c), manual_detail(d)]),
		"change": c.id,
		"group": d.group,
		"path": d.origin.path,
		"pointer": d.origin.pointer,
	}
}

# METADATA
# title: Manual change to a GitOps-managed object
# description: >-
#   At admission, an object managed by Argo CD or Flux is changed by an identity that is not a
#   configured GitOps controller (gitops.controllers). Severity deny by default; warn with
#   admission.drift_severity in quorate.yaml.
# custom:
#   id: drift/manual-change-to-managed-object
#   severity: deny
#   why: >-
#     A hand-made change to a GitOps-managed object is drift the moment it lands: git no longer
#     describes what runs, the next sync silently reverts it (or, with auto-sync off, it stays
#     unreviewed), and the next planned change starts from a baseline nobody reviewed. This is how
#     the search cluster in the outage story was scaled 3 -> 6 without anyone knowing.
#   example: >-
#     kubectl scale statefulset es-master --replicas=6 by alice on a StatefulSet carrying the
#     argocd.argoproj.io/tracking-id annotation.
#   fix: >-
#     Change the manifest in git and let the GitOps controller apply it. For a deliberate
#     emergency change, waive this rule for the object with a reason and an expiry, and commit
#     the same change right after.
deny contains f if {
	manual_change_severity == "deny"
	some f in manual_changes
}

warn contains f if {
	manual_change_severity == "warn"
	some f in manual_changes
}
