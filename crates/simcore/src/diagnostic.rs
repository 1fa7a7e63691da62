//! A problem at a place in a text a person wrote (an exercise, a grid's sidecar, a pipeline
//! file): its 1-based line and column, and what is wrong. Columns count characters, not
//! bytes. Parsers that know byte offsets (toml's spans) convert them with `line_col`; those
//! that count lines themselves (the YAML reader, the MATPOWER lexer) fill the fields.

use std::fmt;

/// One problem, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Diagnostic {
    /// The problem at byte `offset` of `text`.
    pub fn at(text: &str, offset: usize, message: impl Into<String>) -> Diagnostic {
        let (line, col) = line_col(text, offset);
        Diagnostic { line, col, message: message.into() }
    }
}

/// `3:14: message`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Every problem found in a file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// One `line:col: message` per line; a message's trailing line break (toml ends its
/// messages with one) is not repeated.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", d.line, d.col, d.message.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The 1-based line and column (in characters) of a byte offset; an offset past the end is
/// the end.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "a = 1\nµs = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // `µ` is two bytes, one column.
        assert_eq!(line_col(text, 8), (2, 2));
        assert_eq!(line_col(text, 1000), (3, 1));
    }

    #[test]
    fn one_line_per_problem() {
        let text = "x\ny = \n";
        let d = Diagnostics(vec![Diagnostic::at(text, 0, "first\n"), Diagnostic::at(text, 4, "second")]);
        assert_eq!(d.to_string(), "1:1: first\n2:3: second");
        assert_eq!(d.0[0].to_string(), "1:1: first\n");
    }
}
