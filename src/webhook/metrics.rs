//! `/metrics`: request count and latency by operation and verdict, findings by rule, evaluation
//! errors, in the Prometheus (OpenMetrics) text format, via `prometheus-client`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format, for scrapers and tools (`promtool check metrics`) that do not
/// ask for OpenMetrics.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// CREATE, UPDATE, DELETE, CONNECT, or unknown (an unreadable review).
    pub operation: String,
    /// `scale`, `eviction`..., empty for the object itself.
    pub subresource: String,
    /// The resource (`statefulsets`, `pods`...), as the webhook configuration selects them.
    pub resource_kind: String,
    pub dry_run: String,
    pub verdict: String,
}

/// What a request is, for metrics and logs.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub operation: String,
    pub subresource: String,
    pub resource_kind: String,
    pub dry_run: bool,
    pub uid: String,
    pub user: String,
    pub namespace: String,
    pub name: String,
}

impl RequestInfo {
    pub fn unknown() -> Self {
        RequestInfo {
            operation: "unknown".into(),
            ..RequestInfo::default()
        }
    }

    pub fn of(request: &serde_json::Value) -> Self {
        let s = |p: &str| {
            request
                .pointer(p)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(253)
                .collect::<String>()
        };
        let operation = match s("/operation").as_str() {
            op @ ("CREATE" | "UPDATE" | "DELETE" | "CONNECT") => op.to_string(),
            _ => "unknown".into(),
        };
        RequestInfo {
            operation,
            subresource: s("/subResource"),
            resource_kind: s("/resource/resource"),
            dry_run: request.get("dryRun").and_then(serde_json::Value::as_bool) == Some(true),
            uid: s("/uid"),
            user: s("/userInfo/username"),
            namespace: s("/namespace"),
            name: s("/name"),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub rule: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub reason: String,
}

/// Why the server closed a connection: idle-timeout, header-timeout, evicted, refused.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    findings: Family<FindingLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    in_flight: Gauge,
    connections: super::conn::ConnectionMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("quorate");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let findings = Family::<FindingLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let in_flight = Gauge::default();
        registry.register(
            "admission_requests",
            "AdmissionReviews answered, by operation, subresource, resource kind, dry run and verdict (allowed, denied, break-glass, error, shed)",
            requests.clone(),
        );
        registry.register(
            "admission_request_duration_seconds",
            "Time to answer an AdmissionReview, by operation, subresource, resource kind, dry run and verdict",
            latency.clone(),
        );
        registry.register(
            "findings",
            "Policy findings in admission answers, by rule and severity",
            findings.clone(),
        );
        registry.register(
            "evaluation_errors",
            "Reviews that could not be judged (policy error, timeout, lookup cache unavailable)",
            errors.clone(),
        );
        // Present from the start, at 0: a dashboard's rate() needs the series before the first error.
        for reason in ["evaluation", "overloaded", "lookup-unavailable"] {
            errors
                .get_or_create(&ErrorLabels {
                    reason: reason.to_string(),
                })
                .get();
        }
        registry.register(
            "evaluations_in_flight",
            "Policy evaluations running now",
            in_flight.clone(),
        );
        let connections = super::conn::ConnectionMetrics::default();
        registry.register(
            "connections_open",
            "Client connections open now (at most --max-connections)",
            connections.open.clone(),
        );
        registry.register(
            "connections_closed",
            "Connections the server closed: idle-timeout, header-timeout, evicted (the longest-idle one, to make room at --max-connections), refused (at the limit with every connection busy)",
            connections.closed.clone(),
        );
        for reason in ["idle-timeout", "header-timeout", "evicted", "refused"] {
            connections
                .closed
                .get_or_create(&ReasonLabels {
                    reason: reason.to_string(),
                })
                .get();
        }
        Metrics {
            registry,
            requests,
            latency,
            findings,
            errors,
            in_flight,
            connections,
        }
    }

    pub fn request(&self, info: &RequestInfo, verdict: &str, seconds: f64) {
        let labels = RequestLabels {
            operation: info.operation.clone(),
            subresource: info.subresource.clone(),
            resource_kind: info.resource_kind.clone(),
            dry_run: info.dry_run.to_string(),
            verdict: verdict.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    pub fn finding(&self, rule: &str, severity: &str) {
        self.findings
            .get_or_create(&FindingLabels {
                rule: rule.to_string(),
                severity: severity.to_string(),
            })
            .inc();
    }

    pub fn error(&self, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// The connection gauge and counters, shared with the server's connection registry.
    pub fn connections(&self) -> &super::conn::ConnectionMetrics {
        &self.connections
    }

    /// The Prometheus text format (0.0.4): as OpenMetrics, but a counter's HELP and TYPE name
    /// its `_total` samples, and no `# EOF`.
    pub fn encode_prometheus(&self) -> String {
        let open = self.encode();
        let counters: std::collections::HashSet<&str> = open
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open.len());
        for line in open.lines() {
            if line == "# EOF" {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            out.push_str(renamed.as_deref().unwrap_or(line));
            out.push('\n');
        }
        out
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out = "# EOF\n".into();
        }
        out
    }
}
