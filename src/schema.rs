//! The published JSON Schemas (input, config, observed) and validation of YAML/JSON documents
//! against them, with errors pointing at the line of the offending value.

use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::text::{escape_token, SourceText, YamlDoc};

pub const INPUT: &str = include_str!("../schemas/input.schema.json");
pub const CONFIG: &str = include_str!("../schemas/config.schema.json");
pub const OBSERVED: &str = include_str!("../schemas/observed.schema.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Input,
    Config,
    Observed,
}

impl Which {
    pub fn text(self) -> &'static str {
        match self {
            Which::Input => INPUT,
            Which::Config => CONFIG,
            Which::Observed => OBSERVED,
        }
    }
}

fn validator(which: Which) -> Result<&'static jsonschema::Validator> {
    static CELLS: [OnceLock<std::result::Result<jsonschema::Validator, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let idx = which as usize;
    let cell = CELLS
        .get(idx)
        .ok_or_else(|| Error::usage("no such schema"))?;
    let v = cell.get_or_init(|| {
        let schema: Value = serde_json::from_str(which.text()).map_err(|e| e.to_string())?;
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| e.to_string())
    });
    v.as_ref()
        .map_err(|e| Error::usage(format!("built-in schema does not compile: {e}")))
}

/// Validates one YAML/JSON document; the first error points at the offending node.
/// Every property name the schema knows, for "did you mean" on a misspelt key.
fn property_names(which: Which) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(props)) = o.get("properties") {
                    out.extend(props.keys().cloned());
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(schema) = serde_json::from_str::<Value>(which.text()) {
        walk(&schema, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// At most this many schema errors are reported in one run.
const MAX_ERRORS: usize = 20;

/// Validates a document; every error (up to 20) is reported at its line in one diagnostic, with
/// "did you mean" for a key the schema does not know.
pub fn validate(which: Which, doc: &YamlDoc, src: &SourceText, stage: Stage) -> Result<()> {
    let validator = validator(which)?;
    let mut errors = Vec::new();
    let mut known: Option<Vec<String>> = None;
    for err in validator.iter_errors(&doc.value).take(MAX_ERRORS) {
        let mut pointer = err.instance_path().as_str().to_string();
        let mut help = None;
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            err.kind()
        {
            if let Some(key) = unexpected.first() {
                pointer = format!("{pointer}/{}", escape_token(key));
                let names = known.get_or_insert_with(|| property_names(which));
                help = names
                    .iter()
                    .map(|n| (strsim::jaro_winkler(n, key), n))
                    .filter(|(score, _)| *score > 0.85)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, n)| format!("did you mean `{n}`?"));
            }
        }
        let offset = locate(doc, &pointer).unwrap_or(doc.start);
        let shown = if pointer.is_empty() {
            "document".to_string()
        } else {
            pointer.clone()
        };
        let e = Error::at(stage, src, offset, format!("{shown}: {err}"));
        errors.push(match help {
            Some(h) => e.with_help(h),
            None => e,
        });
    }
    errors.sort_by_key(|e| e.position);
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(first) => Err(first.with_related(errors.collect())),
    }
}

pub fn locate(doc: &YamlDoc, pointer: &str) -> Option<usize> {
    let mut p = pointer.to_string();
    loop {
        if let Some(&(s, _)) = doc.spans.get(&p) {
            return Some(s);
        }
        if p.is_empty() {
            return None;
        }
        match p.rfind('/') {
            Some(i) => p.truncate(i),
            None => p.clear(),
        }
    }
}
