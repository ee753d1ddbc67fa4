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
pub fn validate(which: Which, doc: &YamlDoc, src: &SourceText, stage: Stage) -> Result<()> {
    let validator = validator(which)?;
    let Some(err) = validator.iter_errors(&doc.value).next() else {
        return Ok(());
    };
    let mut pointer = err.instance_path().as_str().to_string();
    if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = err.kind()
    {
        if let Some(key) = unexpected.first() {
            pointer = format!("{pointer}/{}", escape_token(key));
        }
    }
    let offset = locate(doc, &pointer).unwrap_or(doc.start);
    let shown = if pointer.is_empty() {
        "document".to_string()
    } else {
        pointer.clone()
    };
    Err(Error::at(stage, src, offset, format!("{shown}: {err}")))
}

/// Start of the node at `pointer`, or of its nearest located parent.
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
