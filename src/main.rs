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
    CheckArgs, Cli, ColorChoice, Command, FailOn, OutputFormat, RulesFormat, SchemaKind,
};
use quorate::error::Error;
use quorate::model::Severity;
use quorate::report::{self, Format};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => run_check(args),
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

fn run_check(args: CheckArgs) -> Result<u8, Error> {
    let timeout = quorate::config::parse_duration_ms(&args.timeout)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::usage(format!(
                "--timeout `{}` is not a duration (e.g. 10s)",
                args.timeout
            ))
        })?;
    let opts = CheckOptions {
        paths: args.paths,
        observed: args.observed,
        config: args.config,
        policies: args.policies,
        builtin: !args.no_builtin,
        now: args.now,
        observed_at: args.observed_at,
        max_input_bytes: args.max_input_bytes,
        timeout,
    };
    if args.emit_input {
        let (set, _, _) = check::build_input(&opts)?;
        let json = serde_json::to_string_pretty(&set)
            .map_err(|e| Error::usage(format!("model does not serialize: {e}")))?;
        return print(&(json + "\n"));
    }
    let report = check::check(&opts)?;
    let format = match args.format {
        OutputFormat::Human => Format::Human,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Junit => Format::Junit,
        OutputFormat::Github => Format::Github,
        OutputFormat::Markdown => Format::Markdown,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let mut buf = Vec::new();
    report::render(&report, format, color, &mut buf)
        .map_err(|e| Error::file(quorate::error::Stage::Output, "<report>", e.to_string()))?;
    match &args.output {
        Some(path) => std::fs::write(path, &buf).map_err(|e| {
            Error::file(
                quorate::error::Stage::Output,
                path.display().to_string(),
                format!("cannot write: {e}"),
            )
        })?,
        None => {
            print(&String::from_utf8_lossy(&buf))?;
        }
    }
    let failing = match args.fail_on {
        FailOn::Deny => report.count(Severity::Deny),
        FailOn::Warn => report.count(Severity::Warn),
        FailOn::Never => 0,
    };
    Ok(u8::from(failing > 0))
}
