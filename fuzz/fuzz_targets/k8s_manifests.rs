//! `quorate check manifests.yaml` up to the Rego input: a multi-document Kubernetes YAML file
//! (or JSON, or a `kind: List`), parsed with a span for every node and YAML 1.1 scalars as
//! Kubernetes reads them, turned into changes (PDBs resolved), effects computed, and the span
//! of every change's capacity attribute turned into a line and column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate::config::Config;
use quorate_fuzz as common;

fuzz_target!(|data: &[u8]| {
    let Some(path) = common::scratch_file("manifests.yaml", data) else {
        return;
    };
    let opts = common::check_options(&path);
    match quorate::check::build_input_with(&opts, Config::default(), false) {
        Ok((set, inputs, _)) => {
            let _ = common::rego_input(&set);
            let Some(src) = inputs.sources.get(&path) else {
                return;
            };
            for c in &set.changes {
                let Some(spans) = inputs.yaml_spans.get(&(path.clone(), c.source.document)) else {
                    continue;
                };
                let after = c.source.after_pointer.as_ref().unwrap_or(&c.source.pointer);
                let attribute = c.capacity.as_ref().map_or("", |cap| cap.attribute.as_str());
                for p in [c.source.pointer.clone(), format!("{after}{attribute}")] {
                    if let Some(&(start, end)) = spans.get(&p) {
                        let _ = src.line_col(start);
                        let _ = src.text.get(start..end).and_then(|s| s.find('\n'));
                    }
                }
            }
        }
        Err(e) => {
            let _ = common::render_error(&e);
        }
    }
});
