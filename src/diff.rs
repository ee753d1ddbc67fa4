//! `quorate diff`: Kubernetes manifests changed between two git revisions (or staged), paired
//! by identity across files, become changes; then the same evaluation as `check`.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::{json, Value};

use crate::check::{self, CheckOptions};
use crate::config::Config;
use crate::error::{Error, Result, Stage};
use crate::git;
use crate::model::{ChangeSet, Finding, Location, Mode, Severity, SourceRef, API_VERSION};
use crate::rules;
use crate::sources::kubernetes::{self, ObjectRef};
use crate::sources::{self, Inputs, LoadOptions};
use crate::text::SourceText;

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Shared with `check`: `paths` are extra inputs (`--plan`), plus observed, config, limits.
    pub check: CheckOptions,
    pub revisions: Vec<String>,
    pub staged: bool,
    pub repo: String,
    /// The PR's base branch (GITHUB_BASE_REF) when known.
    pub base_ref: Option<String>,
    /// Keep every document of the head side of the changed files (and of `--plan` files) for
    /// conftest-style policies, which see one document at a time.
    pub keep_documents: bool,
    /// Where quorate.yaml and `--policy` directories come from (default: the base revision).
    pub config_from: crate::governance::ConfigFrom,
}

/// A file of the repository by its place in the work tree (git paths are relative to the work
/// tree, not to `--repo`, which may be any directory inside it); reports make it relative to
/// the repository root.
pub fn repo_label(opts: &DiffOptions, workdir: Option<&std::path::Path>, p: &str) -> String {
    match workdir {
        Some(dir) => dir.join(p).display().to_string(),
        None if opts.repo == "." || opts.repo.is_empty() => p.to_string(),
        None => format!("{}/{p}", opts.repo.trim_end_matches('/')),
    }
}

/// The files the range changes (resolving the range, failing on a narrowed one).
pub fn changes_of(opts: &DiffOptions) -> Result<git::Changes> {
    let range = git::parse_range(&opts.revisions, opts.staged, opts.base_ref.clone())?;
    git::changes(&opts.repo, &range)
}

/// The configuration and policies the range is judged with (see [`crate::governance`]).
pub fn governed(opts: &DiffOptions, changes: &git::Changes) -> Result<crate::governance::Governed> {
    crate::governance::load(
        &opts.repo,
        changes,
        opts.config_from,
        opts.check.config.as_deref(),
        &opts.check.policies,
        opts.check.max_input_bytes,
        &|p| repo_label(opts, changes.workdir.as_deref(), p),
    )
}

/// Identity used to pair objects across files and revisions (API group, not version).
type Key = (String, String, String, String);

fn key(r: &ObjectRef) -> Key {
    (
        r.group().to_string(),
        r.kind.clone(),
        r.namespace.clone(),
        r.name.clone(),
    )
}

struct Side {
    r: ObjectRef,
    source: SourceRef,
    value: Value,
}

/// Parses one revision of a file into its Kubernetes objects; other documents are skipped.
/// With `keep`, every document is also kept for conftest-style policies.
fn objects(
    src: &SourceText,
    inputs: &mut Inputs,
    into: &mut BTreeMap<Key, Side>,
    keep: bool,
) -> Result<()> {
    let docs = sources::documents(src, Stage::Input)?;
    if keep {
        inputs.keep(&src.path, &docs);
    }
    for (index, value, yaml) in docs {
        // A `kind: List` holds its objects at `/items/N`; any other document is one object.
        let mut found = false;
        for (pointer, item) in sources::list_items(&value) {
            let Some(r) = kubernetes::object_ref(item) else {
                continue;
            };
            found = true;
            let source = SourceRef {
                kind: "kubernetes-manifest".into(),
                path: src.path.clone(),
                pointer: pointer.clone(),
                after_pointer: Some(pointer),
                document: index,
            };
            into.insert(
                key(&r),
                Side {
                    r,
                    source,
                    value: item.clone(),
                },
            );
        }
        if let (true, Some(doc)) = (found, yaml) {
            inputs
                .yaml_spans
                .insert((src.path.clone(), index), doc.spans);
        }
    }
    inputs.sources.insert(src.path.clone(), src.clone());
    Ok(())
}

/// The finding for a changed file whose head side does not parse, at the parse error.
fn unreadable(inputs: &mut Inputs, e: &Error, src: Option<SourceText>) {
    let (line, column) = e.position.unwrap_or((1, 1));
    let (offset, len) = src.as_ref().map_or((0, 0), |s| {
        let o = s.offset_of(line, column);
        (o, s.char_len_at(o))
    });
    if let Some(src) = src {
        inputs.sources.insert(src.path.clone(), src);
    }
    inputs.findings.push(Finding {
        rule: rules::UNREADABLE_MANIFEST.into(),
        severity: Severity::Deny,
        message: e.message.clone(),
        change: None,
        group: None,
        location: Some(Location {
            path: e.path.clone(),
            line,
            column,
            pointer: String::new(),
            offset,
            len,
        }),
        waiver: None,
        related: Vec::new(),
    });
}

pub fn build_input(opts: &DiffOptions) -> Result<(ChangeSet, Inputs, Config)> {
    let config = Config::discover(opts.check.config.as_deref(), opts.check.max_input_bytes)?;
    build_input_with(opts, config)
}

/// [`build_input`] with a loaded config (when the caller needed it first, for the policies).
pub fn build_input_with(opts: &DiffOptions, config: Config) -> Result<(ChangeSet, Inputs, Config)> {
    let changes = changes_of(opts)?;
    build_input_from(opts, config, changes)
}

/// [`build_input_with`] for changes already read.
pub fn build_input_from(
    opts: &DiffOptions,
    config: Config,
    changes: git::Changes,
) -> Result<(ChangeSet, Inputs, Config)> {
    let c = &opts.check;
    let now = check::parse_now(c.now.as_deref())?;
    let exclude = check::excludes(c, &config)?;
    let load = LoadOptions {
        max_input_bytes: c.max_input_bytes,
        observed_at: c.observed_at.clone(),
        now,
        exclude: exclude.clone(),
    };
    let mut inputs = Inputs::default();
    inputs.keep_documents = opts.keep_documents;
    inputs.roots = Some(crate::paths::Roots::new(c.root.as_deref()));
    inputs.tf_root = c.tf_root.clone();
    inputs.load_observed(&c.observed, &load)?;
    inputs.load_changes(&c.paths, &load)?;

    let short = changes.base.get(..7).unwrap_or(&changes.base).to_string();
    let mut old: BTreeMap<Key, Side> = BTreeMap::new();
    let mut new: BTreeMap<Key, Side> = BTreeMap::new();
    let repo_path = |p: &str| repo_label(opts, changes.workdir.as_deref(), p);
    let mut roots = crate::paths::Roots::new(c.root.as_deref());
    let mut templates: BTreeMap<String, usize> = BTreeMap::new();
    for f in &changes.files {
        // A file is left out when either of its paths is excluded (a rename keeps both sides
        // out, so a move into an excluded directory is no delete).
        if [&f.new_path, &f.old_path]
            .into_iter()
            .flatten()
            .any(|p| exclude.matches(p))
        {
            continue;
        }
        if let Some(dir) = &f.chart_templates {
            *templates.entry(repo_path(dir)).or_default() += 1;
            continue;
        }
        if let (Some(path), Some(bytes)) = (&f.new_path, &f.new) {
            // A changed manifest that does not parse cannot be applied either: a located
            // finding, and the rest of the change is still checked.
            let read = SourceText::from_bytes_within(
                &repo_path(path),
                bytes.clone(),
                Stage::Input,
                opts.check.max_input_bytes,
            )
            .map_err(|e| (e, None))
            .and_then(|src| {
                objects(&src, &mut inputs, &mut new, opts.keep_documents)
                    .map_err(|e| (e, Some(src)))
            });
            if let Err((e, src)) = read {
                unreadable(&mut inputs, &e, src);
            }
        }
        if let (Some(path), Some(bytes)) = (&f.old_path, &f.old) {
            // The base side of a file is quoted as `path@base` so it never shadows the head.
            let label = format!("{}@{short}", repo_path(path));
            match SourceText::from_bytes_within(
                &label,
                bytes.clone(),
                Stage::Input,
                opts.check.max_input_bytes,
            )
            .and_then(|src| objects(&src, &mut inputs, &mut old, false))
            {
                Ok(()) => {}
                Err(e) => inputs.notices.push(format!(
                    "base revision not read: {}",
                    headline(&e, &mut roots)
                )),
            }
        }
    }
    // PDBs in the changed files declare quorum for the workloads they select, changed or not.
    for side in new.values() {
        if let Some(p) = kubernetes::pdb(&side.value) {
            inputs.add_pdb(p);
        }
    }
    // So do PDBs in files the range left alone (a pdb.yaml next to the StatefulSet it guards).
    // A broken unchanged file is not this change's fault: it becomes a notice.
    let templates = templates
        .into_iter()
        .map(|(dir, n)| (roots.relative(&dir), n))
        .collect();
    inputs
        .notices
        .extend(crate::paths::template_notices(&templates));
    for (path, bytes) in &changes.pdb_files {
        if exclude.matches(path) {
            continue;
        }
        let parsed = SourceText::from_bytes_within(
            &repo_path(path),
            bytes.clone(),
            Stage::Input,
            opts.check.max_input_bytes,
        )
        .and_then(|src| sources::documents(&src, Stage::Input));
        let docs = match parsed {
            Ok(docs) => docs,
            Err(e) => {
                inputs.notices.push(format!(
                    "PodDisruptionBudgets in an unchanged file not read: {}",
                    headline(&e, &mut roots)
                ));
                continue;
            }
        };
        for (_, v) in docs.iter().flat_map(|(_, v, _)| sources::list_items(v)) {
            if let Some(p) = kubernetes::pdb(v) {
                inputs.add_pdb(p);
            }
            // An HPA the range leaves alone still owns its target's replicas; the effects
            // step reads HPAs from the objects it is given with the live ones.
            if let (Some(_), Some(r)) = (kubernetes::hpa(v), kubernetes::object_ref(v)) {
                inputs.live.entry(r.id()).or_insert_with(|| v.clone());
            }
        }
    }
    // Objects in unchanged files are not in the diff: a move shows both sides.
    let keys: Vec<Key> = old
        .keys()
        .chain(new.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for k in keys {
        let (before, after) = (old.get(&k), new.get(&k));
        if let (Some(b), Some(a)) = (before, after) {
            if b.value == a.value {
                continue;
            }
        }
        let side = match after.or(before) {
            Some(s) => s,
            None => continue,
        };
        let change = kubernetes::change(
            &side.r,
            side.source.clone(),
            before.map(|b| &b.value),
            after.map(|a| &a.value),
        );
        if let Some(live) = inputs.live.get(&change.id) {
            if let Some(d) = sources::live_drift(
                &change,
                &side.r,
                before.map(|b| &b.value),
                live,
                &side.source,
            ) {
                inputs.drift.push(d);
            }
        }
        inputs.changes.push(change);
    }
    check::observe_live(c, &config, &mut inputs, &load)?;
    inputs.finish(&config);
    let mut set = ChangeSet {
        api_version: API_VERSION.into(),
        mode: Mode::Diff,
        now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        changes: std::mem::take(&mut inputs.changes),
        drift: std::mem::take(&mut inputs.drift),
        observed: std::mem::take(&mut inputs.observed),
        context: json!({"git": {"base": changes.base, "head": changes.head, "dirty": changes.dirty, "files": changes.files.len()}}),
    };
    crate::effects::apply(&mut set, &config, &inputs.live);
    crate::freeze::publish(&mut set, &config.freezes);
    Ok((set, inputs, config))
}

/// An error's headline with its file named as reports name files (notices are not
/// rewritten later, and diff names files by their absolute place in the work tree).
fn headline(e: &Error, roots: &mut crate::paths::Roots) -> String {
    let path = roots.relative(&e.path);
    match e.position {
        _ if path.is_empty() => e.message.clone(),
        Some((line, column)) => format!("{path}:{line}:{column}: {}", e.message),
        None => format!("{path}: {}", e.message),
    }
}

/// Errors for arguments that only make sense together.
pub fn validate(opts: &DiffOptions) -> Result<()> {
    if opts.staged && !opts.revisions.is_empty() {
        return Err(Error::usage(
            "--staged compares the index with HEAD: give no revisions",
        ));
    }
    Ok(())
}
