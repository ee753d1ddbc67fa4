//! `--observe aws|kube|es=URL`: live state read from the source for the groups the changes
//! touch, returned in the shapes the CLI tools print so the same adapters read it.

#[cfg(feature = "aws")]
pub mod aws;
pub mod es;
pub mod kube;

use std::path::PathBuf;

use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Change;

/// One live source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Auto Scaling (and EC2 instances) through the AWS SDK (standard credential chain,
    /// `AWS_ENDPOINT_URL`).
    Aws,
    /// The Kubernetes API (kubeconfig or in-cluster).
    Kube,
    /// An Elasticsearch or OpenSearch cluster at this URL.
    Es(String),
}

impl Source {
    pub fn parse(spec: &str) -> Result<Source> {
        match spec.split_once('=') {
            None if spec == "aws" => Ok(Source::Aws),
            None if spec == "kube" => Ok(Source::Kube),
            Some(("es" | "opensearch", url)) if !url.is_empty() => {
                if url.starts_with("https://") || url.starts_with("http://") {
                    Ok(Source::Es(url.trim_end_matches('/').to_string()))
                } else {
                    Err(Error::usage(format!(
                        "--observe {spec}: `{url}` is not an http(s) URL"
                    )))
                }
            }
            _ => Err(Error::usage(format!(
                "--observe `{spec}` is not a live source: use aws, kube or es=URL"
            ))),
        }
    }
}

/// `--observe` and the flags that say how to reach each source.
#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    pub sources: Vec<Source>,
    pub aws_region: Option<String>,
    pub aws_profile: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

impl ObserveOptions {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// One response, in the shape the CLI prints it (`aws autoscaling describe-...` JSON,
/// `kubectl get -o json`, `_cluster/health`), named after the call that returned it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `aws:DescribeAutoScalingGroups`, `kube:default/StatefulSet/etcd`, `es:https://...`
    pub label: String,
    pub value: Value,
    /// The group a document that names none describes (`_cat/nodes`).
    pub group: Option<String>,
}

/// What the changes touch, per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Auto Scaling group names (and their aliases from quorate.yaml).
    pub asg_names: Vec<String>,
    /// EC2 instance ids of `aws_instance` groups (count or for_each), from the plan's state.
    pub instance_ids: Vec<String>,
    /// Kubernetes workloads: (namespace, kind, name).
    pub workloads: Vec<(String, String, String)>,
    /// Groups declared with `aliases` in quorate.yaml, for Elasticsearch / OpenSearch.
    pub es_groups: Vec<String>,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !s.is_empty() && !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// The groups and workloads the changes (and the manifests not yet compared with live state)
/// touch.
pub fn targets(
    changes: &[Change],
    manifests: &[(String, String, String)],
    config: &Config,
) -> Targets {
    let aliases = config.aliases();
    let mut t = Targets::default();
    for w in manifests {
        if !t.workloads.contains(w) {
            t.workloads.push(w.clone());
        }
    }
    for c in changes {
        let Some(group) = c.group.as_deref() else {
            continue;
        };
        if c.kind == "aws_autoscaling_group" {
            push_unique(&mut t.asg_names, group);
            for alias in aliases.get(group).into_iter().flatten() {
                push_unique(&mut t.asg_names, alias);
            }
        }
        if c.kind == "aws_instance" {
            for v in [&c.before, &c.after] {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    push_unique(&mut t.instance_ids, id);
                }
            }
        }
        if let Some(r) = [&c.after, &c.before]
            .into_iter()
            .find_map(crate::sources::kubernetes::object_ref)
        {
            let w = (r.namespace.clone(), r.kind.clone(), r.name.clone());
            if !t.workloads.contains(&w) {
                t.workloads.push(w);
            }
        }
        if aliases.contains_key(group) {
            push_unique(&mut t.es_groups, group);
        }
    }
    t
}

/// Reads every source. Errors name the call that failed; nothing is guessed on failure.
pub fn fetch(opts: &ObserveOptions, targets: &Targets, config: &Config) -> Result<Vec<Fetched>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::usage(format!("--observe: cannot start the I/O runtime: {e}")))?;
    let mut out = Vec::new();
    for source in &opts.sources {
        match source {
            Source::Aws => out.extend(fetch_aws(&runtime, opts, targets)?),
            Source::Kube => out.extend(runtime.block_on(kube::fetch(opts, targets))?),
            Source::Es(url) => out.extend(runtime.block_on(es::fetch(url, targets, config))?),
        }
    }
    Ok(out)
}

#[cfg(feature = "aws")]
fn fetch_aws(
    runtime: &tokio::runtime::Runtime,
    opts: &ObserveOptions,
    targets: &Targets,
) -> Result<Vec<Fetched>> {
    runtime.block_on(aws::fetch(opts, &targets.asg_names, &targets.instance_ids))
}

#[cfg(not(feature = "aws"))]
fn fetch_aws(
    _runtime: &tokio::runtime::Runtime,
    _opts: &ObserveOptions,
    _targets: &Targets,
) -> Result<Vec<Fetched>> {
    Err(Error::usage(
        "--observe aws: this quorate was built without the `aws` feature",
    )
    .with_help("build it with the default features (cargo install quorate), or pass the AWS CLI's output with --observed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_or_say_what_is_accepted() {
        assert_eq!(Source::parse("aws").unwrap(), Source::Aws);
        assert_eq!(Source::parse("kube").unwrap(), Source::Kube);
        assert_eq!(
            Source::parse("es=https://search:9200/").unwrap(),
            Source::Es("https://search:9200".into())
        );
        assert_eq!(
            Source::parse("opensearch=http://127.0.0.1:9200").unwrap(),
            Source::Es("http://127.0.0.1:9200".into())
        );
        let err = Source::parse("gcp").unwrap_err().to_string();
        assert!(err.contains("use aws, kube or es=URL"), "{err}");
    }
}
