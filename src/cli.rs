//! Command-line types (clap derive only). `main.rs` turns them into library calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "quorate",
    version,
    about = "Stops infrastructure changes that would take a service down: drift, instability and quorum checks",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check Terraform plans against observed live state
    Check(CheckArgs),
    /// List the built-in rules
    Rules(RulesArgs),
    /// Explain one rule: what it catches, why, an example and the fix
    Explain {
        /// Rule id, e.g. quorum/below-quorum
        rule: String,
    },
    /// Print a JSON Schema: the policy input, quorate.yaml, or the observed-state file
    Schema {
        #[arg(value_enum)]
        which: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    Input,
    Config,
    Observed,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    Deny,
    Warn,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
    Sarif,
    Junit,
    Github,
    Markdown,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: RulesFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RulesFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Plans, directories or `-` (stdin); documents are recognized by content
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// Observed live state: AWS CLI / Elasticsearch output or a quorate Observed file.
    /// `GROUP=PATH` names the group for files that do not (e.g. `_cat/nodes`)
    #[arg(long, value_name = "[GROUP=]PATH")]
    pub observed: Vec<String>,

    /// Configuration file (default: ./quorate.yaml if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// Extra Rego policy file or directory (repeatable)
    #[arg(long = "policy", value_name = "DIR")]
    pub policies: Vec<String>,

    /// Do not load the built-in policies
    #[arg(long)]
    pub no_builtin: bool,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value = "human")]
    pub format: OutputFormat,

    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that makes the exit code 1
    #[arg(long, value_enum, default_value = "deny")]
    pub fail_on: FailOn,

    /// Evaluate as of this time (RFC 3339) instead of the clock
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// When observed files without a timestamp of their own were captured (default: their mtime)
    #[arg(long, value_name = "TIME")]
    pub observed_at: Option<String>,

    /// Largest input file accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::text::DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,

    /// Time limit for policy evaluation (e.g. 10s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,

    /// Print the normalized policy input (JSON) instead of evaluating
    #[arg(long)]
    pub emit_input: bool,

    /// Colors in the human report
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}
