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
    let text = crate::text::SourceText::read(
        &shown,
        Stage::Input,
        crate::text::DEFAULT_MAX_INPUT_BYTES,
    )
    .map_err(|e| Error::file(Stage::Input, &shown, format!("cannot read the GitHub event: {e}")))?
    .text;
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

/// The `::error` workflow command for a tool failure (exit 2), at its file and position when
/// the error has them, so the failing step shows where the bad input is.
pub fn error_annotation(e: &Error) -> String {
    let what = match e.stage {
        Stage::Input => "input error",
        Stage::Observed => "observed-state error",
        Stage::Config => "config error",
        Stage::Policy => "policy error",
        Stage::Output => "output error",
        Stage::Usage => "usage error",
    };
    let (line, col) = e.position.unwrap_or((0, 0));
    let message = match &e.help {
        Some(help) => format!("{}\nhelp: {help}", e.message),
        None => e.message.clone(),
    };
    report::github::annotation(
        "error",
        Some(e.path.as_str()),
        line,
        col,
        &format!("quorate: {what}"),
        &message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_annotation_is_located_and_escaped() {
        let e = Error::at_position(Stage::Input, "plans/a,b:c.json", 3, 7, "100% bad\r\nJSON");
        assert_eq!(
            error_annotation(&e),
            "::error file=plans/a%2Cb%3Ac.json,line=3,col=7,title=quorate%3A input error::100%25 bad%0D%0AJSON\n"
        );
        let e = Error::usage("--timeout `x` is not a duration").with_help("e.g. 10s");
        assert_eq!(
            error_annotation(&e),
            "::error title=quorate%3A usage error::--timeout `x` is not a duration%0Ahelp: e.g. 10s\n"
        );
    }
}
