//! Which input paths are read (`--exclude` / `exclude:` globs, Helm chart templates) and how
//! reports name them (relative to the repository root). The only user of globset; paths are
//! `/`-separated (repository-relative in diff, as walked in check).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Path globs whose files are not read. `*` stays within one path component, `**` crosses
/// them; a glob that matches a directory excludes everything below it.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    set: GlobSet,
    count: usize,
}

fn normalize(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_end_matches('/')
}

impl Excludes {
    /// Compiles the globs; a bad one is reported by its index and the reason.
    pub fn new<S: AsRef<str>>(globs: &[S]) -> Result<Excludes, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        for (i, g) in globs.iter().enumerate() {
            let glob = GlobBuilder::new(normalize(g.as_ref()))
                .literal_separator(true)
                .build()
                .map_err(|e| (i, e.kind().to_string()))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| (0, e.to_string()))?;
        Ok(Excludes {
            set,
            count: globs.len(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `path`, or a directory above it, matches one of the globs.
    pub fn matches(&self, path: &str) -> bool {
        if self.count == 0 {
            return false;
        }
        let path = path.replace('\\', "/");
        let mut p = normalize(&path);
        loop {
            if !p.is_empty() && self.set.is_match(p) {
                return true;
            }
            match p.rfind('/') {
                Some(i) => p = p.get(..i).unwrap_or_default(),
                None => return false,
            }
        }
    }
}

/// The `templates/` directory of a Helm chart that `path` is under: a `templates` component
/// with a `Chart.yaml` in a directory above it (`has_file` says whether a path exists in the
/// tree being read). Chart templates are Go templates, not manifests.
pub fn chart_templates(path: &str, has_file: impl Fn(&str) -> bool) -> Option<String> {
    let comps: Vec<&str> = path.split('/').collect();
    let last = comps.len().saturating_sub(1);
    for (i, c) in comps.iter().enumerate().take(last).rev() {
        if *c != "templates" {
            continue;
        }
        let found = (0..=i).rev().any(|j| {
            let dir = comps.get(..j).unwrap_or_default().join("/");
            if dir.is_empty() && path.starts_with('/') {
                return false;
            }
            has_file(&if dir.is_empty() {
                "Chart.yaml".to_string()
            } else {
                format!("{dir}/Chart.yaml")
            })
        });
        if found {
            return Some(comps.get(..=i).unwrap_or_default().join("/"));
        }
    }
    None
}

/// Notices for skipped chart templates, one per `templates/` directory.
pub fn template_notices(skipped: &std::collections::BTreeMap<String, usize>) -> Vec<String> {
    skipped
        .iter()
        .map(|(dir, n)| {
            let what = if *n == 1 { "template" } else { "templates" };
            format!(
                "skipped {n} Helm chart {what} under {dir}: render them with helm template and check the output"
            )
        })
        .collect()
}

// ---------------------------------------------------------------- report paths

/// Turns input paths as typed (`./plan.json`, absolute, `../x`) into the path every report
/// shows: relative to the repository root (`--root`, else the git work tree that holds the
/// file), else relative to the current directory. Work-tree lookups are cached per directory.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// `--root`, canonical.
    root: Option<PathBuf>,
    cwd: Option<PathBuf>,
    work_trees: HashMap<PathBuf, Option<PathBuf>>,
    /// The roots report paths were made relative to, in order of first use.
    used: Vec<PathBuf>,
    /// Each report path given out, with the root it is relative to (`None`: the current
    /// directory, or absolute).
    given: Vec<(String, Option<PathBuf>)>,
}

impl Roots {
    /// `root` is `--root` (any path to a directory; ignored when it does not exist).
    pub fn new(root: Option<&str>) -> Roots {
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| d.canonicalize().ok());
        let root = root.and_then(|r| {
            let p = Path::new(r);
            let abs = match &cwd {
                Some(c) if p.is_relative() => c.join(p),
                _ => p.to_path_buf(),
            };
            abs.canonicalize().ok()
        });
        Roots {
            root,
            cwd,
            ..Roots::default()
        }
    }

    /// The root of the first path made relative to one: `%SRCROOT%` in SARIF.
    pub fn primary(&self) -> Option<&Path> {
        self.root
            .as_deref()
            .or(self.used.first().map(PathBuf::as_path))
    }

    /// Report paths given out that are not relative to [`Roots::primary`] (outside the
    /// root, or in another work tree).
    pub fn outside_primary(&self) -> Vec<String> {
        let primary = self.primary();
        let mut out: Vec<String> = self
            .given
            .iter()
            .filter(|(_, root)| primary.is_none() || root.as_deref() != primary)
            .map(|(path, _)| path.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The report path of `path`. Names that are not paths (`<stdin>`, `-`) stay as they are;
    /// a base-revision label `path@abc1234` keeps its suffix.
    pub fn relative(&mut self, path: &str) -> String {
        if path.is_empty() || path == "-" || path.starts_with('<') {
            return path.to_string();
        }
        let (file, suffix) = split_revision(path);
        let Some(abs) = self.absolute(file) else {
            return path.to_string();
        };
        let under = |root: &Path| abs.strip_prefix(root).ok().map(slashed);
        // `--root` decides alone; without it, the work tree that holds the file.
        let rooted = match self.root.clone() {
            Some(root) => under(&root).map(|rel| (rel, root)),
            None => self
                .work_tree(&abs)
                .and_then(|tree| under(&tree).map(|rel| (rel, tree))),
        };
        let (rel, root) = match rooted {
            Some((rel, root)) => {
                if !self.used.contains(&root) {
                    self.used.push(root.clone());
                }
                (rel, Some(root))
            }
            None => match self.cwd.as_deref().and_then(|c| relative_to(&abs, c)) {
                Some(rel) => (rel, None),
                None => (abs.display().to_string(), None),
            },
        };
        let out = format!("{rel}{suffix}");
        self.given.push((out.clone(), root));
        out
    }

    /// The canonical absolute form of `path`, resolved lexically below its deepest existing
    /// ancestor (a file a diff reads from git need not exist in the work tree).
    fn absolute(&self, path: &str) -> Option<PathBuf> {
        let p = Path::new(path);
        let joined = match &self.cwd {
            Some(c) if p.is_relative() => c.join(p),
            _ if p.is_relative() => return None,
            _ => p.to_path_buf(),
        };
        let mut clean = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        let mut existing = clean.as_path();
        let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
        loop {
            if let Ok(canon) = existing.canonicalize() {
                let mut out = canon;
                out.extend(rest.iter().rev());
                return Some(out);
            }
            rest.push(existing.file_name()?);
            existing = existing.parent()?;
        }
    }

    /// The work tree holding `abs`, looked up once per directory.
    fn work_tree(&mut self, abs: &Path) -> Option<PathBuf> {
        let dir = abs.ancestors().skip(1).find(|d| d.is_dir())?.to_path_buf();
        self.work_trees
            .entry(dir)
            .or_insert_with_key(|d| crate::git::work_tree(d))
            .clone()
    }
}

/// `path@abc1234` -> (`path`, `@abc1234`) when the suffix is an abbreviated revision (or
/// empty: a diff with no base); any other `@` is part of the file name.
fn split_revision(path: &str) -> (&str, &str) {
    if let Some(i) = path.rfind('@') {
        let (file, rev) = path.split_at(i);
        let hex = rev.get(1..).unwrap_or_default();
        let is_rev = hex.len() <= 40 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if is_rev && !file.is_empty() && !Path::new(path).exists() {
            return (file, rev);
        }
    }
    (path, "")
}

/// `/`-separated, whatever the platform.
fn slashed(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// `abs` relative to the directory `base` (`../x`), both canonical; `None` when they share no
/// root (another drive).
fn relative_to(abs: &Path, base: &Path) -> Option<String> {
    let a: Vec<Component<'_>> = abs.components().collect();
    let b: Vec<Component<'_>> = base.components().collect();
    if a.first() != b.first() {
        return None;
    }
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len().saturating_sub(common)];
    parts.extend(
        a.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(parts.join("/"))
}

/// What a directory argument expands to: its regular files, and what was passed over.
#[derive(Debug, Default)]
pub struct Walked {
    /// Sorted paths of the regular files below the directory.
    pub files: Vec<String>,
    /// One line each for entries skipped for what they are (FIFOs, sockets, devices, names
    /// that are not UTF-8 or hold control characters, directory links already walked).
    pub notices: Vec<String>,
}

/// A path for the terminal: control characters (and the escape character) escaped.
pub fn shown(path: &str) -> String {
    if path.chars().any(char::is_control) {
        path.escape_debug().to_string()
    } else {
        path.to_string()
    }
}

/// Walks `root` for files, skipping hidden entries and those `skip` names. Links to
/// directories are followed, but a directory is entered once (a link loop ends there); FIFOs,
/// sockets and devices are never opened (opening a FIFO blocks until someone writes to it).
pub fn walk(root: &Path, skip: &dyn Fn(&str) -> bool) -> std::io::Result<Walked> {
    let mut out = Walked::default();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = std::fs::metadata(&dir)?;
        if !seen.insert(dir_key(&dir, &meta)) {
            out.notices.push(format!(
                "{}: skipped: a link to a directory already read",
                shown(&dir.to_string_lossy())
            ));
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries.into_iter().rev() {
            let lossy = entry.to_string_lossy().into_owned();
            let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                out.notices.push(format!(
                    "{}: skipped: the file name is not UTF-8",
                    shown(&lossy)
                ));
                continue;
            };
            if name.starts_with('.') || skip(name) {
                continue;
            }
            if name.chars().any(char::is_control) {
                out.notices.push(format!(
                    "{}: skipped: the file name holds control characters",
                    shown(&lossy)
                ));
                continue;
            }
            // Follows links; a dangling link is passed over like a missing file.
            let Ok(meta) = std::fs::metadata(&entry) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry);
            } else if meta.is_file() {
                out.files.push(lossy);
            } else {
                out.notices.push(format!(
                    "{}: skipped: not a regular file (a FIFO, socket or device)",
                    shown(&lossy)
                ));
            }
        }
    }
    out.files.sort();
    Ok(out)
}

#[cfg(unix)]
fn dir_key(_: &Path, meta: &std::fs::Metadata) -> (u64, u64, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), PathBuf::new())
}

#[cfg(not(unix))]
fn dir_key(dir: &Path, _: &std::fs::Metadata) -> (u64, u64, PathBuf) {
    (
        0,
        0,
        std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_paths_and_the_directories_above_them() {
        let ex = Excludes::new(&["charts/**", "legacy", "*.json", "k8s/*/secret.yaml"]).unwrap();
        assert!(ex.matches("charts/x/templates/a.yaml"));
        assert!(ex.matches("./legacy/old/a.yaml"));
        assert!(ex.matches("plan.json"));
        assert!(!ex.matches("k8s/plan.json"), "`*` stays in one component");
        assert!(ex.matches("k8s/prod/secret.yaml"));
        assert!(!ex.matches("k8s/prod/eu/secret.yaml"));
        assert!(!ex.matches("k8s/etcd.yaml"));
        let any = Excludes::new(&["**/generated/**"]).unwrap();
        assert!(any.matches("a/b/generated/x.yaml"));
        assert!(Excludes::new(&["ok", "a[b"]).is_err_and(|(i, _)| i == 1));
    }

    #[test]
    fn report_paths_are_relative_to_the_root_and_keep_revision_labels() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("k8s")).unwrap();
        std::fs::write(root.join("k8s/a.yaml"), "").unwrap();
        let mut roots = Roots::new(root.to_str());
        let abs = |p: &str| root.join(p).display().to_string();
        assert_eq!(roots.relative(&abs("k8s/a.yaml")), "k8s/a.yaml");
        assert_eq!(roots.relative(&abs("k8s/./x/../a.yaml")), "k8s/a.yaml");
        // a file only git has (deleted in the work tree), and a base-revision label
        assert_eq!(roots.relative(&abs("gone/b.yaml")), "gone/b.yaml");
        assert_eq!(
            roots.relative(&abs("k8s/a.yaml@abc1234")),
            "k8s/a.yaml@abc1234"
        );
        assert_eq!(roots.relative(&abs("k8s/a.yaml@")), "k8s/a.yaml@");
        assert_eq!(
            roots.relative(&abs("k8s/user@host.yaml")),
            "k8s/user@host.yaml"
        );
        for name in ["<stdin>", "-", ""] {
            assert_eq!(roots.relative(name), name);
        }
        assert_eq!(roots.primary(), root.canonicalize().ok().as_deref());
        let outside = tmp.path().join("other.json").display().to_string();
        let rel = roots.relative(&outside);
        assert!(!rel.starts_with('/') || rel == outside, "{rel}");
        assert_eq!(roots.outside_primary(), vec![rel]);
        assert_eq!(split_revision("a/b.yaml@0123456"), ("a/b.yaml", "@0123456"));
        assert_eq!(
            relative_to(Path::new("/a/b/c.json"), Path::new("/a/x/y")).as_deref(),
            Some("../../b/c.json")
        );
    }

    #[test]
    fn chart_templates_need_a_chart_above_them() {
        let files = ["charts/web/Chart.yaml", "Chart.yaml"];
        let has = |p: &str| files.contains(&p);
        assert_eq!(
            chart_templates("charts/web/templates/deploy.yaml", has).as_deref(),
            Some("charts/web/templates")
        );
        assert_eq!(
            chart_templates("charts/web/templates/sub/x.yaml", has).as_deref(),
            Some("charts/web/templates")
        );
        assert_eq!(
            chart_templates("templates/x.yaml", has).as_deref(),
            Some("templates")
        );
        let none = |_: &str| false;
        assert_eq!(chart_templates("k8s/templates/x.yaml", none), None);
        assert_eq!(chart_templates("charts/web/templates", has), None);
    }
}
