//! `import re`: Python's regular expressions on top of `fancy-regex` (a backtracking engine
//! with look-around and backreferences that delegates plain sub-patterns to the linear-time
//! `regex` crate).
//!
//! Python's pattern syntax is translated first ([`translate`]): `$` (end or before a final
//! newline), `\Z`, octal and `\uXXXX` escapes, literal `{`, `(?P=name)`, verbose mode, nested
//! `[` in classes... Positions are code-point indexes in Python and byte offsets in Rust; match
//! objects keep byte spans and convert on demand. Empty-match iteration follows Python 3.7+
//! (an empty match may follow a non-empty one). Catastrophic backtracking hits the engine's
//! backtrack limit and raises `RuntimeError` instead of hanging a request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use fancy_regex::{Regex, RegexBuilder};

use super::util::{self, bind, downcast, func, method, obj, py_str_repr, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{Dict, ExcKind, HKey, IterObj, NativeIter, NativeObject, StrObj, Value};
use crate::Vm;

pub const I: i64 = 2;
pub const L: i64 = 4;
pub const M: i64 = 8;
pub const S: i64 = 16;
pub const U: i64 = 32;
pub const X: i64 = 64;
pub const A: i64 = 256;

/// Backtracking steps one search may take before it fails with `RuntimeError`.
const BACKTRACK_LIMIT: usize = 1_000_000;
const CACHE_MAX: usize = 512;

pub fn module(vm: &mut Vm) -> Value {
    let base = vm.exc_classes.get(ExcKind::Exception as usize).cloned();
    let err = util::class("error", base, vec![]);
    let flag = |v: i64| Value::Int(v);
    util::module(
        "re",
        vec![
            ("compile", func("compile", compile)),
            ("search", func("search", search)),
            ("match", func("match", match_)),
            ("fullmatch", func("fullmatch", fullmatch)),
            ("findall", func("findall", findall)),
            ("finditer", func("finditer", finditer)),
            ("sub", func("sub", sub)),
            ("subn", func("subn", subn)),
            ("split", func("split", split)),
            ("escape", func("escape", escape)),
            ("purge", func("purge", purge)),
            ("error", Value::Class(err)),
            // For `isinstance(x, re.Pattern)` (native objects match classes by type name).
            ("Pattern", Value::Class(util::class("Pattern", None, vec![]))),
            ("Match", Value::Class(util::class("Match", None, vec![]))),
            ("NOFLAG", flag(0)),
            ("I", flag(I)),
            ("IGNORECASE", flag(I)),
            ("L", flag(L)),
            ("LOCALE", flag(L)),
            ("M", flag(M)),
            ("MULTILINE", flag(M)),
            ("S", flag(S)),
            ("DOTALL", flag(S)),
            ("U", flag(U)),
            ("UNICODE", flag(U)),
            ("X", flag(X)),
            ("VERBOSE", flag(X)),
            ("A", flag(A)),
            ("ASCII", flag(A)),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Compiled patterns

/// One translation of a pattern with its lazily built variants.
struct Engine {
    /// The translated pattern (Rust syntax), flags included.
    body: String,
    re: Regex,
    anchored: OnceLock<Result<Regex, String>>,
    full: OnceLock<Result<Regex, String>>,
    /// `\G(?:body)`: a match starting exactly at the search position.
    at_pos: OnceLock<Result<Regex, String>>,
    /// `\G(?:body)\z`.
    full_at_pos: OnceLock<Result<Regex, String>>,
    /// `\G(?:body)(?!\G)`: a non-empty match starting at the search position.
    nonempty_at_pos: OnceLock<Result<Regex, String>>,
}

impl Engine {
    fn new(body: String) -> Result<Engine, String> {
        let re = build(&body)?;
        Ok(Engine {
            body,
            re,
            anchored: OnceLock::new(),
            full: OnceLock::new(),
            at_pos: OnceLock::new(),
            full_at_pos: OnceLock::new(),
            nonempty_at_pos: OnceLock::new(),
        })
    }
    fn variant<'a>(&'a self, cell: &'a OnceLock<Result<Regex, String>>, pre: &str, post: &str) -> VmResult<&'a Regex> {
        let r = cell.get_or_init(|| build(&format!("{pre}(?:{}){post}", self.body)));
        r.as_ref().map_err(|e| Exc::new(ExcKind::RuntimeError, e.clone()))
    }
}

/// A compiled pattern, shared (through the per-thread cache) by every `Pattern` object with the
/// same source and flags. Only `Send + Sync` data, so it may travel with a VM between threads.
pub struct Compiled {
    pub pattern: String,
    pub flags: i64,
    /// Exact translation (Python's `$` as a look-ahead `(?=\n?\z)`).
    exact: Engine,
    /// When the pattern has a non-multiline `$`: the translation with `$` as `\z`, which is
    /// exact on subjects that do not end with a newline and needs no backtracking engine.
    fast: Option<Engine>,
    /// Number of capture groups (without group 0).
    pub groups: usize,
    /// Group names with their numbers, in order.
    pub names: Vec<(String, usize)>,
}

enum CompileErr {
    /// A syntax error: becomes `re.error`.
    Syntax(String),
}

type CacheMap = HashMap<String, Vec<(i64, Arc<Compiled>)>>;

thread_local! {
    static CACHE: RefCell<CacheMap> = RefCell::new(HashMap::new());
}

fn build(body: &str) -> Result<Regex, String> {
    RegexBuilder::new(body).backtrack_limit(BACKTRACK_LIMIT).build().map_err(|e| e.to_string())
}

fn compile_cached(pattern: &str, flags: i64) -> Result<Arc<Compiled>, CompileErr> {
    let hit = CACHE.with(|c| {
        c.borrow().get(pattern).and_then(|v| v.iter().find(|(f, _)| *f == flags).map(|(_, c)| c.clone()))
    });
    if let Some(c) = hit {
        return Ok(c);
    }
    let (body, eff, has_dollar) = translate(pattern, flags, false).map_err(CompileErr::Syntax)?;
    let exact = Engine::new(body).map_err(|e| CompileErr::Syntax(clean_error(&e)))?;
    let fast = if has_dollar {
        let (fbody, _, _) = translate(pattern, flags, true).map_err(CompileErr::Syntax)?;
        Engine::new(fbody).ok()
    } else {
        None
    };
    let groups = exact.re.captures_len() - 1;
    let names = exact
        .re
        .capture_names()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
        .collect();
    let c = Arc::new(Compiled { pattern: pattern.to_string(), flags: eff | U, exact, fast, groups, names });
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.entry(pattern.to_string()).or_default().push((flags, c.clone()));
    });
    Ok(c)
}

fn clean_error(e: &str) -> String {
    e.replace("Parsing error at position", "error at position")
}

impl Compiled {
    /// The engine to run on `hay`: the fast one when `$` cannot match before a final newline.
    fn engine(&self, hay: &str) -> &Engine {
        match &self.fast {
            Some(f) if !hay.ends_with('\n') => f,
            _ => &self.exact,
        }
    }
    fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }
}

type Spans = Vec<Option<(usize, usize)>>;

fn run_err(e: fancy_regex::Error) -> Exc {
    match e {
        fancy_regex::Error::RuntimeError(fancy_regex::RuntimeError::BacktrackLimitExceeded) => {
            Exc::new(ExcKind::RuntimeError, "regular expression backtrack limit exceeded")
        }
        other => Exc::new(ExcKind::RuntimeError, format!("regular expression error: {other}")),
    }
}

fn captures(re: &Regex, hay: &str, at: usize) -> VmResult<Option<Spans>> {
    match re.captures_from_pos(hay, at).map_err(run_err)? {
        None => Ok(None),
        Some(caps) => Ok(Some((0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))).collect())),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Search,
    Match,
    Full,
}

/// One search in `text[..end]` from byte `at`.
fn find(c: &Compiled, text: &str, at: usize, end: usize, mode: Mode) -> VmResult<Option<Spans>> {
    let hay = &text[..end];
    if at > hay.len() {
        return Ok(None);
    }
    let e = c.engine(hay);
    match mode {
        Mode::Search => captures(&e.re, hay, at),
        Mode::Match if at == 0 => captures(e.variant(&e.anchored, "\\A", "")?, hay, 0),
        Mode::Full if at == 0 => captures(e.variant(&e.full, "\\A", "\\z")?, hay, 0),
        // `\G` anchors at the search position while look-behind still sees the text before it.
        Mode::Match => captures(e.variant(&e.at_pos, "\\G", "")?, hay, at),
        Mode::Full => captures(e.variant(&e.full_at_pos, "\\G", "\\z")?, hay, at),
    }
}

fn next_boundary(s: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < s.len() && !s.is_char_boundary(j) {
        j += 1;
    }
    j
}

/// Python 3.7+ iteration over matches: after an empty match, the next match may not be empty
/// at the same position.
struct Scanner {
    c: Arc<Compiled>,
    text: Rc<StrObj>,
    at: usize,
    end: usize,
    must_advance: bool,
    done: bool,
}

impl Scanner {
    fn next_spans(&mut self) -> VmResult<Option<Spans>> {
        while !self.done {
            if self.at > self.end {
                self.done = true;
                break;
            }
            let spans = match find(&self.c, &self.text.s, self.at, self.end, Mode::Search)? {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(s) => s,
            };
            let (s, e) = spans[0].unwrap_or((self.at, self.at));
            if self.must_advance && s == e && s == self.at {
                // Python rejects only this empty match: another alternative may match a
                // non-empty string at the same position.
                let hay = &self.text.s[..self.end];
                let e = self.c.engine(hay);
                let re = e.variant(&e.nonempty_at_pos, "\\G", "(?!\\G)")?;
                if let Some(sp) = captures(re, hay, self.at)? {
                    if let Some((_, e2)) = sp[0] {
                        self.must_advance = false;
                        self.at = e2;
                        return Ok(Some(sp));
                    }
                }
                if self.at >= self.end {
                    self.done = true;
                    return Ok(None);
                }
                self.at = next_boundary(&self.text.s, self.at);
                self.must_advance = false;
                continue;
            }
            self.must_advance = s == e;
            self.at = e;
            return Ok(Some(spans));
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Translation of Python syntax

fn is_flag_char(c: char) -> bool {
    matches!(c, 'a' | 'i' | 'L' | 'm' | 's' | 'u' | 'x')
}

fn flag_bit(c: char) -> i64 {
    match c {
        'a' => A,
        'i' => I,
        'L' => L,
        'm' => M,
        's' => S,
        'u' => U,
        'x' => X,
        _ => 0,
    }
}

/// Emit a literal character so that the Rust engine reads it literally.
fn push_lit(out: &mut String, c: char, in_class: bool) {
    let special = if in_class {
        matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~')
    } else {
        matches!(c, '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&' | '-' | '~')
    };
    if special {
        out.push('\\');
        out.push(c);
    } else if c.is_whitespace() || c.is_control() {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// Translate a Python pattern to the engine's syntax. Returns the body (with the flags as an
/// inline group) and the effective flags (pattern-level inline flags included).
///
/// `dollar_z`: translate a non-multiline `$` as `\z` (exact only for subjects without a final
/// newline). The third result tells whether such a `$` occurs.
pub fn translate(pat: &str, mut flags: i64, dollar_z: bool) -> Result<(String, i64, bool), String> {
    let chars: Vec<char> = pat.chars().collect();
    let n = chars.len();
    let mut i = 0;
    // Global inline flags at the start: `(?im)`.
    while i + 2 < n && chars[i] == '(' && chars[i + 1] == '?' && is_flag_char(chars[i + 2]) {
        let mut j = i + 2;
        let mut f = 0;
        while j < n && is_flag_char(chars[j]) {
            f |= flag_bit(chars[j]);
            j += 1;
        }
        if j < n && chars[j] == ')' {
            flags |= f;
            i = j + 1;
        } else {
            break;
        }
    }
    let verbose = flags & X != 0;
    let ascii = flags & A != 0;
    let multiline = flags & M != 0;
    let mut out = String::with_capacity(pat.len() + 16);
    let mut prefix = String::new();
    if flags & I != 0 {
        prefix.push('i');
    }
    if multiline {
        prefix.push('m');
    }
    if flags & S != 0 {
        prefix.push('s');
    }
    if !prefix.is_empty() {
        out.push_str(&format!("(?{prefix})"));
    }
    let mut depth = 0usize;
    let mut has_dollar = false;
    while i < n {
        let c = chars[i];
        match c {
            '\\' => {
                i = escape_at(&chars, i, false, ascii, &mut out)?;
                continue;
            }
            '[' => {
                i = class_at(&chars, i, ascii, &mut out)?;
                continue;
            }
            '(' => {
                if i + 1 < n && chars[i + 1] == '?' {
                    let rest: String = chars[i + 2..].iter().take(3).collect();
                    if rest.starts_with("P=") {
                        // (?P=name) → \k<name>
                        let close = chars[i..].iter().position(|&ch| ch == ')').map(|p| p + i);
                        let Some(close) = close else {
                            return Err(format!("missing ), unterminated name at position {}", i + 4));
                        };
                        let name: String = chars[i + 4..close].iter().collect();
                        out.push_str(&format!("(?:\\k<{name}>)"));
                        i = close + 1;
                        continue;
                    }
                    if rest.starts_with('#') {
                        let close = chars[i..].iter().position(|&ch| ch == ')').map(|p| p + i);
                        let Some(close) = close else {
                            return Err(format!("missing ), unterminated comment at position {i}"));
                        };
                        i = close + 1;
                        continue;
                    }
                    if rest.starts_with(|ch: char| is_flag_char(ch) || ch == '-') {
                        // Scoped flags `(?i:...)`: drop the ones the engine lacks.
                        let mut j = i + 2;
                        let mut fl = String::new();
                        while j < n && (is_flag_char(chars[j]) || chars[j] == '-') {
                            if !matches!(chars[j], 'a' | 'L' | 'u') {
                                fl.push(chars[j]);
                            }
                            j += 1;
                        }
                        if j < n && chars[j] == ':' {
                            depth += 1;
                            out.push_str(&format!("(?{fl}:"));
                            i = j + 1;
                            continue;
                        }
                        if j < n && chars[j] == ')' {
                            return Err(format!("global flags not at the start of the expression at position {i}"));
                        }
                        return Err(format!("unknown flag at position {}", j));
                    }
                }
                depth += 1;
                out.push('(');
            }
            ')' => {
                if depth == 0 {
                    return Err(format!("unbalanced parenthesis at position {i}"));
                }
                depth -= 1;
                out.push(')');
            }
            '{' => {
                // A quantifier `{m}`, `{m,}`, `{,n}`, `{m,n}`; anything else is a literal brace.
                let mut j = i + 1;
                let mut lo = String::new();
                let mut hi = String::new();
                let mut comma = false;
                while j < n && (chars[j].is_ascii_digit() || (chars[j] == ',' && !comma)) {
                    if chars[j] == ',' {
                        comma = true;
                    } else if comma {
                        hi.push(chars[j]);
                    } else {
                        lo.push(chars[j]);
                    }
                    j += 1;
                }
                if j < n && chars[j] == '}' && (!lo.is_empty() || (comma && !hi.is_empty())) {
                    if let (Ok(a), Ok(b)) = (lo.parse::<u64>(), hi.parse::<u64>()) {
                        if b < a {
                            return Err(format!("min repeat greater than max repeat at position {}", i + 1));
                        }
                    }
                    out.push('{');
                    out.push_str(if lo.is_empty() { "0" } else { &lo });
                    if comma {
                        out.push(',');
                        out.push_str(&hi);
                    }
                    out.push('}');
                    i = j + 1;
                    continue;
                }
                out.push_str("\\{");
            }
            '}' => out.push_str("\\}"),
            '$' => {
                if multiline {
                    out.push('$');
                } else if dollar_z {
                    has_dollar = true;
                    out.push_str("\\z");
                } else {
                    has_dollar = true;
                    out.push_str("(?=\\n?\\z)");
                }
            }
            '#' if verbose => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            c if verbose && c.is_whitespace() => {}
            '&' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_whitespace() && c != ' ' => push_lit(&mut out, c, false),
            c => out.push(c),
        }
        i += 1;
    }
    if depth > 0 {
        return Err("missing ), unterminated subpattern at position 0".to_string());
    }
    Ok((out, flags, has_dollar))
}

/// Translate the escape at `chars[i] == '\\'`; returns the index after it.
fn escape_at(chars: &[char], i: usize, in_class: bool, ascii: bool, out: &mut String) -> Result<usize, String> {
    let n = chars.len();
    if i + 1 >= n {
        return Err(format!("bad escape (end of pattern) at position {i}"));
    }
    let c = chars[i + 1];
    let hex = |from: usize, len: usize| -> Result<u32, String> {
        if from + len > n {
            return Err(format!("incomplete escape \\{c} at position {i}"));
        }
        let s: String = chars[from..from + len].iter().collect();
        u32::from_str_radix(&s, 16).map_err(|_| format!("incomplete escape \\{c}{s} at position {i}"))
    };
    let push_cp = |out: &mut String, cp: u32| -> Result<(), String> {
        match char::from_u32(cp) {
            Some(ch) => {
                push_lit(out, ch, in_class);
                Ok(())
            }
            None => Err(format!("bad escape at position {i}")),
        }
    };
    match c {
        '0'..='7' if c == '0' || in_class || (i + 3 < n && chars[i + 2].is_digit(8) && chars[i + 3].is_digit(8)) => {
            // Octal: \0, \0oo, or three octal digits.
            let mut j = i + 1;
            let mut v = 0u32;
            while j < n && j < i + 4 && chars[j].is_digit(8) {
                v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            if v > 0o377 {
                return Err(format!("octal escape value \\{:o} outside of range 0-0o377 at position {i}", v));
            }
            push_cp(out, v)?;
            Ok(j)
        }
        '1'..='9' => {
            let mut j = i + 1;
            let mut num = String::new();
            while j < n && j < i + 3 && chars[j].is_ascii_digit() {
                num.push(chars[j]);
                j += 1;
            }
            out.push_str(&format!("(?:\\{num})"));
            Ok(j)
        }
        'A' if !in_class => {
            out.push_str("\\A");
            Ok(i + 2)
        }
        'Z' if !in_class => {
            out.push_str("\\z");
            Ok(i + 2)
        }
        'b' if in_class => {
            out.push_str("\\x{8}");
            Ok(i + 2)
        }
        'b' | 'B' => {
            out.push('\\');
            out.push(c);
            Ok(i + 2)
        }
        'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
            if ascii {
                let (cls, neg) = match c {
                    'd' => ("0-9", false),
                    'D' => ("0-9", true),
                    'w' => ("0-9A-Za-z_", false),
                    'W' => ("0-9A-Za-z_", true),
                    's' => (" \\t\\n\\r\\x0C\\x0B", false),
                    _ => (" \\t\\n\\r\\x0C\\x0B", true),
                };
                if in_class && !neg {
                    out.push_str(cls);
                } else if !in_class {
                    out.push_str(&format!("[{}{}]", if neg { "^" } else { "" }, cls));
                } else {
                    out.push('\\');
                    out.push(c);
                }
            } else {
                out.push('\\');
                out.push(c);
            }
            Ok(i + 2)
        }
        'n' => {
            out.push_str("\\n");
            Ok(i + 2)
        }
        't' => {
            out.push_str("\\t");
            Ok(i + 2)
        }
        'r' => {
            out.push_str("\\r");
            Ok(i + 2)
        }
        'f' => {
            out.push_str("\\x{c}");
            Ok(i + 2)
        }
        'v' => {
            out.push_str("\\x{b}");
            Ok(i + 2)
        }
        'a' => {
            out.push_str("\\x{7}");
            Ok(i + 2)
        }
        'x' => {
            push_cp(out, hex(i + 2, 2)?)?;
            Ok(i + 4)
        }
        'u' => {
            push_cp(out, hex(i + 2, 4)?)?;
            Ok(i + 6)
        }
        'U' => {
            push_cp(out, hex(i + 2, 8)?)?;
            Ok(i + 10)
        }
        c if c.is_ascii_alphanumeric() => Err(format!("bad escape \\{c} at position {i}")),
        c => {
            push_lit(out, c, in_class);
            Ok(i + 2)
        }
    }
}

/// Translate the character class starting at `chars[i] == '['`; returns the index after it.
fn class_at(chars: &[char], i: usize, ascii: bool, out: &mut String) -> Result<usize, String> {
    let n = chars.len();
    let mut j = i + 1;
    out.push('[');
    if j < n && chars[j] == '^' {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    loop {
        if j >= n {
            return Err(format!("unterminated character set at position {i}"));
        }
        let c = chars[j];
        match c {
            ']' if !first => {
                out.push(']');
                return Ok(j + 1);
            }
            '\\' => {
                j = escape_at(chars, j, true, ascii, out)?;
            }
            '-' => {
                out.push('-');
                j += 1;
            }
            c => {
                push_lit(out, c, true);
                j += 1;
            }
        }
        first = false;
    }
}

// ---------------------------------------------------------------------------------------------
// Pattern and Match objects

pub struct PatternObj {
    pub c: Arc<Compiled>,
}

pub struct MatchObj {
    c: Arc<Compiled>,
    text: Rc<StrObj>,
    idx: Rc<TextIndex>,
    spans: Spans,
    pos: usize,
    endpos: usize,
}

/// Byte → code-point offsets for one subject string, shared by all matches of one scan so
/// that `m.start()` over a long non-ASCII text stays cheap (a count per 256-byte block).
#[derive(Default)]
pub struct TextIndex {
    ascii: std::cell::OnceCell<bool>,
    marks: std::cell::OnceCell<Vec<u32>>,
}

const BLOCK: usize = 256;

/// Code points in a byte range: every byte that is not a UTF-8 continuation byte starts one.
fn count_chars(b: &[u8]) -> usize {
    b.iter().filter(|&&x| (x as i8) >= -0x40).count()
}

impl TextIndex {
    fn char_index(&self, s: &str, b: usize) -> usize {
        if *self.ascii.get_or_init(|| s.is_ascii()) {
            return b;
        }
        let bytes = s.as_bytes();
        if b < 4 * BLOCK {
            return count_chars(&bytes[..b]);
        }
        let marks = self.marks.get_or_init(|| {
            let mut v = Vec::with_capacity(bytes.len() / BLOCK + 2);
            let mut c = 0usize;
            v.push(0u32);
            for chunk in bytes.chunks(BLOCK) {
                c += count_chars(chunk);
                v.push(c as u32);
            }
            v
        });
        let k = b / BLOCK;
        marks[k] as usize + count_chars(&bytes[k * BLOCK..b])
    }
}

/// Byte offset of char index `ci` (clamped to the string).
fn byte_index(s: &str, ci: i64) -> usize {
    let len_chars = if s.is_ascii() { s.len() } else { s.chars().count() };
    let ci = if ci < 0 { 0 } else { (ci as usize).min(len_chars) };
    if s.is_ascii() {
        ci
    } else {
        s.char_indices().nth(ci).map(|(b, _)| b).unwrap_or(s.len())
    }
}

impl MatchObj {
    fn group_no(&self, v: &Value) -> VmResult<usize> {
        match v {
            Value::Int(i) if *i >= 0 && (*i as usize) <= self.c.groups => Ok(*i as usize),
            Value::Bool(b) => Ok(*b as usize),
            Value::Str(s) => self.c.group_index(&s.s).ok_or_else(|| Exc::index_error("no such group")),
            _ => Err(Exc::index_error("no such group")),
        }
    }
    fn group_value(&self, g: usize, default: &Value) -> Value {
        match self.spans.get(g).copied().flatten() {
            Some((s, e)) => Value::str(&self.text.s[s..e]),
            None => default.clone(),
        }
    }
    fn span_of(&self, g: usize) -> (i64, i64) {
        match self.spans.get(g).copied().flatten() {
            Some((s, e)) => (self.idx.char_index(&self.text.s, s) as i64, self.idx.char_index(&self.text.s, e) as i64),
            None => (-1, -1),
        }
    }
}

impl NativeObject for PatternObj {
    fn type_name(&self) -> &str {
        "Pattern"
    }
    fn repr(&self) -> String {
        let shown = self.c.flags & !U;
        if shown == 0 {
            format!("re.compile({})", py_str_repr(&self.c.pattern))
        } else {
            format!("re.compile({}, {})", py_str_repr(&self.c.pattern), flags_repr(shown))
        }
    }
    fn eq(&self, other: &dyn NativeObject) -> Option<bool> {
        other
            .as_any()
            .downcast_ref::<PatternObj>()
            .map(|o| o.c.pattern == self.c.pattern && o.c.flags == self.c.flags)
    }
    fn hash(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        self.c.pattern.hash(&mut h);
        self.c.flags.hash(&mut h);
        Some(h.finish())
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "pattern" => Value::str(self.c.pattern.clone()),
            "flags" => Value::Int(self.c.flags),
            "groups" => Value::Int(self.c.groups as i64),
            "groupindex" => {
                let mut d = Dict::default();
                for (n, i) in &self.c.names {
                    d.insert(HKey(Value::str(n.clone())), Value::Int(*i as i64));
                }
                Value::dict(d)
            }
            "search" => method("search", p_search, this),
            "match" => method("match", p_match, this),
            "fullmatch" => method("fullmatch", p_fullmatch, this),
            "findall" => method("findall", p_findall, this),
            "finditer" => method("finditer", p_finditer, this),
            "sub" => method("sub", p_sub, this),
            "subn" => method("subn", p_subn, this),
            "split" => method("split", p_split, this),
            _ => return Ok(None),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn flags_repr(flags: i64) -> String {
    let names = [(I, "re.IGNORECASE"), (L, "re.LOCALE"), (M, "re.MULTILINE"), (S, "re.DOTALL"), (X, "re.VERBOSE"), (A, "re.ASCII")];
    let mut parts: Vec<String> = names.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| n.to_string()).collect();
    let rest = flags & !(I | L | M | S | X | A | U);
    if rest != 0 {
        parts.push(format!("0x{rest:x}"));
    }
    parts.join("|")
}

impl NativeObject for MatchObj {
    fn type_name(&self) -> &str {
        "Match"
    }
    fn repr(&self) -> String {
        let (s, e) = self.span_of(0);
        let (bs, be) = self.spans[0].unwrap_or((0, 0));
        format!("<re.Match object; span=({s}, {e}), match={}>", py_str_repr(&self.text.s[bs..be]))
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "string" => Value::Str(self.text.clone()),
            "re" => obj(PatternObj { c: self.c.clone() }),
            "pos" => Value::Int(self.pos as i64),
            "endpos" => Value::Int(self.endpos as i64),
            "lastindex" => {
                // The group that closed last: the matched group with the greatest end, the
                // outermost on ties (Python's definition).
                let mut best: Option<(usize, usize, usize)> = None;
                for g in 1..self.spans.len() {
                    if let Some((s, e)) = self.spans[g] {
                        match best {
                            Some((_, be, bs)) if e < be || (e == be && s >= bs) => {}
                            _ => best = Some((g, e, s)),
                        }
                    }
                }
                best.map(|(g, _, _)| Value::Int(g as i64)).unwrap_or(Value::None)
            }
            "lastgroup" => {
                let li = self.get_attr(_vm, this, "lastindex")?;
                match li {
                    Some(Value::Int(g)) => self
                        .c
                        .names
                        .iter()
                        .find(|(_, i)| *i as i64 == g)
                        .map(|(n, _)| Value::str(n.clone()))
                        .unwrap_or(Value::None),
                    _ => Value::None,
                }
            }
            "regs" => Value::tuple(
                (0..self.spans.len())
                    .map(|g| {
                        let (s, e) = self.span_of(g);
                        Value::tuple(vec![Value::Int(s), Value::Int(e)])
                    })
                    .collect(),
            ),
            "group" => method("group", m_group, this),
            "groups" => method("groups", m_groups, this),
            "groupdict" => method("groupdict", m_groupdict, this),
            "start" => method("start", m_start, this),
            "end" => method("end", m_end, this),
            "span" => method("span", m_span, this),
            "expand" => method("expand", m_expand, this),
            "__getitem__" => method("__getitem__", m_getitem, this),
            _ => return Ok(None),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn mobj(args: &[Value]) -> VmResult<&MatchObj> {
    util::this::<MatchObj>(args, "re.Match")
}

fn m_group(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("group", kw)?;
    let m = mobj(args)?;
    let rest = &args[1..];
    match rest.len() {
        0 => Ok(m.group_value(0, &Value::None)),
        1 => Ok(m.group_value(m.group_no(&rest[0])?, &Value::None)),
        _ => {
            let mut out = Vec::with_capacity(rest.len());
            for g in rest {
                out.push(m.group_value(m.group_no(g)?, &Value::None));
            }
            Ok(Value::tuple(out))
        }
    }
}

fn m_getitem(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("__getitem__", &args[1.min(args.len())..], kw, 1)?;
    let m = mobj(args)?;
    Ok(m.group_value(m.group_no(&args[1])?, &Value::None))
}

fn m_groups(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let m = mobj(args)?;
    let [default] = bind("groups", &args[1..], kw, ["default"], 0)?;
    let default = default.unwrap_or_default();
    Ok(Value::tuple((1..=m.c.groups).map(|g| m.group_value(g, &default)).collect()))
}

fn m_groupdict(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let m = mobj(args)?;
    let [default] = bind("groupdict", &args[1..], kw, ["default"], 0)?;
    let default = default.unwrap_or_default();
    let mut d = Dict::default();
    for (n, g) in &m.c.names {
        d.insert(HKey(Value::str(n.clone())), m.group_value(*g, &default));
    }
    Ok(Value::dict(d))
}

fn span_arg(m: &MatchObj, args: &[Value], kw: &Kw, name: &str) -> VmResult<(i64, i64)> {
    let [g] = bind(name, &args[1..], kw, ["group"], 0)?;
    let g = match g {
        None => 0,
        Some(v) => m.group_no(&v)?,
    };
    Ok(m.span_of(g))
}

fn m_start(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let m = mobj(args)?;
    Ok(Value::Int(span_arg(m, args, kw, "start")?.0))
}
fn m_end(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let m = mobj(args)?;
    Ok(Value::Int(span_arg(m, args, kw, "end")?.1))
}
fn m_span(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let m = mobj(args)?;
    let (s, e) = span_arg(m, args, kw, "span")?;
    Ok(Value::tuple(vec![Value::Int(s), Value::Int(e)]))
}

fn m_expand(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("expand", &args[1.min(args.len())..], kw, 1)?;
    let m = mobj(args)?;
    let tpl = args[1].as_str().ok_or_else(|| Exc::type_error("expected str instance"))?;
    let pieces = parse_template(vm, tpl, &m.c)?;
    let mut out = String::new();
    expand_into(&mut out, &pieces, &m.text.s, &m.spans);
    Ok(Value::str(out))
}

// ---------------------------------------------------------------------------------------------
// Functions

fn re_error(vm: &mut Vm, msg: &str) -> Exc {
    let cls = vm.module_cache.get("re").and_then(|m| match m {
        Value::Module(m) => m.attrs.borrow().get("error").cloned(),
        _ => None,
    });
    match cls {
        Some(cls) => util::raise_class(vm, &cls, ExcKind::ValueError, msg),
        None => Exc::new(ExcKind::ValueError, msg),
    }
}

/// The compiled pattern of a `str` pattern or a `Pattern` object.
fn get_compiled(vm: &mut Vm, pat: &Value, flags: Option<&Value>) -> VmResult<Arc<Compiled>> {
    let flags = match flags {
        None | Some(Value::None) => 0,
        Some(Value::Int(f)) => *f,
        Some(Value::Bool(b)) => *b as i64,
        Some(other) => return Err(Exc::type_error(format!("unsupported operand type(s) for &: '{}' and 'int'", tname(other)))),
    };
    if let Some(p) = downcast::<PatternObj>(pat) {
        if flags != 0 {
            return Err(Exc::value_error("cannot process flags argument with a compiled pattern"));
        }
        return Ok(p.c.clone());
    }
    let s = match pat {
        Value::Str(s) => &s.s,
        Value::Bytes(_) => return Err(Exc::type_error("bytes patterns are not supported")),
        other => return Err(Exc::type_error(format!("first argument must be string or compiled pattern, not {}", tname(other)))),
    };
    match compile_cached(s, flags) {
        Ok(c) => Ok(c),
        Err(CompileErr::Syntax(msg)) => Err(re_error(vm, &msg)),
    }
}

fn text_arg(v: &Value) -> VmResult<Rc<StrObj>> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(Exc::type_error(format!("expected string or bytes-like object, got '{}'", tname(other)))),
    }
}

fn compile(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [pat, flags] = bind("compile", args, kw, ["pattern", "flags"], 1)?;
    let pat = pat.unwrap_or_default();
    if downcast::<PatternObj>(&pat).is_some() && flags.as_ref().map_or(true, |f| matches!(f, Value::Int(0))) {
        return Ok(pat);
    }
    let c = get_compiled(vm, &pat, flags.as_ref())?;
    Ok(obj(PatternObj { c }))
}

fn purge(_vm: &mut Vm, _args: &[Value], _kw: &Kw) -> VmResult<Value> {
    CACHE.with(|c| c.borrow_mut().clear());
    Ok(Value::None)
}

fn escape(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("escape", args, kw, 1)?;
    let s = args[0].as_str().ok_or_else(|| Exc::type_error(format!("expected str, got {}", tname(&args[0]))))?;
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::str(out))
}

/// The parts shared by the module functions and the Pattern methods: (compiled, text, pos, endpos
/// as byte offsets and char indexes).
struct Target {
    c: Arc<Compiled>,
    text: Rc<StrObj>,
    idx: Rc<TextIndex>,
    pos: usize,
    end: usize,
    pos_c: usize,
    end_c: usize,
}

fn target(c: Arc<Compiled>, text: Rc<StrObj>, pos: Option<Value>, endpos: Option<Value>) -> VmResult<Target> {
    let len_c = if text.s.is_ascii() { text.s.len() } else { text.s.chars().count() } as i64;
    let clamp = |v: Option<Value>, dflt: i64| -> VmResult<i64> {
        Ok(match v {
            None | Some(Value::None) => dflt,
            Some(v) => {
                let i = util::to_i64(&v)?;
                let i = if i < 0 { 0 } else { i };
                i.min(len_c)
            }
        })
    };
    let pos_c = clamp(pos, 0)?;
    let end_c = clamp(endpos, len_c)?.max(pos_c);
    let pos = byte_index(&text.s, pos_c);
    let end = byte_index(&text.s, end_c);
    Ok(Target { c, text, idx: Rc::new(TextIndex::default()), pos, end, pos_c: pos_c as usize, end_c: end_c as usize })
}

fn make_match(t: &Target, spans: Spans) -> Value {
    obj(MatchObj { c: t.c.clone(), text: t.text.clone(), idx: t.idx.clone(), spans, pos: t.pos_c, endpos: t.end_c })
}

fn do_find(t: &Target, mode: Mode) -> VmResult<Value> {
    Ok(match find(&t.c, &t.text.s, t.pos, t.end, mode)? {
        Some(spans) => make_match(t, spans),
        None => Value::None,
    })
}

/// Module-level `re.f(pattern, string, flags=0)`.
fn module_target(vm: &mut Vm, name: &str, args: &[Value], kw: &Kw) -> VmResult<Target> {
    let [pat, s, flags] = bind(name, args, kw, ["pattern", "string", "flags"], 2)?;
    let c = get_compiled(vm, &pat.unwrap_or_default(), flags.as_ref())?;
    target(c, text_arg(&s.unwrap_or_default())?, None, None)
}

/// `Pattern.f(string, pos=0, endpos=len)`.
fn pattern_target(name: &str, args: &[Value], kw: &Kw) -> VmResult<Target> {
    let p = util::this::<PatternObj>(args, "re.Pattern")?;
    let [s, pos, endpos] = bind(name, &args[1..], kw, ["string", "pos", "endpos"], 1)?;
    target(p.c.clone(), text_arg(&s.unwrap_or_default())?, pos, endpos)
}

fn search(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&module_target(vm, "search", args, kw)?, Mode::Search)
}
fn match_(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&module_target(vm, "match", args, kw)?, Mode::Match)
}
fn fullmatch(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&module_target(vm, "fullmatch", args, kw)?, Mode::Full)
}
fn p_search(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&pattern_target("search", args, kw)?, Mode::Search)
}
fn p_match(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&pattern_target("match", args, kw)?, Mode::Match)
}
fn p_fullmatch(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_find(&pattern_target("fullmatch", args, kw)?, Mode::Full)
}

fn scanner(t: &Target) -> Scanner {
    Scanner { c: t.c.clone(), text: t.text.clone(), at: t.pos, end: t.end, must_advance: false, done: false }
}

fn do_findall(t: &Target) -> VmResult<Value> {
    let mut sc = scanner(t);
    let mut out = Vec::new();
    let s = &t.text.s;
    let grp = |sp: &Spans, g: usize| -> Value {
        match sp.get(g).copied().flatten() {
            Some((a, b)) => Value::str(&s[a..b]),
            None => Value::str(""),
        }
    };
    while let Some(sp) = sc.next_spans()? {
        out.push(match t.c.groups {
            0 => grp(&sp, 0),
            1 => grp(&sp, 1),
            n => Value::tuple((1..=n).map(|g| grp(&sp, g)).collect()),
        });
    }
    Ok(Value::list(out))
}

fn findall(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_findall(&module_target(vm, "findall", args, kw)?)
}
fn p_findall(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    do_findall(&pattern_target("findall", args, kw)?)
}

struct MatchIter {
    sc: Scanner,
    idx: Rc<TextIndex>,
    pos_c: usize,
    end_c: usize,
}

impl NativeIter for MatchIter {
    fn next(&mut self, _vm: &mut Vm) -> VmResult<Option<Value>> {
        Ok(self.sc.next_spans()?.map(|spans| {
            obj(MatchObj {
                c: self.sc.c.clone(),
                text: self.sc.text.clone(),
                idx: self.idx.clone(),
                spans,
                pos: self.pos_c,
                endpos: self.end_c,
            })
        }))
    }
}

fn do_finditer(t: &Target) -> Value {
    let it = MatchIter { sc: scanner(t), idx: t.idx.clone(), pos_c: t.pos_c, end_c: t.end_c };
    Value::Iter(Rc::new(RefCell::new(IterObj::Native(crate::value::NativeBox::new(it)))))
}

fn finditer(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(do_finditer(&module_target(vm, "finditer", args, kw)?))
}
fn p_finditer(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(do_finditer(&pattern_target("finditer", args, kw)?))
}

fn do_split(t: &Target, maxsplit: i64) -> VmResult<Value> {
    let mut sc = scanner(t);
    sc.at = 0;
    sc.end = t.text.s.len();
    let s = &t.text.s;
    let mut out = Vec::new();
    let mut last = 0;
    let mut count = 0;
    while maxsplit <= 0 || count < maxsplit {
        let Some(sp) = sc.next_spans()? else { break };
        let (a, b) = sp[0].unwrap_or((0, 0));
        out.push(Value::str(&s[last..a]));
        for g in 1..sp.len() {
            out.push(match sp[g] {
                Some((x, y)) => Value::str(&s[x..y]),
                None => Value::None,
            });
        }
        last = b;
        count += 1;
    }
    out.push(Value::str(&s[last..]));
    Ok(Value::list(out))
}

fn split(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [pat, s, maxsplit, flags] = bind("split", args, kw, ["pattern", "string", "maxsplit", "flags"], 2)?;
    let c = get_compiled(vm, &pat.unwrap_or_default(), flags.as_ref())?;
    let t = target(c, text_arg(&s.unwrap_or_default())?, None, None)?;
    let maxsplit = match maxsplit {
        Some(v) => util::to_i64(&v)?,
        None => 0,
    };
    do_split(&t, maxsplit)
}

fn p_split(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let p = util::this::<PatternObj>(args, "re.Pattern")?;
    let [s, maxsplit] = bind("split", &args[1..], kw, ["string", "maxsplit"], 1)?;
    let t = target(p.c.clone(), text_arg(&s.unwrap_or_default())?, None, None)?;
    let maxsplit = match maxsplit {
        Some(v) => util::to_i64(&v)?,
        None => 0,
    };
    do_split(&t, maxsplit)
}

enum Piece {
    Lit(String),
    Group(usize),
}

/// Parse a replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`...), as `re._parse_template`.
fn parse_template(vm: &mut Vm, tpl: &str, c: &Compiled) -> VmResult<Vec<Piece>> {
    let chars: Vec<char> = tpl.chars().collect();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let ch = chars[i];
        if ch != '\\' {
            lit.push(ch);
            i += 1;
            continue;
        }
        if i + 1 >= n {
            return Err(re_error(vm, &format!("bad escape (end of pattern) at position {i}")));
        }
        let e = chars[i + 1];
        let group = |g: usize, pieces: &mut Vec<Piece>, lit: &mut String| {
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(lit)));
            }
            pieces.push(Piece::Group(g));
        };
        match e {
            'g' => {
                let close = if i + 2 < n && chars[i + 2] == '<' {
                    chars[i + 3..].iter().position(|&c| c == '>').map(|p| p + i + 3)
                } else {
                    None
                };
                let Some(close) = close else {
                    return Err(re_error(vm, &format!("missing < at position {}", i + 2)));
                };
                let name: String = chars[i + 3..close].iter().collect();
                let g = if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) {
                    let g: usize = name.parse().unwrap_or(usize::MAX);
                    if g > c.groups {
                        return Err(re_error(vm, &format!("invalid group reference {name} at position {}", i + 3)));
                    }
                    g
                } else {
                    match c.group_index(&name) {
                        Some(g) => g,
                        None => return Err(Exc::index_error(format!("unknown group name '{name}'"))),
                    }
                };
                group(g, &mut pieces, &mut lit);
                i = close + 1;
            }
            '0' => {
                let mut j = i + 2;
                let mut v = 0u32;
                while j < n && j < i + 4 && chars[j].is_digit(8) {
                    v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                    j += 1;
                }
                lit.push(char::from_u32(v).unwrap_or('\0'));
                i = j;
            }
            '1'..='9' => {
                let mut j = i + 1;
                let mut num = String::new();
                while j < n && j < i + 3 && chars[j].is_ascii_digit() {
                    num.push(chars[j]);
                    j += 1;
                }
                let g: usize = num.parse().unwrap_or(0);
                if g > c.groups {
                    return Err(re_error(vm, &format!("invalid group reference {g} at position {}", i + 1)));
                }
                group(g, &mut pieces, &mut lit);
                i = j;
            }
            'n' => {
                lit.push('\n');
                i += 2;
            }
            't' => {
                lit.push('\t');
                i += 2;
            }
            'r' => {
                lit.push('\r');
                i += 2;
            }
            'f' => {
                lit.push('\u{c}');
                i += 2;
            }
            'v' => {
                lit.push('\u{b}');
                i += 2;
            }
            'a' => {
                lit.push('\u{7}');
                i += 2;
            }
            'b' => {
                lit.push('\u{8}');
                i += 2;
            }
            '\\' => {
                lit.push('\\');
                i += 2;
            }
            e if e.is_ascii_alphabetic() => {
                return Err(re_error(vm, &format!("bad escape \\{e} at position {i}")));
            }
            e => {
                lit.push('\\');
                lit.push(e);
                i += 2;
            }
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

fn expand_into(out: &mut String, pieces: &[Piece], s: &str, spans: &Spans) {
    for p in pieces {
        match p {
            Piece::Lit(l) => out.push_str(l),
            Piece::Group(g) => {
                if let Some((a, b)) = spans.get(*g).copied().flatten() {
                    out.push_str(&s[a..b]);
                }
            }
        }
    }
}

fn do_sub(vm: &mut Vm, t: &Target, repl: &Value, count: i64) -> VmResult<(String, i64)> {
    enum Repl {
        Template(Vec<Piece>),
        Func(Value),
    }
    let repl = match repl {
        Value::Str(s) => {
            if s.s.contains('\\') {
                Repl::Template(parse_template(vm, &s.s, &t.c)?)
            } else {
                Repl::Template(vec![Piece::Lit(s.s.clone())])
            }
        }
        other => Repl::Func(other.clone()),
    };
    let mut sc = scanner(t);
    sc.at = 0;
    sc.end = t.text.s.len();
    let s = t.text.s.as_str();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut n = 0;
    while count <= 0 || n < count {
        let Some(sp) = sc.next_spans()? else { break };
        let (a, b) = sp[0].unwrap_or((0, 0));
        out.push_str(&s[last..a]);
        match &repl {
            Repl::Template(pieces) => expand_into(&mut out, pieces, s, &sp),
            Repl::Func(f) => {
                let m = make_match(t, sp);
                let r = vm.call_value(f, &[m], &[])?;
                match &r {
                    Value::Str(rs) => out.push_str(&rs.s),
                    other => {
                        return Err(Exc::type_error(format!("expected str instance, {} found", tname(other))))
                    }
                }
            }
        }
        last = b;
        n += 1;
    }
    out.push_str(&s[last..]);
    Ok((out, n))
}

fn sub_args(vm: &mut Vm, name: &str, args: &[Value], kw: &Kw) -> VmResult<(String, i64)> {
    let [pat, repl, s, count, flags] = bind(name, args, kw, ["pattern", "repl", "string", "count", "flags"], 3)?;
    let c = get_compiled(vm, &pat.unwrap_or_default(), flags.as_ref())?;
    let t = target(c, text_arg(&s.unwrap_or_default())?, None, None)?;
    let count = match count {
        Some(v) => util::to_i64(&v)?,
        None => 0,
    };
    do_sub(vm, &t, &repl.unwrap_or_default(), count)
}

fn p_sub_args(vm: &mut Vm, name: &str, args: &[Value], kw: &Kw) -> VmResult<(String, i64)> {
    let p = util::this::<PatternObj>(args, "re.Pattern")?;
    let [repl, s, count] = bind(name, &args[1..], kw, ["repl", "string", "count"], 2)?;
    let t = target(p.c.clone(), text_arg(&s.unwrap_or_default())?, None, None)?;
    let count = match count {
        Some(v) => util::to_i64(&v)?,
        None => 0,
    };
    do_sub(vm, &t, &repl.unwrap_or_default(), count)
}

fn sub(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(sub_args(vm, "sub", args, kw)?.0))
}
fn subn(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (s, n) = sub_args(vm, "subn", args, kw)?;
    Ok(Value::tuple(vec![Value::str(s), Value::Int(n)]))
}
fn p_sub(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(p_sub_args(vm, "sub", args, kw)?.0))
}
fn p_subn(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (s, n) = p_sub_args(vm, "subn", args, kw)?;
    Ok(Value::tuple(vec![Value::str(s), Value::Int(n)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str, f: i64) -> Arc<Compiled> {
        match compile_cached(p, f) {
            Ok(c) => c,
            Err(CompileErr::Syntax(m)) => panic!("{p}: {m}"),
        }
    }

    fn all(p: &str, s: &str) -> Vec<(usize, usize)> {
        let text = Rc::new(StrObj::new(s.to_string()));
        let mut sc = Scanner { c: c(p, 0), text, at: 0, end: s.len(), must_advance: false, done: false };
        let mut out = Vec::new();
        while let Some(sp) = sc.next_spans().unwrap() {
            out.push(sp[0].unwrap());
        }
        out
    }

    #[test]
    fn empty_matches_like_python() {
        // re.sub('x*', '-', 'abxd') == '-a-b--d-'
        assert_eq!(all("x*", "abxd"), vec![(0, 0), (1, 1), (2, 3), (3, 3), (4, 4)]);
        assert_eq!(all("x*", "xx"), vec![(0, 2), (2, 2)]);
        assert_eq!(all(r"\b", "a b"), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
        // re.findall(r'a{2}|b{,2}|c{1,}', 'aaabbbcc') == ['aa', '', 'bb', 'b', '', 'cc', '']
        assert_eq!(all(r"a{2}|b{,2}|c{1,}", "aaabbbcc"), vec![(0, 2), (2, 2), (3, 5), (5, 6), (6, 6), (6, 8), (8, 8)]);
    }

    #[test]
    fn python_syntax_translates() {
        for (p, s, want) in [
            (r"^\d+$", "123\n", Some((0, 3))),
            (r"a{", "a{", Some((0, 2))),
            (r"a{,2}", "aaa", Some((0, 2))),
            (r"(?P<x>a)(?P=x)", "baa", Some((1, 3))),
            (r"(a)\1", "xaa", Some((1, 3))),
            (r"(?<=a)b", "ab", Some((1, 2))),
            (r"foo\Z", "foo\n", None),
            (r"[[]", "[", Some((0, 1))),
            (r"[a&&b]", "&", Some((0, 1))),
            (r"\x41\u0042\101", "ABA", Some((0, 3))),
            (r"(?i)abc", "xABC", Some((1, 4))),
            (r"a#b", "a#b", Some((0, 3))),
            (r"\<", "<", Some((0, 1))),
        ] {
            let cc = c(p, 0);
            let got = find(&cc, s, 0, s.len(), Mode::Search).unwrap().map(|sp| sp[0].unwrap());
            assert_eq!(got, want, "pattern {p} on {s:?} ({})", cc.exact.body);
        }
        let v = c("a b # comment\n c", X);
        assert!(find(&v, "abc", 0, 3, Mode::Full).unwrap().is_some());
    }

    #[test]
    fn catastrophic_backtracking_is_an_error() {
        let cc = c(r"(a+)+\1$", 0);
        let s = "a".repeat(40) + "b";
        assert!(find(&cc, &s, 0, s.len(), Mode::Search).is_err());
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(compile_cached("(abc", 0).is_err());
        assert!(compile_cached("[abc", 0).is_err());
        assert!(compile_cached(r"\q", 0).is_err());
    }
}
