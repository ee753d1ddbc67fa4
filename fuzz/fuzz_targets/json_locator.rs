//! `text::locate_json`, which finds the plan line of every finding in one pass over the raw
//! JSON. Pointers come from the input itself: every node of the document when it parses
//! (plus a missing child of each, and the parents chain the report asks for), else every
//! whitespace-separated word that starts with `/`, the way a finding's pointer would name a
//! place in a broken file. Each span found is turned into a line and column and quoted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate::text::{escape_token, locate_json, SourceText};
use serde_json::Value;

/// Enough pointers to make the trie deep and wide, few enough to stay fast.
const MAX_POINTERS: usize = 4096;

fn collect(v: &Value, here: &mut String, out: &mut Vec<String>) {
    if out.len() >= MAX_POINTERS {
        return;
    }
    out.push(here.clone());
    let len = here.len();
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                here.push('/');
                here.push_str(&escape_token(k));
                collect(child, here, out);
                here.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push('/');
                here.push_str(&i.to_string());
                collect(child, here, out);
                here.truncate(len);
            }
        }
        _ => {}
    }
    if out.len() < MAX_POINTERS {
        out.push(format!("{here}/quorate-missing"));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut pointers = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => collect(&v, &mut String::new(), &mut pointers),
        Err(_) => {
            pointers.push(String::new());
            for word in text.split_whitespace().filter(|w| w.starts_with('/')) {
                if pointers.len() >= MAX_POINTERS {
                    break;
                }
                let mut p = word.to_string();
                // The report asks for a pointer and each of its parents.
                loop {
                    pointers.push(p.clone());
                    match p.rfind('/') {
                        Some(i) => p.truncate(i),
                        None => break,
                    }
                }
            }
        }
    }
    let src = SourceText::new("plan.json", text);
    for (start, end) in locate_json(text, &pointers).into_values() {
        let _ = src.line_col(start);
        let _ = src.line_col(end);
        let _ = src.text.get(start..end).and_then(|s| s.find('\n'));
    }
});
