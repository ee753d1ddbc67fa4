//! AdmissionReview v1 in and out: reading the review, and answering it from a report (or from
//! the failure mode when it could not be judged). Every answer echoes `uid` and `apiVersion`.

use serde_json::{json, Map, Value};

use crate::config::FailureMode;
use crate::model::{Report, Severity};
use crate::sources::admission::REVIEW_API_VERSION;

/// A review that was read: its `request` and the `apiVersion` to echo.
pub struct Review {
    pub api_version: String,
    pub uid: String,
    pub request: Value,
}

/// Why a body is not a review we can answer (HTTP 400, JSON error body).
#[derive(Debug)]
pub struct Unreadable {
    pub message: String,
    pub uid: Option<String>,
}

impl Unreadable {
    pub fn body(&self) -> Value {
        let mut v = json!({"error": self.message, "apiVersion": REVIEW_API_VERSION});
        if let Some(uid) = &self.uid {
            set_key(&mut v, "uid", Value::from(uid.clone()));
        }
        v
    }
}

/// Reads an AdmissionReview; everything but admission.k8s.io/v1 with a `request.uid` is refused.
pub fn read(body: &[u8]) -> Result<Review, Unreadable> {
    let mut doc: Value = serde_json::from_slice(body).map_err(|e| Unreadable {
        message: format!("body is not JSON: {e}"),
        uid: None,
    })?;
    let uid = doc
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .map(String::from);
    let fail = |message: String| Unreadable {
        message,
        uid: uid.clone(),
    };
    if !doc.is_object() {
        return Err(fail("body is not an AdmissionReview object".into()));
    }
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if api_version != REVIEW_API_VERSION {
        let shown = if api_version.is_empty() {
            "missing"
        } else {
            api_version.as_str()
        };
        return Err(fail(format!(
            "apiVersion {shown} is not supported: quorate answers {REVIEW_API_VERSION} AdmissionReviews \
             (set admissionReviewVersions: [v1] in the ValidatingWebhookConfiguration)"
        )));
    }
    match doc.get("kind").and_then(Value::as_str) {
        Some("AdmissionReview") => {}
        other => {
            return Err(fail(format!(
                "kind {} is not AdmissionReview",
                other.unwrap_or("missing")
            )))
        }
    }
    let Some(uid) = uid.clone() else {
        return Err(fail("the review has no request.uid".into()));
    };
    let request = doc.get_mut("request").map(Value::take).unwrap_or_default();
    Ok(Review {
        api_version,
        uid,
        request,
    })
}

/// The operation label for metrics: a fixed vocabulary, never raw input.
pub fn operation_label(request: &Value) -> &'static str {
    let op = match request.get("operation").and_then(Value::as_str) {
        Some("CREATE") => "CREATE",
        Some("UPDATE") => "UPDATE",
        Some("DELETE") => "DELETE",
        Some("CONNECT") => "CONNECT",
        _ => return "unknown",
    };
    match (op, request.get("subResource").and_then(Value::as_str)) {
        ("UPDATE", Some("scale")) => "UPDATE/scale",
        ("CREATE", Some("eviction")) => "CREATE/eviction",
        _ => op,
    }
}

/// An answer and its verdict (for metrics).
pub struct Answer {
    pub verdict: &'static str,
    pub body: Value,
}

fn envelope(api_version: &str, response: Value) -> Value {
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

const MAX_MESSAGE: usize = 1024;

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s.get(..end).unwrap_or_default())
}

/// The answer to a judged review.
pub fn from_report(review: &Review, report: &Report) -> Answer {
    let deny: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Deny)
        .collect();
    let mut warnings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warn)
        .map(|f| clip(&format!("{}: {}", f.rule, f.message), 512))
        .collect();
    warnings.extend(report.waived.iter().map(|f| {
        let why = f
            .waiver
            .as_ref()
            .map(|w| w.reason.as_str())
            .unwrap_or_default();
        clip(&format!("waived {}: {} ({why})", f.rule, f.message), 512)
    }));
    let ids = |sev: Severity| -> String {
        let mut v: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .map(|f| f.rule.as_str())
            .collect();
        v.dedup();
        v.join(",")
    };
    let mut audit = Map::new();
    for (key, value) in [
        ("deny-rules", ids(Severity::Deny)),
        ("warn-rules", ids(Severity::Warn)),
        (
            "waived-rules",
            report
                .waived
                .iter()
                .map(|f| f.rule.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ] {
        if !value.is_empty() {
            audit.insert(key.into(), Value::from(value));
        }
    }
    let mut response = json!({"uid": review.uid, "allowed": deny.is_empty()});
    if !deny.is_empty() {
        let text: Vec<String> = deny
            .iter()
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        let message = clip(&format!("quorate: {}", text.join("; ")), MAX_MESSAGE);
        set_key(
            &mut response,
            "status",
            json!({"status": "Failure", "message": message, "reason": "Forbidden", "code": 403}),
        );
    }
    if !warnings.is_empty() {
        set_key(&mut response, "warnings", Value::from(warnings));
    }
    if !audit.is_empty() {
        set_key(&mut response, "auditAnnotations", Value::Object(audit));
    }
    Answer {
        verdict: if deny.is_empty() { "allowed" } else { "denied" },
        body: envelope(&review.api_version, response),
    }
}

/// The answer when the review could not be judged: the configured failure mode decides.
pub fn unjudged(
    review: &Review,
    mode: FailureMode,
    reason: &str,
    code: u16,
    verdict: &'static str,
) -> Answer {
    let (allowed, what) = match mode {
        FailureMode::Deny => (false, "denied because admission.failure_mode is deny"),
        FailureMode::Allow => (true, "allowed because admission.failure_mode is allow"),
    };
    let message = clip(
        &format!("quorate could not judge this change ({reason}); {what}"),
        MAX_MESSAGE,
    );
    let mut response = json!({
        "uid": review.uid,
        "allowed": allowed,
        "auditAnnotations": {"error": clip(reason, 256)},
    });
    if allowed {
        set_key(&mut response, "warnings", json!([message]));
    } else {
        let status_reason = match code {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        set_key(
            &mut response,
            "status",
            json!({"status": "Failure", "message": message, "reason": status_reason, "code": code}),
        );
    }
    Answer {
        verdict,
        body: envelope(&review.api_version, response),
    }
}

/// Sets a key of a JSON object (no-op on other values).
fn set_key(v: &mut Value, key: &str, x: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), x);
    }
}
