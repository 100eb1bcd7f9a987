//! Built-in functions (`print`, `len`, `range`, `sorted`...), the built-in type classes (`int`,
//! `str`, `list`...) and the built-in exception classes, installed into a new VM.
//!
//! `install` runs at every start-up (budget: the whole of `ask run` on an empty file < 5 ms), so
//! it only allocates the classes and one small `NativeFunc` per name, from static tables.
//! Calling a built-in type class (`int('5')`, `list(it)`) goes through [`construct_builtin`],
//! which the interpreter's `call_value` invokes for classes with `builtin: Some(ty)`.

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::error::{Exc, VmResult};
use crate::lib_num;
use crate::ops::{self, type_name};
use crate::value::{
    BuiltinType, Class, Dict, ExcKind, Instance, NativeFnPtr, NativeFunc, NativeIter, RangeObj, Set, StrObj,
    Value,
};
use crate::Vm;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

use crate::methods::{check_args, kwarg};

/// The type classes: (type, Python name, base type).
const TYPE_CLASSES: &[(BuiltinType, &str, Option<BuiltinType>)] = &[
    (BuiltinType::Object, "object", None),
    (BuiltinType::NoneType, "NoneType", None),
    (BuiltinType::Int, "int", None),
    (BuiltinType::Bool, "bool", Some(BuiltinType::Int)),
    (BuiltinType::Float, "float", None),
    (BuiltinType::Str, "str", None),
    (BuiltinType::Bytes, "bytes", None),
    (BuiltinType::List, "list", None),
    (BuiltinType::Tuple, "tuple", None),
    (BuiltinType::Dict, "dict", None),
    (BuiltinType::Set, "set", None),
    (BuiltinType::FrozenSet, "frozenset", None),
    (BuiltinType::Range, "range", None),
    (BuiltinType::Function, "function", None),
    (BuiltinType::Type, "type", None),
    (BuiltinType::Module, "module", None),
    (BuiltinType::Iterator, "iterator", None),
];

/// Type classes that are also built-in names.
const NAMED_TYPES: &[BuiltinType] = &[
    BuiltinType::Object,
    BuiltinType::Int,
    BuiltinType::Bool,
    BuiltinType::Float,
    BuiltinType::Str,
    BuiltinType::Bytes,
    BuiltinType::List,
    BuiltinType::Tuple,
    BuiltinType::Dict,
    BuiltinType::Set,
    BuiltinType::FrozenSet,
    BuiltinType::Range,
    BuiltinType::Type,
];

const FUNCTIONS: &[(&str, NativeFnPtr)] = &[
    ("__inner__", bi_inner),
    ("staticmethod", bi_staticmethod),
    ("property", bi_property),
    ("print", bi_print),
    ("len", bi_len),
    ("enumerate", bi_enumerate),
    ("zip", bi_zip),
    ("map", bi_map),
    ("filter", bi_filter),
    ("sorted", bi_sorted),
    ("reversed", bi_reversed),
    ("min", bi_min),
    ("max", bi_max),
    ("sum", bi_sum),
    ("abs", bi_abs),
    ("round", bi_round),
    ("isinstance", bi_isinstance),
    ("issubclass", bi_issubclass),
    ("repr", bi_repr),
    ("ascii", bi_ascii),
    ("hash", bi_hash),
    ("id", bi_id),
    ("divmod", bi_divmod),
    ("pow", bi_pow),
    ("any", bi_any),
    ("all", bi_all),
    ("chr", bi_chr),
    ("ord", bi_ord),
    ("hex", bi_hex),
    ("bin", bi_bin),
    ("oct", bi_oct),
    ("iter", bi_iter),
    ("next", bi_next),
    ("getattr", bi_getattr),
    ("setattr", bi_setattr),
    ("hasattr", bi_hasattr),
    ("delattr", bi_delattr),
    ("callable", bi_callable),
    ("format", bi_format),
    ("vars", bi_vars),
];

macro_rules! ctors {
    ($($ty:ident),*) => {
        /// A native constructor for each callable built-in type.
        fn ctor_for(ty: BuiltinType) -> Option<NativeFnPtr> {
            match ty {
                $(BuiltinType::$ty => {
                    fn f(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
                        construct_builtin(vm, BuiltinType::$ty, args, kw)
                    }
                    Some(f as NativeFnPtr)
                })*
                _ => None,
            }
        }
    };
}

ctors!(Object, Int, Bool, Float, Str, Bytes, List, Tuple, Dict, Set, FrozenSet, Range, Type);

fn new_class(name: &str, base: Option<Rc<Class>>, builtin: Option<BuiltinType>) -> Rc<Class> {
    Rc::new(Class {
        name: Rc::new(StrObj::new(name.to_string())),
        base,
        attrs: RefCell::new(IndexMap::default()),
        builtin,
    })
}

/// Create the built-in classes (filling `vm.exc_classes` and `vm.type_classes`) and register
/// every built-in function and class in `vm.builtins`.
pub fn install(vm: &mut Vm) {
    // Type classes.
    for &(ty, name, base) in TYPE_CLASSES {
        let base = base.and_then(|b| vm.type_classes.get(&b).cloned());
        let cls = new_class(name, base, Some(ty));
        vm.type_classes.insert(ty, cls);
    }
    for ty in NAMED_TYPES {
        if let Some(c) = vm.type_classes.get(ty) {
            // `__new__` lets the interpreter's class call reach `construct_builtin`.
            if let Some(f) = ctor_for(*ty) {
                c.attrs.borrow_mut().insert(
                    Rc::from("__new__"),
                    Value::Native(Rc::new(NativeFunc { name: "__new__", func: f, bound: None, data: None })),
                );
            }
            vm.builtins.insert(Rc::from(c.name.s.as_str()), Value::Class(c.clone()));
        }
    }
    // Exception classes (ExcKind::ALL lists parents before children).
    vm.exc_classes.clear();
    for &kind in ExcKind::ALL {
        let base = kind.parent().map(|p| vm.exc_classes[p as usize].clone());
        let cls = new_class(kind.name(), base, Some(BuiltinType::Exc(kind)));
        if kind == ExcKind::BaseException {
            cls.attrs.borrow_mut().insert(
                Rc::from("__init__"),
                Value::Native(Rc::new(NativeFunc { name: "__init__", func: exc_init, bound: None, data: None })),
            );
        }
        debug_assert_eq!(vm.exc_classes.len(), kind as usize);
        vm.exc_classes.push(cls.clone());
        vm.builtins.insert(Rc::from(kind.name()), Value::Class(cls));
    }
    // Aliases Python also has.
    let oserror = vm.exc_class(ExcKind::OSError);
    vm.builtins.insert(Rc::from("IOError"), Value::Class(oserror));
    for &(name, func) in FUNCTIONS {
        vm.builtins.insert(Rc::from(name), Value::Native(Rc::new(NativeFunc { name, func, bound: None, data: None })));
    }
    vm.builtins.insert(Rc::from("NotImplemented"), Value::Object(Rc::new(Box::new(ops::NotImplementedObj))));
}

/// `BaseException.__init__(self, *args)`: stores `args`.
fn exc_init(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if let Some(Value::Instance(inst)) = args.first() {
        inst.attrs.borrow_mut().insert(Rc::from("args"), Value::tuple(args[1..].to_vec()));
    }
    Ok(Value::None)
}

/// A new instance of a built-in exception class with the given `args`.
pub fn exception_with_args(vm: &mut Vm, kind: ExcKind, args: Vec<Value>) -> Value {
    let class = vm.exc_class(kind);
    new_exception_of(class, args)
}

/// A new exception instance of any exception class (user subclasses included).
pub fn new_exception_of(class: Rc<Class>, args: Vec<Value>) -> Value {
    let mut attrs = IndexMap::default();
    attrs.insert(Rc::from("args"), Value::tuple(args));
    Value::Instance(Rc::new(Instance { class, attrs: RefCell::new(attrs) }))
}

/// A new instance of a built-in exception class with `args = (msg,)` (or `()` when `msg` is empty
/// and `kind` is not `KeyError`).
pub fn exception_instance(vm: &mut Vm, kind: ExcKind, msg: &str) -> Value {
    let args = if msg.is_empty() && kind != ExcKind::KeyError { Vec::new() } else { vec![Value::str(msg)] };
    exception_with_args(vm, kind, args)
}

/// A fresh instance of class `cls` before `__init__` runs. For exception classes `args` is preset
/// to the constructor's arguments (as CPython's `BaseException.__new__` does), so `str(e)` works
/// even when a subclass's `__init__` does not call `super().__init__`.
pub fn new_instance(cls: &Rc<Class>, args: &[Value]) -> Value {
    let mut attrs = IndexMap::default();
    if crate::format::exc_kind_of_class(cls).is_some() {
        attrs.insert(Rc::from("args"), Value::tuple(args.to_vec()));
    }
    Value::Instance(Rc::new(Instance { class: cls.clone(), attrs: RefCell::new(attrs) }))
}

pub fn type_class(vm: &Vm, ty: BuiltinType) -> Value {
    match vm.type_classes.get(&ty) {
        Some(c) => Value::Class(c.clone()),
        None => Value::None,
    }
}

pub fn object_class(vm: &Vm) -> Value {
    type_class(vm, BuiltinType::Object)
}

/// `type(v)` as a class value.
pub fn type_of(vm: &Vm, v: &Value) -> Value {
    let ty = match v {
        Value::Instance(i) => return Value::Class(i.class.clone()),
        Value::None => BuiltinType::NoneType,
        Value::Bool(_) => BuiltinType::Bool,
        Value::Int(_) | Value::BigInt(_) => BuiltinType::Int,
        Value::Float(_) => BuiltinType::Float,
        Value::Str(_) => BuiltinType::Str,
        Value::Bytes(_) => BuiltinType::Bytes,
        Value::List(_) => BuiltinType::List,
        Value::Tuple(_) => BuiltinType::Tuple,
        Value::Dict(_) => BuiltinType::Dict,
        Value::Set(_) => BuiltinType::Set,
        Value::FrozenSet(_) => BuiltinType::FrozenSet,
        Value::Range(_) => BuiltinType::Range,
        Value::Function(_) | Value::Native(_) | Value::BoundMethod(_) => BuiltinType::Function,
        Value::Class(_) => BuiltinType::Type,
        Value::Module(_) => BuiltinType::Module,
        Value::Iter(_) => {
            // Named after the iterator kind (`list_iterator`, `generator`...).
            return Value::Class(new_class(&type_name(v), None, Some(BuiltinType::Iterator)));
        }
        // Never seen by Ask code (see their docs); a harmless answer rather than a panic.
        Value::Cell(_) | Value::Unbound => BuiltinType::Iterator,
        Value::Object(o) => {
            // Native objects get a class named after their type, created on demand.
            return Value::Class(new_class(o.type_name(), None, Some(BuiltinType::Object)));
        }
    };
    type_class(vm, ty)
}

/// `isinstance(v, cls)` for one class.
pub fn is_instance_of(vm: &Vm, v: &Value, cls: &Rc<Class>) -> bool {
    if let Some(BuiltinType::Object) = cls.builtin {
        return true;
    }
    match v {
        Value::Instance(i) => i.class.is_subclass_of(cls),
        // Native objects are instances of the native class carrying their type name.
        Value::Object(o) => {
            let want = cls.name.s.as_str();
            o.type_name() == want || o.type_name().rsplit('.').next() == Some(want) || o.base_type_names().contains(&want)
        }
        _ => match type_of(vm, v) {
            Value::Class(c) => c.is_subclass_of(cls),
            _ => false,
        },
    }
}

/// Call a built-in type class: `int('5')`, `str(x)`, `list(it)`, `dict(a=1)`, `ValueError('x')`.
pub fn construct_builtin(vm: &mut Vm, ty: BuiltinType, args: &[Value], kw: Kw) -> VmResult<Value> {
    let tname = || vm_type_name(ty);
    let no_kw = |kw: Kw| -> VmResult<()> {
        if let Some((k, _)) = kw.first() {
            return Err(Exc::type_error(format!("'{}' is an invalid keyword argument for {}()", k.s, vm_type_name(ty))));
        }
        Ok(())
    };
    Ok(match ty {
        BuiltinType::Int => {
            let base = args.get(1).or_else(|| kwarg(kw, "base"));
            match (args.first(), base) {
                (None, None) => Value::Int(0),
                (Some(x), None) => to_int(vm, x)?,
                (Some(x), Some(b)) => {
                    let b = ops::as_index(b)?;
                    if b != 0 && !(2..=36).contains(&b) {
                        return Err(Exc::value_error("int() base must be >= 2 and <= 36, or 0"));
                    }
                    let text = match x {
                        Value::Str(s) => s.s.clone(),
                        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => return Err(Exc::type_error("int() can't convert non-string with explicit base")),
                    };
                    match lib_num::parse_int(&text, b as u32) {
                        Some(v) => v,
                        None => {
                            return Err(Exc::value_error(format!(
                                "invalid literal for int() with base {}: {}",
                                b,
                                crate::format::str_repr(&text)
                            )))
                        }
                    }
                }
                (None, Some(_)) => return Err(Exc::type_error("int() missing string argument")),
            }
        }
        BuiltinType::Float => {
            no_kw(kw)?;
            check_args("float", args, 0, 1)?;
            match args.first() {
                None => Value::Float(0.0),
                Some(x) => Value::Float(to_float(vm, x)?),
            }
        }
        BuiltinType::Str => {
            if args.is_empty() && kw.is_empty() {
                return Ok(Value::str(""));
            }
            let enc = args.get(1).or_else(|| kwarg(kw, "encoding"));
            match (args.first(), enc) {
                (Some(Value::Bytes(b)), Some(_)) => {
                    let bv = Value::Bytes(b.clone());
                    let rest: Vec<Value> = args.get(1..).map(|s| s.to_vec()).unwrap_or_default();
                    return crate::methods::call_builtin_method(vm, &bv, "decode", &rest, kw)
                        .map(|v| v.unwrap_or_default());
                }
                (Some(Value::Str(s)), _) => Value::Str(s.clone()),
                (Some(x), _) => Value::str(crate::format::to_str(vm, x)?),
                (None, _) => Value::str(""),
            }
        }
        BuiltinType::Bool => {
            no_kw(kw)?;
            check_args("bool", args, 0, 1)?;
            match args.first() {
                None => Value::Bool(false),
                Some(x) => Value::Bool(ops::truthy(vm, x)?),
            }
        }
        BuiltinType::List => {
            no_kw(kw)?;
            check_args("list", args, 0, 1)?;
            match args.first() {
                None => Value::list(Vec::new()),
                Some(x) => Value::list(ops::collect(vm, x)?),
            }
        }
        BuiltinType::Tuple => {
            no_kw(kw)?;
            check_args("tuple", args, 0, 1)?;
            match args.first() {
                None => Value::tuple(Vec::new()),
                Some(Value::Tuple(t)) => Value::Tuple(t.clone()),
                Some(x) => Value::tuple(ops::collect(vm, x)?),
            }
        }
        BuiltinType::Set | BuiltinType::FrozenSet => {
            no_kw(kw)?;
            check_args(tname(), args, 0, 1)?;
            let mut s = Set::default();
            if let Some(x) = args.first() {
                for it in ops::collect(vm, x)? {
                    s.insert(ops::hkey(vm, it)?);
                }
            }
            if ty == BuiltinType::Set {
                Value::Set(Rc::new(RefCell::new(s)))
            } else {
                Value::FrozenSet(Rc::new(s))
            }
        }
        BuiltinType::Dict => {
            if args.len() > 1 {
                return Err(Exc::type_error(format!("dict expected at most 1 argument, got {}", args.len())));
            }
            let d = Rc::new(RefCell::new(Dict::default()));
            if let Some(x) = args.first() {
                crate::methods::dict_update(vm, &d, x)?;
            }
            for (k, v) in kw {
                d.borrow_mut().insert(crate::value::HKey(Value::Str(k.clone())), v.clone());
            }
            Value::Dict(d)
        }
        BuiltinType::Bytes => match args.first() {
            None => Value::Bytes(Rc::new(Vec::new())),
            Some(Value::Str(_)) => {
                let rest: Vec<Value> = args.get(1..).map(|s| s.to_vec()).unwrap_or_default();
                if rest.is_empty() && kwarg(kw, "encoding").is_none() {
                    return Err(Exc::type_error("string argument without an encoding"));
                }
                return crate::methods::call_builtin_method(vm, &args[0], "encode", &rest, kw)
                    .map(|v| v.unwrap_or_default());
            }
            Some(Value::Int(n)) => {
                if *n < 0 {
                    return Err(Exc::value_error("negative count"));
                }
                if *n as u64 > vm.limits.max_size as u64 {
                    return Err(Exc::limit(crate::error::LimitKind::Memory));
                }
                Value::Bytes(Rc::new(vec![0; *n as usize]))
            }
            Some(Value::Bytes(b)) => Value::Bytes(b.clone()),
            Some(x) => {
                let items = ops::collect(vm, x)?;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        Value::Int(i) if (0..256).contains(&i) => out.push(i as u8),
                        Value::Int(_) => return Err(Exc::value_error("bytes must be in range(0, 256)")),
                        other => {
                            return Err(Exc::type_error(format!(
                                "'{}' object cannot be interpreted as an integer",
                                type_name(&other)
                            )))
                        }
                    }
                }
                Value::Bytes(Rc::new(out))
            }
        },
        BuiltinType::Range => {
            no_kw(kw)?;
            let ints: Vec<i64> = args.iter().map(ops::as_index).collect::<VmResult<_>>()?;
            let (start, stop, step) = match ints.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] => (*start, *stop, *step),
                [] => return Err(Exc::type_error("range expected at least 1 argument, got 0")),
                _ => return Err(Exc::type_error(format!("range expected at most 3 arguments, got {}", ints.len()))),
            };
            if step == 0 {
                return Err(Exc::value_error("range() arg 3 must not be zero"));
            }
            Value::Range(Rc::new(RangeObj { start, stop, step }))
        }
        BuiltinType::Object => {
            if !args.is_empty() {
                return Err(Exc::type_error("object() takes no arguments"));
            }
            let cls = vm.type_classes[&BuiltinType::Object].clone();
            Value::Instance(Rc::new(Instance { class: cls, attrs: RefCell::new(IndexMap::default()) }))
        }
        BuiltinType::Type => match args.len() {
            1 => type_of(vm, &args[0]),
            3 => {
                let name = match &args[0] {
                    Value::Str(s) => s.s.clone(),
                    _ => return Err(Exc::type_error("type.__new__() argument 1 must be str")),
                };
                let base = match &args[1] {
                    Value::Tuple(t) => match t.first() {
                        Some(Value::Class(c)) if !matches!(c.builtin, Some(BuiltinType::Object)) => Some(c.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                let cls = new_class(&name, base, None);
                if let Value::Dict(d) = &args[2] {
                    for (k, v) in d.borrow().iter() {
                        if let Value::Str(ks) = &k.0 {
                            cls.attrs.borrow_mut().insert(Rc::from(ks.s.as_str()), v.clone());
                        }
                    }
                }
                Value::Class(cls)
            }
            _ => return Err(Exc::type_error("type() takes 1 or 3 arguments")),
        },
        BuiltinType::NoneType => Value::None,
        BuiltinType::Exc(kind) => exception_with_args(vm, kind, args.to_vec()),
        BuiltinType::Function | BuiltinType::Module | BuiltinType::Iterator => {
            return Err(Exc::type_error(format!("cannot create '{}' instances", tname())))
        }
    })
}

fn vm_type_name(ty: BuiltinType) -> &'static str {
    match ty {
        BuiltinType::Exc(k) => k.name(),
        _ => TYPE_CLASSES.iter().find(|(t, _, _)| *t == ty).map(|(_, n, _)| *n).unwrap_or("object"),
    }
}

/// `int(x)` for one argument.
pub fn to_int(vm: &mut Vm, x: &Value) -> VmResult<Value> {
    Ok(match x {
        Value::Int(_) | Value::BigInt(_) => x.clone(),
        Value::Bool(b) => Value::Int(*b as i64),
        Value::Float(f) => lib_num::float_to_int(*f)?,
        Value::Str(s) => match lib_num::parse_int(&s.s, 10) {
            Some(v) => v,
            None => {
                return Err(Exc::value_error(format!(
                    "invalid literal for int() with base 10: {}",
                    crate::format::str_repr(&s.s)
                )))
            }
        },
        Value::Bytes(b) => match lib_num::parse_int(&String::from_utf8_lossy(b), 10) {
            Some(v) => v,
            None => {
                let mut r = String::new();
                crate::format::bytes_repr_into(b, &mut r);
                return Err(Exc::value_error(format!("invalid literal for int() with base 10: {}", r)));
            }
        },
        Value::Instance(_) => {
            for name in ["__int__", "__index__"] {
                if let Some(r) = ops::call_dunder(vm, x, name, &[])? {
                    return Ok(r);
                }
            }
            return Err(Exc::type_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                type_name(x)
            )));
        }
        _ => {
            return Err(Exc::type_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                type_name(x)
            )))
        }
    })
}

/// `float(x)` for one argument.
pub fn to_float(vm: &mut Vm, x: &Value) -> VmResult<f64> {
    Ok(match x {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::Bool(b) => *b as i64 as f64,
        Value::BigInt(b) => lib_num::big_to_f64(b)?,
        Value::Str(s) => match lib_num::parse_float(&s.s) {
            Some(f) => f,
            None => {
                return Err(Exc::value_error(format!(
                    "could not convert string to float: {}",
                    crate::format::str_repr(&s.s)
                )))
            }
        },
        Value::Instance(_) => {
            if let Some(r) = ops::call_dunder(vm, x, "__float__", &[])? {
                return match r {
                    Value::Float(f) => Ok(f),
                    other => Err(Exc::type_error(format!(
                        "{}.__float__ returned non-float (type {})",
                        type_name(x),
                        type_name(&other)
                    ))),
                };
            }
            return Err(Exc::type_error(format!(
                "float() argument must be a string or a real number, not '{}'",
                type_name(x)
            )));
        }
        _ => {
            return Err(Exc::type_error(format!(
                "float() argument must be a string or a real number, not '{}'",
                type_name(x)
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Built-in functions.

fn bi_print(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let mut sep: Option<String> = None;
    let mut end: Option<String> = None;
    for (k, v) in kw {
        let target = match k.s.as_str() {
            "sep" => &mut sep,
            "end" => &mut end,
            "file" | "flush" => continue,
            other => return Err(Exc::type_error(format!("'{}' is an invalid keyword argument for print()", other))),
        };
        match v {
            Value::None => {}
            Value::Str(s) => *target = Some(s.s.clone()),
            other => {
                return Err(Exc::type_error(format!(
                    "{} must be None or a string, not {}",
                    k.s,
                    type_name(other)
                )))
            }
        }
    }
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(sep.as_deref().unwrap_or(" "));
        }
        match a {
            Value::Str(s) => out.push_str(&s.s),
            other => out.push_str(&crate::format::to_str(vm, other)?),
        }
    }
    out.push_str(end.as_deref().unwrap_or("\n"));
    vm.host.write_stdout(&out);
    Ok(Value::None)
}

fn one_arg<'a>(name: &str, args: &'a [Value]) -> VmResult<&'a Value> {
    if args.len() != 1 {
        return Err(Exc::type_error(format!("{}() takes exactly one argument ({} given)", name, args.len())));
    }
    Ok(&args[0])
}

/// `&staticmethod` on a method: a marker the attribute lookup understands (`code::make_staticmethod`).
fn bi_staticmethod(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    match args {
        [f] => Ok(crate::code::make_staticmethod(f.clone())),
        _ => Err(Exc::type_error("staticmethod expected 1 argument")),
    }
}

/// `&property` on a method: a getter marker (`code::make_property`).
fn bi_property(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    match args {
        [f] => Ok(crate::code::make_property(f.clone())),
        _ => Err(Exc::type_error("property expected 1 argument")),
    }
}

/// `inner()` inside a `decorator` block calls the wrapped function directly and hands a
/// `respond()` payload that ends it (`(kind, value, status, headers)`) to `__inner__`, whose
/// result becomes the value of `inner()` (see `Op::SetupRespond`). This default gives back the
/// responded value; the server replaces it to also record the response.
fn bi_inner(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    match args {
        [Value::Tuple(p)] if p.len() == 4 => Ok(p[1].clone()),
        [_] => Ok(Value::None),
        _ => Err(Exc::type_error("__inner__ expects the respond payload")),
    }
}

fn bi_len(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("len", args)?;
    Ok(Value::Int(ops::len(vm, v)? as i64))
}

struct EnumerateIter {
    it: Value,
    n: i64,
}

impl NativeIter for EnumerateIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        match ops::next(vm, &self.it)? {
            Some(x) => {
                let r = Value::tuple(vec![Value::Int(self.n), x]);
                self.n += 1;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }
}

fn bi_enumerate(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let src = args.first().or_else(|| kwarg(kw, "iterable")).ok_or_else(|| {
        Exc::type_error("enumerate() missing required argument 'iterable' (pos 1)")
    })?;
    let start = match args.get(1).or_else(|| kwarg(kw, "start")) {
        Some(v) => ops::as_index(v)?,
        None => 0,
    };
    let it = ops::iter(vm, src)?;
    Ok(ops::native_iter(EnumerateIter { it, n: start }))
}

struct ZipIter {
    its: Vec<Value>,
    strict: bool,
}

impl NativeIter for ZipIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        if self.its.is_empty() {
            return Ok(None);
        }
        let mut items = Vec::with_capacity(self.its.len());
        for (i, it) in self.its.iter().enumerate() {
            match ops::next(vm, it)? {
                Some(x) => items.push(x),
                None => {
                    if self.strict {
                        if i > 0 {
                            return Err(Exc::value_error(format!(
                                "zip() argument {} is shorter than argument{} 1{}",
                                i + 1,
                                if i > 1 { "s" } else { "" },
                                if i > 1 { format!("-{}", i) } else { String::new() }
                            )));
                        }
                        for (j, other) in self.its.iter().enumerate().skip(1) {
                            if ops::next(vm, other)?.is_some() {
                                return Err(Exc::value_error(format!(
                                    "zip() argument {} is longer than argument{} 1{}",
                                    j + 1,
                                    if j > 1 { "s" } else { "" },
                                    if j > 1 { format!("-{}", j) } else { String::new() }
                                )));
                            }
                        }
                    }
                    self.its.clear();
                    return Ok(None);
                }
            }
        }
        Ok(Some(Value::tuple(items)))
    }
}

fn bi_zip(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let mut its = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        its.push(ops::iter(vm, a).map_err(|e| {
            if ops::exc_is(vm, &e, ExcKind::TypeError) {
                Exc::type_error(format!("zip argument #{} must support iteration", i + 1))
            } else {
                e
            }
        })?);
    }
    let strict = match kwarg(kw, "strict") {
        Some(v) => ops::truthy(vm, v)?,
        None => false,
    };
    Ok(ops::native_iter(ZipIter { its, strict }))
}

struct MapIter {
    f: Value,
    its: Vec<Value>,
}

impl NativeIter for MapIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        let mut items = Vec::with_capacity(self.its.len());
        for it in &self.its {
            match ops::next(vm, it)? {
                Some(x) => items.push(x),
                None => return Ok(None),
            }
        }
        let f = self.f.clone();
        vm.call_value(&f, &items, &[]).map(Some)
    }
}

fn bi_map(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if args.len() < 2 {
        return Err(Exc::type_error("map() must have at least two arguments."));
    }
    let mut its = Vec::with_capacity(args.len() - 1);
    for a in &args[1..] {
        its.push(ops::iter(vm, a)?);
    }
    Ok(ops::native_iter(MapIter { f: args[0].clone(), its }))
}

struct FilterIter {
    f: Value,
    it: Value,
}

impl NativeIter for FilterIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        while let Some(x) = ops::next(vm, &self.it)? {
            let keep = if self.f.is_none() {
                ops::truthy(vm, &x)?
            } else {
                let f = self.f.clone();
                let r = vm.call_value(&f, std::slice::from_ref(&x), &[])?;
                ops::truthy(vm, &r)?
            };
            if keep {
                return Ok(Some(x));
            }
        }
        Ok(None)
    }
}

fn bi_filter(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if args.len() != 2 {
        return Err(Exc::type_error(format!("filter expected 2 arguments, got {}", args.len())));
    }
    let it = ops::iter(vm, &args[1])?;
    Ok(ops::native_iter(FilterIter { f: args[0].clone(), it }))
}

fn bi_sorted(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    if args.len() != 1 {
        return Err(Exc::type_error(format!("sorted expected 1 argument, got {}", args.len())));
    }
    let mut items = ops::collect(vm, &args[0])?;
    let key = kwarg(kw, "key").cloned().unwrap_or(Value::None);
    let reverse = match kwarg(kw, "reverse") {
        Some(v) => ops::truthy(vm, v)?,
        None => false,
    };
    crate::methods::sort_values(vm, &mut items, &key, reverse)?;
    Ok(Value::list(items))
}

fn bi_reversed(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("reversed", args)?;
    let mut items = match v {
        Value::List(_) | Value::Tuple(_) | Value::Str(_) | Value::Range(_) | Value::Bytes(_) => ops::collect(vm, v)?,
        Value::Dict(_) => ops::collect(vm, v)?,
        Value::Object(o) if o.as_any().is::<ops::DictView>() => ops::collect(vm, v)?,
        Value::Instance(_) => {
            if let Some(r) = ops::call_dunder(vm, v, "__reversed__", &[])? {
                return Ok(r);
            }
            let n = ops::len(vm, v).map_err(|_| {
                Exc::type_error(format!("'{}' object is not reversible", type_name(v)))
            })?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(ops::get_item(vm, v, &Value::Int(i as i64))?);
            }
            out
        }
        _ => return Err(Exc::type_error(format!("'{}' object is not reversible", type_name(v)))),
    };
    items.reverse();
    Ok(ops::new_iter(crate::value::IterObj::Values { items: Rc::new(items), index: 0 }))
}

fn min_max(vm: &mut Vm, args: &[Value], kw: Kw, name: &str, want_max: bool) -> VmResult<Value> {
    let key = kwarg(kw, "key").cloned().filter(|k| !k.is_none());
    let default = kwarg(kw, "default").cloned();
    for (k, _) in kw {
        if k.s != "key" && k.s != "default" {
            return Err(Exc::type_error(format!("'{}' is an invalid keyword argument for {}()", k.s, name)));
        }
    }
    let items = match args.len() {
        0 => return Err(Exc::type_error(format!("{} expected at least 1 argument, got 0", name))),
        1 => ops::collect(vm, &args[0])?,
        _ => {
            if default.is_some() {
                return Err(Exc::type_error(format!(
                    "Cannot specify a default for {}() with multiple positional arguments",
                    name
                )));
            }
            args.to_vec()
        }
    };
    if items.is_empty() {
        return match default {
            Some(d) => Ok(d),
            None => Err(Exc::value_error(format!("{}() arg is an empty sequence", name))),
        };
    }
    let mut best = items[0].clone();
    let mut best_key = match &key {
        Some(f) => vm.call_value(f, std::slice::from_ref(&best), &[])?,
        None => best.clone(),
    };
    for it in items.into_iter().skip(1) {
        let k = match &key {
            Some(f) => vm.call_value(f, std::slice::from_ref(&it), &[])?,
            None => it.clone(),
        };
        let better = if want_max { ops::compare(vm, ops::CmpOp::Gt, &k, &best_key)? } else { ops::lt(vm, &k, &best_key)? };
        if better {
            best = it;
            best_key = k;
        }
    }
    Ok(best)
}

fn bi_min(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    min_max(vm, args, kw, "min", false)
}

fn bi_max(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    min_max(vm, args, kw, "max", true)
}

fn bi_sum(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    check_args("sum", args, 1, 2)?;
    let start = args.get(1).or_else(|| kwarg(kw, "start")).cloned().unwrap_or(Value::Int(0));
    match &start {
        Value::Str(_) => return Err(Exc::type_error("sum() can't sum strings [use ''.join(seq) instead]")),
        Value::Bytes(_) => return Err(Exc::type_error("sum() can't sum bytes [use b''.join(seq) instead]")),
        _ => {}
    }
    let mut acc = start;
    let add = |vm: &mut Vm, acc: Value, x: &Value| -> VmResult<Value> {
        match (&acc, x) {
            (Value::Int(a), Value::Int(b)) => {
                if let Some(r) = a.checked_add(*b) {
                    return Ok(Value::Int(r));
                }
            }
            (Value::Float(a), Value::Float(b)) => return Ok(Value::Float(a + b)),
            _ => {}
        }
        ops::arith(vm, ops::ArithOp::Add, &acc, x)
    };
    match &args[0] {
        Value::List(l) => {
            let items = l.borrow().clone();
            for x in items.iter() {
                acc = add(vm, acc, x)?;
            }
        }
        Value::Range(r) => {
            let n = ops::range_len(r);
            for k in 0..n {
                acc = add(vm, acc, &Value::Int(ops::range_get(r, k)))?;
            }
        }
        other => {
            let it = ops::iter(vm, other)?;
            while let Some(x) = ops::next(vm, &it)? {
                acc = add(vm, acc, &x)?;
            }
        }
    }
    Ok(acc)
}

fn bi_abs(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("abs", args)?;
    Ok(match v {
        Value::Int(i) => match i.checked_abs() {
            Some(r) => Value::Int(r),
            None => Value::from_bigint(BigInt::from(*i).abs()),
        },
        Value::Bool(b) => Value::Int(*b as i64),
        Value::Float(f) => Value::Float(f.abs()),
        Value::BigInt(b) => Value::from_bigint(b.abs()),
        _ => match ops::call_dunder(vm, v, "__abs__", &[])? {
            Some(r) => r,
            None => return Err(Exc::type_error(format!("bad operand type for abs(): '{}'", type_name(v)))),
        },
    })
}

fn bi_round(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    check_args("round", args, 1, 2)?;
    let x = &args[0];
    let nd = args.get(1).or_else(|| kwarg(kw, "ndigits")).filter(|v| !v.is_none());
    match x {
        Value::Float(f) => match nd {
            None => {
                if f.is_nan() {
                    return Err(Exc::value_error("cannot convert float NaN to integer"));
                }
                if f.is_infinite() {
                    return Err(Exc::new(ExcKind::OverflowError, "cannot convert float infinity to integer"));
                }
                lib_num::float_to_int(lib_num::round_half_even(*f))
            }
            Some(n) => {
                let n = ops::as_index(n)?;
                Ok(Value::Float(lib_num::round_float(*f, n)))
            }
        },
        Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => match nd {
            None => ops::pos(vm, x),
            Some(n) => {
                let n = ops::as_index(n)?;
                let b = lib_num::to_big(x).unwrap_or_default();
                Ok(Value::from_bigint(lib_num::round_int(&b, n)))
            }
        },
        _ => {
            let extra: Vec<Value> = nd.cloned().into_iter().collect();
            match ops::call_dunder(vm, x, "__round__", &extra)? {
                Some(r) => Ok(r),
                None => Err(Exc::type_error(format!(
                    "type {} doesn't define __round__ method",
                    type_name(x)
                ))),
            }
        }
    }
}

fn class_list(v: &Value, fname: &str) -> VmResult<Vec<Rc<Class>>> {
    match v {
        Value::Class(c) => Ok(vec![c.clone()]),
        Value::Tuple(t) => {
            let mut out = Vec::new();
            for x in t.iter() {
                out.extend(class_list(x, fname)?);
            }
            Ok(out)
        }
        _ => Err(Exc::type_error(format!(
            "{}() arg 2 must be a type, a tuple of types, or a union",
            fname
        ))),
    }
}

fn bi_isinstance(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if args.len() != 2 {
        return Err(Exc::type_error(format!("isinstance expected 2 arguments, got {}", args.len())));
    }
    let classes = class_list(&args[1], "isinstance")?;
    Ok(Value::Bool(classes.iter().any(|c| is_instance_of(vm, &args[0], c))))
}

fn bi_issubclass(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if args.len() != 2 {
        return Err(Exc::type_error(format!("issubclass expected 2 arguments, got {}", args.len())));
    }
    let sub = match &args[0] {
        Value::Class(c) => c.clone(),
        _ => return Err(Exc::type_error("issubclass() arg 1 must be a class")),
    };
    let classes = class_list(&args[1], "issubclass")?;
    Ok(Value::Bool(
        classes.iter().any(|c| matches!(c.builtin, Some(BuiltinType::Object)) || sub.is_subclass_of(c)),
    ))
}

fn bi_repr(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("repr", args)?;
    Ok(Value::str(crate::format::repr(vm, v)?))
}

/// `ascii(x)`: `repr(x)` with every non-ASCII character escaped (`\xe9`, `\u20ac`, `\U0001f600`).
fn bi_ascii(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("ascii", args)?;
    Ok(Value::str(crate::interp::ascii_escape(&crate::format::repr(vm, v)?)))
}

fn bi_hash(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("hash", args)?;
    ops::hash_value(vm, v)
}

fn bi_id(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("id", args)?;
    let id = crate::value::identity(v);
    Ok(Value::Int(if id != 0 {
        id as i64
    } else {
        match v {
            Value::Int(i) => 0x1000_0000 + i.wrapping_mul(32),
            Value::Bool(b) => 0x900 + *b as i64 * 32,
            Value::Float(f) => (f.to_bits() >> 4) as i64,
            _ => 0x800,
        }
    }))
}

fn bi_divmod(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    if args.len() != 2 {
        return Err(Exc::type_error(format!("divmod expected 2 arguments, got {}", args.len())));
    }
    let (a, b) = (&args[0], &args[1]);
    if let (Some(x), Some(y)) = (lib_num::to_f64(a).ok().flatten(), lib_num::to_f64(b).ok().flatten()) {
        if matches!(a, Value::Float(_)) || matches!(b, Value::Float(_)) {
            if y == 0.0 {
                return Err(Exc::zero_division("float divmod()"));
            }
            let (q, r) = lib_num::float_divmod(x, y);
            return Ok(Value::tuple(vec![Value::Float(q), Value::Float(r)]));
        }
    }
    if matches!(a, Value::Instance(_)) || matches!(b, Value::Instance(_)) {
        if let Some(r) = ops::call_dunder(vm, a, "__divmod__", &[b.clone()])? {
            return Ok(r);
        }
    }
    let q = ops::arith(vm, ops::ArithOp::FloorDiv, a, b).map_err(|e| {
        if ops::exc_is(vm, &e, ExcKind::TypeError) {
            Exc::type_error(format!(
                "unsupported operand type(s) for divmod(): '{}' and '{}'",
                type_name(a),
                type_name(b)
            ))
        } else {
            e
        }
    })?;
    let r = ops::arith(vm, ops::ArithOp::Mod, a, b)?;
    Ok(Value::tuple(vec![q, r]))
}

fn bi_pow(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    check_args("pow", args, 2, 3)?;
    let m = args.get(2).or_else(|| kwarg(kw, "mod")).filter(|v| !v.is_none());
    match m {
        None => ops::arith(vm, ops::ArithOp::Pow, &args[0], &args[1]),
        Some(m) => {
            let (Some(b), Some(e), Some(m)) = (lib_num::to_big(&args[0]), lib_num::to_big(&args[1]), lib_num::to_big(m))
            else {
                return Err(Exc::type_error(
                    "pow() 3rd argument not allowed unless all arguments are integers",
                ));
            };
            if m.is_zero() {
                return Err(Exc::value_error("pow() 3rd argument cannot be 0"));
            }
            let (base, exp) = if e.is_negative() {
                // Modular inverse via extended Euclid.
                let inv = mod_inverse(&b, &m).ok_or_else(|| Exc::value_error("base is not invertible for the given modulus"))?;
                (inv, -e)
            } else {
                (b, e)
            };
            let mabs = m.abs();
            let mut r = base.modpow(&exp, &mabs);
            // Python's result has the sign of the modulus.
            if m.is_negative() && !r.is_zero() {
                r += &m;
            }
            if !m.is_negative() && r.is_negative() {
                r += &m;
            }
            Ok(Value::from_bigint(r))
        }
    }
}

fn mod_inverse(a: &BigInt, m: &BigInt) -> Option<BigInt> {
    use num_integer::Integer;
    let m = m.abs();
    let a = a.mod_floor(&m);
    let e = a.extended_gcd(&m);
    if e.gcd != BigInt::from(1) {
        return None;
    }
    Some(e.x.mod_floor(&m))
}

fn bi_any(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("any", args)?;
    let it = ops::iter(vm, v)?;
    while let Some(x) = ops::next(vm, &it)? {
        if ops::truthy(vm, &x)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn bi_all(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("all", args)?;
    let it = ops::iter(vm, v)?;
    while let Some(x) = ops::next(vm, &it)? {
        if !ops::truthy(vm, &x)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn bi_chr(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("chr", args)?;
    let i = ops::as_index(v)?;
    match u32::try_from(i).ok().and_then(char::from_u32) {
        Some(c) => Ok(Value::str(c.to_string())),
        None => Err(Exc::value_error("chr() arg not in range(0x110000)")),
    }
}

fn bi_ord(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("ord", args)?;
    match v {
        Value::Str(s) => {
            let mut it = s.s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Ok(Value::Int(c as i64)),
                _ => Err(Exc::type_error(format!(
                    "ord() expected a character, but string of length {} found",
                    s.s.chars().count()
                ))),
            }
        }
        Value::Bytes(b) if b.len() == 1 => Ok(Value::Int(b[0] as i64)),
        other => Err(Exc::type_error(format!(
            "ord() expected string of length 1, but {} found",
            type_name(other)
        ))),
    }
}

fn radix(args: &[Value], name: &str, base: u32, prefix: &str) -> VmResult<Value> {
    let v = one_arg(name, args)?;
    let b = lib_num::to_big(v).ok_or_else(|| {
        Exc::type_error(format!("'{}' object cannot be interpreted as an integer", type_name(v)))
    })?;
    let s = b.abs().to_str_radix(base);
    Ok(Value::str(format!("{}{}{}", if b.is_negative() { "-" } else { "" }, prefix, s)))
}

fn bi_hex(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    radix(args, "hex", 16, "0x")
}

fn bi_bin(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    radix(args, "bin", 2, "0b")
}

fn bi_oct(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    radix(args, "oct", 8, "0o")
}

fn bi_iter(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("iter", args)?;
    ops::iter(vm, v)
}

fn bi_next(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("next", args, 1, 2)?;
    let it = &args[0];
    if !matches!(it, Value::Iter(_) | Value::Instance(_)) {
        return Err(Exc::type_error(format!("'{}' object is not an iterator", type_name(it))));
    }
    match ops::next(vm, it)? {
        Some(v) => Ok(v),
        None => match args.get(1) {
            Some(d) => Ok(d.clone()),
            None => Err(Exc::new(ExcKind::StopIteration, "")),
        },
    }
}

fn attr_name<'a>(v: &'a Value, fname: &str) -> VmResult<&'a str> {
    match v {
        Value::Str(s) => Ok(&s.s),
        other => Err(Exc::type_error(format!(
            "{}(): attribute name must be string, not '{}'",
            fname,
            type_name(other)
        ))),
    }
}

fn bi_getattr(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("getattr", args, 2, 3)?;
    let name = attr_name(&args[1], "getattr")?;
    match ops::get_attr(vm, &args[0], name) {
        Ok(v) => Ok(v),
        Err(e) if args.len() == 3 && ops::exc_is(vm, &e, ExcKind::AttributeError) => Ok(args[2].clone()),
        Err(e) => Err(e),
    }
}

fn bi_setattr(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("setattr", args, 3, 3)?;
    let name = attr_name(&args[1], "setattr")?;
    ops::set_attr(vm, &args[0], name, args[2].clone())?;
    Ok(Value::None)
}

fn bi_hasattr(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("hasattr", args, 2, 2)?;
    let name = attr_name(&args[1], "hasattr")?;
    match ops::get_attr(vm, &args[0], name) {
        Ok(_) => Ok(Value::Bool(true)),
        Err(e) if ops::exc_is(vm, &e, ExcKind::AttributeError) => Ok(Value::Bool(false)),
        Err(e) => Err(e),
    }
}

fn bi_delattr(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("delattr", args, 2, 2)?;
    let name = attr_name(&args[1], "delattr")?;
    ops::del_attr(vm, &args[0], name)?;
    Ok(Value::None)
}

fn bi_callable(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("callable", args)?;
    Ok(Value::Bool(match v {
        Value::Function(_) | Value::Native(_) | Value::BoundMethod(_) | Value::Class(_) => true,
        Value::Instance(i) => i.class.lookup("__call__").is_some(),
        _ => false,
    }))
}

fn bi_format(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    check_args("format", args, 1, 2)?;
    let spec = match args.get(1) {
        None => "",
        Some(Value::Str(s)) => s.s.as_str(),
        Some(other) => {
            return Err(Exc::type_error(format!(
                "format() argument 2 must be str, not {}",
                type_name(other)
            )))
        }
    };
    Ok(Value::str(crate::format::format_spec(vm, &args[0], spec)?))
}

fn bi_vars(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let v = one_arg("vars", args)?;
    match v {
        Value::Instance(_) | Value::Class(_) => ops::get_attr(vm, v, "__dict__"),
        Value::Module(m) => {
            let d: Dict = m
                .attrs
                .borrow()
                .iter()
                .map(|(k, v)| (crate::value::HKey(Value::str(k.to_string())), v.clone()))
                .collect();
            Ok(Value::dict(d))
        }
        _ => Err(Exc::type_error("vars() argument must have __dict__ attribute")),
    }
}

/// `int` value of a float for places that need it (kept for other modules).
pub fn float_floor_to_int(f: f64) -> VmResult<Value> {
    lib_num::float_to_int(f.floor())
}

#[allow(dead_code)]
fn big_to_i64(b: &BigInt) -> Option<i64> {
    b.to_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Host, HostCall, Limits};

    struct TestHost(Rc<RefCell<String>>);
    impl Host for TestHost {
        fn write_stdout(&mut self, text: &str) {
            self.0.borrow_mut().push_str(text);
        }
        fn now(&mut self) -> f64 {
            0.0
        }
        fn monotonic(&mut self) -> f64 {
            0.0
        }
        fn random_bytes(&mut self, buf: &mut [u8]) {
            buf.fill(0)
        }
        fn env_var(&mut self, _name: &str) -> Option<String> {
            None
        }
        fn env_vars(&mut self) -> Vec<(String, String)> {
            Vec::new()
        }
        fn call_blocking(&mut self, _vm: &mut Vm, _call: HostCall) -> VmResult<Value> {
            Ok(Value::None)
        }
    }

    fn vm() -> (Vm, Rc<RefCell<String>>) {
        let out = Rc::new(RefCell::new(String::new()));
        (Vm::new(Box::new(TestHost(out.clone())), Limits::default()), out)
    }

    fn call(vm: &mut Vm, name: &str, args: &[Value]) -> VmResult<Value> {
        let f = vm.builtins.get(name).cloned().expect("builtin");
        vm.call_value(&f, args, &[])
    }

    #[test]
    fn install_and_call() {
        let (mut vm, out) = vm();
        assert_eq!(vm.exc_classes.len(), ExcKind::ALL.len());
        call(&mut vm, "print", &[Value::Int(1), Value::str("a"), Value::Float(0.5)]).unwrap();
        assert_eq!(out.borrow().as_str(), "1 a 0.5\n");
        let v = call(&mut vm, "int", &[Value::str(" 42 ")]).unwrap();
        assert!(matches!(v, Value::Int(42)));
        let l = Value::list(vec![Value::Int(3), Value::Int(1), Value::Int(2)]);
        let s = call(&mut vm, "sorted", &[l]).unwrap();
        assert_eq!(crate::format::repr(&mut vm, &s).unwrap(), "[1, 2, 3]");
        let e = call(&mut vm, "int", &[Value::str("x")]).unwrap_err();
        assert!(crate::ops::exc_is(&vm, &e, ExcKind::ValueError));
        let ki = exception_instance(&mut vm, ExcKind::KeyError, "k");
        assert_eq!(crate::format::to_str(&mut vm, &ki).unwrap(), "'k'");
        assert_eq!(crate::format::repr(&mut vm, &ki).unwrap(), "KeyError('k')");
    }
}
