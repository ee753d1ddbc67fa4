//! Input text with positions: reading files under a size limit, byte offset <-> line/column,
//! YAML documents with a span for every node, and JSON pointers located in raw JSON text.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Error, Result, Stage};

/// Largest input file read, unless `--max-input-bytes` says otherwise.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A file's text plus its line starts, so offsets turn into line:column cheaply.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: String,
    pub text: Arc<str>,
    line_starts: Arc<Vec<usize>>,
    /// ASCII text: columns are byte distances (plans are often one 50 MB line).
    ascii: bool,
}

impl SourceText {
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let ascii = text.is_ascii();
        SourceText {
            path: path.into(),
            text,
            line_starts: Arc::new(line_starts),
            ascii,
        }
    }

    /// Reads a file (or stdin for `-`), refusing files over `limit` bytes and non-UTF-8 text.
    pub fn read(path: &str, stage: Stage, limit: u64) -> Result<Self> {
        let mut bytes = Vec::new();
        let shown = if path == "-" { "<stdin>" } else { path };
        let read = if path == "-" {
            std::io::stdin()
                .take(limit.saturating_add(1))
                .read_to_end(&mut bytes)
        } else {
            let shown = crate::paths::shown(path);
            let shown = shown.as_str();
            if path.chars().any(char::is_control) {
                return Err(Error::file(
                    stage,
                    shown,
                    "the file name holds control characters",
                ));
            }
            // Opening a FIFO blocks until something writes to it: look before opening.
            if let Ok(meta) = std::fs::metadata(path) {
                if !meta.is_file() && !meta.is_dir() {
                    return Err(Error::file(
                        stage,
                        shown,
                        "not a regular file (a FIFO, socket or device)",
                    )
                    .with_help("pipe it to standard input and pass `-` instead"));
                }
            }
            let file = std::fs::File::open(path)
                .map_err(|e| Error::file(stage, shown, format!("cannot open: {e}")))?;
            if let Ok(meta) = file.metadata() {
                if meta.is_dir() {
                    return Err(Error::file(stage, shown, "is a directory"));
                }
                if meta.len() > limit {
                    return Err(too_large(stage, shown, meta.len(), limit));
                }
            }
            file.take(limit.saturating_add(1)).read_to_end(&mut bytes)
        };
        read.map_err(|e| Error::file(stage, shown, format!("cannot read: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(too_large(stage, shown, bytes.len() as u64, limit));
        }
        Self::from_bytes(shown, bytes, stage)
    }

    /// [`from_bytes`](Self::from_bytes) for text read elsewhere (a git blob), refusing it
    /// past `limit` bytes as [`read`](Self::read) refuses files.
    pub fn from_bytes_within(path: &str, bytes: Vec<u8>, stage: Stage, limit: u64) -> Result<Self> {
        if bytes.len() as u64 > limit {
            return Err(too_large(stage, path, bytes.len() as u64, limit));
        }
        Self::from_bytes(path, bytes, stage)
    }

    pub fn from_bytes(path: &str, bytes: Vec<u8>, stage: Stage) -> Result<Self> {
        match String::from_utf8(bytes) {
            Ok(s) => Ok(SourceText::new(path, s)),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let prefix = String::from_utf8_lossy(bytes.get(..valid).unwrap_or_default());
                let line = prefix.matches('\n').count() + 1;
                let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                Err(Error::at_position(
                    stage,
                    path,
                    line,
                    column,
                    format!("not UTF-8 text (invalid byte at offset {valid})"),
                ))
            }
        }
    }

    /// 1-based (line, column); the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line_idx).copied().unwrap_or(0);
        if self.ascii {
            return (line_idx + 1, offset - start + 1);
        }
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line_idx + 1, column + 1)
    }

    /// Byte offset of a 1-based line and character column (clamped to the text).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let rest = self.text.get(start..).unwrap_or_default();
        let col = column.saturating_sub(1);
        rest.char_indices()
            .take_while(|&(_, c)| c != '\n')
            .nth(col)
            .map_or_else(
                || start + rest.find('\n').unwrap_or(rest.len()),
                |(i, _)| start + i,
            )
    }

    /// Byte length of the character at `offset` (1 at the end of the text).
    pub fn char_len_at(&self, offset: usize) -> usize {
        self.text
            .get(offset..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8)
    }
}

fn too_large(stage: Stage, path: &str, size: u64, limit: u64) -> Error {
    Error::file(
        stage,
        path,
        format!("file is {size} bytes, over the input limit of {limit} bytes"),
    )
    .with_help("raise the limit with --max-input-bytes if this input is expected to be this large")
}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Byte range of a node inside its file.
pub type Span = (usize, usize);

/// One YAML document turned into JSON, with a span for every node by JSON pointer.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    pub value: Value,
    pub spans: HashMap<String, Span>,
    /// Byte offset where the document starts.
    pub start: usize,
}

/// How plain YAML scalars are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlSchema {
    /// YAML 1.2 core schema (quorate's own files).
    Core,
    /// YAML 1.1 rules as Kubernetes reads manifests (sigs.k8s.io/yaml): `yes`/`on` are
    /// booleans, `0644` is octal, `1_000` is an integer.
    Kubernetes,
}

/// Parses every document of a YAML stream (YAML 1.2 core schema).
pub fn parse_yaml(src: &SourceText, stage: Stage) -> Result<Vec<YamlDoc>> {
    parse_yaml_with(src, stage, YamlSchema::Core)
}

/// Parses every document of a YAML stream with the given scalar rules.
pub fn parse_yaml_with(src: &SourceText, stage: Stage, schema: YamlSchema) -> Result<Vec<YamlDoc>> {
    use saphyr::{MarkedYaml, YamlLoader};
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = saphyr_parser::Parser::new_from_str(&src.text);
    let scan_error = |e: &saphyr::ScanError| {
        let m = e.marker();
        Error::at_line_col(
            stage,
            src,
            m.line(),
            m.col() + 1,
            format!("invalid YAML: {}", e.info()),
        )
    };
    feed_bounded(&mut parser, &mut loader, src, stage).map_err(|e| match e {
        Feed::Scan(e) => scan_error(&e),
        Feed::Limit(e) => e,
    })?;
    if let Some(e) = loader.error() {
        return Err(scan_error(e));
    }
    let docs = loader.into_documents();
    // saphyr counts characters: map them to bytes (a table only for non-ASCII text).
    let table: Vec<usize> = if src.ascii {
        Vec::new()
    } else {
        src.text.char_indices().map(|(b, _)| b).collect()
    };
    let len = src.text.len();
    let to_byte = |i: usize| {
        if src.ascii {
            i
        } else {
            table.get(i).copied().unwrap_or(len)
        }
    };
    let mut out = Vec::with_capacity(docs.len());
    for doc in &docs {
        let mut spans = HashMap::new();
        let ctx = Ctx {
            to_byte: &to_byte,
            src,
            stage,
            schema,
        };
        let value = yaml_to_json(doc, String::new(), &mut spans, &ctx)?;
        let start = to_byte(doc.span.start.index());
        out.push(YamlDoc {
            value,
            spans,
            start,
        });
    }
    Ok(out)
}

/// Deepest nesting of mappings/sequences (YAML) or objects/arrays (JSON) an input may have.
/// Kubernetes objects (ECK's included) stay under 30 levels and Terraform plans wrap values in
/// 6; the model adds a few more, and the policy engine stops at 128. Checked before any tree
/// is built, so a deep input is a located error, never a stack overflow.
pub const MAX_NESTING: usize = 100;

/// Weight of one node produced by a YAML alias, besides its scalar bytes: about what a node
/// costs once it is JSON with a span.
const ALIAS_NODE_WEIGHT: usize = 64;

enum Feed {
    Scan(saphyr::ScanError),
    Limit(Error),
}

/// Drives the parser event by event into the loader (saphyr's own `load` recurses once per
/// nesting level), refusing nesting deeper than [`MAX_NESTING`] and aliases that would expand
/// to more than the input's size plus 1 MiB (scalar bytes plus [`ALIAS_NODE_WEIGHT`] a node):
/// saphyr's node budget alone lets 100,000 copies of a fat anchor through.
fn feed_bounded<'i>(
    parser: &mut saphyr_parser::Parser<'i, saphyr_parser::StrInput<'i>>,
    loader: &mut saphyr::YamlLoader<'i, saphyr::MarkedYaml<'i>>,
    src: &SourceText,
    stage: Stage,
) -> std::result::Result<(), Feed> {
    use saphyr_parser::{Event, SpannedEventReceiver};
    let budget = src.text.len().saturating_add(1 << 20);
    let mut expanded = 0usize;
    // Weight seen so far, and per open collection (its anchor, the weight when it opened).
    let mut weight = 0usize;
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let at = |span: &saphyr_parser::Span, msg: String| {
        let m = span.start;
        let offset = if src.ascii {
            m.index()
        } else {
            src.text
                .char_indices()
                .nth(m.index())
                .map_or(src.text.len(), |(b, _)| b)
        };
        Feed::Limit(Error::at(stage, src, offset, msg))
    };
    while let Some(next) = parser.next_event() {
        let (ev, span) = next.map_err(Feed::Scan)?;
        match &ev {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_NESTING {
                    return Err(at(
                        &span,
                        format!("YAML nested more than {MAX_NESTING} levels deep"),
                    ));
                }
                weight = weight.saturating_add(ALIAS_NODE_WEIGHT);
                open.push((*anchor, weight));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, from)) = open.pop() {
                    if anchor > 0 {
                        anchors.insert(anchor, weight.saturating_sub(from) + ALIAS_NODE_WEIGHT);
                    }
                }
            }
            Event::Scalar(text, _, anchor, _) => {
                let w = text.len().saturating_add(ALIAS_NODE_WEIGHT);
                weight = weight.saturating_add(w);
                if *anchor > 0 {
                    anchors.insert(*anchor, w);
                }
            }
            Event::Alias(id) => {
                let w = anchors.get(id).copied().unwrap_or(ALIAS_NODE_WEIGHT);
                weight = weight.saturating_add(w);
                expanded = expanded.saturating_add(w);
                if expanded > budget {
                    return Err(at(
                        &span,
                        format!(
                            "YAML aliases expand to more than {budget} bytes (the file's size plus 1 MiB)"
                        ),
                    ));
                }
            }
            _ => {}
        }
        loader.on_event(ev, span);
        if loader.error().is_some() {
            break;
        }
    }
    Ok(())
}

struct Ctx<'a> {
    to_byte: &'a dyn Fn(usize) -> usize,
    src: &'a SourceText,
    stage: Stage,
    schema: YamlSchema,
}

/// Resolves a scalar's text the way its schema says.
fn resolve_scalar(text: &str, plain: bool, tag: Option<&str>, schema: YamlSchema) -> Value {
    use saphyr::Scalar;
    match tag.map(|t| t.rsplit(':').next().unwrap_or(t)) {
        Some("str") => return Value::String(text.to_string()),
        Some("null") => return Value::Null,
        _ => {}
    }
    if !plain {
        return Value::String(text.to_string());
    }
    if schema == YamlSchema::Kubernetes {
        if let Some(v) = resolve_yaml11(text) {
            return v;
        }
        return Value::String(text.to_string());
    }
    match Scalar::parse_from_cow(std::borrow::Cow::Borrowed(text)) {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::from(i),
        Scalar::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(s) => Value::String(s.into_owned()),
    }
}

/// YAML 1.1 plain scalars, as go-yaml v2 (and so kubectl) resolves them.
fn resolve_yaml11(t: &str) -> Option<Value> {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(Value::Bool(false))
        }
        _ => {}
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = body.replace('_', "");
    let int = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&digits, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Value::from(if neg { -i } else { i }));
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return Some(Value::Null);
    }
    let looks_float = body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'));
    if looks_float && body.contains('.') {
        if let Ok(f) = digits.parse::<f64>() {
            return serde_json::Number::from_f64(if neg { -f } else { f }).map(Value::Number);
        }
    }
    None
}

fn yaml_to_json(
    node: &saphyr::MarkedYaml<'_>,
    pointer: String,
    spans: &mut HashMap<String, Span>,
    ctx: &Ctx<'_>,
) -> Result<Value> {
    use saphyr::{Scalar, ScalarStyle, YamlData};
    let (to_byte, src, stage) = (ctx.to_byte, ctx.src, ctx.stage);
    let start = to_byte(node.span.start.index());
    let end = to_byte(node.span.end.index()).max(start);
    let value = match &node.data {
        YamlData::Value(s) => match s {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => Value::Bool(*b),
            Scalar::Integer(i) => Value::from(*i),
            Scalar::FloatingPoint(f) => {
                serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
            }
            Scalar::String(s) => Value::String(s.to_string()),
        },
        YamlData::Representation(s, style, tag) => resolve_scalar(
            s,
            *style == ScalarStyle::Plain,
            tag.as_ref().map(|t| t.suffix.as_str()),
            ctx.schema,
        ),
        YamlData::Sequence(items) => {
            let mut arr = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                arr.push(yaml_to_json(item, format!("{pointer}/{i}"), spans, ctx)?);
            }
            Value::Array(arr)
        }
        YamlData::Mapping(map) => {
            let mut obj = Map::new();
            for (k, v) in map {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::Null) => "null".to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                    YamlData::Representation(s, _, _) => s.to_string(),
                    _ => {
                        return Err(Error::at(
                            stage,
                            src,
                            to_byte(k.span.start.index()),
                            "mapping keys must be scalars",
                        ))
                    }
                };
                let child = format!("{pointer}/{}", escape_token(&key));
                let kstart = to_byte(k.span.start.index());
                let value = yaml_to_json(v, child.clone(), spans, ctx)?;
                // Point a key's findings at `key: value`, starting at the key.
                if let Some(s) = spans.get_mut(&child) {
                    s.0 = kstart.min(s.0);
                }
                obj.insert(key, value);
            }
            Value::Object(obj)
        }
        YamlData::Tagged(_, inner) => {
            return yaml_to_json(inner, pointer, spans, ctx);
        }
        YamlData::Alias(_) => {
            return Err(Error::at(
                stage,
                src,
                start,
                "YAML aliases are not supported",
            ))
        }
        YamlData::BadValue => {
            return Err(Error::at(stage, src, start, "value does not match its tag"))
        }
    };
    spans.insert(pointer, (start, end));
    Ok(value)
}

/// Parses JSON, turning serde's line/column into a positioned error.
pub fn parse_json(src: &SourceText, stage: Stage) -> Result<Value> {
    if let Some(offset) = json_too_deep(src.text.as_bytes()) {
        return Err(Error::at(
            stage,
            src,
            offset,
            format!("JSON nested more than {MAX_NESTING} levels deep"),
        ));
    }
    serde_json::from_str(&src.text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Error::at_line_col(
            stage,
            src,
            e.line(),
            e.column().max(1),
            format!("invalid JSON: {msg}"),
        )
    })
}

/// Offset of the first `[` or `{` nested deeper than [`MAX_NESTING`] in JSON text (outside
/// strings), in one pass.
pub fn json_too_deep(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i += 1;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Finds the byte spans of many JSON pointers in one pass over raw JSON text, descending only
/// into containers on the way to a requested pointer. Missing pointers are absent from the map.
pub fn locate_json(text: &str, pointers: &[String]) -> HashMap<String, Span> {
    #[derive(Default)]
    struct Trie {
        children: HashMap<String, Trie>,
        want: Option<String>,
    }
    let mut root = Trie::default();
    for p in pointers {
        // No parsed input nests deeper than MAX_NESTING; the walk below recurses per level.
        if p.matches('/').count() > MAX_NESTING + 1 {
            continue;
        }
        let mut node = &mut root;
        if !p.is_empty() {
            for tok in p.trim_start_matches('/').split('/') {
                node = node.children.entry(unescape_token(tok)).or_default();
            }
        }
        node.want = Some(p.clone());
    }
    let bytes = text.as_bytes();
    let mut out = HashMap::new();

    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            i += 1;
        }
        i
    }
    fn skip_string(b: &[u8], mut i: usize) -> usize {
        i += 1; // opening quote
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        i
    }
    fn skip_value(b: &[u8], i: usize) -> usize {
        let mut i = skip_ws(b, i);
        match b.get(i) {
            Some(b'"') => skip_string(b, i),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'"' => {
                            i = skip_string(b, i);
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i
            }
            _ => {
                while let Some(&c) = b.get(i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    i += 1;
                }
                i
            }
        }
    }
    fn walk(
        b: &[u8],
        i: usize,
        node: &Trie,
        key_start: Option<usize>,
        out: &mut HashMap<String, Span>,
    ) -> usize {
        let start = skip_ws(b, i);
        if node.children.is_empty() {
            let end = skip_value(b, start);
            if let Some(p) = &node.want {
                out.insert(p.clone(), (key_start.unwrap_or(start), end));
            }
            return end;
        }
        let mut j = start;
        match b.get(start) {
            Some(b'{') => {
                j += 1;
                loop {
                    j = skip_ws(b, j);
                    match b.get(j) {
                        Some(b'"') => {
                            let ks = j;
                            let ke = skip_string(b, j);
                            let raw = b.get(ks + 1..ke.saturating_sub(1)).unwrap_or_default();
                            let key: String = if raw.contains(&b'\\') {
                                serde_json::from_slice::<String>(b.get(ks..ke).unwrap_or_default())
                                    .unwrap_or_default()
                            } else {
                                String::from_utf8_lossy(raw).into_owned()
                            };
                            j = skip_ws(b, ke);
                            if b.get(j) == Some(&b':') {
                                j += 1;
                            }
                            j = match node.children.get(&key) {
                                Some(child) => walk(b, j, child, Some(ks), out),
                                None => skip_value(b, j),
                            };
                            j = skip_ws(b, j);
                            match b.get(j) {
                                Some(b',') => j += 1,
                                Some(b'}') => {}
                                _ => break,
                            }
                        }
                        Some(b'}') => {
                            j += 1;
                            break;
                        }
                        _ => break,
                    }
                }
            }
            Some(b'[') => {
                j += 1;
                let mut idx = 0usize;
                loop {
                    j = skip_ws(b, j);
                    match b.get(j) {
                        Some(b']') => {
                            j += 1;
                            break;
                        }
                        None => break,
                        _ => {
                            j = match node.children.get(&idx.to_string()) {
                                Some(child) => walk(b, j, child, None, out),
                                None => skip_value(b, j),
                            };
                            idx += 1;
                            j = skip_ws(b, j);
                            // Malformed text (`[}`) would not advance: stop, as at the end.
                            match b.get(j) {
                                Some(b',') => j += 1,
                                Some(b']') => {}
                                _ => break,
                            }
                        }
                    }
                }
            }
            _ => j = skip_value(b, start),
        }
        if let Some(p) = &node.want {
            out.insert(p.clone(), (key_start.unwrap_or(start), j));
        }
        j
    }
    walk(bytes, 0, &root, None, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 5 (found by the policy benchmark): `--max-input-bytes 18446744073709551615`
    /// overflowed `limit + 1`: every file read as empty in release builds, a panic in debug.
    #[test]
    fn regression_issue_5_the_largest_limit_reads_the_whole_file() {
        let dir = std::env::temp_dir().join(format!("quorate-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.json");
        std::fs::write(&path, "{\"a\": 1}").unwrap();
        let src = SourceText::read(path.to_str().unwrap(), Stage::Input, u64::MAX).unwrap();
        assert_eq!(&*src.text, "{\"a\": 1}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn locates_nested_pointers_in_json() {
        let text = "{\n  \"a\": [1, {\"b\": 22}],\n  \"c/d\": \"x\"\n}";
        let ptrs = vec![
            "/a/1/b".to_string(),
            "/c~1d".to_string(),
            "/missing".to_string(),
        ];
        let found = locate_json(text, &ptrs);
        let (s, e) = found["/a/1/b"];
        assert_eq!(&text[s..e], "\"b\": 22");
        let (s, _) = found["/c~1d"];
        assert_eq!(SourceText::new("f", text).line_col(s), (3, 3));
        assert!(!found.contains_key("/missing"));
    }

    #[test]
    fn yaml_spans_point_at_keys_with_byte_offsets() {
        let src = SourceText::new("q.yaml", "# é\ngroups:\n  search:\n    quorum: majority\n");
        let docs = parse_yaml(&src, Stage::Config).unwrap();
        let (s, _) = docs[0].spans["/groups/search/quorum"];
        assert_eq!(src.line_col(s), (4, 5));
        assert!(src.text[s..].starts_with("quorum: majority"));
    }

    /// Hardening: a stray `}` inside an array made the locator loop forever (found by fuzzing).
    #[test]
    fn regression_locator_stops_on_a_stray_close_brace_in_an_array() {
        let text = "{\"a\": [1, }, 2]}";
        let found = locate_json(text, &["/a/5".to_string(), "/a".to_string()]);
        assert!(!found.contains_key("/a/5"));
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(10));
        let pointer = "/0".repeat(200_000);
        assert!(locate_json(&deep, &[pointer]).is_empty());
    }

    /// Hardening: 11,000 nested block mappings or 100,000 `- - -` overflowed the stack.
    #[test]
    fn regression_deep_yaml_is_a_located_error_not_a_stack_overflow() {
        let compact = format!("{}x\n", "- ".repeat(100_000));
        let block: String = (0..11_000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        for text in [compact, block] {
            let src = SourceText::new("deep.yaml", text);
            let e = parse_yaml(&src, Stage::Input).unwrap_err().to_string();
            assert!(e.contains("nested more than 100 levels"), "{e}");
        }
        let ok: String = (0..MAX_NESTING)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        parse_yaml(&SourceText::new("ok.yaml", ok), Stage::Input).unwrap();
    }

    /// Hardening: an anchored mapping with thousands of keys, referenced thousands of times,
    /// passed saphyr's node budget and grew to gigabytes.
    #[test]
    fn regression_fat_yaml_aliases_are_refused() {
        let keys: String = (0..2_000)
            .map(|i| format!("  k{i}: {}\n", "v".repeat(40)))
            .collect();
        let refs = "  - *a\n".repeat(5_000);
        let src = SourceText::new("fat.yaml", format!("base: &a\n{keys}refs:\n{refs}"));
        let e = parse_yaml(&src, Stage::Input).unwrap_err().to_string();
        assert!(e.contains("aliases expand to more than"), "{e}");
        // A few small references are ordinary YAML.
        let src = SourceText::new("ok.yaml", "d: &d {a: 1}\nx: *d\ny: *d\n");
        let docs = parse_yaml(&src, Stage::Input).unwrap();
        assert_eq!(docs[0].value["y"]["a"], 1);
    }

    #[test]
    fn deep_json_is_a_located_error() {
        let src = SourceText::new(
            "deep.json",
            format!("{}{}", "[".repeat(150), "]".repeat(150)),
        );
        let e = parse_json(&src, Stage::Input).unwrap_err().to_string();
        assert!(
            e.contains("deep.json:1:101") && e.contains("nested more than 100"),
            "{e}"
        );
        let src = SourceText::new("s.json", format!("[\"{}\"]", "[".repeat(500)));
        parse_json(&src, Stage::Input).unwrap();
    }

    #[test]
    fn offsets_round_trip_through_line_and_column() {
        let src = SourceText::new("f", "ab\ncé\nxyz");
        let off = src.offset_of(2, 2);
        assert_eq!(&src.text[off..off + 2], "é");
        assert_eq!(src.line_col(off), (2, 2));
    }
}

#[cfg(test)]
mod yaml11_tests {
    use super::*;

    #[test]
    fn kubernetes_scalars_follow_yaml_1_1() {
        let src = SourceText::new(
            "m.yaml",
            "a: yes\nb: 0644\nc: 1_000\nd: '5'\ne: on\nf: 0x1F\ng: ~\nh: 1.5\ni: 3\nj: \"on\"\n",
        );
        let v = &parse_yaml_with(&src, Stage::Input, YamlSchema::Kubernetes).unwrap()[0].value;
        assert_eq!(v["a"], true);
        assert_eq!(v["b"], 420);
        assert_eq!(v["c"], 1000);
        assert_eq!(v["d"], "5");
        assert_eq!(v["e"], true);
        assert_eq!(v["f"], 31);
        assert_eq!(v["g"], Value::Null);
        assert_eq!(v["h"], 1.5);
        assert_eq!(v["i"], 3);
        assert_eq!(v["j"], "on");
        let core = &parse_yaml(&src, Stage::Input).unwrap()[0].value;
        assert_eq!(core["a"], "yes", "YAML 1.2 keeps `yes` a string");
        assert_eq!(core["i"], 3);
    }
}
