//! `quorate check plan.json` up to the Rego input: a `terraform show -json` plan read from a
//! file, recognized by content, turned into changes and drift, effects computed, and the plan
//! locations of every change and attribute found as a finding would look them up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate::config::Config;
use quorate_fuzz as common;

fuzz_target!(|data: &[u8]| {
    let Some(path) = common::scratch_file("plan.json", data) else {
        return;
    };
    let opts = common::check_options(&path);
    match quorate::check::build_input_with(&opts, Config::default(), false) {
        Ok((set, inputs, _)) => {
            let _ = common::rego_input(&set);
            let Some(src) = inputs.sources.get(&path) else {
                return;
            };
            let mut pointers = Vec::new();
            for c in &set.changes {
                pointers.push(c.source.pointer.clone());
                let after = c.source.after_pointer.as_ref().unwrap_or(&c.source.pointer);
                if let Some(cap) = &c.capacity {
                    pointers.push(format!("{after}{}", cap.attribute));
                }
            }
            for d in &set.drift {
                pointers.push(d.origin.pointer.clone());
            }
            for (start, end) in quorate::text::locate_json(&src.text, &pointers).into_values() {
                let _ = src.line_col(start);
                let _ = src.text.get(start..end).and_then(|s| s.find('\n'));
            }
        }
        Err(e) => {
            let _ = common::render_error(&e);
        }
    }
});
