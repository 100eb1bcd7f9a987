//! Methods of the built-in value types: `str`, `list`, `dict`, `set`, `tuple`, `bytes`, `int`,
//! `float`. `str`/`bytes` methods live in `lib_str.rs`.
//!
//! Methods are dispatched by name without allocation (`call_builtin_method`); `xs.append` as a
//! value becomes a bound `Native` whose function pointer comes from a table generated below (one
//! tiny function per method name, since a native function pointer carries no data of its own).

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Exc, VmResult};
use crate::ops::{self, type_name, DictView, ViewKind};
use crate::value::{BuiltinType, Dict, ExcKind, HKey, NativeFnPtr, NativeFunc, Set, StrObj, Value};
use crate::Vm;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

// ---------------------------------------------------------------------------------------------
// Argument helpers shared by the library files.

#[inline]
pub fn arg(args: &[Value], i: usize) -> Option<&Value> {
    args.get(i)
}

pub fn kwarg<'a>(kw: &'a [(Rc<StrObj>, Value)], name: &str) -> Option<&'a Value> {
    kw.iter().find(|(k, _)| k.s == name).map(|(_, v)| v)
}

/// Check the positional argument count of built-in function `name`.
pub fn check_args(name: &str, args: &[Value], min: usize, max: usize) -> VmResult<()> {
    let n = args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    Err(Exc::type_error(if min == max {
        match min {
            0 => format!("{}() takes no arguments ({} given)", name, n),
            1 => format!("{}() takes exactly one argument ({} given)", name, n),
            _ => format!("{} expected {} arguments, got {}", name, min, n),
        }
    } else if n < min {
        format!("{} expected at least {} argument{}, got {}", name, min, if min == 1 { "" } else { "s" }, n)
    } else {
        format!("{} expected at most {} argument{}, got {}", name, max, if max == 1 { "" } else { "s" }, n)
    }))
}

/// Check the positional argument count of method `name` of type `ty` (CPython words the
/// no-argument and one-argument cases with the qualified name).
#[inline]
pub fn check_margs(ty: &str, name: &str, args: &[Value], min: usize, max: usize) -> VmResult<()> {
    let n = args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    if min == max && min <= 1 {
        return check_args(&format!("{}.{}", ty, name), args, min, max);
    }
    check_args(name, args, min, max)
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

/// Call method `name` of a built-in value. `Ok(None)` when the type has no such method (the
/// caller raises AttributeError with Python's wording).
pub fn call_builtin_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    match obj {
        Value::Str(s) => crate::lib_str::call(vm, s, name, args, kw),
        Value::List(l) => list_method(vm, l, obj, name, args, kw),
        Value::Dict(d) => dict_method(vm, d, name, args, kw),
        Value::Set(_) | Value::FrozenSet(_) => set_method(vm, obj, name, args),
        Value::Tuple(t) => tuple_method(vm, t, name, args),
        Value::Bytes(b) => crate::lib_str::call_bytes(vm, b, name, args, kw),
        Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => int_method(vm, obj, name, args, kw),
        Value::Float(f) => float_method(*f, name, args),
        Value::Object(o) => {
            if let Some(view) = o.as_any().downcast_ref::<DictView>() {
                if name == "isdisjoint" {
                    check_args(name, args, 1, 1)?;
                    let items = view.snapshot();
                    for x in items {
                        if ops::contains(vm, &args[0], &x)? {
                            return Ok(Some(Value::Bool(false)));
                        }
                    }
                    return Ok(Some(Value::Bool(true)));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

const LIST_METHODS: &[&str] =
    &["append", "extend", "insert", "pop", "remove", "index", "count", "sort", "reverse", "copy", "clear"];
const DICT_METHODS: &[&str] =
    &["get", "keys", "values", "items", "pop", "popitem", "setdefault", "update", "copy", "clear", "fromkeys"];
const SET_METHODS: &[&str] = &[
    "add", "remove", "discard", "pop", "union", "intersection", "difference", "symmetric_difference",
    "update", "intersection_update", "difference_update", "symmetric_difference_update", "issubset",
    "issuperset", "isdisjoint", "copy", "clear",
];
const FROZENSET_METHODS: &[&str] =
    &["union", "intersection", "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint", "copy"];
const TUPLE_METHODS: &[&str] = &["index", "count"];
const INT_METHODS: &[&str] = &["bit_length", "bit_count", "to_bytes", "conjugate", "is_integer"];
const FLOAT_METHODS: &[&str] = &["is_integer", "conjugate", "as_integer_ratio", "hex"];

fn methods_of(obj: &Value) -> &'static [&'static str] {
    match obj {
        Value::Str(_) => crate::lib_str::STR_METHODS,
        Value::List(_) => LIST_METHODS,
        Value::Dict(_) => DICT_METHODS,
        Value::Set(_) => SET_METHODS,
        Value::FrozenSet(_) => FROZENSET_METHODS,
        Value::Tuple(_) => TUPLE_METHODS,
        Value::Bytes(_) => crate::lib_str::BYTES_METHODS,
        Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => INT_METHODS,
        Value::Float(_) => FLOAT_METHODS,
        Value::Object(o) if o.as_any().is::<DictView>() => &["isdisjoint"],
        _ => &[],
    }
}

fn methods_of_type(ty: BuiltinType) -> &'static [&'static str] {
    match ty {
        BuiltinType::Str => crate::lib_str::STR_METHODS,
        BuiltinType::List => LIST_METHODS,
        BuiltinType::Dict => DICT_METHODS,
        BuiltinType::Set => SET_METHODS,
        BuiltinType::FrozenSet => FROZENSET_METHODS,
        BuiltinType::Tuple => TUPLE_METHODS,
        BuiltinType::Bytes => crate::lib_str::BYTES_METHODS,
        BuiltinType::Int | BuiltinType::Bool => INT_METHODS,
        BuiltinType::Float => FLOAT_METHODS,
        _ => &[],
    }
}

/// Calls `call_builtin_method` for a method taken as a value (`args[0]` is the receiver).
fn dispatch(vm: &mut Vm, name: &'static str, args: &[Value], kw: Kw) -> VmResult<Value> {
    let Some((recv, rest)) = args.split_first() else {
        return Err(Exc::type_error(format!("unbound method {}() needs an argument", name)));
    };
    match call_builtin_method(vm, recv, name, rest, kw)? {
        Some(v) => Ok(v),
        None => Err(Exc::attribute_error(format!("'{}' object has no attribute '{}'", type_name(recv), name))),
    }
}

macro_rules! method_table {
    ($($name:ident),* $(,)?) => {
        /// The native function pointer that dispatches method `name`.
        fn method_fn(name: &str) -> Option<(&'static str, NativeFnPtr)> {
            match name {
                $(stringify!($name) => {
                    fn f(vm: &mut Vm, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
                        dispatch(vm, stringify!($name), args, kw)
                    }
                    Some((stringify!($name), f as NativeFnPtr))
                })*
                _ => None,
            }
        }
    };
}

method_table!(
    // str
    split, rsplit, join, strip, lstrip, rstrip, lower, upper, title, capitalize, swapcase, replace,
    startswith, endswith, find, rfind, index, rindex, count, format, format_map, isdigit, isalpha,
    isalnum, isspace, isupper, islower, isnumeric, isdecimal, istitle, isidentifier, isascii, zfill,
    center, ljust, rjust, splitlines, encode, partition, rpartition, expandtabs, casefold,
    removeprefix, removesuffix,
    // bytes
    decode, hex,
    // list
    append, extend, insert, pop, remove, sort, reverse, copy, clear,
    // dict
    get, keys, values, items, popitem, setdefault, update, fromkeys,
    // set
    add, discard, union, intersection, difference, symmetric_difference, intersection_update,
    difference_update, symmetric_difference_update, issubset, issuperset, isdisjoint,
    // numbers
    bit_length, bit_count, to_bytes, conjugate, is_integer, as_integer_ratio,
);

/// `obj.name` for a method of a built-in value: a bound `Native` (for `f = xs.append`).
pub fn builtin_method_value(obj: &Value, name: &str) -> Option<Value> {
    if !methods_of(obj).contains(&name) {
        return None;
    }
    let (name, func) = method_fn(name)?;
    Some(Value::Native(Rc::new(NativeFunc { name, func, bound: Some(obj.clone()), data: None })))
}

/// `str.upper`, `dict.fromkeys`...: attributes of the built-in type classes.
pub fn builtin_type_attr(ty: BuiltinType, name: &str) -> Option<Value> {
    if ty == BuiltinType::Dict && name == "fromkeys" {
        fn fromkeys(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
            check_args("fromkeys", args, 1, 2)?;
            dict_fromkeys(vm, &args[0], args.get(1).cloned().unwrap_or(Value::None))
        }
        return Some(Value::Native(Rc::new(NativeFunc { name: "fromkeys", func: fromkeys, bound: None, data: None })));
    }
    if ty == BuiltinType::Int && name == "from_bytes" {
        return Some(Value::Native(Rc::new(NativeFunc { name: "from_bytes", func: int_from_bytes, bound: None, data: None })));
    }
    if !methods_of_type(ty).contains(&name) {
        return None;
    }
    let (name, func) = method_fn(name)?;
    Some(Value::Native(Rc::new(NativeFunc { name, func, bound: None, data: None })))
}

// ---------------------------------------------------------------------------------------------
// list

fn not_in_list_msg(vm: &mut Vm, x: &Value) -> VmResult<Exc> {
    Ok(Exc::value_error(format!("{} is not in list", crate::format::repr(vm, x)?)))
}

fn list_method(vm: &mut Vm, l: &Rc<RefCell<crate::value::ListVec>>, obj: &Value, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    let v = match name {
        "append" => {
            check_margs("list", name, args, 1, 1)?;
            let mut lb = l.borrow_mut();
            if lb.len() >= vm.limits.max_size {
                return Err(Exc::limit(crate::error::LimitKind::Memory));
            }
            lb.push(args[0].clone());
            Value::None
        }
        "extend" => {
            check_margs("list", name, args, 1, 1)?;
            let items = match &args[0] {
                Value::List(o) if Rc::ptr_eq(o, l) => l.borrow().clone(),
                other => ops::collect(vm, other)?,
            };
            let mut lb = l.borrow_mut();
            if lb.len() + items.len() > vm.limits.max_size {
                return Err(Exc::limit(crate::error::LimitKind::Memory));
            }
            lb.extend(items);
            Value::None
        }
        "insert" => {
            check_margs("list", name, args, 2, 2)?;
            let i = ops::as_index(&args[0])?;
            let mut lb = l.borrow_mut();
            let n = lb.len() as i64;
            let idx = if i < 0 { (i + n).max(0) } else { i.min(n) };
            lb.insert(idx as usize, args[1].clone());
            Value::None
        }
        "pop" => {
            check_margs("list", name, args, 0, 1)?;
            let mut lb = l.borrow_mut();
            if lb.is_empty() {
                return Err(Exc::index_error("pop from empty list"));
            }
            match args.first() {
                None => lb.pop().unwrap_or_default(),
                Some(i) => {
                    let i = ops::as_index(i)?;
                    let n = lb.len() as i64;
                    let k = if i < 0 { i + n } else { i };
                    if k < 0 || k >= n {
                        return Err(Exc::index_error("pop index out of range"));
                    }
                    lb.remove(k as usize)
                }
            }
        }
        "remove" => {
            check_margs("list", name, args, 1, 1)?;
            let mut i = 0;
            loop {
                let item = match l.borrow().get(i) {
                    Some(x) => x.clone(),
                    None => return Err(Exc::value_error("list.remove(x): x not in list")),
                };
                if ops::is(&item, &args[0]) || ops::eq(vm, &item, &args[0])? {
                    let mut lb = l.borrow_mut();
                    if i < lb.len() {
                        lb.remove(i);
                    }
                    break;
                }
                i += 1;
            }
            Value::None
        }
        "index" => {
            check_margs("list", name, args, 1, 3)?;
            let n = l.borrow().len() as i64;
            let (start, end) = seq_bounds(args.get(1), args.get(2), n)?;
            let mut i = start;
            while i < end {
                let item = match l.borrow().get(i as usize) {
                    Some(x) => x.clone(),
                    None => break,
                };
                if ops::is(&item, &args[0]) || ops::eq(vm, &item, &args[0])? {
                    return Ok(Some(Value::Int(i)));
                }
                i += 1;
            }
            return Err(not_in_list_msg(vm, &args[0])?);
        }
        "count" => {
            check_margs("list", name, args, 1, 1)?;
            let items = l.borrow().clone();
            let mut n = 0;
            for x in items.iter() {
                if ops::is(x, &args[0]) || ops::eq(vm, x, &args[0])? {
                    n += 1;
                }
            }
            Value::Int(n)
        }
        "sort" => {
            if !args.is_empty() {
                return Err(Exc::type_error("sort() takes no positional arguments"));
            }
            let key = kwarg(kw, "key").cloned().unwrap_or(Value::None);
            let reverse = match kwarg(kw, "reverse") {
                Some(v) => ops::truthy(vm, v)?,
                None => false,
            };
            let mut items = std::mem::take(&mut *l.borrow_mut());
            let r = sort_values(vm, &mut items, &key, reverse);
            let mut lb = l.borrow_mut();
            if lb.is_empty() {
                *lb = items;
            } else {
                return Err(Exc::value_error("list modified during sort"));
            }
            r?;
            Value::None
        }
        "reverse" => {
            check_margs("list", name, args, 0, 0)?;
            l.borrow_mut().reverse();
            Value::None
        }
        "copy" => {
            check_margs("list", name, args, 0, 0)?;
            Value::list(l.borrow().clone())
        }
        "clear" => {
            check_margs("list", name, args, 0, 0)?;
            let old = std::mem::take(&mut *l.borrow_mut());
            drop(old);
            Value::None
        }
        _ => {
            let _ = obj;
            return Ok(None);
        }
    };
    Ok(Some(v))
}

/// `start`/`end` of `index(x, start, end)` clamped like slice bounds.
fn seq_bounds(start: Option<&Value>, end: Option<&Value>, n: i64) -> VmResult<(i64, i64)> {
    let adj = |v: Option<&Value>, d: i64| -> VmResult<i64> {
        match v {
            None | Some(Value::None) => Ok(d),
            Some(x) => {
                let mut i = ops::as_index(x)?;
                if i < 0 {
                    i = (i + n).max(0);
                }
                Ok(i.min(n))
            }
        }
    };
    Ok((adj(start, 0)?, adj(end, n)?))
}

// ---------------------------------------------------------------------------------------------
// Sorting: a stable merge sort with a fallible `<` (Python's `list.sort` only uses `<`).

/// Sort `items` in place by `key` (or the items themselves), stable, optionally reversed.
pub fn sort_values(vm: &mut Vm, items: &mut Vec<Value>, key: &Value, reverse: bool) -> VmResult<()> {
    // Python calls `key` once per item even when there is nothing to reorder (a key with side
    // effects, or one that raises, behaves the same for one item as for many).
    if items.len() < 2 && (key.is_none() || items.is_empty()) {
        return Ok(());
    }
    let keys: Option<Vec<Value>> = if key.is_none() {
        None
    } else {
        let mut ks = Vec::with_capacity(items.len());
        for it in items.iter() {
            ks.push(vm.call_value(key, std::slice::from_ref(it), &[])?);
        }
        Some(ks)
    };
    let ks: &[Value] = keys.as_deref().unwrap_or(items);
    // Fast paths for homogeneous ints, floats and strings (total orders).
    let mut order: Vec<usize> = (0..items.len()).collect();
    if ks.iter().all(|k| matches!(k, Value::Int(_))) {
        let v: Vec<i64> = ks.iter().map(|k| if let Value::Int(i) = k { *i } else { 0 }).collect();
        if reverse {
            order.sort_by(|&a, &b| v[b].cmp(&v[a]));
        } else {
            order.sort_by_key(|&a| v[a]);
        }
    } else if ks.iter().all(|k| matches!(k, Value::Str(_))) {
        let v: Vec<&str> = ks.iter().map(|k| k.as_str().unwrap_or("")).collect();
        if reverse {
            order.sort_by(|&a, &b| v[b].cmp(v[a]));
        } else {
            order.sort_by(|&a, &b| v[a].cmp(v[b]));
        }
    } else if ks.iter().all(|k| matches!(k, Value::Float(f) if !f.is_nan()) || matches!(k, Value::Int(_))) {
        let v: Vec<f64> = ks
            .iter()
            .map(|k| match k {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                _ => 0.0,
            })
            .collect();
        // Ints beyond 2**53 would lose precision as floats: use the general path then.
        if ks.iter().all(|k| !matches!(k, Value::Int(i) if i.unsigned_abs() > (1 << 53))) {
            if reverse {
                order.sort_by(|&a, &b| v[b].partial_cmp(&v[a]).unwrap_or(std::cmp::Ordering::Equal));
            } else {
                order.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap_or(std::cmp::Ordering::Equal));
            }
        } else {
            order = merge_sort(vm, ks, reverse)?;
        }
    } else {
        order = merge_sort(vm, ks, reverse)?;
    }
    let old = std::mem::take(items);
    let mut slots: Vec<Option<Value>> = old.into_iter().map(Some).collect();
    items.extend(order.into_iter().map(|i| slots[i].take().unwrap_or_default()));
    Ok(())
}

fn merge_sort(vm: &mut Vm, ks: &[Value], reverse: bool) -> VmResult<Vec<usize>> {
    let n = ks.len();
    let mut a: Vec<usize> = (0..n).collect();
    let mut buf: Vec<usize> = vec![0; n];
    // "b should come before a": b < a (or a < b when reversed).
    let before = |vm: &mut Vm, x: usize, y: usize| -> VmResult<bool> {
        if reverse {
            ops::lt(vm, &ks[y], &ks[x])
        } else {
            ops::lt(vm, &ks[x], &ks[y])
        }
    };
    // Insertion sort runs of 16, then bottom-up merges.
    const RUN: usize = 16;
    let mut start = 0;
    while start < n {
        let end = (start + RUN).min(n);
        for i in start + 1..end {
            let cur = a[i];
            let mut j = i;
            while j > start && before(vm, cur, a[j - 1])? {
                a[j] = a[j - 1];
                j -= 1;
            }
            a[j] = cur;
        }
        start = end;
    }
    let mut width = RUN;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            if mid < hi {
                let (mut i, mut j, mut k) = (lo, mid, lo);
                while i < mid && j < hi {
                    if before(vm, a[j], a[i])? {
                        buf[k] = a[j];
                        j += 1;
                    } else {
                        buf[k] = a[i];
                        i += 1;
                    }
                    k += 1;
                }
                while i < mid {
                    buf[k] = a[i];
                    i += 1;
                    k += 1;
                }
                while j < hi {
                    buf[k] = a[j];
                    j += 1;
                    k += 1;
                }
                a[lo..hi].copy_from_slice(&buf[lo..hi]);
            }
            lo = hi;
        }
        width *= 2;
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// dict

fn view(d: &Rc<RefCell<Dict>>, kind: ViewKind) -> Value {
    Value::Object(Rc::new(Box::new(DictView { dict: d.clone(), kind })))
}

/// `dict.fromkeys(iterable, value)`.
pub fn dict_fromkeys(vm: &mut Vm, keys: &Value, value: Value) -> VmResult<Value> {
    let items = ops::collect(vm, keys)?;
    let mut d = Dict::default();
    for k in items {
        d.insert(ops::hkey(vm, k)?, value.clone());
    }
    Ok(Value::dict(d))
}

/// `d.update(other)`: a mapping or an iterable of pairs.
pub fn dict_update(vm: &mut Vm, d: &Rc<RefCell<Dict>>, other: &Value) -> VmResult<()> {
    match other {
        Value::Dict(o) => {
            let items: Vec<(HKey, Value)> = o.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut db = d.borrow_mut();
            for (k, v) in items {
                db.insert(k, v);
            }
        }
        Value::Instance(_) if ops::get_attr(vm, other, "keys").is_ok() => {
            let keys = ops::call_method(vm, other, "keys", &[], &[])?;
            for k in ops::collect(vm, &keys)? {
                let v = ops::get_item(vm, other, &k)?;
                let hk = ops::hkey(vm, k)?;
                d.borrow_mut().insert(hk, v);
            }
        }
        _ => {
            let items = ops::collect(vm, other)?;
            for (i, item) in items.into_iter().enumerate() {
                let pair = match &item {
                    Value::Str(_) | Value::List(_) | Value::Tuple(_) => ops::collect(vm, &item)?,
                    Value::Iter(_) | Value::Instance(_) => ops::collect(vm, &item)?,
                    _ => {
                        return Err(Exc::type_error(format!(
                            "cannot convert dictionary update sequence element #{} to a sequence",
                            i
                        )))
                    }
                };
                if pair.len() != 2 {
                    return Err(Exc::value_error(format!(
                        "dictionary update sequence element #{} has length {}; 2 is required",
                        i,
                        pair.len()
                    )));
                }
                let mut it = pair.into_iter();
                let k = it.next().unwrap_or_default();
                let v = it.next().unwrap_or_default();
                let hk = ops::hkey(vm, k)?;
                d.borrow_mut().insert(hk, v);
            }
        }
    }
    Ok(())
}

fn dict_method(vm: &mut Vm, d: &Rc<RefCell<Dict>>, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    let v = match name {
        "get" => {
            check_margs("dict", name, args, 1, 2)?;
            let k = ops::dict_key(vm, d, args[0].clone())?;
            let found = d.borrow().get(&k).cloned();
            match found {
                Some(v) => v,
                None => args.get(1).cloned().unwrap_or(Value::None),
            }
        }
        "keys" => view(d, ViewKind::Keys),
        "values" => view(d, ViewKind::Values),
        "items" => view(d, ViewKind::Items),
        "pop" => {
            check_margs("dict", name, args, 1, 2)?;
            let k = ops::dict_key(vm, d, args[0].clone())?;
            let removed = d.borrow_mut().shift_remove(&k);
            match removed {
                Some(v) => v,
                None => match args.get(1) {
                    Some(dflt) => dflt.clone(),
                    None => return Err(ops::key_error(vm, args[0].clone())),
                },
            }
        }
        "popitem" => {
            check_margs("dict", name, args, 0, 0)?;
            let popped = d.borrow_mut().pop();
            match popped {
                Some((k, v)) => Value::tuple(vec![k.0, v]),
                None => return Err(Exc::new(ExcKind::KeyError, "popitem(): dictionary is empty")),
            }
        }
        "setdefault" => {
            check_margs("dict", name, args, 1, 2)?;
            let k = ops::dict_key(vm, d, args[0].clone())?;
            let dflt = args.get(1).cloned().unwrap_or(Value::None);
            let mut db = d.borrow_mut();
            db.entry(k).or_insert(dflt).clone()
        }
        "update" => {
            check_margs("dict", name, args, 0, 1)?;
            if let Some(o) = args.first() {
                dict_update(vm, d, o)?;
            }
            for (k, v) in kw {
                d.borrow_mut().insert(HKey(Value::Str(k.clone())), v.clone());
            }
            Value::None
        }
        "copy" => Value::dict(d.borrow().clone()),
        "clear" => {
            let old = std::mem::take(&mut *d.borrow_mut());
            drop(old);
            Value::None
        }
        "fromkeys" => {
            check_margs("dict", name, args, 1, 2)?;
            dict_fromkeys(vm, &args[0], args.get(1).cloned().unwrap_or(Value::None))?
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

// ---------------------------------------------------------------------------------------------
// set / frozenset

fn to_set(vm: &mut Vm, v: &Value) -> VmResult<Set> {
    match v {
        Value::Set(s) => Ok(s.borrow().clone()),
        Value::FrozenSet(s) => Ok((**s).clone()),
        other => {
            let items = ops::collect(vm, other)?;
            let mut s = Set::default();
            for it in items {
                s.insert(ops::hkey(vm, it)?);
            }
            Ok(s)
        }
    }
}

fn set_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value]) -> VmResult<Option<Value>> {
    let this: Set = match obj {
        Value::Set(s) => {
            // Mutating methods first (they need the cell).
            match name {
                "add" => {
                    check_margs("set", name, args, 1, 1)?;
                    let k = ops::set_key_in(vm, s, args[0].clone())?;
                    s.borrow_mut().insert(k);
                    return Ok(Some(Value::None));
                }
                "remove" => {
                    check_margs("set", name, args, 1, 1)?;
                    let k = ops::set_key_in(vm, s, args[0].clone())?;
                    let removed = s.borrow_mut().shift_remove(&k);
                    if !removed {
                        return Err(ops::key_error(vm, args[0].clone()));
                    }
                    return Ok(Some(Value::None));
                }
                "discard" => {
                    check_margs("set", name, args, 1, 1)?;
                    let k = ops::set_key_in(vm, s, args[0].clone())?;
                    s.borrow_mut().shift_remove(&k);
                    return Ok(Some(Value::None));
                }
                "pop" => {
                    check_margs("set", name, args, 0, 0)?;
                    let first_item = {
                        let sb = s.borrow();
                        let mut items: Vec<Value> = sb.iter().map(|k| k.0.clone()).collect();
                        if items.len() > 1 && items.iter().all(|v| matches!(v, Value::Int(_))) {
                            ops::set_order(&mut items);
                        } else {
                            items.truncate(1);
                        }
                        items.into_iter().next()
                    };
                    let first = match first_item {
                        Some(v) => {
                            let k = HKey(v);
                            s.borrow_mut().shift_remove(&k);
                            Some(k)
                        }
                        None => None,
                    };
                    return match first {
                        Some(k) => Ok(Some(k.0)),
                        None => Err(Exc::new(ExcKind::KeyError, "pop from an empty set")),
                    };
                }
                "clear" => {
                    s.borrow_mut().clear();
                    return Ok(Some(Value::None));
                }
                "update" | "intersection_update" | "difference_update" | "symmetric_difference_update" => {
                    let mut cur = s.borrow().clone();
                    for a in args {
                        let other = to_set(vm, a)?;
                        cur = match name {
                            "update" => {
                                cur.extend(other);
                                cur
                            }
                            "intersection_update" => cur.into_iter().filter(|k| other.contains(k)).collect(),
                            "difference_update" => cur.into_iter().filter(|k| !other.contains(k)).collect(),
                            _ => {
                                let mut r: Set = cur.iter().filter(|k| !other.contains(*k)).cloned().collect();
                                for k in other {
                                    if !cur.contains(&k) {
                                        r.insert(k);
                                    }
                                }
                                r
                            }
                        };
                    }
                    *s.borrow_mut() = cur;
                    return Ok(Some(Value::None));
                }
                _ => {}
            }
            s.borrow().clone()
        }
        Value::FrozenSet(s) => (**s).clone(),
        _ => return Ok(None),
    };
    let frozen = matches!(obj, Value::FrozenSet(_));
    let wrap = |s: Set| {
        if frozen {
            Value::FrozenSet(Rc::new(s))
        } else {
            Value::Set(Rc::new(RefCell::new(s)))
        }
    };
    let v = match name {
        "union" => {
            let mut r = this;
            for a in args {
                r.extend(to_set(vm, a)?);
            }
            wrap(r)
        }
        "intersection" => {
            let mut r = this;
            for a in args {
                let o = to_set(vm, a)?;
                r = r.into_iter().filter(|k| o.contains(k)).collect();
            }
            wrap(r)
        }
        "difference" => {
            let mut r = this;
            for a in args {
                let o = to_set(vm, a)?;
                r = r.into_iter().filter(|k| !o.contains(k)).collect();
            }
            wrap(r)
        }
        "symmetric_difference" => {
            check_margs("set", name, args, 1, 1)?;
            let o = to_set(vm, &args[0])?;
            let mut r: Set = this.iter().filter(|k| !o.contains(*k)).cloned().collect();
            for k in o {
                if !this.contains(&k) {
                    r.insert(k);
                }
            }
            wrap(r)
        }
        "issubset" => {
            check_margs("set", name, args, 1, 1)?;
            let o = to_set(vm, &args[0])?;
            Value::Bool(this.iter().all(|k| o.contains(k)))
        }
        "issuperset" => {
            check_margs("set", name, args, 1, 1)?;
            let o = to_set(vm, &args[0])?;
            Value::Bool(o.iter().all(|k| this.contains(k)))
        }
        "isdisjoint" => {
            check_margs("set", name, args, 1, 1)?;
            let o = to_set(vm, &args[0])?;
            Value::Bool(!this.iter().any(|k| o.contains(k)))
        }
        "copy" => {
            if frozen {
                obj.clone()
            } else {
                wrap(this)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

// ---------------------------------------------------------------------------------------------
// tuple

fn tuple_method(vm: &mut Vm, t: &Rc<crate::value::TupleVec>, name: &str, args: &[Value]) -> VmResult<Option<Value>> {
    let v = match name {
        "index" => {
            check_margs("tuple", name, args, 1, 3)?;
            let (start, end) = seq_bounds(args.get(1), args.get(2), t.len() as i64)?;
            for i in start..end {
                let x = &t[i as usize];
                if ops::is(x, &args[0]) || ops::eq(vm, x, &args[0])? {
                    return Ok(Some(Value::Int(i)));
                }
            }
            return Err(Exc::value_error("tuple.index(x): x not in tuple"));
        }
        "count" => {
            check_margs("tuple", name, args, 1, 1)?;
            let mut n = 0;
            for x in t.iter() {
                if ops::is(x, &args[0]) || ops::eq(vm, x, &args[0])? {
                    n += 1;
                }
            }
            Value::Int(n)
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

// ---------------------------------------------------------------------------------------------
// int / float

fn int_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value], kw: Kw) -> VmResult<Option<Value>> {
    let big = crate::lib_num::to_big(obj).unwrap_or_default();
    let v = match name {
        "bit_length" => Value::Int(big.bits() as i64),
        "bit_count" => {
            let mag = if big.sign() == num_bigint::Sign::Minus { -big } else { big };
            Value::Int(mag.to_bytes_le().1.iter().map(|b| b.count_ones() as i64).sum())
        }
        "conjugate" => ops::pos(vm, obj)?,
        "is_integer" => Value::Bool(true),
        "to_bytes" => {
            let length = match args.first().or_else(|| kwarg(kw, "length")) {
                Some(v) => ops::as_index(v)?,
                None => 1,
            };
            let order = match args.get(1).or_else(|| kwarg(kw, "byteorder")) {
                Some(Value::Str(s)) => s.s.clone(),
                _ => "big".to_string(),
            };
            let signed = match kwarg(kw, "signed") {
                Some(v) => ops::truthy(vm, v)?,
                None => false,
            };
            if !signed && big.sign() == num_bigint::Sign::Minus {
                return Err(Exc::new(ExcKind::OverflowError, "can't convert negative int to unsigned"));
            }
            let mut bytes = if signed { big.to_signed_bytes_le() } else { big.to_bytes_le().1 };
            if big == num_bigint::BigInt::from(0) {
                bytes.clear();
            }
            if bytes.len() > length.max(0) as usize {
                return Err(Exc::new(ExcKind::OverflowError, "int too big to convert"));
            }
            let fill = if signed && big.sign() == num_bigint::Sign::Minus { 0xff } else { 0 };
            bytes.resize(length.max(0) as usize, fill);
            if order == "big" {
                bytes.reverse();
            }
            Value::Bytes(Rc::new(bytes))
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn int_from_bytes(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let data = match args.first() {
        Some(Value::Bytes(b)) => b.as_ref().clone(),
        Some(other) => ops::collect(vm, other)?.iter().map(|v| if let Value::Int(i) = v { *i as u8 } else { 0 }).collect(),
        None => return Err(Exc::type_error("from_bytes() missing required argument 'bytes' (pos 1)")),
    };
    let order = match args.get(1).or_else(|| kwarg(kw, "byteorder")) {
        Some(Value::Str(s)) => s.s.clone(),
        _ => "big".to_string(),
    };
    let signed = match kwarg(kw, "signed") {
        Some(v) => ops::truthy(vm, v)?,
        None => false,
    };
    let mut bytes = data;
    if order == "big" {
        bytes.reverse();
    }
    let b = if signed {
        num_bigint::BigInt::from_signed_bytes_le(&bytes)
    } else {
        num_bigint::BigInt::from_bytes_le(num_bigint::Sign::Plus, &bytes)
    };
    Ok(Value::from_bigint(b))
}

fn float_method(f: f64, name: &str, args: &[Value]) -> VmResult<Option<Value>> {
    let _ = args;
    let v = match name {
        "is_integer" => Value::Bool(f.is_finite() && f.fract() == 0.0),
        "conjugate" => Value::Float(f),
        "as_integer_ratio" => {
            if !f.is_finite() {
                return Err(Exc::new(ExcKind::OverflowError, "cannot convert Infinity to integer ratio"));
            }
            let bits = f.to_bits();
            let sign = if (bits >> 63) != 0 { -1 } else { 1 };
            let exp = ((bits >> 52) & 0x7ff) as i64;
            let mant = if exp == 0 { (bits & 0xfffffffffffff) << 1 } else { (bits & 0xfffffffffffff) | 0x10000000000000 };
            let mut num = num_bigint::BigInt::from(mant) * sign;
            let mut den = num_bigint::BigInt::from(1);
            let e = exp - 1075;
            if e > 0 {
                num <<= e as usize;
            } else {
                den <<= (-e) as usize;
            }
            let g = num_integer::Integer::gcd(&num, &den);
            Value::tuple(vec![Value::from_bigint(num / &g), Value::from_bigint(den / &g)])
        }
        "hex" => Value::str(format!("{:?}", f)),
        _ => return Ok(None),
    };
    Ok(Some(v))
}
