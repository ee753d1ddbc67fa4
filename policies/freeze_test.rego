package quorate.freeze_test

import data.quorate.freeze

freeze_of(extra) := object.union({
	"name": "black-friday",
	"reason": "peak sales",
	"from": "2026-11-27T05:00:00Z",
	"until": "2026-12-01T05:00:00Z",
	"window": {"type": "range"},
	"groups": [],
	"namespaces": [],
	"labels": {},
	"scale_downs_only": false,
}, extra)

change(id, group, action, removed) := {
	"id": id,
	"group": group,
	"action": action,
	"labels": {"tier": "critical"},
	"capacity": null,
	"voters": null,
	"effect": {"removed": {"count": removed, "ids": [], "exact": false}, "attribute": "", "notes": []},
}

input_of(freezes, changes) := {"now": "2026-11-28T12:00:00Z", "changes": changes, "context": {"freezes": freezes}}

web := change("shop/Deployment/web", "shop/Deployment/web", "update", 0)

asg := change("aws_autoscaling_group.search", "search-prod", "update", 2)

test_an_unscoped_freeze_denies_every_change if {
	fs := freeze.deny with input as input_of([freeze_of({})], [web, asg])
	count(fs) == 2
	some f in fs
	f.msg == "shop/Deployment/web changes its group during the change freeze black-friday: peak sales (open until 2026-12-01T05:00:00Z)"
}

test_no_open_freeze_no_finding if {
	count(freeze.deny) == 0 with input as input_of([], [web, asg])
	count(freeze.deny) == 0 with input as {"changes": [web], "context": {}}
}

test_no_ops_are_not_changes if {
	count(freeze.deny) == 0 with input as input_of([freeze_of({})], [object.union(web, {"action": "no-op"})])
}

test_scopes if {
	by_group := freeze_of({"groups": ["search-prod"]})
	gs := freeze.deny with input as input_of([by_group], [web, asg])
	[f] := [x | some x in gs]
	f.change == "aws_autoscaling_group.search"
	by_ns := freeze_of({"namespaces": ["shop"]})
	ns := freeze.deny with input as input_of([by_ns], [web, asg])
	[g] := [x | some x in ns]
	g.change == "shop/Deployment/web"
	by_label := freeze_of({"labels": {"tier": "critical"}})
	count(freeze.deny) == 2 with input as input_of([by_label], [web, asg])
	other_label := freeze_of({"labels": {"tier": "batch"}})
	count(freeze.deny) == 0 with input as input_of([other_label], [web, asg])
}

test_scale_downs_only if {
	fz := freeze_of({"scale_downs_only": true})
	fs := freeze.deny with input as input_of([fz], [web, asg])
	[f] := [x | some x in fs]
	f.change == "aws_autoscaling_group.search"
}
