//! Tool failures (not findings): every error names the file and, where there is one, the
//! position, and carries the source so miette can quote it. `main` maps any of them to exit 2.

use miette::{Diagnostic, SourceSpan};

use crate::excerpt::Excerpt;

use crate::text::SourceText;

/// What went wrong, by stage, so the message tells the user which of their files to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Input,
    Observed,
    Config,
    Policy,
    Output,
    Usage,
}

impl Stage {
    fn code(self) -> &'static str {
        match self {
            Stage::Input => "quorate::input",
            Stage::Observed => "quorate::observed",
            Stage::Config => "quorate::config",
            Stage::Policy => "quorate::policy",
            Stage::Output => "quorate::output",
            Stage::Usage => "quorate::usage",
        }
    }
}

/// A tool failure. Boxed so `Result<T, Error>` stays small on the hot path.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.0.headline())]
pub struct Error(Box<ErrorInner>);

#[derive(Debug)]
pub struct ErrorInner {
    pub stage: Stage,
    pub path: String,
    /// 1-based line and column (characters), when the error has a position.
    pub position: Option<(usize, usize)>,
    pub message: String,
    pub help: Option<String>,
    /// The quoted place: its line, clipped around the span when long.
    src: Option<Excerpt>,
    /// More errors found in the same run (all schema errors of a config file at once).
    related: Vec<Error>,
    span: Option<SourceSpan>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::ops::Deref for Error {
    type Target = ErrorInner;
    fn deref(&self) -> &ErrorInner {
        &self.0
    }
}

impl Error {
    /// An error about a whole file (missing, unreadable, too large, unrecognized).
    pub fn file(stage: Stage, path: impl Into<String>, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorInner {
            stage,
            path: path.into(),
            position: None,
            message: message.into(),
            help: None,
            src: None,
            span: None,
            related: Vec::new(),
        }))
    }

    /// An error at a byte offset of a file whose text we have.
    pub fn at(stage: Stage, src: &SourceText, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(src.text.len());
        let (line, column) = src.line_col(offset);
        let len = src.char_len_at(offset);
        let excerpt = Excerpt::new(&src.path, &src.text, offset, len, line, column);
        let span = excerpt.span;
        Error(Box::new(ErrorInner {
            stage,
            path: src.path.clone(),
            position: Some((line, column)),
            message: message.into(),
            help: None,
            src: Some(excerpt),
            span: Some(span),
            related: Vec::new(),
        }))
    }

    /// An error at a 1-based line/column of a file whose text we have.
    pub fn at_line_col(
        stage: Stage,
        src: &SourceText,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let offset = src.offset_of(line, column);
        let mut e = Error::at(stage, src, offset, message);
        e.0.position = Some((line.max(1), column.max(1)));
        e
    }

    /// An error at a position we know but whose text we do not keep (e.g. huge files).
    pub fn at_position(
        stage: Stage,
        path: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Error::file(stage, path, message);
        e.0.position = Some((line, column));
        e
    }

    /// Adds errors found in the same run; they are shown after this one.
    pub fn with_related(mut self, related: Vec<Error>) -> Self {
        self.0.related = related;
        self
    }

    /// How many errors this one stands for (itself and the related ones).
    pub fn count(&self) -> usize {
        1 + self.related.len()
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::file(Stage::Usage, "", message)
    }
}

impl ErrorInner {
    fn headline(&self) -> String {
        match (self.path.is_empty(), self.position) {
            (true, _) => self.message.clone(),
            (false, Some((l, c))) => format!("{}:{}:{}: {}", self.path, l, c, self.message),
            (false, None) => format!("{}: {}", self.path, self.message),
        }
    }
}

impl Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.0.stage.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn std::fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|e| e as &dyn Diagnostic)))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        let label = match self.src.as_ref().and_then(Excerpt::clipping_note) {
            Some(note) => format!("here ({note})"),
            None => "here".to_string(),
        };
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(label), span),
        )))
    }
}
