//! What the fuzz targets share: a scratch file per process (the CLI reads inputs from paths),
//! the CLI's fixed-clock options, the built-in policies compiled once, and the CLI's error
//! rendering. A target crashes only on panic, abort, timeout or OOM; an `Err` is an answer.

use std::path::PathBuf;
use std::sync::OnceLock;

use quorate::check::CheckOptions;
use quorate::config::Config;
use quorate::engine::PolicySet;
use quorate::error::Error;

/// `--now` and `--observed-at`: the captured outage's clock, so runs do not depend on the date.
pub const NOW: &str = "2026-11-24T10:00:00Z";
pub const OBSERVED_AT: &str = "2026-11-24T09:58:30Z";

/// A directory of this process's own under the temp dir (fuzzers of one campaign run in
/// separate processes; `-fork`/`-jobs` workers must not share scratch files).
pub fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("quorate-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    })
}

/// Writes the input where the CLI would read it from; `None` if the scratch dir is unusable
/// (not a finding about quorate).
pub fn scratch_file(name: &str, data: &[u8]) -> Option<String> {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).ok()?;
    path.to_str().map(String::from)
}

/// `quorate check FILE --now NOW --observed-at OBSERVED_AT --root SCRATCH`: `--root` keeps
/// report paths from depending on a git lookup above the temp dir.
pub fn check_options(path: &str) -> CheckOptions {
    CheckOptions {
        paths: vec![path.to_string()],
        now: Some(NOW.into()),
        observed_at: Some(OBSERVED_AT.into()),
        root: scratch_dir().to_str().map(String::from),
        ..CheckOptions::default()
    }
}

/// The built-in policies with the default config, compiled once per process (as the webhook
/// does; `quorate check` compiles them once per run).
pub fn policies() -> Option<&'static PolicySet> {
    static SET: OnceLock<Option<PolicySet>> = OnceLock::new();
    SET.get_or_init(|| {
        let opts = CheckOptions::default();
        quorate::check::load_policies(&opts, &Config::default()).ok()
    })
    .as_ref()
}

/// Renders an error as `quorate`'s `main` does (miette, unicode without color, no wrapping).
pub fn render_error(e: &Error) -> String {
    let mut s = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(usize::MAX);
    if handler.render_report(&mut s, e).is_err() || s.is_empty() {
        s = format!("error: {e}\n");
    }
    s
}

/// Serializes the Rego input, as `check::evaluate` does before evaluating.
pub fn rego_input(set: &quorate::model::ChangeSet) -> Option<String> {
    serde_json::to_string(set).ok()
}

/// The change the observed-state targets are checked against: an Auto Scaling group
/// `search-prod` whose `max_size` drops below its desired size (effects clamp it).
pub const OBSERVED_PLAN: &str =
    include_str!("../../testdata/scenarios/asg-max-size-clamp-denied/plan.json");

/// `quorate check plan.json --observed [GROUP=]FILE` up to the Rego input, with the fuzz input
/// as FILE (`file_name` only names it: formats are recognized by content).
pub fn observed(data: &[u8], file_name: &str, group: Option<&str>) {
    static PLAN: OnceLock<Option<String>> = OnceLock::new();
    let Some(plan) = PLAN
        .get_or_init(|| scratch_file("observed-plan.json", OBSERVED_PLAN.as_bytes()))
        .as_deref()
    else {
        return;
    };
    let Some(path) = scratch_file(file_name, data) else {
        return;
    };
    let mut opts = check_options(plan);
    opts.observed = vec![match group {
        Some(g) => format!("{g}={path}"),
        None => path.clone(),
    }];
    match quorate::check::build_input_with(&opts, Config::default(), false) {
        Ok((set, _, _)) => {
            let _ = rego_input(&set);
        }
        Err(e) => {
            let _ = render_error(&e);
        }
    }
}
