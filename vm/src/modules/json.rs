//! `import json`: `dumps`/`loads` with CPython's defaults, options and error messages, plus the
//! two Rust entry points the server uses for responses and request bodies
//! ([`to_json_compact`], [`from_json`]).
//!
//! The decoder is iterative (an explicit stack of open containers), so hostile nesting depth in
//! a request body cannot overflow the Rust stack; it stops at [`MAX_DEPTH`] like CPython's
//! recursion limit. The encoder recurses but is bounded by the same depth and detects cycles.

use std::rc::Rc;

use num_bigint::BigInt;
use rustc_hash::FxHashSet;

use super::util::{self, bind, func, tname, Kw};
use crate::format::float_repr;
use crate::error::{Exc, VmResult};
use crate::value::{identity, Dict, ExcKind, HKey, Value};
use crate::Vm;

/// Maximum nesting of arrays/objects, for decoding and encoding.
pub const MAX_DEPTH: usize = 1000;
/// CPython 3.11's limit on digits in an int converted from text (guards against quadratic
/// big-integer parsing of hostile input).
const MAX_INT_DIGITS: usize = 4300;

pub fn module(vm: &mut Vm) -> Value {
    let base = vm.exc_classes.get(ExcKind::ValueError as usize).cloned();
    let err = util::class("JSONDecodeError", base, vec![]);
    util::module(
        "json",
        vec![
            ("dumps", func("dumps", dumps)),
            ("loads", func("loads", loads)),
            ("JSONDecodeError", Value::Class(err)),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Encoding

struct Opts {
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
    ensure_ascii: bool,
    allow_nan: bool,
    skipkeys: bool,
    default: Option<Value>,
    /// `respond` mode: native objects serialise through `to_json`, model instances through `s()`.
    native: bool,
}

struct Encoder {
    opts: Opts,
    out: String,
    active: FxHashSet<usize>,
}

fn truthy(vm: &mut Vm, v: &Value) -> VmResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::None => Ok(false),
        Value::Int(i) => Ok(*i != 0),
        _ => crate::ops::truthy(vm, v),
    }
}

fn dumps(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    if args.len() != 1 {
        return Err(Exc::type_error(if args.is_empty() {
            "dumps() missing 1 required positional argument: 'obj'".to_string()
        } else {
            format!("dumps() takes 1 positional argument but {} were given", args.len())
        }));
    }
    let [obj, skipkeys, ensure_ascii, _check_circular, allow_nan, _cls, indent, separators, default, sort_keys] = bind(
        "dumps",
        args,
        kw,
        [
            "obj",
            "skipkeys",
            "ensure_ascii",
            "check_circular",
            "allow_nan",
            "cls",
            "indent",
            "separators",
            "default",
            "sort_keys",
        ],
        1,
    )?;
    let indent = match indent {
        None | Some(Value::None) => None,
        Some(Value::Int(n)) => Some(" ".repeat(n.max(0) as usize)),
        Some(Value::Str(s)) => Some(s.s.clone()),
        Some(other) => {
            return Err(Exc::type_error(format!("can't multiply sequence by non-int of type '{}'", tname(&other))))
        }
    };
    let (item_sep, key_sep) = match separators {
        None | Some(Value::None) => (if indent.is_some() { "," } else { ", " }.to_string(), ": ".to_string()),
        Some(sep) => {
            let parts = util::items(vm, &sep)?;
            if parts.len() != 2 {
                return Err(Exc::value_error(format!("too many values to unpack (expected 2, got {})", parts.len())));
            }
            match (&parts[0], &parts[1]) {
                (Value::Str(a), Value::Str(b)) => (a.s.clone(), b.s.clone()),
                _ => return Err(Exc::type_error("separators must be strings")),
            }
        }
    };
    let opts = Opts {
        indent,
        item_sep,
        key_sep,
        sort_keys: match sort_keys {
            Some(v) => truthy(vm, &v)?,
            None => false,
        },
        ensure_ascii: match ensure_ascii {
            Some(v) => truthy(vm, &v)?,
            None => true,
        },
        allow_nan: match allow_nan {
            Some(v) => truthy(vm, &v)?,
            None => true,
        },
        skipkeys: match skipkeys {
            Some(v) => truthy(vm, &v)?,
            None => false,
        },
        default: default.filter(|d| !d.is_none()),
        native: false,
    };
    let mut enc = Encoder { opts, out: String::new(), active: FxHashSet::default() };
    enc.encode(vm, &obj.unwrap_or_default())?;
    Ok(Value::str(enc.out))
}

/// Compact UTF-8 JSON in insertion order, as `respond` sends it: separators `,`/`:`, no ASCII
/// escaping, native objects through `NativeObject::to_json`, model instances through `s()`.
pub fn to_json_compact(vm: &mut Vm, v: &Value) -> VmResult<String> {
    let opts = Opts {
        indent: None,
        item_sep: ",".into(),
        key_sep: ":".into(),
        sort_keys: false,
        ensure_ascii: false,
        allow_nan: true,
        skipkeys: false,
        default: None,
        native: true,
    };
    let mut enc = Encoder { opts, out: String::new(), active: FxHashSet::default() };
    enc.encode(vm, v)?;
    Ok(enc.out)
}

/// Python-ordering comparison of two dict keys for `sort_keys`.
fn key_cmp(a: &Value, b: &Value) -> Result<std::cmp::Ordering, (String, String)> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.s.cmp(&y.s)),
        _ => {
            let num = |v: &Value| -> Option<f64> {
                match v {
                    Value::Int(i) => Some(*i as f64),
                    Value::Bool(b) => Some(*b as i64 as f64),
                    Value::Float(f) => Some(*f),
                    Value::BigInt(b) => num_traits::ToPrimitive::to_f64(b.as_ref()),
                    _ => None,
                }
            };
            match (a, b) {
                (Value::Int(x), Value::Int(y)) => return Ok(x.cmp(y)),
                (Value::BigInt(x), Value::BigInt(y)) => return Ok(x.cmp(y)),
                _ => {}
            }
            match (num(a), num(b)) {
                (Some(x), Some(y)) => Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal)),
                _ => Err((tname(a), tname(b))),
            }
        }
    }
}

/// An open container (or a converted object) of the iterative encoder.
enum EncFrame {
    Seq { items: Vec<Value>, i: usize, id: usize },
    Map { entries: Vec<(String, Value)>, i: usize, id: usize },
    /// The result of `default`/`to_json`/`s()` for the object with this identity.
    Conv { id: usize },
}

impl Encoder {
    fn newline(&mut self, level: usize) {
        if let Some(ind) = &self.opts.indent {
            self.out.push('\n');
            for _ in 0..level {
                self.out.push_str(ind);
            }
        }
    }

    fn float(&mut self, f: f64) -> VmResult<()> {
        if !f.is_finite() {
            if !self.opts.allow_nan {
                return Err(Exc::value_error("Out of range float values are not JSON compliant"));
            }
            self.out.push_str(if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            });
        } else {
            self.out.push_str(&float_repr(f));
        }
        Ok(())
    }

    fn enter(&mut self, v: &Value, depth: usize) -> VmResult<usize> {
        if depth >= MAX_DEPTH {
            return Err(Exc::new(ExcKind::RecursionError, "maximum recursion depth exceeded while encoding a JSON object"));
        }
        let id = identity(v);
        if !self.active.insert(id) {
            return Err(Exc::value_error("Circular reference detected"));
        }
        Ok(id)
    }

    /// Dict entries with their keys converted to strings (and sorted first when asked).
    fn entries(&self, d: &Dict) -> VmResult<Vec<(String, Value)>> {
        let mut raw: Vec<(Value, Value)> = d.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
        if self.opts.sort_keys {
            let mut err = None;
            raw.sort_by(|a, b| match key_cmp(&a.0, &b.0) {
                Ok(o) => o,
                Err(e) => {
                    err.get_or_insert(e);
                    std::cmp::Ordering::Equal
                }
            });
            if let Some((x, y)) = err {
                return Err(Exc::type_error(format!("'<' not supported between instances of '{x}' and '{y}'")));
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            let key = match &k {
                Value::Str(s) => s.s.clone(),
                Value::Int(i) => i.to_string(),
                Value::BigInt(b) => b.to_string(),
                Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
                Value::None => "null".to_string(),
                Value::Float(f) => {
                    if f.is_nan() {
                        "NaN".into()
                    } else if f.is_infinite() {
                        if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
                    } else {
                        float_repr(*f)
                    }
                }
                other => {
                    if self.opts.skipkeys {
                        continue;
                    }
                    return Err(Exc::type_error(format!(
                        "keys must be str, int, float, bool or None, not {}",
                        tname(other)
                    )));
                }
            };
            out.push((key, v));
        }
        Ok(out)
    }

    /// What a non-JSON value converts to (`to_json`, `s()`, `default`), or the TypeError.
    fn convert(&mut self, vm: &mut Vm, v: &Value) -> VmResult<Value> {
        if self.opts.native {
            if let Value::Object(o) = v {
                if let Some(j) = o.to_json() {
                    return Ok(j);
                }
            }
            if let Value::Instance(inst) = v {
                if inst.class.lookup("s").is_some() {
                    return crate::ops::call_method(vm, v, "s", &[], &[]);
                }
            }
        }
        if let Some(def) = self.opts.default.clone() {
            return vm.call_value(&def, std::slice::from_ref(v), &[]);
        }
        Err(Exc::type_error(format!("Object of type {} is not JSON serializable", tname(v))))
    }

    /// Encode `root` with an explicit stack (no Rust recursion per nesting level).
    fn encode(&mut self, vm: &mut Vm, root: &Value) -> VmResult<()> {
        let mut stack: Vec<EncFrame> = Vec::new();
        // Indentation level: open arrays/objects (converted objects do not indent).
        let mut level = 0usize;
        let mut next: Option<Value> = Some(root.clone());
        loop {
            if let Some(v) = next.take() {
                match &v {
                    Value::None => self.out.push_str("null"),
                    Value::Bool(true) => self.out.push_str("true"),
                    Value::Bool(false) => self.out.push_str("false"),
                    Value::Int(i) => {
                        use std::fmt::Write;
                        let _ = write!(self.out, "{i}");
                    }
                    Value::BigInt(b) => self.out.push_str(&b.to_string()),
                    Value::Float(f) => self.float(*f)?,
                    Value::Str(s) => write_str(&mut self.out, &s.s, self.opts.ensure_ascii),
                    Value::List(_) | Value::Tuple(_) => {
                        let items: Vec<Value> = match &v {
                            Value::List(l) => l.borrow().clone(),
                            Value::Tuple(t) => t.to_vec(),
                            _ => Vec::new(),
                        };
                        if items.is_empty() {
                            self.out.push_str("[]");
                        } else {
                            let id = self.enter(&v, stack.len())?;
                            self.out.push('[');
                            stack.push(EncFrame::Seq { items, i: 0, id });
                            level += 1;
                        }
                    }
                    Value::Dict(d) => {
                        let entries = self.entries(&d.borrow())?;
                        if entries.is_empty() {
                            self.out.push_str("{}");
                        } else {
                            let id = self.enter(&v, stack.len())?;
                            self.out.push('{');
                            stack.push(EncFrame::Map { entries, i: 0, id });
                            level += 1;
                        }
                    }
                    other => {
                        let j = self.convert(vm, other)?;
                        let id = self.enter(other, stack.len())?;
                        stack.push(EncFrame::Conv { id });
                        next = Some(j);
                        continue;
                    }
                }
            }
            // Advance the innermost open container.
            let Some(top) = stack.last_mut() else { return Ok(()) };
            match top {
                EncFrame::Seq { items, i, id } => {
                    if *i < items.len() {
                        let item = items[*i].clone();
                        let first = *i == 0;
                        *i += 1;
                        if !first {
                            self.out.push_str(&self.opts.item_sep);
                        }
                        self.newline(level);
                        next = Some(item);
                    } else {
                        let id = *id;
                        stack.pop();
                        level -= 1;
                        self.newline(level);
                        self.out.push(']');
                        self.active.remove(&id);
                    }
                }
                EncFrame::Map { entries, i, id } => {
                    if *i < entries.len() {
                        let (key, val) = std::mem::take(&mut entries[*i]);
                        let first = *i == 0;
                        *i += 1;
                        if !first {
                            self.out.push_str(&self.opts.item_sep);
                        }
                        self.newline(level);
                        write_str(&mut self.out, &key, self.opts.ensure_ascii);
                        self.out.push_str(&self.opts.key_sep);
                        next = Some(val);
                    } else {
                        let id = *id;
                        stack.pop();
                        level -= 1;
                        self.newline(level);
                        self.out.push('}');
                        self.active.remove(&id);
                    }
                }
                EncFrame::Conv { id } => {
                    let id = *id;
                    stack.pop();
                    self.active.remove(&id);
                }
            }
        }
    }
}

/// Append `s` as a JSON string literal (Python's `py_encode_basestring(_ascii)`).
pub fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ensure_ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Decoding

fn loads(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    if args.len() != 1 {
        return Err(Exc::type_error(if args.is_empty() {
            "loads() missing 1 required positional argument: 's'".to_string()
        } else {
            format!("loads() takes 1 positional argument but {} were given", args.len())
        }));
    }
    let owned;
    let text: &str = match &args[0] {
        Value::Str(s) => &s.s,
        Value::Bytes(b) => {
            owned = String::from_utf8_lossy(b).into_owned();
            &owned
        }
        other => {
            return Err(Exc::type_error(format!(
                "the JSON object must be str, bytes or bytearray, not {}",
                tname(other)
            )))
        }
    };
    // `cls`, `strict` and `parse_constant` are accepted and ignored.
    let mut hooks = Hooks::default();
    for (k, v) in kw {
        let slot = match k.as_str() {
            "object_hook" => &mut hooks.object,
            "object_pairs_hook" => &mut hooks.pairs,
            "parse_float" => &mut hooks.float,
            "parse_int" => &mut hooks.int,
            "cls" | "strict" | "parse_constant" => continue,
            other => {
                return Err(Exc::type_error(format!("__init__() got an unexpected keyword argument '{other}'")))
            }
        };
        if !v.is_none() {
            *slot = Some(v.clone());
        }
    }
    let result = if hooks.any() { parse_with(text, Some((vm, &hooks))) } else { parse(text) };
    match result {
        Ok(v) => Ok(v),
        Err(DecodeError::Exc(e)) => Err(e),
        Err(DecodeError::Syntax { msg, pos }) => {
            let full = error_message(text, &msg, pos);
            let cls = vm
                .module_cache
                .get("json")
                .and_then(|m| match m {
                    Value::Module(m) => m.attrs.borrow().get("JSONDecodeError").cloned(),
                    _ => None,
                });
            match cls {
                Some(cls) => {
                    let exc = util::raise_class(vm, &cls, ExcKind::ValueError, &full);
                    set_decode_attrs(&exc, text, &msg, pos);
                    Err(exc)
                }
                None => Err(Exc::value_error(full)),
            }
        }
        Err(DecodeError::Other(kind, msg)) => Err(Exc::new(kind, msg)),
    }
}

/// Give a raised `JSONDecodeError` instance Python's `msg`, `pos`, `lineno`, `colno` attributes.
fn set_decode_attrs(exc: &Exc, text: &str, msg: &str, pos: usize) {
    if let crate::error::ExcData::Raised { value: Value::Instance(inst), .. } = &*exc.0 {
        let (cpos, line, col) = position(text, pos);
        let mut attrs = inst.attrs.borrow_mut();
        attrs.insert(Rc::from("msg"), Value::str(msg));
        attrs.insert(Rc::from("doc"), Value::str(text));
        attrs.insert(Rc::from("pos"), Value::Int(cpos as i64));
        attrs.insert(Rc::from("lineno"), Value::Int(line as i64));
        attrs.insert(Rc::from("colno"), Value::Int(col as i64));
    }
}

/// Parse JSON for a request body: `Err` carries Python's message
/// (`Expecting value: line 1 column 1 (char 0)`).
pub fn from_json(vm: &mut Vm, text: &str) -> Result<Value, String> {
    let _ = vm;
    match parse(text) {
        Ok(v) => Ok(v),
        Err(DecodeError::Syntax { msg, pos }) => Err(error_message(text, &msg, pos)),
        Err(DecodeError::Other(_, msg)) => Err(msg),
        Err(DecodeError::Exc(e)) => Err(format!("{e:?}")),
    }
}

#[derive(Debug)]
pub enum DecodeError {
    /// A syntax error at byte offset `pos`.
    Syntax { msg: String, pos: usize },
    /// Too deep, too many digits.
    Other(ExcKind, String),
    /// A hook (`object_hook`, `parse_float`...) raised.
    Exc(Exc),
}

/// `json.loads` callbacks.
#[derive(Default)]
pub struct Hooks {
    object: Option<Value>,
    pairs: Option<Value>,
    float: Option<Value>,
    int: Option<Value>,
}

impl Hooks {
    fn any(&self) -> bool {
        self.object.is_some() || self.pairs.is_some() || self.float.is_some() || self.int.is_some()
    }
}

fn call_hook(vm: &mut Vm, f: &Value, arg: Value) -> Result<Value, DecodeError> {
    vm.call_value(f, &[arg], &[]).map_err(DecodeError::Exc)
}

/// A finished object through `object_pairs_hook` or `object_hook`.
fn finish_object(hooks: &mut Option<(&mut Vm, &Hooks)>, map: Dict) -> Result<Value, DecodeError> {
    if let Some((vm, h)) = hooks {
        if let Some(f) = &h.pairs {
            let pairs = map.into_iter().map(|(k, v)| Value::tuple(vec![k.0, v])).collect();
            return call_hook(vm, f, Value::list(pairs));
        }
        if let Some(f) = &h.object {
            return call_hook(vm, f, Value::dict(map));
        }
    }
    Ok(Value::dict(map))
}

/// (char offset, line, column) of byte offset `pos`, as Python reports them.
fn position(text: &str, pos: usize) -> (usize, usize, usize) {
    let pos = pos.min(text.len());
    let before = &text[..pos];
    let cpos = before.chars().count();
    let line = before.matches('\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(nl) => before[nl + 1..].chars().count() + 1,
        None => cpos + 1,
    };
    (cpos, line, col)
}

fn error_message(text: &str, msg: &str, pos: usize) -> String {
    let (cpos, line, col) = position(text, pos);
    format!("{msg}: line {line} column {col} (char {cpos})")
}

enum Frame {
    List(Vec<Value>),
    Dict(Dict, HKey),
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

fn syntax<T>(msg: &str, pos: usize) -> Result<T, DecodeError> {
    Err(DecodeError::Syntax { msg: msg.to_string(), pos })
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// A key: a string literal, else "Expecting property name enclosed in double quotes".
    fn key(&mut self) -> Result<HKey, DecodeError> {
        if self.peek() != Some(b'"') {
            return syntax("Expecting property name enclosed in double quotes", self.pos);
        }
        let k = self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return syntax("Expecting ':' delimiter", self.pos);
        }
        self.pos += 1;
        Ok(HKey(Value::str(k)))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once.
            let run_start = self.pos;
            while self.pos < self.s.len() {
                let b = self.s[self.pos];
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return syntax("Unterminated string starting at", start),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc_pos = self.pos;
                    self.pos += 1;
                    let c = match self.peek() {
                        None => return syntax("Unterminated string starting at", start),
                        Some(c) => c,
                    };
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4(esc_pos)?;
                            let cp = if (0xd800..0xdc00).contains(&hi)
                                && self.s.get(self.pos) == Some(&b'\\')
                                && self.s.get(self.pos + 1) == Some(&b'u')
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4(save)?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else {
                                    self.pos = save;
                                    hi
                                }
                            } else {
                                hi
                            };
                            // Lone surrogates cannot live in a Rust string.
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => return syntax("Invalid \\escape", esc_pos),
                    }
                }
                Some(_) => return syntax("Invalid control character at", self.pos),
            }
        }
    }

    fn hex4(&mut self, esc_pos: usize) -> Result<u32, DecodeError> {
        let digits = self.s.get(self.pos..self.pos + 4);
        let v = digits
            .filter(|d| d.iter().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok());
        match v {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => syntax("Invalid \\uXXXX escape", esc_pos),
        }
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return syntax("Expecting value", start),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.s.get(self.pos + 1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                is_float = true;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        let lit = &self.text[start..self.pos];
        if is_float {
            return Ok(Value::Float(lit.parse::<f64>().unwrap_or(f64::NAN)));
        }
        if let Ok(i) = lit.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        let ndigits = lit.trim_start_matches('-').len();
        if ndigits > MAX_INT_DIGITS {
            return Err(DecodeError::Other(
                ExcKind::ValueError,
                format!(
                    "Exceeds the limit ({MAX_INT_DIGITS} digits) for integer string conversion: value has {ndigits} digits; use sys.set_int_max_str_digits() to increase the limit"
                ),
            ));
        }
        Ok(Value::from_bigint(lit.parse::<BigInt>().unwrap_or_default()))
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, DecodeError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            syntax("Expecting value", self.pos)
        }
    }
}

/// Parse a complete JSON document (Python's `json.loads` grammar: `NaN`, `Infinity`,
/// `-Infinity` accepted; duplicate keys keep the last value at the first position).
pub fn parse(text: &str) -> Result<Value, DecodeError> {
    parse_with(text, None)
}

/// `parse` with `json.loads` hooks.
fn parse_with(text: &str, mut hooks: Option<(&mut Vm, &Hooks)>) -> Result<Value, DecodeError> {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    'value: loop {
        p.ws();
        if stack.len() > MAX_DEPTH {
            return Err(DecodeError::Other(
                ExcKind::RecursionError,
                "maximum recursion depth exceeded while decoding a JSON document".into(),
            ));
        }
        let mut v = match p.peek() {
            Some(b'{') => {
                p.pos += 1;
                p.ws();
                if p.peek() == Some(b'}') {
                    p.pos += 1;
                    finish_object(&mut hooks, Dict::default())?
                } else {
                    let k = p.key()?;
                    stack.push(Frame::Dict(Dict::default(), k));
                    continue 'value;
                }
            }
            Some(b'[') => {
                p.pos += 1;
                p.ws();
                if p.peek() == Some(b']') {
                    p.pos += 1;
                    Value::list(Vec::new())
                } else {
                    stack.push(Frame::List(Vec::new()));
                    continue 'value;
                }
            }
            Some(b'"') => Value::str(p.string()?),
            Some(b'-') if p.s[p.pos..].starts_with(b"-Infinity") => {
                p.pos += 9;
                Value::Float(f64::NEG_INFINITY)
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = p.pos;
                let v = p.number()?;
                let hook = match (&hooks, &v) {
                    (Some((_, h)), Value::Float(_)) => h.float.clone(),
                    (Some((_, h)), Value::Int(_) | Value::BigInt(_)) => h.int.clone(),
                    _ => None,
                };
                match (hook, &mut hooks) {
                    (Some(f), Some((vm, _))) => call_hook(vm, &f, Value::str(&text[start..p.pos]))?,
                    _ => v,
                }
            }
            Some(b'n') => p.literal("null", Value::None)?,
            Some(b't') => p.literal("true", Value::Bool(true))?,
            Some(b'f') => p.literal("false", Value::Bool(false))?,
            Some(b'N') => p.literal("NaN", Value::Float(f64::NAN))?,
            Some(b'I') => p.literal("Infinity", Value::Float(f64::INFINITY))?,
            _ => return syntax("Expecting value", p.pos),
        };
        // Attach the finished value to its container; close containers as they end.
        loop {
            match stack.last_mut() {
                None => {
                    p.ws();
                    if p.pos != p.s.len() {
                        return syntax("Extra data", p.pos);
                    }
                    return Ok(v);
                }
                Some(Frame::List(items)) => {
                    items.push(v);
                    p.ws();
                    match p.peek() {
                        Some(b',') => {
                            p.pos += 1;
                            continue 'value;
                        }
                        Some(b']') => {
                            p.pos += 1;
                            match stack.pop() {
                                Some(Frame::List(items)) => v = Value::list(items),
                                _ => unreachable!(),
                            }
                        }
                        _ => return syntax("Expecting ',' delimiter", p.pos),
                    }
                }
                Some(Frame::Dict(map, key)) => {
                    let k = std::mem::replace(key, HKey(Value::None));
                    map.insert(k, v);
                    p.ws();
                    match p.peek() {
                        Some(b',') => {
                            p.pos += 1;
                            p.ws();
                            let k = p.key()?;
                            if let Some(Frame::Dict(_, key)) = stack.last_mut() {
                                *key = k;
                            }
                            continue 'value;
                        }
                        Some(b'}') => {
                            p.pos += 1;
                            match stack.pop() {
                                Some(Frame::Dict(map, _)) => v = finish_object(&mut hooks, map)?,
                                _ => unreachable!(),
                            }
                        }
                        _ => return syntax("Expecting ',' delimiter", p.pos),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        match parse(s) {
            Err(DecodeError::Syntax { msg, pos }) => error_message(s, &msg, pos),
            Err(DecodeError::Other(_, m)) => m,
            Err(DecodeError::Exc(e)) => format!("{e:?}"),
            Ok(v) => format!("ok {v:?}"),
        }
    }

    #[test]
    fn parse_errors_match_python() {
        assert_eq!(err(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err("{bad json}"), "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)");
        assert_eq!(err("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(err("[1 2]"), "Expecting ',' delimiter: line 1 column 4 (char 3)");
        assert_eq!(err("{\"a\" 1}"), "Expecting ':' delimiter: line 1 column 6 (char 5)");
        assert_eq!(err("1 2"), "Extra data: line 1 column 3 (char 2)");
        assert_eq!(err("\"abc"), "Unterminated string starting at: line 1 column 1 (char 0)");
        assert_eq!(err("\n\n  x"), "Expecting value: line 3 column 3 (char 4)");
        assert_eq!(err("\"\\q\""), "Invalid \\escape: line 1 column 2 (char 1)");
    }

    #[test]
    fn parse_values() {
        match parse(" [1, 2.5, -0.5e1, \"\\u00e9\\ud83d\\ude00\", true, null, {\"a\": []}] ").unwrap() {
            Value::List(l) => {
                let l = l.borrow();
                assert_eq!(l.len(), 7);
                assert!(matches!(l[0], Value::Int(1)));
                assert!(matches!(l[2], Value::Float(f) if f == -5.0));
                assert_eq!(l[3].as_str(), Some("é😀"));
            }
            _ => panic!(),
        }
        assert!(matches!(parse("123456789012345678901234567890"), Ok(Value::BigInt(_))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(parse(&s), Err(DecodeError::Other(ExcKind::RecursionError, _))));
        let s = "[".repeat(500) + &"]".repeat(500);
        assert!(parse(&s).is_ok());
    }

    #[test]
    fn string_escapes() {
        let mut o = String::new();
        write_str(&mut o, "caf\u{e9} \"q\"\t\u{1}😀", true);
        assert_eq!(o, r#""caf\u00e9 \"q\"\t\u0001\ud83d\ude00""#);
        let mut o = String::new();
        write_str(&mut o, "café", false);
        assert_eq!(o, "\"café\"");
    }
}
