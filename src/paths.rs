//! Which input paths are read: `--exclude` / `exclude:` globs and Helm chart templates. The only
//! user of globset; paths are `/`-separated (repository-relative in diff, as walked in check).

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
