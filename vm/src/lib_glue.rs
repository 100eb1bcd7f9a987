//! The library's side of the interpreter's design decisions: function names, the markers of
//! `&staticmethod` / `&property` (defined in `code.rs`), function attributes. Kept in one small
//! file so that adapting to how `code.rs` represents these touches nothing else.

use std::rc::Rc;

use crate::error::{Exc, VmResult};
use crate::value::{Class, Value};
use crate::Vm;

/// `f.__name__` of a compiled function.
pub fn closure_name(c: &Rc<crate::code::Closure>) -> String {
    c.name().to_string()
}

/// A non-function value found on an instance's class: apply descriptor behaviour (properties
/// run their getter; static methods are returned unbound).
pub fn bind_descriptor(vm: &mut Vm, v: Value, receiver: &Value) -> VmResult<Value> {
    if let Some(inner) = crate::code::staticmethod_func(&v) {
        return Ok(inner.clone());
    }
    if let Some(getter) = crate::code::property_getter(&v) {
        let g = getter.clone();
        return vm.call_value(&g, std::slice::from_ref(receiver), &[]);
    }
    Ok(v)
}

/// A value found on a class accessed through the class itself (`C.attr`).
pub fn class_get(vm: &mut Vm, v: Value, cls: &Rc<Class>) -> VmResult<Value> {
    let _ = (vm, cls);
    if let Some(inner) = crate::code::staticmethod_func(&v) {
        return Ok(inner.clone());
    }
    Ok(v)
}

/// Attributes of compiled functions other than `__name__`.
pub fn function_attr(vm: &mut Vm, f: &Value, name: &str) -> VmResult<Option<Value>> {
    let _ = vm;
    Ok(match (f, name) {
        (Value::Function(c), "__qualname__") => Some(Value::str(c.qualname())),
        (Value::Function(_), "__module__") => Some(Value::str("__main__")),
        (Value::Function(_), "__doc__") => Some(Value::None),
        (Value::Function(c), _) => c.attrs.borrow().iter().find(|(k, _)| &**k == name).map(|(_, v)| v.clone()),
        _ => None,
    })
}

/// `f.attr = v` on a compiled function; `Ok(false)` when unsupported.
pub fn set_function_attr(vm: &mut Vm, f: &Value, name: &str, value: Value) -> VmResult<bool> {
    let _ = vm;
    let Value::Function(c) = f else { return Ok(false) };
    if name.starts_with("__") && name.ends_with("__") {
        return Ok(false);
    }
    let mut attrs = c.attrs.borrow_mut();
    let old = match attrs.iter_mut().find(|(k, _)| &**k == name) {
        Some(slot) => Some(std::mem::replace(&mut slot.1, value)),
        None => {
            attrs.push((Rc::from(name), value));
            None
        }
    };
    drop(attrs);
    drop(old);
    Ok(true)
}

/// `obj.name = value` where the class may define a property. `Ok(Some(()))` when handled.
pub fn set_descriptor(vm: &mut Vm, cls: &Rc<Class>, obj: &Value, name: &str, value: &Value) -> VmResult<Option<()>> {
    let _ = (vm, obj, value);
    if let Some(v) = cls.lookup(name) {
        if crate::code::property_getter(&v).is_some() {
            return Err(Exc::attribute_error(format!(
                "property '{}' of '{}' object has no setter",
                name, cls.name.s
            )));
        }
    }
    Ok(None)
}
