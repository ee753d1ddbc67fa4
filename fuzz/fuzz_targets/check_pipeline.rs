//! The whole `quorate check FILE` with the built-in policies and the default config: the fuzz
//! input is one file of any format (recognized by content), read from a path; the report is
//! evaluated, located, sorted and rendered as the human and the JSON report, and errors as
//! `main` renders them. (The policies are compiled once per process, as the webhook does.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate::config::Config;
use quorate::report::{self, Format};
use quorate_fuzz as common;

fuzz_target!(|data: &[u8]| {
    let Some(policies) = common::policies() else {
        return;
    };
    let Some(path) = common::scratch_file("input", data) else {
        return;
    };
    let opts = common::check_options(&path);
    let result = quorate::check::build_input_with(&opts, Config::default(), policies.has_conftest())
        .and_then(|(set, inputs, config)| quorate::check::evaluate(&set, &inputs, &config, policies));
    match result {
        Ok(report) => {
            for format in [Format::Human, Format::Json] {
                let mut out = Vec::new();
                let _ = report::render(&report, format, false, &mut out);
            }
        }
        Err(e) => {
            let _ = common::render_error(&e);
        }
    }
});
