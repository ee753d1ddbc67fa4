//! Issue 4: every format names files relative to the repository root (the git work tree that
//! holds them, or `--root`), however the path was typed, and SARIF says so with `%SRCROOT%`.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

const OUTAGE: &str = "testdata/scenarios/search-cluster-outage";
const NOW: [&str; 4] = [
    "--now",
    "2026-11-24T10:00:00Z",
    "--observed-at",
    "2026-11-24T09:58:30Z",
];

/// A repository at `<tmp>/repo` with the outage's plan minified (one line, as CI writes it)
/// at `infra/plan.json` and its observed state beside it.
fn outage_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("infra/other")).unwrap();
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(OUTAGE).join("plan.json")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        repo.join("infra/plan.json"),
        serde_json::to_string(&plan).unwrap(),
    )
    .unwrap();
    for f in ["asg.json", "quorate.yaml"] {
        std::fs::copy(root().join(OUTAGE).join(f), repo.join("infra").join(f)).unwrap();
    }
    git(&repo, &["init", "-q"]);
    tmp
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// (uri, uriBaseId) of every result's locations, and the `%SRCROOT%` base.
fn sarif_uris(text: &str) -> (Vec<(String, String)>, String) {
    let v: Value = serde_json::from_str(text).unwrap();
    let run = &v["runs"][0];
    let mut uris = Vec::new();
    for r in run["results"].as_array().unwrap() {
        let locs = r["locations"].as_array().unwrap();
        assert!(!locs.is_empty(), "{r}");
        for l in locs {
            let a = &l["physicalLocation"]["artifactLocation"];
            uris.push((
                a["uri"].as_str().unwrap().to_string(),
                a["uriBaseId"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (uris, base)
}

fn file_uri(dir: &Path) -> String {
    format!("file://{}/", dir.canonicalize().unwrap().display())
}

#[test]
fn check_names_the_plan_relative_to_the_repository_however_it_was_typed() {
    let tmp = outage_repo();
    let repo = tmp.path().join("repo");
    let infra = repo.join("infra");
    let abs = infra.join("plan.json");
    let abs_asg = infra.join("asg.json");
    let abs_cfg = infra.join("quorate.yaml");
    let abs = abs.to_str().unwrap();
    let (abs_asg, abs_cfg) = (abs_asg.to_str().unwrap(), abs_cfg.to_str().unwrap());
    let other = infra.join("other");
    let cases: Vec<(&Path, Vec<&str>)> = vec![
        // absolute, from outside the repository
        (
            tmp.path(),
            vec!["check", abs, "--observed", abs_asg, "--config", abs_cfg],
        ),
        // `./`, from the plan's directory
        (
            &infra,
            vec![
                "check",
                "./plan.json",
                "--observed",
                "./asg.json",
                "--config",
                "quorate.yaml",
            ],
        ),
        // `../`, from a sibling directory
        (
            &other,
            vec![
                "check",
                "../plan.json",
                "--observed",
                "../asg.json",
                "--config",
                "../quorate.yaml",
            ],
        ),
    ];
    for (dir, mut args) in cases {
        args.extend(NOW);
        let mut sarif = args.clone();
        sarif.extend(["--format", "sarif"]);
        let (uris, base) = sarif_uris(&run_ok(dir, &sarif));
        assert!(!uris.is_empty());
        for (uri, id) in &uris {
            assert_eq!(uri, "infra/plan.json", "{args:?}");
            assert_eq!(id, "%SRCROOT%", "{args:?}");
        }
        assert_eq!(base, file_uri(&repo), "{args:?}");

        // the same path in every other format
        let mut json = args.clone();
        json.extend(["--format", "json"]);
        let report: Value = serde_json::from_str(&run_ok(dir, &json)).unwrap();
        for f in report["findings"].as_array().unwrap() {
            assert_eq!(f["location"]["path"], "infra/plan.json", "{args:?}");
        }
        let mut github = args.clone();
        github.extend(["--format", "github"]);
        let text = run_ok(dir, &github);
        assert!(text.contains("file=infra/plan.json,line=1,"), "{text}");
        assert!(!text.contains(abs), "{text}");
        for format in ["junit", "markdown", "human"] {
            let mut a = args.clone();
            a.extend(["--format", format, "--color", "never"]);
            let text = run_ok(dir, &a);
            assert!(text.contains("infra/plan.json:1"), "{format}: {text}");
            assert!(
                !text.contains("./plan.json") && !text.contains(abs),
                "{format}: {text}"
            );
        }
    }
}

#[test]
fn root_flag_overrides_the_work_tree_and_outside_files_stay_relative_to_the_cwd() {
    let tmp = outage_repo();
    let repo = tmp.path().join("repo");
    let infra = repo.join("infra");
    let mut args = vec![
        "check",
        "plan.json",
        "--observed",
        "asg.json",
        "--config",
        "quorate.yaml",
        "--root",
        ".",
        "--format",
        "sarif",
    ];
    args.extend(NOW);
    let (uris, base) = sarif_uris(&run_ok(&infra, &args));
    assert!(
        uris.iter()
            .all(|(u, id)| u == "plan.json" && id == "%SRCROOT%"),
        "{uris:?}"
    );
    assert_eq!(base, file_uri(&infra));

    // A plan outside any repository and outside --root: relative to the current directory.
    let outside = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(infra.join("plan.json"), outside.join("plan.json")).unwrap();
    let mut args = vec![
        "check",
        "../../elsewhere/plan.json",
        "--observed",
        "asg.json",
        "--config",
        "quorate.yaml",
        "--root",
        ".",
        "--format",
        "json",
    ];
    args.extend(NOW);
    let report: Value = serde_json::from_str(&run_ok(&infra, &args)).unwrap();
    assert_eq!(
        report["findings"][0]["location"]["path"],
        "../../elsewhere/plan.json"
    );

    // From above both: `elsewhere/plan.json` is relative to the current directory, not to
    // --root, so SARIF gives it no %SRCROOT%.
    let asg = infra.join("asg.json");
    let cfg = infra.join("quorate.yaml");
    let mut args = vec![
        "check",
        "elsewhere/plan.json",
        "--observed",
        asg.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--root",
        "repo",
        "--format",
        "sarif",
    ];
    args.extend(NOW);
    let (uris, base) = sarif_uris(&run_ok(tmp.path(), &args));
    assert!(
        uris.iter()
            .all(|(u, id)| u == "elsewhere/plan.json" && id.is_empty()),
        "{uris:?}"
    );
    assert_eq!(base, file_uri(&repo));
}

fn etcd(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: etcd\n  namespace: platform\nspec:\n  replicas: {replicas}\n  serviceName: etcd\n  selector:\n    matchLabels:\n      app: etcd\n  template:\n    metadata:\n      labels:\n        app: etcd\n    spec:\n      containers:\n        - name: etcd\n          image: quay.io/coreos/etcd:v3.5.17\n"
    )
}

/// `<tmp>/outer` is a repository; `<tmp>/outer/checkouts/app` another one inside it (not a
/// submodule), where etcd goes 5 -> 2 (and a file is deleted, for the base-revision label).
fn nested_repos() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let outer = tmp.path().join("outer");
    let app = outer.join("checkouts/app");
    std::fs::create_dir_all(app.join("k8s")).unwrap();
    std::fs::write(outer.join("README"), "outer\n").unwrap();
    git(&outer, &["init", "-q"]);
    git(&outer, &["add", "README"]);
    git(&outer, &["commit", "-qm", "outer"]);
    git(&app, &["init", "-q"]);
    std::fs::write(app.join("k8s/etcd.yaml"), etcd(5)).unwrap();
    std::fs::write(app.join("k8s/zk.yaml"), etcd(3).replace("etcd", "zk")).unwrap();
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-qm", "base"]);
    std::fs::write(app.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    std::fs::remove_file(app.join("k8s/zk.yaml")).unwrap();
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-qm", "scale etcd down, drop zk"]);
    tmp
}

fn diff_paths(dir: &Path, repo: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["diff", "HEAD~1", "HEAD", "--repo", repo];
    args.extend(extra);
    args.extend(["--format", "json"]);
    let report: Value = serde_json::from_str(&run_ok(dir, &args)).unwrap();
    let mut paths: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn diff_repo_absolute_relative_and_nested_give_repository_relative_paths() {
    let tmp = nested_repos();
    let outer = tmp.path().join("outer");
    let app = outer.join("checkouts/app");
    let abs = app.to_str().unwrap().to_string();
    let k8s = app.join("k8s");
    let runs: Vec<(&Path, &str)> = vec![
        (tmp.path(), &abs),
        (&outer, "checkouts/app"),
        (&outer, "./checkouts/app/k8s"),
        (&k8s, ".."),
        (&k8s, "."),
    ];
    for (dir, repo) in runs {
        let paths = diff_paths(dir, repo, &[]);
        assert_eq!(paths.len(), 2, "{repo}: {paths:?}");
        assert_eq!(paths[0], "k8s/etcd.yaml", "{repo}: {paths:?}");
        let base = paths[1]
            .strip_prefix("k8s/zk.yaml@")
            .unwrap_or_else(|| panic!("{paths:?}"));
        assert_eq!(base.len(), 7, "{paths:?}");
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()), "{paths:?}");
    }

    // SARIF: the inner work tree is %SRCROOT%, and GitHub annotations name the same file.
    let out = run_in(
        tmp.path(),
        &[
            "diff", "HEAD~1", "HEAD", "--repo", &abs, "--format", "sarif",
        ],
    );
    let (uris, base) = sarif_uris(&stdout(&out));
    assert!(
        uris.iter()
            .any(|(u, id)| u == "k8s/etcd.yaml" && id == "%SRCROOT%"),
        "{uris:?}"
    );
    assert_eq!(base, file_uri(&app));
    let out = run_in(
        tmp.path(),
        &[
            "diff", "HEAD~1", "HEAD", "--repo", &abs, "--format", "github",
        ],
    );
    let text = stdout(&out);
    assert!(text.contains("file=k8s/etcd.yaml,line=7,"), "{text}");
    assert!(!text.contains(&abs), "{text}");

    // --root names them from another directory.
    let paths = diff_paths(&outer, "checkouts/app", &["--root", "."]);
    assert_eq!(paths[0], "checkouts/app/k8s/etcd.yaml", "{paths:?}");
    assert!(
        paths[1].starts_with("checkouts/app/k8s/zk.yaml@"),
        "{paths:?}"
    );
}

#[test]
fn diff_notices_name_files_like_the_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    git(&repo, &["init", "-q"]);
    // The base side does not parse: only a notice, which names the file as reports do.
    std::fs::write(repo.join("k8s/etcd.yaml"), etcd(5) + "  bad: [\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "broken"]);
    std::fs::write(repo.join("k8s/etcd.yaml"), etcd(2)).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "fixed and scaled"]);
    let abs = repo.to_str().unwrap();
    let out = run_in(
        tmp.path(),
        &["diff", "HEAD~1", "HEAD", "--repo", abs, "--format", "json"],
    );
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let notices = report["notices"].to_string();
    assert!(
        notices.contains("base revision not read: k8s/etcd.yaml@"),
        "{notices}"
    );
    assert!(!notices.contains(abs), "{notices}");
}
