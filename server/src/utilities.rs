//! Ask's built-in utilities (ASK.md §5) as natives: `quick_set`, `deep`, `require_keys`,
//! `serialize`, and the `datetime` helper name. They are installed by the server only where the
//! VM's built-ins do not define them already (so a library version, when it lands in
//! `vm/src/builtins.rs`, takes over; these can then be deleted).

use std::rc::Rc;

use ask_vm::error::{Exc, VmResult};
use ask_vm::value::{NativeFunc, StrObj, Value};
use ask_vm::vm::Vm;
use ask_vm::{format, ops};

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

/// `quick_set(target, source)`: copy the keys `target` already has from `source`; returns
/// `target` (mutated).
fn quick_set(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let [target, source] = args else {
        return Err(Exc::type_error(format!("quick_set() takes 2 positional arguments but {} were given", args.len())));
    };
    if source.is_none() {
        return Ok(target.clone());
    }
    let keys = ops::collect(vm, target)?;
    for k in keys {
        if ops::contains(vm, source, &k)? {
            let v = ops::get_item(vm, source, &k)?;
            ops::set_item(vm, target, &k, v)?;
        }
    }
    Ok(target.clone())
}

/// `deep(list_of_dicts, {key: value})`: the first item whose fields equal the query's values,
/// compared as text (so the string `'2'` from a path finds the int id `2`); `None` otherwise.
/// Runs per request in typical item routes, so lists are walked in place, dict fields are read
/// with one lookup, and str/int fields are compared without formatting through the VM.
fn deep(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let [items, query] = args else {
        return Err(Exc::type_error(format!("deep() takes 2 positional arguments but {} were given", args.len())));
    };
    let mut wanted: Vec<(Value, Wanted)> = Vec::new();
    for k in ops::collect(vm, query)? {
        let text = match ops::get_item(vm, query, &k)? {
            Value::Str(x) => Wanted::Str(x),
            other => Wanted::Text(format::to_str(vm, &other)?),
        };
        wanted.push((k, text));
    }
    if let Value::List(list) = items {
        // By index, re-borrowing each time: user code run by a comparison may change the list.
        let mut i = 0;
        loop {
            let Some(item) = list.borrow().get(i).cloned() else { break };
            if deep_matches(vm, &item, &wanted)? {
                return Ok(item);
            }
            i += 1;
        }
        return Ok(Value::None);
    }
    for item in ops::collect(vm, items)? {
        if deep_matches(vm, &item, &wanted)? {
            return Ok(item);
        }
    }
    Ok(Value::None)
}

/// The text a `deep` query value is compared as (a string query value is used as it is).
enum Wanted {
    Str(Rc<StrObj>),
    Text(String),
}

/// Whether every `(key, text)` of `wanted` is a field of `item` whose text is equal.
fn deep_matches(vm: &mut Vm, item: &Value, wanted: &[(Value, Wanted)]) -> VmResult<bool> {
    for (k, want) in wanted {
        let want = match want {
            Wanted::Str(x) => x.as_str(),
            Wanted::Text(t) => t.as_str(),
        };
        let v = match item {
            Value::Dict(d) => {
                let Ok(key) = ops::dict_key(vm, d, k.clone()) else { return Ok(false) };
                let found = d.borrow().0.get(&key).cloned();
                match found {
                    Some(v) => v,
                    None => return Ok(false),
                }
            }
            Value::Instance(_) | Value::Object(_) => {
                if !ops::contains(vm, item, k).unwrap_or(false) {
                    return Ok(false);
                }
                ops::get_item(vm, item, k)?
            }
            _ => return Ok(false),
        };
        let same = match &v {
            Value::Str(x) => x.as_str() == want,
            Value::Int(i) => itoa::Buffer::new().format(*i) == want,
            _ => format::to_str(vm, &v)? == want,
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `require_keys(keys, d)`: True when every key is in `d` (1.5.0 always answered False).
fn require_keys(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let [keys, d] = args else {
        return Err(Exc::type_error(format!("require_keys() takes 2 positional arguments but {} were given", args.len())));
    };
    if d.is_none() {
        return Ok(Value::Bool(ops::collect(vm, keys)?.is_empty()));
    }
    for k in ops::collect(vm, keys)? {
        if !ops::contains(vm, d, &k)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

/// `serialize(rows)`: `[row.s() for row in rows]`.
fn serialize(vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let [rows] = args else {
        return Err(Exc::type_error(format!("serialize() takes 1 positional argument but {} were given", args.len())));
    };
    let mut out = Vec::new();
    for row in ops::collect(vm, rows)? {
        out.push(ops::call_method(vm, &row, "s", &[], &[])?);
    }
    Ok(Value::list(out))
}

/// Install the utilities (and their `_` aliases) that the VM does not define yet.
pub fn install(vm: &mut Vm, underscores: bool) {
    let fns: [(&'static str, ask_vm::value::NativeFnPtr); 4] =
        [("quick_set", quick_set), ("deep", deep), ("require_keys", require_keys), ("serialize", serialize)];
    let add = |vm: &mut Vm, name: &'static str, v: Value| {
        if !vm.builtins.contains_key(name) {
            vm.builtins.insert(Rc::from(name), v.clone());
        }
        let u = format!("_{name}");
        if underscores && !vm.builtins.contains_key(u.as_str()) {
            vm.builtins.insert(Rc::from(u.as_str()), v);
        }
    };
    for (name, f) in fns {
        add(vm, name, Value::Native(Rc::new(NativeFunc { name, func: f, bound: None, data: None })));
    }
    // `datetime` is the datetime class (`datetime.now()`, as 1.5.0).
    if !vm.builtins.contains_key("datetime") {
        if let Some(Ok(module)) = ask_vm::modules::cached(vm, "datetime") {
            if let Ok(cls) = ops::get_attr(vm, &module, "datetime") {
                add(vm, "datetime", cls);
            }
        }
    }
}
