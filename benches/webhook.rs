//! Load benchmark of `quorate serve` on loopback with TLS, side by side with nginx serving a
//! static 1 KB JSON over TLS (not run in CI; needs `wrk` and `nginx` from Debian):
//!
//!     apt-get install wrk nginx-light
//!     cargo bench --bench webhook            # BENCH_SECONDS=10 by default
//!
//! 1. Throughput: `wrk -t2 -c32 --latency` (closed loop, keep-alive) against quorate for an
//!    allowed and a denied AdmissionReview, and against nginx.
//! 2. Latency at a fixed rate: half of nginx's requests/s (or, when quorate cannot reach that,
//!    half of quorate's own maximum; and 100 req/s), sent open-loop by this program over 16
//!    keep-alive connections: request i is due at start + i/rate. When its connection is still
//!    busy with an earlier request at that moment, its latency counts from the due time, so a slow
//!    answer delays the ones behind it instead of hiding them (no coordinated omission); wrk2 is
//!    not packaged in Debian. Reports p50/p99/p99.9.
//!
//! quorate runs as its own process (the release binary, lookups off), as in production.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio_rustls::rustls;

const QUORATE_PORT: u16 = 18443;
const NGINX_PORT: u16 = 18444;

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench -- --list`: nothing to list
    }
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for tool in ["wrk", "nginx"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            eprintln!("{tool} is not installed: apt-get install wrk nginx-light");
            std::process::exit(2);
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca_pem, cert, key) = certificates();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, &ca_pem).expect("write ca");
    std::fs::write(dir.path().join("tls.crt"), cert).expect("write cert");
    std::fs::write(dir.path().join("tls.key"), key).expect("write key");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/admission");
    let allowed = fixtures.join("statefulset-5-to-4-allowed.json");
    let denied = fixtures.join("scale-to-zero-no-lookups-denied.json");
    // 1 KB of JSON for nginx: an AdmissionReview answer padded to 1024 bytes.
    let mut static_json = String::from(
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"0b5e6f10-0011-4a6b-9c1d-2e3f4a5b6c7d","allowed":true,"pad":""#,
    );
    while static_json.len() < 1024 - 3 {
        static_json.push('x');
    }
    static_json.push_str("\"}}");
    std::fs::write(dir.path().join("review.json"), &static_json).expect("write json");

    // Stopped on drop, also when a step below panics.
    let _quorate = Proc(start_quorate(dir.path()));
    let _nginx = Proc(start_nginx(dir.path()));
    wait_for_port(QUORATE_PORT);
    wait_for_port(NGINX_PORT);

    let mut rows = Vec::new();
    let q = format!("https://127.0.0.1:{QUORATE_PORT}/validate");
    let n = format!("https://127.0.0.1:{NGINX_PORT}/review.json");
    let wrk_allowed = wrk(&q, Some(&allowed), seconds, dir.path());
    let wrk_denied = wrk(&q, Some(&denied), seconds, dir.path());
    let wrk_nginx = wrk(&n, None, seconds, dir.path());
    rows.push(("quorate allowed", wrk_allowed.clone()));
    rows.push(("quorate denied", wrk_denied.clone()));
    rows.push(("nginx static 1 KB", wrk_nginx.clone()));
    println!("\nthroughput (wrk -t2 -c32 -d{seconds}s --latency, keep-alive, TLS):");
    println!(
        "{:<20} {:>10} {:>9} {:>9}",
        "target", "req/s", "p50 ms", "p99 ms"
    );
    for (name, r) in &rows {
        println!(
            "{name:<20} {:>10.0} {:>9.2} {:>9.2}",
            r.rps, r.p50_ms, r.p99_ms
        );
    }
    println!(
        "quorate/nginx: allowed {:.2}, denied {:.2} (target >= 0.5)",
        wrk_allowed.rps / wrk_nginx.rps,
        wrk_denied.rps / wrk_nginx.rps
    );

    let target_rate = (wrk_nginx.rps / 2.0).round();
    let quorate_max = wrk_allowed.rps.min(wrk_denied.rps);
    // Half of nginx is far beyond what one policy evaluation per review allows on this machine;
    // sending it open-loop would only measure an ever-growing queue. Then the fixed rate is half
    // of quorate's own closed-loop maximum, the same for all three targets, and we say so.
    let rate = if target_rate <= quorate_max {
        target_rate
    } else {
        (quorate_max / 2.0).round().max(1.0)
    };
    if rate < target_rate {
        println!(
            "\nhalf of nginx ({target_rate:.0} req/s) exceeds quorate's maximum ({quorate_max:.0} req/s); fixed rate = half of quorate's maximum"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let ca_pem = Arc::new(ca_pem);
    // Also a rate an API server might really send (admission load is low but bursty).
    for rate in [rate, 100.0] {
        println!("\nfixed rate {rate:.0} req/s, open loop, 16 connections, {seconds}s:");
        for (name, addr, path, body) in [
            ("quorate allowed", QUORATE_PORT, "/validate", Some(&allowed)),
            ("quorate denied", QUORATE_PORT, "/validate", Some(&denied)),
            ("nginx static 1 KB", NGINX_PORT, "/review.json", None),
        ] {
            let body = body.map(|p| std::fs::read(p).expect("fixture"));
            let r = runtime.block_on(fixed_rate(
                SocketAddr::from(([127, 0, 0, 1], addr)),
                path,
                body,
                rate,
                Duration::from_secs(seconds),
                ca_pem.clone(),
            ));
            println!(
                "{name:<20} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                r.sent_per_s, r.p50_ms, r.p99_ms, r.p999_ms, r.errors
            );
        }
    }
}

/// A child process stopped with SIGTERM on drop, so nginx's master takes its workers down with
/// it (SIGKILL would orphan them, still listening).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn start_quorate(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args([
            "serve",
            "--no-lookups",
            "--addr",
            &format!("127.0.0.1:{QUORATE_PORT}"),
        ])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .current_dir(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("quorate starts")
}

fn start_nginx(dir: &Path) -> Child {
    let conf = format!(
        "worker_processes auto;\nerror_log {d}/nginx-error.log;\npid {d}/nginx.pid;\ndaemon off;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{NGINX_PORT} ssl;\n    ssl_certificate {d}/tls.crt;\n    ssl_certificate_key {d}/tls.key;\n\
             keepalive_requests 1000000;\n    location = /review.json {{ root {d}; default_type application/json; }}\n  }}\n}}\n",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    Command::new("nginx")
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts")
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

#[derive(Clone, Debug)]
struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk(url: &str, body: Option<&PathBuf>, seconds: u64, dir: &Path) -> WrkResult {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(b) = body {
        let script = dir.join("post.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal f = io.open(\"{}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
                b.display()
            ),
        )
        .expect("lua");
        cmd.arg("-s").arg(script);
    }
    let out = cmd.arg(url).output().expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "$ wrk -t2 -c32 -d{seconds}s --latency {} {url}\n{text}",
        if body.is_some() { "-s post.lua" } else { "" }
    );
    let ms = |line: &str| -> f64 {
        let v = line.split_whitespace().nth(1).unwrap_or("0");
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(0.0)
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let find = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or("")
            .to_string()
    };
    WrkResult {
        rps: find("Requests/sec:")
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50_ms: ms(&find("50%")),
        p99_ms: ms(&find("99%")),
    }
}

struct RateResult {
    sent_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: usize,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr, ca_pem: &str) -> Sender {
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca"))
        .expect("root");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("tls");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("http");
    tokio::spawn(conn);
    sender
}

/// Open-loop load: request i is due at start + i/rate; its latency counts from that moment.
async fn fixed_rate(
    addr: SocketAddr,
    path: &'static str,
    body: Option<Vec<u8>>,
    rate: f64,
    duration: Duration,
    ca: Arc<String>,
) -> RateResult {
    const CONNECTIONS: usize = 16;
    let total = (rate * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let body = Bytes::from(body.unwrap_or_default());
    let method = if body.is_empty() { "GET" } else { "POST" };
    let mut senders = Vec::new();
    for _ in 0..CONNECTIONS {
        senders.push(connect(addr, &ca).await);
    }
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for (k, mut sender) in senders.into_iter().enumerate() {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut i = k;
            let mut last_done = Instant::now();
            while i < total {
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due).await;
                // Latency counts from the due time when this connection was still busy with the
                // previous request then (backlog: no coordinated omission), else from the send:
                // the timer wheel's 1 ms ticks wake us late, and that is not the server's time.
                let origin = if last_done > due.into_std() {
                    due.into_std()
                } else {
                    Instant::now()
                };
                let req = hyper::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .expect("request");
                match sender.send_request(req).await {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.into_body().collect().await;
                        lat.push(Instant::now().saturating_duration_since(origin));
                    }
                    _ => errors += 1,
                }
                last_done = Instant::now();
                i += CONNECTIONS;
            }
            (lat, errors)
        }));
    }
    let began = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        all.extend(l);
        errors += e;
    }
    let elapsed = began.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(all.len() - 1);
        all.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    RateResult {
        sent_per_s: (all.len() + errors) as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        errors,
    }
}
