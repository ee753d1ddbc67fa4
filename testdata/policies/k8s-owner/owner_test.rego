package main

import rego.v1

test_deployment_without_owner_is_denied if {
	deny_no_owner["Deployment web has no owner label"] with input as {"kind": "Deployment", "metadata": {"name": "web"}}
}

test_kube_system_is_excepted if {
	exception[["no_owner"]] with input as {"kind": "Deployment", "metadata": {"name": "dns", "namespace": "kube-system"}}
}
