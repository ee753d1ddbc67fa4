//! Connection limits, so that no client can wedge `quorate serve`: a keep-alive connection is
//! closed after `idle_timeout` without a request, every HTTP/1 request head must arrive within
//! `header_timeout` of its first byte (a new connection's first request within `header_timeout`
//! of the accept), and at most `max_connections` are open: at the limit a new connection
//! closes the longest-idle one, or is refused when every connection is busy with a request.
//!
//! Two wrappers share one [`Conn`] per connection: [`Watched`] around the TCP stream (below
//! TLS, so the limits also hold during the handshake) enforces the deadlines on every read and
//! write; [`Tracked`] around the per-connection service counts the requests in progress, for
//! HTTP/1 and HTTP/2 alike. hyper's own `header_read_timeout` cannot serve here: it starts
//! when a keep-alive connection goes idle, so it would also be the idle timeout.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::{Request, Version};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::metrics::ReasonLabels;

/// The limits `quorate serve` holds every connection to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection without a request in progress for this long is closed.
    pub idle_timeout: Duration,
    /// A request head (HTTP/1) must be complete this long after its first byte; a new
    /// connection must have sent its first request this long after it was accepted.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Why a connection was closed (the `reason` label of `quorate_connections_closed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted, or reading a request head: the header timeout runs.
    Header,
    /// Requests in progress: no deadline (the request timeout bounds them).
    Busy,
    /// Between requests: the idle timeout runs.
    Idle,
    /// Closed to make room for a new connection.
    Evicted,
}

impl Phase {
    fn reason(self) -> &'static str {
        match self {
            Phase::Header => "header-timeout",
            Phase::Idle => "idle-timeout",
            Phase::Evicted => "evicted",
            Phase::Busy => "busy",
        }
    }
}

struct State {
    phase: Phase,
    deadline: Option<Instant>,
    in_flight: usize,
    /// When the connection was accepted or last finished a request: eviction order.
    idle_since: Instant,
    http2: bool,
    /// The task that drives the connection, woken when it is evicted.
    waker: Option<Waker>,
}

/// One open connection, shared by its stream and its service.
pub struct Conn {
    id: u64,
    limits: Limits,
    state: Mutex<State>,
}

impl Conn {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the state inconsistent: take it anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request was dispatched: no deadline until the last one in progress is answered.
    fn begin(self: &Arc<Self>, version: Version) -> Busy {
        let mut s = self.state();
        if s.phase != Phase::Evicted {
            s.phase = Phase::Busy;
            s.deadline = None;
        }
        s.in_flight += 1;
        s.http2 |= version == Version::HTTP_2;
        Busy(self.clone())
    }

    fn end(&self) {
        let mut s = self.state();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 && s.phase == Phase::Busy {
            let now = Instant::now();
            s.phase = Phase::Idle;
            s.deadline = Some(now + self.limits.idle_timeout);
            s.idle_since = now;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    /// Bytes arrived: on an idle HTTP/1 connection they start the next request head. (On
    /// HTTP/2 they may be pings or settings: only a request ends idleness there.)
    fn read_some(&self) {
        let mut s = self.state();
        if s.phase == Phase::Idle && !s.http2 {
            s.phase = Phase::Header;
            s.deadline = Some(Instant::now() + self.limits.header_timeout);
        }
    }

    fn evict(&self) {
        let mut s = self.state();
        s.phase = Phase::Evicted;
        s.deadline = Some(Instant::now());
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }
}

/// Held by a request in progress; answered (or dropped), it lets the connection go idle.
struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Connection counts for `/metrics`.
#[derive(Clone, Default)]
pub struct ConnectionMetrics {
    pub open: Gauge,
    pub closed: Family<ReasonLabels, Counter>,
}

impl ConnectionMetrics {
    fn closed(&self, reason: &str) {
        self.closed
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }
}

/// Every open connection of a server, for the cap and the eviction order.
pub struct Registry {
    limits: Limits,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    metrics: ConnectionMetrics,
}

impl Registry {
    pub fn new(limits: Limits, metrics: ConnectionMetrics) -> Arc<Self> {
        Arc::new(Registry {
            limits,
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now (evicted ones no longer count).
    pub fn len(&self) -> usize {
        self.open().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Admits a new connection; at the cap, the longest-idle connection is closed to make room,
    /// or, when every connection has a request in progress, the new one is refused.
    fn admit(&self) -> io::Result<Arc<Conn>> {
        let mut open = self.open();
        if open.len() >= self.limits.max_connections.max(1) {
            let victim = open
                .values()
                .filter_map(|c| {
                    let s = c.state();
                    (s.in_flight == 0 && s.phase != Phase::Evicted).then_some((s.idle_since, c.id))
                })
                .min()
                .and_then(|(_, id)| open.remove(&id));
            match victim {
                Some(c) => c.evict(),
                None => {
                    self.metrics.closed("refused");
                    return Err(io::Error::other(format!(
                        "{} connections are open, each with a request in progress (--max-connections)",
                        open.len()
                    )));
                }
            }
        }
        let now = Instant::now();
        let conn = Arc::new(Conn {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            limits: self.limits,
            state: Mutex::new(State {
                phase: Phase::Header,
                deadline: Some(now + self.limits.header_timeout),
                in_flight: 0,
                idle_since: now,
                http2: false,
                waker: None,
            }),
        });
        open.insert(conn.id, conn.clone());
        self.metrics.open.set(open.len() as i64);
        Ok(conn)
    }

    fn remove(&self, id: u64) {
        let mut open = self.open();
        open.remove(&id);
        self.metrics.open.set(open.len() as i64);
    }
}

/// The acceptor that puts every connection under the [`Limits`]: the innermost one, so it sees
/// the TCP stream before the TLS handshake.
#[derive(Clone)]
pub struct Limiter {
    registry: Arc<Registry>,
}

impl Limiter {
    pub fn new(registry: Arc<Registry>) -> Self {
        Limiter { registry }
    }
}

impl<I, S> axum_server::accept::Accept<I, S> for Limiter {
    type Stream = Watched<I>;
    type Service = Tracked<S>;
    type Future = std::future::Ready<io::Result<(Watched<I>, Tracked<S>)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(self.registry.admit().map(|conn| {
            (
                Watched {
                    io: stream,
                    conn: conn.clone(),
                    registry: self.registry.clone(),
                    sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
                    armed: None,
                    expired: false,
                },
                Tracked {
                    inner: service,
                    conn,
                },
            )
        }))
    }
}

/// A connection's stream: reads and writes fail once its deadline has passed, which makes
/// hyper close the connection.
pub struct Watched<I> {
    io: I,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// The deadline has passed: every later read and write fails too.
    expired: bool,
}

impl<I> Watched<I> {
    /// `Err` once the connection's deadline has passed; otherwise arms the timer so that the
    /// task is woken at the deadline (or on eviction).
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let (deadline, phase) = {
            let mut s = self.conn.state();
            if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            (s.deadline, s.phase)
        };
        let Some(deadline) = deadline else {
            return Ok(());
        };
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        if self.expired || self.sleep.as_mut().poll(cx).is_ready() {
            if !self.expired {
                self.expired = true;
                self.registry.metrics.closed(phase.reason());
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                match phase {
                    Phase::Evicted => "closed to make room for a new connection",
                    Phase::Idle => "idle timeout",
                    _ => "request head timeout",
                },
            ));
        }
        Ok(())
    }
}

impl<I> Drop for Watched<I> {
    fn drop(&mut self) {
        self.registry.remove(self.conn.id);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Err(e) = this.check(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.read_some();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Err(e) = this.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Err(e) = this.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Err(e) = this.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A connection's service: counts the requests in progress (a request is done when its
/// handler has answered; writing the answer is bounded by the idle timeout).
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S, B> tower_service::Service<Request<B>> for Tracked<S>
where
    S: tower_service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let busy = self.conn.begin(req.version());
        TrackedFuture {
            inner: Box::pin(self.inner.call(req)),
            busy: Some(busy),
        }
    }
}

/// A request's answer in progress; the connection is busy until it resolves or is dropped.
pub struct TrackedFuture<F> {
    inner: Pin<Box<F>>,
    busy: Option<Busy>,
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = self.inner.as_mut().poll(cx);
        if polled.is_ready() {
            self.busy = None;
        }
        polled
    }
}
