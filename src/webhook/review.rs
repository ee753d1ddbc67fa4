//! AdmissionReview v1 in and out: reading the review, and answering it from a report (or from
//! the failure mode when it could not be judged). Every answer echoes `uid` and `apiVersion`.
//!
//! An object nested deeper than [`MAX_OBJECT_DEPTH`] is denied unread: its depth is measured on
//! the bytes, and only the rest of the review is parsed, so no depth overflows a parser, the
//! policy input or a stack.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Map, Value};

use crate::config::FailureMode;
use crate::model::{Report, Severity};
use crate::sources::admission::REVIEW_API_VERSION;

/// How deep an object in a review may nest (`{}` is 1) and still be judged. Kubernetes
/// accepts objects up to 10,000 levels; the deepest real ones (CRDs with embedded pod
/// templates, such as ECK's `Elasticsearch`) stay under 30. The policy input nests the object
/// four levels further, and it must stay under serde_json's (and regorus') limit of 128.
/// Stack: judging an object at this depth, with a policy that walks all of it, fits in 512 KiB
/// in a debug build (tests/webhook.rs under `RUST_MIN_STACK`); tokio's threads have 2 MiB.
/// The same limit as for `check`'s inputs ([`crate::text::MAX_NESTING`]).
pub const MAX_OBJECT_DEPTH: usize = crate::text::MAX_NESTING;
const _: () = assert!(
    MAX_OBJECT_DEPTH + 8 <= 128,
    "the policy input would reach serde_json's recursion limit"
);

/// A review that was read: its `request` and the `apiVersion` to echo.
pub struct Review {
    pub api_version: String,
    pub uid: String,
    pub request: Value,
    /// Set when a part of the request nests deeper than [`MAX_OBJECT_DEPTH`]; that part is
    /// then left out of `request`, and the review is denied without being judged.
    pub too_deep: Option<TooDeep>,
}

/// The deepest part of a request beyond [`MAX_OBJECT_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// The request field: `object`, `oldObject`...
    pub field: String,
    pub depth: usize,
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
    let depths = request_depths(body);
    let too_deep = depths
        .iter()
        .filter(|(_, d)| *d > MAX_OBJECT_DEPTH)
        .max_by_key(|(_, d)| *d)
        .map(|(field, depth)| TooDeep {
            field: field.clone(),
            depth: *depth,
        });
    let parsed = if too_deep.is_some() {
        let skip: Vec<&str> = depths
            .iter()
            .filter(|(_, d)| *d > MAX_OBJECT_DEPTH)
            .map(|(f, _)| f.as_str())
            .collect();
        let mut de = serde_json::Deserializer::from_slice(body);
        Shallow {
            skip: &skip,
            level: 0,
        }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
    } else {
        serde_json::from_slice(body)
    };
    let mut doc: Value = parsed.map_err(|e| Unreadable {
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
        too_deep,
    })
}

/// How deep each field of `request` nests (a scalar 0, `{}` 1), measured on the bytes without
/// recursion, so that a body too deep for any parser is measured too. Strings are skipped with
/// their escapes; a body that is not JSON gives meaningless numbers and fails to parse later.
fn request_depths(body: &[u8]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    // The review (level 1) and the request (level 2): (is an object, expects a key).
    let mut frames = [(false, false); 2];
    let mut keys: [&[u8]; 2] = [b"", b""];
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match body.get(j) {
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                        None => return out,
                    }
                }
                let level = depth.wrapping_sub(1);
                if frames
                    .get(level)
                    .is_some_and(|&(object, key)| object && key)
                {
                    if let (Some(k), Some(text)) = (keys.get_mut(level), body.get(start..j)) {
                        *k = text;
                    }
                }
                i = j;
            }
            b'{' | b'[' => {
                depth += 1;
                if let Some(f) = frames.get_mut(depth - 1) {
                    *f = (b == b'{', b == b'{');
                }
                if depth >= 3 && keys[0] == b"request" {
                    let field = keys[1];
                    match out.iter_mut().find(|(f, _)| f.as_bytes() == field) {
                        Some((_, d)) => *d = (*d).max(depth - 2),
                        None => out.push((String::from_utf8_lossy(field).into_owned(), depth - 2)),
                    }
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' => {
                if let Some(f) = frames.get_mut(depth.wrapping_sub(1)) {
                    f.1 = false;
                }
            }
            b',' => {
                if let Some(f) = frames.get_mut(depth.wrapping_sub(1)) {
                    f.1 = f.0;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses a review, leaving out the request fields in `skip` (skipping a value is iterative
/// in serde_json, so any depth is fine there).
struct Shallow<'a> {
    skip: &'a [&'a str],
    /// 0: the review, 1: the request.
    level: u8,
}

impl<'de> DeserializeSeed<'de> for Shallow<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shallow<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an AdmissionReview object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.level == 0 && key == "request" {
                let request = map.next_value_seed(Shallow {
                    skip: self.skip,
                    level: 1,
                })?;
                out.insert(key, request);
            } else if self.level == 1 && self.skip.contains(&key.as_str()) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value::<Value>()?;
                out.insert(key, value);
            }
        }
        Ok(Value::Object(out))
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

/// The answer to a review whose object nests deeper than [`MAX_OBJECT_DEPTH`]: denied, whatever
/// the failure mode says. It is a property of the request (the same object is refused every
/// time), not a failure of the webhook, so allowing it would let any change through that is
/// wrapped deep enough.
pub fn too_deep(review: &Review, deep: &TooDeep) -> Answer {
    let what = match deep.field.as_str() {
        "object" => "the object".to_string(),
        "oldObject" => "the old object".to_string(),
        other => format!("request.{}", clip(other, 64)),
    };
    let message = format!(
        "quorate: {what} is nested {} levels deep; quorate judges objects nested up to {} \
         levels and denies deeper ones, whatever admission.failure_mode says",
        deep.depth, MAX_OBJECT_DEPTH
    );
    let response = json!({
        "uid": review.uid,
        "allowed": false,
        "status": {"status": "Failure", "message": message, "reason": "Invalid", "code": 422},
        "auditAnnotations": {
            "too-deep": format!("{}: {} levels, limit {}", clip(&deep.field, 64), deep.depth, MAX_OBJECT_DEPTH),
        },
    });
    Answer {
        verdict: "denied",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn depths(text: &str) -> Vec<(String, usize)> {
        request_depths(text.as_bytes())
    }

    #[test]
    fn request_fields_are_measured_from_the_bytes() {
        let text = r#"{"kind":"AdmissionReview","request":{"uid":"u","object":{"a":{"b":[1,{"c":{}}]}},"oldObject":{},"userInfo":{"groups":["x"]}}}"#;
        assert_eq!(
            depths(text),
            vec![
                ("object".to_string(), 5),
                ("oldObject".to_string(), 1),
                ("userInfo".to_string(), 2)
            ]
        );
    }

    #[test]
    fn brackets_and_quotes_inside_strings_do_not_count() {
        let text = r#"{"request":{"object":{"s":"{[{[\"{\\","t":"]}]}"},"x":"\"object\":"}}"#;
        assert_eq!(depths(text), vec![("object".to_string(), 1)]);
        // A key is only a key where one is expected: a string value named `request` is not.
        let text = r#"{"kind":"request","request":{"object":[[[]]]}}"#;
        assert_eq!(depths(text), vec![("object".to_string(), 3)]);
        let text = r#"{"other":{"object":[[[[]]]]},"request":{"object":{}}}"#;
        assert_eq!(depths(text), vec![("object".to_string(), 1)]);
    }

    #[test]
    fn too_deep_objects_are_left_out_and_the_rest_is_read() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let body = format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u-1","operation":"UPDATE","object":{deep},"oldObject":{{"a":1}}}}}}"#
        );
        let review = read(body.as_bytes()).unwrap();
        assert_eq!(review.uid, "u-1");
        assert_eq!(
            review.too_deep,
            Some(TooDeep {
                field: "object".into(),
                depth: 200_000
            })
        );
        assert_eq!(
            review.request,
            json!({"uid": "u-1", "operation": "UPDATE", "oldObject": {"a": 1}})
        );
        let answer = too_deep(&review, review.too_deep.as_ref().unwrap());
        assert_eq!(answer.verdict, "denied");
        assert_eq!(answer.body["response"]["allowed"], false);
        assert_eq!(answer.body["response"]["uid"], "u-1");
        // Broken JSON stays an unreadable body, deep or not.
        assert!(read(format!(r#"{{"request":{{"object":{}"#, "[".repeat(300)).as_bytes()).is_err());
    }

    #[test]
    fn objects_at_the_limit_are_read_whole() {
        let object = format!(
            "{}1{}",
            "[".repeat(MAX_OBJECT_DEPTH),
            "]".repeat(MAX_OBJECT_DEPTH)
        );
        let body = format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u","object":{object}}}}}"#
        );
        let review = read(body.as_bytes()).unwrap();
        assert_eq!(review.too_deep, None);
        assert!(review.request["object"].is_array());
    }
}
