//! `quorate check plan.json --observed asg.json --config quorate.yaml`: the fuzz input is
//! quorate.yaml. Parsed and validated (schema, durations, dates, globs, freezes), its waivers
//! and `severity:` / `admission.scope` keys checked against the built-in rule ids, then used
//! to build the input of a fixed plan and observed group (groups, aliases, quorum, excludes,
//! freezes) and to waive, re-grade and scope the findings of the built-in policies, rendered.
//! (Unlike the CLI, the policies are compiled once with the default config as
//! `data.quorate.config`; recompiling them for every input would leave no time to fuzz.)
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quorate::config::Config;
use quorate::error::Stage;
use quorate::text::SourceText;
use quorate_fuzz as common;

const ASG: &str = include_str!("../../testdata/scenarios/asg-max-size-clamp-denied/asg.json");

fuzz_target!(|data: &[u8]| {
    static FILES: OnceLock<Option<(String, String)>> = OnceLock::new();
    let Some((plan, asg)) = FILES
        .get_or_init(|| {
            Some((
                common::scratch_file("config-plan.json", common::OBSERVED_PLAN.as_bytes())?,
                common::scratch_file("config-asg.json", ASG.as_bytes())?,
            ))
        })
        .as_ref()
    else {
        return;
    };
    let Some(policies) = common::policies() else {
        return;
    };
    // `Config::load` reads the file and parses its text; a config is at most this size.
    let limit = quorate::text::DEFAULT_MAX_INPUT_BYTES as usize;
    if data.len() > limit {
        return;
    }
    let config = match SourceText::from_bytes("quorate.yaml", data.to_vec(), Stage::Config)
        .and_then(|src| Config::parse(&src))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = common::render_error(&e);
            return;
        }
    };
    let _ = config.data();
    let mut ids: Vec<String> = policies.rules.iter().map(|r| r.id.clone()).collect();
    ids.extend(quorate::rules::native().into_iter().map(|r| r.id));
    let now = quorate::check::parse_now(Some(common::NOW)).unwrap_or_default();
    if let Err(e) = config.check_waivers(&ids, now) {
        let _ = common::render_error(&e);
    }
    for id in &ids {
        let _ = config.severity_of(id, quorate::model::Severity::Deny);
        let _ = config.scope_of(id);
    }
    let mut opts = common::check_options(plan);
    opts.observed = vec![asg.clone()];
    let result = quorate::check::build_input_with(&opts, config, false)
        .and_then(|(set, inputs, config)| quorate::check::evaluate(&set, &inputs, &config, policies));
    match result {
        Ok(report) => {
            let mut out = Vec::new();
            let _ = quorate::report::render(&report, quorate::report::Format::Human, false, &mut out);
        }
        Err(e) => {
            let _ = common::render_error(&e);
        }
    }
});
