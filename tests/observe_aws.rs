//! `--observe aws`: quorate reads the groups a plan changes through the AWS SDK, from moto's
//! server mode on loopback (and recorded AWS Query answers for what moto does not produce),
//! and they land in the same model as the AWS CLI's JSON files.
#![cfg(feature = "aws")]

use crate::common;

use std::sync::Arc;

use crate::common::aws::{self, Call, Moto, Proxy};
use serde_json::Value;

const NOW: &str = "2026-11-24T10:00:00Z";

fn input(out: &std::process::Output) -> Value {
    assert_eq!(
        common::code(out),
        0,
        "stdout: {}\nstderr: {}",
        common::stdout(out),
        common::stderr(out)
    );
    serde_json::from_str(&common::stdout(out)).expect("the input is JSON")
}

fn member<'a>(group: &'a Value, id: &str) -> Option<&'a Value> {
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
}

/// moto does not implement DescribeInstanceRefreshes: answered with none; the rest is moto's.
fn no_refreshes() -> aws::Rule {
    Arc::new(|c: &Call| {
        (c.action == "DescribeInstanceRefreshes").then(|| (200, aws::refreshes_xml("")))
    })
}

#[test]
fn observe_aws_reads_only_the_changed_groups_from_moto() {
    let Some(moto) = Moto::start() else { return };
    moto.world(&["group", "search-prod", "6"]);
    moto.world(&["group", "billing-prod", "2"]);
    let ids = moto.instance_ids("search-prod");
    moto.world(&["standby", "search-prod", &ids[0]]);
    moto.world(&["unhealthy", &ids[1]]);
    moto.world(&["terminate", &ids[2], "decrement"]);
    moto.world(&["desired", "search-prod", "5"]);
    let proxy = Proxy::start(Some(moto.port), no_refreshes());

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        aws::asg_plan(&[("search", "search-prod", 5, 4)]),
    )
    .unwrap();
    let out = aws::run_quorate(
        dir.path(),
        &proxy.url(),
        &[
            "check",
            "plan.json",
            "--observe",
            "aws",
            "--now",
            NOW,
            "--emit-input",
        ],
        &[],
    );
    let set = input(&out);
    let groups = set["observed"]["groups"].as_object().unwrap();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["search-prod"],
        "only the group the plan changes is observed"
    );
    let g = &groups["search-prod"];
    assert_eq!(g["desired"], 5);
    let standby = member(g, &ids[0]).expect("the Standby instance is a member");
    assert_eq!(standby["state"], "standby");
    assert_eq!(standby["raw_state"], "Standby");
    let sick = member(g, &ids[1]).expect("the unhealthy instance is a member");
    assert_eq!(sick["state"], "running");
    assert_eq!(sick["healthy"], false);
    assert!(
        member(g, &ids[2]).is_none(),
        "the terminated instance is gone"
    );
    let serving = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "running" && m["healthy"] == true)
        .count();
    assert_eq!(serving, 4, "{g:#}");
    // Observed when fetched (the evaluation clock), not guessed from a file.
    assert_eq!(set["observed"]["taken_at"], NOW);
    assert_eq!(g["sources"][0]["type"], "aws-describe-auto-scaling-groups");
    assert_eq!(g["sources"][0]["path"], "aws:DescribeAutoScalingGroups");
    assert_eq!(
        proxy.count("DescribeAutoScalingGroups"),
        1,
        "one call names the one group"
    );
    let body_names = proxy.calls.lock().unwrap().clone();
    assert!(body_names.contains(&"DescribeScalingActivities".to_string()));
}

#[test]
fn observe_aws_maps_recorded_lifecycle_states_across_pages_after_throttling() {
    let outage = std::fs::read_to_string(
        common::root().join("testdata/aws/describe-auto-scaling-groups.outage.xml"),
    )
    .unwrap();
    let page2 = std::fs::read_to_string(
        common::root().join("testdata/aws/describe-auto-scaling-groups.page2.xml"),
    )
    .unwrap();
    let rule: aws::Rule = Arc::new(move |c: &Call| {
        match c.action.as_str() {
        "DescribeAutoScalingGroups" if c.nth == 0 => {
            Some((400, aws::error_xml("Throttling", "Rate exceeded")))
        }
        "DescribeAutoScalingGroups" if c.body.contains("NextToken=") => Some((200, page2.clone())),
        "DescribeAutoScalingGroups" => Some((200, outage.clone())),
        "DescribeInstanceRefreshes" if c.body.contains("search-prod") => Some((
            200,
            aws::refreshes_xml(
                "<member><InstanceRefreshId>08b91cf7-8fa6-48af-b6a6-d227f40f1b9b</InstanceRefreshId><AutoScalingGroupName>search-prod</AutoScalingGroupName><Status>InProgress</Status><StartTime>2026-11-24T09:50:00Z</StartTime><PercentageComplete>40</PercentageComplete><InstancesToUpdate>4</InstancesToUpdate></member>",
            ),
        )),
        "DescribeInstanceRefreshes" => Some((200, aws::refreshes_xml(""))),
        "DescribeScalingActivities" => Some((200, aws::activities_xml(""))),
        _ => None,
    }
    });
    let proxy = Proxy::start(None, rule);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        aws::asg_plan(&[
            ("search", "search-prod", 6, 5),
            ("warm", "search-warm", 3, 2),
        ]),
    )
    .unwrap();
    let args = ["check", "plan.json", "--observe", "aws", "--now", NOW];
    let mut emit = args.to_vec();
    emit.push("--emit-input");
    let set = input(&aws::run_quorate(dir.path(), &proxy.url(), &emit, &[]));
    assert_eq!(
        proxy.count("DescribeAutoScalingGroups"),
        3,
        "throttled once, retried, then two pages"
    );
    let prod = &set["observed"]["groups"]["search-prod"];
    let raw: Vec<&str> = prod["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["raw_state"].as_str().unwrap())
        .collect();
    assert_eq!(
        raw,
        [
            "Terminating:Wait",
            "Terminating:Wait",
            "Terminating",
            "InService",
            "InService",
            "InService"
        ]
    );
    assert_eq!(prod["members"][0]["state"], "terminating");
    assert_eq!(prod["in_progress"], serde_json::json!(["instance-refresh"]));
    let warm = &set["observed"]["groups"]["search-warm"];
    assert_eq!(warm["desired"], 3, "the second page was read");
    let pending = member(warm, "i-0c3f5a7b9d1e30007").unwrap();
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["raw_state"], "Pending:Wait");

    // The same live state, judged: both scale-downs wait on members in transition.
    let mut compact = args.to_vec();
    compact.extend(["--format", "compact"]);
    let out = aws::run_quorate(dir.path(), &proxy.url(), &compact, &[]);
    assert_eq!(common::code(&out), 1, "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(
        text.contains("3 of 6 members of search-prod are in transition"),
        "{text}"
    );
    assert!(text.contains("i-0c3f5a7b9d1e30007 Pending:Wait"), "{text}");
    assert!(
        text.contains("instance refresh InProgress (40% complete)"),
        "{text}"
    );
}

#[test]
fn observe_aws_failures_name_the_call_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.json"),
        aws::asg_plan(&[("search", "search-prod", 6, 5)]),
    )
    .unwrap();
    let args = ["check", "plan.json", "--observe", "aws", "--now", NOW];

    // Nothing listens: the call that failed and where it went are named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = aws::run_quorate(dir.path(), &url, &args, &[]);
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 2, "{err}");
    assert!(
        err.contains("AWS DescribeAutoScalingGroups failed"),
        "{err}"
    );
    assert!(err.contains(&url), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Denied: the service's code and message, and the group.
    let rule: aws::Rule = Arc::new(|c: &Call| {
        match c.action.as_str() {
        "DescribeAutoScalingGroups" => Some((
            200,
            std::fs::read_to_string(
                common::root().join("testdata/aws/describe-auto-scaling-groups.page2.xml"),
            )
            .unwrap()
            .replace("search-warm", "search-prod"),
        )),
        _ => Some((
            403,
            aws::error_xml(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: autoscaling:DescribeInstanceRefreshes",
            ),
        )),
    }
    });
    let proxy = Proxy::start(None, rule);
    let out = aws::run_quorate(dir.path(), &proxy.url(), &args, &[]);
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 2, "{err}");
    assert!(
        err.contains("AWS DescribeInstanceRefreshes for search-prod failed"),
        "{err}"
    );
    assert!(err.contains("AccessDenied: User: arn:aws:iam"), "{err}");

    // No region anywhere: said before any call.
    let out = aws::run_quorate(
        dir.path(),
        &proxy.url(),
        &args,
        &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "")],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 2, "{err}");
    assert!(err.contains("no AWS region"), "{err}");

    // An unknown source is a usage error.
    let out = aws::run_quorate(
        dir.path(),
        &proxy.url(),
        &["check", "plan.json", "--observe", "gcp"],
        &[],
    );
    assert_eq!(common::code(&out), 2);
    assert!(common::stderr(&out).contains("--observe `gcp` is not a live source"));
}

#[test]
fn observe_aws_gives_the_model_the_cli_file_gives() {
    // The recorded answer was made from the outage's `aws autoscaling
    // describe-auto-scaling-groups` output: read through the SDK, it is the same group.
    let scenario = common::root().join("testdata/scenarios/search-cluster-outage");
    let outage = std::fs::read_to_string(
        common::root().join("testdata/aws/describe-auto-scaling-groups.outage.xml"),
    )
    .unwrap();
    let rule: aws::Rule = Arc::new(move |c: &Call| {
        match c.action.as_str() {
        "DescribeAutoScalingGroups" if c.body.contains("NextToken=") => Some((
            200,
            "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>".to_string(),
        )),
        "DescribeAutoScalingGroups" => Some((200, outage.clone())),
        "DescribeInstanceRefreshes" => Some((200, aws::refreshes_xml(""))),
        "DescribeScalingActivities" => Some((200, aws::activities_xml(""))),
        _ => None,
    }
    });
    let proxy = Proxy::start(None, rule);
    let dir = tempfile::tempdir().unwrap();
    for f in ["plan.json", "asg.json", "quorate.yaml"] {
        std::fs::copy(scenario.join(f), dir.path().join(f)).unwrap();
    }
    let common_args = ["check", "plan.json", "--now", NOW, "--emit-input"];
    let mut live = common_args.to_vec();
    live.extend(["--observe", "aws"]);
    let mut file = common_args.to_vec();
    file.extend(["--observed", "asg.json", "--observed-at", NOW]);
    let live = input(&aws::run_quorate(dir.path(), &proxy.url(), &live, &[]));
    let file = input(&aws::run_quorate(dir.path(), &proxy.url(), &file, &[]));
    let strip_sources = |v: &Value| {
        let mut g = v["observed"]["groups"]["search-prod"].clone();
        g.as_object_mut().unwrap().remove("sources");
        g
    };
    assert_eq!(strip_sources(&live), strip_sources(&file));
    assert_eq!(live["changes"][0]["effect"], file["changes"][0]["effect"]);
}

#[cfg(feature = "aws-ec2")]
fn etcd(set: &Value) -> &Value {
    &set["observed"]["groups"]["aws_instance.etcd"]
}

/// `aws_instance` with count: the plan's instance ids are read with EC2 DescribeInstances,
/// and their live states decide the verdict of the same plan.
#[cfg(feature = "aws-ec2")]
#[test]
fn observe_aws_reads_the_instances_of_a_count_group_from_moto() {
    let Some(moto) = Moto::start() else { return };
    let ids: Vec<String> =
        serde_json::from_value(moto.world(&["run-instances", "etcd", "5"])).expect("instance ids");
    // Instances the plan does not name are not read.
    moto.world(&["run-instances", "bastion", "1"]);
    let proxy = Proxy::start(Some(moto.port), Arc::new(|_: &Call| None));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), aws::instance_plan(&ids, &[4])).unwrap();
    std::fs::write(
        dir.path().join("quorate.yaml"),
        "groups:\n  aws_instance.etcd:\n    quorum: majority\n",
    )
    .unwrap();
    let check = ["check", "plan.json", "--observe", "aws", "--now", NOW];
    let emit = [&check[..], &["--emit-input"]].concat();

    let set = input(&aws::run_quorate(dir.path(), &proxy.url(), &emit, &[]));
    let g = etcd(&set);
    let states: Vec<(&str, &str, bool)> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["raw_state"].as_str().unwrap(),
                m["healthy"].as_bool().unwrap(),
            )
        })
        .collect();
    let want: Vec<(&str, &str, bool)> = ids.iter().map(|i| (i.as_str(), "running", true)).collect();
    assert_eq!(states, want, "{g:#}");
    assert_eq!(g["sources"][0]["path"], "aws:DescribeInstances");
    assert_eq!(set["observed"]["taken_at"], NOW);
    assert_eq!(
        proxy.count("DescribeInstances"),
        1,
        "one call for the five ids"
    );
    assert_eq!(
        proxy.count("DescribeAutoScalingGroups"),
        0,
        "no Auto Scaling group is in the change"
    );
    // 5 -> 4 with every member running: allowed.
    let out = aws::run_quorate(dir.path(), &proxy.url(), &check, &[]);
    assert_eq!(common::code(&out), 0, "{}", common::stdout(&out));

    // Two members stopped by hand: the same plan now leaves 2 healthy of the 5 voters.
    moto.world(&["stop", &ids[0], &ids[1]]);
    let compact = [&check[..], &["--format", "compact"]].concat();
    let out = aws::run_quorate(dir.path(), &proxy.url(), &compact, &[]);
    let text = common::stdout(&out);
    assert_eq!(common::code(&out), 1, "{text}");
    assert!(text.contains("quorum/below-quorum"), "{text}");
    assert!(text.contains("3 healthy -> 2 healthy"), "{text}");
}

/// States moto never shows (it stops and starts instances at once), from recorded
/// DescribeInstances answers: members stopping or pending make the scale-down wait.
#[cfg(feature = "aws-ec2")]
#[test]
fn observe_aws_waits_on_instances_in_transition() {
    let ids: Vec<String> = (0..5).map(|i| format!("i-0e7c000000000000{i}")).collect();
    let xml = aws::instances_xml(&[
        (&ids[0], "stopping", 64),
        (&ids[1], "pending", 0),
        (&ids[2], "running", 16),
        (&ids[3], "running", 16),
        (&ids[4], "running", 16),
    ]);
    let rule: aws::Rule =
        Arc::new(move |c: &Call| (c.action == "DescribeInstances").then(|| (200, xml.clone())));
    let proxy = Proxy::start(None, rule);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), aws::instance_plan(&ids, &[4])).unwrap();
    let out = aws::run_quorate(
        dir.path(),
        &proxy.url(),
        &[
            "check",
            "plan.json",
            "--observe",
            "aws",
            "--now",
            NOW,
            "--format",
            "compact",
        ],
        &[],
    );
    let text = common::stdout(&out);
    assert_eq!(common::code(&out), 1, "{text}{}", common::stderr(&out));
    assert!(
        text.contains("2 of 5 members of aws_instance.etcd are in transition"),
        "{text}"
    );
    assert!(text.contains("i-0e7c0000000000000 stopping"), "{text}");
    assert!(text.contains("i-0e7c0000000000001 pending"), "{text}");
    let calls = proxy.calls.lock().unwrap().clone();
    assert_eq!(calls, ["DescribeInstances"]);
}

/// A DescribeInstances failure exits 2 naming the call, the region, the endpoint and the
/// permission it needs.
#[cfg(feature = "aws-ec2")]
#[test]
fn a_denied_describe_instances_names_the_call_and_the_permission() {
    let rule: aws::Rule = Arc::new(|c: &Call| {
        (c.action == "DescribeInstances").then(|| {
            (
                403,
                aws::ec2_error_xml(
                    "UnauthorizedOperation",
                    "You are not authorized to perform this operation.",
                ),
            )
        })
    });
    let proxy = Proxy::start(None, rule);
    let ids: Vec<String> = (0..5).map(|i| format!("i-0e7c000000000000{i}")).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), aws::instance_plan(&ids, &[4])).unwrap();
    let out = aws::run_quorate(
        dir.path(),
        &proxy.url(),
        &["check", "plan.json", "--observe", "aws", "--now", NOW],
        &[],
    );
    let err = common::stderr(&out);
    assert_eq!(common::code(&out), 2, "{err}");
    assert!(
        err.contains("AWS DescribeInstances failed (region eu-west-1, endpoint http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("UnauthorizedOperation"), "{err}");
    assert!(err.contains("ec2:DescribeInstances"), "{err}");
}
