//! The normalized model: what every adapter produces and what policies see as `input`.
//! Pure data (serde), no I/O; also the finding and report types the reporters consume.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const API_VERSION: &str = "quorate.dev/v1";

/// The Rego `input`: one proposed change set plus the observed state it lands on.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ChangeSet {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub mode: Mode,
    pub now: String,
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    pub observed: Observed,
    pub context: Value,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Check,
    Diff,
    Admission,
}

/// Where a piece of the model came from: file, format and JSON pointer inside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    pub pointer: String,
    /// Pointer of the object's "after" state (or "before" for deletes) in the same file, so
    /// attribute paths like `/desired_capacity` can be located.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after_pointer: Option<String>,
    /// Index of the document in a multi-document YAML file.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub document: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
    #[default]
    NoOp,
    Read,
    Forget,
}

/// A count before and after the change. `null` means not known; `unknown` means
/// Terraform will only know it after apply (never read as 0).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Capacity {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub attribute: String,
    pub unknown: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Actor {
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub gitops: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub source: SourceRef,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub group: Option<String>,
    pub action: Action,
    /// The provider's own action list when it says more than `action` (Terraform's
    /// `["create", "delete"]`: a replace that creates first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_reason: Option<String>,
    pub capacity: Option<Capacity>,
    pub voters: Option<Capacity>,
    pub members_removed: Vec<String>,
    pub actor: Option<Actor>,
    pub labels: BTreeMap<String, String>,
    pub before: Value,
    pub after: Value,
    /// What the provider will really do to the group's members (the `effects` step); `null`
    /// for resources that are not members of a serving group.
    #[serde(default)]
    pub effect: Option<Effect>,
}

/// Whether a group needs its members: `quorum` (a quorum or minimum is declared or known),
/// or `capacity` (it serves, but nothing says how many members it needs).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Quorum,
    #[default]
    Capacity,
}

/// In which order the provider removes old members and adds new ones.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Old members go before new ones exist (Terraform's default replace).
    DeleteFirst,
    /// New members are created before old ones go (`create_before_destroy`).
    CreateFirst,
    #[default]
    InPlace,
}

/// Members a change removes: how many, which (when known), and whether the provider's choice
/// is known exactly (StatefulSet ordinals, named instances) or only its number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Removed {
    pub count: Option<i64>,
    pub ids: Vec<String>,
    pub exact: bool,
}

/// The quorum a group must keep, and where that requirement came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct QuorumFact {
    /// `majority`, `count` (a fixed minimum) or `pdb` (a PodDisruptionBudget, judged at the
    /// current size as the eviction API does).
    pub spec: String,
    pub min: Option<i64>,
    /// `config`, `label`, `annotation`, `pdb <ns>/<name>`, `voters`, `catalog: <system>`...
    pub source: String,
    /// Healthy voters the old configuration needs (the change is committed by it).
    pub required_before: Option<i64>,
    /// Healthy voters the new configuration needs.
    pub required_after: Option<i64>,
    /// What the worst case must keep: the larger of the two.
    pub required: Option<i64>,
    /// Members a PDB lets go at once at the current size (`pdb` only).
    pub allowed_disruptions: Option<i64>,
    /// Whether the members vote (majority quorum, a distinct voter count, or a consensus
    /// system from the catalog): then a majority of the old and the new configuration is
    /// required whatever else is declared, and voters go one at a time.
    pub voting: bool,
    /// The consensus system the catalog recognized (`etcd (image quay.io/coreos/etcd:v3.5.9)`).
    pub system: Option<String>,
}

/// Facts about one change, computed once from the model and the observed state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Effect {
    pub role: Role,
    /// Effective member (or voter) counts, after clamps and defaults; null when unknown.
    pub members_before: Option<i64>,
    pub members_after: Option<i64>,
    /// The fewest members the group has while the change runs (0 for a delete-first replace).
    pub members_min: Option<i64>,
    pub removed: Removed,
    /// Serving members (running and healthy voters) now; the plan's count when unobserved.
    pub healthy_now: Option<i64>,
    /// Serving members left in the worst case (or exactly, when `removed.exact`).
    pub healthy_after: Option<i64>,
    /// Serving members the provider may not pick (protected from scale-in).
    pub protected: i64,
    pub quorum: Option<QuorumFact>,
    pub order: Order,
    /// Whether members were observed (else healthy counts assume every member serves).
    pub observed: bool,
    /// The attribute that decides the count after the change (`/max_size` when it clamps).
    pub attribute: String,
    /// Provider semantics that applied, in words (`max_size 1 clamps desired 3 -> 1`).
    pub notes: Vec<String>,
    /// For a count/for_each instance: the change that carries its group's effect.
    pub counted_in: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Drift {
    pub change: Option<String>,
    pub address: String,
    pub group: Option<String>,
    pub source: String,
    pub attribute: String,
    pub committed: Value,
    pub live: Value,
    /// Where the drift is recorded (file + pointer), for locating findings.
    pub origin: SourceRef,
    /// `capacity` or `voters` when the drifted attribute decides the member count (the
    /// outage's pattern), else `other` (a tag, a string).
    #[serde(default = "other_class")]
    pub class: String,
}

fn other_class() -> String {
    "other".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Observed {
    pub taken_at: Option<String>,
    pub groups: BTreeMap<String, Group>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Green,
    Yellow,
    Red,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Group {
    pub desired: Option<i64>,
    pub members: Vec<Member>,
    pub health: Health,
    /// Kinds of work under way (`instance-refresh`, `scaling-activity`, ...), each once.
    pub in_progress: Vec<String>,
    /// The work itself, with the provider's status and a human detail.
    pub activities: Vec<Activity>,
    pub quorum: Option<Quorum>,
    /// When the group last changed size or membership (latest scaling activity).
    pub last_change: Option<String>,
    /// When this group's observation was taken, if it differs from `observed.taken_at`.
    pub taken_at: Option<String>,
    pub sources: Vec<SourceRef>,
}

/// One piece of work in progress on a group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Activity {
    pub kind: String,
    pub status: String,
    pub detail: String,
}

impl Group {
    /// Records work in progress; `in_progress` keeps each kind once.
    pub fn add_work(&mut self, kind: &str, status: &str, detail: impl Into<String>) {
        if !self.in_progress.iter().any(|k| k == kind) {
            self.in_progress.push(kind.to_string());
        }
        self.activities.push(Activity {
            kind: kind.to_string(),
            status: status.to_string(),
            detail: detail.into(),
        });
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    Pending,
    Running,
    Terminating,
    Terminated,
    Stopping,
    Stopped,
    Standby,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Member {
    pub id: String,
    pub state: MemberState,
    pub raw_state: String,
    pub healthy: bool,
    pub version: Option<String>,
    pub since: Option<String>,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub voter: Option<bool>,
}

/// `majority` or a fixed minimum number of healthy voters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Quorum {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    pub source: String,
}

// ---------------------------------------------------------------- findings

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Deny,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Deny => "deny",
            Severity::Warn => "warn",
        }
    }
}

/// A resolved position in an input file (1-based line and column, in characters).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub pointer: String,
    /// Byte range in the file, for snippets.
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub change: Option<String>,
    pub group: Option<String>,
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverNote>,
    /// More places the finding is about, after `location` (a Terraform finding located in
    /// the `.tf` configuration keeps its plan location here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Location>,
}

/// Why a finding does not count: the waiver that covers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WaiverNote {
    pub reason: String,
    pub by: Option<String>,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Summary {
    pub deny: usize,
    pub warn: usize,
    pub changes: usize,
    pub waived: usize,
}

/// Static description of a rule, for `rules`, `explain` and SARIF.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleDoc {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub what: String,
    pub why: String,
    pub example: String,
    pub fix: String,
}

/// Everything a reporter needs: findings, waived findings, notices, and the sources to quote.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub waived: Vec<Finding>,
    /// Things the user should know that are not findings (expired waivers and the like).
    pub notices: Vec<String>,
    pub summary: Summary,
    pub rules: Vec<RuleDoc>,
    /// path -> file text, for snippets.
    pub sources: BTreeMap<String, std::sync::Arc<str>>,
    /// The repository root (absolute) that relative report paths start from, when known.
    pub root: Option<String>,
    /// Report paths that are not relative to `root` (files outside it).
    pub outside_root: Vec<String>,
}

impl Report {
    pub fn count(&self, at_least: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= at_least)
            .count()
    }

    pub fn rule_doc(&self, id: &str) -> Option<&RuleDoc> {
        self.rules.iter().find(|r| r.id == id)
    }
}
