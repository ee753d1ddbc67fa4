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

/// The annotation that asks to let a denied request through.
pub const BREAK_GLASS: &str = "quorate.dev/break-glass";

/// A break-glass request: who asked, with which ticket, and whether they may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub ticket: String,
    pub user: String,
    pub allowed: bool,
}

/// Reads the break-glass annotation of the request's object (or, for a DELETE, the old
/// object) and checks the user and groups against `break_glass.allowed`.
pub fn break_glass(request: &Value, allowed: &[String]) -> Option<BreakGlass> {
    let ticket = ["/object", "/oldObject"].iter().find_map(|side| {
        request
            .pointer(&format!("{side}/metadata/annotations"))
            .and_then(|a| a.get(BREAK_GLASS))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    })?;
    let user = request
        .pointer("/userInfo/username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let groups: Vec<&str> = request
        .pointer("/userInfo/groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let ok = allowed
        .iter()
        .any(|a| a == user || groups.iter().any(|g| g == a));
    Some(BreakGlass {
        ticket: clip(ticket, 256),
        user: user.to_string(),
        allowed: ok,
    })
}

/// The answer to a judged review, with a break-glass request taken into account: an allowed
/// one lets the denial through, loudly; a refused one says why in the denial.
pub fn from_report_with(review: &Review, report: &Report, glass: Option<&BreakGlass>) -> Answer {
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
    let broken = glass.filter(|g| g.allowed && !deny.is_empty());
    if let Some(g) = broken {
        let rules = ids(Severity::Deny);
        warnings.insert(
            0,
            clip(
                &format!(
                    "quorate: break-glass by {} ({}) overrides: {rules}",
                    g.user, g.ticket
                ),
                512,
            ),
        );
        audit.insert(
            "break-glass".into(),
            Value::from(format!("{}: {}", g.user, g.ticket)),
        );
        audit.insert("overridden-rules".into(), Value::from(rules));
        audit.remove("deny-rules");
    }
    let allowed = deny.is_empty() || broken.is_some();
    let mut response = json!({"uid": review.uid, "allowed": allowed});
    if !allowed {
        let text: Vec<String> = deny
            .iter()
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        let mut text = text.join("; ");
        if let Some(g) = glass.filter(|g| !g.allowed) {
            text = format!(
                "{text}; break-glass refused: {} is not in break_glass.allowed",
                g.user
            );
            audit.insert(
                "break-glass-refused".into(),
                Value::from(format!("{}: {}", g.user, g.ticket)),
            );
        }
        let message = clip(&format!("quorate: {text}"), MAX_MESSAGE);
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
        verdict: if broken.is_some() {
            "break-glass"
        } else if deny.is_empty() {
            "allowed"
        } else {
            "denied"
        },
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
