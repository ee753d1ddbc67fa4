//! GitHub Actions integration: reads the pull request from $GITHUB_EVENT_PATH and writes the
//! step summary and outputs. The action file stays thin; the logic lives here.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::model::Report;
use crate::report::{self, Format};

/// Base and head commits of the pull request that triggered the workflow, if any.
pub fn pull_request_range() -> Result<Option<(String, String)>> {
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH") else {
        return Ok(None);
    };
    let shown = path.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::file(
            Stage::Input,
            &shown,
            format!("cannot read the GitHub event: {e}"),
        )
    })?;
    let event: Value = serde_json::from_str(&text).map_err(|e| {
        Error::at_position(
            Stage::Input,
            &shown,
            e.line(),
            e.column(),
            format!("GitHub event is not JSON: {e}"),
        )
    })?;
    let sha = |p: &str| event.pointer(p).and_then(Value::as_str).map(String::from);
    Ok(
        match (sha("/pull_request/base/sha"), sha("/pull_request/head/sha")) {
            (Some(b), Some(h)) => Some((b, h)),
            _ => None,
        },
    )
}

/// Appends to a file named by an environment variable (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT).
fn append(var: &str, text: &str) -> Result<()> {
    let Some(path) = std::env::var_os(var) else {
        return Ok(());
    };
    let shown = path.to_string_lossy().into_owned();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&path))
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::file(Stage::Output, shown, format!("cannot write ${var}: {e}")))
}

/// Writes the job summary (Markdown) and the step outputs: `deny`, `warn`, `waived`, `sarif`.
pub fn publish(report: &Report, sarif: Option<&Path>) -> Result<()> {
    let mut md = Vec::new();
    report::render(report, Format::Markdown, false, &mut md)
        .map_err(|e| Error::file(Stage::Output, "$GITHUB_STEP_SUMMARY", e.to_string()))?;
    append("GITHUB_STEP_SUMMARY", &String::from_utf8_lossy(&md))?;
    let mut out = format!(
        "deny={}\nwarn={}\nwaived={}\n",
        report.summary.deny, report.summary.warn, report.summary.waived
    );
    if let Some(p) = sarif {
        out.push_str(&format!("sarif={}\n", p.display()));
    }
    append("GITHUB_OUTPUT", &out)
}
