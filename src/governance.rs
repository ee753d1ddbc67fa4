//! Who may open the gate. In `quorate diff`, quorate.yaml and `--policy` directories are read
//! from the base revision (git2, from the object database), so a change cannot waive its own
//! denial or loosen the rules that judge it; what the change does to them is reported instead.

use std::path::Path;

use crate::config::{Config, Waiver};
use crate::error::{Error, Result, Stage};
use crate::git::{self, Changes, Side};
use crate::model::{Finding, Location, Severity};
use crate::rules::{POLICY_CHANGED, WAIVER_ADDED};
use crate::text::SourceText;

/// Where `diff` takes its configuration and policies from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigFrom {
    /// The base revision (default): the change is judged by the rules it is merged under.
    #[default]
    Base,
    /// The working tree: for repositories that trust their pull requests' config.
    Head,
}

/// Configuration and policies for one diff, with what the change does to them.
#[derive(Debug, Default)]
pub struct Governed {
    pub config: Config,
    /// Policy files read from the base revision.
    pub policy_sources: Vec<SourceText>,
    /// `--policy` paths still read from disk (outside the repository, bundles).
    pub policy_paths: Vec<String>,
    pub findings: Vec<Finding>,
    pub notices: Vec<String>,
    /// Head-side texts the findings point into, for snippets.
    pub sources: Vec<SourceText>,
}

fn posix(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` (as typed, relative to the working directory) relative to the work tree, when it
/// lies inside it.
fn in_repo(root: &Path, path: &str) -> Option<String> {
    let abs = std::path::absolute(path).ok()?;
    let abs = abs.canonicalize().unwrap_or(abs);
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    abs.strip_prefix(&root).ok().map(posix)
}

/// The config file's path in the repository: `--config`, else `quorate.yaml` (or `.yml`) in
/// the working directory when that is inside the repository, else at its root.
fn config_path(root: &Path, explicit: Option<&str>) -> Option<String> {
    if let Some(p) = explicit {
        return in_repo(root, p);
    }
    let cwd = std::env::current_dir().ok()?;
    let dir = in_repo(root, &cwd.display().to_string()).unwrap_or_default();
    let join = |name: &str| {
        if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    };
    Some(join("quorate.yaml"))
}

fn read_one(repo: &str, side: &Side, path: &str) -> Result<Option<Vec<u8>>> {
    Ok(git::files_at(repo, side, path, &[])?
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| b))
}

fn parse_config(label: &str, bytes: Vec<u8>) -> Result<(Config, SourceText)> {
    let src = SourceText::from_bytes(label, bytes, Stage::Config)?;
    Ok((Config::parse(&src)?, src))
}

fn same_waiver(a: &Waiver, b: &Waiver) -> bool {
    a.rule == b.rule && a.change == b.change && a.group == b.group
}

fn finding(
    rule: &str,
    severity: Severity,
    message: String,
    src: &SourceText,
    offset: usize,
) -> Finding {
    let (line, column) = src.line_col(offset);
    let end = src
        .text
        .get(offset..)
        .and_then(|s| s.find('\n'))
        .map_or(src.text.len(), |i| offset + i);
    Finding {
        rule: rule.into(),
        severity,
        message,
        change: None,
        group: None,
        location: Some(Location {
            path: src.path.clone(),
            line,
            column,
            pointer: String::new(),
            offset,
            len: end.saturating_sub(offset),
        }),
        related: Vec::new(),
        waiver: None,
    }
}

/// Loads the configuration and policies `diff` judges with, and reports changes to them.
/// `label` turns a repository path into the path reports show (`--repo` prefixed).
pub fn load(
    repo: &str,
    changes: &Changes,
    from: ConfigFrom,
    explicit_config: Option<&str>,
    policies: &[String],
    limit: u64,
    label: &dyn Fn(&str) -> String,
) -> Result<Governed> {
    let Some(root) = git::work_tree(Path::new(repo)) else {
        // A bare repository: nothing on disk to prefer; read the working directory's files.
        return Ok(Governed {
            config: Config::discover(explicit_config, limit)?,
            policy_paths: policies.to_vec(),
            ..Governed::default()
        });
    };
    let base = Side::Commit(changes.base.clone());
    let head = Side::of_label(&changes.head);
    let short = changes.base.get(..7).unwrap_or(&changes.base).to_string();
    let mut g = Governed::default();

    // ---- quorate.yaml
    let rel = config_path(&root, explicit_config);
    let head_config = match &rel {
        Some(p) => read_one(repo, &head, p)?
            .map(|b| parse_config(&label(p), b))
            .transpose()?,
        None => None,
    };
    let base_config = match (&rel, from) {
        (Some(p), ConfigFrom::Base) => read_one(repo, &base, p)?
            .map(|b| parse_config(&format!("{}@{short}", label(p)), b))
            .transpose()?,
        _ => None,
    };
    g.config = match (from, &rel) {
        (ConfigFrom::Head, _) | (_, None) => Config::discover(explicit_config, limit)?,
        (ConfigFrom::Base, Some(_)) => base_config
            .as_ref()
            .map(|(c, _)| c.clone())
            .unwrap_or_default(),
    };
    if let (Some((head_cfg, head_src)), Some(p)) = (&head_config, &rel) {
        let base_cfg = base_config.as_ref().map(|(c, _)| c);
        let base_text = match &base_config {
            Some((_, s)) => Some(s.text.clone()),
            None if from == ConfigFrom::Head => {
                read_one(repo, &base, p)?.map(|b| String::from_utf8_lossy(&b).into_owned().into())
            }
            None => None,
        };
        let mut added = 0;
        if from == ConfigFrom::Base {
            for w in &head_cfg.waivers {
                if base_cfg.is_some_and(|b| b.waivers.iter().any(|x| same_waiver(x, w))) {
                    continue;
                }
                added += 1;
                let on = w.change.as_deref().or(w.group.as_deref()).unwrap_or("-");
                g.findings.push(finding(
                    WAIVER_ADDED,
                    Severity::Deny,
                    format!(
                        "this change adds a waiver for {} on {on} (\"{}\", by {}); quorate.yaml is read from the base revision {short}, so the waiver does not apply to the change that adds it: merge it on its own first",
                        w.rule, w.reason, w.by
                    ),
                    head_src,
                    w.offset,
                ));
            }
        }
        let changed = base_text.as_deref() != Some(&*head_src.text);
        if changed && added == 0 {
            let how = match from {
                ConfigFrom::Base => {
                    format!("this change was judged with the base revision's ({short})")
                }
                ConfigFrom::Head => "this change was judged with it (--config-from head)".into(),
            };
            g.findings.push(finding(
                POLICY_CHANGED,
                Severity::Warn,
                format!("this change edits {}; {how}", head_src.path),
                head_src,
                0,
            ));
        }
        g.sources.push(head_src.clone());
    }

    // ---- --policy directories
    for p in policies {
        let rel = in_repo(&root, p).filter(|_| !crate::bundle::is_bundle(p));
        let Some(rel) = rel else {
            g.policy_paths.push(p.clone());
            continue;
        };
        let base_files = git::files_at(repo, &base, &rel, &[".rego"])?;
        let head_files = git::files_at(repo, &head, &rel, &[".rego"])?;
        match from {
            ConfigFrom::Base => {
                if base_files.is_empty() {
                    g.notices.push(format!(
                        "--policy {p}: no policies in the base revision {short}; the ones this change adds apply to later changes"
                    ));
                }
                for (path, bytes) in &base_files {
                    g.policy_sources.push(SourceText::from_bytes(
                        &format!("{}@{short}", label(path)),
                        bytes.clone(),
                        Stage::Policy,
                    )?);
                }
            }
            ConfigFrom::Head => g.policy_paths.push(p.clone()),
        }
        for (path, bytes) in &head_files {
            let before = base_files.iter().find(|(b, _)| b == path).map(|(_, b)| b);
            if before == Some(bytes) {
                continue;
            }
            let src = SourceText::from_bytes(&label(path), bytes.clone(), Stage::Policy)?;
            let what = if before.is_some() { "edits" } else { "adds" };
            let how = match from {
                ConfigFrom::Base => {
                    format!("it was judged with the base revision's policies ({short})")
                }
                ConfigFrom::Head => {
                    "it was judged with the edited ones (--config-from head)".into()
                }
            };
            g.findings.push(finding(
                POLICY_CHANGED,
                Severity::Warn,
                format!("this change {what} the policy {}; {how}", src.path),
                &src,
                0,
            ));
            g.sources.push(src);
        }
        for (path, _) in &base_files {
            if head_files.iter().any(|(h, _)| h == path) {
                continue;
            }
            g.notices.push(format!(
                "this change deletes the policy {}; it was judged with the base revision's policies",
                label(path)
            ));
        }
    }
    Ok(g)
}

/// Parses `--config-from`.
pub fn parse_from(s: &str) -> Result<ConfigFrom> {
    match s {
        "base" => Ok(ConfigFrom::Base),
        "head" => Ok(ConfigFrom::Head),
        _ => Err(Error::usage(format!(
            "--config-from `{s}`: expected `base` or `head`"
        ))),
    }
}
