//! `quorate serve`: the admission webhook (the only user of axum). `POST /validate` answers
//! AdmissionReview v1 with the same policies `check` uses; `/healthz`, `/readyz`, `/metrics`.
//!
//! Evaluation runs off the async runtime (`spawn_blocking`) under a semaphore; a review that
//! waits longer than `queue_timeout` for a slot is shed with an AdmissionReview answer (code 429,
//! allowed or denied by `admission.failure_mode`) rather than queued without bound. No client
//! can hold the server: connections are under an idle timeout, a per-request header timeout
//! and a cap (`conn`), and objects too deep to judge are denied unread (`review`).

pub mod conn;
pub mod lookup;
pub mod metrics;
pub mod review;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::{Config, FailureMode};
use crate::engine::PolicySet;
use crate::error::{Error, Result};
use crate::sources::admission::{self, Request};
use crate::sources::{Document, Inputs};

pub use lookup::{Cache, LookupSource};
pub use tls::TlsFiles;

pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Longer than the 90 s after which Go clients (the API server among them) drop an idle
/// connection, so the client closes first and a request never races the server's close.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Below the common soft limit of 1,024 open files, with room for everything else.
pub const DEFAULT_MAX_CONNECTIONS: usize = 900;
/// File descriptors kept for the rest of the process (listener, lookups, files, stdio).
const RESERVED_FDS: u64 = 64;
/// The largest HTTP/1 read buffer per connection, which bounds a request head (hyper's
/// default is ~400 KiB; an AdmissionReview's head is well under 1 KiB).
const MAX_HTTP1_BUF: usize = 64 * 1024;

/// Everything `quorate serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// `None`: plain HTTP (`--insecure-http`, local tests only).
    pub tls: Option<TlsFiles>,
    pub config: Option<String>,
    pub policies: Vec<String>,
    pub builtin: bool,
    pub max_body_bytes: usize,
    /// Whole request, body read included; keep it below the webhook's `timeoutSeconds`.
    pub request_timeout: Duration,
    /// Policy evaluation limit (regorus execution timer).
    pub eval_timeout: Duration,
    /// Memory all concurrent evaluations together may add to what the server holds at start.
    pub max_policy_memory: u64,
    /// Evaluations running at once.
    pub max_concurrent: usize,
    /// How long a review may wait for an evaluation slot before it is shed.
    pub queue_timeout: Duration,
    /// Drain limit for open connections after SIGTERM.
    pub shutdown_grace: Duration,
    /// After SIGTERM, keep serving (not ready) this long so endpoints stop routing here first.
    pub shutdown_delay: Duration,
    pub tls_reload_interval: Duration,
    /// `None`: no cluster lookups.
    pub lookups: Option<LookupSource>,
    /// A keep-alive connection without a request in progress is closed after this long.
    pub idle_timeout: Duration,
    /// Every request head must arrive this long after its first byte (the first request,
    /// this long after the connection was accepted).
    pub header_timeout: Duration,
    /// Connections open at once; at the limit a new one closes the longest-idle one.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([0, 0, 0, 0], 8443)),
            tls: None,
            config: None,
            policies: Vec::new(),
            builtin: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(8),
            eval_timeout: Duration::from_secs(5),
            max_policy_memory: crate::engine::DEFAULT_MAX_POLICY_MEMORY,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_timeout: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            shutdown_delay: Duration::ZERO,
            tls_reload_interval: Duration::from_secs(10),
            lookups: Some(LookupSource::Infer),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Shared by every request: compiled policies, config, limits, metrics, the lookup cache.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    policies: PolicySet,
    config: Config,
    max_body_bytes: usize,
    eval_timeout: Duration,
    queue_timeout: Duration,
    slots: Arc<Semaphore>,
    metrics: metrics::Metrics,
    lookups: Option<Arc<Cache>>,
    stopping: AtomicBool,
}

impl AppState {
    /// Compiles the policies once (built-in plus `--policy`) with the config as data.
    pub fn load(opts: &ServeOptions) -> Result<Self> {
        let config =
            Config::discover(opts.config.as_deref(), crate::text::DEFAULT_MAX_INPUT_BYTES)?;
        let policy_opts = crate::engine::PolicyOptions {
            builtin: opts.builtin,
            builtin_tests: false,
            paths: opts.policies.clone(),
            sources: Vec::new(),
            timeout: opts.eval_timeout,
            max_memory: opts.max_policy_memory,
            ..crate::engine::PolicyOptions::default()
        };
        let policies = PolicySet::load_with(&policy_opts, config.data())?;
        // Reviews are evaluated concurrently: they share one budget, fixed now.
        crate::engine::fix_memory_limit(policy_opts.max_memory);
        // Waivers are checked once, at start: per review they would fail every request.
        let mut ids: Vec<String> = policies.rules.iter().map(|r| r.id.clone()).collect();
        ids.extend(crate::rules::native().into_iter().map(|r| r.id));
        config.check_waivers(&ids, chrono::Utc::now())?;
        Ok(Self::new(policies, config, opts, None))
    }

    pub fn new(
        policies: PolicySet,
        config: Config,
        opts: &ServeOptions,
        lookups: Option<Arc<Cache>>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                policies,
                config,
                max_body_bytes: opts.max_body_bytes,
                eval_timeout: opts.eval_timeout,
                queue_timeout: opts.queue_timeout,
                slots: Arc::new(Semaphore::new(opts.max_concurrent.max(1))),
                metrics: metrics::Metrics::new(),
                lookups,
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// The same state with a lookup cache (requests needing one wait for it to sync).
    pub fn with_lookups(self, cache: Arc<Cache>) -> Self {
        let i = &self.inner;
        AppState {
            inner: Arc::new(Inner {
                policies: i.policies.clone(),
                config: i.config.clone(),
                max_body_bytes: i.max_body_bytes,
                eval_timeout: i.eval_timeout,
                queue_timeout: i.queue_timeout,
                slots: i.slots.clone(),
                metrics: metrics::Metrics::new(),
                lookups: Some(cache),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    pub fn is_ready(&self) -> bool {
        !self.inner.stopping.load(Ordering::SeqCst)
            && self.inner.lookups.as_ref().is_none_or(|c| c.is_synced())
    }

    /// Marks the server as going away: `/readyz` fails from now on.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    fn failure_mode(&self) -> FailureMode {
        self.inner.config.admission.failure_mode
    }
}

/// The webhook's routes, without sockets or TLS (tests drive it with `oneshot`).
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .with_state(state)
}

async fn readyz(State(st): State<AppState>) -> Response {
    if st.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else if st.inner.stopping.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "lookup cache not synced\n").into_response()
    }
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the Prometheus text format.
async fn metrics_text(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let open = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if open {
        (
            [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
            st.inner.metrics.encode(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, metrics::PROMETHEUS_CONTENT_TYPE)],
            st.inner.metrics.encode_prometheus(),
        )
            .into_response()
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn body_too_large(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        cur = err.source();
    }
    false
}

async fn validate(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let m = &st.inner.metrics;
    let limit = st.inner.max_body_bytes;
    let error = |status: StatusCode, message: String| {
        m.request(
            &metrics::RequestInfo::unknown(),
            "error",
            started.elapsed().as_secs_f64(),
        );
        tracing::warn!(event = "unreadable", verdict = "error", error = %message, "request refused");
        json_response(status, &json!({"error": message}))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the {limit}-byte limit (--max-body-bytes)"),
        );
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) if body_too_large(&e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than the {limit}-byte limit (--max-body-bytes)"),
            )
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        }
    };
    let mut review = match review::read(&bytes) {
        Ok(r) => r,
        Err(e) => {
            m.request(
                &metrics::RequestInfo::unknown(),
                "error",
                started.elapsed().as_secs_f64(),
            );
            tracing::warn!(event = "unreadable", verdict = "error", error = %e.message, "review refused");
            return json_response(StatusCode::BAD_REQUEST, &e.body());
        }
    };
    let info = metrics::RequestInfo::of(&review.request);
    let answer = judge(&st, &mut review).await;
    if answer.verdict == "error" || answer.verdict == "shed" {
        m.error(match answer.verdict {
            "shed" => "overloaded",
            _ => "evaluation",
        });
    }
    let elapsed = started.elapsed();
    m.request(&info, answer.verdict, elapsed.as_secs_f64());
    log_decision(&info, &answer, elapsed);
    json_response(StatusCode::OK, &answer.body)
}

/// One log line per decision that is not a plain allow (denied, shed, failed, break-glass),
/// with who asked for what, the rules and the time; allows at debug level.
fn log_decision(info: &metrics::RequestInfo, answer: &review::Answer, elapsed: Duration) {
    let response = answer.body.get("response");
    let audit = |k: &str| {
        response
            .and_then(|r| r.pointer(&format!("/auditAnnotations/{k}")))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let rules = [audit("deny-rules"), audit("overridden-rules")].concat();
    let message = response
        .and_then(|r| r.pointer("/status/message"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let ms = elapsed.as_secs_f64() * 1000.0;
    macro_rules! decision {
        ($level:ident) => {
            tracing::$level!(
                event = "decision",
                uid = %info.uid,
                user = %info.user,
                operation = %info.operation,
                subresource = %info.subresource,
                resource = %info.resource_kind,
                namespace = %info.namespace,
                name = %info.name,
                dry_run = info.dry_run,
                verdict = answer.verdict,
                rules = %rules,
                break_glass = %audit("break-glass"),
                break_glass_refused = %audit("break-glass-refused"),
                error = %audit("error"),
                status_message = %message,
                duration_ms = ms,
                "admission decision"
            )
        };
    }
    match answer.verdict {
        "allowed" => decision!(debug),
        "denied" => decision!(info),
        _ => decision!(warn),
    }
}

/// Initializes the decision log: JSON lines (default) or text, on stderr, at `level`.
pub fn init_logging(level: &str, json: bool) -> Result<()> {
    let filter = match level {
        "error" => tracing::level_filters::LevelFilter::ERROR,
        "warn" => tracing::level_filters::LevelFilter::WARN,
        "info" => tracing::level_filters::LevelFilter::INFO,
        "debug" => tracing::level_filters::LevelFilter::DEBUG,
        "off" => tracing::level_filters::LevelFilter::OFF,
        other => {
            return Err(Error::usage(format!(
                "--log-level `{other}`: expected error, warn, info, debug or off"
            )))
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second initialization (tests, offline runs) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
    Ok(())
}

/// Judges a review; its `request` is moved to the evaluation task (uid and apiVersion stay).
async fn judge(st: &AppState, review: &mut review::Review) -> review::Answer {
    if let Some(deep) = &review.too_deep {
        return review::too_deep(review, deep);
    }
    let inner = &st.inner;
    let mode = st.failure_mode();
    let permit = match tokio::time::timeout(
        inner.queue_timeout,
        inner.slots.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return review::unjudged(
                review,
                mode,
                "the webhook is overloaded: every evaluation slot stayed busy",
                429,
                "shed",
            )
        }
    };
    let view = match (&inner.lookups, Request::parse(&review.request)) {
        (Some(cache), Some(req)) => match admission::target(&req) {
            Some(target) if cache.is_synced() => Some(cache.view(&target)),
            Some(_) if admission::needs_lookup(&req) => {
                inner.metrics.error("lookup-unavailable");
                return review::unjudged(
                    review,
                    mode,
                    "the cluster lookup cache has not synced, so the workload's state is unknown",
                    503,
                    "error",
                );
            }
            _ => None,
        },
        _ => None,
    };
    let task_state = st.clone();
    let glass = review::break_glass(&review.request, &inner.config.break_glass_allowed);
    let request = std::mem::take(&mut review.request);
    let gauge = inner.metrics.in_flight().clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        gauge.inc();
        let inner = &task_state.inner;
        let set = admission::build(&request, view.as_ref(), &inner.config, chrono::Utc::now());
        let inputs = review_inputs(&request, &inner.policies);
        let report = crate::check::evaluate(&set, &inputs, &inner.config, &inner.policies);
        gauge.dec();
        report
    });
    // The engine stops itself at eval_timeout; the margin covers building the input.
    let waited = tokio::time::timeout(inner.eval_timeout + Duration::from_secs(1), task).await;
    match waited {
        Ok(Ok(Ok(report))) => {
            for f in &report.findings {
                inner.metrics.finding(&f.rule, f.severity.as_str());
            }
            let answer = review::from_report_with(review, &report, glass.as_ref());
            answer
        }
        Ok(Ok(Err(e))) => review::unjudged(
            review,
            mode,
            &format!("policy evaluation failed: {}", one_line(&e)),
            500,
            "error",
        ),
        Ok(Err(_)) => review::unjudged(review, mode, "policy evaluation crashed", 500, "error"),
        Err(_) => review::unjudged(review, mode, "policy evaluation timed out", 504, "error"),
    }
}

fn one_line(e: &Error) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// A started server: its bound address and the means to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    handle: axum_server::Handle<SocketAddr>,
    server: JoinHandle<std::io::Result<()>>,
    registry: Arc<conn::Registry>,
    tasks: Vec<JoinHandle<()>>,
    grace: Duration,
    delay: Duration,
}

impl Running {
    /// Stops accepting, lets open requests finish for at most the grace period, then returns.
    pub async fn shutdown(self) -> Result<()> {
        self.state.stop();
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.handle.graceful_shutdown(Some(self.grace));
        let result = tokio::time::timeout(self.grace + Duration::from_secs(1), self.server).await;
        for t in self.tasks {
            t.abort();
        }
        match result {
            Ok(Ok(Ok(()))) | Err(_) => Ok(()),
            Ok(Ok(Err(e))) => Err(Error::usage(format!("server error: {e}"))),
            Ok(Err(e)) => Err(Error::usage(format!("server task failed: {e}"))),
        }
    }

    pub fn connection_count(&self) -> usize {
        self.handle.connection_count()
    }

    /// Connections under the limits now (evicted ones that are still closing not counted).
    pub fn open_connections(&self) -> usize {
        self.registry.len()
    }
}

/// HTTP settings for every connection: keep-alive on (the limits in `conn` close idle ones),
/// hyper's own header timer off (it would also time out idle connections), a bounded head.
fn tune<Acc>(server: &mut axum_server::Server<SocketAddr, Acc>) {
    server
        .http_builder()
        .http1()
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(MAX_HTTP1_BUF);
}

/// Loads policies and certificates, starts lookups, binds and serves in the background.
pub async fn start(opts: ServeOptions) -> Result<Running> {
    let state = AppState::load(&opts)?;
    start_with(opts, state).await
}

/// Like [`start`], with a state built by the caller.
pub async fn start_with(opts: ServeOptions, state: AppState) -> Result<Running> {
    let mut tasks = Vec::new();
    let state = match &opts.lookups {
        Some(source) if state.inner.lookups.is_none() => {
            tls::install_crypto_provider();
            let client = lookup::client(source).await.map_err(|e| {
                Error::usage(format!("cluster lookups: {e}")).with_help(
                    "run in a cluster, pass --kubeconfig, or turn lookups off with --no-lookups",
                )
            })?;
            let cache = Arc::new(Cache::new());
            tasks.extend(lookup::start(client, cache.clone()));
            state.with_lookups(cache)
        }
        _ => state,
    };
    let app = router(state.clone(), opts.request_timeout);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let registry = conn::Registry::new(
        conn::Limits {
            idle_timeout: opts.idle_timeout,
            header_timeout: opts.header_timeout,
            max_connections: opts.max_connections.max(1),
        },
        state.inner.metrics.connections().clone(),
    );
    let limiter = conn::Limiter::new(registry.clone());
    let server = match &opts.tls {
        Some(files) => {
            let config = tls::load(files).await.map_err(|e| {
                Error::usage(format!("TLS certificate: {e}"))
                    .with_help("give a PEM certificate chain and its private key")
            })?;
            tasks.push(tls::spawn_reloader(
                config.clone(),
                files.clone(),
                opts.tls_reload_interval,
            ));
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(Duration::from_secs(10))
                .acceptor(limiter);
            let mut server = axum_server::bind(opts.addr)
                .acceptor(acceptor)
                .handle(handle.clone());
            tune(&mut server);
            tokio::spawn(server.serve(app.into_make_service()))
        }
        None => {
            let mut server = axum_server::bind(opts.addr)
                .acceptor(limiter)
                .handle(handle.clone());
            tune(&mut server);
            tokio::spawn(server.serve(app.into_make_service()))
        }
    };
    let addr = match handle.listening().await {
        Some(a) => a,
        None => {
            for t in tasks {
                t.abort();
            }
            let why = match server.await {
                Ok(Err(e)) => e.to_string(),
                _ => "bind failed".into(),
            };
            return Err(Error::usage(format!(
                "cannot listen on {}: {why}",
                opts.addr
            )));
        }
    };
    Ok(Running {
        addr,
        state,
        handle,
        server,
        registry,
        tasks,
        grace: opts.shutdown_grace,
        delay: opts.shutdown_delay,
    })
}

/// `quorate serve`: runs until SIGTERM or Ctrl-C, then drains (bounded) and returns.
pub fn run(opts: ServeOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::usage(format!("cannot start the async runtime: {e}")))?;
    let opts = fit_fd_limit(opts);
    runtime.block_on(async move {
        let running = start(opts).await?;
        let scheme = if running.state.inner.lookups.is_some() {
            "lookups on"
        } else {
            "lookups off"
        };
        // The handler is installed before "listening" is said: a SIGTERM right after it (a
        // rolling restart, a test) is a graceful shutdown, not a kill.
        let signal = shutdown_signal();
        eprintln!("quorate serve: listening on {} ({scheme})", running.addr);
        signal.await;
        eprintln!("quorate serve: shutting down");
        running.shutdown().await
    })
}

/// Raises the open-file soft limit to the hard limit (as Go programs do: the soft default of
/// 1,024 is a legacy of select()), then lowers `max_connections` if the connections and the
/// reserve would still not fit: at the file limit, accept fails and even `/healthz` waits.
fn fit_fd_limit(mut opts: ServeOptions) -> ServeOptions {
    let Some(limit) = raise_fd_limit() else {
        return opts;
    };
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FDS))
        .unwrap_or(usize::MAX)
        .max(1);
    if opts.max_connections > fits {
        eprintln!(
            "quorate serve: --max-connections {} lowered to {fits}: the open-file limit is {limit}",
            opts.max_connections
        );
        opts.max_connections = fits;
    }
    opts
}

/// The open-file soft limit after raising it as far as the hard limit allows.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct; raising the soft limit up to the hard one
        // needs no privilege. On failure (macOS caps it at OPEN_MAX) the old limit stays.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Some(lim.rlim_cur as u64)
}

#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}

/// Installs the SIGTERM handler now and returns the wait for it (or Ctrl-C).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn duration(flag: &str, text: &str, allow_zero: bool) -> Result<Duration> {
    crate::config::parse_duration_ms(text)
        .filter(|ms| allow_zero || *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::usage(format!(
                "--{flag} `{text}` is not a duration (e.g. 10s, 500ms)"
            ))
        })
}

/// Command-line arguments -> options.
pub fn options_from_args(args: &crate::cli::ServeArgs) -> Result<ServeOptions> {
    let addr: SocketAddr = args.addr.parse().map_err(|e| {
        Error::usage(format!("--addr `{}` is not an address: {e}", args.addr))
            .with_help("e.g. 0.0.0.0:8443 or [::]:8443")
    })?;
    let tls = match (&args.tls_cert, &args.tls_key, args.insecure_http) {
        (_, _, true) => None,
        (Some(cert), Some(key), false) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => {
            return Err(Error::usage(
                "--tls-cert and --tls-key are required (or --insecure-http for local tests)",
            ))
        }
    };
    let defaults = ServeOptions::default();
    Ok(ServeOptions {
        addr,
        tls,
        config: args.config.clone(),
        policies: args.policies.clone(),
        builtin: !args.no_builtin,
        max_body_bytes: args.max_body_bytes.max(1),
        request_timeout: duration("request-timeout", &args.request_timeout, false)?,
        eval_timeout: duration("eval-timeout", &args.eval_timeout, false)?,
        max_policy_memory: args.max_policy_memory,
        max_concurrent: args
            .max_concurrent
            .unwrap_or(defaults.max_concurrent)
            .max(1),
        queue_timeout: duration("queue-timeout", &args.queue_timeout, true)?,
        shutdown_grace: duration("shutdown-grace", &args.shutdown_grace, true)?,
        shutdown_delay: duration("shutdown-delay", &args.shutdown_delay, true)?,
        tls_reload_interval: duration("tls-reload-interval", &args.tls_reload_interval, false)?,
        idle_timeout: duration("idle-timeout", &args.idle_timeout, false)?,
        header_timeout: duration("header-timeout", &args.header_timeout, false)?,
        max_connections: args.max_connections.max(1),
        lookups: match (&args.kubeconfig, args.no_lookups) {
            (_, true) => None,
            (Some(p), false) => Some(LookupSource::Kubeconfig(p.clone())),
            (None, false) => Some(LookupSource::Infer),
        },
    })
}

/// `quorate serve ARGS`.
pub fn serve_cli(args: &crate::cli::ServeArgs) -> Result<()> {
    init_logging(&args.log_level, args.log_format != "text")?;
    run(options_from_args(args)?)
}

/// `quorate check review.json --format admission`: judges one AdmissionReview exactly as the
/// webhook would (same policies, config, failure mode and answer), without a server or a
/// cluster; `cluster` holds the objects the webhook would have looked up (a `kubectl get -o
/// json` list: workloads, pods, PDBs). Returns the answer and whether the request was judged
/// (`false`: the review could not be read or evaluated).
/// The documents conftest-style policies judge in a review: the object as admitted
/// (CREATE/UPDATE, or the Scale of a /scale request); a DELETE has no object to judge.
pub fn review_inputs(request: &serde_json::Value, policies: &PolicySet) -> Inputs {
    let mut inputs = Inputs::default();
    if policies.has_conftest() {
        if let Some(object) = request.get("object").filter(|o| o.is_object()) {
            inputs.documents.push(Document {
                path: "request.object".into(),
                index: 0,
                value: object.clone(),
                start: 0,
            });
        }
    }
    inputs
}

pub fn review_offline(
    opts: &ServeOptions,
    body: &[u8],
    cluster: Vec<serde_json::Value>,
) -> Result<(serde_json::Value, bool)> {
    let mut state = AppState::load(opts)?;
    if !cluster.is_empty() {
        state = state.with_lookups(Arc::new(Cache::from_objects(cluster)));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::usage(format!("cannot start the runtime: {e}")))?;
    Ok(runtime.block_on(async {
        match review::read(body) {
            Ok(mut r) => {
                let info = metrics::RequestInfo::of(&r.request);
                let started = Instant::now();
                let answer = judge(&state, &mut r).await;
                log_decision(&info, &answer, started.elapsed());
                let judged = !matches!(answer.verdict, "error" | "shed");
                (answer.body, judged)
            }
            Err(e) => (e.body(), false),
        }
    }))
}
