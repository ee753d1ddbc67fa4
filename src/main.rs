//! Thin binary: parse arguments, call the library, print, pick the exit code (0 clean,
//! 1 findings at or above --fail-on, 2 the tool could not do its job).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use quorate::check::{self, CheckOptions};
use quorate::cli::{
    CheckArgs, Cli, ColorChoice, Command, DiffArgs, EvalArgs, FailOn, GateArgs, OutputFormat,
    RulesFormat, SchemaKind, TestArgs, TestFormat,
};
use quorate::error::Error;
use quorate::model::Severity;
use quorate::report::{self, Format};

fn main() -> ExitCode {
    // regorus reports some misses inside an evaluation as anyhow errors (e.g. `a[i][j]` on a
    // computed element); with RUST_BACKTRACE set, each would capture a backtrace nobody sees.
    // Library backtraces stay off unless RUST_LIB_BACKTRACE asks; panics still follow
    // RUST_BACKTRACE. Set before any thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    // In a GitHub Actions step a tool failure is annotated too, at its file and position.
    let github = match &cli.command {
        Command::Check(CheckArgs { eval, .. }) | Command::Diff(DiffArgs { eval, .. }) => {
            eval.github || eval.format == OutputFormat::Github
        }
        _ => false,
    };
    let result = match cli.command {
        Command::Check(args) => run_check(args),
        Command::Diff(args) => run_diff(args),
        Command::Gate(args) => run_gate(args),
        Command::Test(args) => run_test(args),
        Command::Serve(args) => quorate::webhook::serve_cli(&args).map(|_| 0),
        Command::Rules(args) => quorate::rules::list(
            args.format == RulesFormat::Json,
            args.format == RulesFormat::Markdown,
        )
        .and_then(|text| print(&text)),
        Command::Explain { rule } => {
            let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none();
            quorate::rules::explain(&rule, color).and_then(|text| print(&text))
        }
        Command::Schema { which } => {
            let w = match which {
                SchemaKind::Input => quorate::schema::Which::Input,
                SchemaKind::Config => quorate::schema::Which::Config,
                SchemaKind::Observed => quorate::schema::Which::Observed,
            };
            print(w.text()).map(|_| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if github {
                let _ = print(&quorate::github::error_annotation(&e));
            }
            print_error(&e);
            ExitCode::from(2)
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::file(
            quorate::error::Stage::Output,
            "<stdout>",
            e.to_string(),
        )),
    }
}

fn print_error(e: &Error) {
    let theme = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    // One unwrapped headline (`path:line:col: message`, easy to grep and click), then the snippet.
    let mut s = String::new();
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(usize::MAX);
    if handler.render_report(&mut s, e).is_err() || s.is_empty() {
        s = format!("error: {e}\n");
    }
    let _ = write!(std::io::stderr(), "{s}");
}

/// Refuses `-o` / `--sarif` naming one of the inputs: the report would replace the plan.
fn refuse_overwriting_inputs(paths: &[String], eval: &EvalArgs) -> Result<(), Error> {
    let inputs: Vec<&str> = paths
        .iter()
        .chain(&eval.observed)
        .chain(&eval.policies)
        .chain(eval.config.iter())
        .map(|p| {
            p.split_once('=')
                .filter(|_| !Path::new(p).exists())
                .map_or(p.as_str(), |(_, f)| f)
        })
        .collect();
    for (flag, out) in [("--output", &eval.output), ("--sarif", &eval.sarif)] {
        let Some(out) = out else { continue };
        let Ok(out_abs) = std::fs::canonicalize(out) else {
            continue; // does not exist yet: nothing to overwrite
        };
        for input in &inputs {
            if std::fs::canonicalize(input).is_ok_and(|i| i == out_abs) {
                return Err(Error::usage(format!(
                    "{flag} {} is also an input: the report would overwrite it",
                    out.display()
                ))
                .with_help("write the report to another file"));
            }
        }
    }
    Ok(())
}

fn check_options(paths: Vec<String>, eval: &EvalArgs) -> Result<CheckOptions, Error> {
    refuse_overwriting_inputs(&paths, eval)?;
    let timeout = quorate::config::parse_duration_ms(&eval.timeout)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::usage(format!(
                "--timeout `{}` is not a duration (e.g. 10s)",
                eval.timeout
            ))
        })?;
    Ok(CheckOptions {
        paths,
        observed: eval.observed.clone(),
        config: eval.config.clone(),
        policies: eval.policies.clone(),
        builtin: !eval.no_builtin,
        now: eval.now.clone(),
        observed_at: eval.observed_at.clone(),
        max_input_bytes: eval.max_input_bytes,
        timeout,
        max_policy_memory: eval.max_policy_memory,
        namespaces: eval.namespaces.clone(),
        all_namespaces: eval.all_namespaces,
        exclude: eval.exclude.clone(),
        policy_sources: Vec::new(),
        root: eval.root.clone(),
        tf_root: eval.tf_root.clone(),
        observe: quorate::observe::ObserveOptions {
            sources: eval
                .observe
                .iter()
                .map(|s| quorate::observe::Source::parse(s))
                .collect::<Result<_, _>>()?,
            aws_region: eval.aws_region.clone(),
            aws_profile: eval.aws_profile.clone(),
            kubeconfig: eval.kubeconfig.clone(),
        },
    })
}

fn emit_data(opts: &CheckOptions) -> Result<u8, Error> {
    let json = serde_json::to_string_pretty(&check::data_document(opts)?)
        .map_err(|e| Error::usage(format!("data does not serialize: {e}")))?;
    print(&(json + "\n"))
}

fn emit_input(set: &quorate::model::ChangeSet) -> Result<u8, Error> {
    let json = serde_json::to_string_pretty(set)
        .map_err(|e| Error::usage(format!("model does not serialize: {e}")))?;
    print(&(json + "\n"))
}

fn run_check(args: CheckArgs) -> Result<u8, Error> {
    if args.eval.format == OutputFormat::Admission {
        return run_review(&args);
    }
    let opts = check_options(args.paths, &args.eval)?;
    if args.eval.emit_data {
        return emit_data(&opts);
    }
    if args.eval.emit_input {
        let (set, _, _) = check::build_input(&opts)?;
        return emit_input(&set);
    }
    let report = check::check(&opts)?;
    finish(&report, &args.eval)
}

/// `quorate check review.json [--observed cluster.json] --format admission`: the webhook's
/// answer, offline. Exit 0 allowed, 1 denied, 2 when the review could not be judged.
fn run_review(args: &CheckArgs) -> Result<u8, Error> {
    let [path] = args.paths.as_slice() else {
        return Err(Error::usage(
            "--format admission judges one AdmissionReview: give one file",
        ));
    };
    let stage = quorate::error::Stage::Input;
    let src = quorate::text::SourceText::read(path, stage, args.eval.max_input_bytes)?;
    let mut cluster = Vec::new();
    for spec in &args.eval.observed {
        let o = quorate::text::SourceText::read(
            spec,
            quorate::error::Stage::Observed,
            args.eval.max_input_bytes,
        )?;
        let v = quorate::text::parse_json(&o, quorate::error::Stage::Observed)?;
        match v.get("items").and_then(serde_json::Value::as_array) {
            Some(items) => cluster.extend(items.iter().cloned()),
            None => cluster.push(v),
        }
    }
    let timeout = check_options(Vec::new(), &args.eval)?.timeout;
    let opts = quorate::webhook::ServeOptions {
        config: args.eval.config.clone(),
        policies: args.eval.policies.clone(),
        builtin: !args.eval.no_builtin,
        eval_timeout: timeout,
        ..quorate::webhook::ServeOptions::default()
    };
    quorate::webhook::init_logging("info", true)?;
    let (answer, judged) = quorate::webhook::review_offline(&opts, src.text.as_bytes(), cluster)?;
    let text = serde_json::to_string_pretty(&answer)
        .map_err(|e| Error::usage(format!("answer does not serialize: {e}")))?;
    print(&(text + "\n"))?;
    Ok(match (judged, answer.pointer("/response/allowed")) {
        (false, _) => 2,
        (true, Some(serde_json::Value::Bool(false))) => 1,
        _ => 0,
    })
}

/// `diff --pre-commit`: the pushed range pre-commit names, or the staged changes.
fn pre_commit_range(revisions: &[String]) -> Result<Option<String>, Error> {
    if !revisions.is_empty() {
        return Err(Error::usage(
            "--pre-commit takes its range from pre-commit: give no revisions",
        ));
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match (var("PRE_COMMIT_FROM_REF"), var("PRE_COMMIT_TO_REF")) {
        (Some(from), Some(to)) => {
            eprintln!("quorate: checking the commits {from}...{to} (PRE_COMMIT_FROM_REF...PRE_COMMIT_TO_REF)");
            Ok(Some(format!("{from}...{to}")))
        }
        _ => Ok(None),
    }
}

fn run_diff(args: DiffArgs) -> Result<u8, Error> {
    let mut revisions = args.revisions;
    let mut staged = args.staged;
    if args.pre_commit {
        match pre_commit_range(&revisions)? {
            Some(range) => revisions = vec![range],
            None => staged = true,
        }
    }
    if args.eval.github && revisions.is_empty() && !staged {
        if let Some((base, head)) = quorate::github::pull_request_range()? {
            revisions = vec![base, head];
        }
    }
    let mut opts = quorate::diff::DiffOptions {
        check: check_options(args.plans, &args.eval)?,
        revisions,
        staged,
        repo: args.repo,
        base_ref: std::env::var("GITHUB_BASE_REF").ok(),
        keep_documents: false,
        config_from: quorate::governance::parse_from(&args.config_from)?,
    };
    if args.eval.emit_input || args.eval.emit_data {
        let (set, _, _) = quorate::diff::build_input(&opts)?;
        return if args.eval.emit_input {
            emit_input(&set)
        } else {
            emit_data(&opts.check)
        };
    }
    // quorate.yaml and --policy come from the base revision unless --config-from head: a
    // change cannot waive its own denial; what it does to them is reported.
    let changes = quorate::diff::changes_of(&opts)?;
    if args.pre_commit && staged && changes.files.is_empty() {
        eprintln!(
            "quorate: no staged manifest change and pre-commit named no range (PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF): \
             no change to check. `pre-commit run --from-ref origin/main --to-ref HEAD` checks the commits in between"
        );
    }
    let governed = quorate::diff::governed(&opts, &changes)?;
    opts.check.policies = governed.policy_paths.clone();
    opts.check.policy_sources = governed.policy_sources.clone();
    let policies = check::load_policies(&opts.check, &governed.config)?;
    // conftest-style policies see each document of the changed files: keep them only then.
    opts.keep_documents = policies.has_conftest();
    let (set, mut inputs, config) =
        quorate::diff::build_input_from(&opts, governed.config, changes)?;
    inputs.findings.extend(governed.findings);
    inputs.notices.extend(governed.notices);
    for src in governed.sources {
        inputs.sources.insert(src.path.clone(), src);
    }
    let report = check::evaluate(&set, &inputs, &config, &policies)?;
    finish(&report, &args.eval)
}

/// Renders the report where asked, publishes to GitHub when asked, and picks the exit code.
fn finish(report: &quorate::model::Report, eval: &EvalArgs) -> Result<u8, Error> {
    let format = if eval.github && eval.format == OutputFormat::Human {
        Format::Github
    } else {
        match eval.format {
            OutputFormat::Human => Format::Human,
            OutputFormat::Compact => Format::Compact,
            // Handled before a report exists (run_check); a diff has no review to answer.
            OutputFormat::Admission => Format::Json,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
            OutputFormat::Junit => Format::Junit,
            OutputFormat::Github => Format::Github,
            OutputFormat::Markdown => Format::Markdown,
        }
    };
    let color = match eval.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            eval.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let fail_on = match eval.fail_on {
        FailOn::Deny => Some(Severity::Deny),
        FailOn::Warn => Some(Severity::Warn),
        FailOn::Never => None,
    };
    let opts = |color| report::RenderOptions { color, fail_on };
    let write = |path: &std::path::Path, format: Format| -> Result<(), Error> {
        let mut buf = Vec::new();
        report::render_with(report, format, &opts(false), &mut buf)
            .map_err(|e| Error::file(quorate::error::Stage::Output, "<report>", e.to_string()))?;
        write_file(path, &buf)
    };
    if let Some(path) = &eval.sarif {
        write(path, Format::Sarif)?;
    }
    match &eval.output {
        Some(path) => write(path, format)?,
        None => {
            let mut buf = Vec::new();
            report::render_with(report, format, &opts(color), &mut buf).map_err(|e| {
                Error::file(quorate::error::Stage::Output, "<report>", e.to_string())
            })?;
            print(&String::from_utf8_lossy(&buf))?;
        }
    }
    if eval.github {
        quorate::github::publish(report, eval.sarif.as_deref())?;
    }
    let failing = fail_on.map_or(0, |at| report.count(at));
    Ok(u8::from(failing > 0))
}

fn run_test(args: TestArgs) -> Result<u8, Error> {
    let timeout = quorate::config::parse_duration_ms(&args.timeout)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::usage(format!(
                "--timeout `{}` is not a duration (e.g. 10s)",
                args.timeout
            ))
        })?;
    let opts = quorate::testing::TestOptions {
        paths: args.paths,
        policies: args.policies,
        config: args.config,
        namespaces: args.namespaces,
        all_namespaces: args.all_namespaces,
        run: args.run,
        timeout,
        max_policy_memory: args.max_policy_memory,
        ..quorate::testing::TestOptions::default()
    };
    let report = quorate::testing::run(&opts)?;
    let text = match args.format {
        TestFormat::Human => quorate::testing::render_human(&report, args.verbose),
        TestFormat::Json => quorate::testing::render_json(&report),
        TestFormat::Junit => quorate::testing::render_junit(&report),
    };
    match &args.output {
        Some(path) => write_file(path, text.as_bytes())?,
        None => {
            print(&text)?;
        }
    }
    Ok(u8::from(!report.ok()))
}

fn duration_arg(flag: &str, text: &str) -> Result<Duration, Error> {
    quorate::config::parse_duration_ms(text)
        .map(Duration::from_millis)
        .ok_or_else(|| Error::usage(format!("{flag} `{text}` is not a duration (e.g. 15m, 30s)")))
}

/// `quorate gate`: waits shown on stderr (in place on a terminal, a line per poll otherwise);
/// the final decision on stdout; the command's exit code passed through.
fn run_gate(args: GateArgs) -> Result<u8, Error> {
    let eval = &args.eval;
    if eval.emit_input || eval.emit_data || eval.github || eval.sarif.is_some() {
        return Err(Error::usage(
            "quorate gate writes a decision (human or --format json): --emit-input, --emit-data, --github and --sarif belong to check and diff",
        ));
    }
    if !matches!(eval.format, OutputFormat::Human | OutputFormat::Json) {
        return Err(Error::usage(
            "quorate gate writes its decision as human text or --format json",
        ));
    }
    let opts = quorate::gate::GateOptions {
        check: check_options(args.paths.clone(), eval)?,
        wait: duration_arg("--wait", &args.wait)?,
        poll: duration_arg("--poll", &args.poll)?,
        command: args.command.clone(),
        record: args.record.clone(),
        clock: match &args.clock_file {
            Some(path) => quorate::gate::Clock::File(path.clone()),
            None => quorate::gate::Clock::System,
        },
        fail_on: match eval.fail_on {
            FailOn::Deny => Some(Severity::Deny),
            FailOn::Warn => Some(Severity::Warn),
            FailOn::Never => None,
        },
    };
    let mut watcher = GateWatcher {
        bar: std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }),
    };
    let run = quorate::gate::run(&opts, &mut watcher);
    if let Some(bar) = &watcher.bar {
        bar.finish_and_clear();
    }
    let out = run?;
    let decision = match out.decision {
        quorate::gate::Decision::Go => "go",
        quorate::gate::Decision::Blocked => "blocked",
        quorate::gate::Decision::Deadline => "deadline",
    };
    if eval.format == OutputFormat::Json {
        let text = serde_json::to_string_pretty(&quorate::gate::decision_json(&out))
            .map_err(|e| Error::usage(format!("decision does not serialize: {e}")))?;
        match &eval.output {
            Some(path) => write_file(path, (text + "\n").as_bytes())?,
            None => {
                print(&(text + "\n"))?;
            }
        }
    } else if out.decision != quorate::gate::Decision::Go {
        let _ = writeln!(
            std::io::stderr(),
            "quorate gate: {decision}: {}",
            out.reason
        );
        finish(&out.report, eval)?;
    }
    Ok(match (out.decision, &out.command) {
        (quorate::gate::Decision::Go, Some(cmd)) => {
            cmd.exit_code.map_or(1, |c| u8::try_from(c).unwrap_or(1))
        }
        (quorate::gate::Decision::Go, None) => 0,
        _ => 1,
    })
}

/// Shows the gate's waits: in place on a terminal, one plain line per poll otherwise.
struct GateWatcher {
    bar: Option<indicatif::ProgressBar>,
}

impl quorate::gate::Watcher for GateWatcher {
    fn waiting(&mut self, w: &quorate::gate::Waiting) {
        let head = format!(
            "waiting {} of {} (next look in {})",
            quorate::gate::human(w.waited.as_secs()),
            quorate::gate::human(w.wait.as_secs()),
            quorate::gate::human(w.next_poll.as_secs())
        );
        match &self.bar {
            Some(bar) => bar.set_message(format!("{head}\n  {}", w.groups.join("\n  "))),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "quorate gate: {head}: {}",
                    w.groups.join("; ")
                );
            }
        }
    }

    fn going(&mut self, reason: &str, command: &[String]) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let run = if command.is_empty() {
            String::new()
        } else {
            format!("; running {}", command.join(" "))
        };
        let _ = writeln!(std::io::stderr(), "quorate gate: go: {reason}{run}");
    }
}

/// Writes an output file (`-o`, `--sarif`), naming it on failure.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| {
        Error::file(
            quorate::error::Stage::Output,
            path.display().to_string(),
            format!("cannot write: {e}"),
        )
    })
}
