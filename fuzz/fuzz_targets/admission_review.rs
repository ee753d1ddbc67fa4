//! The webhook's `POST /validate` without the server, as `quorate check review.json
//! [--observed cluster.json] --format admission` runs it: the body read as an AdmissionReview
//! (refusals answered), the request classified, the cluster state looked up in a synced cache,
//! the change set built, the built-in policies evaluated and the answer (break-glass included)
//! serialized. No network: the cluster is part of the input.
//!
//! Input: the review body, optionally followed by a 0xFF byte (never part of UTF-8 text) and
//! the cluster objects the webhook would have looked up (a `kubectl get -o json` List, or one
//! object), as `--observed` gives them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate::config::Config;
use quorate::error::Stage;
use quorate::sources::admission::{self, Request};
use quorate::text::SourceText;
use quorate::webhook::{metrics, review, Cache};
use quorate_fuzz as common;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(policies) = common::policies() else {
        return;
    };
    let (body, cluster) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], data.get(i + 1..)),
        None => (data, None),
    };
    // Larger bodies are refused (413) before they are read.
    if body.len() > quorate::webhook::DEFAULT_MAX_BODY_BYTES {
        return;
    }
    let mut objects = Vec::new();
    if let Some(bytes) = cluster {
        let parsed = SourceText::from_bytes("cluster.json", bytes.to_vec(), Stage::Observed)
            .and_then(|src| quorate::text::parse_json(&src, Stage::Observed));
        match parsed {
            Ok(v) => match v.get("items").and_then(Value::as_array) {
                Some(items) => objects.extend(items.iter().cloned()),
                None => objects.push(v),
            },
            Err(e) => {
                let _ = common::render_error(&e);
                return;
            }
        }
    }
    // `review_offline`: lookups only when cluster objects were given.
    let cache = (!objects.is_empty()).then(|| Cache::from_objects(objects));
    let config = Config::default();
    let mut r = match review::read(body) {
        Ok(r) => r,
        Err(e) => {
            let _ = serde_json::to_string(&e.body());
            return;
        }
    };
    let _ = metrics::RequestInfo::of(&r.request);
    let view = match (&cache, Request::parse(&r.request)) {
        (Some(cache), Some(req)) => admission::target(&req).map(|t| cache.view(&t)),
        _ => None,
    };
    let glass = review::break_glass(&r.request, &config.break_glass_allowed);
    let request = std::mem::take(&mut r.request);
    let now = quorate::check::parse_now(Some(common::NOW)).unwrap_or_default();
    let set = admission::build(&request, view.as_ref(), &config, now);
    let inputs = quorate::webhook::review_inputs(&request, policies);
    let answer = match quorate::check::evaluate(&set, &inputs, &config, policies) {
        Ok(report) => review::from_report_with(&r, &report, glass.as_ref()),
        Err(e) => review::unjudged(
            &r,
            config.admission.failure_mode,
            &format!("policy evaluation failed: {e}"),
            500,
            "error",
        ),
    };
    let _ = serde_json::to_string(&answer.body);
});
