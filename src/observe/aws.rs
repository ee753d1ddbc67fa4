//! `--observe aws` (the only user of the AWS SDK): DescribeAutoScalingGroups,
//! DescribeInstanceRefreshes and DescribeScalingActivities for the named groups, and (feature
//! `aws-ec2`) EC2 DescribeInstances for the instances of `aws_instance` groups, turned into the
//! JSON the AWS CLI prints for them (the API response, PascalCase) for `sources::aws`.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_autoscaling::config::http::HttpResponse;
use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_autoscaling::primitives::{DateTime, DateTimeFormat};
use aws_sdk_autoscaling::types::{
    Activity, AutoScalingGroup, Instance, InstanceRefresh, LaunchTemplateSpecification,
};
use aws_sdk_autoscaling::Client;
use aws_smithy_http_client::tls;
use serde_json::{json, Map, Value};
use std::time::Duration;

use super::{Fetched, ObserveOptions};
use crate::error::{Error, Result, Stage};

/// Names per DescribeAutoScalingGroups call (the API's limit for `MaxRecords`).
const PAGE: i32 = 100;
/// Instance ids per DescribeInstances call (the API's limit on the values of one filter).
#[cfg(feature = "aws-ec2")]
const IDS_PER_CALL: usize = 200;
/// Newest scaling activities and instance refreshes read per group: what is running now and
/// when the group last changed are at the top of both lists.
const RECENT: i32 = 50;

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .map_or(Value::Null, Value::String)
}

fn put(o: &mut Map<String, Value>, key: &str, v: impl Into<Value>) {
    let v = v.into();
    if !v.is_null() {
        o.insert(key.to_string(), v);
    }
}

fn launch_template(lt: Option<&LaunchTemplateSpecification>) -> Value {
    let Some(lt) = lt else { return Value::Null };
    let mut o = Map::new();
    put(&mut o, "LaunchTemplateId", lt.launch_template_id());
    put(&mut o, "LaunchTemplateName", lt.launch_template_name());
    put(&mut o, "Version", lt.version());
    Value::Object(o)
}

fn instance(i: &Instance) -> Value {
    let mut o = Map::new();
    put(&mut o, "InstanceId", i.instance_id());
    put(&mut o, "InstanceType", i.instance_type());
    put(&mut o, "AvailabilityZone", i.availability_zone());
    put(
        &mut o,
        "LifecycleState",
        i.lifecycle_state().map(|s| s.as_str()),
    );
    put(&mut o, "HealthStatus", i.health_status());
    put(
        &mut o,
        "LaunchTemplate",
        launch_template(i.launch_template()),
    );
    put(
        &mut o,
        "LaunchConfigurationName",
        i.launch_configuration_name(),
    );
    put(&mut o, "ProtectedFromScaleIn", i.protected_from_scale_in());
    Value::Object(o)
}

fn group(g: &AutoScalingGroup) -> Value {
    let mut o = Map::new();
    put(&mut o, "AutoScalingGroupName", g.auto_scaling_group_name());
    put(&mut o, "AutoScalingGroupARN", g.auto_scaling_group_arn());
    put(
        &mut o,
        "LaunchTemplate",
        launch_template(g.launch_template()),
    );
    put(
        &mut o,
        "LaunchConfigurationName",
        g.launch_configuration_name(),
    );
    put(&mut o, "MinSize", g.min_size());
    put(&mut o, "MaxSize", g.max_size());
    put(&mut o, "DesiredCapacity", g.desired_capacity());
    put(&mut o, "DefaultCooldown", g.default_cooldown());
    put(&mut o, "AvailabilityZones", g.availability_zones().to_vec());
    put(&mut o, "HealthCheckType", g.health_check_type());
    put(
        &mut o,
        "HealthCheckGracePeriod",
        g.health_check_grace_period(),
    );
    put(
        &mut o,
        "Instances",
        g.instances().iter().map(instance).collect::<Vec<_>>(),
    );
    put(&mut o, "CreatedTime", time(g.created_time()));
    put(&mut o, "Status", g.status());
    put(
        &mut o,
        "Tags",
        g.tags()
            .iter()
            .map(|t| {
                let mut o = Map::new();
                put(&mut o, "ResourceId", t.resource_id());
                put(&mut o, "ResourceType", t.resource_type());
                put(&mut o, "Key", t.key());
                put(&mut o, "Value", t.value());
                put(&mut o, "PropagateAtLaunch", t.propagate_at_launch());
                Value::Object(o)
            })
            .collect::<Vec<_>>(),
    );
    put(
        &mut o,
        "TerminationPolicies",
        g.termination_policies().to_vec(),
    );
    put(
        &mut o,
        "NewInstancesProtectedFromScaleIn",
        g.new_instances_protected_from_scale_in(),
    );
    Value::Object(o)
}

fn refresh(r: &InstanceRefresh) -> Value {
    let mut o = Map::new();
    put(&mut o, "InstanceRefreshId", r.instance_refresh_id());
    put(&mut o, "AutoScalingGroupName", r.auto_scaling_group_name());
    put(&mut o, "Status", r.status().map(|s| s.as_str()));
    put(&mut o, "StatusReason", r.status_reason());
    put(&mut o, "StartTime", time(r.start_time()));
    put(&mut o, "EndTime", time(r.end_time()));
    put(&mut o, "PercentageComplete", r.percentage_complete());
    put(&mut o, "InstancesToUpdate", r.instances_to_update());
    Value::Object(o)
}

fn activity(a: &Activity) -> Value {
    let mut o = Map::new();
    put(&mut o, "ActivityId", a.activity_id());
    put(&mut o, "AutoScalingGroupName", a.auto_scaling_group_name());
    put(&mut o, "Description", a.description());
    put(&mut o, "Cause", a.cause());
    put(&mut o, "StartTime", time(a.start_time()));
    put(&mut o, "EndTime", time(a.end_time()));
    put(&mut o, "StatusCode", a.status_code().map(|s| s.as_str()));
    put(&mut o, "StatusMessage", a.status_message());
    put(&mut o, "Progress", a.progress());
    Value::Object(o)
}

/// One EC2 instance as `aws ec2 describe-instances` prints it: what `sources::aws::ec2` reads
/// (id, state, image, launch time, tags; the Auto Scaling group tag links it to its group).
#[cfg(feature = "aws-ec2")]
fn ec2_instance(i: &aws_sdk_ec2::types::Instance) -> Value {
    let mut o = Map::new();
    put(&mut o, "InstanceId", i.instance_id());
    put(
        &mut o,
        "InstanceType",
        i.instance_type().map(|t| t.as_str()),
    );
    put(&mut o, "ImageId", i.image_id());
    put(&mut o, "LaunchTime", time(i.launch_time()));
    if let Some(state) = i.state() {
        let mut st = Map::new();
        put(&mut st, "Code", state.code());
        put(&mut st, "Name", state.name().map(|n| n.as_str()));
        o.insert("State".into(), Value::Object(st));
    }
    put(
        &mut o,
        "Placement",
        i.placement()
            .and_then(|p| p.availability_zone())
            .map(|az| json!({ "AvailabilityZone": az })),
    );
    put(
        &mut o,
        "Tags",
        i.tags()
            .iter()
            .map(|t| {
                let mut o = Map::new();
                put(&mut o, "Key", t.key());
                put(&mut o, "Value", t.value());
                Value::Object(o)
            })
            .collect::<Vec<_>>(),
    );
    Value::Object(o)
}

/// Where the calls went, for error messages: the region and any endpoint override.
struct Place {
    region: String,
    endpoint: Option<String>,
}

impl Place {
    fn error<E>(&self, call: &str, group: Option<&str>, e: &SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let what = match group {
            Some(g) => format!(" for {g}"),
            None => String::new(),
        };
        let at = match &self.endpoint {
            Some(url) => format!("region {}, endpoint {url}", self.region),
            None => format!("region {}", self.region),
        };
        let why = match e {
            SdkError::ServiceError(s) => {
                let err = s.err();
                match (err.code(), err.message()) {
                    (Some(code), Some(msg)) => format!("{code}: {msg}"),
                    (Some(code), None) => code.to_string(),
                    // Not an AWS error document (a proxy's or a stub's page): its status and start.
                    _ => {
                        let raw = s.raw();
                        let body: String = raw
                            .body()
                            .bytes()
                            .map(|b| String::from_utf8_lossy(b).chars().take(200).collect())
                            .unwrap_or_default();
                        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
                        format!("HTTP {}: {body}", raw.status().as_u16())
                    }
                }
            }
            _ => chain(e),
        };
        Error::file(
            Stage::Observed,
            format!("aws:{call}"),
            format!("AWS {call}{what} failed ({at}): {why}"),
        )
        .with_help(help(call, e))
    }
}

/// An error and its sources, each once: `dispatch failure: io error: ... Connection refused`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn help<E>(call: &str, e: &SdkError<E, HttpResponse>) -> String {
    match e {
        SdkError::ConstructionFailure(_) => {
            "the request could not be built: check the credentials (AWS_PROFILE / --aws-profile, AWS_ACCESS_KEY_ID, SSO login) and the region".into()
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            "the endpoint could not be reached: check the network, the region and AWS_ENDPOINT_URL".into()
        }
        SdkError::ServiceError(s) if s.raw().status().is_server_error() => {
            "the service failed after retries: try again later (a stand-in for AWS may not implement this call)".into()
        }
        _ if call == "DescribeInstances" => "the caller needs ec2:DescribeInstances".into(),
        _ => "the caller needs autoscaling:DescribeAutoScalingGroups, DescribeInstanceRefreshes and DescribeScalingActivities".into(),
    }
}

/// The shared SDK configuration: the standard credential chain and region resolution,
/// `--aws-profile` / `--aws-region` first, `AWS_ENDPOINT_URL` (and the per-service
/// `AWS_ENDPOINT_URL_AUTO_SCALING`, `AWS_ENDPOINT_URL_EC2`) honoured, throttling and transient
/// errors retried with backoff (3 attempts, the SDK's standard mode), and bounded timeouts.
async fn sdk_config(opts: &ObserveOptions) -> Result<(aws_config::SdkConfig, Place)> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(profile) = &opts.aws_profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.aws_region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    let Some(region) = config.region().map(|r| r.to_string()) else {
        return Err(Error::usage(
            "--observe aws: no AWS region: pass --aws-region, set AWS_REGION, or give the profile a region",
        ));
    };
    let place = Place {
        region,
        endpoint: config.endpoint_url().map(String::from),
    };
    Ok((config, place))
}

/// Fetches the named groups, their instance refreshes and their recent scaling activities, and
/// the EC2 instances with these ids.
pub async fn fetch(
    opts: &ObserveOptions,
    names: &[String],
    instance_ids: &[String],
) -> Result<Vec<Fetched>> {
    if names.is_empty() && instance_ids.is_empty() {
        return Ok(Vec::new());
    }
    let (config, place) = sdk_config(opts).await?;
    let mut out = Vec::new();
    if !names.is_empty() {
        out.extend(fetch_groups(&Client::new(&config), &place, names).await?);
    }
    if !instance_ids.is_empty() {
        out.push(fetch_instances(&config, &place, instance_ids).await?);
    }
    Ok(out)
}

/// DescribeInstances for these ids, as `aws ec2 describe-instances` prints it. An id the API
/// no longer knows (terminated and purged) is simply not in the answer: the instance is gone.
#[cfg(feature = "aws-ec2")]
async fn fetch_instances(
    config: &aws_config::SdkConfig,
    place: &Place,
    ids: &[String],
) -> Result<Fetched> {
    use aws_sdk_ec2::types::Filter;
    let client = aws_sdk_ec2::Client::new(config);
    let mut reservations = Vec::new();
    for chunk in ids.chunks(IDS_PER_CALL) {
        // A filter, not InstanceIds: one unknown id would fail the whole call.
        let filter = Filter::builder()
            .name("instance-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let mut pages = client
            .describe_instances()
            .filters(filter)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| place.error("DescribeInstances", None, &e))?;
            for r in page.reservations() {
                let instances: Vec<Value> = r.instances().iter().map(ec2_instance).collect();
                reservations
                    .push(json!({ "ReservationId": r.reservation_id(), "Instances": instances }));
            }
        }
    }
    Ok(Fetched {
        label: "aws:DescribeInstances".into(),
        value: json!({ "Reservations": reservations }),
        group: None,
    })
}

#[cfg(not(feature = "aws-ec2"))]
async fn fetch_instances(
    _config: &aws_config::SdkConfig,
    place: &Place,
    ids: &[String],
) -> Result<Fetched> {
    Err(Error::usage(format!(
        "--observe aws: the change touches {} EC2 instance(s) of aws_instance groups, and this quorate was built without the `aws-ec2` feature (region {})",
        ids.len(),
        place.region
    ))
    .with_help("build quorate with its default features, or pass `aws ec2 describe-instances` output with --observed"))
}

async fn fetch_groups(client: &Client, place: &Place, names: &[String]) -> Result<Vec<Fetched>> {
    let mut groups = Vec::new();
    for chunk in names.chunks(PAGE as usize) {
        let mut pages = client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(chunk.to_vec()))
            .max_records(PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| place.error("DescribeAutoScalingGroups", None, &e))?;
            groups.extend(page.auto_scaling_groups().iter().map(group));
        }
    }
    let found: Vec<String> = groups
        .iter()
        .filter_map(|g| g.get("AutoScalingGroupName").and_then(Value::as_str))
        .map(String::from)
        .collect();
    let mut refreshes = Vec::new();
    let mut activities = Vec::new();
    for name in &found {
        let r = client
            .describe_instance_refreshes()
            .auto_scaling_group_name(name)
            .max_records(RECENT)
            .send()
            .await
            .map_err(|e| place.error("DescribeInstanceRefreshes", Some(name), &e))?;
        refreshes.extend(r.instance_refreshes().iter().map(refresh));
        let a = client
            .describe_scaling_activities()
            .auto_scaling_group_name(name)
            .max_records(RECENT)
            .send()
            .await
            .map_err(|e| place.error("DescribeScalingActivities", Some(name), &e))?;
        activities.extend(a.activities().iter().map(activity));
    }
    Ok(vec![
        Fetched {
            label: "aws:DescribeAutoScalingGroups".into(),
            value: json!({ "AutoScalingGroups": groups }),
            group: None,
        },
        Fetched {
            label: "aws:DescribeInstanceRefreshes".into(),
            value: json!({ "InstanceRefreshes": refreshes }),
            group: None,
        },
        Fetched {
            label: "aws:DescribeScalingActivities".into(),
            value: json!({ "Activities": activities }),
            group: None,
        },
    ])
}
