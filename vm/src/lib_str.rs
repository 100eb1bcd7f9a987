//! Methods of `str` (and the few of `bytes`): `split`, `join`, `strip`, `find`, `format`...
//! Indices are code points as in Python; ASCII strings take byte-offset fast paths.

use std::rc::Rc;

use crate::error::{Exc, VmResult};
use crate::methods::{arg, check_margs, kwarg};
use crate::ops::type_name;
use crate::value::{ExcKind, StrObj, Value};
use crate::Vm;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

/// Python's `str.isspace` notion of whitespace.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn opt_str<'a>(v: Option<&'a Value>, meth: &str, what: &str) -> VmResult<Option<&'a str>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(&s.s)),
        Some(other) => Err(Exc::type_error(format!(
            "{}() {} must be str or None, not {}",
            meth,
            what,
            type_name(other)
        ))),
    }
}

fn need_str<'a>(v: &'a Value, meth: &str) -> VmResult<&'a str> {
    match v {
        Value::Str(s) => Ok(&s.s),
        other => Err(Exc::type_error(format!(
            "{}() argument must be str, not {}",
            meth,
            type_name(other)
        ))),
    }
}

fn int_arg(v: Option<&Value>, default: i64) -> VmResult<i64> {
    match v {
        None | Some(Value::None) => Ok(default),
        Some(x) => crate::ops::as_index(x),
    }
}

/// Byte range of the code-point slice `[start:end]` of `s` (slice semantics).
fn char_range(s: &str, start: Option<&Value>, end: Option<&Value>) -> VmResult<(usize, usize)> {
    let n = if s.is_ascii() { s.len() } else { s.chars().count() } as i64;
    let adj = |v: Option<&Value>, d: i64| -> VmResult<i64> {
        match v {
            None | Some(Value::None) => Ok(d),
            Some(x) => {
                let mut i = crate::ops::as_index(x)?;
                if i < 0 {
                    i = (i + n).max(0);
                }
                Ok(i.min(n))
            }
        }
    };
    let a = adj(start, 0)?;
    let b = adj(end, n)?;
    if a > b {
        return Ok((usize::MAX, usize::MAX));
    }
    Ok((char_to_byte(s, a as usize), char_to_byte(s, b as usize)))
}

fn char_to_byte(s: &str, i: usize) -> usize {
    if s.is_ascii() {
        return i.min(s.len());
    }
    s.char_indices().nth(i).map(|(b, _)| b).unwrap_or(s.len())
}

fn byte_to_char(s: &str, b: usize) -> usize {
    if s.is_ascii() {
        b
    } else {
        s[..b].chars().count()
    }
}

fn strip_chars<'a>(s: &'a str, chars: Option<&str>, left: bool, right: bool) -> &'a str {
    let mut r = s;
    match chars {
        None => {
            if left {
                r = r.trim_start_matches(is_py_space);
            }
            if right {
                r = r.trim_end_matches(is_py_space);
            }
        }
        Some(cs) => {
            if left {
                r = r.trim_start_matches(|c| cs.contains(c));
            }
            if right {
                r = r.trim_end_matches(|c| cs.contains(c));
            }
        }
    }
    r
}

fn split_ws(s: &str, maxsplit: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches(is_py_space);
    while !rest.is_empty() {
        if maxsplit >= 0 && out.len() as i64 >= maxsplit {
            out.push(Value::str(rest));
            break;
        }
        match rest.find(is_py_space) {
            Some(i) => {
                out.push(Value::str(&rest[..i]));
                rest = rest[i..].trim_start_matches(is_py_space);
            }
            None => {
                out.push(Value::str(rest));
                break;
            }
        }
    }
    out
}

fn rsplit_ws(s: &str, maxsplit: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = s.trim_end_matches(is_py_space);
    while !rest.is_empty() {
        if maxsplit >= 0 && out.len() as i64 >= maxsplit {
            out.push(Value::str(rest));
            break;
        }
        match rest.rfind(is_py_space) {
            Some(i) => {
                let c = rest[i..].chars().next().map(|c| c.len_utf8()).unwrap_or(1);
                out.push(Value::str(&rest[i + c..]));
                rest = rest[..i].trim_end_matches(is_py_space);
            }
            None => {
                out.push(Value::str(rest));
                break;
            }
        }
    }
    out.reverse();
    out
}

pub fn py_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if prev_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_cased = true;
        } else {
            out.push(c);
            prev_cased = false;
        }
    }
    out
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Refuse results that would exceed the VM's maximum string size.
fn check_width(vm: &Vm, w: i64) -> VmResult<()> {
    if w > 0 && w as u64 > vm.limits.max_size as u64 {
        return Err(Exc::limit(crate::error::LimitKind::Memory));
    }
    Ok(())
}

fn pad_str(s: &str, width: i64, fill: char, how: char) -> String {
    let n = s.chars().count() as i64;
    if width <= n {
        return s.to_string();
    }
    let marg = (width - n) as usize;
    let (left, right) = match how {
        '<' => (0, marg),
        '>' => (marg, 0),
        _ => {
            let left = marg / 2 + (marg & (width as usize) & 1);
            (left, marg - left)
        }
    };
    let mut out = String::with_capacity(s.len() + marg * fill.len_utf8());
    out.extend(std::iter::repeat(fill).take(left));
    out.push_str(s);
    out.extend(std::iter::repeat(fill).take(right));
    out
}

fn fill_arg(v: Option<&Value>, meth: &str) -> VmResult<char> {
    match v {
        None => Ok(' '),
        Some(Value::Str(s)) if s.s.chars().count() == 1 => Ok(s.s.chars().next().unwrap_or(' ')),
        Some(Value::Str(_)) => Err(Exc::type_error("The fill character must be exactly one character long")),
        Some(other) => Err(Exc::type_error(format!(
            "{}() argument 2 must be str, not {}",
            meth,
            type_name(other)
        ))),
    }
}

/// `sep.join(iterable)` with a single allocation for lists and tuples of strings.
pub fn join(vm: &mut Vm, sep: &str, items: &Value) -> VmResult<Value> {
    fn build(sep: &str, items: &[Value]) -> VmResult<String> {
        let mut total = sep.len() * items.len().saturating_sub(1);
        for (i, it) in items.iter().enumerate() {
            match it {
                Value::Str(s) => total += s.s.len(),
                other => {
                    return Err(Exc::type_error(format!(
                        "sequence item {}: expected str instance, {} found",
                        i,
                        type_name(other)
                    )))
                }
            }
        }
        let mut out = String::with_capacity(total);
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            if let Value::Str(s) = it {
                out.push_str(&s.s);
            }
        }
        Ok(out)
    }
    let s = match items {
        Value::List(l) => build(sep, &l.borrow())?,
        Value::Tuple(t) => build(sep, t)?,
        other => {
            let v = crate::ops::collect(vm, other).map_err(|e| {
                if crate::ops::exc_is(vm, &e, ExcKind::TypeError) && !matches!(other, Value::Iter(_)) {
                    Exc::type_error("can only join an iterable")
                } else {
                    e
                }
            })?;
            build(sep, &v)?
        }
    };
    Ok(Value::str(s))
}

fn prefix_match(
    s: &str,
    pat: &Value,
    start: Option<&Value>,
    end: Option<&Value>,
    meth: &str,
    suffix: bool,
) -> VmResult<bool> {
    let (a, b) = char_range(s, start, end)?;
    if a == usize::MAX {
        return Ok(false);
    }
    let hay = &s[a..b];
    let test = |p: &str| if suffix { hay.ends_with(p) } else { hay.starts_with(p) };
    match pat {
        Value::Str(p) => Ok(test(&p.s)),
        Value::Tuple(t) => {
            for p in t.iter() {
                match p {
                    Value::Str(p) => {
                        if test(&p.s) {
                            return Ok(true);
                        }
                    }
                    other => {
                        return Err(Exc::type_error(format!(
                            "tuple for {} must only contain str, not {}",
                            meth,
                            type_name(other)
                        )))
                    }
                }
            }
            Ok(false)
        }
        other => Err(Exc::type_error(format!(
            "{} first arg must be str or a tuple of str, not {}",
            meth,
            type_name(other)
        ))),
    }
}

fn find_impl(s: &str, args: &[Value], meth: &str, rev: bool) -> VmResult<Option<usize>> {
    let sub = need_str(arg(args, 0).unwrap_or(&Value::None), meth).map_err(|_| {
        Exc::type_error(format!(
            "must be str, not {}",
            type_name(arg(args, 0).unwrap_or(&Value::None))
        ))
    })?;
    let (a, b) = char_range(s, arg(args, 1), arg(args, 2))?;
    if a == usize::MAX {
        return Ok(None);
    }
    let hay = &s[a..b];
    let r = if rev { hay.rfind(sub) } else { hay.find(sub) };
    Ok(r.map(|i| byte_to_char(s, a + i)))
}

/// Call method `name` of a string. `Ok(None)` when there is no such method.
pub fn call(vm: &mut Vm, so: &Rc<StrObj>, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    let s: &str = &so.s;
    let v = match name {
        "split" | "rsplit" => {
            check_margs("str", name, args, 0, 2)?;
            let sep = opt_str(arg(args, 0).or_else(|| kwarg(kw, "sep")), name, "argument 1")?;
            let maxsplit = int_arg(arg(args, 1).or_else(|| kwarg(kw, "maxsplit")), -1)?;
            let parts: Vec<Value> = match sep {
                None => {
                    if name == "split" {
                        split_ws(s, maxsplit)
                    } else {
                        rsplit_ws(s, maxsplit)
                    }
                }
                Some("") => return Err(Exc::value_error("empty separator")),
                Some(sep) => {
                    if name == "split" {
                        if maxsplit < 0 {
                            s.split(sep).map(Value::str).collect()
                        } else {
                            s.splitn(maxsplit as usize + 1, sep).map(Value::str).collect()
                        }
                    } else {
                        let mut v: Vec<Value> = if maxsplit < 0 {
                            s.rsplit(sep).map(Value::str).collect()
                        } else {
                            s.rsplitn(maxsplit as usize + 1, sep).map(Value::str).collect()
                        };
                        v.reverse();
                        v
                    }
                }
            };
            Value::list(parts)
        }
        "join" => {
            check_margs("str", name, args, 1, 1)?;
            join(vm, s, &args[0])?
        }
        "strip" | "lstrip" | "rstrip" => {
            check_margs("str", name, args, 0, 1)?;
            let chars = opt_str(arg(args, 0), name, "arg")?;
            let r = strip_chars(s, chars, name != "rstrip", name != "lstrip");
            if r.len() == s.len() {
                Value::Str(so.clone())
            } else {
                Value::str(r)
            }
        }
        "lower" | "casefold" => {
            check_margs("str", name, args, 0, 0)?;
            if s.is_ascii() {
                Value::str(s.to_ascii_lowercase())
            } else if name == "casefold" {
                Value::str(s.to_lowercase().replace('ß', "ss").replace('ς', "σ"))
            } else {
                Value::str(s.to_lowercase())
            }
        }
        "upper" => {
            check_margs("str", name, args, 0, 0)?;
            if s.is_ascii() {
                Value::str(s.to_ascii_uppercase())
            } else {
                Value::str(s.to_uppercase())
            }
        }
        "title" => Value::str(py_title(s)),
        "capitalize" => {
            let mut out = String::with_capacity(s.len());
            let mut it = s.chars();
            if let Some(c) = it.next() {
                out.extend(c.to_uppercase());
            }
            for c in it {
                out.extend(c.to_lowercase());
            }
            Value::str(out)
        }
        "swapcase" => {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if c.is_uppercase() {
                    out.extend(c.to_lowercase());
                } else if c.is_lowercase() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
            }
            Value::str(out)
        }
        "replace" => {
            check_margs("str", name, args, 2, 3)?;
            let old = need_str(&args[0], "replace")?;
            let new = match &args[1] {
                Value::Str(x) => x.s.as_str(),
                other => {
                    return Err(Exc::type_error(format!(
                        "replace() argument 2 must be str, not {}",
                        type_name(other)
                    )))
                }
            };
            let count = int_arg(arg(args, 2).or_else(|| kwarg(kw, "count")), -1)?;
            if count < 0 {
                Value::str(s.replace(old, new))
            } else {
                Value::str(s.replacen(old, new, count as usize))
            }
        }
        "startswith" | "endswith" => {
            check_margs("str", name, args, 1, 3)?;
            Value::Bool(prefix_match(s, &args[0], arg(args, 1), arg(args, 2), name, name == "endswith")?)
        }
        "find" | "rfind" => {
            check_margs("str", name, args, 1, 3)?;
            match find_impl(s, args, name, name == "rfind")? {
                Some(i) => Value::Int(i as i64),
                None => Value::Int(-1),
            }
        }
        "index" | "rindex" => {
            check_margs("str", name, args, 1, 3)?;
            match find_impl(s, args, name, name == "rindex")? {
                Some(i) => Value::Int(i as i64),
                None => return Err(Exc::value_error("substring not found")),
            }
        }
        "count" => {
            check_margs("str", name, args, 1, 3)?;
            let sub = need_str(&args[0], "count")?;
            let (a, b) = char_range(s, arg(args, 1), arg(args, 2))?;
            if a == usize::MAX {
                return Ok(Some(Value::Int(0)));
            }
            let hay = &s[a..b];
            let n = if sub.is_empty() { hay.chars().count() + 1 } else { hay.matches(sub).count() };
            Value::Int(n as i64)
        }
        "format" => Value::str(crate::format::str_format(vm, s, args, kw)?),
        "format_map" => {
            check_margs("str", name, args, 1, 1)?;
            let kwv: Vec<(Rc<StrObj>, Value)> = match &args[0] {
                Value::Dict(d) => d
                    .borrow()
                    .iter()
                    .filter_map(|(k, v)| match &k.0 {
                        Value::Str(ks) => Some((ks.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Value::str(crate::format::str_format(vm, s, &[], &kwv)?)
        }
        "isdigit" | "isnumeric" | "isdecimal" => {
            // Without Unicode's Numeric_Type table: fractions, Roman numerals and the like are
            // numeric but neither digits nor decimals; superscripts are digits, not decimals.
            let fraction = |c: char| matches!(c as u32, 0xbc..=0xbe | 0x2150..=0x218f | 0x3007 | 0x4e00..=0x9fff);
            let superscript = |c: char| matches!(c, '\u{b2}' | '\u{b3}' | '\u{b9}' | '\u{2070}'..='\u{2079}' | '\u{2080}'..='\u{2089}');
            let ok = |c: char| match name {
                "isnumeric" => c.is_numeric(),
                "isdigit" => c.is_ascii_digit() || (c.is_numeric() && !fraction(c)),
                _ => c.is_ascii_digit() || (c.is_numeric() && !fraction(c) && !superscript(c)),
            };
            Value::Bool(!s.is_empty() && s.chars().all(ok))
        }
        "isalpha" => Value::Bool(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "isalnum" => Value::Bool(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "isspace" => Value::Bool(!s.is_empty() && s.chars().all(is_py_space)),
        "isascii" => Value::Bool(s.is_ascii()),
        "isupper" => Value::Bool(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase)),
        "islower" => Value::Bool(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)),
        "istitle" => {
            let mut cased = false;
            let mut prev_cased = false;
            let mut ok = true;
            for c in s.chars() {
                if c.is_uppercase() {
                    if prev_cased {
                        ok = false;
                        break;
                    }
                    prev_cased = true;
                    cased = true;
                } else if c.is_lowercase() {
                    if !prev_cased {
                        ok = false;
                        break;
                    }
                    prev_cased = true;
                    cased = true;
                } else {
                    prev_cased = false;
                }
            }
            Value::Bool(ok && cased)
        }
        "isidentifier" => {
            let mut it = s.chars();
            Value::Bool(match it.next() {
                Some(c) if c == '_' || c.is_alphabetic() => it.all(|c| c == '_' || c.is_alphanumeric()),
                _ => false,
            })
        }
        "zfill" => {
            check_margs("str", name, args, 1, 1)?;
            let w = crate::ops::as_index(&args[0])?;
            check_width(vm, w)?;
            let n = s.chars().count() as i64;
            if w <= n {
                Value::Str(so.clone())
            } else {
                let z = "0".repeat((w - n) as usize);
                if s.starts_with('-') || s.starts_with('+') {
                    Value::str(format!("{}{}{}", &s[..1], z, &s[1..]))
                } else {
                    Value::str(format!("{}{}", z, s))
                }
            }
        }
        "center" | "ljust" | "rjust" => {
            check_margs("str", name, args, 1, 2)?;
            let w = crate::ops::as_index(&args[0])?;
            check_width(vm, w)?;
            let fill = fill_arg(arg(args, 1), name)?;
            let how = match name {
                "ljust" => '<',
                "rjust" => '>',
                _ => '^',
            };
            Value::str(pad_str(s, w, fill, how))
        }
        "splitlines" => {
            let keep = match arg(args, 0).or_else(|| kwarg(kw, "keepends")) {
                Some(v) => crate::ops::truthy(vm, v)?,
                None => false,
            };
            let mut out = Vec::new();
            let mut start = 0;
            let mut it = s.char_indices().peekable();
            while let Some((i, c)) = it.next() {
                if is_line_break(c) {
                    let mut end = i + c.len_utf8();
                    if c == '\r' {
                        if let Some(&(_, '\n')) = it.peek() {
                            it.next();
                            end += 1;
                        }
                    }
                    out.push(Value::str(if keep { &s[start..end] } else { &s[start..i] }));
                    start = end;
                }
            }
            if start < s.len() {
                out.push(Value::str(&s[start..]));
            }
            Value::list(out)
        }
        "encode" => {
            let enc = opt_str(arg(args, 0).or_else(|| kwarg(kw, "encoding")), "encode", "argument 'encoding'")?
                .unwrap_or("utf-8")
                .to_ascii_lowercase()
                .replace('_', "-");
            let errors = opt_str(arg(args, 1).or_else(|| kwarg(kw, "errors")), "encode", "argument 'errors'")?
                .unwrap_or("strict");
            let bytes = match enc.as_str() {
                "utf-8" | "utf8" => s.as_bytes().to_vec(),
                "ascii" | "latin-1" | "latin1" | "iso-8859-1" => {
                    let limit = if enc == "ascii" { 0x80 } else { 0x100 };
                    let mut out = Vec::with_capacity(s.len());
                    for (i, c) in s.chars().enumerate() {
                        if (c as u32) < limit {
                            out.push(c as u32 as u8);
                        } else if errors == "ignore" {
                        } else if errors == "replace" {
                            out.push(b'?');
                        } else {
                            return Err(Exc::new(
                                ExcKind::UnicodeEncodeError,
                                format!(
                                    "'{}' codec can't encode character '{}' in position {}: ordinal not in range({})",
                                    if enc == "ascii" { "ascii" } else { "latin-1" },
                                    crate::interp::ascii_escape(c.encode_utf8(&mut [0; 4])),
                                    i,
                                    limit
                                ),
                            ));
                        }
                    }
                    out
                }
                other => return Err(Exc::new(ExcKind::LookupError, format!("unknown encoding: {}", other))),
            };
            Value::Bytes(Rc::new(bytes))
        }
        "partition" | "rpartition" => {
            check_margs("str", name, args, 1, 1)?;
            let sep = need_str(&args[0], name)?;
            if sep.is_empty() {
                return Err(Exc::value_error("empty separator"));
            }
            let found = if name == "partition" { s.find(sep) } else { s.rfind(sep) };
            let parts = match found {
                Some(i) => vec![Value::str(&s[..i]), Value::str(sep), Value::str(&s[i + sep.len()..])],
                None if name == "partition" => vec![Value::Str(so.clone()), Value::str(""), Value::str("")],
                None => vec![Value::str(""), Value::str(""), Value::Str(so.clone())],
            };
            Value::tuple(parts)
        }
        "expandtabs" => {
            let ts = int_arg(arg(args, 0).or_else(|| kwarg(kw, "tabsize")), 8)?;
            check_width(vm, ts.saturating_mul(s.len() as i64))?;
            let mut out = String::new();
            let mut col = 0i64;
            for c in s.chars() {
                match c {
                    '\t' => {
                        if ts > 0 {
                            let n = ts - col % ts;
                            out.extend(std::iter::repeat(' ').take(n as usize));
                            col += n;
                        }
                    }
                    '\n' | '\r' => {
                        out.push(c);
                        col = 0;
                    }
                    c => {
                        out.push(c);
                        col += 1;
                    }
                }
            }
            Value::str(out)
        }
        "removeprefix" => {
            check_margs("str", name, args, 1, 1)?;
            let p = need_str(&args[0], name)?;
            match s.strip_prefix(p) {
                Some(r) if !p.is_empty() => Value::str(r),
                _ => Value::Str(so.clone()),
            }
        }
        "removesuffix" => {
            check_margs("str", name, args, 1, 1)?;
            let p = need_str(&args[0], name)?;
            match s.strip_suffix(p) {
                Some(r) if !p.is_empty() => Value::str(r),
                _ => Value::Str(so.clone()),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Methods of `bytes`.
pub fn call_bytes(vm: &mut Vm, b: &Rc<Vec<u8>>, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    let _ = vm;
    let v = match name {
        "decode" => {
            let enc = opt_str(arg(args, 0).or_else(|| kwarg(kw, "encoding")), "decode", "argument 'encoding'")?
                .unwrap_or("utf-8")
                .to_ascii_lowercase()
                .replace('_', "-");
            let errors = opt_str(arg(args, 1).or_else(|| kwarg(kw, "errors")), "decode", "argument 'errors'")?
                .unwrap_or("strict");
            match enc.as_str() {
                "utf-8" | "utf8" => match std::str::from_utf8(b) {
                    Ok(s) => Value::str(s),
                    Err(e) => {
                        if errors == "strict" {
                            return Err(utf8_decode_error(b, &e));
                        }
                        Value::str(String::from_utf8_lossy(b).into_owned())
                    }
                },
                "ascii" | "latin-1" | "latin1" | "iso-8859-1" => {
                    if enc == "ascii" && errors == "strict" {
                        if let Some(pos) = b.iter().position(|&c| c >= 0x80) {
                            return Err(Exc::new(
                                ExcKind::UnicodeDecodeError,
                                format!(
                                    "'ascii' codec can't decode byte 0x{:02x} in position {}: ordinal not in range(128)",
                                    b[pos], pos
                                ),
                            ));
                        }
                    }
                    Value::str(b.iter().map(|&c| c as char).collect::<String>())
                }
                other => return Err(Exc::new(ExcKind::LookupError, format!("unknown encoding: {}", other))),
            }
        }
        "hex" => {
            let mut s = String::with_capacity(b.len() * 2);
            for c in b.iter() {
                s.push_str(&format!("{:02x}", c));
            }
            Value::str(s)
        }
        "startswith" | "endswith" => {
            check_margs("str", name, args, 1, 1)?;
            let p = match &args[0] {
                Value::Bytes(p) => p.clone(),
                other => {
                    return Err(Exc::type_error(format!(
                        "{}() first arg must be bytes or a tuple of bytes, not {}",
                        name,
                        type_name(other)
                    )))
                }
            };
            Value::Bool(if name == "startswith" { b.starts_with(&p) } else { b.ends_with(&p) })
        }
        "count" | "find" | "index" => {
            check_margs("str", name, args, 1, 1)?;
            let p: Vec<u8> = match &args[0] {
                Value::Bytes(p) => p.as_ref().clone(),
                Value::Int(i) => vec![*i as u8],
                other => {
                    return Err(Exc::type_error(format!(
                        "argument should be integer or bytes-like object, not '{}'",
                        type_name(other)
                    )))
                }
            };
            let positions: Vec<usize> = if p.is_empty() {
                (0..=b.len()).collect()
            } else {
                b.windows(p.len()).enumerate().filter(|(_, w)| *w == p.as_slice()).map(|(i, _)| i).collect()
            };
            match name {
                "count" => {
                    // Non-overlapping count.
                    let mut n = 0;
                    let mut next_ok = 0;
                    for i in positions {
                        if i >= next_ok {
                            n += 1;
                            next_ok = i + p.len().max(1);
                        }
                    }
                    Value::Int(n)
                }
                "find" => Value::Int(positions.first().map(|&i| i as i64).unwrap_or(-1)),
                _ => match positions.first() {
                    Some(&i) => Value::Int(i as i64),
                    None => return Err(Exc::value_error("subsection not found")),
                },
            }
        }
        "upper" => Value::Bytes(Rc::new(b.to_ascii_uppercase())),
        "lower" => Value::Bytes(Rc::new(b.to_ascii_lowercase())),
        "strip" => {
            let s: &[u8] = b;
            let start = s.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(s.len());
            let end = s.iter().rposition(|c| !c.is_ascii_whitespace()).map(|i| i + 1).unwrap_or(start);
            Value::Bytes(Rc::new(s[start..end.max(start)].to_vec()))
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

pub const STR_METHODS: &[&str] = &[
    "split", "rsplit", "join", "strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize",
    "swapcase", "replace", "startswith", "endswith", "find", "rfind", "index", "rindex", "count",
    "format", "format_map", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower",
    "isnumeric", "isdecimal", "istitle", "isidentifier", "isascii", "zfill", "center", "ljust",
    "rjust", "splitlines", "encode", "partition", "rpartition", "expandtabs", "casefold",
    "removeprefix", "removesuffix",
];

pub const BYTES_METHODS: &[&str] =
    &["decode", "hex", "startswith", "endswith", "count", "find", "index", "upper", "lower", "strip"];

/// CPython's `UnicodeDecodeError` for invalid UTF-8: which bytes, and why.
fn utf8_decode_error(b: &[u8], e: &std::str::Utf8Error) -> Exc {
    let pos = e.valid_up_to();
    let msg = match e.error_len() {
        None if b.len() - pos > 1 => format!("'utf-8' codec can't decode bytes in position {pos}-{}: unexpected end of data", b.len() - 1),
        None => format!("'utf-8' codec can't decode byte 0x{:02x} in position {pos}: unexpected end of data", b[pos]),
        Some(n) => {
            // A lead byte that could start a sequence was followed by a wrong byte.
            let why = if (0xc2..=0xf4).contains(&b[pos]) { "invalid continuation byte" } else { "invalid start byte" };
            if n > 1 {
                format!("'utf-8' codec can't decode bytes in position {pos}-{}: {why}", pos + n - 1)
            } else {
                format!("'utf-8' codec can't decode byte 0x{:02x} in position {pos}: {why}", b[pos])
            }
        }
    };
    Exc::new(ExcKind::UnicodeDecodeError, msg)
}
