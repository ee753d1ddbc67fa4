package quorate.acme.capacity_test

import data.quorate.acme.capacity

change(after) := {"id": "aws_autoscaling_group.web", "group": "web", "capacity": {"before": 3, "after": after, "attribute": "/desired_capacity", "unknown": false}}

test_one_member_is_denied if {
	some f in capacity.deny with input as {"changes": [change(1)]}
	f.rule == "acme/min-capacity"
}

test_two_members_are_fine if {
	count(capacity.deny) == 0 with input as {"changes": [change(2)]}
}

test_unknown_capacity_is_left_to_the_built_ins if {
	count(capacity.deny) == 0 with input as {"changes": [change(null)]}
}
