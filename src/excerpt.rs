//! Quoting a place in a source text for a snippet, at a cost that does not grow with the file:
//! the span's line (with a line of context when lines are short), clipped to a window around the
//! span when the line is long (`terraform show -json` writes one line of megabytes). Serves
//! miette as a `SourceCode` that keeps the real line and column numbers.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Lines longer than this (in characters) are clipped to a window around the span.
pub const MAX_LINE: usize = 160;
/// Characters kept before the span in a clipped line.
const BEFORE: usize = 40;
/// Characters of the span itself kept in a clipped line, and after it.
const SPAN: usize = 80;
const AFTER: usize = 20;

/// A window of a source text around a span.
#[derive(Debug, Clone)]
pub struct Excerpt {
    name: String,
    text: String,
    /// The span, within `text`.
    pub span: SourceSpan,
    /// 0-based line of the window's first line in the real file.
    line: usize,
    /// 0-based column (characters) of the span in the real file, for the snippet's header.
    span_column: usize,
    /// `Some((shown_from, shown_to, line_bytes))` (columns in characters; 0 bytes: longer than
    /// the search), when clipped.
    pub clipped: Option<(usize, usize, usize)>,
}

fn floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte index `n` characters after (or before, with `back`) `from`, within `limit`.
fn step(text: &str, from: usize, n: usize, back: bool) -> usize {
    if back {
        let head = text.get(..from).unwrap_or("");
        head.char_indices()
            .rev()
            .nth(n.saturating_sub(1))
            .map_or(0, |(i, _)| i)
            .min(from)
    } else {
        let tail = text.get(from..).unwrap_or("");
        tail.char_indices()
            .nth(n)
            .map_or(text.len(), |(i, _)| from.saturating_add(i))
    }
}

/// How far from the span a line end is looked for: beyond it, the line is long, and how long
/// does not matter (looking further would make each quote cost O(line), and a minified plan is
/// one line of megabytes).
const SEARCH: usize = 8 * MAX_LINE;

/// The bounds of the line around `at`, looked for at most [`SEARCH`] bytes each way; the flag
/// says whether both ends were found.
fn line_bounds(text: &str, at: usize) -> (usize, usize, bool) {
    let lo = floor(text, at.saturating_sub(SEARCH));
    let hi = floor(text, at.saturating_add(SEARCH));
    let start = text
        .get(lo..at)
        .and_then(|s| s.rfind('\n'))
        .map(|i| lo + i + 1);
    let end = text.get(at..hi).and_then(|s| s.find('\n')).map(|i| at + i);
    let known = (start.is_some() || lo == 0) && (end.is_some() || hi == text.len());
    (start.unwrap_or(lo), end.unwrap_or(hi), known)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

impl Excerpt {
    /// The excerpt of `text` around the byte span `offset..offset + len`; `line` and `column`
    /// are its 1-based position (already known to the caller: the line is never counted again,
    /// so the cost does not grow with the line).
    pub fn new(
        name: &str,
        text: &str,
        offset: usize,
        len: usize,
        line: usize,
        column: usize,
    ) -> Excerpt {
        let start = floor(text, offset);
        let end = floor(text, start.saturating_add(len)).max(start);
        let (line_start, line_end, whole) = line_bounds(text, start);
        let line_text = text.get(line_start..line_end).unwrap_or("");
        let line0 = line.saturating_sub(1);
        // A line of megabytes is not counted in characters: its length in bytes is enough to
        // know it is long.
        if whole
            && (line_text.len() <= MAX_LINE
                || (line_text.len() <= 4 * MAX_LINE && chars(line_text) <= MAX_LINE))
        {
            // Short line: quote it with a short line of context on each side.
            let (mut from, mut to) = (line_start, line_end);
            let mut first = line0;
            if line_start > 0 {
                let (ps, pe, known) = line_bounds(text, line_start - 1);
                if known && pe.saturating_sub(ps) <= MAX_LINE {
                    from = ps;
                    first = line0.saturating_sub(1);
                }
            }
            if line_end < text.len() {
                let (ns, ne, known) = line_bounds(text, line_end + 1);
                if known && ne.saturating_sub(ns) <= MAX_LINE {
                    to = ne;
                }
            }
            // Underline the span on its line only.
            let span_end = end.min(line_end).max(start);
            return Excerpt {
                name: name.to_string(),
                text: text.get(from..to).unwrap_or("").to_string(),
                span: SourceSpan::from((start - from, span_end - start)),
                line: first,
                span_column: column.saturating_sub(1),
                clipped: None,
            };
        }
        // Long line: a window around the span, marked at both clipped ends.
        let from = step(text, start, BEFORE, true).max(line_start);
        let span_to = step(text, start, SPAN, false)
            .min(end.max(start))
            .min(line_end);
        let to = step(text, span_to, AFTER, false).min(line_end);
        let col_from = column
            .saturating_sub(1)
            .saturating_sub(chars(text.get(from..start).unwrap_or("")));
        let shown = chars(text.get(from..to).unwrap_or(""));
        let left = from > line_start;
        let right = to < line_end;
        let mut window = String::new();
        if left {
            window.push('…');
        }
        let body_at = window.len();
        window.push_str(text.get(from..to).unwrap_or(""));
        if right {
            window.push('…');
        }
        let span_start = body_at + (start - from);
        let span_len = span_to.saturating_sub(start);
        // Column numbers count the real line (columns far beyond 65,535 included); its
        // length is only known when it ends within the search.
        let line_bytes = if whole { line_end - line_start } else { 0 };
        Excerpt {
            name: name.to_string(),
            text: window,
            span: SourceSpan::from((span_start, span_len)),
            line: line0,
            span_column: column.saturating_sub(1),
            clipped: Some((col_from + 1, col_from + shown, line_bytes)),
        }
    }

    /// "line 1 is 6,812 bytes long; columns 4,323-4,463 are shown", when clipped.
    pub fn clipping_note(&self) -> Option<String> {
        let (from, to, len) = self.clipped?;
        let length = if len == 0 {
            format!("over {}", thousands(SEARCH))
        } else {
            thousands(len)
        };
        Some(format!(
            "line {} is {length} bytes long; columns {}-{} are shown",
            self.line + 1,
            thousands(from),
            thousands(to)
        ))
    }
}

/// 6812 -> "6,812".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        // miette reads the header's line and column from the primary span: give the real ones.
        let column = if span.offset() == self.span.offset() {
            self.span_column
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.line,
            column,
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_quoted_with_context() {
        let text = "a: 1\nb: 2\nc: 3\n";
        let e = Excerpt::new("f", text, 8, 1, 2, 4);
        assert_eq!(e.text, "a: 1\nb: 2\nc: 3");
        assert_eq!(e.span, SourceSpan::from((8, 1)));
        assert!(e.clipped.is_none());
    }

    #[test]
    fn long_lines_are_clipped_around_the_span() {
        let text = format!(
            "{{{}\"desired_capacity\":3,{}}}",
            "x".repeat(100_000),
            "y".repeat(5_000)
        );
        let at = text.find("3,").unwrap();
        let e = Excerpt::new("plan.json", &text, at, 1, 1, at + 1);
        assert!(e.text.len() < 200, "{}", e.text.len());
        assert!(e.text.starts_with('…') && e.text.ends_with('…'));
        assert_eq!(e.text.get(e.span.offset()..e.span.offset() + 1), Some("3"));
        let contents = e.read_span(&e.span, 0, 0).unwrap();
        assert_eq!(contents.line(), 0);
        assert_eq!(contents.column(), at, "the real 0-based column");
        assert_eq!(
            e.clipping_note().unwrap(),
            format!(
                "line 1 is over 1,280 bytes long; columns {}-{} are shown",
                thousands(at + 1 - 40),
                thousands(at + 1 + 20)
            ),
            "the length of a line of megabytes is not counted"
        );
        // A line that ends within the search is measured.
        let short = format!("{}\"desired_capacity\":3}}\n", "x".repeat(300));
        let at = short.find("3}").unwrap();
        let e = Excerpt::new("plan.json", &short, at, 1, 1, at + 1);
        assert!(
            e.clipping_note()
                .unwrap()
                .starts_with("line 1 is 321 bytes long"),
            "{:?}",
            e.clipping_note()
        );
    }

    #[test]
    fn multibyte_text_never_splits_a_character() {
        let text = format!("{}é{}", "ü".repeat(300), "ö".repeat(300));
        let at = text.find('é').unwrap();
        let e = Excerpt::new("f", &text, at, 2, 1, 301);
        assert!(e.text.contains('é'));
    }
}
