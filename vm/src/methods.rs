//! Methods of the built-in value types: `str`, `list`, `dict`, `set`, `tuple`, `bytes`.
//! (Stub: signatures fixed; bodies filled in by the library work.)

use std::rc::Rc;

use crate::error::VmResult;
use crate::value::{StrObj, Value};
use crate::Vm;

/// Call method `name` of a built-in value. `Ok(None)` when the type has no such method (the
/// caller raises AttributeError with Python's wording).
pub fn call_builtin_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Option<Value>> { let _ = (vm, obj, name, args, kw); todo!() }

/// `obj.name` for a method of a built-in value: a bound `Native` (for `f = xs.append`).
pub fn builtin_method_value(obj: &Value, name: &str) -> Option<Value> { let _ = (obj, name); todo!() }
