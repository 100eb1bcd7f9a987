//! Text forms of values: `repr`, `str`, format specs (`{x:.2f}`, `format(x, spec)`,
//! `str.format`), `%` formatting, and CPython-exact float printing (`1e+20`, `0.1`, `3.0`).
//!
//! Everything that may call user code (`__repr__`, `__str__`, `__format__`) copies container
//! contents out of their cells first, so a `__repr__` that mutates the container cannot trip a
//! `RefCell` borrow. Recursive containers print as `[...]`/`{...}` like CPython.

use std::rc::Rc;

use num_traits::ToPrimitive;

use crate::error::{Exc, VmResult};
use crate::value::{identity, BuiltinType, Class, ExcKind, Value};
use crate::Vm;

/// `repr(v)` (calls `__repr__` on instances).
pub fn repr(vm: &mut Vm, v: &Value) -> VmResult<String> {
    let mut out = String::new();
    let mut seen = Vec::new();
    repr_into(vm, v, &mut out, &mut seen)?;
    Ok(out)
}

/// `str(v)` (calls `__str__`, falling back to `__repr__`).
pub fn to_str(vm: &mut Vm, v: &Value) -> VmResult<String> {
    match v {
        Value::Str(s) => Ok(s.s.clone()),
        Value::Int(i) => Ok(itoa(*i)),
        Value::Float(x) => Ok(float_repr(*x)),
        Value::Instance(inst) => {
            if let Some(f) = user_method(&inst.class, "__str__") {
                let r = vm.call_value(&f, &[v.clone()], &[])?;
                return match r {
                    Value::Str(s) => Ok(s.s.clone()),
                    other => Err(Exc::type_error(format!(
                        "__str__ returned non-string (type {})",
                        crate::ops::type_name(&other)
                    ))),
                };
            }
            if let Some(kind) = exc_kind_of_class(&inst.class) {
                if user_method(&inst.class, "__repr__").is_none() {
                    let args = exc_args(v);
                    return match args.len() {
                        0 => Ok(String::new()),
                        1 if kind == ExcKind::KeyError => repr(vm, &args[0]),
                        1 => to_str(vm, &args[0]),
                        _ => repr(vm, &Value::tuple(args)),
                    };
                }
            }
            repr(vm, v)
        }
        Value::Object(o) => {
            if is_special_object(v) {
                repr(vm, v)
            } else {
                Ok(o.str())
            }
        }
        _ => repr(vm, v),
    }
}

/// A user-defined method (a function stored on a class in the chain); built-in classes have
/// natives such as the exception `__init__`, which do not count for `__str__`/`__repr__`.
pub(crate) fn user_method(cls: &Rc<Class>, name: &str) -> Option<Value> {
    match cls.lookup(name) {
        Some(v @ (Value::Function(_) | Value::Native(_) | Value::BoundMethod(_))) => Some(v),
        Some(Value::None) | None => None,
        Some(other) => Some(other),
    }
}

/// The built-in exception kind a class derives from, if any.
pub fn exc_kind_of_class(cls: &Rc<Class>) -> Option<ExcKind> {
    let mut cur = Some(cls.clone());
    while let Some(c) = cur {
        if let Some(BuiltinType::Exc(k)) = c.builtin {
            return Some(k);
        }
        cur = c.base.clone();
    }
    None
}

/// `e.args` of an exception instance as a vector (empty when unset).
pub fn exc_args(v: &Value) -> Vec<Value> {
    if let Value::Instance(inst) = v {
        if let Some(a) = inst.attrs.borrow().get("args") {
            return match a {
                Value::Tuple(t) => t.to_vec(),
                other => vec![other.clone()],
            };
        }
    }
    Vec::new()
}

fn is_special_object(v: &Value) -> bool {
    if let Value::Object(o) = v {
        let any = o.as_any();
        any.is::<crate::ops::DictView>()
    } else {
        false
    }
}

/// Integer to decimal without going through `fmt`.
pub fn itoa(i: i64) -> String {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let neg = i < 0;
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(buf.len() - pos + 1);
    if neg {
        s.push('-');
    }
    // SAFETY-free: the buffer holds ASCII digits only.
    for &b in &buf[pos..] {
        s.push(b as char);
    }
    s
}

fn push_int(out: &mut String, i: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    for &b in &buf[pos..] {
        out.push(b as char);
    }
}

/// Append `repr(v)` to `out`. `seen` holds the identities of the containers being printed.
pub fn repr_into(vm: &mut Vm, v: &Value, out: &mut String, seen: &mut Vec<usize>) -> VmResult<()> {
    let _g = match v {
        Value::List(_) | Value::Tuple(_) | Value::Dict(_) | Value::Set(_) | Value::FrozenSet(_) | Value::Instance(_) => {
            Some(crate::ops::nest(" while getting the repr of an object")?)
        }
        _ => None,
    };
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => push_int(out, *i),
        Value::BigInt(b) => out.push_str(&crate::lib_num::big_to_decimal(b)?),
        Value::Float(x) => out.push_str(&float_repr(*x)),
        Value::Str(s) => str_repr_into(&s.s, out),
        Value::Bytes(b) => bytes_repr_into(b, out),
        Value::List(l) => {
            let id = Rc::as_ptr(l) as usize;
            if seen.contains(&id) {
                out.push_str("[...]");
                return Ok(());
            }
            let items: Vec<Value> = l.borrow().clone();
            seen.push(id);
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(vm, item, out, seen)?;
            }
            out.push(']');
            seen.pop();
        }
        Value::Tuple(t) => {
            out.push('(');
            for (i, item) in t.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(vm, item, out, seen)?;
            }
            if t.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::Dict(d) => {
            let id = Rc::as_ptr(d) as usize;
            if seen.contains(&id) {
                out.push_str("{...}");
                return Ok(());
            }
            let items: Vec<(Value, Value)> = d.borrow().iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
            seen.push(id);
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(vm, k, out, seen)?;
                out.push_str(": ");
                repr_into(vm, val, out, seen)?;
            }
            out.push('}');
            seen.pop();
        }
        Value::Set(s) => {
            let mut items: Vec<Value> = s.borrow().iter().map(|k| k.0.clone()).collect();
            crate::ops::set_order(&mut items);
            if items.is_empty() {
                out.push_str("set()");
            } else {
                set_items_repr(vm, &items, out, seen)?;
            }
        }
        Value::FrozenSet(s) => {
            out.push_str("frozenset(");
            if !s.is_empty() {
                let mut items: Vec<Value> = s.iter().map(|k| k.0.clone()).collect();
                crate::ops::set_order(&mut items);
                set_items_repr(vm, &items, out, seen)?;
            }
            out.push(')');
        }
        Value::Range(r) => {
            out.push_str("range(");
            push_int(out, r.start);
            out.push_str(", ");
            push_int(out, r.stop);
            if r.step != 1 {
                out.push_str(", ");
                push_int(out, r.step);
            }
            out.push(')');
        }
        Value::Function(c) => {
            let name = c.qualname().to_string();
            out.push_str(&format!("<function {} at 0x{:x}>", name, identity(v)));
        }
        Value::Native(n) => match &n.bound {
            Some(recv) => out.push_str(&format!(
                "<built-in method {} of {} object at 0x{:x}>",
                n.name,
                crate::ops::type_name(recv),
                identity(recv)
            )),
            None => out.push_str(&format!("<built-in function {}>", n.name)),
        },
        Value::BoundMethod(b) => {
            let fname = crate::ops::function_name(&b.func);
            let cls = crate::ops::type_name(&b.receiver);
            out.push_str(&format!("<bound method {}.{} of ", cls, fname));
            repr_into(vm, &b.receiver, out, seen)?;
            out.push('>');
        }
        Value::Class(c) => {
            if c.builtin.is_some() {
                out.push_str(&format!("<class '{}'>", c.name.s));
            } else {
                out.push_str(&format!("<class '__main__.{}'>", c.name.s));
            }
        }
        Value::Instance(inst) => {
            let id = Rc::as_ptr(inst) as usize;
            if let Some(f) = user_method(&inst.class, "__repr__") {
                if seen.contains(&id) {
                    out.push_str("...");
                    return Ok(());
                }
                seen.push(id);
                let r = vm.call_value(&f, &[v.clone()], &[]);
                seen.pop();
                match r? {
                    Value::Str(s) => out.push_str(&s.s),
                    other => {
                        return Err(Exc::type_error(format!(
                            "__repr__ returned non-string (type {})",
                            crate::ops::type_name(&other)
                        )))
                    }
                }
            } else if exc_kind_of_class(&inst.class).is_some() {
                let args = exc_args(v);
                out.push_str(&inst.class.name.s);
                if args.len() == 1 {
                    out.push('(');
                    repr_into(vm, &args[0], out, seen)?;
                    out.push(')');
                } else {
                    repr_into(vm, &Value::tuple(args), out, seen)?;
                }
            } else {
                out.push_str(&format!("<__main__.{} object at 0x{:x}>", inst.class.name.s, id));
            }
        }
        Value::Module(m) => out.push_str(&format!("<module '{}'>", m.name)),
        Value::Iter(_) => out.push_str(&format!("<{} object at 0x{:x}>", crate::ops::type_name(v), identity(v))),
        Value::Cell(c) => {
            let inner = c.borrow().clone();
            repr_into(vm, &inner, out, seen)?;
        }
        // Unreachable by construction (every read of a possibly unbound local is checked);
        // printed rather than panicking should that invariant ever break.
        Value::Unbound => out.push_str("<unbound>"),
        Value::Object(o) => {
            if let Some(view) = o.as_any().downcast_ref::<crate::ops::DictView>() {
                let items = view.snapshot();
                out.push_str(view.kind.name());
                out.push('(');
                let lst = Value::list(items);
                repr_into(vm, &lst, out, seen)?;
                out.push(')');
            } else {
                out.push_str(&o.repr());
            }
        }
    }
    Ok(())
}

fn set_items_repr(vm: &mut Vm, items: &[Value], out: &mut String, seen: &mut Vec<usize>) -> VmResult<()> {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr_into(vm, item, out, seen)?;
    }
    out.push('}');
    Ok(())
}

/// Python's `repr(str)`.
pub fn str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    str_repr_into(s, &mut out);
    out
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 || u == 0x7f {
        return false;
    }
    if u < 0x7f {
        return true;
    }
    if (0x80..=0xa0).contains(&u) || u == 0xad {
        return false;
    }
    // Separators, format characters, private use and noncharacters that CPython escapes.
    !matches!(u,
        0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f | 0x3000 | 0xfeff
        | 0xd800..=0xf8ff | 0xfff9..=0xfffb | 0xfffe | 0xffff | 0xe0000..=0xe0fff
        | 0xf0000..=0x10ffff)
}

pub fn str_repr_into(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let u = c as u32;
                if u < 0x100 {
                    out.push_str(&format!("\\x{:02x}", u));
                } else if u < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", u));
                } else {
                    out.push_str(&format!("\\U{:08x}", u));
                }
            }
        }
    }
    out.push(quote);
}

/// Python's `repr(bytes)`.
pub fn bytes_repr_into(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { b'"' } else { b'\'' };
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{:02x}", c)),
        }
    }
    out.push(quote as char);
}

/// Shortest round-trip digits and decimal exponent of a finite, non-zero float:
/// `x = 0.d1d2d3... * 10^decpt`.
fn shortest_digits(x: f64) -> (String, i32) {
    let e = format!("{:e}", x.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp + 1)
}

/// CPython's `repr(float)`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let (digits, decpt) = shortest_digits(x);
    let mut out = String::with_capacity(24);
    if x < 0.0 {
        out.push('-');
    }
    let exp = decpt - 1;
    if (-4..16).contains(&exp) {
        fixed_from_digits(&digits, decpt, &mut out, true);
    } else {
        exp_from_digits(&digits, exp, &mut out);
    }
    out
}

fn fixed_from_digits(digits: &str, decpt: i32, out: &mut String, force_point: bool) {
    let n = digits.len() as i32;
    if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(digits);
    } else if decpt >= n {
        out.push_str(digits);
        for _ in 0..(decpt - n) {
            out.push('0');
        }
        if force_point {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

fn exp_from_digits(digits: &str, exp: i32, out: &mut String) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    push_exp(out, exp);
}

fn push_exp(out: &mut String, exp: i32) {
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

// ---------------------------------------------------------------------------------------------
// Format-spec mini-language.

#[derive(Default, Debug)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alt: bool,
    zero: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    ty: Option<char>,
}

/// Widths and precisions beyond this are refused (they could only build absurdly large strings).
const MAX_WIDTH: usize = 1 << 24;

fn parse_count(digits: &[char]) -> VmResult<usize> {
    match digits.iter().collect::<String>().parse::<usize>() {
        Ok(n) if n <= MAX_WIDTH => Ok(n),
        _ => Err(Exc::value_error("Too many decimal digits in format string")),
    }
}

fn parse_spec(spec: &str) -> VmResult<Spec> {
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut s = Spec::default();
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        s.fill = Some(chars[0]);
        s.align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && is_align(chars[0]) {
        s.align = Some(chars[0]);
        i = 1;
    }
    if i < chars.len() && matches!(chars[i], '+' | '-' | ' ') {
        s.sign = Some(chars[i]);
        i += 1;
    }
    if i < chars.len() && chars[i] == 'z' {
        i += 1;
    }
    if i < chars.len() && chars[i] == '#' {
        s.alt = true;
        i += 1;
    }
    if i < chars.len() && chars[i] == '0' {
        s.zero = true;
        i += 1;
    }
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        s.width = parse_count(&chars[start..i])?;
    }
    if i < chars.len() && matches!(chars[i], ',' | '_') {
        s.grouping = Some(chars[i]);
        i += 1;
    }
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(Exc::value_error("Format specifier missing precision"));
        }
        s.precision = Some(parse_count(&chars[start..i])?);
    }
    if i < chars.len() {
        s.ty = Some(chars[i]);
        i += 1;
    }
    if i < chars.len() {
        return Err(Exc::value_error("Invalid format specifier"));
    }
    Ok(s)
}

/// Pad `body` (already signed; `sign_len` leading chars are the sign/prefix) per the spec.
fn pad(s: &Spec, body: String, sign_len: usize, default_right: bool) -> String {
    let len = body.chars().count();
    if len >= s.width {
        return body;
    }
    let (fill, align) = match (s.fill, s.align) {
        (f, Some(a)) => (f.unwrap_or(if s.zero && a == '=' { '0' } else { ' ' }), a),
        (_, None) if s.zero => ('0', '='),
        (_, None) => (' ', if default_right { '>' } else { '<' }),
    };
    let n = s.width - len;
    let fills = |k: usize| std::iter::repeat(fill).take(k).collect::<String>();
    match align {
        '<' => body + &fills(n),
        '^' => fills(n / 2) + &body + &fills(n - n / 2),
        '=' => {
            let split = body.char_indices().nth(sign_len).map(|(i, _)| i).unwrap_or(body.len());
            format!("{}{}{}", &body[..split], fills(n), &body[split..])
        }
        _ => fills(n) + &body,
    }
}

fn group_digits(int_part: &str, sep: char, every: usize) -> String {
    let n = int_part.len();
    let mut out = String::with_capacity(n + n / every);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (n - i) % every == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Group `digits`; with the `0` flag (and no explicit alignment) first pad them with zeros so
/// that the grouped number fills the width, as CPython does (`format(7, '08,.2f')` → `0,007.00`).
fn zero_grouped(s: &Spec, digits: &str, sep: char, every: usize, lead: usize, tail: usize) -> String {
    let mut d = digits.to_string();
    if s.zero && s.align.is_none() && s.fill.is_none() {
        let need = s.width.saturating_sub(lead + tail);
        loop {
            let g = group_digits(&d, sep, every);
            if g.len() >= need {
                return g;
            }
            d.insert(0, '0');
        }
    }
    group_digits(&d, sep, every)
}

fn sign_prefix(neg: bool, sign: Option<char>) -> &'static str {
    if neg {
        "-"
    } else {
        match sign {
            Some('+') => "+",
            Some(' ') => " ",
            _ => "",
        }
    }
}

/// `format(v, spec)`: the format-spec mini-language (`>10`, `,`, `.2f`, `08.3e`, `x`, `%`...).
pub fn format_spec(vm: &mut Vm, v: &Value, spec: &str) -> VmResult<String> {
    if let Value::Instance(inst) = v {
        if let Some(f) = user_method(&inst.class, "__format__") {
            let r = vm.call_value(&f, &[v.clone(), Value::str(spec)], &[])?;
            return to_str(vm, &r);
        }
    }
    if let Value::Object(o) = v {
        if let Some(f) = o.get_attr(vm, v, "__format__")? {
            let r = vm.call_value(&f, &[Value::str(spec)], &[])?;
            return to_str(vm, &r);
        }
    }
    if spec.is_empty() {
        return to_str(vm, v);
    }
    match v {
        Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => {
            let s = parse_spec(spec)?;
            format_int(v, &s)
        }
        Value::Float(x) => {
            let s = parse_spec(spec)?;
            format_float(*x, &s, "float")
        }
        Value::Str(st) => {
            let s = parse_spec(spec)?;
            format_str(&st.s, &s)
        }
        _ => Err(Exc::type_error(format!(
            "unsupported format string passed to {}.__format__",
            crate::ops::type_name(v)
        ))),
    }
}

fn format_str(text: &str, s: &Spec) -> VmResult<String> {
    match s.ty {
        None | Some('s') => {}
        Some(t) => return Err(Exc::value_error(format!("Unknown format code '{}' for object of type 'str'", t))),
    }
    if s.sign.is_some() {
        return Err(Exc::value_error("Sign not allowed in string format specifier"));
    }
    if s.align == Some('=') {
        return Err(Exc::value_error("'=' alignment not allowed in string format specifier"));
    }
    let body: String = match s.precision {
        Some(p) => text.chars().take(p).collect(),
        None => text.to_string(),
    };
    Ok(pad(s, body, 0, false))
}

fn format_int(v: &Value, s: &Spec) -> VmResult<String> {
    let big = match v {
        Value::Int(i) => num_bigint::BigInt::from(*i),
        Value::Bool(b) => num_bigint::BigInt::from(*b as i64),
        Value::BigInt(b) => (**b).clone(),
        _ => unreachable!(),
    };
    let ty = s.ty.unwrap_or('d');
    match ty {
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%' => {
            let x = big.to_f64().unwrap_or(f64::INFINITY);
            return format_float(x, s, "int");
        }
        'n' if false => {}
        _ => {}
    }
    if s.precision.is_some() {
        return Err(Exc::value_error("Precision not allowed in integer format specifier"));
    }
    let neg = big.sign() == num_bigint::Sign::Minus;
    let mag = if neg { -big.clone() } else { big.clone() };
    let (digits, prefix, every) = match ty {
        'd' | 'n' => (mag.to_str_radix(10), "", 3),
        'x' => (mag.to_str_radix(16), "0x", 4),
        'X' => (mag.to_str_radix(16).to_uppercase(), "0X", 4),
        'o' => (mag.to_str_radix(8), "0o", 4),
        'b' => (mag.to_str_radix(2), "0b", 4),
        'c' => {
            let c = big.to_u32().and_then(char::from_u32).ok_or_else(|| {
                Exc::new(ExcKind::OverflowError, "%c arg not in range(0x110000)")
            })?;
            return Ok(pad(s, c.to_string(), 0, false));
        }
        t => {
            return Err(Exc::value_error(format!(
                "Unknown format code '{}' for object of type '{}'",
                t,
                crate::ops::type_name(v)
            )))
        }
    };
    let digits = match s.grouping {
        Some(g) => {
            if g == ',' && ty != 'd' && ty != 'n' {
                return Err(Exc::value_error(format!("Cannot specify ',' with '{}'.", ty)));
            }
            let lead = sign_prefix(neg, s.sign).len() + if s.alt { prefix.len() } else { 0 };
            zero_grouped(s, &digits, g, every, lead, 0)
        }
        None => digits,
    };
    let mut body = String::new();
    body.push_str(sign_prefix(neg, s.sign));
    if s.alt {
        body.push_str(prefix);
    }
    let sign_len = body.len();
    body.push_str(&digits);
    Ok(pad(s, body, sign_len, true))
}

fn format_float(x: f64, s: &Spec, tyname: &str) -> VmResult<String> {
    let neg = x.is_sign_negative() && !x.is_nan();
    let a = x.abs();
    let ty = s.ty;
    if let Some(t) = ty {
        if !matches!(t, 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 'n' | '%') {
            return Err(Exc::value_error(format!(
                "Unknown format code '{}' for object of type '{}'",
                t, tyname
            )));
        }
    }
    let mut body: String;
    if !a.is_finite() {
        body = if a.is_nan() { "nan".into() } else { "inf".into() };
        if matches!(ty, Some('E') | Some('F') | Some('G')) {
            body = body.to_uppercase();
        }
        if ty == Some('%') {
            body.push('%');
        }
    } else {
        body = match ty {
            Some('f') | Some('F') => {
                let mut r = format!("{:.*}", s.precision.unwrap_or(6), a);
                if s.alt && s.precision == Some(0) {
                    r.push('.');
                }
                r
            }
            Some('%') => format!("{:.*}%", s.precision.unwrap_or(6), a * 100.0),
            Some('e') | Some('E') => {
                let r = exp_format(a, s.precision.unwrap_or(6), s.alt);
                if ty == Some('E') { r.to_uppercase() } else { r }
            }
            Some('g') | Some('G') | Some('n') => {
                let r = general_format(a, s.precision.unwrap_or(6), s.alt, false);
                if ty == Some('G') { r.to_uppercase() } else { r }
            }
            None => match s.precision {
                None => {
                    let r = float_repr(a);
                    r
                }
                Some(p) => general_format(a, p, s.alt, true),
            },
            Some(t) => {
                return Err(Exc::value_error(format!(
                    "Unknown format code '{}' for object of type '{}'",
                    t, tyname
                )))
            }
        };
        if let Some(g) = s.grouping {
            let end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
            let lead = sign_prefix(neg, s.sign).len();
            let tail = body[end..].chars().count();
            let grouped = zero_grouped(s, &body[..end], g, 3, lead, tail);
            body = grouped + &body[end..];
        }
    }
    let prefix = sign_prefix(neg, s.sign);
    let sign_len = prefix.len();
    Ok(pad(s, format!("{}{}", prefix, body), sign_len, true))
}

/// `format(a, '.{p}e')` for a non-negative finite `a`.
fn exp_format(a: f64, p: usize, alt: bool) -> String {
    let r = format!("{:.*e}", p, a);
    let (mant, exp) = r.split_once('e').unwrap_or((&r, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = mant.to_string();
    if alt && p == 0 {
        out.push('.');
    }
    push_exp(&mut out, exp);
    out
}

/// `'g'` formatting (and the no-type form with a precision when `keep_point`).
fn general_format(a: f64, p: usize, alt: bool, keep_point: bool) -> String {
    let p = if p == 0 { 1 } else { p };
    if a == 0.0 {
        let mut s = String::from("0");
        if alt {
            s.push('.');
            for _ in 1..p {
                s.push('0');
            }
        } else if keep_point {
            s.push_str(".0");
        }
        return s;
    }
    let r = format!("{:.*e}", p - 1, a);
    let (mant, exp) = r.split_once('e').unwrap_or((&r, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if exp >= -4 && exp < p as i32 {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        out = format!("{:.*}", decimals, a);
        if alt && !out.contains('.') {
            out.push('.');
        }
        if !alt && out.contains('.') {
            while out.ends_with('0') {
                out.pop();
            }
            if out.ends_with('.') {
                if keep_point {
                    out.push('0');
                } else {
                    out.pop();
                }
            }
        } else if !out.contains('.') && keep_point {
            out.push_str(".0");
        }
    } else {
        let mut d = digits.clone();
        if !alt {
            while d.len() > 1 && d.ends_with('0') {
                d.pop();
            }
        }
        out.push_str(&d[..1]);
        if d.len() > 1 || alt {
            out.push('.');
            out.push_str(&d[1..]);
        }
        push_exp(&mut out, exp);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// `%` formatting.

/// `fmt % args` for strings.
pub fn percent_format(vm: &mut Vm, fmt: &str, args: &Value) -> VmResult<String> {
    let (items, mapping): (Vec<Value>, Option<Value>) = match args {
        Value::Tuple(t) => (t.to_vec(), None),
        Value::Dict(_) => (vec![args.clone()], Some(args.clone())),
        other => (vec![other.clone()], None),
    };
    let mut out = String::with_capacity(fmt.len() + 16);
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut argi = 0;
    let mut used_mapping = false;
    let next_arg = |argi: &mut usize| -> VmResult<Value> {
        let v = items.get(*argi).cloned().ok_or_else(|| Exc::type_error("not enough arguments for format string"))?;
        *argi += 1;
        Ok(v)
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= chars.len() {
            return Err(Exc::value_error("incomplete format"));
        }
        let mut key_val: Option<Value> = None;
        if chars[i] == '(' {
            let start = i + 1;
            let mut depth = 1;
            let mut j = start;
            while j < chars.len() && depth > 0 {
                if chars[j] == '(' {
                    depth += 1;
                } else if chars[j] == ')' {
                    depth -= 1;
                }
                j += 1;
            }
            if depth > 0 {
                return Err(Exc::value_error("incomplete format key"));
            }
            let key: String = chars[start..j - 1].iter().collect();
            let m = mapping.clone().ok_or_else(|| Exc::type_error("format requires a mapping"))?;
            key_val = Some(crate::ops::get_item(vm, &m, &Value::str(key))?);
            used_mapping = true;
            i = j;
        }
        let mut spec = Spec::default();
        while i < chars.len() && matches!(chars[i], '-' | '+' | ' ' | '#' | '0') {
            match chars[i] {
                '-' => spec.align = Some('<'),
                '+' => spec.sign = Some('+'),
                ' ' => {
                    if spec.sign.is_none() {
                        spec.sign = Some(' ')
                    }
                }
                '#' => spec.alt = true,
                _ => spec.zero = true,
            }
            i += 1;
        }
        if i < chars.len() && chars[i] == '*' {
            let w = next_arg(&mut argi)?;
            let w = match w {
                Value::Int(n) => n,
                _ => return Err(Exc::type_error("* wants int")),
            };
            if w < 0 {
                spec.align = Some('<');
            }
            if w.unsigned_abs() as usize > MAX_WIDTH {
                return Err(Exc::value_error("width too big"));
            }
            spec.width = w.unsigned_abs() as usize;
            i += 1;
        } else {
            let st = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i > st {
                spec.width = parse_count(&chars[st..i])?;
            }
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                let p = next_arg(&mut argi)?;
                spec.precision = Some(match p {
                    Value::Int(n) if n >= 0 && (n as usize) <= MAX_WIDTH => n as usize,
                    Value::Int(n) if n >= 0 => return Err(Exc::value_error("precision too big")),
                    _ => 0,
                });
                i += 1;
            } else {
                let st = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                spec.precision = Some(if i > st { parse_count(&chars[st..i])? } else { 0 });
            }
        }
        while i < chars.len() && matches!(chars[i], 'h' | 'l' | 'L') {
            i += 1;
        }
        if i >= chars.len() {
            return Err(Exc::value_error("incomplete format"));
        }
        let conv = chars[i];
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match key_val.take() {
            Some(v) => v,
            None => next_arg(&mut argi)?,
        };
        if spec.align == Some('<') {
            spec.zero = false;
        }
        let piece = match conv {
            's' | 'r' | 'a' => {
                let text = if conv == 's' { to_str(vm, &arg)? } else { repr(vm, &arg)? };
                let text: String = match spec.precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                };
                spec.zero = false;
                spec.sign = None;
                pad(&spec, text, 0, true)
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                let iv = match &arg {
                    Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => arg.clone(),
                    Value::Float(f) if conv == 'd' || conv == 'i' || conv == 'u' => {
                        crate::lib_num::float_to_int(*f)?
                    }
                    other => {
                        let msg = if conv == 'd' || conv == 'i' || conv == 'u' {
                            format!("%{} format: a real number is required, not {}", conv, crate::ops::type_name(other))
                        } else {
                            format!("%{} format: an integer is required, not {}", conv, crate::ops::type_name(other))
                        };
                        return Err(Exc::type_error(msg));
                    }
                };
                spec.ty = Some(match conv {
                    'i' | 'u' => 'd',
                    c => c,
                });
                let prec = spec.precision.take();
                let mut s = format_int(&iv, &spec)?;
                if let Some(p) = prec {
                    // Minimum number of digits.
                    let neg = s.starts_with('-');
                    let digits = s.trim_start_matches('-').trim_start();
                    if digits.len() < p {
                        let z = "0".repeat(p - digits.len());
                        s = format!("{}{}{}", if neg { "-" } else { "" }, z, digits);
                        s = pad(&Spec { width: spec.width, align: spec.align, ..Default::default() }, s, 0, true);
                    }
                }
                s
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                let x = match &arg {
                    Value::Float(f) => *f,
                    Value::Int(n) => *n as f64,
                    Value::Bool(b) => *b as i64 as f64,
                    Value::BigInt(b) => b.to_f64().unwrap_or(f64::INFINITY),
                    other => {
                        return Err(Exc::type_error(format!(
                            "must be real number, not {}",
                            crate::ops::type_name(other)
                        )))
                    }
                };
                spec.ty = Some(conv);
                if spec.precision.is_none() {
                    spec.precision = Some(6);
                }
                format_float(x, &spec, "float")?
            }
            'c' => {
                let ch = match &arg {
                    Value::Int(n) => char::from_u32(*n as u32)
                        .ok_or_else(|| Exc::new(ExcKind::OverflowError, "%c arg not in range(0x110000)"))?
                        .to_string(),
                    Value::Str(s) if s.s.chars().count() == 1 => s.s.clone(),
                    _ => return Err(Exc::type_error("%c requires int or char")),
                };
                spec.zero = false;
                pad(&spec, ch, 0, true)
            }
            other => {
                return Err(Exc::value_error(format!(
                    "unsupported format character '{}' (0x{:x}) at index {}",
                    other,
                    other as u32,
                    i - 1
                )))
            }
        };
        out.push_str(&piece);
    }
    if argi < items.len() && !used_mapping && mapping.is_none() {
        return Err(Exc::type_error("not all arguments converted during string formatting"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// `str.format`.

/// `fmt.format(*args, **kw)`.
pub fn str_format(vm: &mut Vm, fmt: &str, args: &[Value], kw: &[(Rc<crate::value::StrObj>, Value)]) -> VmResult<String> {
    let mut auto = 0usize;
    let mut manual = false;
    let mut automatic = false;
    format_inner(vm, fmt, args, kw, &mut auto, &mut manual, &mut automatic, 0)
}

#[allow(clippy::too_many_arguments)]
fn format_inner(
    vm: &mut Vm,
    fmt: &str,
    args: &[Value],
    kw: &[(Rc<crate::value::StrObj>, Value)],
    auto: &mut usize,
    manual: &mut bool,
    automatic: &mut bool,
    depth: usize,
) -> VmResult<String> {
    if depth > 2 {
        return Err(Exc::value_error("Max string recursion exceeded"));
    }
    let mut out = String::with_capacity(fmt.len() + 16);
    let b = fmt.as_bytes();
    let mut i = 0;
    let mut lit_start = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                if i + 1 < b.len() && b[i + 1] == b'{' {
                    out.push_str(&fmt[lit_start..i]);
                    out.push('{');
                    i += 2;
                    lit_start = i;
                    continue;
                }
                out.push_str(&fmt[lit_start..i]);
                // Find the matching '}' (specs may nest one level of braces).
                let mut depth_b = 1;
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == b'{' {
                        depth_b += 1;
                    } else if b[j] == b'}' {
                        depth_b -= 1;
                        if depth_b == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                if j >= b.len() {
                    return Err(Exc::value_error("expected '}' before end of string"));
                }
                let field = &fmt[i + 1..j];
                // Split field name, conversion and spec.
                let mut name_end = field.len();
                let mut bracket = false;
                for (k, c) in field.char_indices() {
                    match c {
                        '[' => bracket = true,
                        ']' => bracket = false,
                        '!' | ':' if !bracket => {
                            name_end = k;
                            break;
                        }
                        _ => {}
                    }
                }
                let name = &field[..name_end];
                let rest = &field[name_end..];
                let (conv, spec) = if let Some(r) = rest.strip_prefix('!') {
                    let (c, s) = match r.find(':') {
                        Some(p) => (&r[..p], &r[p + 1..]),
                        None => (r, ""),
                    };
                    if c.chars().count() != 1 {
                        return Err(Exc::value_error("expected ':' after conversion specifier"));
                    }
                    (c.chars().next(), s)
                } else if let Some(s) = rest.strip_prefix(':') {
                    (None, s)
                } else {
                    (None, "")
                };
                let value = resolve_field(vm, name, args, kw, auto, manual, automatic)?;
                let value = match conv {
                    None => value,
                    Some('r') | Some('a') => Value::str(repr(vm, &value)?),
                    Some('s') => Value::str(to_str(vm, &value)?),
                    Some(c) => {
                        return Err(Exc::value_error(format!("Unknown conversion specifier {}", c)))
                    }
                };
                let spec = if spec.contains('{') {
                    format_inner(vm, spec, args, kw, auto, manual, automatic, depth + 1)?
                } else {
                    spec.to_string()
                };
                out.push_str(&format_spec(vm, &value, &spec)?);
                i = j + 1;
                lit_start = i;
            }
            b'}' => {
                if i + 1 < b.len() && b[i + 1] == b'}' {
                    out.push_str(&fmt[lit_start..i]);
                    out.push('}');
                    i += 2;
                    lit_start = i;
                    continue;
                }
                return Err(Exc::value_error("Single '}' encountered in format string"));
            }
            _ => i += 1,
        }
    }
    out.push_str(&fmt[lit_start..]);
    Ok(out)
}

fn resolve_field(
    vm: &mut Vm,
    name: &str,
    args: &[Value],
    kw: &[(Rc<crate::value::StrObj>, Value)],
    auto: &mut usize,
    manual: &mut bool,
    automatic: &mut bool,
) -> VmResult<Value> {
    let first_end = name.find(['.', '[']).unwrap_or(name.len());
    let first = &name[..first_end];
    let mut value = if first.is_empty() {
        if *manual {
            return Err(Exc::value_error(
                "cannot switch from manual field specification to automatic field numbering",
            ));
        }
        *automatic = true;
        let idx = *auto;
        *auto += 1;
        args.get(idx).cloned().ok_or_else(|| {
            Exc::index_error(format!("Replacement index {} out of range for positional args tuple", idx))
        })?
    } else if first.bytes().all(|c| c.is_ascii_digit()) {
        if *automatic {
            return Err(Exc::value_error(
                "cannot switch from automatic field numbering to manual field specification",
            ));
        }
        *manual = true;
        let idx: usize = first.parse().unwrap_or(usize::MAX);
        args.get(idx).cloned().ok_or_else(|| {
            Exc::index_error(format!("Replacement index {} out of range for positional args tuple", idx))
        })?
    } else {
        match kw.iter().find(|(k, _)| k.s == first) {
            Some((_, v)) => v.clone(),
            None => return Err(crate::ops::key_error(vm, Value::str(first))),
        }
    };
    let mut rest = &name[first_end..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            value = crate::ops::get_attr(vm, &value, &r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| Exc::value_error("Missing ']' in format string"))?;
            let key = &r[..end];
            let k = if !key.is_empty() && key.bytes().all(|c| c.is_ascii_digit()) {
                Value::Int(key.parse().unwrap_or(0))
            } else {
                Value::str(key)
            };
            value = crate::ops::get_item(vm, &value, &k)?;
            rest = &r[end + 1..];
        } else {
            return Err(Exc::value_error("Only '.' or '[' may follow ']' in format field specifier"));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(123456789.123456789), "123456789.12345679");
        assert_eq!(float_repr(5e-324), "5e-324");
        assert_eq!(float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(float_repr(3.0), "3.0");
        assert_eq!(float_repr(-1.5e-10), "-1.5e-10");
        assert_eq!(float_repr(12345678901234567890.0), "1.2345678901234567e+19");
    }

    #[test]
    fn specs() {
        let s = parse_spec(",.2f").unwrap();
        assert_eq!(format_float(12345.678, &s, "float").unwrap(), "12,345.68");
        let s = parse_spec(".2%").unwrap();
        assert_eq!(format_float(0.5, &s, "float").unwrap(), "50.00%");
        let s = parse_spec("05d").unwrap();
        assert_eq!(format_int(&Value::Int(42), &s).unwrap(), "00042");
        let s = parse_spec("#x").unwrap();
        assert_eq!(format_int(&Value::Int(255), &s).unwrap(), "0xff");
        let s = parse_spec("g").unwrap();
        assert_eq!(format_float(1234567.0, &s, "float").unwrap(), "1.23457e+06");
        assert_eq!(format_float(0.0001, &s, "float").unwrap(), "0.0001");
        let s = parse_spec(".3").unwrap();
        assert_eq!(format_float(1.0, &s, "float").unwrap(), "1.0");
        assert_eq!(format_float(1234.5, &s, "float").unwrap(), "1.23e+03");
        let s = parse_spec("+.1e").unwrap();
        assert_eq!(format_float(12345.0, &s, "float").unwrap(), "+1.2e+04");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("\x00é"), "'\\x00é'");
    }

    #[test]
    fn float_repr_round_trips_like_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(123456789.125), "123456789.125");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(float_repr(1.5e300), "1.5e+300");
        assert_eq!(float_repr(-0.0), "-0.0");
        assert_eq!(float_repr(2.0f64.sqrt()), "1.4142135623730951");
    }
}
