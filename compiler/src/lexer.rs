//! The hand-written, indentation-aware lexer: source text → `(lo, Token, hi)` triples for the
//! LALRPOP grammar.
//!
//! It follows CPython's tokenizer where Ask is Python: INDENT/DEDENT from an indentation stack
//! (tabs and spaces compared both with 8-column tabs and 1-column tabs, so ambiguous mixing is
//! detected exactly as Python does), NEWLINE only at the end of non-blank logical lines, implicit
//! joining inside brackets, `\` continuation, decoded string/number literals and f-strings split
//! into parts. Ask's contextual words are decided here because they depend on layout (start of a
//! logical line), which the grammar cannot see.
//!
//! The lexer never recurses and bounds bracket nesting and indentation depth, so hostile input
//! cannot exhaust the stack. It keeps going after an error to report as many as it can.

use crate::ast::Span;
use crate::diagnostic::Diagnostic;
use crate::token::{FRaw, Token};
use num_bigint::BigInt;

/// Maximum nesting of `( [ {` (CPython: 200).
pub const MAX_BRACKETS: usize = 200;
/// Maximum indentation depth (CPython: 100).
pub const MAX_INDENT: usize = 100;

/// The lexer stops after this many errors.
pub const MAX_ERRORS: usize = 100;

pub type Spanned = (usize, Token, usize);

/// Everything the lexer learned about a file.
#[derive(Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Spanned>,
    /// `(line, text)` of every comment.
    pub comments: Vec<(u32, String)>,
    /// Lines that hold nothing but a comment (candidates for route docs).
    pub comment_lines: Vec<u32>,
    /// Token indices where an independent top-level statement starts (always includes 0 when
    /// there are tokens). The parser parses each chunk on its own so that one syntax error per
    /// top-level statement can be reported.
    pub chunks: Vec<usize>,
}

pub struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    end: usize,
    file: &'a str,
    line: u32,
    out: Lexed,
    errors: Vec<Diagnostic>,
    /// Indentation stack: (columns with tabs to multiples of 8, columns with tabs as 1).
    indents: Vec<(u32, u32)>,
    brackets: Vec<(u8, usize)>,
    /// Inside an f-string expression: behave as if inside brackets forever.
    expr_mode: bool,
    at_line_start: bool,
    /// The next token is the first of its logical line.
    logical_start: bool,
    line_has_tokens: bool,
    /// The current logical line started with a decorator `&` (its statement continues below).
    line_is_deco: bool,
    prev_line_deco: bool,
}

fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}
fn is_id_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, file: &'a str) -> Lexer<'a> {
        let mut pos = 0;
        if src.starts_with('\u{feff}') {
            pos = 3;
        }
        Lexer {
            src,
            b: src.as_bytes(),
            pos,
            end: src.len(),
            file,
            line: 1,
            out: Lexed::default(),
            errors: Vec::new(),
            indents: vec![(0, 0)],
            brackets: Vec::new(),
            expr_mode: false,
            at_line_start: true,
            logical_start: true,
            line_has_tokens: false,
            line_is_deco: false,
            prev_line_deco: false,
        }
    }

    /// A lexer for the expression text `src[lo..hi]` of an f-string replacement field.
    pub fn for_expr(src: &'a str, lo: usize, hi: usize, file: &'a str) -> Lexer<'a> {
        let mut lx = Lexer::new(src, file);
        lx.pos = lo;
        lx.end = hi;
        lx.expr_mode = true;
        lx.at_line_start = false;
        lx.logical_start = false;
        // Line numbers only matter for comments, which an f-string expression cannot hold.
        lx.line = 0;
        lx
    }

    fn err(&mut self, lo: usize, hi: usize, msg: impl Into<String>) {
        self.errors.push(Diagnostic::error(self.file, Span::new(lo, hi), msg));
    }

    fn peek(&self, off: usize) -> u8 {
        let i = self.pos + off;
        if i < self.end {
            self.b[i]
        } else {
            0
        }
    }

    fn char_at(&self, i: usize) -> Option<char> {
        if i < self.end {
            self.src[i..self.end].chars().next()
        } else {
            None
        }
    }

    fn push(&mut self, lo: usize, t: Token, hi: usize) {
        if self.logical_start && !self.expr_mode {
            // First token of a logical line.
            if self.indents.len() == 1 && !self.prev_line_deco {
                let continues = matches!(t, Token::Elif | Token::Else | Token::Except | Token::Finally);
                if !continues || self.out.tokens.is_empty() {
                    self.out.chunks.push(self.out.tokens.len());
                }
            }
            self.line_is_deco = t == Token::DecoAmp;
        }
        self.logical_start = false;
        self.line_has_tokens = true;
        self.out.tokens.push((lo, t, hi));
    }

    /// Run to the end; returns the tokens (and comments) and every error found.
    pub fn run(mut self) -> (Lexed, Vec<Diagnostic>) {
        while self.pos < self.end {
            if self.errors.len() >= MAX_ERRORS {
                // Hopeless input (e.g. binary data): stop rather than collect millions.
                self.pos = self.end;
                self.brackets.clear();
                break;
            }
            if self.at_line_start && !self.expr_mode {
                if !self.indentation() {
                    break;
                }
                continue;
            }
            let c = self.b[self.pos];
            match c {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'#' => {
                    if self.expr_mode {
                        self.err(self.pos, self.pos + 1, "f-string expression part cannot include '#'");
                        self.pos = self.end;
                        break;
                    }
                    self.comment(false);
                }
                b'\n' | b'\r' => {
                    let lo = self.pos;
                    self.newline_char();
                    if self.brackets.is_empty() && !self.expr_mode {
                        if self.line_has_tokens {
                            self.push(lo, Token::Newline, lo + 1);
                            self.prev_line_deco = self.line_is_deco;
                        }
                        self.at_line_start = true;
                        self.logical_start = true;
                        self.line_has_tokens = false;
                    }
                }
                b'\\' => {
                    let lo = self.pos;
                    self.pos += 1;
                    match self.peek(0) {
                        b'\n' | b'\r' => self.newline_char(),
                        0 if self.pos >= self.end => {
                            self.err(lo, lo + 1, "unexpected EOF while parsing");
                        }
                        _ => {
                            self.err(lo, lo + 1, "unexpected character after line continuation character");
                        }
                    }
                }
                b'0'..=b'9' => self.number(),
                b'.' if self.peek(1).is_ascii_digit() => self.number(),
                b'\'' | b'"' => self.string(self.pos, self.pos, false, false, false),
                0 => {
                    self.err(self.pos, self.pos + 1, "source code cannot contain null bytes");
                    self.pos += 1;
                }
                _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => self.word(),
                _ => self.operator(),
            }
        }
        self.finish();
        (self.out, self.errors)
    }

    fn newline_char(&mut self) {
        if self.b[self.pos] == b'\r' && self.peek(1) == b'\n' {
            self.pos += 1;
        }
        if self.b[self.pos] == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn finish(&mut self) {
        if self.expr_mode {
            return;
        }
        if let Some(&(c, at)) = self.brackets.last() {
            let (line, _) = crate::diagnostic::line_col(self.src, at);
            self.err(at, at + 1, format!("unexpected end of file (unclosed '{}' opened at line {})", c as char, line));
        }
        let end = self.end;
        if self.line_has_tokens {
            self.push(end, Token::Newline, end);
        }
        while self.indents.len() > 1 {
            self.indents.pop();
            self.out.tokens.push((end, Token::Dedent, end));
        }
    }

    fn comment(&mut self, own_line: bool) {
        let lo = self.pos + 1;
        let mut i = lo;
        while i < self.end && self.b[i] != b'\n' && self.b[i] != b'\r' {
            i += 1;
        }
        let text = self.src[lo..i].trim().to_string();
        self.out.comments.push((self.line, text));
        if own_line {
            self.out.comment_lines.push(self.line);
        }
        self.pos = i;
    }

    /// Measure the indentation of a new line and emit INDENT/DEDENT. Blank and comment-only lines
    /// are consumed here. Returns false at end of input.
    fn indentation(&mut self) -> bool {
        let (mut col, mut alt) = (0u32, 0u32);
        let start = self.pos;
        while self.pos < self.end {
            match self.b[self.pos] {
                b' ' => {
                    col += 1;
                    alt += 1;
                }
                b'\t' => {
                    col = (col / 8 + 1) * 8;
                    alt += 1;
                }
                b'\x0c' => {
                    col = 0;
                    alt = 0;
                }
                _ => break,
            }
            self.pos += 1;
        }
        if self.pos >= self.end {
            return false;
        }
        match self.b[self.pos] {
            b'#' => {
                self.comment(true);
                return true;
            }
            b'\n' | b'\r' => {
                self.newline_char();
                return true;
            }
            b'\\' if matches!(self.peek(1), b'\n' | b'\r') => {
                // A continuation on an otherwise blank line: CPython joins it with the next
                // line, whose indentation then counts. Treat it as blank.
                self.pos += 1;
                self.newline_char();
                return true;
            }
            _ => {}
        }
        self.at_line_start = false;
        let here = self.pos;
        let (top, top_alt) = *self.indents.last().unwrap_or(&(0, 0));
        if col == top {
            if alt != top_alt {
                self.err(start, here.max(start + 1), "inconsistent use of tabs and spaces in indentation");
            }
        } else if col > top {
            if alt <= top_alt {
                self.err(start, here.max(start + 1), "inconsistent use of tabs and spaces in indentation");
            }
            if self.indents.len() > MAX_INDENT {
                self.err(here, here + 1, "too many levels of indentation");
                self.pos = self.end;
                return false;
            }
            self.indents.push((col, alt));
            self.out.tokens.push((here, Token::Indent, here));
        } else {
            while self.indents.len() > 1 && col < self.indents[self.indents.len() - 1].0 {
                self.indents.pop();
                self.out.tokens.push((here, Token::Dedent, here));
            }
            let (top, top_alt) = *self.indents.last().unwrap_or(&(0, 0));
            if col != top {
                let stop = self.line_end(here);
                self.err(here, stop, "unindent does not match any outer indentation level");
            } else if alt != top_alt {
                self.err(start, here.max(start + 1), "inconsistent use of tabs and spaces in indentation");
            }
        }
        true
    }

    fn line_end(&self, from: usize) -> usize {
        let mut i = from;
        while i < self.end && self.b[i] != b'\n' && self.b[i] != b'\r' {
            i += 1;
        }
        i.max(from + 1)
    }

    fn word(&mut self) {
        let lo = self.pos;
        let mut i = self.pos;
        let first = match self.char_at(i) {
            Some(c) => c,
            None => return,
        };
        if !is_id_start(first) {
            let n = first.len_utf8();
            self.err(lo, lo + n, format!("invalid character '{}' (U+{:04X})", first, first as u32));
            self.pos += n;
            return;
        }
        i += first.len_utf8();
        while i < self.end {
            let c = self.b[i];
            if c.is_ascii_alphanumeric() || c == b'_' {
                i += 1;
            } else if c >= 0x80 {
                match self.char_at(i) {
                    Some(ch) if is_id_continue(ch) => i += ch.len_utf8(),
                    _ => break,
                }
            } else {
                break;
            }
        }
        let w = &self.src[lo..i];
        // String prefixes.
        if i < self.end && (self.b[i] == b'\'' || self.b[i] == b'"') && w.len() <= 2 {
            let lw = w.to_ascii_lowercase();
            let (raw, bytes, fmt) = match lw.as_str() {
                "r" => (true, false, false),
                "b" => (false, true, false),
                "f" => (false, false, true),
                "u" => (false, false, false),
                "rb" | "br" => (true, true, false),
                "rf" | "fr" => (true, false, true),
                _ => (false, false, false),
            };
            if matches!(lw.as_str(), "r" | "b" | "f" | "u" | "rb" | "br" | "rf" | "fr") {
                self.string(lo, i, raw, bytes, fmt);
                return;
            }
        }
        self.pos = i;
        let kw = match w {
            "False" => Token::False,
            "None" => Token::None,
            "True" => Token::True,
            "and" => Token::And,
            "as" => Token::As,
            "assert" => Token::Assert,
            "break" => Token::Break,
            "class" => Token::Class,
            "continue" => Token::Continue,
            "def" => Token::Def,
            "del" => Token::Del,
            "elif" => Token::Elif,
            "else" => Token::Else,
            "except" => Token::Except,
            "finally" => Token::Finally,
            "for" => Token::For,
            "from" => Token::From,
            "global" => Token::Global,
            "if" => Token::If,
            "import" => Token::Import,
            "in" => Token::In,
            "is" => Token::Is,
            "lambda" => Token::Lambda,
            "nonlocal" => Token::Nonlocal,
            "not" => Token::Not,
            "or" => Token::Or,
            "pass" => Token::Pass,
            "raise" => Token::Raise,
            "return" => Token::Return,
            "try" => Token::Try,
            "while" => Token::While,
            "with" => Token::Reserved("with"),
            "yield" => Token::Reserved("yield"),
            "async" => Token::Reserved("async"),
            "await" => Token::Reserved("await"),
            "decorator" | "db_model" | "db_class" | "include" | "extend"
                if self.logical_start && self.brackets.is_empty() && !self.expr_mode && self.ident_follows(i) =>
            {
                match w {
                    "decorator" => Token::DecoratorKw,
                    "db_model" => Token::DbModel,
                    "db_class" => Token::DbClass,
                    "include" => Token::Include,
                    _ => Token::Extend,
                }
            }
            _ => Token::Name(w.to_string()),
        };
        self.push(lo, kw, i);
    }

    /// Whether an identifier follows `i` after spaces/tabs (`extend helpers` vs `extend = 3`).
    fn ident_follows(&self, mut i: usize) -> bool {
        while i < self.end && (self.b[i] == b' ' || self.b[i] == b'\t') {
            i += 1;
        }
        if i == self.pos {
            return false;
        }
        match self.char_at(i) {
            Some(c) => is_id_start(c),
            None => false,
        }
    }

    fn operator(&mut self) {
        let lo = self.pos;
        let c = self.b[lo];
        let c1 = self.peek(1);
        let c2 = self.peek(2);
        let (t, n) = match (c, c1, c2) {
            (b'*', b'*', b'=') => (Token::AugAssign("**"), 3),
            (b'/', b'/', b'=') => (Token::AugAssign("//"), 3),
            (b'<', b'<', b'=') => (Token::AugAssign("<<"), 3),
            (b'>', b'>', b'=') => (Token::AugAssign(">>"), 3),
            (b'.', b'.', b'.') => (Token::Ellipsis, 3),
            (b'*', b'*', _) => (Token::DoubleStar, 2),
            (b'/', b'/', _) => (Token::DoubleSlash, 2),
            (b'<', b'<', _) => (Token::LeftShift, 2),
            (b'>', b'>', _) => (Token::RightShift, 2),
            (b'=', b'=', _) => (Token::EqEqual, 2),
            (b'!', b'=', _) => (Token::NotEqual, 2),
            (b'<', b'>', _) => (Token::NotEqual, 2),
            (b'<', b'=', _) => (Token::LessEqual, 2),
            (b'>', b'=', _) => (Token::GreaterEqual, 2),
            (b'-', b'>', _) => (Token::Arrow, 2),
            (b'+', b'=', _) => (Token::AugAssign("+"), 2),
            (b'-', b'=', _) => (Token::AugAssign("-"), 2),
            (b'*', b'=', _) => (Token::AugAssign("*"), 2),
            (b'/', b'=', _) => (Token::AugAssign("/"), 2),
            (b'%', b'=', _) => (Token::AugAssign("%"), 2),
            (b'&', b'=', _) => (Token::AugAssign("&"), 2),
            (b'|', b'=', _) => (Token::AugAssign("|"), 2),
            (b'^', b'=', _) => (Token::AugAssign("^"), 2),
            (b'@', b'=', _) => (Token::AugAssign("@"), 2),
            (b'(', _, _) => (Token::LPar, 1),
            (b')', _, _) => (Token::RPar, 1),
            (b'[', _, _) => (Token::LSqb, 1),
            (b']', _, _) => (Token::RSqb, 1),
            (b'{', _, _) => (Token::LBrace, 1),
            (b'}', _, _) => (Token::RBrace, 1),
            (b':', _, _) => (Token::Colon, 1),
            (b',', _, _) => (Token::Comma, 1),
            (b';', _, _) => (Token::Semi, 1),
            (b'+', _, _) => (Token::Plus, 1),
            (b'-', _, _) => (Token::Minus, 1),
            (b'*', _, _) => (Token::Star, 1),
            (b'/', _, _) => (Token::Slash, 1),
            (b'|', _, _) => (Token::VBar, 1),
            (b'&', _, _) => {
                if self.logical_start && self.brackets.is_empty() && !self.expr_mode {
                    (Token::DecoAmp, 1)
                } else {
                    (Token::Amper, 1)
                }
            }
            (b'@', _, _) => {
                if self.logical_start && self.brackets.is_empty() && !self.expr_mode {
                    (Token::RouteAt, 1)
                } else {
                    (Token::At, 1)
                }
            }
            (b'<', _, _) => (Token::Less, 1),
            (b'>', _, _) => (Token::Greater, 1),
            (b'=', _, _) => (Token::Equal, 1),
            (b'.', _, _) => (Token::Dot, 1),
            (b'%', _, _) => (Token::Percent, 1),
            (b'~', _, _) => (Token::Tilde, 1),
            (b'^', _, _) => (Token::Circumflex, 1),
            _ => {
                let ch = self.char_at(lo).unwrap_or('?');
                let n = ch.len_utf8().max(1);
                if ch == '!' {
                    self.err(lo, lo + 1, "invalid syntax");
                } else if ch == '$' || ch == '?' || ch == '`' {
                    self.err(lo, lo + n, format!("invalid syntax ('{}' is not valid here)", ch));
                } else {
                    self.err(lo, lo + n, format!("invalid character '{}' (U+{:04X})", ch, ch as u32));
                }
                self.pos += n;
                return;
            }
        };
        self.pos += n;
        match t {
            Token::LPar | Token::LSqb | Token::LBrace => {
                if self.brackets.len() >= MAX_BRACKETS {
                    self.err(lo, lo + 1, "too many nested parentheses");
                    // Nothing sensible can follow; stop here so the parser never sees it.
                    self.pos = self.end;
                    self.brackets.clear();
                    return;
                }
                self.brackets.push((c, lo));
            }
            Token::RPar | Token::RSqb | Token::RBrace => match self.brackets.last() {
                None => {
                    if self.expr_mode {
                        self.err(lo, lo + 1, format!("f-string: unmatched '{}'", c as char));
                    } else {
                        self.err(lo, lo + 1, format!("unmatched '{}'", c as char));
                    }
                    return;
                }
                Some(&(open, at)) => {
                    let want = match open {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    if want != c {
                        let (line, _) = crate::diagnostic::line_col(self.src, at);
                        let (here, _) = crate::diagnostic::line_col(self.src, lo);
                        let msg = if line == here {
                            format!("closing parenthesis '{}' does not match opening parenthesis '{}'", c as char, open as char)
                        } else {
                            format!(
                                "closing parenthesis '{}' does not match opening parenthesis '{}' on line {}",
                                c as char, open as char, line
                            )
                        };
                        self.err(lo, lo + 1, msg);
                    }
                    self.brackets.pop();
                }
            },
            _ => {}
        }
        self.push(lo, t, lo + n);
    }

    /// Scan digits of `radix` with `_` separators (a `_` must sit between two digits).
    /// Returns false after reporting a misplaced underscore.
    fn digits(&mut self, radix: u32, allow_leading_underscore: bool) -> bool {
        let mut first = true;
        loop {
            let c = self.peek(0);
            if (c as char).is_digit(radix) {
                self.pos += 1;
            } else if c == b'_' && (!first || allow_leading_underscore) && (self.peek(1) as char).is_digit(radix) {
                self.pos += 1;
            } else if c == b'_' {
                return false;
            } else {
                return true;
            }
            first = false;
        }
    }

    fn number(&mut self) {
        let lo = self.pos;
        let c1 = self.peek(1) | 0x20;
        if self.peek(0) == b'0' && (c1 == b'x' || c1 == b'o' || c1 == b'b') {
            let (radix, name) = match c1 {
                b'x' => (16, "hexadecimal"),
                b'o' => (8, "octal"),
                _ => (2, "binary"),
            };
            self.pos += 2;
            let start = self.pos;
            let ok = self.digits(radix, true);
            let tail = self.ident_tail();
            if !ok || self.pos == start || tail {
                self.skip_word();
                self.err(lo, self.pos, format!("invalid {} literal", name));
                return;
            }
            let text: String = self.src[start..self.pos].chars().filter(|&c| c != '_').collect();
            let t = match i64::from_str_radix(&text, radix) {
                Ok(v) => Token::Int(v),
                Err(_) => match BigInt::parse_bytes(text.as_bytes(), radix) {
                    Some(b) => Token::BigInt(b),
                    None => {
                        self.err(lo, self.pos, format!("invalid {} literal", name));
                        return;
                    }
                },
            };
            self.push(lo, t, self.pos);
            return;
        }
        let mut ok = true;
        let mut is_float = false;
        if self.peek(0) != b'.' {
            ok &= self.digits(10, false);
        }
        if ok && self.peek(0) == b'.' && self.peek(1) != b'.' {
            is_float = true;
            self.pos += 1;
            if self.peek(0).is_ascii_digit() {
                ok &= self.digits(10, false);
            } else if self.peek(0) == b'_' {
                ok = false;
            }
        }
        if ok && (self.peek(0) | 0x20) == b'e' {
            let save = self.pos;
            self.pos += 1;
            if self.peek(0) == b'+' || self.peek(0) == b'-' {
                self.pos += 1;
            }
            if self.peek(0).is_ascii_digit() {
                is_float = true;
                ok &= self.digits(10, false);
            } else {
                self.pos = save;
                self.skip_word();
                self.err(lo, self.pos, "invalid decimal literal");
                return;
            }
        }
        if ok && (self.peek(0) | 0x20) == b'j' {
            self.pos += 1;
            self.err(lo, self.pos, "imaginary numbers are not supported");
            return;
        }
        if !ok || self.ident_tail() {
            self.skip_word();
            self.err(lo, self.pos, "invalid decimal literal");
            return;
        }
        let text: String = self.src[lo..self.pos].chars().filter(|&c| c != '_').collect();
        if is_float {
            match text.parse::<f64>() {
                Ok(v) => self.push(lo, Token::Float(v), self.pos),
                Err(_) => self.err(lo, self.pos, "invalid decimal literal"),
            }
            return;
        }
        if text.len() > 1 && text.starts_with('0') && text.bytes().any(|b| b != b'0') {
            self.err(
                lo,
                self.pos,
                "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
            );
            return;
        }
        let t = match text.parse::<i64>() {
            Ok(v) => Token::Int(v),
            Err(_) => match BigInt::parse_bytes(text.as_bytes(), 10) {
                Some(b) => Token::BigInt(b),
                None => {
                    self.err(lo, self.pos, "invalid decimal literal");
                    return;
                }
            },
        };
        self.push(lo, t, self.pos);
    }

    /// Whether an identifier character follows the current position (`1abc`).
    fn ident_tail(&self) -> bool {
        match self.char_at(self.pos) {
            Some(c) => is_id_continue(c),
            None => false,
        }
    }

    fn skip_word(&mut self) {
        while let Some(c) = self.char_at(self.pos) {
            if is_id_continue(c) || c == '.' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    /// A string literal starting at `lo` (its prefix) whose opening quote is at `q`.
    fn string(&mut self, lo: usize, q: usize, raw: bool, bytes: bool, fmt: bool) {
        let quote = self.b[q];
        let triple = q + 2 < self.end && self.b[q + 1] == quote && self.b[q + 2] == quote;
        let cs = q + if triple { 3 } else { 1 };
        let mut i = cs;
        let start_line = self.line;
        let mut lines = 0u32;
        let ce;
        loop {
            if i >= self.end {
                let msg = if triple {
                    let last = start_line + lines;
                    format!("unterminated triple-quoted string literal (detected at line {})", last)
                } else {
                    format!("unterminated string literal (detected at line {})", start_line)
                };
                self.err(q, q + 1, msg);
                self.line += lines;
                self.pos = self.end;
                return;
            }
            let c = self.b[i];
            if c == b'\\' {
                i += 1;
                if i < self.end {
                    if self.b[i] == b'\n' {
                        lines += 1;
                    } else if self.b[i] == b'\r' && i + 1 < self.end && self.b[i + 1] == b'\n' {
                        i += 1;
                        lines += 1;
                    }
                    i += 1;
                }
            } else if c == quote {
                if !triple {
                    ce = i;
                    break;
                }
                if i + 2 < self.end && self.b[i + 1] == quote && self.b[i + 2] == quote {
                    ce = i;
                    break;
                }
                i += 1;
            } else if c == b'\n' || c == b'\r' {
                if !triple {
                    self.err(q, q + 1, format!("unterminated string literal (detected at line {})", start_line));
                    self.pos = i;
                    return;
                }
                if c == b'\n' {
                    lines += 1;
                }
                i += 1;
            } else {
                i += 1;
            }
        }
        let hi = ce + if triple { 3 } else { 1 };
        self.pos = hi;
        let tok = if fmt {
            let errs_before = self.errors.len();
            let parts = self.fparts(cs, ce, raw, 0);
            if self.errors.len() > errs_before {
                self.line += lines;
                return;
            }
            Token::FStr(parts)
        } else if bytes {
            match decode_bytes(&self.src[cs..ce], raw) {
                Ok(b) => Token::Bytes(b),
                Err((off, msg)) => {
                    self.err(cs + off, cs + off + 1, msg);
                    self.line += lines;
                    return;
                }
            }
        } else {
            match decode_str(&self.src[cs..ce], raw) {
                Ok(s) => Token::Str(s),
                Err((off, msg)) => {
                    self.err(cs + off, cs + off + 1, msg);
                    self.line += lines;
                    return;
                }
            }
        };
        self.push(lo, tok, hi);
        self.line += lines;
    }

    /// Split f-string content `src[cs..ce]` into literal parts and replacement fields.
    fn fparts(&mut self, cs: usize, ce: usize, raw: bool, depth: u32) -> Vec<FRaw> {
        let mut parts = Vec::new();
        let mut lit_start = cs;
        let mut lit = String::new();
        let mut i = cs;
        let b = self.b;
        while i < ce {
            match b[i] {
                b'{' if i + 1 < ce && b[i + 1] == b'{' && depth == 0 => {
                    self.flush_lit(&mut lit, lit_start, i, raw);
                    lit.push('{');
                    i += 2;
                    lit_start = i;
                }
                b'}' if i + 1 < ce && b[i + 1] == b'}' && depth == 0 => {
                    self.flush_lit(&mut lit, lit_start, i, raw);
                    lit.push('}');
                    i += 2;
                    lit_start = i;
                }
                b'{' => {
                    self.flush_lit(&mut lit, lit_start, i, raw);
                    if !lit.is_empty() {
                        parts.push(FRaw::Lit(std::mem::take(&mut lit)));
                    }
                    match self.field(i + 1, ce, raw, depth) {
                        Some((part, next)) => {
                            parts.push(part);
                            i = next;
                        }
                        None => return parts,
                    }
                    lit_start = i;
                }
                b'}' => {
                    self.err(i, i + 1, "f-string: single '}' is not allowed");
                    return parts;
                }
                b'\\' if !raw && i + 1 < ce => {
                    // Skip the escaped character so `\{` keeps its brace for the field check
                    // below, as CPython does (`\N{...}` is a named escape, not a field).
                    if b[i + 1] == b'N' && i + 2 < ce && b[i + 2] == b'{' {
                        while i < ce && b[i] != b'}' {
                            i += 1;
                        }
                        i += 1;
                    } else if b[i + 1] == b'{' || b[i + 1] == b'}' {
                        i += 1;
                    } else {
                        i += 2;
                    }
                }
                _ => i += 1,
            }
        }
        self.flush_lit(&mut lit, lit_start, ce.min(i), raw);
        if !lit.is_empty() {
            parts.push(FRaw::Lit(lit));
        }
        parts
    }

    fn flush_lit(&mut self, lit: &mut String, lo: usize, hi: usize, raw: bool) {
        if lo >= hi {
            return;
        }
        match decode_str(&self.src[lo..hi], raw) {
            Ok(s) => lit.push_str(&s),
            Err((off, msg)) => self.err(lo + off, lo + off + 1, msg),
        }
    }

    /// One replacement field starting after `{` at `start`; returns the part and the index after
    /// its closing `}`.
    fn field(&mut self, start: usize, ce: usize, raw: bool, depth: u32) -> Option<(FRaw, usize)> {
        if depth >= 2 {
            self.err(start - 1, start, "f-string: expressions nested too deeply");
            return None;
        }
        let b = self.b;
        let mut i = start;
        let mut nest: Vec<u8> = Vec::new();
        let mut debug_eq: Option<usize> = None;
        let expr_end;
        loop {
            if i >= ce {
                self.err(start - 1, start, "f-string: expecting '}'");
                return None;
            }
            let c = b[i];
            match c {
                b'(' | b'[' | b'{' => {
                    if nest.len() >= MAX_BRACKETS {
                        self.err(i, i + 1, "too many nested parentheses");
                        return None;
                    }
                    nest.push(c);
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    if nest.is_empty() {
                        if c == b'}' {
                            expr_end = i;
                            break;
                        }
                        self.err(i, i + 1, format!("f-string: unmatched '{}'", c as char));
                        return None;
                    }
                    nest.pop();
                    i += 1;
                }
                b'\'' | b'"' => {
                    let triple = i + 2 < ce && b[i + 1] == c && b[i + 2] == c;
                    let mut j = i + if triple { 3 } else { 1 };
                    loop {
                        if j >= ce {
                            self.err(i, i + 1, "f-string: unterminated string");
                            return None;
                        }
                        if b[j] == c && (!triple || (j + 2 < ce && b[j + 1] == c && b[j + 2] == c)) {
                            j += if triple { 3 } else { 1 };
                            break;
                        }
                        j += 1;
                    }
                    i = j;
                }
                b'\\' => {
                    self.err(i, i + 1, "f-string expression part cannot include a backslash");
                    return None;
                }
                b'#' => {
                    self.err(i, i + 1, "f-string expression part cannot include '#'");
                    return None;
                }
                b'!' if nest.is_empty() && !(i + 1 < ce && b[i + 1] == b'=') => {
                    expr_end = i;
                    break;
                }
                b':' if nest.is_empty() => {
                    expr_end = i;
                    break;
                }
                b'=' if nest.is_empty()
                    && !(i + 1 < ce && b[i + 1] == b'=')
                    && !(i > start && matches!(b[i - 1], b'=' | b'!' | b'<' | b'>')) =>
                {
                    // `{x=}`: only when what follows is the end of the expression.
                    let mut j = i + 1;
                    while j < ce && (b[j] == b' ' || b[j] == b'\t') {
                        j += 1;
                    }
                    if j < ce && matches!(b[j], b'}' | b'!' | b':') {
                        debug_eq = Some(i);
                        expr_end = j;
                        break;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let expr_hi = debug_eq.unwrap_or(expr_end);
        if self.src[start..expr_hi].trim().is_empty() {
            self.err(start - 1, expr_end + 1, "f-string: empty expression not allowed");
            return None;
        }
        let debug = debug_eq.map(|_| self.src[start..expr_end].to_string());
        let mut i = expr_end;
        let mut conv = None;
        if b[i] == b'!' {
            let c = if i + 1 < ce { b[i + 1] } else { 0 };
            let after = if i + 2 < ce { b[i + 2] } else { 0 };
            if !matches!(c, b'r' | b's' | b'a') || !matches!(after, b':' | b'}') {
                self.err(i, i + 2, "f-string: invalid conversion character: expected 's', 'r', or 'a'");
                return None;
            }
            conv = Some(c as char);
            i += 2;
        }
        let mut spec = Vec::new();
        if b[i] == b':' {
            // The spec runs to the matching `}`; nested `{...}` fields are allowed.
            let spec_start = i + 1;
            let mut j = spec_start;
            let mut level = 0;
            loop {
                if j >= ce {
                    self.err(start - 1, start, "f-string: expecting '}'");
                    return None;
                }
                match b[j] {
                    b'{' => level += 1,
                    b'}' if level == 0 => break,
                    b'}' => level -= 1,
                    _ => {}
                }
                j += 1;
            }
            let errs = self.errors.len();
            spec = self.fparts(spec_start, j, raw, depth + 1);
            if self.errors.len() > errs {
                return None;
            }
            i = j;
        }
        if i >= ce || b[i] != b'}' {
            self.err(start - 1, start, "f-string: expecting '}'");
            return None;
        }
        if debug.is_some() && conv.is_none() && spec.is_empty() {
            conv = Some('r');
        }
        Some((FRaw::Expr { lo: start, hi: expr_hi, conv, spec, debug }, i + 1))
    }
}

/// Decode the body of a (non-bytes) string literal. Errors carry a byte offset into `s`.
pub fn decode_str(s: &str, raw: bool) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    if raw {
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\r' => {
                    out.push('\n');
                    if i + 1 < b.len() && b[i + 1] == b'\n' {
                        i += 1;
                    }
                    i += 1;
                }
                _ => {
                    let start = i;
                    while i < b.len() && b[i] != b'\r' {
                        i += 1;
                    }
                    out.push_str(&s[start..i]);
                }
            }
        }
        return Ok(out);
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\r' {
            out.push('\n');
            if i + 1 < b.len() && b[i + 1] == b'\n' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c != b'\\' {
            let start = i;
            while i < b.len() && b[i] != b'\\' && b[i] != b'\r' {
                i += 1;
            }
            out.push_str(&s[start..i]);
            continue;
        }
        // Backslash escape.
        let at = i;
        i += 1;
        if i >= b.len() {
            out.push('\\');
            break;
        }
        let e = b[i];
        i += 1;
        match e {
            b'\n' => {}
            b'\r' => {
                if i < b.len() && b[i] == b'\n' {
                    i += 1;
                }
            }
            b'\\' => out.push('\\'),
            b'\'' => out.push('\''),
            b'"' => out.push('"'),
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\x0b'),
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            b'x' | b'u' | b'U' => {
                let n = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = s.get(i..i + n).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let what = match e {
                        b'x' => "truncated \\xXX escape",
                        b'u' => "truncated \\uXXXX escape",
                        _ => "truncated \\UXXXXXXXX escape",
                    };
                    return Err((at, format!("(unicode error) 'unicodeescape' codec can't decode bytes: {}", what)));
                };
                let v = u32::from_str_radix(hex, 16).unwrap_or(0xfffd);
                match char::from_u32(v) {
                    Some(ch) => out.push(ch),
                    None => {
                        return Err((
                            at,
                            "(unicode error) 'unicodeescape' codec can't decode bytes: illegal Unicode character"
                                .to_string(),
                        ))
                    }
                }
                i += n;
            }
            b'N' => {
                // `\N{NAME}`. CPython's error positions count a non-ASCII character as the 10
                // bytes of the `\UXXXXXXXX` it re-encodes the literal into first.
                let cpos = |k: usize| s[..k].chars().map(|c| if c.is_ascii() { 1 } else { 10 }).sum::<usize>();
                let err = |end: usize, what: &str| {
                    let msg = format!(
                        "(unicode error) 'unicodeescape' codec can't decode bytes in position {}-{}: {what}",
                        cpos(at),
                        cpos(end)
                    );
                    Err((at, msg))
                };
                if b.get(i) != Some(&b'{') {
                    return err(at + 1, "malformed \\N character escape");
                }
                let Some(close) = s[i + 1..].find('}').map(|p| i + 1 + p) else {
                    let last = s.char_indices().last().map(|(k, _)| k).unwrap_or(at);
                    return err(last, "malformed \\N character escape");
                };
                if close == i + 1 {
                    return err(i, "malformed \\N character escape");
                }
                match char_by_name(&s[i + 1..close]) {
                    Some(ch) => out.push(ch),
                    None => return err(close, "unknown Unicode character name"),
                }
                i = close + 1;
            }
            _ => {
                // Unknown escapes are kept as written, like Python.
                out.push('\\');
                i -= 1;
            }
        }
    }
    Ok(out)
}

/// The character `\N{name}` names, accepting what CPython 3.11 accepts: a character's name or a
/// name alias, case-insensitively (the algorithmic `CJK UNIFIED IDEOGRAPH-…` and
/// `HANGUL SYLLABLE …` names exactly). The table's own lookup is looser (UAX44-LM2 ignores
/// spaces, `_` and medial `-`), so such spellings are refused here, as CPython refuses them.
fn char_by_name(name: &str) -> Option<char> {
    // No name starts with `-`, and the table's normaliser subtracts from the index of a leading
    // `-` (an overflow panic in debug builds), so such input never reaches it.
    if name.starts_with('-') {
        return None;
    }
    let ch = unicode_names2::character(name)?;
    let canonical = unicode_names2::name(ch).map(|n| n.to_string());
    if let Some(canon) = &canonical {
        if canon.starts_with("CJK UNIFIED IDEOGRAPH-") || canon.starts_with("HANGUL SYLLABLE ") {
            return (canon == name).then_some(ch);
        }
        if canon.eq_ignore_ascii_case(name) {
            return Some(ch);
        }
    }
    // Not the character's name: an alias (`LF`, `NBSP`, `BYTE ORDER MARK`), written as aliases
    // are, unless it is a loose spelling of the name itself.
    let well_formed = !name.starts_with(' ')
        && !name.ends_with(' ')
        && !name.contains("  ")
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b' ' || c == b'-');
    let squash = |s: &str| s.bytes().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect::<Vec<u8>>();
    let loose_name = canonical.is_some_and(|c| squash(&c) == squash(name));
    (well_formed && !loose_name).then_some(ch)
}

/// Decode the body of a bytes literal.
pub fn decode_bytes(s: &str, raw: bool) -> Result<Vec<u8>, (usize, String)> {
    if let Some(p) = s.bytes().position(|c| c >= 0x80) {
        return Err((p, "bytes can only contain ASCII literal characters".to_string()));
    }
    if raw {
        return Ok(decode_str(s, true)?.into_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\r' {
            out.push(b'\n');
            if i + 1 < b.len() && b[i + 1] == b'\n' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c != b'\\' || i + 1 >= b.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let at = i;
        let e = b[i + 1];
        i += 2;
        match e {
            b'\n' => {}
            b'\r' => {
                if i < b.len() && b[i] == b'\n' {
                    i += 1;
                }
            }
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = s.get(i..i + 2).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    return Err((at, "(value error) invalid \\x escape".to_string()));
                };
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Tokenize a whole file (also used for golden tests).
pub fn lex(src: &str, file: &str) -> (Lexed, Vec<Diagnostic>) {
    Lexer::new(src, file).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Token> {
        let (l, e) = lex(src, "t.ask");
        assert!(e.is_empty(), "{:?}", e);
        l.tokens.into_iter().map(|t| t.1).collect()
    }
    fn lex_err(src: &str) -> String {
        let (_, e) = lex(src, "t.ask");
        assert!(!e.is_empty(), "expected an error for {:?}", src);
        e[0].message.clone()
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("1_000"), vec![Token::Int(1000), Token::Newline]);
        assert_eq!(toks("0x1F 0o17 0b101"), vec![Token::Int(31), Token::Int(15), Token::Int(5), Token::Newline]);
        assert_eq!(toks("1e5 .5 1. 1.5e-3 1_000.5")[..5], [
            Token::Float(1e5),
            Token::Float(0.5),
            Token::Float(1.0),
            Token::Float(1.5e-3),
            Token::Float(1000.5)
        ]);
        assert!(matches!(toks("99999999999999999999999")[0], Token::BigInt(_)));
        assert_eq!(toks("0_0 00"), vec![Token::Int(0), Token::Int(0), Token::Newline]);
        assert_eq!(lex_err("1__0"), "invalid decimal literal");
        assert_eq!(lex_err("1_"), "invalid decimal literal");
        assert_eq!(lex_err("0x"), "invalid hexadecimal literal");
        assert_eq!(lex_err("0b102"), "invalid binary literal");
        assert!(lex_err("012").starts_with("leading zeros"));
        assert_eq!(lex_err("1abc"), "invalid decimal literal");
        assert_eq!(toks("x.y"), vec![Token::Name("x".into()), Token::Dot, Token::Name("y".into()), Token::Newline]);
    }

    #[test]
    fn escapes() {
        assert_eq!(decode_str(r"a\tb\\c\'\x41\u00e9\U0001F600\101\d", false).unwrap(), "a\tb\\c'Aé😀A\\d");
        assert_eq!(decode_str("a\\\nb", false).unwrap(), "ab");
        assert_eq!(decode_str(r"\n", true).unwrap(), "\\n");
        assert!(decode_str(r"\x4", false).is_err());
        // `\N{NAME}`: names and aliases, case-insensitively; not in raw strings or bytes.
        assert_eq!(decode_str(r"\N{EM DASH}\N{latin small letter a}\N{LF}\N{NBSP}!", false).unwrap(), "\u{2014}a\n\u{a0}!");
        assert_eq!(decode_str(r"\N{HANGUL SYLLABLE GA}\N{CJK UNIFIED IDEOGRAPH-4E00}", false).unwrap(), "\u{ac00}\u{4e00}");
        assert_eq!(decode_str(r"\N{BULLET}", true).unwrap(), r"\N{BULLET}");
        assert_eq!(decode_bytes(r"\N{BULLET}", false).unwrap(), br"\N{BULLET}".to_vec());
        let unknown = |s: &str| decode_str(s, false).unwrap_err();
        assert_eq!(
            unknown(r"ab\N{NO SUCH NAME}"),
            (2, "(unicode error) 'unicodeescape' codec can't decode bytes in position 2-17: unknown Unicode character name".to_string())
        );
        assert!(unknown("é\\N{FOO}").1.contains("position 10-16: unknown"));
        for loose in [r"\N{-}", r"\N{-EM DASH}", r"\N{ -x}", r"\N{LATINSMALLLETTERA}", r"\N{LATIN_SMALL_LETTER_A}", r"\N{ LATIN SMALL LETTER A}", r"\N{hangul syllable ga}"] {
            assert!(unknown(loose).1.ends_with("unknown Unicode character name"), "{loose}");
        }
        assert!(unknown(r"\N").1.ends_with("position 0-1: malformed \\N character escape"));
        assert!(unknown(r"\N{abc").1.ends_with("position 0-5: malformed \\N character escape"));
        assert!(unknown(r"\N{}").1.ends_with("position 0-2: malformed \\N character escape"));
        assert_eq!(decode_bytes(r"\x41\n\u", false).unwrap(), b"A\n\\u".to_vec());
        assert_eq!(toks(r"r'\''"), vec![Token::Str("\\'".into()), Token::Newline]);
        assert_eq!(toks("'''a\r\nb'''"), vec![Token::Str("a\nb".into()), Token::Newline]);
    }

    #[test]
    fn indentation_stack() {
        use Token::*;
        let t = toks("if x:\n  y\n  if z:\n\t\t\tw\nv\n");
        assert_eq!(
            t,
            vec![
                If,
                Name("x".into()),
                Colon,
                Newline,
                Indent,
                Name("y".into()),
                Newline,
                If,
                Name("z".into()),
                Colon,
                Newline,
                Indent,
                Name("w".into()),
                Newline,
                Dedent,
                Dedent,
                Name("v".into()),
                Newline
            ]
        );
        assert_eq!(lex_err("if x:\n    y\n  z\n"), "unindent does not match any outer indentation level");
        assert_eq!(lex_err("if x:\n        y\n\tz\n"), "inconsistent use of tabs and spaces in indentation");
        // Blank and comment lines do not matter.
        assert_eq!(toks("if x:\n\n   # c\n  y\n").iter().filter(|t| **t == Indent).count(), 1);
        // EOF closes blocks.
        assert_eq!(toks("if x:\n  if y:\n    z").iter().filter(|t| **t == Dedent).count(), 2);
    }

    #[test]
    fn contextual_words() {
        use Token::*;
        assert_eq!(toks("extend a")[0], Extend);
        assert_eq!(toks("extend = 3")[0], Name("extend".into()));
        assert_eq!(toks("xs.extend(ys)")[2], Name("extend".into()));
        assert_eq!(toks("&x\n")[0], DecoAmp);
        assert_eq!(toks("a & b")[1], Amper);
        assert_eq!(toks("@get('/')")[0], RouteAt);
        assert_eq!(toks("(a\n&b)")[2], Amper);
    }

    #[test]
    fn brackets_and_strings() {
        assert_eq!(lex_err("f(x))"), "unmatched ')'");
        assert_eq!(lex_err("x = 'abc"), "unterminated string literal (detected at line 1)");
        assert!(lex_err("(\n").starts_with("unexpected end of file (unclosed '(' opened at line 1)"));
        assert_eq!(lex_err(&"(".repeat(300)), "too many nested parentheses");
    }
}
