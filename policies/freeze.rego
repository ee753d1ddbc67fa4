# freeze/: no change lands in an open change freeze. Which freezes are open at `input.now` is
# computed from quorate.yaml `freezes:` (RFC 3339 ranges, or cron windows in a time zone) and
# published as `input.context.freezes`; this rule only matches scopes.
package quorate.freeze

import data.quorate.lib

# A Kubernetes object's namespace, from its group `<namespace>/<Kind>/<name>`.
namespace(c) := parts[0] if {
	parts := split(c.group, "/")
	count(parts) == 3
}

unscoped(fz) if {
	count(fz.groups) == 0
	count(fz.namespaces) == 0
	count(fz.labels) == 0
}

in_scope(fz, _) if unscoped(fz)

in_scope(fz, c) if c.group in fz.groups

in_scope(fz, c) if namespace(c) in fz.namespaces

in_scope(fz, c) if {
	count(fz.labels) > 0
	every k, v in fz.labels {
		c.labels[k] == v
	}
}

applies(fz, _) if fz.scale_downs_only == false

applies(fz, c) if {
	fz.scale_downs_only == true
	c.effect.removed.count > 0
}

reason(fz) := sprintf(": %s", [fz.reason]) if fz.reason != ""

reason(fz) := "" if fz.reason == ""

# METADATA
# title: Change during a change freeze
# description: The change lands while a freeze from quorate.yaml (`freezes:`) is open, in its scope.
# custom:
#   id: freeze/change-during-freeze
#   severity: deny
#   why: >-
#     Freezes cover the times when an outage costs most or nobody is there to answer it (a
#     sales peak, a holiday, a weekend). The same definition holds in CI, in pre-commit and at
#     admission, so no path around it is left open.
#   example: >-
#     `freezes: [{name: black-friday, from: 2026-11-27T00:00:00-05:00, to: 2026-12-01T00:00:00-05:00}]`
#     and a plan that changes an Auto Scaling group on 2026-11-28.
#   fix: >-
#     Wait until the freeze ends (the message says when), or, for an emergency, waive the rule
#     for the change with a reason, an author and a short expiry (reviewed on the base revision).
deny contains f if {
	some fz in input.context.freezes
	some c in input.changes
	not c.action in {"no-op", "read"}
	in_scope(fz, c)
	applies(fz, c)
	f := lib.finding("freeze/change-during-freeze", c, sprintf("%s changes %s during the change freeze %s%s (open until %s)", [c.id, lib.group_name(c), fz.name, reason(fz), fz.until]))
}
