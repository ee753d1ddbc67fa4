//! What quorate knows about resource types without being told: which Terraform types are
//! members of a serving group, and which images and operator resources run consensus systems.
//! One table each, documented in the README ("What counts as a member, a group and a quorum").

use serde_json::Value;

/// Terraform types whose count/for_each instances are members of one serving group: machines,
/// nodes, brokers, pods, database cluster instances. Instances of other types (DNS records,
/// IAM users, objects in a bucket) are independent resources, not members.
pub const MEMBER_TYPES: &[&str] = &[
    "aws_instance",
    "aws_spot_instance_request",
    "aws_rds_cluster_instance",
    "aws_docdb_cluster_instance",
    "aws_neptune_cluster_instance",
    "google_compute_instance",
    "google_compute_instance_from_template",
    "azurerm_linux_virtual_machine",
    "azurerm_windows_virtual_machine",
    "azurerm_virtual_machine",
    "digitalocean_droplet",
    "hcloud_server",
    "linode_instance",
    "vsphere_virtual_machine",
    "openstack_compute_instance_v2",
    "oci_core_instance",
    "proxmox_vm_qemu",
    "libvirt_domain",
    "kubernetes_pod",
    "kubernetes_pod_v1",
];

pub fn is_member_type(terraform_type: &str) -> bool {
    MEMBER_TYPES.contains(&terraform_type)
}

/// Images of consensus systems, as repository paths without registry and tag. A mirror's
/// path that ends with one of them (`mirror.example.com/dockerhub/bitnami/etcd`) matches too.
const CONSENSUS_IMAGES: &[(&str, &str)] = &[
    ("coreos/etcd", "etcd"),
    ("etcd-development/etcd", "etcd"),
    ("etcd", "etcd"),
    ("bitnami/etcd", "etcd"),
    ("bitnamilegacy/etcd", "etcd"),
    ("zookeeper", "ZooKeeper"),
    ("bitnami/zookeeper", "ZooKeeper"),
    ("confluentinc/cp-zookeeper", "ZooKeeper"),
    ("kubernetes-zookeeper", "ZooKeeper"),
    ("google_samples/k8szk", "ZooKeeper"),
    ("pravega/zookeeper", "ZooKeeper"),
    ("hashicorp/consul", "Consul"),
    ("hashicorp/consul-enterprise", "Consul"),
    ("consul", "Consul"),
    ("bitnami/consul", "Consul"),
    ("hashicorp/vault", "Vault (raft)"),
    ("hashicorp/vault-enterprise", "Vault (raft)"),
    ("vault", "Vault (raft)"),
    ("bitnami/vault", "Vault (raft)"),
    ("nats", "NATS"),
    ("bitnami/nats", "NATS"),
    ("rabbitmq", "RabbitMQ"),
    ("bitnami/rabbitmq", "RabbitMQ"),
    ("cockroachdb/cockroach", "CockroachDB"),
    ("mongo", "MongoDB replica set"),
    ("bitnami/mongodb", "MongoDB replica set"),
    ("percona/percona-server-mongodb", "MongoDB replica set"),
    ("mongodb/mongodb-community-server", "MongoDB replica set"),
    ("mongodb/mongodb-enterprise-server", "MongoDB replica set"),
    ("bitnami/redis-sentinel", "Redis Sentinel"),
    ("pingcap/pd", "TiDB PD"),
    ("pingcap/tikv", "TiKV"),
];

/// Kafka images: only KRaft controllers vote (brokers do not).
const KAFKA_IMAGES: &[&str] = &[
    "apache/kafka",
    "apache/kafka-native",
    "bitnami/kafka",
    "confluentinc/cp-kafka",
    "confluentinc/cp-server",
];

/// Elasticsearch and OpenSearch images: master-eligible nodes vote.
const SEARCH_IMAGES: &[&str] = &[
    "elasticsearch/elasticsearch",
    "elasticsearch",
    "bitnami/elasticsearch",
    "opensearchproject/opensearch",
    "bitnami/opensearch",
];

/// The repository path of an image reference: no registry host, no `library/`, no tag or digest.
pub fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    // A tag follows the last `:` after the last `/` (a registry port comes before a `/`).
    let no_tag = match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => no_digest.get(..i).unwrap_or(no_digest),
        _ => no_digest,
    };
    let mut parts: Vec<&str> = no_tag.split('/').collect();
    if parts.len() > 1 {
        let first = parts.first().copied().unwrap_or_default();
        if first.contains('.') || first.contains(':') || first == "localhost" {
            parts.remove(0);
        }
    }
    if parts.first() == Some(&"library") && parts.len() > 1 {
        parts.remove(0);
    }
    parts.join("/").to_ascii_lowercase()
}

fn matches(repo: &str, known: &str) -> bool {
    repo == known || repo.ends_with(&format!("/{known}"))
}

/// A container (`name`, `image`, `env`) as the Kubernetes API and the Terraform kubernetes
/// provider spell it.
struct Container<'a> {
    image: &'a str,
    env: Vec<(&'a str, &'a str)>,
}

fn containers(pod_spec: &Value) -> Vec<Container<'_>> {
    let list = pod_spec
        .get("containers")
        .or_else(|| pod_spec.get("container"))
        .and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|c| {
            let image = c.get("image")?.as_str()?;
            let env = c
                .get("env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| Some((e.get("name")?.as_str()?, e.get("value")?.as_str()?)))
                .collect();
            Some(Container { image, env })
        })
        .collect()
}

/// The pod spec of a workload object: Kubernetes (`/spec/template/spec`) or the Terraform
/// kubernetes provider's blocks (`/spec/0/template/0/spec/0`).
fn pod_spec(obj: &Value) -> Option<&Value> {
    obj.pointer("/spec/template/spec")
        .or_else(|| obj.pointer("/spec/0/template/0/spec/0"))
}

/// The consensus system a StatefulSet runs, with the evidence (`etcd (image quay.io/coreos/etcd:v3.5.9)`).
pub fn consensus_image(obj: &Value) -> Option<String> {
    for c in containers(pod_spec(obj)?) {
        let repo = repository(c.image);
        if let Some((_, system)) = CONSENSUS_IMAGES.iter().find(|(k, _)| matches(&repo, k)) {
            return Some(format!("{system} (image {})", c.image));
        }
        let env = |names: &[&str]| {
            c.env
                .iter()
                .find(|(n, _)| names.contains(n))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        if KAFKA_IMAGES.iter().any(|k| matches(&repo, k)) {
            let roles = env(&["KAFKA_PROCESS_ROLES", "KAFKA_CFG_PROCESS_ROLES"]);
            if roles.is_some_and(|r| r.contains("controller")) {
                return Some(format!("Kafka KRaft controllers (image {})", c.image));
            }
        }
        if SEARCH_IMAGES.iter().any(|k| matches(&repo, k)) {
            let roles = env(&["node.roles", "NODE_ROLES", "node.master"]);
            let eligible = match roles.as_deref() {
                None => true,
                Some("true") => true,
                Some(r) => r.contains("master") || r.contains("cluster_manager"),
            };
            if eligible {
                return Some(format!(
                    "Elasticsearch/OpenSearch master-eligible nodes (image {})",
                    c.image
                ));
            }
        }
    }
    None
}

/// Operator resources that run a consensus group: (API group, kind, system, where the member
/// count lives). Strimzi node pools vote only with the `controller` role.
pub const CONSENSUS_RESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        "kafka.strimzi.io",
        "KafkaNodePool",
        "Kafka KRaft controllers",
        "/spec/replicas",
    ),
    (
        "kafka.strimzi.io",
        "Kafka",
        "ZooKeeper (Strimzi)",
        "/spec/zookeeper/replicas",
    ),
    (
        "rabbitmq.com",
        "RabbitmqCluster",
        "RabbitMQ",
        "/spec/replicas",
    ),
    (
        "crdb.cockroachlabs.com",
        "CrdbCluster",
        "CockroachDB",
        "/spec/nodes",
    ),
    (
        "mongodbcommunity.mongodb.com",
        "MongoDBCommunity",
        "MongoDB replica set",
        "/spec/members",
    ),
    (
        "etcd.database.coreos.com",
        "EtcdCluster",
        "etcd",
        "/spec/size",
    ),
    ("operator.etcd.io", "EtcdCluster", "etcd", "/spec/size"),
    (
        "zookeeper.pravega.io",
        "ZookeeperCluster",
        "ZooKeeper",
        "/spec/replicas",
    ),
    ("pingcap.com", "TidbCluster", "TiDB PD", "/spec/pd/replicas"),
];

/// The operator resource entry for an API group and kind.
pub fn consensus_resource(group: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    CONSENSUS_RESOURCES
        .iter()
        .find(|(g, k, _, _)| *g == group && *k == kind)
        .map(|(_, _, system, pointer)| (*system, *pointer))
}

/// Whether an operator resource of this kind votes (a Strimzi node pool without the
/// controller role holds brokers only).
pub fn resource_votes(kind: &str, obj: &Value) -> bool {
    if kind != "KafkaNodePool" {
        return true;
    }
    obj.pointer("/spec/roles")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|x| x.as_str() == Some("controller")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repositories_drop_registry_tag_digest_and_library() {
        assert_eq!(repository("quay.io/coreos/etcd:v3.5.9"), "coreos/etcd");
        assert_eq!(
            repository("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10"),
            "kubernetes-zookeeper"
        );
        assert_eq!(repository("docker.io/library/zookeeper:3.9"), "zookeeper");
        assert_eq!(
            repository("localhost:5000/bitnami/etcd@sha256:abc"),
            "bitnami/etcd"
        );
        assert_eq!(repository("nginx"), "nginx");
    }

    #[test]
    fn consensus_images_from_every_source_shape() {
        let k8s = json!({"spec": {"template": {"spec": {"containers": [{"name": "zk", "image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10"}]}}}});
        assert!(consensus_image(&k8s).unwrap().starts_with("ZooKeeper"));
        let tf = json!({"spec": [{"template": [{"spec": [{"container": [{"name": "etcd", "image": "quay.io/coreos/etcd:v3.5.9"}]}]}]}]});
        assert!(consensus_image(&tf).unwrap().starts_with("etcd"));
        let web =
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}});
        assert_eq!(consensus_image(&web), None);
        let broker = json!({"spec": {"template": {"spec": {"containers": [{"image": "apache/kafka:3.8.0", "env": [{"name": "KAFKA_PROCESS_ROLES", "value": "broker"}]}]}}}});
        assert_eq!(consensus_image(&broker), None);
        let controller = json!({"spec": {"template": {"spec": {"containers": [{"image": "apache/kafka:3.8.0", "env": [{"name": "KAFKA_PROCESS_ROLES", "value": "controller"}]}]}}}});
        assert!(consensus_image(&controller).is_some());
        let data = json!({"spec": {"template": {"spec": {"containers": [{"image": "docker.elastic.co/elasticsearch/elasticsearch:8.15.0", "env": [{"name": "node.roles", "value": "data,ingest"}]}]}}}});
        assert_eq!(consensus_image(&data), None);
        // A lookalike name is not a match: only whole path components count.
        let lookalike = json!({"spec": {"template": {"spec": {"containers": [{"image": "acme/etcd-backup:1"}]}}}});
        assert_eq!(consensus_image(&lookalike), None);
    }

    #[test]
    fn strimzi_pools_vote_only_as_controllers() {
        assert!(resource_votes(
            "KafkaNodePool",
            &json!({"spec": {"roles": ["controller"]}})
        ));
        assert!(!resource_votes(
            "KafkaNodePool",
            &json!({"spec": {"roles": ["broker"]}})
        ));
        assert_eq!(
            consensus_resource("rabbitmq.com", "RabbitmqCluster"),
            Some(("RabbitMQ", "/spec/replicas"))
        );
    }
}
