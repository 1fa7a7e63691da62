//! Nothing outside this crate builds journal or evidence JSON by hand (issue 23).
//!
//! Every journal entry and every evidence item carries `kind`, the numbered ones `seq`: a
//! `json!` with a `"kind"` or `"seq"` key in any crate's `src` but this one's is building one
//! by hand, unless it is listed below as some other response that happens to use the word.
//! Nor may anyone turn a journal line (or the score) back into a `Value` with
//! `serde_json::from_str`: the format's functions give the typed form (`entry::numbered`).

use std::fs;
use std::path::{Path, PathBuf};

/// `json!` calls that have a `kind` or `seq` key and build no journal entry or evidence item:
/// (file under `crates/`, text the call contains, why it may).
/// An entry matches every call in its file that contains its text; one that matches nothing
/// any more fails the test (take it out).
const ALLOWED: &[(&str, &str, &str)] = &[
    // An organisation, whose kind is host or participant (GET/POST /api/orgs).
    ("web/src/api/course.rs", r#""kind": o.kind.as_str()"#, "an organisation's kind"),
    // The request schema of POST /api/orgs: the same organisation kind.
    ("web/src/api/openapi.rs", r#""kind": kinds"#, "the organisation schema's kind"),
    // Broadcast messages are numbered by the store (`seq`), not the journal.
    ("web/src/api/course.rs", r#"json!({"seq": seq})"#, "a new broadcast message's number"),
    ("web/src/api/course.rs", r#""seq": m.seq, "from": from"#, "the run's broadcast messages"),
    ("web/src/api/live.rs", r#""seq": m.seq, "from": from"#, "broadcast messages on the live socket"),
    // The capture's decoded frames, numbered by their place in the capture.
    ("web/src/api/teams.rs", r#""seq": i + dropped, "frame": d.frame"#, "a decoded capture frame"),
];

/// Calls of `serde_json::from_str` whose argument may name these: none builds a journal
/// entry or the score back from its text.
const FORMAT_TEXT: &[&str] =
    &["journal_format", "netio::json", "entry(", "to_jsonl(", "numbered(", "score(", "evidence::line("];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `.rs` file under `crates/*/src` but this crate's, as (path under `crates/`, text).
fn sources() -> Vec<(String, String)> {
    let root = crates_dir();
    let mut crates: Vec<PathBuf> = fs::read_dir(&root)
        .expect("crates/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n != "journal-format"))
        .collect();
    crates.sort();
    let mut files = Vec::new();
    for c in crates {
        rust_files(&c.join("src"), &mut files);
    }
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, text)
        })
        .collect()
}

/// Where the string, raw string, char literal or comment starting at `i` ends (the index
/// after it), if one starts there.
fn skip_literal(b: &[u8], i: usize) -> Option<usize> {
    let ident = |j: usize| j > 0 && (b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'_');
    match b[i] {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            Some((j + 1).min(b.len()))
        }
        b'r' if !ident(i) && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                return None;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let from = i + 2 + hashes;
            let end = b[from..].windows(close.len()).position(|w| w == close.as_slice());
            Some(end.map_or(b.len(), |e| from + e + close.len()))
        }
        b'\'' => {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            if b.get(i + 1) == Some(&b'\\') {
                let end = b[i + 2..].iter().position(|&c| c == b'\'')?;
                Some(i + 3 + end)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 3)
            } else {
                // The rest of the text from a char boundary is UTF-8: one char, then the quote.
                let c = std::str::from_utf8(&b[i + 1..]).ok()?.chars().next()?;
                (b.get(i + 1 + c.len_utf8()) == Some(&b'\'')).then_some(i + 2 + c.len_utf8())
            }
        }
        b'/' if b.get(i + 1) == Some(&b'/') => {
            Some(b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |e| i + e))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            Some(b[i + 2..].windows(2).position(|w| w == b"*/").map_or(b.len(), |e| i + e + 4))
        }
        _ => None,
    }
}

/// The index after the bracket that closes the one at `open`.
fn close_of(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        if let Some(end) = skip_literal(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The spans `[start, end)` of every call of the macro or function `name` (its name to its
/// closing bracket), outside strings and comments.
fn calls(text: &str, name: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_literal(b, i) {
            i = end;
            continue;
        }
        let starts_word = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts_word && b[i..].starts_with(name.as_bytes()) {
            let mut j = i + name.len();
            // A turbofish, as in `from_str::<Value>(..)`.
            if b[j..].starts_with(b"::<") {
                j = close_angle(b, j + 2);
            }
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if matches!(b.get(j), Some(b'(' | b'[' | b'{')) {
                out.push((i, close_of(b, j)));
            }
        }
        i += 1;
    }
    out
}

fn close_angle(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'<' => depth += 1,
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&c| c == b'\n').count() + 1
}

/// The object keys among `keys` that the text holds: a string literal followed by `:`.
fn keys_in(text: &str, keys: &[&str]) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(end) = skip_literal(b, i) else {
            i += 1;
            continue;
        };
        if b[i] == b'"' {
            let lit = &text[i + 1..end.saturating_sub(1).max(i + 1)];
            let rest = text[end..].trim_start();
            if keys.contains(&lit) && rest.starts_with(':') && !rest.starts_with("::") {
                found.push(lit.to_string());
            }
        }
        i = end;
    }
    found
}

#[test]
fn no_journal_entry_or_evidence_item_is_built_with_json_macro() {
    let mut bad = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (file, text) in sources() {
        let spans = calls(&text, "json!");
        for &(start, end) in &spans {
            // The call's own text, without the `json!` calls nested in it (each is looked at
            // on its own).
            let mut own = String::new();
            let mut at = start;
            for &(s, e) in spans.iter().filter(|&&(s, e)| s > start && e <= end) {
                if s >= at {
                    own.push_str(&text[at..s]);
                    at = e;
                }
            }
            own.push_str(&text[at..end]);
            let keys = keys_in(&own, &["kind", "seq"]);
            if keys.is_empty() {
                continue;
            }
            let allowed = ALLOWED.iter().position(|(f, pat, _)| *f == file && own.contains(pat));
            match allowed {
                Some(k) => used[k] = true,
                None => bad.push(format!(
                    "{file}:{}: json! with {} keys: {}",
                    line_of(&text, start),
                    keys.join(", "),
                    own.lines().next().unwrap_or("")
                )),
            }
        }
    }
    for (k, (f, pat, _)) in ALLOWED.iter().enumerate() {
        if !used[k] {
            bad.push(format!("ALLOWED ({f}, {pat:?}) matches no call any more: take it out"));
        }
    }
    assert!(
        bad.is_empty(),
        "journal entries and evidence items are built by journal-format's types, not json!:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_journal_line_is_read_back_into_a_value() {
    let mut bad = Vec::new();
    for (file, text) in sources() {
        for name in ["serde_json::from_str", "serde_json::from_slice"] {
            for (start, end) in calls(&text, name) {
                let call = &text[start..end];
                if let Some(what) = FORMAT_TEXT.iter().find(|w| call.contains(**w)) {
                    bad.push(format!("{file}:{}: {name} of {what}...: {call}", line_of(&text, start)));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "the journal's JSON text is not parsed back; journal_format gives the typed form:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scanner_finds_what_it_should() {
    let src = r##"
        let a = json!({"kind": "x", "seq": 1}); // json!({"kind": 1}) in a comment
        let s = "json!({\"kind\": 2})";
        let r = r#"json!({"kind": 3})"#;
        let c = ')';
        let o = json!({"events": v.iter().map(|e| json!({"kind": e})).collect::<Vec<_>>(), "k": {"seq": 'x'}});
        let p = json!({"name": kind, "text": "kind: x"});
        let v: Value = serde_json::from_str::<Value>(&journal_format::entry(e));
    "##;
    let spans = calls(src, "json!");
    assert_eq!(spans.len(), 4, "{spans:?}");
    let texts: Vec<&str> = spans.iter().map(|&(s, e)| &src[s..e]).collect();
    assert_eq!(keys_in(texts[0], &["kind", "seq"]), ["kind", "seq"]);
    assert!(texts[1].ends_with("\"k\": {\"seq\": 'x'}})"), "{}", texts[1]);
    assert_eq!(keys_in(texts[2], &["kind", "seq"]), ["kind"]);
    assert!(keys_in(texts[3], &["kind", "seq"]).is_empty());
    assert_eq!(calls(src, "serde_json::from_str").len(), 1);
}

/// Issue 23's other structural rules, kept by a test: no function takes so many arguments
/// that clippy must be told to allow it, and no library crate reports an error as a bare
/// `String` (the binary, `cli`, prints its errors and may).
#[test]
fn no_argument_lists_to_allow_and_no_string_errors_in_libraries() {
    let mut found = Vec::new();
    let root = crates_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    for p in files.iter().filter(|p| !p.components().any(|c| c.as_os_str() == "target")) {
        let name = p.strip_prefix(&root).unwrap_or(p).to_string_lossy().replace('\\', "/");
        let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for (i, line) in text.lines().enumerate() {
            if line.contains("too_many_arguments") && !name.starts_with("journal-format/tests/") {
                found.push(format!("{name}:{}: a too_many_arguments allowance", i + 1));
            }
            let in_library = name.contains("/src/") && !name.starts_with("cli/");
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if in_library && compact.contains("Result<") && compact.contains(",String>") {
                found.push(format!("{name}:{}: a Result with a String error", i + 1));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The runtime's `Range` coordinates parts that own their state: at most eight fields.
#[test]
fn range_holds_at_most_eight_fields() {
    let text = fs::read_to_string(crates_dir().join("range/src/lib.rs")).expect("range/src/lib.rs");
    let start = text.find("pub struct Range {").expect("pub struct Range");
    let body = &text[start..start + text[start..].find("\n}").expect("its end")];
    let fields = body
        .lines()
        .skip(1)
        .filter(|l| l.trim_start().chars().next().is_some_and(char::is_alphabetic))
        .count();
    assert!(fields <= 8, "Range has {fields} fields:\n{body}");
}
