# A conftest policy, unchanged: package `main`, each input document is `input`.
package main

import rego.v1

deny_no_owner contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	not input.metadata.labels.owner
	msg := sprintf("%s %s has no owner label", [input.kind, input.metadata.name])
}

exception contains rules if {
	input.metadata.namespace == "kube-system"
	rules := ["no_owner"]
}
