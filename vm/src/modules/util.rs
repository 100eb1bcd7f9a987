//! Helpers shared by the native modules: building module/class/function values, binding
//! positional and keyword arguments the way CPython's argument clinic reports errors, numeric
//! conversions, and Python-exact float printing for the modules that must not depend on the
//! formatting code being complete (json).

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive};

use crate::error::{Exc, ExcData, VmResult};
use crate::value::{Class, ExcKind, ModuleObj, NativeFnPtr, NativeFunc, NativeObject, StrObj, Value};
use crate::Vm;

pub type Kw = [(Rc<StrObj>, Value)];

/// A plain (unbound) native function value.
pub fn func(name: &'static str, f: NativeFnPtr) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func: f, bound: None, data: None }))
}

/// A native function bound to `this` (it receives `this` as `args[0]`).
pub fn method(name: &'static str, f: NativeFnPtr, this: &Value) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func: f, bound: Some(this.clone()), data: None }))
}

/// Wrap a native object into a value.
pub fn obj<T: NativeObject>(o: T) -> Value {
    Value::Object(Rc::new(Box::new(o)))
}

/// Borrow the native object of type `T` behind `v`, if it is one.
pub fn downcast<T: 'static>(v: &Value) -> Option<&T> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<T>(),
        _ => None,
    }
}

/// The receiver of a bound native method (`args[0]`), checked to be a `T`.
pub fn this<'a, T: 'static>(args: &'a [Value], what: &str) -> VmResult<&'a T> {
    args.first()
        .and_then(downcast::<T>)
        .ok_or_else(|| Exc::type_error(format!("descriptor requires a '{what}' object")))
}

/// Build a module value from `(name, value)` pairs.
pub fn module(name: &str, attrs: Vec<(&str, Value)>) -> Value {
    let mut map = IndexMap::default();
    for (k, v) in attrs {
        map.insert(Rc::<str>::from(k), v);
    }
    Value::Module(Rc::new(ModuleObj { name: Rc::from(name), attrs: RefCell::new(map) }))
}

/// A class implemented natively. Calling it goes through its `__new__` attribute (a native that
/// builds the object; see [`skip_cls`] for its arguments), as Python's `type.__call__` does when
/// `__new__` returns an object that is not an instance of the class.
///
/// Workaround: the interpreter only consults `__new__` on classes with a `builtin` tag, so
/// classes with a `__new__` are tagged `BuiltinType::Module` (a tag no other code keys on for
/// construction). That also makes `isinstance(obj, cls)` compare `type_name()` with the class
/// name, which is what native objects need.
pub fn class(name: &str, base: Option<Rc<Class>>, attrs: Vec<(&str, Value)>) -> Rc<Class> {
    let mut map = IndexMap::default();
    let mut has_new = false;
    for (k, v) in attrs {
        has_new |= k == "__new__";
        map.insert(Rc::<str>::from(k), v);
    }
    let builtin = if has_new { Some(crate::value::BuiltinType::Module) } else { None };
    Rc::new(Class { name: Rc::new(StrObj::new(name.to_string())), base, attrs: RefCell::new(map), builtin })
}

/// The arguments of a native `__new__` or class method without the class itself: the
/// interpreter may or may not pass the class first (Python passes it to `__new__` and to
/// classmethods; Ask's interpreter calls `__new__` like a plain function).
pub fn skip_cls(args: &[Value]) -> &[Value] {
    match args.first() {
        Some(Value::Class(c)) if c.attrs.borrow().contains_key("__new__") => &args[1..],
        _ => args,
    }
}

/// Raise an instance of a (non-built-in) exception class such as `json.JSONDecodeError`:
/// the class is called like Ask code would call it. When that fails (e.g. the class machinery
/// is not available), fall back to the built-in `fallback` kind with the same message.
pub fn raise_class(vm: &mut Vm, cls: &Value, fallback: ExcKind, msg: &str) -> Exc {
    match vm.call_value(cls, &[Value::str(msg)], &[]) {
        Ok(value) => Exc(Box::new(ExcData::Raised { value, traceback: Vec::new() })),
        Err(_) => Exc::new(fallback, msg),
    }
}

/// Python's `type(v).__name__`, for error messages.
pub fn tname(v: &Value) -> String {
    match v {
        Value::Instance(i) => i.class.name.s.clone(),
        Value::Object(o) => o.type_name().to_string(),
        Value::Iter(_) => "iterator".to_string(),
        other => other.kind_name().to_string(),
    }
}

/// Bind `args`/`kw` to the parameter `names`: the first `required` are mandatory. Returns one
/// slot per name. Error wording follows CPython's built-ins.
pub fn bind<const N: usize>(
    fname: &str,
    args: &[Value],
    kw: &Kw,
    names: [&str; N],
    required: usize,
) -> VmResult<[Option<Value>; N]> {
    let mut out: [Option<Value>; N] = std::array::from_fn(|_| None);
    if args.len() > N {
        return Err(Exc::type_error(if N == required {
            format!("{fname}() takes exactly {N} argument{} ({} given)", if N == 1 { "" } else { "s" }, args.len())
        } else {
            format!("{fname}() takes at most {N} argument{} ({} given)", if N == 1 { "" } else { "s" }, args.len())
        }));
    }
    for (i, a) in args.iter().enumerate() {
        out[i] = Some(a.clone());
    }
    for (k, v) in kw {
        match names.iter().position(|n| *n == k.as_str()) {
            Some(i) => {
                if out[i].is_some() {
                    return Err(Exc::type_error(format!(
                        "{fname}() got multiple values for argument '{}'",
                        k.as_str()
                    )));
                }
                out[i] = Some(v.clone());
            }
            None => {
                return Err(Exc::type_error(format!(
                    "{fname}() got an unexpected keyword argument '{}'",
                    k.as_str()
                )))
            }
        }
    }
    for i in 0..required {
        if out[i].is_none() {
            return Err(Exc::type_error(format!(
                "{fname}() missing required argument '{}' (pos {})",
                names[i],
                i + 1
            )));
        }
    }
    Ok(out)
}

/// Reject keyword arguments for a function that takes none.
pub fn no_kw(fname: &str, kw: &Kw) -> VmResult<()> {
    if let Some((k, _)) = kw.first() {
        return Err(Exc::type_error(format!("{fname}() got an unexpected keyword argument '{}'", k.as_str())));
    }
    Ok(())
}

/// Check an exact positional count (no keywords).
pub fn exact(fname: &str, args: &[Value], kw: &Kw, n: usize) -> VmResult<()> {
    no_kw(fname, kw)?;
    if args.len() != n {
        return Err(Exc::type_error(match n {
            0 => format!("{fname}() takes no arguments ({} given)", args.len()),
            1 => format!("{fname}() takes exactly one argument ({} given)", args.len()),
            _ => format!("{fname}() takes exactly {n} arguments ({} given)", args.len()),
        }));
    }
    Ok(())
}

/// A float argument (`int`, `bool` and big ints convert), CPython's "must be real number".
pub fn to_f64(v: &Value) -> VmResult<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::BigInt(b) => big_to_f64(b),
        other => Err(Exc::type_error(format!("must be real number, not {}", tname(other)))),
    }
}

pub fn big_to_f64(b: &BigInt) -> VmResult<f64> {
    match b.to_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(Exc::new(ExcKind::OverflowError, "int too large to convert to float")),
    }
}

/// An integer argument as a big integer (`bool` counts), else `None`.
pub fn as_bigint(v: &Value) -> Option<BigInt> {
    match v {
        Value::Int(i) => Some(BigInt::from(*i)),
        Value::Bool(b) => Some(BigInt::from(*b as i64)),
        Value::BigInt(b) => Some((**b).clone()),
        _ => None,
    }
}

/// An integer argument as a big integer, or CPython's "cannot be interpreted as an integer".
pub fn to_bigint(v: &Value) -> VmResult<BigInt> {
    as_bigint(v).ok_or_else(|| Exc::type_error(format!("'{}' object cannot be interpreted as an integer", tname(v))))
}

/// An integer argument that must fit in i64.
pub fn to_i64(v: &Value) -> VmResult<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(*b as i64),
        Value::BigInt(_) => Err(Exc::new(ExcKind::OverflowError, "Python int too large to convert to C ssize_t")),
        other => Err(Exc::type_error(format!("'{}' object cannot be interpreted as an integer", tname(other)))),
    }
}

pub fn str_arg<'a>(v: &'a Value, fname: &str, what: &str) -> VmResult<&'a str> {
    v.as_str().ok_or_else(|| Exc::type_error(format!("{fname}() argument '{what}' must be str, not {}", tname(v))))
}

/// A float that is integral, converted exactly to an int value (big when needed).
pub fn float_to_int_value(f: f64) -> VmResult<Value> {
    if f.is_nan() {
        return Err(Exc::value_error("cannot convert float NaN to integer"));
    }
    if f.is_infinite() {
        return Err(Exc::new(ExcKind::OverflowError, "cannot convert float infinity to integer"));
    }
    if f.abs() < 9.0e18 {
        return Ok(Value::Int(f as i64));
    }
    Ok(Value::from_bigint(BigInt::from_f64(f).unwrap_or_default()))
}

/// Items of a list or tuple, or any iterable through the VM's iteration protocol.
pub fn items(vm: &mut Vm, v: &Value) -> VmResult<Vec<Value>> {
    match v {
        Value::List(l) => Ok(l.borrow().clone()),
        Value::Tuple(t) => Ok(t.to_vec()),
        _ => crate::ops::collect(vm, v),
    }
}

/// Python-style quoting of a string (`repr(str)`), used by reprs of native objects.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (0x80..0xa0).contains(&(c as u32)) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(bytes)`.
pub fn py_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::from("b");
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote);
    out
}

/// Bytes of a `bytes` argument, or of a `str` (UTF-8) where the modules accept text for
/// convenience.
pub fn bytes_or_str(v: &Value, fname: &str) -> VmResult<Vec<u8>> {
    match v {
        Value::Bytes(b) => Ok(b.as_ref().clone()),
        Value::Str(s) => Ok(s.s.as_bytes().to_vec()),
        Value::List(l) => {
            // bytearray-like list of ints
            let mut out = Vec::new();
            for x in l.borrow().iter() {
                match x {
                    Value::Int(i) if (0..256).contains(i) => out.push(*i as u8),
                    _ => return Err(Exc::type_error(format!("{fname}: a bytes-like object is required, not 'list'"))),
                }
            }
            Ok(out)
        }
        other => Err(Exc::type_error(format!("a bytes-like object is required, not '{}'", tname(other)))),
    }
}

pub fn bytes_value(b: Vec<u8>) -> Value {
    Value::Bytes(Rc::new(b))
}
