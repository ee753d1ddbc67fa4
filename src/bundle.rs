//! OPA bundles (`.tar.gz` with `.manifest`, `.rego` files and `data.json` / `data.yaml`) read
//! into memory for `--policy`. No regorus here: the engine loads what this module returns.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::text::{self, SourceText};

/// The data root the built-in policies and `quorate.yaml` own (`data.quorate`).
pub const RESERVED_ROOT: &str = "quorate";

/// Largest single policy file inside a bundle (same limit as policy files on disk).
const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;
/// Largest uncompressed bundle: a gzip bomb stops here instead of filling memory.
const MAX_BUNDLE_BYTES: u64 = 256 * 1024 * 1024;

/// A bundle's contents, named `<bundle>!/<path inside>` so errors say where they are.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub path: String,
    pub revision: String,
    /// Data paths the bundle owns, `/`-separated (`""` owns everything).
    pub roots: Vec<String>,
    /// The manifest says `"rego_version": 0`: parse every module as Rego v0.
    pub rego_v0: bool,
    pub policies: Vec<SourceText>,
    /// Data documents: where they mount (path segments below `data`), value, file name.
    pub data: Vec<(Vec<String>, Value, String)>,
}

/// A `--policy` argument that names a bundle file rather than a policy file or directory.
pub fn is_bundle(path: &str) -> bool {
    let p = Path::new(path);
    if !p.is_file() {
        return false;
    }
    if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
        return true;
    }
    // Anything gzip-compressed given as a policy is a bundle (e.g. `bundle` without suffix).
    let mut magic = [0u8; 2];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == [0x1f, 0x8b])
}

fn bundle_error(path: &str, message: impl Into<String>) -> Error {
    Error::file(Stage::Policy, path, message)
}

/// Reads a `.tar.gz` bundle: manifest, policies and data, checking sizes as it goes.
pub fn read(path: &str) -> Result<Bundle> {
    let file = std::fs::File::open(path)
        .map_err(|e| bundle_error(path, format!("cannot open bundle: {e}")))?;
    let gz = flate2::read::GzDecoder::new(file).take(MAX_BUNDLE_BYTES + 1);
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| bundle_error(path, format!("not a tar.gz bundle: {e}")))?;
    let mut bundle = Bundle {
        path: path.to_string(),
        roots: vec![String::new()],
        ..Bundle::default()
    };
    let mut manifest: Option<(Value, String)> = None;
    let mut total: u64 = 0;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| bundle_error(path, format!("not a tar.gz bundle: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| bundle_error(path, format!("bad entry name: {e}")))?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        let wanted = base == ".manifest"
            || base.ends_with(".rego")
            || matches!(base.as_str(), "data.json" | "data.yaml" | "data.yml")
            || base.ends_with(".wasm");
        if !wanted {
            continue;
        }
        let shown = format!("{path}!/{name}");
        if base.ends_with(".wasm") {
            return Err(bundle_error(
                &shown,
                "Wasm modules are not supported: the bundle must carry Rego source",
            ));
        }
        let limit = if base.ends_with(".rego") {
            MAX_POLICY_BYTES
        } else {
            MAX_BUNDLE_BYTES
        };
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bundle_error(&shown, format!("cannot read: {e}")))?;
        total += bytes.len() as u64;
        if bytes.len() as u64 > limit || total > MAX_BUNDLE_BYTES {
            return Err(bundle_error(
                &shown,
                format!("bundle entry too large (limit {limit} bytes, bundle {MAX_BUNDLE_BYTES} bytes uncompressed)"),
            ));
        }
        let src = SourceText::from_bytes(&shown, bytes, Stage::Policy)?;
        if base == ".manifest" {
            let v = text::parse_json(&src, Stage::Policy)?;
            manifest = Some((v, shown));
        } else if base.ends_with(".rego") {
            bundle.policies.push(src);
        } else {
            let value = if base == "data.json" {
                text::parse_json(&src, Stage::Policy)?
            } else {
                text::parse_yaml(&src, Stage::Policy)?
                    .into_iter()
                    .next()
                    .map(|d| d.value)
                    .unwrap_or(Value::Null)
            };
            if !value.is_object() {
                return Err(bundle_error(
                    &shown,
                    "bundle data must be an object (it is merged into `data`)",
                ));
            }
            let dir: Vec<String> = name
                .rsplit_once('/')
                .map(|(d, _)| {
                    d.split('/')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            bundle.data.push((dir, value, shown));
        }
    }
    if let Some((m, shown)) = manifest {
        apply_manifest(&mut bundle, &m, &shown)?;
    }
    bundle.policies.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(bundle)
}

fn apply_manifest(bundle: &mut Bundle, m: &Value, shown: &str) -> Result<()> {
    let Some(obj) = m.as_object() else {
        return Err(bundle_error(shown, ".manifest must be a JSON object"));
    };
    bundle.revision = obj
        .get("revision")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match obj.get("roots") {
        None | Some(Value::Null) => {}
        Some(Value::Array(roots)) => {
            bundle.roots = roots
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(|s| s.trim_matches('/').to_string())
                        .ok_or_else(|| bundle_error(shown, "\"roots\" must be a list of strings"))
                })
                .collect::<Result<_>>()?;
        }
        Some(_) => return Err(bundle_error(shown, "\"roots\" must be a list of strings")),
    }
    match obj.get("rego_version").and_then(Value::as_i64) {
        None | Some(1) => {}
        Some(0) => bundle.rego_v0 = true,
        Some(v) => {
            return Err(bundle_error(
                shown,
                format!("\"rego_version\": {v} is not 0 or 1"),
            ))
        }
    }
    Ok(())
}

fn segments(path: &str) -> Vec<&str> {
    path.split(['/', '.']).filter(|s| !s.is_empty()).collect()
}

/// One path is at or below the other (OPA's root overlap rule).
fn overlaps(a: &[&str], b: &[&str]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Like OPA, refuses a bundle whose roots overlap what quorate owns (`data.quorate`), and
/// policies or data outside the bundle's own roots.
pub fn check_roots(bundle: &Bundle, packages: &[(String, String)]) -> Result<()> {
    let reserved = [RESERVED_ROOT];
    for root in &bundle.roots {
        if overlaps(&segments(root), &reserved) {
            let shown = if root.is_empty() {
                "\"\" (the whole data tree, the default when .manifest names no roots)".to_string()
            } else {
                format!("\"{root}\"")
            };
            return Err(bundle_error(
                &bundle.path,
                format!("bundle root {shown} collides with `quorate`, which quorate's built-in policies and configuration own"),
            )
            .with_help("list the bundle's own roots in its .manifest, e.g. {\"roots\": [\"main\", \"acme\"]}; policies for quorate's change set (`package quorate.*`) are passed as files with --policy"));
        }
    }
    let roots: Vec<Vec<&str>> = bundle.roots.iter().map(|r| segments(r)).collect();
    let within = |p: &[&str]| roots.iter().any(|r| r.len() <= p.len() && overlaps(r, p));
    for (file, package) in packages {
        if !within(&segments(package)) {
            return Err(bundle_error(
                file,
                format!(
                    "package {package} is outside the bundle's roots [{}]",
                    bundle.roots.join(", ")
                ),
            ));
        }
    }
    for (dir, value, file) in &bundle.data {
        for key in value.as_object().into_iter().flat_map(|o| o.keys()) {
            let mut p: Vec<&str> = dir.iter().map(String::as_str).collect();
            p.push(key);
            if !within(&p) {
                return Err(bundle_error(
                    file,
                    format!(
                        "data at {} is outside the bundle's roots [{}]",
                        p.join("/"),
                        bundle.roots.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The bundle's data documents merged into one object (mounted at their directories).
pub fn data_document(bundle: &Bundle) -> Value {
    let mut root = Value::Object(Default::default());
    for (dir, value, _) in &bundle.data {
        let mut v = value.clone();
        for seg in dir.iter().rev() {
            let mut o = serde_json::Map::new();
            o.insert(seg.clone(), v);
            v = Value::Object(o);
        }
        merge(&mut root, v);
    }
    root
}

/// Deep-merges objects; on a conflict the later value wins.
pub fn merge(target: &mut Value, other: Value) {
    match (target, other) {
        (Value::Object(t), Value::Object(o)) => {
            for (k, v) in o {
                match t.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (t, o) => *t = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(roots: &[&str]) -> Bundle {
        Bundle {
            path: "b.tar.gz".into(),
            roots: roots.iter().map(|s| s.to_string()).collect(),
            ..Bundle::default()
        }
    }

    #[test]
    fn roots_overlapping_quorate_are_refused() {
        for roots in [
            &[""][..],
            &["quorate"],
            &["quorate/acme"],
            &["main", "quorate"],
        ] {
            let err = check_roots(&bundle(roots), &[]).unwrap_err();
            assert!(
                err.to_string().contains("collides with `quorate`"),
                "{roots:?}: {err}"
            );
        }
        assert!(check_roots(&bundle(&["main", "acme/quorum"]), &[]).is_ok());
        assert!(check_roots(&bundle(&["quorater"]), &[]).is_ok());
    }

    #[test]
    fn packages_and_data_must_sit_inside_the_roots() {
        let b = bundle(&["acme"]);
        let ok = [("x.rego".to_string(), "acme.k8s".to_string())];
        assert!(check_roots(&b, &ok).is_ok());
        let bad = [("x.rego".to_string(), "main".to_string())];
        let err = check_roots(&b, &bad).unwrap_err();
        assert!(err.to_string().contains("package main is outside"), "{err}");
        let mut b = bundle(&["acme"]);
        b.data
            .push((vec![], serde_json::json!({"other": 1}), "data.json".into()));
        assert!(check_roots(&b, &[]).is_err());
        b.data = vec![(
            vec!["acme".into()],
            serde_json::json!({"x": 1}),
            "acme/data.json".into(),
        )];
        assert!(check_roots(&b, &[]).is_ok());
        assert_eq!(data_document(&b), serde_json::json!({"acme": {"x": 1}}));
    }
}
