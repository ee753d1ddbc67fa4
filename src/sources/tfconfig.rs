//! The Terraform configuration behind a plan: maps a resource address and an attribute pointer
//! to the `.tf` line that declares it. The only user of hcl-edit; reads local modules only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl_edit::structure::{Block, Body};
use hcl_edit::Span as _;
use serde_json::Value;

use crate::model::Location;
use crate::text::SourceText;

/// Parsed `.tf` files of the module directories looked at, each read once.
#[derive(Debug, Default)]
pub struct TfFiles {
    dirs: HashMap<PathBuf, Vec<(SourceText, Body)>>,
}

impl TfFiles {
    /// The `.tf` files of `dir` that parse, sorted by name.
    fn module(&mut self, dir: &Path) -> &[(SourceText, Body)] {
        self.dirs
            .entry(dir.to_path_buf())
            .or_insert_with(|| read_module(dir))
    }

    /// Where `address` (`module.x.aws_autoscaling_group.search[0]`) declares `attribute`
    /// (`/desired_capacity`, `/cluster_config/0/instance_count`), in the configuration rooted
    /// at `root` whose plan `configuration` block is `config`. Falls back to the resource
    /// block; `None` when the resource is not in a local `.tf` file.
    pub fn locate(
        &mut self,
        root: &Path,
        config: &Value,
        address: &str,
        attribute: &str,
    ) -> Option<(SourceText, Location)> {
        let addr = parse_address(address)?;
        let mut dir = root.to_path_buf();
        let mut module = config.get("root_module")?;
        for name in &addr.modules {
            let call = module.get("module_calls")?.get(name)?;
            let source = call.get("source")?.as_str()?;
            // Registry and git modules are not in the repository.
            if !(source.starts_with("./") || source.starts_with("../")) {
                return None;
            }
            dir = clean(&dir.join(source));
            module = call.get("module")?;
        }
        let kind = if addr.data { "data" } else { "resource" };
        let (src, block) = self.module(&dir).iter().find_map(|(src, body)| {
            body.get_blocks(kind)
                .find(|b| b.has_exact_labels(&[addr.kind.as_str(), addr.name.as_str()]))
                .map(|b| (src, b))
        })?;
        let span = declaration(block, attribute)?;
        let (line, column) = src.line_col(span.start);
        let first_line_end = src
            .text
            .get(span.start..span.end)
            .and_then(|s| s.find('\n'))
            .map_or(span.end, |i| span.start + i);
        let location = Location {
            path: src.path.clone(),
            line,
            column,
            pointer: String::new(),
            offset: span.start,
            len: first_line_end.saturating_sub(span.start),
        };
        Some((src.clone(), location))
    }
}

/// `a/b/../c/./d` -> `a/c/d`, without touching the file system (`..` above a relative start
/// is kept).
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

fn read_module(dir: &Path) -> Vec<(SourceText, Body)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            // Read like any input: bounded, and never a FIFO.
            let src = SourceText::read(
                &p.display().to_string(),
                crate::error::Stage::Input,
                crate::text::DEFAULT_MAX_INPUT_BYTES,
            )
            .ok()?;
            let text = src.text.to_string();
            let body = hcl_edit::parser::parse_body(&text).ok()?;
            Some((SourceText::new(p.display().to_string(), text), body))
        })
        .collect()
}

/// The span that declares `attribute` in `block`: the attribute, else the deepest nested
/// block the pointer reaches, else the block.
fn declaration(block: &Block, attribute: &str) -> Option<std::ops::Range<usize>> {
    let mut best = block.span()?;
    let mut body = &block.body;
    let names: Vec<String> = attribute
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut segments = names.iter().peekable();
    while let Some(name) = segments.next() {
        if let Some(attr) = body.get_attribute(name) {
            // An object or list attribute (`tags = {...}`) is as deep as HCL goes here.
            return attr.span().or(Some(best));
        }
        // `/cluster_config/0/...`: the first (or Nth) nested block of that name.
        let index = match segments.peek().and_then(|s| s.parse::<usize>().ok()) {
            Some(i) => {
                segments.next();
                i
            }
            None => 0,
        };
        let Some(nested) = body.get_blocks(name).nth(index) else {
            break;
        };
        best = nested.span().unwrap_or(best);
        body = &nested.body;
    }
    Some(best)
}

/// A resource address split into its module path and the resource.
#[derive(Debug, PartialEq)]
struct Address {
    modules: Vec<String>,
    data: bool,
    kind: String,
    name: String,
}

/// `module.a["k"].module.b[0].data.aws_x.y[1]` -> modules `[a, b]`, data, `aws_x`, `y`. Index
/// keys may hold dots and brackets inside their quotes.
fn parse_address(address: &str) -> Option<Address> {
    let address = address.split(" (deposed").next().unwrap_or(address);
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = address.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => parts.push(std::mem::take(&mut current)),
            '[' => {
                // Skip the index, honouring quotes.
                let mut quoted = false;
                let mut escaped = false;
                for d in chars.by_ref() {
                    match d {
                        _ if escaped => escaped = false,
                        '\\' if quoted => escaped = true,
                        '"' => quoted = !quoted,
                        ']' if !quoted => break,
                        _ => {}
                    }
                }
            }
            c => current.push(c),
        }
    }
    parts.push(current);
    let mut modules = Vec::new();
    let mut rest = parts.as_slice();
    while let [first, name, tail @ ..] = rest {
        if first != "module" || tail.is_empty() {
            break;
        }
        modules.push(name.clone());
        rest = tail;
    }
    let (data, rest) = match rest {
        [first, tail @ ..] if first == "data" => (true, tail),
        _ => (false, rest),
    };
    match rest {
        [kind, name] if !kind.is_empty() && !name.is_empty() && kind != "module" => Some(Address {
            modules,
            data,
            kind: kind.clone(),
            name: name.clone(),
        }),
        _ => None,
    }
}

/// Whether `dir` holds `.tf` files (the default configuration directory is the current one
/// only then).
pub fn has_tf_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "tf"))
    })
}

/// The attribute part of a plan pointer: `/resource_changes/3/change/after/desired_capacity`
/// -> `/desired_capacity`.
pub fn attribute_of(pointer: &str) -> &str {
    ["/change/after", "/change/before"]
        .iter()
        .find_map(|m| pointer.find(m).map(|i| i + m.len()))
        .and_then(|i| pointer.get(i..))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_directories_are_cleaned() {
        assert_eq!(
            clean(Path::new("env/prod/../../modules/./x")),
            Path::new("modules/x")
        );
        assert_eq!(clean(Path::new("./../m")), Path::new("../m"));
        assert_eq!(clean(Path::new("/a/../../b")), Path::new("/b"));
    }

    #[test]
    fn addresses() {
        let a = parse_address("module.x.aws_autoscaling_group.search[0]").unwrap();
        assert_eq!(a.modules, ["x"]);
        assert_eq!(
            (a.kind.as_str(), a.name.as_str(), a.data),
            ("aws_autoscaling_group", "search", false)
        );
        let b = parse_address(r#"module.a["k.v]"].module.b[1].data.aws_ami.ubuntu"#).unwrap();
        assert_eq!(b.modules, ["a", "b"]);
        assert!(b.data);
        assert_eq!(b.name, "ubuntu");
        let c = parse_address("aws_instance.web (deposed 00a1)").unwrap();
        assert!(c.modules.is_empty());
        assert_eq!(c.kind, "aws_instance");
        assert!(parse_address("module.x").is_none());
        assert!(parse_address("").is_none());
    }

    #[test]
    fn resources_through_nested_local_modules() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |p: &str, text: &str| {
            let path = tmp.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("env/prod/main.tf", "module \"search\" {\n  source = \"../../modules/search\"\n}\n\nresource \"aws_autoscaling_group\" \"web\" {\n  desired_capacity = 2\n}\n");
        write(
            "modules/search/a.tf",
            "module \"nodes\" {\n  source = \"./nodes\"\n  count  = 2\n}\n",
        );
        write("modules/search/nodes/z.tf", "resource \"aws_opensearch_domain\" \"this\" {\n  cluster_config {\n    instance_count = 3\n  }\n}\n");
        let config = serde_json::json!({"root_module": {"module_calls": {
            "search": {"source": "../../modules/search", "module": {"module_calls": {
                "nodes": {"source": "./nodes", "module": {}}}}},
            "registry": {"source": "terraform-aws-modules/autoscaling/aws", "module": {}}}}});
        let root = tmp.path().join("env/prod");
        let mut files = TfFiles::default();
        let (src, at) = files
            .locate(
                &root,
                &config,
                "module.search.module.nodes[1].aws_opensearch_domain.this",
                "/cluster_config/0/instance_count",
            )
            .unwrap();
        assert!(
            src.path.ends_with("modules/search/nodes/z.tf"),
            "{}",
            src.path
        );
        assert_eq!((at.line, at.column), (3, 5));
        assert_eq!(
            &src.text[at.offset..at.offset + at.len],
            "instance_count = 3"
        );
        let (src, at) = files
            .locate(
                &root,
                &config,
                "aws_autoscaling_group.web",
                "/desired_capacity",
            )
            .unwrap();
        assert!(src.path.ends_with("env/prod/main.tf"));
        assert_eq!(at.line, 6);
        // not declared here, or in a module that is not in the repository
        assert!(files
            .locate(&root, &config, "aws_autoscaling_group.gone", "")
            .is_none());
        assert!(files
            .locate(
                &root,
                &config,
                "module.registry.aws_autoscaling_group.this",
                ""
            )
            .is_none());
    }

    #[test]
    fn attributes_and_nested_blocks() {
        let text = "resource \"aws_opensearch_domain\" \"logs\" {\n  domain_name = \"logs\"\n  cluster_config {\n    instance_count = 3\n  }\n  cluster_config {\n    instance_count = 5\n  }\n  tags = {\n    a = 1\n  }\n}\n";
        let body = hcl_edit::parser::parse_body(text).unwrap();
        let block = body.get_blocks("resource").next().unwrap();
        let at = |p: &str| {
            let s = declaration(block, p).unwrap();
            text[s.start..].lines().next().unwrap().to_string()
        };
        assert_eq!(at("/domain_name"), "domain_name = \"logs\"");
        assert_eq!(at("/cluster_config/0/instance_count"), "instance_count = 3");
        assert_eq!(at("/cluster_config/1/instance_count"), "instance_count = 5");
        assert_eq!(at("/cluster_config/0/missing"), "cluster_config {");
        assert_eq!(at("/tags/a"), "tags = {");
        assert_eq!(
            at("/nothing"),
            "resource \"aws_opensearch_domain\" \"logs\" {"
        );
        assert_eq!(
            attribute_of("/resource_changes/3/change/after/desired_capacity"),
            "/desired_capacity"
        );
        assert_eq!(attribute_of("/resource_changes/3"), "");
    }
}
