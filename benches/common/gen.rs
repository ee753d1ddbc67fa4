//! Generator of a realistic `terraform show -json` plan (mixed types and actions, ~10%
//! `resource_drift`), a matching `aws autoscaling describe-auto-scaling-groups` file and a
//! quorate.yaml, from a fixed-seed PRNG. Shared by the benchmarks that include it with
//! `#[path = "common/gen.rs"] mod gen;` (large_plan, policy_eval).
#![allow(dead_code)]

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const AZS: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const AWS: &str = "registry.terraform.io/hashicorp/aws";
const K8S: &str = "registry.terraform.io/hashicorp/kubernetes";
const GOOGLE: &str = "registry.terraform.io/hashicorp/google";
const POOL_SIZE: usize = 25;

// ------------------------------------------------------------------------------------------
// PRNG

/// xorshift64*: tiny, fixed-seed, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

// ------------------------------------------------------------------------------------------
// Plan model

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    NoOp,
    Update,
    Create,
    Delete,
    Replace,
}

impl Act {
    fn words(self) -> Value {
        match self {
            Act::NoOp => json!(["no-op"]),
            Act::Update => json!(["update"]),
            Act::Create => json!(["create"]),
            Act::Delete => json!(["delete"]),
            Act::Replace => json!(["delete", "create"]),
        }
    }

    fn changes_something(self) -> bool {
        self != Act::NoOp
    }
}

pub struct Res {
    address: String,
    module: Option<String>,
    kind: &'static str,
    name: String,
    index: Option<usize>,
    provider: &'static str,
    act: Act,
    before: Value,
    after: Value,
    after_unknown: Value,
    reason: Option<&'static str>,
}

/// Counts of each generated type, for the summary.
#[derive(Default)]
pub struct Mix {
    pub by_kind: std::collections::BTreeMap<&'static str, usize>,
    pub by_action: std::collections::BTreeMap<&'static str, usize>,
    pub capacity_down: usize,
    pub capacity_up: usize,
    pub capacity_unknown: usize,
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = new;
    }
}

fn get_i64(v: &Value, pointer: &str) -> i64 {
    match v.pointer(pointer) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn remove_key(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}

fn tags(rng: &mut Rng, service: &str, env: &str) -> Value {
    json!({
        "service": service,
        "env": env,
        "team": rng.pick(&["search", "payments", "platform", "data", "identity", "edge"]),
    })
}

fn subnets(rng: &mut Rng) -> Vec<String> {
    (0..3).map(|_| format!("subnet-0{}", rng.hex(16))).collect()
}

fn sg(rng: &mut Rng) -> String {
    format!("sg-0{}", rng.hex(16))
}

// --- per-type values (the live / "before" object) ------------------------------------------

fn asg_values(rng: &mut Rng, name: &str) -> Value {
    let desired = rng.range(2, 12);
    let min = rng.range(1, desired);
    let max = desired + rng.range(0, 8);
    let lt = format!("lt-0{}", rng.hex(16));
    let tg = format!(
        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{}/{}",
        &name[..name.len().min(24)],
        rng.hex(16)
    );
    let service = name.trim_end_matches("-prod");
    obj(vec![
        (
            "arn",
            json!(format!(
                "arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:{}:autoScalingGroupName/{name}",
                rng.uuid()
            )),
        ),
        ("availability_zones", json!(AZS)),
        ("capacity_rebalance", json!(false)),
        ("default_cooldown", json!(300)),
        ("desired_capacity", json!(desired)),
        ("health_check_grace_period", json!(300)),
        ("health_check_type", json!(rng.pick(&["ELB", "EC2"]))),
        ("id", json!(name)),
        ("launch_template", json!([{"id": lt, "name": format!("{service}-node"), "version": rng.range(1, 40).to_string()}])),
        ("max_size", json!(max)),
        ("min_size", json!(min)),
        ("name", json!(name)),
        ("protect_from_scale_in", json!(false)),
        ("service_linked_role_arn", json!(format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"))),
        ("tag", json!([
            {"key": "Name", "propagate_at_launch": true, "value": name},
            {"key": "service", "propagate_at_launch": true, "value": service},
            {"key": "env", "propagate_at_launch": true, "value": "prod"},
        ])),
        ("target_group_arns", json!([tg])),
        ("termination_policies", json!(["Default"])),
        ("vpc_zone_identifier", json!(subnets(rng))),
        ("wait_for_capacity_timeout", json!("10m")),
        ("wait_for_elb_capacity", Value::Null),
    ])
}

fn opensearch_values(rng: &mut Rng, name: &str) -> Value {
    let masters = rng.chance(60);
    let domain_id = format!("{ACCOUNT}/{name}");
    let arn = format!("arn:aws:es:{REGION}:{ACCOUNT}:domain/{name}");
    obj(vec![
        ("access_policies", json!(format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{ACCOUNT}:root\"}},\"Action\":\"es:*\",\"Resource\":\"{arn}/*\"}}]}}"))),
        ("advanced_options", json!({"rest.action.multi.allow_explicit_index": "true"})),
        ("arn", json!(arn)),
        ("cluster_config", json!([{
            "cold_storage_options": [{"enabled": false}],
            "dedicated_master_count": if masters { rng.pick(&[3, 5]).to_owned() } else { 0 },
            "dedicated_master_enabled": masters,
            "dedicated_master_type": if masters { json!("m6g.large.search") } else { Value::Null },
            "instance_count": rng.range(2, 12),
            "instance_type": rng.pick(&["r6g.large.search", "r6g.2xlarge.search", "m6g.xlarge.search"]),
            "warm_count": 0,
            "warm_enabled": false,
            "warm_type": "",
            "zone_awareness_config": [{"availability_zone_count": 3}],
            "zone_awareness_enabled": true,
        }])),
        ("domain_endpoint_options", json!([{"custom_endpoint": "", "custom_endpoint_certificate_arn": "", "custom_endpoint_enabled": false, "enforce_https": true, "tls_security_policy": "Policy-Min-TLS-1-2-2019-07"}])),
        ("domain_id", json!(domain_id)),
        ("domain_name", json!(name)),
        ("ebs_options", json!([{"ebs_enabled": true, "iops": 3000, "throughput": 125, "volume_size": rng.range(10, 100) * 10, "volume_type": "gp3"}])),
        ("encrypt_at_rest", json!([{"enabled": true, "kms_key_id": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{}", rng.uuid())}])),
        ("endpoint", json!(format!("vpc-{name}-{}.{REGION}.es.amazonaws.com", rng.hex(26)))),
        ("engine_version", json!(rng.pick(&["OpenSearch_2.11", "OpenSearch_2.13", "Elasticsearch_7.10"]))),
        ("id", json!(arn)),
        ("node_to_node_encryption", json!([{"enabled": true}])),
        ("tags", json!({"service": name, "env": "prod"})),
        ("tags_all", json!({"service": name, "env": "prod", "managed-by": "terraform"})),
        ("vpc_options", json!([{"availability_zones": AZS, "security_group_ids": [sg(rng)], "subnet_ids": subnets(rng), "vpc_id": format!("vpc-0{}", rng.hex(16))}])),
    ])
}

fn ecs_values(rng: &mut Rng, name: &str) -> Value {
    let cluster = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}",
        rng.pick(&["apps-prod", "batch-prod", "edge-prod"])
    );
    obj(vec![
        ("cluster", json!(cluster)),
        (
            "deployment_circuit_breaker",
            json!([{"enable": true, "rollback": true}]),
        ),
        ("deployment_controller", json!([{"type": "ECS"}])),
        ("deployment_maximum_percent", json!(200)),
        ("deployment_minimum_healthy_percent", json!(100)),
        ("desired_count", json!(rng.range(1, 20))),
        ("enable_ecs_managed_tags", json!(true)),
        ("health_check_grace_period_seconds", json!(60)),
        (
            "iam_role",
            json!("/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
        ),
        (
            "id",
            json!(format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:service/apps-prod/{name}"
            )),
        ),
        ("launch_type", json!("FARGATE")),
        (
            "load_balancer",
            json!([{"container_name": name, "container_port": 8080, "elb_name": "", "target_group_arn": format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{}/{}", &name[..name.len().min(24)], rng.hex(16))}]),
        ),
        ("name", json!(name)),
        (
            "network_configuration",
            json!([{"assign_public_ip": false, "security_groups": [sg(rng)], "subnets": subnets(rng)}]),
        ),
        ("platform_version", json!("LATEST")),
        ("propagate_tags", json!("SERVICE")),
        ("scheduling_strategy", json!("REPLICA")),
        ("tags", json!({"service": name})),
        (
            "tags_all",
            json!({"service": name, "managed-by": "terraform"}),
        ),
        (
            "task_definition",
            json!(format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:{}",
                rng.range(1, 300)
            )),
        ),
        ("wait_for_steady_state", json!(false)),
    ])
}

fn instance_values(rng: &mut Rng, pool: &str, i: usize) -> Value {
    let ip = format!(
        "10.{}.{}.{}",
        rng.range(0, 255),
        rng.range(0, 255),
        rng.range(1, 254)
    );
    let id = format!("i-0{}", rng.hex(16));
    obj(vec![
        ("ami", json!(format!("ami-0{}", rng.hex(16)))),
        (
            "arn",
            json!(format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{id}")),
        ),
        ("associate_public_ip_address", json!(false)),
        ("availability_zone", json!(AZS[i % 3])),
        ("ebs_optimized", json!(true)),
        ("iam_instance_profile", json!(format!("{pool}-node"))),
        ("id", json!(id)),
        ("instance_state", json!("running")),
        (
            "instance_type",
            json!(rng.pick(&["m6i.large", "m6i.xlarge", "c6i.2xlarge"])),
        ),
        (
            "metadata_options",
            json!([{"http_endpoint": "enabled", "http_put_response_hop_limit": 1, "http_tokens": "required", "instance_metadata_tags": "disabled"}]),
        ),
        ("monitoring", json!(true)),
        (
            "private_dns",
            json!(format!(
                "ip-{}.{REGION}.compute.internal",
                ip.replace('.', "-")
            )),
        ),
        ("private_ip", json!(ip)),
        (
            "root_block_device",
            json!([{"delete_on_termination": true, "encrypted": true, "iops": 3000, "throughput": 125, "volume_id": format!("vol-0{}", rng.hex(16)), "volume_size": 50, "volume_type": "gp3"}]),
        ),
        ("subnet_id", json!(format!("subnet-0{}", rng.hex(16)))),
        ("tags", json!({"Name": format!("{pool}-{i}"), "pool": pool})),
        (
            "tags_all",
            json!({"Name": format!("{pool}-{i}"), "pool": pool, "managed-by": "terraform"}),
        ),
        ("tenancy", json!("default")),
        ("user_data", json!(rng.hex(40))),
        ("vpc_security_group_ids", json!([sg(rng)])),
    ])
}

fn statefulset_values(rng: &mut Rng, ns: &str, name: &str) -> Value {
    let replicas = rng.pick(&[3, 3, 3, 5, 5, 7]).to_owned();
    let labels = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns});
    obj(vec![
        ("id", json!(format!("{ns}/{name}"))),
        (
            "metadata",
            json!([{
                "annotations": {},
                "generate_name": "",
                "generation": rng.range(1, 60),
                "labels": labels,
                "name": name,
                "namespace": ns,
                "resource_version": rng.range(100_000, 99_999_999).to_string(),
                "uid": rng.uuid(),
            }]),
        ),
        (
            "spec",
            json!([{
                "min_ready_seconds": 0,
                "persistent_volume_claim_retention_policy": [],
                "pod_management_policy": "OrderedReady",
                "replicas": replicas.to_string(),
                "revision_history_limit": 10,
                "selector": [{"match_expressions": [], "match_labels": {"app.kubernetes.io/name": name}}],
                "service_name": name,
                "template": [{
                    "metadata": [{"annotations": {}, "generate_name": "", "generation": 0, "labels": labels, "name": "", "namespace": "", "resource_version": "", "uid": ""}],
                    "spec": [{
                        "container": [{
                            "args": [], "command": [], "env": [],
                            "image": format!("registry.example.com/{name}:{}.{}.{}", rng.range(1, 9), rng.range(0, 30), rng.range(0, 20)),
                            "image_pull_policy": "IfNotPresent",
                            "name": name,
                            "port": [{"container_port": 2379, "host_ip": "", "host_port": 0, "name": "client", "protocol": "TCP"}],
                            "resources": [{"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "500m", "memory": "2Gi"}}],
                        }],
                        "service_account_name": name,
                        "termination_grace_period_seconds": 30,
                    }],
                }],
                "update_strategy": [{"rolling_update": [{"partition": 0}], "type": "RollingUpdate"}],
                "volume_claim_template": [],
            }]),
        ),
        ("timeouts", Value::Null),
        ("wait_for_rollout", json!(true)),
    ])
}

fn igm_values(rng: &mut Rng, name: &str) -> Value {
    let project = "acme-prod";
    let zone = rng
        .pick(&["europe-west1-b", "europe-west1-c", "europe-west1-d"])
        .to_string();
    let self_link = format!("https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instanceGroupManagers/{name}");
    obj(vec![
        ("auto_healing_policies", json!([{"health_check": format!("https://www.googleapis.com/compute/v1/projects/{project}/global/healthChecks/{name}-hc"), "initial_delay_sec": 300}])),
        ("base_instance_name", json!(name)),
        ("fingerprint", json!(rng.hex(16))),
        ("id", json!(format!("projects/{project}/zones/{zone}/instanceGroupManagers/{name}"))),
        ("instance_group", json!(format!("https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instanceGroups/{name}"))),
        ("name", json!(name)),
        ("named_port", json!([{"name": "http", "port": 8080}])),
        ("project", json!(project)),
        ("self_link", json!(self_link)),
        ("status", json!([{"is_stable": true, "stateful": [], "version_target": [{"is_reached": true}]}])),
        ("target_size", json!(rng.range(1, 16))),
        ("update_policy", json!([{"max_surge_fixed": 3, "max_surge_percent": 0, "max_unavailable_fixed": 0, "max_unavailable_percent": 0, "minimal_action": "REPLACE", "replacement_method": "SUBSTITUTE", "type": "PROACTIVE"}])),
        ("version", json!([{"instance_template": format!("https://www.googleapis.com/compute/v1/projects/{project}/global/instanceTemplates/{name}-{}", rng.hex(8)), "name": "primary", "target_size": []}])),
        ("wait_for_instances", json!(false)),
        ("wait_for_instances_status", json!("STABLE")),
        ("zone", json!(zone)),
    ])
}

const PLAIN_KINDS: &[&str] = &[
    "aws_s3_bucket",
    "aws_security_group",
    "aws_iam_role",
    "aws_route53_record",
    "aws_cloudwatch_metric_alarm",
    "aws_lb_target_group",
    "aws_sqs_queue",
];

fn plain_values(rng: &mut Rng, kind: &str, name: &str) -> Value {
    let t = tags(rng, name, "prod");
    let mut t_all = t.clone();
    if let Some(o) = t_all.as_object_mut() {
        o.insert("terraform-workspace".into(), json!("prod"));
    }
    match kind {
        "aws_s3_bucket" => obj(vec![
            ("arn", json!(format!("arn:aws:s3:::acme-{name}"))),
            ("bucket", json!(format!("acme-{name}"))),
            ("bucket_domain_name", json!(format!("acme-{name}.s3.amazonaws.com"))),
            ("bucket_regional_domain_name", json!(format!("acme-{name}.s3.{REGION}.amazonaws.com"))),
            ("force_destroy", json!(false)),
            ("id", json!(format!("acme-{name}"))),
            ("object_lock_enabled", json!(false)),
            ("region", json!(REGION)),
            ("server_side_encryption_configuration", json!([{"rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": "", "sse_algorithm": "AES256"}], "bucket_key_enabled": false}]}])),
            ("tags", t),
            ("tags_all", t_all),
            ("versioning", json!([{"enabled": rng.chance(70), "mfa_delete": false}])),
        ]),
        "aws_security_group" => {
            let id = sg(rng);
            obj(vec![
                ("arn", json!(format!("arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{id}"))),
                ("description", json!(format!("{name} security group"))),
                ("egress", json!([{"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "-1", "security_groups": [], "self": false, "to_port": 0}])),
                ("id", json!(id)),
                ("ingress", json!([{"cidr_blocks": ["10.0.0.0/8"], "description": "https", "from_port": 443, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": false, "to_port": 443}])),
                ("name", json!(name)),
                ("owner_id", json!(ACCOUNT)),
                ("tags", t),
                ("tags_all", t_all),
                ("vpc_id", json!(format!("vpc-0{}", rng.hex(16)))),
            ])
        }
        "aws_iam_role" => obj(vec![
            ("arn", json!(format!("arn:aws:iam::{ACCOUNT}:role/{name}"))),
            ("assume_role_policy", json!("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}")),
            ("create_date", json!("2025-03-02T14:12:09Z")),
            ("description", json!("")),
            ("id", json!(name)),
            ("managed_policy_arns", json!(["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"])),
            ("max_session_duration", json!(3600)),
            ("name", json!(name)),
            ("path", json!("/")),
            ("tags", t),
            ("tags_all", t_all),
            ("unique_id", json!(format!("AROA{}", rng.hex(17).to_uppercase()))),
        ]),
        "aws_route53_record" => obj(vec![
            ("alias", json!([])),
            ("fqdn", json!(format!("{name}.prod.example.com"))),
            ("health_check_id", json!("")),
            ("id", json!(format!("Z0{}_{name}.prod.example.com_CNAME", rng.hex(12).to_uppercase()))),
            ("multivalue_answer_routing_policy", json!(false)),
            ("name", json!(format!("{name}.prod.example.com"))),
            ("records", json!([format!("{name}.internal.example.com")])),
            ("ttl", json!(300)),
            ("type", json!("CNAME")),
            ("weighted_routing_policy", json!([])),
            ("zone_id", json!("Z0123456789ABCDEFGHIJ")),
        ]),
        "aws_cloudwatch_metric_alarm" => obj(vec![
            ("actions_enabled", json!(true)),
            ("alarm_actions", json!([format!("arn:aws:sns:{REGION}:{ACCOUNT}:pager")])),
            ("alarm_description", json!(format!("{name} p99 latency"))),
            ("alarm_name", json!(name)),
            ("arn", json!(format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"))),
            ("comparison_operator", json!("GreaterThanThreshold")),
            ("datapoints_to_alarm", json!(3)),
            ("dimensions", json!({"LoadBalancer": format!("app/{name}/{}", rng.hex(16))})),
            ("evaluation_periods", json!(5)),
            ("id", json!(name)),
            ("metric_name", json!("TargetResponseTime")),
            ("namespace", json!("AWS/ApplicationELB")),
            ("period", json!(60)),
            ("extended_statistic", json!("p99")),
            ("tags", t),
            ("tags_all", t_all),
            ("threshold", json!(rng.range(1, 20) as f64 / 10.0)),
            ("treat_missing_data", json!("missing")),
        ]),
        "aws_lb_target_group" => obj(vec![
            ("arn", json!(format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{}/{}", &name[..name.len().min(24)], rng.hex(16)))),
            ("deregistration_delay", json!("300")),
            ("health_check", json!([{"enabled": true, "healthy_threshold": 3, "interval": 30, "matcher": "200", "path": "/healthz", "port": "traffic-port", "protocol": "HTTP", "timeout": 5, "unhealthy_threshold": 3}])),
            ("id", json!(format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{}/{}", &name[..name.len().min(24)], rng.hex(16)))),
            ("ip_address_type", json!("ipv4")),
            ("name", json!(&name[..name.len().min(32)])),
            ("port", json!(8080)),
            ("protocol", json!("HTTP")),
            ("protocol_version", json!("HTTP1")),
            ("stickiness", json!([{"cookie_duration": 86400, "cookie_name": "", "enabled": false, "type": "lb_cookie"}])),
            ("tags", t),
            ("tags_all", t_all),
            ("target_type", json!("instance")),
            ("vpc_id", json!(format!("vpc-0{}", rng.hex(16)))),
        ]),
        _ => obj(vec![
            ("arn", json!(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))),
            ("delay_seconds", json!(0)),
            ("id", json!(format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"))),
            ("max_message_size", json!(262_144)),
            ("message_retention_seconds", json!(345_600)),
            ("name", json!(name)),
            ("receive_wait_time_seconds", json!(20)),
            ("redrive_policy", json!(format!("{{\"deadLetterTargetArn\":\"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-dlq\",\"maxReceiveCount\":5}}"))),
            ("sqs_managed_sse_enabled", json!(true)),
            ("tags", t),
            ("tags_all", t_all),
            ("url", json!(format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"))),
            ("visibility_timeout_seconds", json!(30)),
        ]),
    }
}

/// Attributes only known after apply, for creates and replaces.
fn computed(kind: &str) -> &'static [&'static str] {
    match kind {
        "aws_autoscaling_group" => &["arn", "id", "availability_zones", "service_linked_role_arn"],
        "aws_opensearch_domain" => &["arn", "id", "domain_id", "endpoint"],
        "aws_ecs_service" => &["id", "iam_role"],
        "aws_instance" => &["arn", "id", "private_dns", "private_ip", "instance_state"],
        "kubernetes_stateful_set_v1" => &["id"],
        "google_compute_instance_group_manager" => {
            &["id", "fingerprint", "instance_group", "self_link", "status"]
        }
        "aws_iam_role" => &["arn", "id", "create_date", "unique_id"],
        "aws_route53_record" => &["id", "fqdn"],
        _ => &["arn", "id"],
    }
}

/// Where the member count lives, if the type has one.
fn capacity_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "aws_autoscaling_group" => Some("/desired_capacity"),
        "aws_opensearch_domain" => Some("/cluster_config/0/instance_count"),
        "aws_ecs_service" => Some("/desired_count"),
        "kubernetes_stateful_set_v1" => Some("/spec/0/replicas"),
        "google_compute_instance_group_manager" => Some("/target_size"),
        _ => None,
    }
}

/// Turns `values` into a planned object with unknowns: removes computed attributes from
/// `after` and flags them in `after_unknown`.
fn with_unknowns(kind: &str, values: &Value) -> (Value, Value) {
    let mut after = values.clone();
    let mut unknown = Map::new();
    for key in computed(kind) {
        remove_key(&mut after, key);
        unknown.insert((*key).to_string(), json!(true));
    }
    (after, Value::Object(unknown))
}

/// An in-place update of a resource; for capacity types mostly a scale-down or scale-up.
fn update(kind: &str, before: &Value, rng: &mut Rng, mix: &mut Mix) -> (Value, Value) {
    let mut after = before.clone();
    let mut unknown = json!({});
    if let Some(ptr) = capacity_pointer(kind) {
        let cur = get_i64(before, ptr);
        let roll = rng.below(100);
        let stringly = kind.starts_with("kubernetes_");
        let put = |after: &mut Value, n: i64| {
            set(
                after,
                ptr,
                if stringly {
                    json!(n.to_string())
                } else {
                    json!(n)
                },
            );
        };
        if roll < 3 {
            // Only known after apply (e.g. from another resource's output): absent from
            // `after`, flagged in `after_unknown` at the same path.
            let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
            if let [block, _, leaf] = parts.as_slice() {
                if let Some(o) = after
                    .pointer_mut(&format!("/{block}/0"))
                    .and_then(Value::as_object_mut)
                {
                    o.remove(*leaf);
                }
                let mut inner = Map::new();
                inner.insert((*leaf).to_string(), json!(true));
                let mut outer = Map::new();
                outer.insert((*block).to_string(), json!([inner]));
                unknown = Value::Object(outer);
            } else {
                remove_key(&mut after, parts.first().copied().unwrap_or_default());
                let mut outer = Map::new();
                outer.insert(
                    parts.first().copied().unwrap_or_default().to_string(),
                    json!(true),
                );
                unknown = Value::Object(outer);
            }
            mix.capacity_unknown += 1;
        } else if roll < 55 && cur > 0 {
            let n = if rng.chance(3) {
                0
            } else {
                (cur - rng.range(1, (cur / 2).max(1))).max(1)
            };
            put(&mut after, n);
            if kind == "aws_autoscaling_group" && get_i64(&after, "/min_size") > n {
                set(&mut after, "/min_size", json!(n));
            }
            mix.capacity_down += 1;
        } else if roll < 90 {
            let n = cur + rng.range(1, 4);
            put(&mut after, n);
            if kind == "aws_autoscaling_group" && get_i64(&after, "/max_size") < n {
                set(&mut after, "/max_size", json!(n));
            }
            mix.capacity_up += 1;
        } else {
            tag_edit(&mut after, rng);
        }
        if kind == "aws_opensearch_domain" && rng.chance(30) {
            // Master changes: 5 -> 3, or switching dedicated masters on/off.
            let enabled =
                before.pointer("/cluster_config/0/dedicated_master_enabled") == Some(&json!(true));
            if enabled && rng.chance(70) {
                let m = get_i64(before, "/cluster_config/0/dedicated_master_count");
                set(
                    &mut after,
                    "/cluster_config/0/dedicated_master_count",
                    json!((m - 2).max(1)),
                );
            } else {
                set(
                    &mut after,
                    "/cluster_config/0/dedicated_master_enabled",
                    json!(!enabled),
                );
                set(
                    &mut after,
                    "/cluster_config/0/dedicated_master_count",
                    json!(if enabled { 0 } else { 3 }),
                );
            }
        }
        if kind == "aws_ecs_service" && rng.chance(40) {
            set(
                &mut after,
                "/task_definition",
                json!(format!(
                    "{}{}",
                    before["task_definition"].as_str().unwrap_or("td:"),
                    rng.range(1, 9)
                )),
            );
        }
    } else {
        match kind {
            "aws_instance" => set(
                &mut after,
                "/instance_type",
                json!(rng.pick(&["m6i.xlarge", "m7i.large", "c7i.xlarge"])),
            ),
            "aws_security_group" => set(
                &mut after,
                "/ingress/0/cidr_blocks",
                json!(["10.0.0.0/8", "172.16.0.0/12"]),
            ),
            "aws_route53_record" => set(&mut after, "/ttl", json!(60)),
            "aws_cloudwatch_metric_alarm" => set(
                &mut after,
                "/threshold",
                json!(rng.range(21, 40) as f64 / 10.0),
            ),
            _ => tag_edit(&mut after, rng),
        }
    }
    (after, unknown)
}

fn tag_edit(v: &mut Value, rng: &mut Rng) {
    let owner = format!("team-{}", rng.range(1, 40));
    for key in ["tags", "tags_all"] {
        if let Some(t) = v.get_mut(key).and_then(Value::as_object_mut) {
            t.insert("owner".into(), json!(owner));
        }
    }
    if let Some(list) = v.get_mut("tag").and_then(Value::as_array_mut) {
        list.push(json!({"key": "owner", "propagate_at_launch": true, "value": owner}));
    }
}

/// A replacement forces a new object: change an immutable attribute, unknown ids.
fn replace(kind: &str, before: &Value, rng: &mut Rng) -> (Value, Value, &'static str) {
    let mut v = before.clone();
    let reason = match kind {
        "aws_instance" => {
            set(&mut v, "/ami", json!(format!("ami-0{}", rng.hex(16))));
            "replace_because_cannot_update"
        }
        "aws_autoscaling_group" => {
            set(
                &mut v,
                "/name",
                json!(format!("{}-v2", before["name"].as_str().unwrap_or("asg"))),
            );
            "replace_because_cannot_update"
        }
        "aws_s3_bucket" => {
            set(&mut v, "/object_lock_enabled", json!(true));
            "replace_because_cannot_update"
        }
        _ => {
            if rng.chance(20) {
                return {
                    let (a, u) = with_unknowns(kind, &v);
                    (a, u, "replace_because_tainted")
                };
            }
            tag_edit(&mut v, rng);
            "replace_because_cannot_update"
        }
    };
    let (a, u) = with_unknowns(kind, &v);
    (a, u, reason)
}

fn pick_action(rng: &mut Rng) -> Act {
    match rng.below(100) {
        0..=61 => Act::NoOp,
        62..=81 => Act::Update,
        82..=88 => Act::Create,
        89..=93 => Act::Delete,
        _ => Act::Replace,
    }
}

fn finish(
    kind: &'static str,
    live: Value,
    act: Act,
    rng: &mut Rng,
    mix: &mut Mix,
) -> (Value, Value, Value, Option<&'static str>) {
    match act {
        Act::NoOp => (live.clone(), live, json!({}), None),
        Act::Update => {
            let (after, unknown) = update(kind, &live, rng, mix);
            (live, after, unknown, None)
        }
        Act::Create => {
            let (after, unknown) = with_unknowns(kind, &live);
            (Value::Null, after, unknown, None)
        }
        Act::Delete => (
            live,
            Value::Null,
            json!({}),
            Some("delete_because_no_resource_config"),
        ),
        Act::Replace => {
            let (after, unknown, reason) = replace(kind, &live, rng);
            (live, after, unknown, Some(reason))
        }
    }
}

pub struct Generated {
    pub resources: Vec<Res>,
    pub mix: Mix,
    /// ASG names with their live values, for the observed file.
    pub asgs: Vec<(String, Value)>,
    pub quorum_groups: Vec<String>,
}

pub fn generate(n: usize, rng: &mut Rng) -> Generated {
    let mut mix = Mix::default();
    let mut resources = Vec::with_capacity(n);
    let mut asgs = Vec::new();
    let mut quorum_groups = Vec::new();
    let share = |pct: f64| ((n as f64) * pct / 100.0).round() as usize;
    let n_asg = share(6.0);
    let n_os = share(1.5);
    let n_ecs = share(10.0);
    let n_pools = share(20.0) / POOL_SIZE;
    let n_sts = share(4.0);
    let n_igm = share(3.0);
    let services = [
        "search", "orders", "payments", "ledger", "catalog", "auth", "kafka", "etcd", "zk", "api",
        "web", "ingest", "index", "cache", "queue",
    ];

    let push = |resources: &mut Vec<Res>,
                mix: &mut Mix,
                kind: &'static str,
                provider: &'static str,
                name: String,
                module: Option<String>,
                index: Option<usize>,
                live: Value,
                act: Act,
                rng: &mut Rng| {
        let (before, after, after_unknown, reason) = finish(kind, live, act, rng, mix);
        let prefix = module.as_ref().map(|m| format!("{m}.")).unwrap_or_default();
        let address = match index {
            Some(i) => format!("{prefix}{kind}.{name}[{i}]"),
            None => format!("{prefix}{kind}.{name}"),
        };
        *mix.by_kind.entry(kind).or_default() += 1;
        let word = match act {
            Act::NoOp => "no-op",
            Act::Update => "update",
            Act::Create => "create",
            Act::Delete => "delete",
            Act::Replace => "replace",
        };
        *mix.by_action.entry(word).or_default() += 1;
        resources.push(Res {
            address,
            module,
            kind,
            name,
            index,
            provider,
            act,
            before,
            after,
            after_unknown,
            reason,
        });
    };

    for i in 0..n_asg {
        let svc = rng.pick(&services);
        let name = format!("{svc}-{i:04}-prod");
        let live = asg_values(rng, &name);
        let act = pick_action(rng);
        if act != Act::Create {
            asgs.push((name.clone(), live.clone()));
        }
        if i % 3 == 0 {
            quorum_groups.push(name.clone());
        }
        push(
            &mut resources,
            &mut mix,
            "aws_autoscaling_group",
            AWS,
            format!("{}_{i:04}", svc.replace('-', "_")),
            None,
            None,
            live,
            act,
            rng,
        );
    }
    for i in 0..n_os {
        let name = format!(
            "{}-{i:03}",
            rng.pick(&["logs", "search", "audit", "metrics"])
        );
        let live = opensearch_values(rng, &name);
        if i % 3 == 0 {
            quorum_groups.push(name.clone());
        }
        let act = pick_action(rng);
        push(
            &mut resources,
            &mut mix,
            "aws_opensearch_domain",
            AWS,
            name.replace('-', "_"),
            None,
            None,
            live,
            act,
            rng,
        );
    }
    for i in 0..n_ecs {
        let name = format!("{}-svc-{i:04}", rng.pick(&services));
        let live = ecs_values(rng, &name);
        let act = pick_action(rng);
        push(
            &mut resources,
            &mut mix,
            "aws_ecs_service",
            AWS,
            name.replace('-', "_"),
            None,
            None,
            live,
            act,
            rng,
        );
    }
    for p in 0..n_pools {
        let module = format!("module.pool_{p:03}");
        let pool = format!("pool-{p:03}");
        if p % 4 == 0 {
            quorum_groups.push(format!("{module}.aws_instance.web"));
        }
        // Whole-pool behaviour: steady, shrink (count lowered), grow, or AMI roll (replace all).
        let mode = rng.below(100);
        let existing = if (70..80).contains(&mode) {
            POOL_SIZE - rng.range(1, 6) as usize
        } else {
            POOL_SIZE
        };
        for i in 0..POOL_SIZE {
            let live = instance_values(rng, &pool, i);
            let act = match mode {
                0..=59 => {
                    if rng.chance(5) {
                        Act::Update
                    } else {
                        Act::NoOp
                    }
                }
                60..=69 => {
                    if i >= POOL_SIZE - 4 {
                        Act::Delete
                    } else {
                        Act::NoOp
                    }
                }
                70..=79 => {
                    if i >= existing {
                        Act::Create
                    } else {
                        Act::NoOp
                    }
                }
                _ => Act::Replace,
            };
            push(
                &mut resources,
                &mut mix,
                "aws_instance",
                AWS,
                "web".into(),
                Some(module.clone()),
                Some(i),
                live,
                act,
                rng,
            );
        }
    }
    for i in 0..n_sts {
        let ns = rng
            .pick(&["data", "infra", "search", "messaging"])
            .to_string();
        let name = format!(
            "{}-{i:03}",
            rng.pick(&["etcd", "zookeeper", "kafka", "redis", "elasticsearch"])
        );
        let live = statefulset_values(rng, &ns, &name);
        if i % 4 == 0 {
            quorum_groups.push(format!("{ns}/StatefulSet/{name}"));
        }
        let act = pick_action(rng);
        push(
            &mut resources,
            &mut mix,
            "kubernetes_stateful_set_v1",
            K8S,
            name.replace('-', "_"),
            None,
            None,
            live,
            act,
            rng,
        );
    }
    for i in 0..n_igm {
        let name = format!("{}-mig-{i:03}", rng.pick(&services));
        let live = igm_values(rng, &name);
        let act = pick_action(rng);
        push(
            &mut resources,
            &mut mix,
            "google_compute_instance_group_manager",
            GOOGLE,
            name.replace('-', "_"),
            None,
            None,
            live,
            act,
            rng,
        );
    }
    let mut i = 0;
    while resources.len() < n {
        let kind = *rng.pick(PLAIN_KINDS);
        let name = format!(
            "{}-{}-{i:05}",
            rng.pick(&services),
            kind.trim_start_matches("aws_").replace('_', "-")
        );
        let live = plain_values(rng, kind, &name);
        let act = pick_action(rng);
        push(
            &mut resources,
            &mut mix,
            kind,
            AWS,
            name.replace('-', "_"),
            None,
            None,
            live,
            act,
            rng,
        );
        i += 1;
    }
    resources.truncate(n);
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    Generated {
        resources,
        mix,
        asgs,
        quorum_groups,
    }
}

/// What the state said before refresh, given the live object: a hand-made change undone.
fn drifted_state(kind: &str, live: &Value, rng: &mut Rng) -> Value {
    let mut state = live.clone();
    match capacity_pointer(kind) {
        // Capacity changed by hand (the classic: someone scaled the group up in the console).
        Some(ptr) if rng.chance(70) => {
            let cur = get_i64(live, ptr);
            let was = (cur - rng.range(1, 3)).max(0);
            let v = if kind.starts_with("kubernetes_") {
                json!(was.to_string())
            } else {
                json!(was)
            };
            set(&mut state, ptr, v);
        }
        _ => {
            tag_edit(&mut state, rng);
            if kind == "aws_instance" {
                set(&mut state, "/instance_type", json!("m5.large"));
            }
            if kind == "aws_security_group" {
                set(&mut state, "/ingress/0/from_port", json!(80));
            }
        }
    }
    state
}

fn resource_json(r: &Res, values: &Value, with_index: bool) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), json!(r.address));
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(r.kind));
    m.insert("name".into(), json!(r.name));
    if with_index {
        if let Some(i) = r.index {
            m.insert("index".into(), json!(i));
        }
    }
    m.insert("provider_name".into(), json!(r.provider));
    m.insert(
        "schema_version".into(),
        json!(if r.kind == "aws_autoscaling_group" {
            0
        } else {
            1
        }),
    );
    m.insert("values".into(), values.clone());
    m.insert("sensitive_values".into(), json!({}));
    Value::Object(m)
}

/// `root_module` with `child_modules` grouped by module address, as Terraform writes it.
fn module_tree(items: Vec<(Option<String>, Value)>) -> Value {
    let mut root = Vec::new();
    let mut children: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (module, v) in items {
        match module {
            Some(m) => children.entry(m).or_default().push(v),
            None => root.push(v),
        }
    }
    let mut out = Map::new();
    out.insert("resources".into(), Value::Array(root));
    if !children.is_empty() {
        out.insert(
            "child_modules".into(),
            Value::Array(
                children
                    .into_iter()
                    .map(|(address, resources)| json!({"resources": resources, "address": address}))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

fn change_entry(
    r: &Res,
    before: &Value,
    after: &Value,
    actions: Value,
    after_unknown: &Value,
) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), json!(r.address));
    if let Some(module) = &r.module {
        m.insert("module_address".into(), json!(module));
    }
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(r.kind));
    m.insert("name".into(), json!(r.name));
    if let Some(i) = r.index {
        m.insert("index".into(), json!(i));
    }
    m.insert("provider_name".into(), json!(r.provider));
    m.insert(
        "change".into(),
        json!({
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown,
            "before_sensitive": if before.is_null() { json!(false) } else { json!({}) },
            "after_sensitive": if after.is_null() { json!(false) } else { json!({}) },
        }),
    );
    Value::Object(m)
}

pub struct PlanFile {
    pub plan: Value,
    pub drift_entries: usize,
    pub drift_linked: usize,
    pub drift_deleted: usize,
}

pub fn build_plan(g: &Generated, rng: &mut Rng) -> PlanFile {
    let n = g.resources.len();
    let target_drift = n / 10;
    // Drift: ~40% on resources this plan changes, ~5% deleted outside Terraform (the plan
    // re-creates them), the rest on resources the plan leaves alone.
    let changed: Vec<usize> = (0..n)
        .filter(|&i| matches!(g.resources[i].act, Act::Update | Act::Replace | Act::Delete))
        .collect();
    let creates: Vec<usize> = (0..n)
        .filter(|&i| g.resources[i].act == Act::Create)
        .collect();
    let noops: Vec<usize> = (0..n)
        .filter(|&i| g.resources[i].act == Act::NoOp)
        .collect();
    let mut chosen = std::collections::BTreeMap::new(); // index -> deleted?
    let take = |pool: &[usize],
                want: usize,
                deleted: bool,
                rng: &mut Rng,
                chosen: &mut std::collections::BTreeMap<usize, bool>| {
        let mut tries = 0;
        let start = chosen.len();
        while chosen.len() - start < want.min(pool.len()) && tries < want * 20 {
            let i = *rng.pick(pool);
            chosen.entry(i).or_insert(deleted);
            tries += 1;
        }
    };
    take(&changed, target_drift * 40 / 100, false, rng, &mut chosen);
    take(&creates, target_drift * 5 / 100, true, rng, &mut chosen);
    let rest = target_drift.saturating_sub(chosen.len());
    take(&noops, rest, false, rng, &mut chosen);

    let mut drift = Vec::new();
    let mut relevant = Vec::new();
    let (mut linked, mut deleted) = (0, 0);
    for (&i, &gone) in &chosen {
        let r = &g.resources[i];
        if gone {
            // The plan re-creates it; drift says the live object vanished.
            let mut values = r.after.clone();
            if let Some(o) = values.as_object_mut() {
                o.insert("id".into(), json!(format!("{}-{}", r.name, rng.hex(8))));
            }
            drift.push(change_entry(
                r,
                &values,
                &Value::Null,
                json!(["delete"]),
                &json!({}),
            ));
            deleted += 1;
            continue;
        }
        let live = &r.before;
        let state = drifted_state(r.kind, live, rng);
        drift.push(change_entry(r, &state, live, json!(["update"]), &json!({})));
        if r.act.changes_something() {
            linked += 1;
            if let Some(ptr) = capacity_pointer(r.kind) {
                let attr: Vec<Value> = ptr
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| {
                        s.parse::<u64>()
                            .map(|n| json!(n))
                            .unwrap_or_else(|_| json!(s))
                    })
                    .collect();
                relevant.push(json!({"resource": r.address, "attribute": attr}));
            }
        }
    }

    let mut changes = Vec::with_capacity(n);
    let mut planned = Vec::new();
    let mut prior = Vec::new();
    let mut config_root = Vec::new();
    let mut config_modules: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for r in &g.resources {
        changes.push(change_entry(
            r,
            &r.before,
            &r.after,
            r.act.words(),
            &r.after_unknown,
        ));
        if let (Some(reason), Some(Value::Object(last))) = (r.reason, changes.last_mut()) {
            last.insert("action_reason".into(), json!(reason));
        }
        if !r.after.is_null() {
            planned.push((r.module.clone(), resource_json(r, &r.after, true)));
        }
        if !r.before.is_null() {
            prior.push((r.module.clone(), resource_json(r, &r.before, true)));
        }
        // configuration: one block per resource (count blocks once), with a few expressions.
        if r.act != Act::Delete && r.index.is_none_or(|i| i == 0) {
            let values = if r.after.is_null() {
                &r.before
            } else {
                &r.after
            };
            let mut expressions = Map::new();
            for (k, v) in values.as_object().into_iter().flatten().take(4) {
                if !v.is_null()
                    && !v.is_array()
                    && !v.is_object()
                    && !computed(r.kind).contains(&k.as_str())
                {
                    expressions.insert(k.clone(), json!({"constant_value": v}));
                }
            }
            let mut block = json!({
                "address": r.address.split('[').next().unwrap_or(&r.address).trim_start_matches(&format!("{}.", r.module.as_deref().unwrap_or("-"))),
                "mode": "managed",
                "type": r.kind,
                "name": r.name,
                "provider_config_key": r.provider.rsplit('/').next().unwrap_or("aws"),
                "expressions": expressions,
                "schema_version": 0,
            });
            if r.index.is_some() {
                block["count_expression"] = json!({"references": ["var.size"]});
            }
            match &r.module {
                Some(m) => config_modules.entry(m.clone()).or_default().push(block),
                None => config_root.push(block),
            }
        }
    }
    let module_calls: Map<String, Value> = config_modules
        .into_iter()
        .map(|(m, resources)| {
            (
                m.trim_start_matches("module.").to_string(),
                json!({
                    "source": "./modules/pool",
                    "expressions": {"size": {"constant_value": POOL_SIZE}},
                    "module": {"resources": resources, "variables": {"size": {"default": 3}}},
                }),
            )
        })
        .collect();
    let plan = json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"env": {"value": "prod"}, "region": {"value": REGION}},
        "planned_values": {"root_module": module_tree(planned)},
        "resource_drift": drift,
        "resource_changes": changes,
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": "1.9.8",
            "values": {"root_module": module_tree(prior)},
        },
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "full_name": AWS, "expressions": {"region": {"constant_value": REGION}}},
                "kubernetes": {"name": "kubernetes", "full_name": K8S},
                "google": {"name": "google", "full_name": GOOGLE, "expressions": {"project": {"constant_value": "acme-prod"}}},
            },
            "root_module": {"resources": config_root, "module_calls": module_calls},
        },
        "relevant_attributes": relevant,
        "timestamp": "2026-11-24T09:57:12Z",
        "applyable": true,
        "complete": true,
        "errored": false,
    });
    PlanFile {
        plan,
        drift_entries: chosen.len(),
        drift_linked: linked,
        drift_deleted: deleted,
    }
}

/// `aws autoscaling describe-auto-scaling-groups` for every ASG that exists live.
pub fn build_observed(g: &Generated, rng: &mut Rng) -> (Value, usize, usize) {
    let mut groups = Vec::new();
    let mut members = 0;
    let mut unstable_groups = 0;
    for (name, live) in &g.asgs {
        let desired = get_i64(live, "/desired_capacity");
        let lt = &live["launch_template"][0];
        let lt_json = json!({"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"], "Version": lt["version"]});
        // A quarter of the groups are mid-change: members leaving, joining, unhealthy.
        let unstable = rng.chance(25);
        unstable_groups += usize::from(unstable);
        let mut instances = Vec::new();
        for k in 0..desired.max(0) {
            let (state, health) = if unstable && rng.chance(40) {
                *rng.pick(&[
                    ("Terminating:Wait", "Unhealthy"),
                    ("Terminating", "Unhealthy"),
                    ("Pending", "Healthy"),
                    ("Pending:Wait", "Healthy"),
                    ("InService", "Unhealthy"),
                    ("Standby", "Healthy"),
                ])
            } else {
                ("InService", "Healthy")
            };
            instances.push(json!({
                "InstanceId": format!("i-0{}", rng.hex(16)),
                "InstanceType": rng.pick(&["m6i.large", "r6g.2xlarge", "c6i.xlarge"]),
                "AvailabilityZone": AZS[(k % 3) as usize],
                "LifecycleState": state,
                "HealthStatus": health,
                "LaunchTemplate": lt_json,
                "ProtectedFromScaleIn": false,
            }));
        }
        members += instances.len();
        let tags: Vec<Value> = live["tag"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| json!({"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": t["key"], "Value": t["value"], "PropagateAtLaunch": t["propagate_at_launch"]}))
            .collect();
        let mut group = json!({
            "AutoScalingGroupName": name,
            "AutoScalingGroupARN": live["arn"],
            "LaunchTemplate": lt_json,
            "MinSize": live["min_size"],
            "MaxSize": live["max_size"],
            "DesiredCapacity": desired,
            "DefaultCooldown": 300,
            "AvailabilityZones": AZS,
            "LoadBalancerNames": [],
            "TargetGroupARNs": live["target_group_arns"],
            "HealthCheckType": live["health_check_type"],
            "HealthCheckGracePeriod": 300,
            "Instances": instances,
            "CreatedTime": "2025-03-02T14:12:09.512Z",
            "SuspendedProcesses": [],
            "VPCZoneIdentifier": live["vpc_zone_identifier"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")).unwrap_or_default(),
            "EnabledMetrics": [],
            "Tags": tags,
            "TerminationPolicies": ["Default"],
            "NewInstancesProtectedFromScaleIn": false,
            "ServiceLinkedRoleARN": live["service_linked_role_arn"],
            "TrafficSources": live["target_group_arns"].as_array().into_iter().flatten().map(|a| json!({"Identifier": a, "Type": "elbv2"})).collect::<Vec<_>>(),
        });
        if unstable && rng.chance(10) {
            group["Status"] = json!("Delete in progress");
        }
        groups.push(group);
    }
    (
        json!({ "AutoScalingGroups": groups }),
        members,
        unstable_groups,
    )
}

pub fn build_config(g: &Generated) -> String {
    let mut s = String::from(
        "# Generated by benches/large_plan.rs\nstabilization_window: 10m\nmax_observed_age: 15m\ngroups:\n",
    );
    for (i, name) in g.quorum_groups.iter().enumerate() {
        let quorum = if i % 10 == 9 { "2" } else { "majority" };
        let _ = writeln!(s, "  \"{name}\":\n    quorum: {quorum}");
    }
    s
}
