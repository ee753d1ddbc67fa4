//! Helpers for the `quorate serve` tests over real sockets: a generated CA and serving
//! certificates, TLS clients (hyper, or a raw stream for byte-level tests), the binary as a
//! child process, and the process limits and memory figures those tests need.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use quorate::webhook::TlsFiles;

pub struct Pki {
    pub ca_pem: String,
    pub ca: rcgen::Certificate,
    pub ca_key: rcgen::KeyPair,
}

pub fn pki() -> Pki {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "quorate test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca,
        ca_key,
    }
}

/// A serving certificate for 127.0.0.1 / localhost: (cert PEM, key PEM, cert DER).
pub fn leaf(pki: &Pki, cn: &str) -> (String, String, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// A leaf certificate for `cn` written as `tls.crt` / `tls.key` in `dir`, and its DER.
pub fn tls_files(dir: &Path, pki: &Pki, cn: &str) -> (TlsFiles, Vec<u8>) {
    let (cert, key, der) = leaf(pki, cn);
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    std::fs::write(&files.cert, &cert).unwrap();
    std::fs::write(&files.key, &key).unwrap();
    (files, der)
}

pub fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    tls_connector_alpn(ca_pem, &[])
}

/// A TLS client that trusts the test CA and offers `alpn` (e.g. `b"h2"`).
pub fn tls_connector_alpn(ca_pem: &str, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    quorate::webhook::tls::install_crypto_provider();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(pem_der(ca_pem).into()).unwrap();
    let mut config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn pem_der(pem: &str) -> Vec<u8> {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

pub type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to the server, without HTTP on it (no ALPN: the server speaks HTTP/1.1).
pub async fn tls_stream(addr: SocketAddr, ca_pem: &str) -> TlsStream {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tls_connector(ca_pem).connect(name, tcp).await.unwrap()
}

pub type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// Opens a TLS connection and an HTTP/1.1 client on it; returns the server's certificate too.
/// `Sender::is_closed` tells when the server has closed the connection.
pub async fn connect(addr: SocketAddr, ca_pem: &str) -> (Sender, Vec<u8>) {
    let tls = tls_stream(addr, ca_pem).await;
    let peer = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (sender, peer)
}

pub type Sender2 = hyper::client::conn::http2::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// An HTTP/2 client over TLS (negotiated by ALPN, as the API server does); `Sender2::is_closed`
/// tells when the server has closed the connection.
pub async fn connect_h2(addr: SocketAddr, ca_pem: &str) -> Sender2 {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_connector_alpn(ca_pem, &[b"h2"])
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    sender
}

/// A GET over HTTP/2: (status, body).
pub async fn get_h2(sender: &mut Sender2, path: &str) -> (u16, String) {
    let req = hyper::Request::builder()
        .method("GET")
        .uri(format!("https://localhost{path}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    sender.ready().await.unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

pub async fn send(sender: &mut Sender, method: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    sender
        .ready()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: the connection is closed: {e}"));
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Waits (at most `deadline`, which only detects a hang) until the server has closed the
/// connection; `false` if it is still open.
pub async fn closed_within(sender: &Sender, deadline: Duration) -> bool {
    let started = tokio::time::Instant::now();
    while !sender.is_closed() {
        if started.elapsed() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// `/metrics` over `conn` (a new connection would count against the limits under test).
pub async fn metrics_over(conn: &mut Sender) -> String {
    let (status, text) = send(conn, "GET", "/metrics", vec![]).await;
    assert_eq!(status, 200, "{text}");
    text
}

/// `quorate_connections_closed_total{reason}` in the Prometheus text.
pub fn closed(text: &str, reason: &str) -> Option<f64> {
    metric(
        text,
        &format!("quorate_connections_closed_total{{reason=\"{reason}\"}}"),
    )
}

/// A metric sample's value in the Prometheus text, e.g.
/// `metric(&text, "quorate_connections_closed_total{reason=\"evicted\"}")`.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Raises this process's open-file soft limit to its hard limit; returns (soft, hard).
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write only the struct given, owned by this frame.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    (lim.rlim_cur as u64, lim.rlim_max as u64)
}

/// `quorate serve` as a child process, stopped (SIGKILL) when dropped.
pub struct ServeChild {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its stderr lines before "listening on".
    pub before: Vec<String>,
    /// The rest of its stderr, gathered by a thread.
    pub stderr: std::sync::mpsc::Receiver<String>,
}

impl ServeChild {
    /// Starts the binary in `dir` with `args` (give `--addr 127.0.0.1:0`) and waits for its
    /// "listening on" line.
    pub fn start(dir: &Path, args: &[&str]) -> ServeChild {
        Self::start_with(dir, args, None)
    }

    /// Like [`start`](Self::start), with the child's open-file limit (soft, hard) set first,
    /// as a container runtime would.
    pub fn start_with(dir: &Path, args: &[&str], nofile: Option<(u64, u64)>) -> ServeChild {
        let mut cmd = Command::new(super::bin());
        cmd.arg("serve")
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        if let Some((soft, hard)) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the closure only calls setrlimit on a struct it owns.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: soft as libc::rlim_t,
                        rlim_max: hard as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("quorate serve exited before listening: {seen:?}");
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            seen.push(line);
        };
        let (tx, stderr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServeChild {
            child,
            addr,
            before: seen,
            stderr,
        }
    }

    /// A line of `/proc/<pid>/status` in kB, e.g. `VmHWM` (peak resident set) or `VmRSS`.
    pub fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.child.id(), field)
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` line of `/proc/<pid>/status` (Linux).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
