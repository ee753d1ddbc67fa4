//! Checks on policy text that regorus does not make, run before a policy is parsed or
//! evaluated: regorus parses nested literals in time exponential in their depth (24 levels of
//! `[` or `{` take minutes), and it evaluates a function that calls itself until the stack
//! overflows and the process aborts (OPA refuses such policies: `rego_recursion_error`).

use std::collections::{BTreeMap, BTreeSet};

/// Deepest nesting of `(`, `[` and `{` a policy may have. The deepest policies we know (the
/// conftest and Gatekeeper libraries, our own) nest 7; at 16 regorus parses a literal in
/// about 0.3 s, and each further level costs about 1.6 times more.
pub const MAX_POLICY_NESTING: usize = 16;

/// Policy text with comments and string contents blanked (same length, same offsets), so
/// brackets and names inside them do not count.
pub fn code_only(text: &str) -> Vec<u8> {
    scan(text).0
}

/// [`code_only`], and the byte ranges of string literals' contents.
fn scan(text: &str) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut strings = Vec::new();
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in out.iter_mut().take(to).skip(from) {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    while let Some(&c) = b.get(i) {
        match c {
            b'#' => {
                let end = memchr::memchr(b'\n', b.get(i..).unwrap_or_default())
                    .map_or(b.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while let Some(&c) = b.get(j) {
                    match c {
                        b'\\' => j += 2,
                        b'"' | b'\n' => break,
                        _ => j += 1,
                    }
                }
                blank(&mut out, i + 1, j.min(b.len()));
                strings.push((i + 1, j.min(b.len())));
                i = j + 1;
            }
            b'`' => {
                let end = memchr::memchr(b'`', b.get(i + 1..).unwrap_or_default())
                    .map_or(b.len(), |n| i + 1 + n);
                blank(&mut out, i + 1, end);
                strings.push((i + 1, end));
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    (out, strings)
}

/// Widest `%N` / `%.N` a format string in a policy may ask for. regorus builds the padded
/// string in one allocation (a width of 10^10 wraps to 1.4 GB; in debug builds it panics).
pub const MAX_FORMAT_WIDTH: u64 = 100_000;

/// Offset and value of the first format width or precision in a string literal that is
/// wider than [`MAX_FORMAT_WIDTH`].
pub fn huge_format_width(text: &str) -> Option<(usize, u64)> {
    let b = text.as_bytes();
    for (from, to) in scan(text).1 {
        let mut i = from;
        while i < to {
            if b.get(i) != Some(&b'%') {
                i += 1;
                continue;
            }
            let at = i;
            i += 1;
            while matches!(b.get(i), Some(b'-' | b'+' | b'#' | b' ' | b'0')) && i < to {
                i += 1;
            }
            loop {
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) && i < to {
                    i += 1;
                }
                let n = text
                    .get(start..i)
                    .filter(|d| !d.is_empty())
                    .map_or(0, |d| d.parse::<u64>().unwrap_or(u64::MAX));
                if n > MAX_FORMAT_WIDTH {
                    return Some((at, n));
                }
                if b.get(i) == Some(&b'.') && i < to {
                    i += 1;
                    continue;
                }
                break;
            }
        }
    }
    None
}

/// Offset of the first bracket nested deeper than [`MAX_POLICY_NESTING`], if any.
pub fn too_deep(code: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code.iter().enumerate() {
        match c {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_POLICY_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// One function definition: its package, name and the text of its rule.
pub struct Function<'a> {
    pub package: String,
    pub name: String,
    /// Where the rule starts (for the error) and its text.
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub text: &'a str,
    /// Import aliases of its module: `lib` -> `data.quorate.lib`.
    pub imports: &'a BTreeMap<String, String>,
}

/// A cycle of function calls, as `data.p.f -> data.p.g -> data.p.f`, and where its first
/// function is defined; `None` when no function calls itself, directly or not.
pub fn recursion(functions: &[Function<'_>]) -> Option<(String, usize, usize, String)> {
    let key = |pkg: &str, name: &str| format!("data.{pkg}.{name}");
    let known: BTreeSet<String> = functions.iter().map(|f| key(&f.package, &f.name)).collect();
    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Per definition (a function may have several): what it calls.
    let mut callees: Vec<BTreeSet<String>> = Vec::new();
    for f in functions {
        let code = code_only(f.text);
        let edges = calls.entry(key(&f.package, &f.name)).or_default();
        let mut mine = BTreeSet::new();
        for name in called_names(&code) {
            let parts: Vec<&str> = name.split('.').collect();
            let full = match parts.as_slice() {
                [one] => key(&f.package, one),
                [first, ..] if *first == "data" => name.clone(),
                [first, rest @ ..] => match f.imports.get(*first) {
                    Some(target) => format!("{target}.{}", rest.join(".")),
                    None => continue,
                },
                [] => continue,
            };
            if known.contains(&full) {
                edges.insert(full.clone());
                mine.insert(full);
            }
        }
        callees.push(mine);
    }
    // Depth-first search for a back edge, iteratively (the graph may be large).
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 on the path, 2 done
    for start in calls.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut path: Vec<(&str, Vec<&str>)> = vec![(start, next_of(&calls, start))];
        state.insert(start, 1);
        while let Some((node, pending)) = path.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match state.get(next) {
                    Some(1) => {
                        let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<&str> =
                            path.iter().skip(from).map(|(n, _)| *n).collect();
                        cycle.push(next);
                        // Point at the definition that makes the first call of the cycle.
                        let (first, second) = (cycle.first()?, cycle.get(1)?);
                        let f = functions
                            .iter()
                            .zip(&callees)
                            .find(|(f, c)| {
                                key(&f.package, &f.name) == *first && c.contains(*second)
                            })
                            .map(|(f, _)| f)?;
                        return Some((f.path.clone(), f.line, f.col, cycle.join(" -> ")));
                    }
                    Some(_) => {}
                    None => {
                        state.insert(next, 1);
                        path.push((next, next_of(&calls, next)));
                    }
                },
                None => {
                    state.insert(node, 2);
                    path.pop();
                }
            }
        }
    }
    None
}

fn next_of<'a>(calls: &'a BTreeMap<String, BTreeSet<String>>, node: &str) -> Vec<&'a str> {
    calls
        .get(node)
        .map(|s| s.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Dotted names directly followed by `(` (calls), in code with strings blanked.
fn called_names(code: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < code.len() {
        let c = code.get(i).copied().unwrap_or(0);
        if !(c.is_ascii_alphabetic() || c == b'_')
            || i > 0 && code.get(i - 1).is_some_and(|&p| ident(p) || p == b'.')
        {
            i += 1;
            continue;
        }
        let start = i;
        while code.get(i).is_some_and(|&c| ident(c) || c == b'.') {
            i += 1;
        }
        if code.get(i) == Some(&b'(') {
            if let Some(name) = code.get(start..i) {
                out.push(
                    String::from_utf8_lossy(name)
                        .trim_end_matches('.')
                        .to_string(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A definition as the engine passes it: the rule's text after the function's name.
    fn f<'a>(
        pkg: &str,
        name: &str,
        text: &'a str,
        imports: &'a BTreeMap<String, String>,
    ) -> Function<'a> {
        Function {
            package: pkg.into(),
            name: name.into(),
            path: "p.rego".into(),
            line: 3,
            col: 1,
            text,
            imports,
        }
    }

    #[test]
    fn finds_direct_and_mutual_recursion_through_imports() {
        let none = BTreeMap::new();
        let direct = [f("u", "f", "(n) := f(n + 1) if n < 10", &none)];
        let (_, _, _, cycle) = recursion(&direct).unwrap();
        assert_eq!(cycle, "data.u.f -> data.u.f");
        let imports = BTreeMap::from([("lib".to_string(), "data.q.lib".to_string())]);
        let mutual = [
            f("u", "g", "(x) := lib.h(x)", &imports),
            f("q.lib", "h", "(x) := data.u.g(x)", &none),
        ];
        let (_, _, _, cycle) = recursion(&mutual).unwrap();
        assert!(
            cycle.contains("data.u.g") && cycle.contains("data.q.lib.h"),
            "{cycle}"
        );
    }

    #[test]
    fn calls_in_strings_and_comments_and_other_functions_are_not_recursion() {
        let none = BTreeMap::new();
        let ok = [
            f("u", "f", "(n) := sprintf(\"f(%d)\", [n]) # f(n)", &none),
            f("u", "g", "(n) := f(n)", &none),
            f("u", "h", "(n) := x.f(n)", &none),
        ];
        assert!(recursion(&ok).is_none());
    }

    #[test]
    fn huge_format_widths_in_strings_are_found() {
        assert_eq!(
            huge_format_width("x := sprintf(\"%10000000000d\", [1])"),
            Some((14, 10_000_000_000))
        );
        assert_eq!(
            huge_format_width("x := sprintf(\"%.200000f\", [1])").map(|w| w.1),
            Some(200_000)
        );
        assert_eq!(
            huge_format_width("x := sprintf(\"%5d %-8s %.2f 100%%\", [1]) # %99999999d"),
            None
        );
    }

    #[test]
    fn nesting_counts_code_only() {
        let deep = format!("x := {}1{}", "[".repeat(17), "]".repeat(17));
        assert_eq!(too_deep(&code_only(&deep)), Some(5 + 16));
        let quoted = format!("x := \"{}\" # {}", "[".repeat(40), "{".repeat(40));
        assert_eq!(too_deep(&code_only(&quoted)), None);
    }
}
