//! The only user of git2: resolves revisions and reads the changed files of two trees (or the
//! index against HEAD) straight from the object database, without a checkout or a `git` process.

use std::path::Path;

use std::collections::HashSet;

use git2::{
    Delta, DiffFindOptions, DiffOptions, ObjectType, Oid, Repository, Tree, TreeWalkMode,
    TreeWalkResult,
};

use crate::error::{Error, Result, Stage};

/// One changed file: its path and bytes on each side (`None`: absent on that side).
#[derive(Debug, Clone)]
pub struct FileChange {
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
    /// The Helm chart `templates/` directory the file is under (a `Chart.yaml` above it in the
    /// tree the file is read from): Go templates, not manifests.
    pub chart_templates: Option<String>,
}

/// What to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Range {
    /// Two revisions (`BASE HEAD`, `BASE..HEAD`, `BASE...HEAD` = merge-base of the two).
    Revs {
        base: String,
        head: String,
        merge_base: bool,
    },
    /// The index (staged changes) against HEAD: what `git commit` would record.
    Staged,
    /// Nothing said: the merge-base with the default branch (or `GITHUB_BASE_REF`) up to HEAD.
    Default { base_ref: Option<String> },
}

/// The changed files plus the resolved revisions, for reports and `input.context.git`.
#[derive(Debug, Clone)]
pub struct Changes {
    pub base: String,
    pub head: String,
    pub files: Vec<FileChange>,
    pub dirty: bool,
    /// Files in the head tree (for benchmarks and messages).
    pub head_files: usize,
    /// Unchanged head-side files (path, bytes) that mention `PodDisruptionBudget` (or
    /// `HorizontalPodAutoscaler`: an HPA owns its target's replicas): a PDB
    /// declares quorum for the workloads it selects, and those may be the changed ones.
    pub pdb_files: Vec<(String, Vec<u8>)>,
    /// The repository's work tree (the directory git paths are relative to), when it has one.
    pub workdir: Option<std::path::PathBuf>,
}

fn git_err(repo_dir: &str, what: &str, e: git2::Error) -> Error {
    Error::file(Stage::Input, repo_dir, format!("{what}: {}", e.message()))
}

/// Parses `A..B` / `A...B` / one or two arguments into a range.
pub fn parse_range(args: &[String], staged: bool, base_ref: Option<String>) -> Result<Range> {
    if staged {
        if !args.is_empty() {
            return Err(Error::usage(
                "--staged compares the index with HEAD: give no revisions",
            ));
        }
        return Ok(Range::Staged);
    }
    match args {
        [] => Ok(Range::Default { base_ref }),
        [one] => {
            if let Some((b, h)) = one.split_once("...") {
                return Ok(Range::Revs {
                    base: b.into(),
                    head: or_head(h),
                    merge_base: true,
                });
            }
            if let Some((b, h)) = one.split_once("..") {
                return Ok(Range::Revs {
                    base: b.into(),
                    head: or_head(h),
                    merge_base: false,
                });
            }
            Ok(Range::Revs {
                base: one.clone(),
                head: "HEAD".into(),
                merge_base: false,
            })
        }
        [b, h] => Ok(Range::Revs {
            base: b.clone(),
            head: h.clone(),
            merge_base: false,
        }),
        _ => Err(Error::usage(
            "quorate diff takes at most two revisions: BASE [HEAD]",
        )),
    }
}

fn or_head(s: &str) -> String {
    if s.is_empty() {
        "HEAD".into()
    } else {
        s.into()
    }
}

/// How to get the history a shallow clone lacks (`actions/checkout` fetches one commit).
fn shallow_help(base: &str) -> String {
    let fetch = match base.strip_prefix("origin/").unwrap_or(base) {
        b if b.starts_with("HEAD") || b.is_empty() => String::new(),
        b => format!(", or `git fetch origin {b}`"),
    };
    format!(
        "this clone is shallow: fetch the history the comparison needs (actions/checkout with \
         `fetch-depth: 0`, or `git fetch --deepen=200`{fetch}), or name the base explicitly: \
         `quorate diff BASE HEAD`"
    )
}

/// Commits whose parents a shallow clone cut off (`.git/shallow`).
fn shallow_boundary(repo: &Repository) -> HashSet<Oid> {
    if !repo.is_shallow() {
        return HashSet::new();
    }
    std::fs::read_to_string(repo.path().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

fn tree_of<'r>(repo: &'r Repository, dir: &str, rev: &str) -> Result<(Tree<'r>, Oid)> {
    let obj = repo.revparse_single(rev).map_err(|e| {
        let err = git_err(dir, &format!("unknown revision `{rev}`"), e);
        if repo.is_shallow() {
            err.with_help(shallow_help(rev))
        } else {
            err
        }
    })?;
    let commit = obj
        .peel_to_commit()
        .map_err(|e| git_err(dir, &format!("`{rev}` is not a commit"), e))?;
    let tree = commit
        .tree()
        .map_err(|e| git_err(dir, "cannot read tree", e))?;
    Ok((tree, commit.id()))
}

/// The default branch to compare against: `GITHUB_BASE_REF` (as `origin/<ref>`, else `<ref>`),
/// else origin's HEAD, `origin/main`, `origin/master`, `main`, `master`. None found is an error,
/// never a silently different range.
fn default_base(repo: &Repository, dir: &str, base_ref: Option<&str>) -> Result<String> {
    let exists = |r: &str| repo.revparse_single(r).is_ok();
    if let Some(b) = base_ref.filter(|b| !b.is_empty()) {
        let candidates = [format!("origin/{b}"), b.to_string()];
        if let Some(found) = candidates.iter().find(|c| exists(c)) {
            return Ok(found.clone());
        }
        return Err(Error::file(
            Stage::Input,
            dir,
            format!(
                "the base branch `{b}` (GITHUB_BASE_REF) is not in this clone: neither `origin/{b}` nor `{b}` exists"
            ),
        )
        .with_help(format!(
            "fetch it (actions/checkout with `fetch-depth: 0`, or `git fetch origin {b}`), or name the base: `quorate diff origin/{b}...HEAD`"
        )));
    }
    if let Ok(r) = repo.find_reference("refs/remotes/origin/HEAD") {
        if let Some(target) = r.symbolic_target().ok().flatten() {
            let short = target.trim_start_matches("refs/remotes/").to_string();
            if exists(&short) {
                return Ok(short);
            }
        }
    }
    let candidates = ["origin/main", "origin/master", "main", "master"];
    match candidates.into_iter().find(|c| exists(c)) {
        Some(found) => Ok(found.to_string()),
        None => Err(Error::file(
            Stage::Input,
            dir,
            "no default branch to compare against: none of origin/HEAD, origin/main, origin/master, main, master exists",
        )
        .with_help(
            "name the base: `quorate diff BASE` or `quorate diff BASE...HEAD`; in CI, fetch the default branch (actions/checkout with `fetch-depth: 0`, or `git fetch origin main`)",
        )),
    }
}

/// The merge base of `base` and `head`; none is an error that says why (a shallow clone that
/// lacks the history, or unrelated histories).
fn merge_base_of(
    repo: &Repository,
    dir: &str,
    base: (&str, Oid),
    head: (&str, Oid),
) -> Result<Oid> {
    repo.merge_base(base.1, head.1).map_err(|e| {
        let err = git_err(dir, &format!("no merge base of `{}` and `{}`", base.0, head.0), e);
        if repo.is_shallow() {
            err.with_help(shallow_help(base.0))
        } else {
            err.with_help(format!(
                "`{}` and `{}` share no history; compare their trees directly with `quorate diff {} {}`",
                base.0, head.0, base.0, head.0
            ))
        }
    })
}

/// The parent of HEAD, to check the last commit. A root commit has none (everything in it is
/// new); a shallow clone's first commit names a parent that was not fetched: an error. The
/// commit's own header says which it is (a shallow clone hides the parents, not the header).
fn last_commit_base(repo: &Repository, dir: &str, head: Oid) -> Result<Option<Oid>> {
    let commit = repo
        .find_commit(head)
        .map_err(|e| git_err(dir, "cannot read HEAD", e))?;
    let parent = commit
        .raw_header()
        .ok()
        .and_then(|h| h.lines().find_map(|l| l.strip_prefix("parent ")))
        .and_then(|id| Oid::from_str(id.trim()).ok());
    let Some(parent) = parent else {
        return Ok(None);
    };
    let cut = shallow_boundary(repo).contains(&head);
    if !cut && repo.find_commit(parent).is_ok() {
        return Ok(Some(parent));
    }
    Err(Error::file(
        Stage::Input,
        dir,
        "HEAD is on the default branch and its parent is not in this clone: there is no base to compare with",
    )
    .with_help(shallow_help("HEAD~1")))
}

/// Is `path` a file quorate may read (manifests, plans)?
pub fn interesting(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    (lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json"))
        && !path.split('/').any(|c| c.starts_with('.') && c.len() > 1)
}

pub fn changes(repo_dir: &str, range: &Range) -> Result<Changes> {
    let repo = Repository::discover(Path::new(repo_dir))
        .map_err(|e| git_err(repo_dir, "not a git repository", e))?;
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    // Whether the work tree has uncommitted changes (a full scan: only for local ranges).
    let dirty = !matches!(range, Range::Revs { .. })
        && repo
            .statuses(None)
            .map(|s| s.iter().any(|e| !e.status().is_ignored()))
            .unwrap_or(false);
    let (base_tree, base_id, head_tree, head_label, diff) = match range {
        Range::Staged => {
            let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
            let index = repo
                .index()
                .map_err(|e| git_err(repo_dir, "cannot read the index", e))?;
            let diff = repo
                .diff_tree_to_index(head.as_ref(), Some(&index), Some(&mut opts))
                .map_err(|e| git_err(repo_dir, "cannot diff the index", e))?;
            let head_id = repo
                .head()
                .ok()
                .and_then(|h| h.target())
                .map(|o| o.to_string());
            (
                head,
                head_id.unwrap_or_default(),
                None,
                "INDEX".to_string(),
                diff,
            )
        }
        Range::Revs {
            base,
            head,
            merge_base,
        } => {
            let (head_tree, head_id) = tree_of(&repo, repo_dir, head)?;
            let (mut base_tree, mut base_id) = tree_of(&repo, repo_dir, base)?;
            if *merge_base {
                let mb = merge_base_of(&repo, repo_dir, (base, base_id), (head, head_id))?;
                let c = repo
                    .find_commit(mb)
                    .map_err(|e| git_err(repo_dir, "merge base", e))?;
                base_tree = c
                    .tree()
                    .map_err(|e| git_err(repo_dir, "merge base tree", e))?;
                base_id = mb;
            }
            let diff = repo
                .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut opts))
                .map_err(|e| git_err(repo_dir, "cannot diff", e))?;
            (
                Some(base_tree),
                base_id.to_string(),
                Some(head_tree),
                head_id.to_string(),
                diff,
            )
        }
        Range::Default { base_ref } => {
            let (head_tree, head_id) = tree_of(&repo, repo_dir, "HEAD")?;
            let base = default_base(&repo, repo_dir, base_ref.as_deref())?;
            let (_, base_tip) = tree_of(&repo, repo_dir, &base)?;
            let mut base_id = Some(merge_base_of(
                &repo,
                repo_dir,
                (&base, base_tip),
                ("HEAD", head_id),
            )?);
            // On the default branch itself the branch has no own commits: check the last one.
            if base_id == Some(head_id) {
                base_id = last_commit_base(&repo, repo_dir, head_id)?;
            }
            let base_tree = match base_id {
                Some(id) => Some(
                    repo.find_commit(id)
                        .and_then(|c| c.tree())
                        .map_err(|e| git_err(repo_dir, "base tree", e))?,
                ),
                None => None,
            };
            let diff = repo
                .diff_tree_to_tree(base_tree.as_ref(), Some(&head_tree), Some(&mut opts))
                .map_err(|e| git_err(repo_dir, "cannot diff", e))?;
            (
                base_tree,
                base_id.map(|o| o.to_string()).unwrap_or_default(),
                Some(head_tree),
                head_id.to_string(),
                diff,
            )
        }
    };
    let _ = (&base_tree, &head_tree);
    let mut diff = diff;
    let mut find = DiffFindOptions::new();
    find.renames(true).copies(false);
    diff.find_similar(Some(&mut find))
        .map_err(|e| git_err(repo_dir, "rename detection", e))?;
    let blob = |id: Oid| -> Option<Vec<u8>> {
        if id.is_zero() {
            return None;
        }
        repo.find_blob(id).ok().map(|b| b.content().to_vec())
    };
    // Whether a path exists on the head side (the head tree, else the index) or the base side.
    let index = match &head_tree {
        None => Some(
            repo.index()
                .map_err(|e| git_err(repo_dir, "cannot read the index", e))?,
        ),
        Some(_) => None,
    };
    let in_head = |p: &str| match (&head_tree, &index) {
        (Some(t), _) => t.get_path(Path::new(p)).is_ok(),
        (None, Some(i)) => i.get_path(Path::new(p), 0).is_some(),
        (None, None) => false,
    };
    let in_base = |p: &str| {
        base_tree
            .as_ref()
            .is_some_and(|t| t.get_path(Path::new(p)).is_ok())
    };
    let mut files = Vec::new();
    for delta in diff.deltas() {
        let old_path = delta
            .old_file()
            .path()
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        let new_path = delta
            .new_file()
            .path()
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        let relevant = old_path.as_deref().is_some_and(interesting)
            || new_path.as_deref().is_some_and(interesting);
        if !relevant {
            continue;
        }
        let (old, new) = match delta.status() {
            Delta::Added | Delta::Untracked => (None, blob(delta.new_file().id())),
            Delta::Deleted => (blob(delta.old_file().id()), None),
            Delta::Unmodified | Delta::Ignored => continue,
            _ => (blob(delta.old_file().id()), blob(delta.new_file().id())),
        };
        let new_path = new.as_ref().and(new_path);
        let old_path = old.as_ref().and(old_path);
        let chart_templates = new_path
            .as_deref()
            .and_then(|p| crate::paths::chart_templates(p, in_head))
            .or_else(|| {
                old_path
                    .as_deref()
                    .and_then(|p| crate::paths::chart_templates(p, in_base))
            });
        files.push(FileChange {
            old_path,
            new_path,
            old,
            new,
            chart_templates,
        });
    }
    let head_files = head_tree.as_ref().map_or(0, |t| t.len());
    let pdb_files = if files.is_empty() {
        Vec::new()
    } else {
        unchanged_pdb_files(&repo, repo_dir, head_tree.as_ref(), &files)?
            .into_iter()
            .filter(|(p, _)| crate::paths::chart_templates(p, in_head).is_none())
            .collect()
    };
    Ok(Changes {
        base: base_id,
        head: head_label,
        files,
        dirty,
        head_files,
        pdb_files,
        workdir: repo.workdir().map(Path::to_path_buf),
    })
}

/// The head side's (the head tree, else the index) unchanged manifest files that mention
/// `PodDisruptionBudget` or `HorizontalPodAutoscaler`. Every blob is read, but only those with
/// one of the words are kept.
fn unchanged_pdb_files(
    repo: &Repository,
    repo_dir: &str,
    head_tree: Option<&Tree<'_>>,
    files: &[FileChange],
) -> Result<Vec<(String, Vec<u8>)>> {
    let changed: HashSet<&str> = files.iter().filter_map(|f| f.new_path.as_deref()).collect();
    let finder = memchr::memmem::Finder::new(b"PodDisruptionBudget");
    let hpa = memchr::memmem::Finder::new(b"HorizontalPodAutoscaler");
    let keda = memchr::memmem::Finder::new(b"ScaledObject");
    let mut found = Vec::new();
    let mut consider = |path: String, id: Oid| {
        if changed.contains(path.as_str()) || !interesting(&path) {
            return;
        }
        if let Ok(blob) = repo.find_blob(id) {
            let content = blob.content();
            if finder.find(content).is_some()
                || hpa.find(content).is_some()
                || keda.find(content).is_some()
            {
                found.push((path, blob.content().to_vec()));
            }
        }
    };
    match head_tree {
        Some(tree) => tree
            .walk(TreeWalkMode::PreOrder, |root, entry| {
                if entry.kind() == Some(ObjectType::Blob) {
                    if let Ok(name) = entry.name() {
                        consider(format!("{root}{name}"), entry.id());
                    }
                }
                TreeWalkResult::Ok
            })
            .map_err(|e| git_err(repo_dir, "cannot walk the head tree", e))?,
        None => {
            let index = repo
                .index()
                .map_err(|e| git_err(repo_dir, "cannot read the index", e))?;
            for entry in index.iter() {
                consider(String::from_utf8_lossy(&entry.path).into_owned(), entry.id);
            }
        }
    }
    Ok(found)
}

/// The work tree of the repository that holds `dir` (any directory inside it), canonical;
/// `None` outside a repository or for a bare one.
pub fn work_tree(dir: &Path) -> Option<std::path::PathBuf> {
    let repo = Repository::discover(dir).ok()?;
    let workdir = repo.workdir()?;
    workdir.canonicalize().ok()
}

/// One side of a diff to read files from: a commit, or the index (`--staged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Commit(String),
    Index,
}

impl Side {
    /// The side a [`Changes`] label names: `INDEX` for the index, else a commit id.
    pub fn of_label(label: &str) -> Side {
        if label == "INDEX" {
            Side::Index
        } else {
            Side::Commit(label.to_string())
        }
    }
}

/// Files on one side whose repository-relative path is `prefix` or lies under the directory
/// `prefix` (`""`: every file), and whose name ends with one of `suffixes` (any, when empty).
/// Read from the object database, like the changed manifests: no checkout.
pub fn files_at(
    repo_dir: &str,
    side: &Side,
    prefix: &str,
    suffixes: &[&str],
) -> Result<Vec<(String, Vec<u8>)>> {
    let repo = Repository::discover(Path::new(repo_dir))
        .map_err(|e| git_err(repo_dir, "not a git repository", e))?;
    let prefix = prefix.trim_start_matches("./").trim_end_matches('/');
    let wanted = |path: &str| {
        (prefix.is_empty()
            || path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/')))
            && (suffixes.is_empty() || suffixes.iter().any(|s| path.ends_with(s)))
    };
    let mut out = Vec::new();
    let mut keep = |path: String, id: Oid| {
        if wanted(&path) {
            if let Ok(blob) = repo.find_blob(id) {
                out.push((path, blob.content().to_vec()));
            }
        }
    };
    match side {
        Side::Commit(rev) if rev.is_empty() => {}
        Side::Commit(rev) => {
            let (tree, _) = tree_of(&repo, repo_dir, rev)?;
            tree.walk(TreeWalkMode::PreOrder, |root, entry| {
                if entry.kind() == Some(ObjectType::Blob) {
                    if let Ok(name) = entry.name() {
                        keep(format!("{root}{name}"), entry.id());
                    }
                }
                TreeWalkResult::Ok
            })
            .map_err(|e| git_err(repo_dir, "cannot walk the tree", e))?;
        }
        Side::Index => {
            let index = repo
                .index()
                .map_err(|e| git_err(repo_dir, "cannot read the index", e))?;
            for entry in index.iter() {
                keep(String::from_utf8_lossy(&entry.path).into_owned(), entry.id);
            }
        }
    }
    out.sort();
    Ok(out)
}
