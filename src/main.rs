//! Thin binary: parse arguments, call the library, print, pick the exit code (0 clean,
//! 1 findings at or above --fail-on, 2 the tool could not do its job).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use quorate::check::{self, CheckOptions};
use quorate::cli::{
    CheckArgs, Cli, ColorChoice, Command, DiffArgs, EvalArgs, FailOn, OutputFormat, RulesFormat,
    SchemaKind, TestArgs, TestFormat,
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
    let result = match cli.command {
        Command::Check(args) => run_check(args),
        Command::Diff(args) => run_diff(args),
        Command::Test(args) => run_test(args),
        Command::Serve(args) => quorate::webhook::serve_cli(&args).map(|_| 0),
        Command::Rules(args) => quorate::rules::list(
            args.format == RulesFormat::Json,
            args.format == RulesFormat::Markdown,
        )
        .and_then(|text| print(&text)),
        Command::Explain { rule } => quorate::rules::explain(&rule).and_then(|text| print(&text)),
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

fn check_options(paths: Vec<String>, eval: &EvalArgs) -> Result<CheckOptions, Error> {
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
        namespaces: eval.namespaces.clone(),
        all_namespaces: eval.all_namespaces,
        exclude: eval.exclude.clone(),
        root: eval.root.clone(),
        tf_root: eval.tf_root.clone(),
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

fn run_diff(args: DiffArgs) -> Result<u8, Error> {
    let mut revisions = args.revisions;
    if args.eval.github && revisions.is_empty() && !args.staged {
        if let Some((base, head)) = quorate::github::pull_request_range()? {
            revisions = vec![base, head];
        }
    }
    let mut opts = quorate::diff::DiffOptions {
        check: check_options(args.plans, &args.eval)?,
        revisions,
        staged: args.staged,
        repo: args.repo,
        base_ref: std::env::var("GITHUB_BASE_REF").ok(),
        keep_documents: false,
    };
    if args.eval.emit_input || args.eval.emit_data {
        let (set, _, _) = quorate::diff::build_input(&opts)?;
        return if args.eval.emit_input {
            emit_input(&set)
        } else {
            emit_data(&opts.check)
        };
    }
    // conftest-style policies see each document of the changed files: keep them only then.
    let config = quorate::config::Config::discover(
        opts.check.config.as_deref(),
        opts.check.max_input_bytes,
    )?;
    let policies = check::load_policies(&opts.check, &config)?;
    opts.keep_documents = policies.has_conftest();
    let (set, inputs, config) = quorate::diff::build_input_with(&opts, config)?;
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
    let write = |path: &std::path::Path, format: Format| -> Result<(), Error> {
        let mut buf = Vec::new();
        report::render(report, format, false, &mut buf)
            .map_err(|e| Error::file(quorate::error::Stage::Output, "<report>", e.to_string()))?;
        std::fs::write(path, &buf).map_err(|e| {
            Error::file(
                quorate::error::Stage::Output,
                path.display().to_string(),
                format!("cannot write: {e}"),
            )
        })
    };
    if let Some(path) = &eval.sarif {
        write(path, Format::Sarif)?;
    }
    match &eval.output {
        Some(path) => write(path, format)?,
        None => {
            let mut buf = Vec::new();
            report::render(report, format, color, &mut buf).map_err(|e| {
                Error::file(quorate::error::Stage::Output, "<report>", e.to_string())
            })?;
            print(&String::from_utf8_lossy(&buf))?;
        }
    }
    if eval.github {
        quorate::github::publish(report, eval.sarif.as_deref())?;
    }
    let failing = match eval.fail_on {
        FailOn::Deny => report.count(Severity::Deny),
        FailOn::Warn => report.count(Severity::Warn),
        FailOn::Never => 0,
    };
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
        ..quorate::testing::TestOptions::default()
    };
    let report = quorate::testing::run(&opts)?;
    let text = match args.format {
        TestFormat::Human => quorate::testing::render_human(&report, args.verbose),
        TestFormat::Json => quorate::testing::render_json(&report),
        TestFormat::Junit => quorate::testing::render_junit(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text).map_err(|e| {
            Error::file(
                quorate::error::Stage::Output,
                path.display().to_string(),
                format!("cannot write: {e}"),
            )
        })?,
        None => {
            print(&text)?;
        }
    }
    Ok(u8::from(!report.ok()))
}
