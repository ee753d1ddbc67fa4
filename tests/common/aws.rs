//! AWS for the tests: moto's server mode on loopback (a real implementation of the Auto
//! Scaling API), set up with boto3 (tests/moto/world.py), and a local proxy in front of it
//! that answers some calls with recorded AWS Query responses (lifecycle states moto never
//! produces, calls it does not implement, throttling) and forwards the rest.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const REGION: &str = "eu-west-1";

fn python() -> Command {
    let mut c = Command::new(std::env::var("QUORATE_MOTO_PYTHON").unwrap_or("python3".into()));
    // .ci/run installs moto[server] into its cache with `pip --target`.
    if let Some(path) = std::env::var_os("QUORATE_MOTO_PYTHONPATH") {
        c.env("PYTHONPATH", path);
    }
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto; `None` (the test is skipped) when it is not installed, unless
    /// QUORATE_REQUIRE_MOTO=1 (CI), where that fails the test.
    pub fn start() -> Option<Moto> {
        let required = std::env::var("QUORATE_REQUIRE_MOTO").as_deref() == Ok("1");
        let installed = python()
            .args(["-c", "import moto.server, boto3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                !required,
                "QUORATE_REQUIRE_MOTO=1 but moto[server] cannot be imported (QUORATE_MOTO_PYTHONPATH={:?})",
                std::env::var_os("QUORATE_MOTO_PYTHONPATH")
            );
            eprintln!("skipped: moto[server] is not installed (pip install 'moto[server]')");
            return None;
        }
        let port = free_port();
        let child = python()
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Moto { port, child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs tests/moto/world.py against this server; its JSON output.
    pub fn world(&self, args: &[&str]) -> Value {
        world(self.port, args)
    }

    /// The ids of a group's instances, in moto's order.
    pub fn instance_ids(&self, group: &str) -> Vec<String> {
        self.world(&["instances", group])
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Runs tests/moto/world.py against the moto server on `port`; its JSON output.
pub fn world(port: u16, args: &[&str]) -> Value {
    let script = super::root().join("tests/moto/world.py");
    let out = python()
        .arg(script)
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "world.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("world.py prints JSON")
}

/// One AWS Query call as the proxy saw it.
pub struct Call {
    pub action: String,
    pub body: String,
    /// How many calls of this action came before it.
    pub nth: usize,
}

/// An answer: HTTP status and XML body.
pub type Answer = (u16, String);
pub type Rule = Arc<dyn Fn(&Call) -> Option<Answer> + Send + Sync>;

/// A loopback HTTP server answering AWS Query calls: `rule` first, else moto (if any).
pub struct Proxy {
    pub addr: SocketAddr,
    pub calls: Arc<Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Proxy {
    pub fn start(upstream: Option<u16>, rule: Rule) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let counts: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (rule, seen, counts) = (rule.clone(), seen.clone(), counts.clone());
                std::thread::spawn(move || serve(stream, upstream, &rule, &seen, &counts));
            }
        });
        Proxy {
            addr,
            calls,
            _thread: thread,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self, action: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|a| *a == action)
            .count()
    }
}

/// Reads one HTTP/1.1 request (head + Content-Length body).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn param<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Forwards a request to moto unchanged (moto routes by the signature's service name).
fn forward(port: u16, head: &str, body: &[u8]) -> Answer {
    let mut up = TcpStream::connect(("127.0.0.1", port)).expect("moto answers");
    let mut out = String::new();
    for line in head.split("\r\n") {
        if line.is_empty() || line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    up.write_all(out.as_bytes()).unwrap();
    up.write_all(body).unwrap();
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    // moto answers HTTP/1.1 with a Content-Length; chunked bodies are not expected here.
    (status, body.to_string())
}

fn serve(
    mut stream: TcpStream,
    upstream: Option<u16>,
    rule: &Rule,
    seen: &Mutex<Vec<String>>,
    counts: &Mutex<std::collections::HashMap<String, usize>>,
) {
    while let Some((head, body)) = read_request(&mut stream) {
        let text = String::from_utf8_lossy(&body).to_string();
        let action = param(&text, "Action").unwrap_or("").to_string();
        seen.lock().unwrap().push(action.clone());
        let nth = {
            let mut c = counts.lock().unwrap();
            let n = c.entry(action.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let call = Call {
            action,
            body: text,
            nth,
        };
        let (status, xml) = match rule(&call) {
            Some(a) => a,
            None => match upstream {
                Some(port) => forward(port, &head, &body),
                None => (
                    400,
                    error_xml("InvalidAction", &format!("no answer for {}", call.action)),
                ),
            },
        };
        let reason = if status == 200 { "OK" } else { "Error" };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nx-amzn-RequestId: 7a62c49f-347e-4fc4-9331-6e8eEXAMPLE\r\n\r\n{xml}",
            xml.len()
        );
        if stream.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"
    )
}

/// An EC2 error answer (the EC2 Query protocol's shape differs from Auto Scaling's).
pub fn ec2_error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"
    )
}

/// DescribeInstanceRefreshes (moto does not implement it), with these refreshes.
pub fn refreshes_xml(members: &str) -> String {
    format!(
        "<DescribeInstanceRefreshesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><DescribeInstanceRefreshesResult><InstanceRefreshes>{members}</InstanceRefreshes></DescribeInstanceRefreshesResult><ResponseMetadata><RequestId>1c2d3e4f-0000-4000-8000-000000000001</RequestId></ResponseMetadata></DescribeInstanceRefreshesResponse>"
    )
}

/// DescribeScalingActivities (moto always answers an empty list), with these activities.
pub fn activities_xml(members: &str) -> String {
    format!(
        "<DescribeScalingActivitiesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><DescribeScalingActivitiesResult><Activities>{members}</Activities></DescribeScalingActivitiesResult><ResponseMetadata><RequestId>1c2d3e4f-0000-4000-8000-000000000002</RequestId></ResponseMetadata></DescribeScalingActivitiesResponse>"
    )
}

/// One scaling activity; `end` None: still in progress.
pub fn activity_member(
    group: &str,
    status: &str,
    start: &str,
    end: Option<&str>,
    what: &str,
) -> String {
    let end = end.map_or(String::new(), |e| format!("<EndTime>{e}</EndTime>"));
    format!(
        "<member><ActivityId>f9f2d65b-f1f2-43e7-b46d-d86756459699</ActivityId><AutoScalingGroupName>{group}</AutoScalingGroupName><Description>{what}</Description><Cause>At {start} an instance was taken out of service in response to a user request.</Cause><StartTime>{start}</StartTime>{end}<StatusCode>{status}</StatusCode><Progress>{}</Progress></member>",
        if status == "Successful" { 100 } else { 50 }
    )
}

/// The moto answer to DescribeAutoScalingGroups with some instances' lifecycle state and
/// health replaced (states moto does not produce, as AWS reports them mid-termination).
pub fn with_states(xml: &str, states: &[(&str, &str, &str)]) -> String {
    let mut out = xml.to_string();
    for (id, state, health) in states {
        let at = out
            .find(&format!("<InstanceId>{id}</InstanceId>"))
            .unwrap_or_else(|| panic!("{id} is not in the answer"));
        for (tag, value) in [("LifecycleState", state), ("HealthStatus", health)] {
            let open = format!("<{tag}>");
            let start = at + out[at..].find(&open).unwrap() + open.len();
            let end = start + out[start..].find(&format!("</{tag}>")).unwrap();
            out.replace_range(start..end, value);
        }
    }
    out
}

/// Forwards one request to moto from a rule (to read its answer and change it).
pub fn ask_moto(port: u16, body: &str) -> String {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/autoscaling/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    forward(port, head.trim_end_matches("\r\n\r\n"), body.as_bytes()).1
}

/// How a test runs quorate against an AWS endpoint: (dir, endpoint, args, extra env).
pub type Runner = fn(&Path, &str, &[&str], &[(&str, &str)]) -> Output;

/// Runs quorate against an AWS endpoint with static test credentials, sealed from the
/// machine's AWS configuration (no ~/.aws, no instance metadata).
pub fn run_quorate(
    dir: &Path,
    endpoint: &str,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Output {
    let mut c = Command::new(super::bin());
    c.args(args);
    sealed(&mut c, dir, endpoint, extra_env)
        .output()
        .expect("quorate runs")
}

/// The same, on a terminal: quorate runs on the slave side of a pseudo-terminal
/// (`common::in_pty`); stdout holds everything it drew there.
pub fn run_quorate_in_pty(
    dir: &Path,
    endpoint: &str,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Output {
    let mut c = super::in_pty(super::bin(), args);
    sealed(&mut c, dir, endpoint, extra_env)
        .output()
        .expect("quorate runs in a pty")
}

fn sealed<'a>(
    c: &'a mut Command,
    dir: &Path,
    endpoint: &str,
    extra_env: &[(&str, &str)],
) -> &'a mut Command {
    let home = dir.join(".home");
    let _ = std::fs::create_dir_all(&home);
    c.current_dir(dir)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint);
    // An empty value removes the variable.
    for (k, v) in extra_env {
        if v.is_empty() {
            c.env_remove(k);
        } else {
            c.env(k, v);
        }
    }
    c
}

/// Counts calls of one kind across threads (for rules).
pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

pub fn bump(c: &AtomicUsize) -> usize {
    c.fetch_add(1, Ordering::SeqCst)
}

/// A Terraform plan (`terraform show -json`) changing the desired capacity of Auto Scaling
/// groups: (resource name, group name, before, after).
pub fn asg_plan(changes: &[(&str, &str, i64, i64)]) -> String {
    let rc: Vec<Value> = changes
        .iter()
        .map(|(res, group, before, after)| {
            let side = |desired: i64| {
                serde_json::json!({
                    "name": group, "desired_capacity": desired, "min_size": 0, "max_size": 9,
                    "launch_template": [{"name": format!("{group}-node"), "version": "$Latest"}],
                })
            };
            serde_json::json!({
                "address": format!("aws_autoscaling_group.{res}"),
                "mode": "managed",
                "type": "aws_autoscaling_group",
                "name": res,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["update"],
                    "before": side(*before),
                    "after": side(*after),
                    "after_unknown": {},
                },
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": rc,
        "applyable": true,
        "complete": true,
    }))
    .unwrap()
}

/// The five-member etcd count group of testdata/scenarios/instance-count-group (`aws_instance`
/// with count, as `terraform show -json` prints it) with these instance ids, deleting the
/// members at the indexes in `deleted` and leaving the rest unchanged (no-op).
pub fn instance_plan(ids: &[String], deleted: &[usize]) -> String {
    let path = super::root().join("testdata/scenarios/instance-count-group/plan.json");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (i, id) in ids.iter().enumerate() {
        text = text.replace(&format!("i-0e7c000000000000{i}"), id);
    }
    let mut plan: Value = serde_json::from_str(&text).unwrap();
    for rc in plan["resource_changes"].as_array_mut().unwrap() {
        let index = rc["index"].as_u64().unwrap() as usize;
        let change = &mut rc["change"];
        if deleted.contains(&index) {
            change["actions"] = serde_json::json!(["delete"]);
            change["after"] = Value::Null;
        } else {
            change["actions"] = serde_json::json!(["no-op"]);
            change["after"] = change["before"].clone();
        }
    }
    serde_json::to_string(&plan).unwrap()
}

/// An EC2 DescribeInstances answer (the EC2 Query protocol's XML) with these instances:
/// (id, state name, state code).
pub fn instances_xml(instances: &[(&str, &str, u32)]) -> String {
    let items: String = instances
        .iter()
        .enumerate()
        .map(|(i, (id, name, code))| {
            format!(
                "<item><instanceId>{id}</instanceId><imageId>ami-0abcdef1234567890</imageId>\
                 <instanceState><code>{code}</code><name>{name}</name></instanceState>\
                 <instanceType>m6i.large</instanceType><launchTime>2026-11-20T08:00:00.000Z</launchTime>\
                 <placement><availabilityZone>eu-west-1a</availabilityZone><tenancy>default</tenancy></placement>\
                 <tagSet><item><key>Name</key><value>etcd-{i}</value></item><item><key>role</key><value>etcd</value></item></tagSet></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>8f7724cf-496f-496e-8fe3-example</requestId><reservationSet><item>\
         <reservationId>r-0a1b2c3d4e5f60718</reservationId><ownerId>123456789012</ownerId><groupSet/>\
         <instancesSet>{items}</instancesSet></item></reservationSet></DescribeInstancesResponse>"
    )
}
