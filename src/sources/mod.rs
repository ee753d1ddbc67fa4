//! Adapters: one per input format, each turning a file into parts of the normalized model.
//! This module reads files, recognizes documents by content, and links the parts together.

pub mod admission;
pub mod aws;
pub mod detect;
pub mod elasticsearch;
pub mod kubernetes;
pub mod native;
pub mod terraform;
pub mod tfconfig;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result, Stage};
use crate::model::{Change, Drift, Group, Member, MemberState, Observed, Quorum, SourceRef};
use crate::text::{self, SourceText, Span, YamlDoc};
use detect::DocKind;

pub const QUORUM_LABEL: &str = "quorate.dev/quorum";

/// `majority` or a positive integer.
pub fn parse_quorum(value: &str, source: &str) -> Option<Quorum> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("majority") {
        return Some(Quorum {
            mode: "majority".into(),
            min: None,
            source: source.into(),
        });
    }
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| Quorum {
            mode: "count".into(),
            min: Some(n),
            source: source.into(),
        })
}

pub fn parse_time(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t.trim())
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// What one observed file contributed before linking.
#[derive(Debug, Default)]
pub struct ObservedPart {
    pub taken_at: Option<String>,
    pub groups: BTreeMap<String, Group>,
    /// EC2 instances that belong to no Auto Scaling group; matched to changes by instance id.
    pub loose: Vec<(Member, SourceRef)>,
    pub notices: Vec<String>,
    /// Live Kubernetes objects by group id, for live-vs-committed drift.
    pub live: BTreeMap<String, Value>,
    pub pdbs: Vec<kubernetes::Pdb>,
}

impl ObservedPart {
    pub fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub max_input_bytes: u64,
    /// When observed files without their own timestamp were captured.
    pub observed_at: Option<String>,
    pub now: chrono::DateTime<chrono::Utc>,
    /// Change inputs not read (`--exclude`, `exclude:`).
    pub exclude: crate::paths::Excludes,
}

/// Everything read from the command line's files, before evaluation.
#[derive(Debug, Default)]
pub struct Inputs {
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    pub observed: Observed,
    pub sources: BTreeMap<String, SourceText>,
    /// Spans of YAML documents by (path, document index).
    pub yaml_spans: HashMap<(String, usize), HashMap<String, Span>>,
    pub notices: Vec<String>,
    loose: Vec<(Member, SourceRef, Option<String>)>,
    /// Live Kubernetes objects by id (`kubectl get -o json`).
    pub live: BTreeMap<String, Value>,
    pdbs: Vec<kubernetes::Pdb>,
    /// Manifests read by `check`: become changes once live state is known.
    manifests: Vec<(kubernetes::ObjectRef, SourceRef, Value)>,
    part_times: Vec<Option<String>>,
    /// Keep every change document as parsed (`documents`), and accept documents quorate does
    /// not read: conftest-style policies evaluate each document on its own.
    pub keep_documents: bool,
    pub documents: Vec<Document>,
    /// Findings about the inputs themselves (a changed manifest that does not parse), located.
    pub findings: Vec<crate::model::Finding>,
    /// Documents of PATH arguments quorate read (or kept for conftest-style policies): none
    /// at all means the run would check nothing.
    recognized: usize,
    /// How reports name files (relative to the repository root); `None` keeps paths as read.
    pub roots: Option<crate::paths::Roots>,
    /// Each plan's `configuration` block, by plan path: maps findings to `.tf` lines.
    pub terraform_configs: BTreeMap<String, Value>,
    /// `--tf-root`: the Terraform configuration directory of the plans.
    pub tf_root: Option<String>,
}

/// One input document as parsed, for conftest-style policies (`input` is the document).
#[derive(Debug, Clone)]
pub struct Document {
    pub path: String,
    /// Index in a multi-document YAML file.
    pub index: usize,
    pub value: Value,
    /// Byte offset where the document starts.
    pub start: usize,
}

pub(crate) enum Parsed {
    Json(Value),
    Yaml(Vec<YamlDoc>),
}

/// One document of a file: its index, its value, and its YAML spans (none for JSON).
pub(crate) type Doc = (usize, Value, Option<YamlDoc>);

/// A file's documents, numbered: a JSON file is one document, a YAML file one per `---`.
pub(crate) fn documents(src: &SourceText, stage: Stage) -> Result<Vec<Doc>> {
    let docs: Vec<Doc> = match parse(src, stage)? {
        Parsed::Json(v) => vec![(0, v, None)],
        Parsed::Yaml(docs) => docs
            .into_iter()
            .enumerate()
            .map(|(i, d)| (i, d.value.clone(), Some(d)))
            .collect(),
    };
    for (_, value, yaml) in &docs {
        check_member_counts(src, stage, value, yaml.as_ref())?;
    }
    Ok(docs)
}

/// A member count that is not a whole number of at least 0 (`replicas: -1`, `true`, `"three"`)
/// would read as "no count" and pass the quorum rules by: a located error instead. `null`
/// stays the API server's default.
fn check_member_counts(
    src: &SourceText,
    stage: Stage,
    value: &Value,
    yaml: Option<&text::YamlDoc>,
) -> Result<()> {
    let items: Vec<(String, &Value)> = match value.get("items").and_then(Value::as_array) {
        Some(items)
            if value
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/items/{i}"), v))
                .collect()
        }
        _ => vec![(String::new(), value)],
    };
    for (base, obj) in items {
        let mut counts: Vec<String> = vec!["/spec/replicas".into()];
        if let Some(sets) = obj.pointer("/spec/nodeSets").and_then(Value::as_array) {
            counts.extend((0..sets.len()).map(|i| format!("/spec/nodeSets/{i}/count")));
        }
        for pointer in counts {
            let Some(v) = obj.pointer(&pointer) else {
                continue;
            };
            let whole = match v {
                Value::Null => true,
                Value::Number(n) => n.as_u64().is_some(),
                Value::String(s) => s.trim().parse::<u64>().is_ok(),
                _ => false,
            };
            if whole {
                continue;
            }
            let full = format!("{base}{pointer}");
            let msg = format!(
                "{} must be a whole number of at least 0, not {v}",
                pointer.trim_start_matches('/').replace('/', ".")
            );
            let at = match yaml {
                Some(d) => d.spans.get(&full).map(|s| s.0),
                None => text::locate_json(&src.text, std::slice::from_ref(&full))
                    .get(&full)
                    .map(|s| s.0),
            };
            return Err(match at {
                Some(offset) => Error::at(stage, src, offset, msg),
                None => Error::file(stage, &src.path, format!("{full}: {msg}")),
            });
        }
    }
    Ok(())
}

pub(crate) fn parse(src: &SourceText, stage: Stage) -> Result<Parsed> {
    let first = src
        .text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .next();
    match first {
        None => Err(Error::file(stage, &src.path, "file is empty")),
        Some('{' | '[') => text::parse_json(src, stage).map(Parsed::Json),
        // Kubernetes reads YAML with 1.1 scalar rules; quorate's own files are YAML 1.2 and
        // have no scalars where the two disagree.
        Some(_) => {
            text::parse_yaml_with(src, stage, text::YamlSchema::Kubernetes).map(Parsed::Yaml)
        }
    }
}

/// Expands directories into the JSON/YAML files below them (sorted, hidden entries skipped;
/// see [`crate::paths::walk`]), with a notice for each entry passed over.
fn expand(path: &str, stage: Stage, notices: &mut Vec<String>) -> Result<Vec<(String, bool)>> {
    let p = Path::new(path);
    if path == "-" || !p.is_dir() {
        return Ok(vec![(path.to_string(), true)]);
    }
    let walked = crate::paths::walk(p, &|name| name == "quorate.yaml" || name == "quorate.yml")
        .map_err(|e| {
            Error::file(
                stage,
                crate::paths::shown(path),
                format!("cannot read directory: {e}"),
            )
        })?;
    notices.extend(walked.notices);
    Ok(walked
        .files
        .into_iter()
        .filter(|f| {
            matches!(
                Path::new(f).extension().and_then(|e| e.to_str()),
                Some("json" | "yaml" | "yml")
            )
        })
        .map(|f| (f, false))
        .collect())
}

impl Inputs {
    /// Keeps a file's non-empty documents for conftest-style policies.
    pub(crate) fn keep(&mut self, path: &str, docs: &[Doc]) {
        for (index, value, yaml) in docs.iter().filter(|d| !d.1.is_null()) {
            self.documents.push(Document {
                path: path.to_string(),
                index: *index,
                value: value.clone(),
                start: yaml.as_ref().map_or(0, |d| d.start),
            });
        }
    }

    /// Reads change documents (`quorate check PATH...`). Observed documents are accepted too.
    /// Paths that recognize nothing are an error: a CI job pointed at the wrong directory
    /// would otherwise pass while checking nothing.
    pub fn load_changes(&mut self, paths: &[String], opts: &LoadOptions) -> Result<()> {
        let before = self.recognized + self.documents.len();
        let (mut files, mut excluded) = (0, 0);
        let mut templates: BTreeMap<String, usize> = BTreeMap::new();
        for path in paths {
            for (file, explicit) in expand(path, Stage::Input, &mut self.notices)? {
                if opts.exclude.matches(&file) {
                    excluded += 1;
                    continue;
                }
                let chart = crate::paths::chart_templates(&file, |p| Path::new(p).is_file());
                if let Some(dir) = chart {
                    *templates.entry(dir).or_default() += 1;
                    continue;
                }
                files += 1;
                self.load_file(&file, None, explicit, false, opts)?;
            }
        }
        self.notices
            .extend(crate::paths::template_notices(&templates));
        if paths.is_empty() || self.recognized + self.documents.len() > before {
            return Ok(());
        }
        let mut looked = match files {
            0 => "no .json, .yaml or .yml file was read".to_string(),
            1 => "1 file read, and it holds no document quorate recognizes".to_string(),
            n => format!("{n} files read, and none holds a document quorate recognizes"),
        };
        if excluded > 0 {
            looked.push_str(&format!("; {excluded} excluded by --exclude or exclude:"));
        }
        let skipped: usize = templates.values().sum();
        if skipped > 0 {
            looked.push_str(&format!(
                "; {skipped} Helm chart templates skipped (render them with helm template)"
            ));
        }
        Err(Error::file(
            Stage::Input,
            paths.join(", "),
            format!("nothing to check: {looked}"),
        )
        .with_help(format!(
            "point quorate at the directory that holds the rendered manifests or plans; quorate reads {}",
            detect::KNOWN_FORMATS
        )))
    }

    /// Reads observed-state documents (`--observed [GROUP=]PATH`).
    pub fn load_observed(&mut self, specs: &[String], opts: &LoadOptions) -> Result<()> {
        for spec in specs {
            let (group, path) = match spec.split_once('=') {
                Some((g, p)) if !g.is_empty() && !Path::new(spec).exists() => (Some(g), p),
                _ => (None, spec.as_str()),
            };
            for (file, explicit) in expand(path, Stage::Observed, &mut self.notices)? {
                self.load_file(&file, group, explicit, true, opts)?;
            }
        }
        Ok(())
    }

    fn load_file(
        &mut self,
        path: &str,
        group: Option<&str>,
        explicit: bool,
        observed_only: bool,
        opts: &LoadOptions,
    ) -> Result<()> {
        let stage = if observed_only {
            Stage::Observed
        } else {
            Stage::Input
        };
        let src = SourceText::read(path, stage, opts.max_input_bytes)?;
        self.load_source(src, group, explicit, observed_only, opts, None)
    }

    /// Live state read by `--observe`: each response, in the shape its CLI prints, goes
    /// through the same adapters as a file; it was observed when it was fetched.
    pub fn load_fetched(
        &mut self,
        fetched: Vec<crate::observe::Fetched>,
        taken_at: &str,
        opts: &LoadOptions,
    ) -> Result<()> {
        for f in fetched {
            let text = serde_json::to_string_pretty(&f.value).map_err(|e| {
                Error::file(
                    Stage::Observed,
                    &f.label,
                    format!("does not serialize: {e}"),
                )
            })?;
            let src = SourceText::new(f.label, text);
            self.load_source(
                src,
                f.group.as_deref(),
                false,
                true,
                opts,
                Some(taken_at.to_string()),
            )?;
        }
        Ok(())
    }

    fn load_source(
        &mut self,
        src: SourceText,
        group: Option<&str>,
        explicit: bool,
        observed_only: bool,
        opts: &LoadOptions,
        taken_at: Option<String>,
    ) -> Result<()> {
        let path = src.path.clone();
        let path = path.as_str();
        let stage = if observed_only {
            Stage::Observed
        } else {
            Stage::Input
        };
        let docs = documents(&src, stage)?;
        if docs.is_empty() {
            return Err(Error::file(stage, &src.path, "file has no documents"));
        }
        let keep = self.keep_documents && !observed_only;
        // Empty documents (a leading or trailing `---`, as rendered charts have) are skipped,
        // as kubectl does; a file with nothing else is empty.
        if docs.iter().all(|d| d.1.is_null()) {
            if explicit && !keep {
                return Err(
                    Error::file(stage, &src.path, "file has only empty documents")
                        .with_help(format!("quorate reads {}", detect::KNOWN_FORMATS)),
                );
            }
            return Ok(());
        }
        if keep {
            self.keep(&src.path, &docs);
        }
        let mut part = ObservedPart::default();
        let mut used = false;
        for (index, value, yaml) in docs {
            if value.is_null() {
                continue;
            }
            let start = yaml.as_ref().map_or(0, |d| d.start);
            let Some(kind) = detect::detect(&value) else {
                if explicit && !keep {
                    let what = detect::describe(&value);
                    let msg = format!("unrecognized document: this is {what}");
                    let help = format!("quorate reads {}", detect::KNOWN_FORMATS);
                    return Err(Error::at(stage, &src, start, msg).with_help(help));
                }
                continue;
            };
            // A single live object (`kubectl get statefulset etcd -o json`) is observed state
            // like a list of one.
            if observed_only && kind == DocKind::KubernetesObject {
                used = true;
                let source = SourceRef {
                    kind: "kubectl-list".into(),
                    path: src.path.clone(),
                    pointer: String::new(),
                    after_pointer: None,
                    document: index,
                };
                kubernetes::observed_object(&value, "", &source, &mut part);
                if let Some(doc) = yaml {
                    self.yaml_spans.insert((src.path.clone(), index), doc.spans);
                }
                continue;
            }
            if observed_only && !kind.is_observed() {
                return Err(Error::at(
                    stage,
                    &src,
                    start,
                    "a Terraform plan was given as --observed",
                )
                .with_help("pass plans as PATH arguments and live state with --observed"));
            }
            used = true;
            if !observed_only {
                self.recognized += 1;
            }
            let source = SourceRef {
                kind: kind.source_type().into(),
                path: src.path.clone(),
                pointer: String::new(),
                after_pointer: None,
                document: index,
            };
            match kind {
                DocKind::TerraformPlan => {
                    let plan = terraform::load(&src, &value)?;
                    if let Some(config) = value.get("configuration") {
                        self.terraform_configs
                            .insert(src.path.clone(), config.clone());
                    }
                    self.changes.extend(plan.changes);
                    self.drift.extend(plan.drift);
                }
                DocKind::AsgGroups => aws::groups(&value, source, &mut part),
                DocKind::AsgInstances => aws::instances(&value, source, &mut part),
                DocKind::InstanceRefreshes => aws::refreshes(&value, source, &mut part),
                DocKind::ScalingActivities => aws::activities(&value, source, &mut part),
                DocKind::Ec2Instances => aws::ec2(&value, source, &mut part),
                DocKind::EsClusterHealth => elasticsearch::health(&value, source, &mut part, group),
                DocKind::EsCatNodes => {
                    let Some(g) = group else {
                        return Err(Error::at(
                            stage,
                            &src,
                            start,
                            "`_cat/nodes` output names no cluster",
                        )
                        .with_help(format!(
                            "say which group it describes: --observed GROUP={}",
                            src.path
                        )));
                    };
                    elasticsearch::nodes(&value, source, &mut part, g);
                }
                // A List is live state when given as --observed, or when its items are live
                // objects (`kubectl get -o json`: status, uid, resourceVersion). Otherwise it
                // is rendered manifests (`helm template`, `kubectl ... -o yaml --dry-run`): each
                // item is a manifest located at `/items/N`.
                DocKind::KubernetesList if observed_only || lists_live_objects(&value) => {
                    kubernetes::observed_list(&value, source, &mut part)
                }
                DocKind::KubernetesList => {
                    for (pointer, item) in list_items(&value) {
                        let mut source = source.clone();
                        source.kind = DocKind::KubernetesObject.source_type().into();
                        source.pointer.clone_from(&pointer);
                        self.add_manifest(item, source, &mut part);
                    }
                }
                DocKind::KubernetesObject => self.add_manifest(&value, source, &mut part),
                DocKind::NativeObserved => {
                    let doc = yaml.clone().unwrap_or(YamlDoc {
                        value: value.clone(),
                        spans: HashMap::new(),
                        start: 0,
                    });
                    native::load(&doc, &src, source, &mut part)?;
                }
            }
            if let Some(doc) = yaml {
                self.yaml_spans.insert((src.path.clone(), index), doc.spans);
            }
        }
        if !used {
            if keep {
                self.sources.insert(src.path.clone(), src);
            }
            return Ok(());
        }
        self.pdbs.append(&mut part.pdbs);
        self.live.append(&mut part.live);
        let is_observed = !part.groups.is_empty() || !part.loose.is_empty();
        if is_observed {
            let taken = part
                .taken_at
                .clone()
                .or(taken_at)
                .or_else(|| opts.observed_at.clone())
                .or_else(|| file_time(path, opts));
            // A group's observation is as old as the oldest file describing it.
            for (name, mut g) in std::mem::take(&mut part.groups) {
                g.taken_at = oldest(g.taken_at.take(), taken.clone());
                self.merge_group(name, g);
            }
            self.loose.extend(
                std::mem::take(&mut part.loose)
                    .into_iter()
                    .map(|(m, s)| (m, s, taken.clone())),
            );
            self.part_times.push(taken);
        }
        self.notices.append(&mut part.notices);
        self.sources.insert(src.path.clone(), src);
        Ok(())
    }

    /// A manifest given as a change input; `source.pointer` says where in its document it is.
    fn add_manifest(&mut self, value: &Value, mut source: SourceRef, part: &mut ObservedPart) {
        if let Some(p) = kubernetes::pdb(value) {
            part.pdbs.push(p);
        }
        if let Some(r) = kubernetes::object_ref(value) {
            source.after_pointer = Some(source.pointer.clone());
            self.manifests.push((r, source, value.clone()));
        }
    }

    /// The workloads of the manifests read so far, (namespace, kind, name): `--observe kube`
    /// reads their live state before they become changes.
    pub fn manifest_workloads(&self) -> Vec<(String, String, String)> {
        self.manifests
            .iter()
            .map(|(r, _, _)| (r.namespace.clone(), r.kind.clone(), r.name.clone()))
            .collect()
    }

    /// Adds a PodDisruptionBudget read from a manifest, resolved against workloads in `finish`.
    pub fn add_pdb(&mut self, pdb: kubernetes::Pdb) {
        self.pdbs.push(pdb);
    }

    /// `check` on manifests: the change `kubectl apply` would make, from the live object (when
    /// observed) to the manifest, plus drift when the live object left its last applied state.
    fn manifest_changes(&mut self) {
        for (r, source, manifest) in std::mem::take(&mut self.manifests) {
            if manifest.pointer("/kind").and_then(Value::as_str) == Some("PodDisruptionBudget") {
                continue;
            }
            let live = self.live.get(&r.id());
            let change = kubernetes::change(&r, source.clone(), live, Some(&manifest));
            if let Some(live) = live {
                let applied = live
                    .pointer(
                        "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                    )
                    .and_then(Value::as_str)
                    .and_then(|t| serde_json::from_str::<Value>(t).ok());
                if let Some(d) = live_drift(&change, &r, applied.as_ref(), live, &source) {
                    self.drift.push(d);
                }
            }
            self.changes.push(change);
        }
    }

    /// PodDisruptionBudgets declare the quorum of the workloads whose pods they select, judged
    /// at the workload's current size (live, else the size before the change), as the eviction
    /// API judges them: the bigger the cut, the more it exceeds what the PDB allows.
    fn apply_pdbs(&mut self) {
        let pdbs = std::mem::take(&mut self.pdbs);
        if pdbs.is_empty() {
            return;
        }
        // (group, namespace, object selecting the pods, object giving the current size)
        let mut workloads: Vec<(String, String, Value, Value)> = self
            .live
            .iter()
            .filter_map(|(id, v)| {
                Some((
                    id.clone(),
                    kubernetes::object_ref(v)?.namespace,
                    v.clone(),
                    v.clone(),
                ))
            })
            .collect();
        for c in &self.changes {
            let obj = if c.after.is_null() {
                &c.before
            } else {
                &c.after
            };
            let current = if c.before.is_null() { obj } else { &c.before };
            if let Some(r) = kubernetes::object_ref(obj) {
                workloads.push((
                    c.group.clone().unwrap_or_else(|| r.id()),
                    r.namespace.clone(),
                    obj.clone(),
                    current.clone(),
                ));
            }
        }
        for (group, ns, obj, current) in workloads {
            let Some(r) = kubernetes::object_ref(&obj) else {
                continue;
            };
            let Some((replicas, _)) = kubernetes::replicas(&r, &current) else {
                continue;
            };
            if let Some(q) = pdbs
                .iter()
                .filter(|p| p.selects(&ns, &obj))
                .find_map(|p| p.quorum(replicas))
            {
                let g = self.observed.groups.entry(group).or_default();
                if g.quorum.is_none() {
                    g.quorum = Some(q);
                }
            }
        }
    }

    fn merge_group(&mut self, name: String, g: Group) {
        let target = self.observed.groups.entry(name).or_default();
        merge_into(target, g);
    }

    /// Links the parts: aliases and quorum from config, loose EC2 instances to the changes
    /// that manage them (by instance id).
    pub fn finish(&mut self, config: &crate::config::Config) {
        for (canonical, names) in config.aliases() {
            for alias in names {
                if let Some(g) = self.observed.groups.remove(&alias) {
                    self.merge_group(canonical.clone(), g);
                }
            }
        }
        let owners: HashMap<&str, &str> = self
            .changes
            .iter()
            .filter_map(|c| Some((c, c.group.as_deref()?)))
            .flat_map(|(c, g)| {
                [&c.before, &c.after]
                    .into_iter()
                    .filter_map(|v| v.get("id").and_then(Value::as_str))
                    .map(move |id| (id, g))
            })
            .collect();
        let mut adopted = Vec::new();
        for (member, source, taken) in std::mem::take(&mut self.loose) {
            if let Some(group) = owners.get(member.id.as_str()) {
                adopted.push((
                    group.to_string(),
                    Group {
                        members: vec![member],
                        sources: vec![source],
                        taken_at: taken,
                        ..Group::default()
                    },
                ));
            }
        }
        for (group, g) in adopted {
            self.merge_group(group, g);
        }
        // Live workloads whose pods were not listed: their status counts are the members
        // (3 of 6 ready), as the webhook reads them.
        for (id, obj) in &self.live {
            let Some(r) = kubernetes::object_ref(obj) else {
                continue;
            };
            if let Some(g) = self.observed.groups.get_mut(id) {
                if g.members.is_empty() {
                    kubernetes::status_members(&r, obj, g);
                }
            }
        }
        self.manifest_changes();
        self.apply_pdbs();
        // The config's quorum is the group's quorum: policies reading `input` see it too.
        for (name, g) in &config.groups {
            if let (Some(q), Some(observed)) = (&g.quorum, self.observed.groups.get_mut(name)) {
                observed.quorum = Some(q.clone());
            }
        }
        self.observed.taken_at = self
            .part_times
            .iter()
            .flatten()
            .fold(None, |acc, t| oldest(acc, Some(t.clone())));
    }
}

/// Drift when the live replica count differs from the committed one (`committed`: the last
/// applied or base-revision object; without it, nothing is known to be committed).
pub fn live_drift(
    change: &Change,
    r: &kubernetes::ObjectRef,
    committed: Option<&Value>,
    live: &Value,
    origin: &SourceRef,
) -> Option<Drift> {
    let committed = committed?;
    let (live_n, attribute) = kubernetes::replicas(r, live)?;
    let (committed_n, _) = kubernetes::replicas(r, committed)?;
    (live_n != committed_n).then(|| Drift {
        change: (change.action != crate::model::Action::NoOp).then(|| change.id.clone()),
        address: change.id.clone(),
        group: change.group.clone(),
        source: "live-vs-committed".into(),
        attribute: attribute.clone(),
        committed: Value::from(committed_n),
        live: Value::from(live_n),
        origin: SourceRef {
            pointer: attribute,
            ..origin.clone()
        },
        class: "capacity".into(),
    })
}

/// The objects of a document with their pointers: a `kind: List` (or `*List`) yields its items
/// at `/items/N`, any other document itself at the root.
pub(crate) fn list_items(doc: &Value) -> Vec<(String, &Value)> {
    if !kubernetes::is_list(doc) {
        return vec![(String::new(), doc)];
    }
    doc.get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| (format!("/items/{i}"), item))
        .collect()
}

/// Whether a List holds live objects (read back from a cluster) rather than manifests.
fn lists_live_objects(list: &Value) -> bool {
    list_items(list).iter().any(|(_, item)| {
        item.get("status")
            .is_some_and(|s| s.as_object().is_some_and(|o| !o.is_empty()))
            || item.pointer("/metadata/resourceVersion").is_some()
            || item.pointer("/metadata/uid").is_some()
    })
}

fn oldest(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if parse_time(&b) < parse_time(&a) {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

/// The file's modification time: when `aws ... > file.json` captured it.
fn file_time(path: &str, opts: &LoadOptions) -> Option<String> {
    let t = if path == "-" {
        opts.now
    } else {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        chrono::DateTime::<chrono::Utc>::from(modified)
    };
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn rank(s: MemberState) -> u8 {
    match s {
        MemberState::Running => 0,
        MemberState::Unknown => 1,
        MemberState::Standby => 2,
        MemberState::Pending => 3,
        MemberState::Stopped => 4,
        MemberState::Stopping => 5,
        MemberState::Terminated => 6,
        MemberState::Terminating => 7,
    }
}

/// Merges two views of a group; for a member seen twice the less healthy view wins.
pub(crate) fn merge_into(target: &mut Group, g: Group) {
    target.desired = g.desired.or(target.desired);
    if g.health != crate::model::Health::Unknown {
        target.health = g.health;
    }
    for a in g.activities {
        target.add_work(&a.kind, &a.status, a.detail);
    }
    target.quorum = g.quorum.or(target.quorum.take());
    target.last_change = match (target.last_change.take(), g.last_change) {
        (Some(a), Some(b)) => Some(if parse_time(&b) > parse_time(&a) {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    };
    target.taken_at = oldest(target.taken_at.take(), g.taken_at);
    target.sources.extend(g.sources);
    for m in g.members {
        match target.members.iter_mut().find(|t| t.id == m.id) {
            Some(t) => {
                if rank(m.state) > rank(t.state) {
                    t.state = m.state;
                    t.raw_state = m.raw_state;
                }
                t.healthy &= m.healthy;
                t.version = t.version.take().or(m.version);
                t.since = t.since.take().or(m.since);
                t.protected |= m.protected;
                t.voter = t.voter.or(m.voter);
            }
            None => target.members.push(m),
        }
    }
}
