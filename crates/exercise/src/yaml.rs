//! Reading a marked YAML tree into typed values while collecting every problem with its line
//! and column, instead of stopping at the first.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, Node};
use marked_yaml::{LoaderOptions, Span};

use gridsim::sim::SimTime;

/// A problem in an exercise file, at a place in it (1-based line and column): the shared
/// form of every file problem, `line:col: message`.
pub use simcore::Diagnostic;

/// Where a node is; (0, 0) when the tree does not know (never for parsed input).
pub fn pos(span: &Span) -> (usize, usize) {
    span.start().map_or((0, 0), |m| (m.line(), m.column()))
}

/// Collects diagnostics while a tree is read.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    pub fn at(&mut self, span: &Span, message: impl Into<String>) {
        let (line, col) = pos(span);
        self.0.push(Diagnostic { line, col, message: message.into() });
    }
}

/// Lines of a text as YAML counts them (breaks at \n, \r\n and a lone \r).
pub fn line_count(text: &str) -> usize {
    text.matches('\n').count() + text.replace("\r\n", "\n").matches('\r').count() + 1
}

/// Keeps every diagnostic inside the text: the parser places the end of the input (an empty
/// document, a value cut short) on the line after the last.
pub fn clamp(text: &str, diags: &mut [Diagnostic]) {
    let last = line_count(text);
    for d in diags {
        d.line = d.line.clamp(1, last);
        d.col = d.col.max(1);
    }
}

/// The largest exercise or defender file read (bytes). The built-in Ukraine exercise is
/// about 20 KB.
pub const MAX_BYTES: usize = 4 << 20;

/// The deepest nesting of lists and mappings read. An exercise needs about 6; the YAML
/// library recurses per level and would overflow the stack on tens of thousands.
pub const MAX_DEPTH: usize = 64;

/// Size and nesting within bounds, checked before the tree is built: the event parser
/// underneath keeps its own stack on the heap, so counting its events costs no recursion.
fn bounded(text: &str) -> Result<(), Diagnostic> {
    if text.len() > MAX_BYTES {
        return Err(Diagnostic {
            line: 1,
            col: 1,
            message: format!("the file is {} bytes; at most {MAX_BYTES} are read", text.len()),
        });
    }
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        // A syntax error is the tree builder's to report, with its own words.
        let Ok((event, mark)) = parser.next_token() else { return Ok(()) };
        match event {
            yaml_rust2::Event::SequenceStart(..) | yaml_rust2::Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Diagnostic {
                        line: mark.line().clamp(1, line_count(text)),
                        col: mark.col() + 1,
                        message: format!("lists and mappings nested more than {MAX_DEPTH} deep"),
                    });
                }
            }
            yaml_rust2::Event::SequenceEnd | yaml_rust2::Event::MappingEnd => depth = depth.saturating_sub(1),
            yaml_rust2::Event::StreamEnd => return Ok(()),
            _ => {}
        }
    }
}

/// Parses the text; a syntax error is one diagnostic. A byte-order mark at the top (as some
/// Windows editors write) is not part of the first key.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    bounded(text)?;
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| {
        use marked_yaml::LoadError as E;
        let (marker, message) = match &e {
            E::TopLevelMustBeMapping(m) => {
                (Some(*m), "the file must be a mapping of keys (`id: ...`)".to_string())
            }
            E::TopLevelMustBeSequence(m) => (Some(*m), "expected a list".to_string()),
            E::UnexpectedAnchor(m) => (Some(*m), "anchors and aliases (&, *) are not allowed".to_string()),
            E::MappingKeyMustBeScalar(m) => (Some(*m), "a key must be a plain word".to_string()),
            E::UnexpectedTag(m) => (Some(*m), "YAML tags (!) are not allowed".to_string()),
            E::ScanError(m, s) => (Some(*m), format!("YAML syntax: {}", s.info())),
            E::DuplicateKey(inner) => {
                let key = &inner.key;
                (key.span().start().copied(), format!("duplicate key `{}`", key.as_str()))
            }
        };
        let (line, col) = marker.map_or((1, 1), |m| (m.line(), m.column()));
        // The scanner reports an error at the end of the input on the line after the last;
        // point at the last line instead (YAML breaks lines at \n, \r\n and a lone \r).
        Diagnostic { line: line.clamp(1, line_count(text)), col: col.max(1), message }
    })
}

/// A mapping being read: which keys were asked for, so the rest can be reported unknown.
#[derive(Debug)]
pub struct Fields<'a> {
    pub map: &'a MarkedMappingNode,
    known: &'static [&'static str],
}

/// Reads `node` as a mapping with the given keys; reports unknown keys (with the closest
/// known one) and a node that is not a mapping.
pub fn fields<'a>(
    e: &mut Errors,
    node: &'a Node,
    what: &str,
    known: &'static [&'static str],
) -> Option<Fields<'a>> {
    let Some(map) = node.as_mapping() else {
        e.at(node.span(), format!("{what} must be a mapping of keys"));
        return None;
    };
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            let hint =
                closest(key.as_str(), known).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            e.at(key.span(), format!("unknown key `{}` in {what}{hint}", key.as_str()));
        }
    }
    Some(Fields { map, known })
}

fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (keys are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a> Fields<'a> {
    pub fn span(&self) -> &'a Span {
        self.map.span()
    }

    pub fn get(&self, key: &str) -> Option<&'a Node> {
        debug_assert!(self.known.contains(&key), "{key} is not declared");
        self.map.get_node(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A required key; reports its absence at the mapping.
    pub fn need(&self, e: &mut Errors, key: &str, what: &str) -> Option<&'a Node> {
        let n = self.get(key);
        if n.is_none() {
            e.at(self.span(), format!("{what} needs `{key}`"));
        }
        n
    }

    pub fn string(&self, e: &mut Errors, key: &str, what: &str) -> Option<Spanned<String>> {
        self.need(e, key, what).and_then(|n| string(e, n, key))
    }

    pub fn opt_string(&self, e: &mut Errors, key: &str) -> Option<Spanned<String>> {
        self.get(key).and_then(|n| string(e, n, key))
    }

    pub fn opt_duration(&self, e: &mut Errors, key: &str) -> Option<Spanned<SimTime>> {
        self.get(key).and_then(|n| duration(e, n, key))
    }

    pub fn opt_number(&self, e: &mut Errors, key: &str) -> Option<Spanned<f64>> {
        self.get(key).and_then(|n| number(e, n, key))
    }

    /// A list under `key` (absent: empty).
    pub fn list(&self, e: &mut Errors, key: &str) -> &'a [Node] {
        match self.get(key) {
            None => &[],
            Some(Node::Sequence(s)) => s.as_slice(),
            Some(n) => {
                e.at(n.span(), format!("`{key}` must be a list"));
                &[]
            }
        }
    }
}

/// A value with the place it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: &Span) -> Spanned<T> {
        let (line, col) = pos(span);
        Spanned { value, line, col }
    }

    /// A diagnostic at this value.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic { line: self.line, col: self.col, message: message.into() }
    }
}

pub fn scalar<'a>(e: &mut Errors, node: &'a Node, what: &str) -> Option<&'a MarkedScalarNode> {
    let s = node.as_scalar();
    if s.is_none() {
        e.at(node.span(), format!("`{what}` must be a single value, not a list or mapping"));
    }
    s
}

pub fn string(e: &mut Errors, node: &Node, what: &str) -> Option<Spanned<String>> {
    scalar(e, node, what).map(|s| Spanned::new(s.as_str().to_string(), s.span()))
}

pub fn number(e: &mut Errors, node: &Node, what: &str) -> Option<Spanned<f64>> {
    let s = scalar(e, node, what)?;
    match s.as_str().replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() => Some(Spanned::new(v, s.span())),
        _ => {
            e.at(s.span(), format!("`{what}` must be a number, not `{}`", s.as_str()));
            None
        }
    }
}

/// A whole number in `lo..=hi`.
pub fn integer(e: &mut Errors, node: &Node, what: &str, lo: i64, hi: i64) -> Option<Spanned<i64>> {
    let s = scalar(e, node, what)?;
    match s.as_str().replace('_', "").parse::<i64>() {
        Ok(v) if (lo..=hi).contains(&v) => Some(Spanned::new(v, s.span())),
        Ok(v) => {
            e.at(s.span(), format!("`{what}` must be between {lo} and {hi}, not {v}"));
            None
        }
        Err(_) => {
            e.at(s.span(), format!("`{what}` must be a whole number, not `{}`", s.as_str()));
            None
        }
    }
}

pub fn boolean(e: &mut Errors, node: &Node, what: &str) -> Option<bool> {
    let s = scalar(e, node, what)?;
    let b = s.as_bool();
    if b.is_none() {
        e.at(s.span(), format!("`{what}` must be true or false, not `{}`", s.as_str()));
    }
    b
}

pub fn duration(e: &mut Errors, node: &Node, what: &str) -> Option<Spanned<SimTime>> {
    let s = scalar(e, node, what)?;
    match SimTime::parse_duration(s.as_str()) {
        Ok(t) => Some(Spanned::new(t, s.span())),
        Err(_) => {
            e.at(
                s.span(),
                format!("`{what}` must be a duration such as 90s, 15m, 2h or 1h30m, not `{}`", s.as_str()),
            );
            None
        }
    }
}

/// A string or a list of strings (`all` and `[a, b]` read alike).
pub fn strings(e: &mut Errors, node: &Node, what: &str) -> Vec<Spanned<String>> {
    match node {
        Node::Sequence(s) => s.iter().filter_map(|n| string(e, n, what)).collect(),
        n => string(e, n, what).into_iter().collect(),
    }
}
