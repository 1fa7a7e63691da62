//! Parser for MATPOWER case files, format version 2 (MATPOWER's `caseformat.m`).
//!
//! A case file is a MATLAB function that assigns `mpc.baseMVA`, `mpc.bus`, `mpc.gen` and
//! `mpc.branch`. This is not a MATLAB interpreter: it reads assignments of the form
//! `mpc.<field> = <number | [matrix] | {cell} | 'string'>;` and skips every other statement.
//! Matrix rows end with `;` or a newline, values are separated by whitespace or `,`, `%`
//! starts a comment, `...` continues a line, ragged rows are padded with zeros, and `Inf`
//! is accepted where MATPOWER allows unbounded limits.
//!
//! Every error names the line and column (1-based; columns count characters) of the
//! offending token. Input is untrusted: no input makes this module panic.

use std::collections::HashMap;
use std::fmt;

use crate::case::{Branch, Bus, BusId, BusIdx, BusType, Case, Gen};

/// A position in the source text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {}, column {}: {kind}", pos.line, pos.col)]
pub struct ParseError {
    pub pos: Pos,
    pub kind: ErrorKind,
}

/// The shared form of a problem in a file (`line:col: what`), as the other parsers report.
impl From<&ParseError> for simcore::Diagnostic {
    fn from(e: &ParseError) -> simcore::Diagnostic {
        simcore::Diagnostic {
            line: e.pos.line as usize,
            col: e.pos.col as usize,
            message: e.kind.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("empty file: no MATPOWER case here")]
    Empty,
    #[error("missing `mpc.{0}`")]
    Missing(&'static str),
    #[error("`mpc.{field}` is defined twice")]
    Duplicate { field: String },
    #[error("expected a number, found `{found}`")]
    ExpectedNumber { found: String },
    #[error("expected {expected} after `mpc.{field}`, found `{found}`")]
    UnexpectedToken { field: String, expected: &'static str, found: String },
    #[error("`{open}` opened here is never closed")]
    Unclosed { open: char },
    #[error("string is never closed")]
    UnclosedString,
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    #[error("{what} is not supported: write plain numbers")]
    Unsupported { what: String },
    #[error("{table} row {row} has {found} columns; at least {needed} are needed (through `{last}`)")]
    ShortRow { table: &'static str, row: usize, found: usize, needed: usize, last: &'static str },
    #[error(
        "branch row {row}: the admittance of r = {r_pu:?}, x = {x_pu:?}, ratio = {ratio:?} is not finite"
    )]
    InfiniteAdmittance { row: usize, r_pu: f64, x_pu: f64, ratio: f64 },
    #[error("`mpc.{field}` has no rows")]
    EmptyMatrix { field: &'static str },
    #[error("{table} row {row}: {column} is {value}, which is {why}")]
    BadValue { table: &'static str, row: usize, column: &'static str, value: f64, why: &'static str },
    #[error("bus number {0} appears twice in `mpc.bus`")]
    DuplicateBus(u32),
    #[error("{table} row {row}: bus {bus} is not in `mpc.bus`")]
    UnknownBus { table: &'static str, row: usize, bus: f64 },
    #[error("branch row {row}: r and x are both zero (infinite admittance)")]
    ZeroImpedance { row: usize },
}

/// Parses a MATPOWER version-2 case.
pub fn parse(text: &str) -> Result<Case, ParseError> {
    let fields = Reader::new(text).read_fields()?;
    build_case(fields, end_pos(text))
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Number(f64),
    Str,
    Sym(char),
    Newline,
    Eof,
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => w.to_string(),
            Tok::Number(v) => v.to_string(),
            Tok::Str => "string".to_string(),
            Tok::Sym(c) => c.to_string(),
            Tok::Newline => "end of line".to_string(),
            Tok::Eof => "end of file".to_string(),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    at: usize,
    line: u32,
    col: u32,
    /// Whether the previous token could be the operand of a postfix transpose `'`.
    after_operand: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { text, at: 0, line: 1, col: 1, after_operand: false }
    }

    fn pos(&self) -> Pos {
        Pos { line: self.line, col: self.col }
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn skip_to_eol(&mut self) {
        while let Some(c) = self.peek_char() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// The next token and where it starts.
    fn next(&mut self) -> Result<(Pos, Tok<'a>), ParseError> {
        loop {
            let Some(c) = self.peek_char() else {
                return Ok((self.pos(), Tok::Eof));
            };
            match c {
                ' ' | '\t' | '\r' | '\u{feff}' | '\u{0c}' | '\u{0b}' => {
                    self.bump();
                    self.after_operand = false;
                }
                '%' | '#' => self.skip_to_eol(),
                '.' if self.text[self.at..].starts_with("...") => {
                    // Line continuation: the rest of the line and its newline are whitespace.
                    self.skip_to_eol();
                    self.bump();
                }
                _ => break,
            }
        }
        let pos = self.pos();
        let Some(c) = self.peek_char() else {
            return Ok((pos, Tok::Eof));
        };
        let tok = if c == '\n' {
            self.bump();
            Tok::Newline
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = self.at;
            while let Some(c) = self.peek_char() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    self.bump();
                } else {
                    break;
                }
            }
            let word = &self.text[start..self.at];
            match word {
                "Inf" | "inf" => Tok::Number(f64::INFINITY),
                _ => Tok::Word(word),
            }
        } else if c.is_ascii_digit() || (c == '.' && self.second_is_digit()) {
            self.number(pos)?
        } else if c == '\'' && !self.after_operand {
            self.bump();
            loop {
                match self.bump() {
                    None | Some('\n') => {
                        return Err(ParseError { pos, kind: ErrorKind::UnclosedString });
                    }
                    Some('\'') if self.peek_char() == Some('\'') => {
                        self.bump();
                    }
                    Some('\'') => break,
                    Some(_) => {}
                }
            }
            Tok::Str
        } else if "[]{}()=;,:+-*/'^<>~&|!@$\"`\\.".contains(c) {
            self.bump();
            Tok::Sym(c)
        } else {
            return Err(ParseError { pos, kind: ErrorKind::UnexpectedChar(c) });
        };
        self.after_operand = matches!(tok, Tok::Word(_) | Tok::Number(_) | Tok::Sym(']' | ')' | '}' | '\''));
        Ok((pos, tok))
    }

    fn second_is_digit(&self) -> bool {
        self.text[self.at..].chars().nth(1).is_some_and(|c| c.is_ascii_digit())
    }

    fn number(&mut self, pos: Pos) -> Result<Tok<'a>, ParseError> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let digits = |lx: &mut Self| {
            while lx.at < bytes.len() && bytes[lx.at].is_ascii_digit() {
                lx.bump();
            }
        };
        digits(self);
        if self.at < bytes.len() && bytes[self.at] == b'.' {
            self.bump();
            digits(self);
        }
        if self.at < bytes.len() && (bytes[self.at] == b'e' || bytes[self.at] == b'E') {
            let save = (self.at, self.line, self.col);
            self.bump();
            if self.at < bytes.len() && (bytes[self.at] == b'+' || bytes[self.at] == b'-') {
                self.bump();
            }
            if self.at < bytes.len() && bytes[self.at].is_ascii_digit() {
                digits(self);
            } else {
                (self.at, self.line, self.col) = save;
            }
        }
        // A number glued to letters (`12abc`) is a word where a number belongs.
        if self.peek_char().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            while self.peek_char().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                self.bump();
            }
            let found = self.text[start..self.at].to_string();
            return Err(ParseError { pos, kind: ErrorKind::ExpectedNumber { found } });
        }
        let literal = &self.text[start..self.at];
        match literal.parse::<f64>() {
            Ok(v) => Ok(Tok::Number(v)),
            Err(_) => Err(ParseError { pos, kind: ErrorKind::ExpectedNumber { found: literal.to_string() } }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

/// A numeric matrix with the position of each value, rows padded to the widest row.
#[derive(Debug, Default)]
struct Matrix {
    width: usize,
    rows: Vec<Vec<(f64, Pos)>>,
    open: Option<Pos>,
}

impl Matrix {
    fn get(&self, row: usize, col: usize) -> f64 {
        self.rows[row].get(col).map_or(0.0, |v| v.0)
    }

    /// The position of a value, or of the row's last value when the row is short.
    fn pos(&self, row: usize, col: usize) -> Pos {
        let r = &self.rows[row];
        r.get(col).or(r.last()).map_or(self.open.unwrap_or(Pos { line: 1, col: 1 }), |v| v.1)
    }
}

#[derive(Debug)]
enum Value {
    Scalar(f64, Pos),
    Matrix(Matrix),
}

struct Reader<'a> {
    lex: Lexer<'a>,
    peeked: Option<(Pos, Tok<'a>)>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader { lex: Lexer::new(text), peeked: None }
    }

    fn next(&mut self) -> Result<(Pos, Tok<'a>), ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex.next(),
        }
    }

    fn peek(&mut self) -> Result<&(Pos, Tok<'a>), ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex.next()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    /// Reads every `mpc.<field> = value` statement the case needs.
    fn read_fields(mut self) -> Result<HashMap<String, Value>, ParseError> {
        let mut fields: HashMap<String, Value> = HashMap::new();
        loop {
            let (pos, tok) = self.next()?;
            match tok {
                Tok::Eof => return Ok(fields),
                Tok::Word(w)
                    if matches!(w, "mpc.baseMVA" | "mpc.bus" | "mpc.gen" | "mpc.branch")
                        && self.peek()?.1 == Tok::Sym('(') =>
                {
                    // `mpc.bus(:, PD) = ...` rewrites data; silently skipping it would
                    // solve a different case than the file describes.
                    return Err(ParseError {
                        pos,
                        kind: ErrorKind::Unsupported { what: format!("indexed assignment to `{w}`") },
                    });
                }
                Tok::Word(w) if w.starts_with("mpc.") && self.peek()?.1 == Tok::Sym('=') => {
                    self.next()?;
                    let field = &w[4..];
                    let wanted = matches!(field, "baseMVA" | "bus" | "gen" | "branch");
                    let value = self.read_value(field, wanted)?;
                    if let Some(value) = value {
                        if fields.contains_key(field) {
                            return Err(ParseError {
                                pos,
                                kind: ErrorKind::Duplicate { field: field.to_string() },
                            });
                        }
                        fields.insert(field.to_string(), value);
                    }
                }
                Tok::Newline | Tok::Sym(';') => {}
                Tok::Sym('[' | '{') => {
                    self.peeked = Some((pos, tok));
                    self.skip_statement()?;
                }
                _ => self.skip_statement()?,
            }
        }
    }

    /// Skips to the end of the current statement, stepping over brackets and strings.
    fn skip_statement(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek()?.1 {
                Tok::Eof => return Ok(()),
                Tok::Newline | Tok::Sym(';') => {
                    self.next()?;
                    return Ok(());
                }
                Tok::Sym('[' | '{') => self.skip_group()?,
                _ => {
                    self.next()?;
                }
            }
        }
    }

    /// Skips a bracketed group, nested or not, starting at its opening bracket.
    fn skip_group(&mut self) -> Result<(), ParseError> {
        let mut stack: Vec<(Pos, char)> = Vec::new();
        loop {
            let (pos, tok) = self.next()?;
            match tok {
                Tok::Sym(c @ ('[' | '{')) => stack.push((pos, c)),
                Tok::Sym(']' | '}') => {
                    stack.pop();
                    if stack.is_empty() {
                        return Ok(());
                    }
                }
                Tok::Eof => {
                    let (pos, open) = stack.pop().unwrap_or((pos, '['));
                    return Err(ParseError { pos, kind: ErrorKind::Unclosed { open } });
                }
                _ => {}
            }
        }
    }

    /// Reads the right-hand side of an assignment. Returns `None` for values we skip.
    fn read_value(&mut self, field: &str, wanted: bool) -> Result<Option<Value>, ParseError> {
        let (pos, tok) = self.peek()?.clone();
        let value = match tok {
            Tok::Sym('[') if wanted => {
                self.next()?;
                Some(Value::Matrix(self.read_matrix(pos)?))
            }
            Tok::Number(_) | Tok::Sym('-' | '+') if wanted => {
                let v = self.read_signed_number()?;
                Some(Value::Scalar(v, pos))
            }
            _ if wanted => {
                let expected = if field == "baseMVA" { "a number" } else { "a matrix `[`" };
                return Err(ParseError {
                    pos,
                    kind: ErrorKind::UnexpectedToken {
                        field: field.to_string(),
                        expected,
                        found: tok.describe(),
                    },
                });
            }
            _ => None,
        };
        if value.is_some() {
            // Only `;`, `,`, a newline or the end may follow: `mpc.baseMVA = 1e3/10;` is an
            // expression this reader does not evaluate.
            let (pos, tok) = self.peek()?.clone();
            if !matches!(tok, Tok::Sym(';' | ',') | Tok::Newline | Tok::Eof) {
                return Err(ParseError {
                    pos,
                    kind: ErrorKind::Unsupported {
                        what: format!("an expression (`{}`) in the value of `mpc.{field}`", tok.describe()),
                    },
                });
            }
        }
        self.skip_statement()?;
        Ok(value)
    }

    fn read_signed_number(&mut self) -> Result<f64, ParseError> {
        let (pos, tok) = self.next()?;
        let (sign, pos, tok) = match tok {
            Tok::Sym('-') => {
                let (p, t) = self.next()?;
                (-1.0, p, t)
            }
            Tok::Sym('+') => {
                let (p, t) = self.next()?;
                (1.0, p, t)
            }
            t => (1.0, pos, t),
        };
        match tok {
            Tok::Number(v) => Ok(sign * v),
            other => Err(ParseError { pos, kind: ErrorKind::ExpectedNumber { found: other.describe() } }),
        }
    }

    fn read_matrix(&mut self, open: Pos) -> Result<Matrix, ParseError> {
        let mut m = Matrix { open: Some(open), ..Matrix::default() };
        let mut row: Vec<(f64, Pos)> = Vec::new();
        loop {
            let (pos, tok) = self.peek()?.clone();
            match tok {
                Tok::Sym(']') => {
                    self.next()?;
                    break;
                }
                Tok::Eof => {
                    return Err(ParseError { pos: open, kind: ErrorKind::Unclosed { open: '[' } });
                }
                Tok::Newline | Tok::Sym(';') => {
                    self.next()?;
                    if !row.is_empty() {
                        m.width = m.width.max(row.len());
                        m.rows.push(std::mem::take(&mut row));
                    }
                }
                Tok::Sym(',') => {
                    self.next()?;
                }
                Tok::Number(_) | Tok::Sym('-' | '+') => {
                    let v = self.read_signed_number()?;
                    row.push((v, pos));
                }
                other => {
                    return Err(ParseError {
                        pos,
                        kind: ErrorKind::ExpectedNumber { found: other.describe() },
                    });
                }
            }
        }
        if !row.is_empty() {
            m.width = m.width.max(row.len());
            m.rows.push(row);
        }
        Ok(m)
    }
}

fn end_pos(text: &str) -> Pos {
    let mut lx = Lexer::new(text);
    while lx.bump().is_some() {}
    lx.pos()
}

// ---------------------------------------------------------------------------------------------
// From matrices to a validated `Case`

fn build_case(mut fields: HashMap<String, Value>, end: Pos) -> Result<Case, ParseError> {
    let start = Pos { line: 1, col: 1 };
    if fields.is_empty() {
        return Err(ParseError { pos: start, kind: ErrorKind::Empty });
    }
    let base_mva = match fields.remove("baseMVA") {
        Some(Value::Scalar(v, pos)) => {
            if !(v.is_finite() && v > 0.0) {
                return Err(ParseError {
                    pos,
                    kind: ErrorKind::BadValue {
                        table: "baseMVA",
                        row: 1,
                        column: "baseMVA",
                        value: v,
                        why: "not a positive finite number",
                    },
                });
            }
            v
        }
        Some(Value::Matrix(m)) => {
            let pos = m.open.unwrap_or(start);
            return Err(ParseError {
                pos,
                kind: ErrorKind::UnexpectedToken {
                    field: "baseMVA".into(),
                    expected: "a number",
                    found: "[".into(),
                },
            });
        }
        None => return Err(ParseError { pos: end, kind: ErrorKind::Missing("baseMVA") }),
    };
    let mut matrix = |name: &'static str, may_be_empty: bool| -> Result<Matrix, ParseError> {
        match fields.remove(name) {
            Some(Value::Matrix(m)) if m.rows.is_empty() && !may_be_empty => {
                Err(ParseError { pos: m.open.unwrap_or(start), kind: ErrorKind::EmptyMatrix { field: name } })
            }
            Some(Value::Matrix(m)) => Ok(m),
            Some(Value::Scalar(_, pos)) => Err(ParseError {
                pos,
                kind: ErrorKind::UnexpectedToken {
                    field: name.into(),
                    expected: "a matrix `[`",
                    found: "a number".into(),
                },
            }),
            None => Err(ParseError { pos: end, kind: ErrorKind::Missing(name) }),
        }
    };
    let bus_m = matrix("bus", false)?;
    let gen_m = matrix("gen", true)?;
    let branch_m = matrix("branch", true)?;
    // MATPOWER's caseformat: padding is fine past these columns, not before (a missing
    // status column would silently take a branch out of service).
    for (m, table, needed, last) in
        [(&bus_m, "bus", 13, "Vmin"), (&gen_m, "gen", 10, "Pmin"), (&branch_m, "branch", 11, "status")]
    {
        for (r, row) in m.rows.iter().enumerate() {
            if row.len() < needed {
                return Err(ParseError {
                    pos: m.pos(r, needed),
                    kind: ErrorKind::ShortRow { table, row: r + 1, found: row.len(), needed, last },
                });
            }
        }
    }

    let buses = build_buses(&bus_m)?;
    let mut index: HashMap<u32, BusIdx> = HashMap::with_capacity(buses.len());
    for (i, b) in buses.iter().enumerate() {
        if index.insert(b.id.0, BusIdx(i as u32)).is_some() {
            return Err(ParseError { pos: bus_m.pos(i, 0), kind: ErrorKind::DuplicateBus(b.id.0) });
        }
    }
    let lookup = |m: &Matrix, table: &'static str, row: usize, col: usize| -> Result<BusIdx, ParseError> {
        let v = m.get(row, col);
        let id = (v.fract() == 0.0 && v >= 1.0 && v <= f64::from(u32::MAX)).then_some(v as u32);
        id.and_then(|id| index.get(&id).copied()).ok_or(ParseError {
            pos: m.pos(row, col),
            kind: ErrorKind::UnknownBus { table, row: row + 1, bus: v },
        })
    };

    let mut gens = Vec::with_capacity(gen_m.rows.len());
    for r in 0..gen_m.rows.len() {
        let t = Table { m: &gen_m, name: "gen", row: r };
        gens.push(Gen {
            bus: lookup(&gen_m, "gen", r, 0)?,
            pg_mw: t.finite(1, "Pg")?,
            qg_mvar: t.finite(2, "Qg")?,
            qmax_mvar: t.not_nan(3, "Qmax")?,
            qmin_mvar: t.not_nan(4, "Qmin")?,
            vg_pu: t.finite(5, "Vg")?,
            mbase_mva: t.finite(6, "mBase")?,
            in_service: t.finite(7, "status")? > 0.0,
            pmax_mw: t.not_nan(8, "Pmax")?,
            pmin_mw: t.not_nan(9, "Pmin")?,
        });
        let g = &gens[r];
        if g.in_service && !(0.0 < g.vg_pu && g.vg_pu <= 10.0) {
            return Err(t.bad(5, "Vg", g.vg_pu, "not a voltage set point between 0 and 10 p.u."));
        }
    }

    let mut branches = Vec::with_capacity(branch_m.rows.len());
    for r in 0..branch_m.rows.len() {
        let t = Table { m: &branch_m, name: "branch", row: r };
        let br = Branch {
            from: lookup(&branch_m, "branch", r, 0)?,
            to: lookup(&branch_m, "branch", r, 1)?,
            r_pu: t.finite(2, "r")?,
            x_pu: t.finite(3, "x")?,
            b_pu: t.finite(4, "b")?,
            rate_a_mva: t.not_nan(5, "rateA")?,
            rate_b_mva: t.not_nan(6, "rateB")?,
            rate_c_mva: t.not_nan(7, "rateC")?,
            tap_ratio: t.finite(8, "ratio")?,
            shift_deg: t.finite(9, "angle")?,
            in_service: t.finite(10, "status")? > 0.0,
            angmin_deg: t.not_nan(11, "angmin")?,
            angmax_deg: t.not_nan(12, "angmax")?,
        };
        if br.r_pu == 0.0 && br.x_pu == 0.0 {
            return Err(ParseError {
                pos: branch_m.pos(r, 2),
                kind: ErrorKind::ZeroImpedance { row: r + 1 },
            });
        }
        if br.tap_ratio < 0.0 {
            return Err(t.bad(8, "ratio", br.tap_ratio, "a negative tap ratio"));
        }
        let y = crate::ybus::BranchAdmittance::of(&br);
        if ![y.yff, y.yft, y.ytf, y.ytt].iter().all(|v| v.is_finite()) {
            return Err(ParseError {
                pos: branch_m.pos(r, 2),
                kind: ErrorKind::InfiniteAdmittance {
                    row: r + 1,
                    r_pu: br.r_pu,
                    x_pu: br.x_pu,
                    ratio: br.tap_ratio,
                },
            });
        }
        branches.push(br);
    }
    Ok(Case::new(base_mva, buses, gens, branches))
}

struct Table<'m> {
    m: &'m Matrix,
    name: &'static str,
    row: usize,
}

impl Table<'_> {
    fn bad(&self, col: usize, column: &'static str, value: f64, why: &'static str) -> ParseError {
        ParseError {
            pos: self.m.pos(self.row, col),
            kind: ErrorKind::BadValue { table: self.name, row: self.row + 1, column, value, why },
        }
    }

    fn finite(&self, col: usize, column: &'static str) -> Result<f64, ParseError> {
        let v = self.m.get(self.row, col);
        if v.is_finite() { Ok(v) } else { Err(self.bad(col, column, v, "not finite")) }
    }

    fn not_nan(&self, col: usize, column: &'static str) -> Result<f64, ParseError> {
        let v = self.m.get(self.row, col);
        if v.is_nan() { Err(self.bad(col, column, v, "not a number")) } else { Ok(v) }
    }

    fn small_int(&self, col: usize, column: &'static str) -> Result<u32, ParseError> {
        let v = self.m.get(self.row, col);
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            Ok(v as u32)
        } else {
            Err(self.bad(col, column, v, "not a non-negative integer"))
        }
    }
}

fn build_buses(m: &Matrix) -> Result<Vec<Bus>, ParseError> {
    let mut buses = Vec::with_capacity(m.rows.len());
    for r in 0..m.rows.len() {
        let t = Table { m, name: "bus", row: r };
        let id = t.small_int(0, "bus_i")?;
        if id == 0 {
            return Err(t.bad(0, "bus_i", 0.0, "not a positive bus number"));
        }
        let kind = match t.m.get(r, 1) {
            1.0 => BusType::Pq,
            2.0 => BusType::Pv,
            3.0 => BusType::Ref,
            4.0 => BusType::Isolated,
            v => return Err(t.bad(1, "type", v, "not a bus type (1 PQ, 2 PV, 3 ref, 4 isolated)")),
        };
        buses.push(Bus {
            id: BusId(id),
            kind,
            pd_mw: t.finite(2, "Pd")?,
            qd_mvar: t.finite(3, "Qd")?,
            gs_mw: t.finite(4, "Gs")?,
            bs_mvar: t.finite(5, "Bs")?,
            area: t.small_int(6, "area")?,
            vm_pu: t.finite(7, "Vm")?,
            va_deg: t.finite(8, "Va")?,
            base_kv: t.finite(9, "baseKV")?,
            zone: t.small_int(10, "zone")?,
            vmax_pu: t.not_nan(11, "Vmax")?,
            vmin_pu: t.not_nan(12, "Vmin")?,
        });
    }
    Ok(buses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn err(text: &str) -> String {
        match parse(text) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        }
    }

    pub(super) const MINI: &str = "function mpc = mini\nmpc.baseMVA = 100;\nmpc.bus = [\n 1 3 0 0 0 0 1 1 0 0 1 1.1 0.9;\n 7 1 10 5 0 0 1 1 0 0 1 1.1 0.9;\n];\nmpc.gen = [1 0 0 Inf -Inf 1.0 100 1 100 0];\nmpc.branch = [1 7 0.01 0.1 0 0 0 0 0 0 1 -360 360];\n";

    #[test]
    fn minimal_case_with_inf_and_one_line_matrices() {
        let case = parse(MINI).expect("parses");
        assert_eq!(case.buses.len(), 2);
        assert_eq!(case.gens[0].qmax_mvar, f64::INFINITY);
        assert_eq!(case.gens[0].qmin_mvar, f64::NEG_INFINITY);
        assert_eq!(case.branches[0].to, BusIdx(1));
        assert_eq!(case.bus_idx(BusId(7)), Some(BusIdx(1)));
    }

    #[test]
    fn ragged_rows_commas_comments_and_cells() {
        let text = "mpc.baseMVA=100 ; % base\nmpc.bus_name = { 'a ''b'' }'; 'c' };\nmpc.bus = [1, 3, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0.9 % commas\n2 2 1 2 0 0 1 1 0 0 1 1.1 0.9 ...\n ];\nmpc.gen=[2 10 0 1 -1 1 100 1 10 0; ];\nmpc.branch=[1 2 -0.01 -.1 0 0 0 0 1.05 -3.5 1];\nx = y .* 2 .^ 3;";
        let case = parse(text).expect("parses");
        assert_eq!(case.buses[0].vmax_pu, 0.0);
        assert_eq!(case.buses[1].kind, BusType::Pv);
        assert_eq!(case.branches[0].x_pu, -0.1);
        assert_eq!(case.branches[0].shift_deg, -3.5);
        assert_eq!(case.branches[0].angmax_deg, 0.0);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(err(""), "line 1, column 1: empty file: no MATPOWER case here");
        assert_eq!(err("% only a comment\n"), "line 1, column 1: empty file: no MATPOWER case here");
        assert_eq!(err(&MINI.replace("mpc.baseMVA = 100;", "")), "line 9, column 1: missing `mpc.baseMVA`");
        assert_eq!(
            err(&MINI.replace(" 7 1 10 5", " 7 1 ten 5")),
            "line 5, column 6: expected a number, found `ten`"
        );
        assert_eq!(
            err(&MINI.replace("1 7 0.01", "1 8 0.01")),
            "line 8, column 17: branch row 1: bus 8 is not in `mpc.bus`"
        );
        assert_eq!(err(&MINI[..60]), "line 3, column 11: `[` opened here is never closed");
        assert_eq!(
            err(&MINI.replace("0.01 0.1", "0 0")),
            "line 8, column 19: branch row 1: r and x are both zero (infinite admittance)"
        );
        assert_eq!(
            err(&MINI.replace(" 7 1 10", " 7 5 10")),
            "line 5, column 4: bus row 2: type is 5, which is not a bus type (1 PQ, 2 PV, 3 ref, 4 isolated)"
        );
        assert_eq!(err("mpc.bus = [1 2 3"), "line 1, column 11: `[` opened here is never closed");
        assert_eq!(err("mpc.x = 'abc"), "line 1, column 9: string is never closed");
        assert_eq!(err("mpc.baseMVA = 1e999x;"), "line 1, column 15: expected a number, found `1e999x`");
        assert_eq!(
            err(&MINI.replace("mpc.baseMVA = 100;", "mpc.baseMVA = 1e3/10;")),
            "line 2, column 18: an expression (`/`) in the value of `mpc.baseMVA` is not supported: write plain numbers"
        );
        assert_eq!(
            err(&format!("{MINI}mpc.bus(:, 3) = 0;\n")),
            "line 9, column 1: indexed assignment to `mpc.bus` is not supported: write plain numbers"
        );
        assert_eq!(
            err(&MINI.replace(" 0 0 0 0 1 -360 360]", " 0 0 0]")),
            "line 8, column 36: branch row 1 has 9 columns; at least 11 are needed (through `status`)"
        );
        assert_eq!(
            err(&MINI.replace("0.01 0.1", "0 1e-200")),
            "line 8, column 19: branch row 1: the admittance of r = 0.0, x = 1e-200, ratio = 0.0 is not finite"
        );
    }
}
