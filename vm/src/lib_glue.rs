//! The library's side of the interpreter's design decisions: function names, decorators that
//! mark methods (`&staticmethod`, `&property`, `&classmethod`), function attributes. Kept in one
//! small file so that adapting to how `code.rs` represents these touches nothing else.

use std::rc::Rc;

use crate::error::VmResult;
use crate::value::{Class, Value};
use crate::Vm;

/// `f.__name__` of a compiled function.
pub fn closure_name(c: &Rc<crate::code::Closure>) -> String {
    let _ = c;
    "<lambda>".to_string()
}

/// A non-function value found on an instance's class: apply descriptor behaviour (properties
/// run their getter; static methods are returned unbound).
pub fn bind_descriptor(vm: &mut Vm, v: Value, receiver: &Value) -> VmResult<Value> {
    let _ = (vm, receiver);
    Ok(v)
}

/// A value found on a class accessed through the class itself (`C.attr`).
pub fn class_get(vm: &mut Vm, v: Value, cls: &Rc<Class>) -> VmResult<Value> {
    let _ = (vm, cls);
    Ok(v)
}

/// Attributes of compiled functions other than `__name__`.
pub fn function_attr(vm: &mut Vm, f: &Value, name: &str) -> VmResult<Option<Value>> {
    let _ = (vm, f, name);
    Ok(None)
}

/// `f.attr = v` on a compiled function; `Ok(false)` when unsupported.
pub fn set_function_attr(vm: &mut Vm, f: &Value, name: &str, value: Value) -> VmResult<bool> {
    let _ = (vm, f, name, value);
    Ok(false)
}

/// `obj.name = value` where the class may define a property setter. `Ok(Some(()))` when handled.
pub fn set_descriptor(vm: &mut Vm, cls: &Rc<Class>, obj: &Value, name: &str, value: &Value) -> VmResult<Option<()>> {
    let _ = (vm, cls, obj, name, value);
    Ok(None)
}
