//! Command-line types (clap derive only). `main.rs` turns them into library calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "quorate",
    version = env!("QUORATE_VERSION_LINE"),
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
    /// Check Terraform plans and Kubernetes manifests against observed live state
    Check(CheckArgs),
    /// Check the Kubernetes manifests changed between two git revisions (or staged)
    Diff(DiffArgs),
    /// Wait until the groups a change touches are stable, then run the command after `--`
    Gate(GateArgs),
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
    /// Run the `test_*` rules and `cases/` fixtures of policies (`opa test` semantics)
    Test(TestArgs),
    /// Serve the admission webhook: POST /validate (AdmissionReview v1), /healthz, /readyz, /metrics
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy files, directories or bundles to test (default: the built-in policies and --policy)
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// More policies to load and test: file, directory or OPA bundle (repeatable)
    #[arg(long = "policy", value_name = "PATH")]
    pub policies: Vec<String>,

    /// Configuration passed as data.quorate.config (default: ./quorate.yaml if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// conftest namespace: its policies see each input document of a fixture (repeatable)
    #[arg(long = "namespace", value_name = "NS", default_value = "main")]
    pub namespaces: Vec<String>,

    /// Every package outside `quorate.` is a conftest namespace
    #[arg(long)]
    pub all_namespaces: bool,

    /// Only tests whose name matches this regular expression (e.g. `data.main.test_.*`)
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,

    /// Print every test, passed or not, with its print() output
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value = "human")]
    pub format: TestFormat,

    /// Write the results to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Time limit for each test (e.g. 10s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,

    /// Memory a test's evaluation may add to what quorate holds (e.g. 512MiB, 2GiB)
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = crate::engine::parse_size)]
    pub max_policy_memory: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
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
    /// One line per finding: `path:line:col: severity rule: message` (terminals, editors)
    Compact,
    /// `check review.json`: the AdmissionReview answer the webhook would give
    Admission,
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
    /// Plans, manifests, directories or `-` (stdin); documents are recognized by content
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    #[command(flatten)]
    pub eval: EvalArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// `BASE [HEAD]`, `BASE..HEAD` or `BASE...HEAD` (from their merge base). Default: from the
    /// merge base with the default branch (or the pull request's base with --github) to HEAD
    #[arg(value_name = "REV")]
    pub revisions: Vec<String>,

    /// Compare the index with HEAD: what `git commit` would record (for pre-commit)
    #[arg(long)]
    pub staged: bool,
    /// Run as a pre-commit hook: check the commits PRE_COMMIT_FROM_REF...PRE_COMMIT_TO_REF when
    /// pre-commit sets them (pre-push, `pre-commit run --from-ref A --to-ref B`, pre-commit.ci),
    /// else the staged changes
    #[arg(long, conflicts_with = "staged")]
    pub pre_commit: bool,
    /// Where quorate.yaml and --policy directories are read from: `base` (default: the base
    /// revision, so a change cannot waive its own denial) or `head` (the working tree)
    #[arg(long, value_name = "base|head", default_value = "base")]
    pub config_from: String,

    /// Repository to read (any directory inside it)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: String,

    /// Terraform plan JSON to check together with the manifests (repeatable)
    #[arg(long = "plan", value_name = "FILE")]
    pub plans: Vec<String>,

    #[command(flatten)]
    pub eval: EvalArgs,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Plans, manifests or directories, as for `check`
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// How long to wait for findings that waiting can clear (the `unstable/` family)
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub wait: String,

    /// How often live state is read again and the change re-evaluated
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub poll: String,

    /// Write a decision record (inputs' sha256, observations, findings, decision, command
    /// start and exit code) to FILE
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Tests: "now" is the RFC 3339 time in FILE, and each poll advances it instead of sleeping
    #[arg(
        long,
        value_name = "FILE",
        hide = true,
        env = "QUORATE_GATE_CLOCK_FILE"
    )]
    pub clock_file: Option<PathBuf>,

    #[command(flatten)]
    pub eval: EvalArgs,

    /// The command to run when nothing blocks (its exit code is passed through)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Flags shared by `check` and `diff`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Observed live state: AWS CLI / Elasticsearch output or a quorate Observed file.
    /// `GROUP=PATH` names the group for files that do not (e.g. `_cat/nodes`)
    #[arg(long, value_name = "[GROUP=]PATH")]
    pub observed: Vec<String>,

    /// Read live state from the source for the groups the changes touch: `aws` (Auto Scaling,
    /// standard credential chain, AWS_ENDPOINT_URL), `kube` (kubeconfig or in-cluster), or
    /// `es=URL` (Elasticsearch / OpenSearch; groups with `aliases` in quorate.yaml) (repeatable)
    #[arg(long, value_name = "aws|kube|es=URL")]
    pub observe: Vec<String>,

    /// AWS region for --observe aws (default: AWS_REGION, then the profile's region)
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,

    /// AWS profile for --observe aws (default: AWS_PROFILE, then `default`)
    #[arg(long, value_name = "NAME")]
    pub aws_profile: Option<String>,

    /// kubeconfig for --observe kube (default: in-cluster, else $KUBECONFIG or ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Configuration file (default: ./quorate.yaml if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// Extra Rego policy: file, directory or OPA bundle (.tar.gz) (repeatable)
    #[arg(long = "policy", short = 'p', value_name = "PATH")]
    pub policies: Vec<String>,

    /// conftest namespace: its policies see each input document as `input` (repeatable;
    /// `*` matches any characters)
    #[arg(long = "namespace", value_name = "NS", default_value = "main")]
    pub namespaces: Vec<String>,

    /// Every package outside `quorate.` is a conftest namespace
    #[arg(long)]
    pub all_namespaces: bool,

    /// Do not load the built-in policies
    #[arg(long)]
    pub no_builtin: bool,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value = "human")]
    pub format: OutputFormat,

    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Do not read files whose path matches GLOB (repeatable; `**` crosses directories; a
    /// directory excludes everything below it). Added to `exclude:` in quorate.yaml
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

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

    /// Memory policy evaluation may add to what quorate holds (e.g. 512MiB, 2GiB)
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = crate::engine::parse_size)]
    pub max_policy_memory: u64,

    /// Print the normalized policy input (JSON) instead of evaluating
    #[arg(long)]
    pub emit_input: bool,

    /// Print the data document policies see (`data.quorate.config`, bundle data) instead of
    /// evaluating
    #[arg(long, conflicts_with = "emit_input")]
    pub emit_data: bool,

    /// Colors in the human report
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Run as a GitHub Actions step: annotations on stdout, a Markdown summary in
    /// $GITHUB_STEP_SUMMARY, counts in $GITHUB_OUTPUT; `diff` takes the pull request's base
    /// and head from $GITHUB_EVENT_PATH
    #[arg(long)]
    pub github: bool,

    /// Also write a SARIF report to FILE (for code scanning)
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,

    /// Directory that report paths are relative to (default: the git work tree that holds
    /// each file; files outside it are relative to the current directory)
    #[arg(long, value_name = "DIR")]
    pub root: Option<String>,

    /// Terraform configuration directory of the plans: findings are located at the `.tf`
    /// line that declares the attribute, then in the plan (default: the directory the plan's
    /// `configuration` refers to, when the `.tf` files are in the current directory)
    #[arg(long, value_name = "DIR")]
    pub tf_root: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub addr: String,

    /// TLS certificate chain (PEM); reloaded when the file changes
    #[arg(long, value_name = "FILE", required_unless_present = "insecure_http")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM); reloaded when the file changes
    #[arg(long, value_name = "FILE", required_unless_present = "insecure_http")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP instead of HTTPS (local tests only: the API server requires HTTPS)
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub insecure_http: bool,

    /// Decision log level on stderr: error, warn, info (denials, shed, failed, break-glass), debug (allows too), off
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,

    /// Decision log format: json (one object per line) or text
    #[arg(long, value_name = "FORMAT", default_value = "json")]
    pub log_format: String,

    /// Configuration file (default: ./quorate.yaml if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// Extra Rego policy file or directory (repeatable)
    #[arg(long = "policy", value_name = "DIR")]
    pub policies: Vec<String>,

    /// Do not load the built-in policies
    #[arg(long)]
    pub no_builtin: bool,

    /// Turn cluster lookups off (scale and pod requests are then judged from the review alone)
    #[arg(long)]
    pub no_lookups: bool,

    /// kubeconfig for lookups (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)
    #[arg(long, value_name = "FILE", conflicts_with = "no_lookups")]
    pub kubeconfig: Option<PathBuf>,

    /// Largest request body accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Time limit for a whole request (keep it below the webhook's timeoutSeconds)
    #[arg(long, value_name = "DURATION", default_value = "8s")]
    pub request_timeout: String,

    /// Time limit for policy evaluation
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub eval_timeout: String,

    /// Memory all policy evaluations together may add to what the server holds at start
    /// (e.g. 512MiB, 2GiB); an evaluation past it is stopped and answered by the failure mode
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = crate::engine::parse_size)]
    pub max_policy_memory: u64,

    /// Policy evaluations running at once (default: number of CPUs)
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,

    /// How long a review waits for an evaluation slot before it is shed (answered 429)
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub queue_timeout: String,

    /// After SIGTERM, how long open requests may take to finish
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub shutdown_grace: String,

    /// After SIGTERM, keep serving (and failing /readyz) this long before draining
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub shutdown_delay: String,

    /// How often the certificate files are checked for changes
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub tls_reload_interval: String,

    /// Close a keep-alive connection after this long without a request (longer than the
    /// API server's 90s, so the client closes first)
    #[arg(long, value_name = "DURATION", default_value = "120s")]
    pub idle_timeout: String,

    /// Close a connection whose request head (HTTP/1) is not complete this long after its
    /// first byte, or that sends no request this long after it was accepted
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub header_timeout: String,

    /// Connections open at once; at the limit a new connection closes the longest-idle one (or
    /// is refused if every connection has a request in progress). Lowered to fit the open-file
    /// limit
    #[arg(long, value_name = "N", default_value_t = crate::webhook::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
}
